//! What a deploy reads: one environment's folder as synth wrote it (`manifest.json` and the
//! files it lists, each checked against its SHA-256, so a hand-edited file is never deployed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

// The deploy order's types have one owner: the platform writes them into the manifest.
pub use platform_model::platform::{ParameterSource, StackStep};

/// A Lambda zip the templates expect in the assets bucket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Asset {
    /// The function.
    pub function: String,
    /// Where `lambdas/build.sh` writes it, relative to the workspace root.
    pub zip: String,
    /// Its key in the assets bucket.
    pub s3_key: String,
}

#[derive(Debug, Deserialize)]
struct ManifestFile {
    path: String,
    sha256: String,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    environment: String,
    account_id: String,
    region: String,
    assets_bucket: String,
    #[serde(default)]
    prod: bool,
    files: Vec<ManifestFile>,
    #[serde(default)]
    assets: Vec<Asset>,
    stacks: Vec<StackStep>,
}

/// One environment, ready to deploy.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The environment's name.
    pub environment: String,
    /// The account the settings name (a deploy refuses other credentials).
    pub account_id: String,
    /// The region.
    pub region: String,
    /// The bucket for Lambda zips and large templates.
    pub assets_bucket: String,
    /// Whether stacks get termination protection.
    pub prod: bool,
    /// The Lambda zips.
    pub assets: Vec<Asset>,
    /// The stacks, in deploy order.
    pub stacks: Vec<StackStep>,
    /// The templates' bodies, by path.
    pub templates: BTreeMap<String, String>,
    /// The folder.
    pub dir: PathBuf,
}

impl Plan {
    /// Reads `dir` (one environment's folder): the manifest, every file it lists (hash
    /// checked), and orders the stacks by their dependencies.
    pub fn read(dir: &Path) -> Result<Plan> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {} (run synth first)", path.display()))?;
        let m: Manifest = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a deployable manifest (written by an older synth? run synth again)",
                path.display()
            )
        })?;
        let mut templates = BTreeMap::new();
        for f in &m.files {
            let p = dir.join(&f.path);
            let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
            if crate::sha256_hex(&bytes) != f.sha256 {
                bail!(
                    "{} differs from what synth wrote (manifest sha256 {}): regenerate it with synth, never edit it",
                    p.display(),
                    f.sha256
                );
            }
            if f.path.ends_with(".template.json") {
                templates.insert(f.path.clone(), String::from_utf8(bytes)?);
            }
        }
        let stacks = order(&m.stacks)?;
        for s in &stacks {
            if !templates.contains_key(&s.template) {
                bail!(
                    "stack {} names template {} which the manifest does not list",
                    s.stack,
                    s.template
                );
            }
        }
        Ok(Plan {
            environment: m.environment,
            account_id: m.account_id,
            region: m.region,
            assets_bucket: m.assets_bucket,
            prod: m.prod,
            assets: m.assets,
            stacks,
            templates,
            dir: dir.to_path_buf(),
        })
    }

    /// The steps of `only` (one stack) or of every stack, in order.
    pub fn steps(&self, only: Option<&str>) -> Result<Vec<&StackStep>> {
        match only {
            None => Ok(self.stacks.iter().collect()),
            Some(name) => match self.stacks.iter().find(|s| s.stack == name) {
                Some(s) => Ok(vec![s]),
                None => bail!(
                    "no stack {name} in {}; its stacks: {}",
                    self.environment,
                    self.stacks
                        .iter()
                        .map(|s| s.stack.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        }
    }

    /// The template body of a step.
    pub fn template(&self, step: &StackStep) -> &str {
        &self.templates[&step.template]
    }
}

/// Orders `stacks` so each comes after what it depends on; refuses a cycle or an unknown stack.
pub fn order(stacks: &[StackStep]) -> Result<Vec<StackStep>> {
    let mut done: Vec<StackStep> = Vec::new();
    let mut left: Vec<&StackStep> = stacks.iter().collect();
    for s in stacks {
        for d in &s.depends_on {
            if !stacks.iter().any(|x| &x.stack == d) {
                bail!(
                    "stack {} depends on {d}, which is not in the manifest",
                    s.stack
                );
            }
        }
        for p in s.parameters.values() {
            if let ParameterSource::Output { stack, .. } = p
                && !s.depends_on.contains(stack)
            {
                bail!(
                    "stack {} takes an output of {stack} but does not depend on it",
                    s.stack
                );
            }
        }
    }
    while !left.is_empty() {
        let ready = left.iter().position(|s| {
            s.depends_on
                .iter()
                .all(|d| done.iter().any(|x| &x.stack == d))
        });
        match ready {
            Some(i) => done.push(left.remove(i).clone()),
            None => bail!(
                "the stacks' dependencies form a cycle: {}",
                left.iter()
                    .map(|s| s.stack.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, deps: &[&str]) -> StackStep {
        StackStep {
            stack: name.into(),
            template: format!("{name}.template.json"),
            depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
            parameters: BTreeMap::new(),
            needs_assets: false,
        }
    }

    #[test]
    fn dependencies_come_first_and_a_cycle_is_refused() {
        let o = order(&[step("b", &["a"]), step("c", &["b"]), step("a", &[])]).unwrap();
        let names: Vec<_> = o.iter().map(|s| s.stack.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let e = order(&[step("a", &["b"]), step("b", &["a"])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("cycle"), "{e}");
        let e = order(&[step("a", &["z"])]).unwrap_err().to_string();
        assert!(e.contains("depends on z"), "{e}");
    }

    #[test]
    fn an_output_parameter_needs_its_stack_as_a_dependency() {
        let mut b = step("b", &[]);
        b.parameters.insert(
            "X".into(),
            ParameterSource::Output {
                stack: "a".into(),
                output: "Y".into(),
            },
        );
        let e = order(&[step("a", &[]), b]).unwrap_err().to_string();
        assert!(e.contains("does not depend on it"), "{e}");
    }
}
