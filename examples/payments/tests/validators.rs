//! The payments team's files pass the validators the platform's own pass: cfn-lint and checkov
//! on every template (the payments stack included), kubernetes-validate --strict and checkov on
//! the Kubernetes objects, promtool on every rule file and its unit tests, amtool on the
//! Alertmanager configuration. The files are written by the team's binary itself
//! (`payments-platform --out <tmp>`), as a team would run it.
//!
//! Tools come from `$CFN_LINT`, `$CHECKOV`, `$KUBERNETES_VALIDATE`, `$PROMTOOL`, `$AMTOOL`, the
//! project's `.tools/venv/bin/`, or PATH; `.ci/test.sh` installs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use platform_model::settings::{Environment, Settings};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

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
    panic!("{name} is not installed: run the test suite with `.ci/test.sh` (installs it)");
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

/// Every environment's files, written by the team's binary below a temporary folder.
struct Written {
    dir: tempfile::TempDir,
}

impl Written {
    fn new() -> Written {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_payments-platform"))
            .args(["--env", "all", "--quiet", "--out"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_ok("payments-platform", dir.path(), &out);
        Written { dir }
    }

    /// `(environment, path)` of every written file whose path matches `pred`.
    fn files(&self, pred: impl Fn(&str) -> bool) -> Vec<(Environment, PathBuf)> {
        let mut out = Vec::new();
        for env in Environment::ALL {
            let manifest: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(self.dir.path().join(env.name()).join("manifest.json"))
                    .unwrap(),
            )
            .unwrap();
            for f in manifest["files"].as_array().unwrap() {
                let rel = f["path"].as_str().unwrap();
                if pred(rel) {
                    out.push((env, self.dir.path().join(env.name()).join(rel)));
                }
            }
        }
        assert!(!out.is_empty(), "no file matched");
        out
    }
}

#[test]
fn the_team_s_files_are_written_beside_the_platform_s() {
    let w = Written::new();
    for env in Environment::ALL {
        let base = w.dir.path().join(env.name());
        for rel in [
            "payments-incidents.template.json",
            "k8s/payments.yaml",
            "k8s/payments-monitoring.yaml",
            "monitoring/rules/payments.rules.yaml",
            "monitoring/tests/payments.test.yaml",
            "monitoring/rules/payments-availability-slo.rules.yaml",
            "dashboards/payments-red.json",
            "k8s/checkout.yaml",
            "sre-pipeline.template.json",
        ] {
            assert!(base.join(rel).exists(), "{env}: {rel}");
        }
        // The runbook's branch for payments carries payments' own bound.
        let pipeline = std::fs::read_to_string(base.join("sre-pipeline.template.json")).unwrap();
        let (_, max) = payments_platform::replicas(env);
        let t: serde_json::Value = serde_json::from_str(&pipeline).unwrap();
        let machine = t["Resources"]
            .as_object()
            .unwrap()
            .values()
            .find(|r| r["Type"] == "AWS::StepFunctions::StateMachine")
            .unwrap();
        let prepare =
            &machine["Properties"]["Definition"]["States"]["PrepareScaleDeploymentPayments"];
        assert_eq!(prepare["Parameters"]["max_replicas"], max, "{env}");
        // RBAC: a Role in the payments namespace.
        let rbac = std::fs::read_to_string(base.join("k8s/rbac.yaml")).unwrap();
        assert!(rbac.contains("namespace: payments"), "{env}");
    }
}

#[test]
fn cfn_lint_reports_nothing_on_every_template() {
    let cfn_lint = tool("cfn-lint", "CFN_LINT");
    let w = Written::new();
    for (env, path) in w.files(|p| p.ends_with(".template.json")) {
        let region = Settings::embedded(env).unwrap().region.to_string();
        let out = Command::new(&cfn_lint)
            .args(["--regions", &region, "--format", "parseable", "--"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty(),
            "cfn-lint found problems in {}:\n{}{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn checkov(framework: &str, files: &[(Environment, PathBuf)]) -> serde_json::Value {
    let mut cmd = Command::new(tool("checkov", "CHECKOV"));
    cmd.args([
        "--skip-download",
        "--quiet",
        "--compact",
        "--framework",
        framework,
        "-o",
        "json",
    ]);
    for (_, f) in files {
        cmd.arg("-f").arg(f);
    }
    let out = cmd.output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON ({e}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // One report per framework run, or a list of them.
    match report {
        serde_json::Value::Array(reports) => serde_json::Value::Array(reports),
        one => serde_json::Value::Array(vec![one]),
    }
}

#[test]
fn checkov_fails_nothing_in_the_templates_and_the_kubernetes_objects() {
    let w = Written::new();
    for (framework, files) in [
        ("cloudformation", w.files(|p| p.ends_with(".template.json"))),
        ("kubernetes", w.files(|p| p.starts_with("k8s/"))),
    ] {
        let mut passed = 0;
        for report in checkov(framework, &files).as_array().unwrap() {
            assert_eq!(
                report["summary"]["failed"],
                0,
                "checkov ({framework}) failed checks:\n{}",
                serde_json::to_string_pretty(&report["results"]["failed_checks"]).unwrap()
            );
            passed += report["summary"]["passed"].as_u64().unwrap_or(0);
        }
        assert!(passed > 50, "checkov ({framework}) checked almost nothing");
    }
}

#[test]
fn kubernetes_validate_strict_accepts_every_core_object() {
    let kv = tool("kubernetes-validate", "KUBERNETES_VALIDATE");
    let w = Written::new();
    // The Prometheus operator's custom resources (`*-monitoring.yaml`) have no schema there;
    // the platform's own tests check them against the operator's CRDs.
    let files = w.files(|p| p.starts_with("k8s/") && !p.ends_with("-monitoring.yaml"));
    let out = Command::new(&kv)
        .args(["--strict", "--kubernetes-version", "1.34.0"])
        .args(files.iter().map(|(_, p)| p))
        .output()
        .unwrap();
    assert_ok("kubernetes-validate --strict", &files[0].1, &out);
    let report = String::from_utf8_lossy(&out.stdout);
    for object in [
        "deployment/payments",
        "role/sre-runbook-remediation",
        "namespace/payments",
    ] {
        assert!(
            report.contains(&format!("passed for resource {object} ")),
            "{object} was not validated:\n{report}"
        );
    }
    assert!(!report.contains("WARN"), "{report}");
}

#[test]
fn promtool_checks_every_rule_file_and_runs_every_test() {
    let promtool = tool("promtool", "PROMTOOL");
    let w = Written::new();
    for (_, path) in w.files(|p| p.starts_with("monitoring/rules/")) {
        let out = Command::new(&promtool)
            .args(["check", "rules"])
            .arg(&path)
            .output()
            .unwrap();
        assert_ok("promtool check rules", &path, &out);
    }
    let tests = w.files(|p| p.starts_with("monitoring/tests/"));
    assert!(tests.iter().any(|(_, p)| p.ends_with("payments.test.yaml")));
    for (_, path) in tests {
        let out = Command::new(&promtool)
            .args(["test", "rules"])
            .arg(&path)
            .output()
            .unwrap();
        assert_ok("promtool test rules", &path, &out);
    }
}

#[test]
fn amtool_accepts_the_alertmanager_configuration() {
    let amtool = tool("amtool", "AMTOOL");
    let w = Written::new();
    for (_, path) in w.files(|p| p == "monitoring/alertmanager.yaml") {
        let out = Command::new(&amtool)
            .arg("check-config")
            .arg(&path)
            .output()
            .unwrap();
        assert_ok("amtool check-config", &path, &out);
    }
}

#[test]
fn an_import_the_platform_does_not_export_is_refused() {
    use platform_model::cfn::Expr;
    use platform_model::resources::sqs::Queue;
    let mut stack = payments_platform::payments_stack();
    stack.add(
        "Typo",
        Queue::new().kms_master_key_id(Expr::import_value("sre-pipeline-KeyArm")),
    );
    let settings = Settings::embedded(Environment::Dev).unwrap();
    let platform = platform_model::platform::Platform::standard(settings)
        .unwrap()
        .stack(stack);
    let assets =
        platform_model::platform::Assets::new(&"a".repeat(64), &"b".repeat(64), &"c".repeat(64));
    let err = platform.synthesize(&assets).unwrap_err().to_string();
    assert!(
        err.contains("\"sre-pipeline-KeyArm\" is not an export"),
        "{err}"
    );
}
