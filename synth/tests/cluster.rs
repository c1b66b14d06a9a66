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
            let assets = synth::assets::compute(&workspace_root()).unwrap();
            for a in platform::synthesize(&settings, &assets).unwrap() {
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

/// The Kubernetes YAML files (core objects; the operator's custom resources are checked by
/// [`custom_resources_match_the_operators_types_exactly`]).
fn core_object_files(w: &Written) -> Vec<PathBuf> {
    w.of_kind(ArtifactKind::KubernetesYaml)
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("-monitoring.yaml"))
        })
        .collect()
}

/// Every YAML document of a Kubernetes file.
fn documents(text: &str) -> Vec<serde_json::Value> {
    text.split("\n---\n")
        .map(|d| d.trim_start_matches("---\n"))
        .filter(|d| {
            d.lines()
                .any(|l| !l.starts_with('#') && !l.trim().is_empty())
        })
        .map(|d| serde_norway::from_str(d).unwrap())
        .collect()
}

fn objects(w: &Written) -> Vec<(Environment, String, serde_json::Value)> {
    w.files
        .iter()
        .filter(|(_, a)| a.kind == ArtifactKind::KubernetesYaml)
        .flat_map(|(env, a)| {
            documents(&a.contents)
                .into_iter()
                .map(|d| (*env, a.path.clone(), d))
        })
        .collect()
}

#[test]
fn kubernetes_validate_strict_accepts_every_object() {
    let kv = tool("kubernetes-validate", "KUBERNETES_VALIDATE", PIP);
    let w = Written::all();
    let files = core_object_files(&w);
    // The Kubernetes version k8s-openapi is built for (feature v1_34 in Cargo.toml).
    let out = Command::new(&kv)
        .args(["--strict", "--kubernetes-version", "1.34.0"])
        .args(&files)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_ok("kubernetes-validate --strict", &files[0], &out);
    let passed = report.matches(" passed for resource ").count();
    let expected: usize = objects(&w)
        .iter()
        .filter(|(_, path, _)| !path.ends_with("-monitoring.yaml"))
        .count();
    assert_eq!(passed, expected, "every object was validated:\n{report}");
    assert!(!report.contains("WARN"), "{report}");
}

#[test]
fn custom_resources_match_the_operators_types_exactly() {
    // kubernetes-validate has no schema for custom resources. The ServiceMonitor and
    // PrometheusRule types come from the operator's CRDs (kcr_monitoring_coreos_com, kopium):
    // parse each document back into its type and require the round trip to keep every field
    // (an unknown or misspelt field would be dropped, a wrong type would not parse).
    use platform_model::k8s::{PrometheusRule, ServiceMonitor};
    let w = Written::all();
    let mut seen = 0;
    for (env, path, doc) in objects(&w) {
        let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
        let back = match kind.as_str() {
            "ServiceMonitor" => {
                serde_json::to_value(serde_json::from_value::<ServiceMonitor>(doc.clone()).unwrap())
            }
            "PrometheusRule" => {
                serde_json::to_value(serde_json::from_value::<PrometheusRule>(doc.clone()).unwrap())
            }
            _ => continue,
        }
        .unwrap();
        assert_eq!(back, doc, "{env}/{path}: {kind} does not round-trip");
        assert_eq!(doc["apiVersion"], "monitoring.coreos.com/v1");
        seen += 1;
    }
    assert_eq!(
        seen,
        3 * 4,
        "checkout's ServiceMonitor and two PrometheusRules, and the platform's node rules, per environment"
    );
}

#[test]
fn every_prometheus_rule_carries_its_rule_file_exactly() {
    let w = Written::all();
    for (env, _, doc) in objects(&w) {
        if doc["kind"] != "PrometheusRule" {
            continue;
        }
        let name = doc["metadata"]["name"].as_str().unwrap();
        let file = w
            .files
            .iter()
            .find(|(e, a)| *e == env && a.path == format!("monitoring/rules/{name}.rules.yaml"))
            .unwrap();
        let rules: serde_json::Value = serde_norway::from_str(&file.1.contents).unwrap();
        assert_eq!(doc["spec"], rules, "{env}: PrometheusRule {name}");
    }
}

