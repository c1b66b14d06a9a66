//! The cluster side, checked by its own ecosystem's tools: `promtool` on every rule file and
//! test, `amtool` on the Alertmanager configuration, `kubernetes-validate --strict` and
//! `checkov` on the Kubernetes YAML, and the properties that must hold whatever the snapshots
//! say. A missing tool fails its test with the command that installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use platform_model::platform::{self, Artifact, ArtifactKind};
use platform_model::settings::{Environment, Settings};

const APT: &str = "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager";
const PIP: &str =
    "python3 -m venv .tools/venv && .tools/venv/bin/pip install -r .ci/requirements.txt";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Finds a tool: `$ENV_VAR`, the project's `.tools/venv/bin/NAME`, or `NAME` on PATH; a
/// missing tool fails the test naming the install command (`.ci/test.sh` runs it).
fn tool(name: &str, env_var: &str, install: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env_var) {
        return PathBuf::from(p);
    }
    let local = workspace_root().join(".tools/venv/bin").join(name);
    if local.exists() {
        return local;
    }
    if Command::new(name).arg("--version").output().is_ok() {
        return PathBuf::from(name);
    }
    panic!(
        "{name} is not installed. Run the test suite with `.ci/test.sh` (installs it), or: {install}"
    );
}

/// Every environment's artifacts, written below a temporary folder as `<env>/<path>`.
struct Written {
    dir: tempfile::TempDir,
    files: Vec<(Environment, Artifact)>,
}

impl Written {
    fn all() -> Written {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for env in Environment::ALL {
            let settings = Settings::embedded(env).unwrap();
            for a in platform::synthesize(&settings).unwrap() {
                let path = dir.path().join(env.name()).join(&a.path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &a.contents).unwrap();
                files.push((env, a));
            }
        }
        Written { dir, files }
    }

    fn of_kind(&self, kind: ArtifactKind) -> Vec<PathBuf> {
        let paths: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(_, a)| a.kind == kind)
            .map(|(env, a)| self.dir.path().join(env.name()).join(&a.path))
            .collect();
        assert!(!paths.is_empty(), "no {kind:?} files generated");
        paths
    }
}

fn assert_ok(what: &str, path: &Path, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed on {} (exit {:?}):\n{}{}",
        path.display(),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_checks_every_rule_file() {
    let promtool = tool("promtool", "PROMTOOL", APT);
    let w = Written::all();
    for path in w.of_kind(ArtifactKind::PrometheusRules) {
        let out = Command::new(&promtool)
            .args(["check", "rules"])
            .arg(&path)
            .output()
            .unwrap();
        assert_ok("promtool check rules", &path, &out);
    }
}

#[test]
fn promtool_unit_tests_pass_for_every_rule_file() {
    let promtool = tool("promtool", "PROMTOOL", APT);
    let w = Written::all();
    let tests = w.of_kind(ArtifactKind::PromtoolTest);
    assert_eq!(
        tests.len(),
        w.of_kind(ArtifactKind::PrometheusRules).len(),
        "every rule file has a test file"
    );
    for path in tests {
        let out = Command::new(&promtool)
            .args(["test", "rules"])
            .arg(&path)
            .output()
            .unwrap();
        assert_ok("promtool test rules", &path, &out);
    }
}

#[test]
fn promtool_catches_a_broken_alert() {
    // The tests are not vacuous: raise the error-rate threshold tenfold and the case that must
    // fire fails.
    let promtool = tool("promtool", "PROMTOOL", APT);
    let w = Written::all();
    let rules = w
        .dir
        .path()
        .join("prod/monitoring/rules/checkout.rules.yaml");
    let text = std::fs::read_to_string(&rules).unwrap();
    let broken = text.replace("[5m])) > 0.05", "[5m])) > 0.5");
    assert_ne!(text, broken, "fixture not found");
    std::fs::write(&rules, broken).unwrap();
    let out = Command::new(&promtool)
        .args(["test", "rules"])
        .arg(
            w.dir
                .path()
                .join("prod/monitoring/tests/checkout.test.yaml"),
        )
        .output()
        .unwrap();
    assert!(!out.status.success(), "promtool accepted a broken rule");
}