#[test]
fn checkov_finds_nothing_in_the_kubernetes_yaml() {
    let checkov = tool("checkov", "CHECKOV", PIP);
    let w = Written::all();
    let mut cmd = Command::new(&checkov);
    cmd.args([
        "--skip-download",
        "--framework",
        "kubernetes",
        "--output",
        "json",
    ]);
    for f in w.of_kind(ArtifactKind::KubernetesYaml) {
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
    let summary = &report["summary"];
    assert_eq!(
        summary["failed"],
        0,
        "checkov failed checks:\n{}",
        serde_json::to_string_pretty(&report["results"]["failed_checks"]).unwrap()
    );
    assert!(summary["passed"].as_u64().unwrap() > 100, "{summary}");
    // Every suppression says why.
    for s in report["results"]["skipped_checks"].as_array().unwrap() {
        let why = s["check_result"]["suppress_comment"].as_str().unwrap_or("");
        assert!(why.len() > 20, "suppression without a reason: {s}");
    }
    assert!(out.status.success());
}

#[test]
fn amtool_accepts_the_alertmanager_configuration() {
    let amtool = tool("amtool", "AMTOOL", APT);
    let w = Written::all();
    for path in w.of_kind(ArtifactKind::AlertmanagerConfig) {
        let out = Command::new(&amtool)
            .arg("check-config")
            .arg(&path)
            .output()
            .unwrap();
        assert_ok("amtool check-config", &path, &out);
    }
}

#[test]
fn the_stack_values_carry_the_checked_alertmanager_configuration() {
    let w = Written::all();
    for env in Environment::ALL {
        let text = |p: &str| {
            let (_, a) = w
                .files
                .iter()
                .find(|(e, a)| *e == env && a.path == p)
                .unwrap();
            serde_norway::from_str::<serde_json::Value>(&a.contents).unwrap()
        };
        let am = text("monitoring/alertmanager.yaml");
        let values = text("helm/kube-prometheus-stack.values.yaml");
        // The values add a null for each key of the chart's default configuration that ours
        // leaves out (it deletes the default; helm_render.rs checks the rendered result).
        let mut config = values["alertmanager"]["config"].clone();
        config.as_object_mut().unwrap().retain(|_, v| !v.is_null());
        assert_eq!(config, am);
        // Bearer credentials come from a mounted Secret file, never inline.
        let webhook = &am["receivers"][1]["webhook_configs"][0];
        assert_eq!(webhook["send_resolved"], true);
        let auth = &webhook["http_config"]["authorization"];
        assert!(auth.get("credentials").is_none());
        let file = auth["credentials_file"].as_str().unwrap();
        let secret = values["alertmanager"]["alertmanagerSpec"]["secrets"][0]
            .as_str()
            .unwrap();
        assert!(file.starts_with(&format!("/etc/alertmanager/secrets/{secret}/")));
        assert!(
            webhook["url"]
                .as_str()
                .unwrap()
                .ends_with("/webhook/alertmanager")
        );
    }
}

#[test]
fn every_values_file_names_its_chart_and_version() {
    let w = Written::all();
    for (env, a) in w
        .files
        .iter()
        .filter(|(_, a)| a.kind == ArtifactKind::HelmValues)
    {
        assert!(
            a.contents.lines().any(|l| l.starts_with("# chart: "))
                && a.contents.lines().any(|l| l.starts_with("# version: ")),
            "{env}/{}",
            a.path
        );
    }
}

#[test]
fn every_deployment_has_limits_probes_and_a_locked_down_container() {
    let w = Written::all();
    let mut deployments = 0;
    for (env, path, doc) in objects(&w) {
        if doc["kind"] != "Deployment" {
            continue;
        }
        deployments += 1;
        let pod = &doc["spec"]["template"]["spec"];
        for c in pod["containers"].as_array().unwrap() {
            let at = format!("{env}/{path}: container {}", c["name"]);
            for r in ["cpu", "memory"] {
                assert!(
                    c["resources"]["limits"][r].is_string(),
                    "{at}: no {r} limit"
                );
                assert!(
                    c["resources"]["requests"][r].is_string(),
                    "{at}: no {r} request"
                );
            }
            for p in ["livenessProbe", "readinessProbe"] {
                assert_eq!(c[p]["httpGet"]["path"], "/healthz", "{at}: {p}");
            }
            let sc = &c["securityContext"];
            assert_eq!(sc["runAsNonRoot"], true, "{at}");
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{at}");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{at}");
            assert_eq!(sc["capabilities"]["drop"][0], "ALL", "{at}");
            let env_names: Vec<&str> = c["env"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap())
                .collect();
            for knob in ["LATENCY_MS", "ERROR_RATE", "DEGRADED_MODE_SSM_PARAMETER"] {
                assert!(env_names.contains(&knob), "{at}: no {knob}");
            }
        }
    }
    assert_eq!(deployments, 3, "one Deployment per environment");
}

#[test]
fn remediation_rbac_is_narrow() {
    let w = Written::all();
    for (env, path, doc) in objects(&w) {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if !matches!(kind, "Role" | "ClusterRole") {
            continue;
        }
        let at = format!("{env}/{path}: {kind} {}", doc["metadata"]["name"]);
        if kind == "Role" {
            assert_eq!(
                doc["metadata"]["namespace"], "apps",
                "{at}: not namespaced to apps"
            );
        }
        for rule in doc["rules"].as_array().unwrap() {
            for field in ["verbs", "resources", "apiGroups"] {
                for v in rule[field].as_array().unwrap() {
                    assert_ne!(v, "*", "{at}: `*` in {field}");
                }
            }
            assert!(rule.get("nonResourceURLs").is_none(), "{at}");
            let verbs: Vec<&str> = rule["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            for v in &verbs {
                assert!(
                    ["get", "list", "patch", "create"].contains(v),
                    "{at}: verb {v}"
                );
            }
            if kind == "ClusterRole" {
                // Cluster-wide, only what a drain needs: no deployments, no secrets.
                for r in rule["resources"].as_array().unwrap() {
                    assert!(
                        ["nodes", "pods", "pods/eviction"].contains(&r.as_str().unwrap()),
                        "{at}: {r}"
                    );
                }
            }
        }
    }
    // The access entry maps the runbook role to the group the bindings name; no aws-auth edit.
    for (env, a) in &w.files {
        assert!(!a.contents.contains("aws-auth"), "{env}/{}", a.path);
    }
}

#[test]
fn every_alert_carries_severity_and_its_runbook_labels() {
    use platform_model::contract::runbook::Action;
    use platform_model::monitoring::{catalog, parse_target_label};
    for env in Environment::ALL {
        let settings = Settings::embedded(env).unwrap();
        let checkout = platform_model::platform::checkout(&settings).unwrap();
        let entries = catalog(std::slice::from_ref(&checkout)).unwrap();
        for set in checkout.rule_sets().unwrap() {
            for group in &set.groups {
                for rule in group.rules.as_ref().unwrap() {
                    let Some(name) = &rule.alert else { continue };
                    let labels = rule.labels.as_ref().unwrap();
                    assert!(labels.contains_key("severity"), "{name}");
                    let entry = entries.iter().find(|e| &e.alert == name).unwrap();
                    match (&entry.runbook, labels.get("runbook_action")) {
                        (Some(rb), Some(action)) => {
                            assert_eq!(Action::from_name(action), Some(rb.action));
                            assert_eq!(parse_target_label(&labels["runbook_target"]), rb.target);
                        }
                        (None, None) => {}
                        other => panic!("{name}: catalog and labels disagree: {other:?}"),
                    }
                }
            }
        }
    }
}

#[test]
fn custom_resources_pass_the_operators_crd_schemas() {
    // kubernetes-validate skips custom resources; these validators are compiled from the
    // Prometheus operator's CRD schemas (@kubernetes-models/prometheus-operator), so they check
    // what the Rust types cannot: enums, patterns (durations), required fields.
    let dir = workspace_root().join(".tools/crd-validate");
    let install = "mkdir -p .tools/crd-validate && cp .ci/crd-validate/package*.json \
                   .tools/crd-validate/ && (cd .tools/crd-validate && npm ci)";
    assert!(
        dir.join("node_modules/@kubernetes-models/prometheus-operator")
            .exists(),
        "the CRD validators are not installed. Run the test suite with `.ci/test.sh` (installs them), or: {install}"
    );
    let script =
        std::fs::read_to_string(workspace_root().join(".ci/crd-validate/validate.mjs")).unwrap();
    let w = Written::all();
    let crs: Vec<serde_json::Value> = objects(&w)
        .into_iter()
        .filter(|(_, _, d)| d["apiVersion"] == "monitoring.coreos.com/v1")
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(crs.len(), 12);
    let input = w.dir.path().join("custom-resources.json");
    std::fs::write(&input, serde_json::to_string(&crs).unwrap()).unwrap();
    // `--eval` resolves packages from the working directory: the installed node_modules.
    let out = Command::new("node")
        .args(["--input-type=module", "--eval", &script])
        .arg(&input)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("node is not installed ({e})"));
    assert_ok("CRD schema validation", &input, &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("12 valid, 0 invalid"));

    // And it is not vacuous: a `for` that is not a Prometheus duration is refused.
    let mut broken = crs.clone();
    let rule = broken
        .iter_mut()
        .find(|d| d["kind"] == "PrometheusRule")
        .unwrap();
    rule["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes".into();
    std::fs::write(&input, serde_json::to_string(&broken).unwrap()).unwrap();
    let out = Command::new("node")
        .args(["--input-type=module", "--eval", &script])
        .arg(&input)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a bad duration passed");
}

/// The load balancer reaches the API only: `/metrics`, `/readyz` and `/healthz` stay inside
/// the cluster.
#[test]
fn the_ingress_exposes_only_the_api() {
    let w = Written::all();
    let mut ingresses = 0;
    for (env, path, doc) in objects(&w) {
        if doc["kind"] != "Ingress" {
            continue;
        }
        ingresses += 1;
        for rule in doc["spec"]["rules"].as_array().unwrap() {
            for p in rule["http"]["paths"].as_array().unwrap() {
                assert_eq!(p["path"], "/checkout", "{env} {path}");
            }
        }
    }
    assert_eq!(ingresses, 3);
}
