//! The remediation group's ValidatingAdmissionPolicy (`k8s/admission.yaml`), and which
//! namespaces Prometheus takes rules and ServiceMonitors from.
//!
//! - `kubernetes-validate --strict` (Kubernetes 1.34) accepts the policy and its binding, and
//!   refuses a misspelt field (the check is not vacuous).
//! - Its CEL expressions are evaluated by a real CEL implementation, cel-expr-python (Google's
//!   CEL C++ runtime, PyPI, pinned in `.ci/requirements.txt`), through `.ci/cel/vap.py`, which
//!   emulates how the API server applies a policy (resource rules, matchConditions, variables,
//!   validations, failurePolicy Fail). `object` is a stored object with each patch applied as
//!   the API server would (merge patch; the strategic-merge patches here hold maps only, where
//!   both agree), plus what the server itself changes on an update (resourceVersion,
//!   generation, managedFields); `oldObject` is the stored object. Every patch runbook_action
//!   sends is admitted; an image swap, scaling down or to zero, a raise past the bound, a
//!   lower autoscaler maximum, a taint, an uncordon, a label change, create and delete are
//!   refused with a message naming what; other users are not matched. No case may be decided
//!   by an evaluation error.
//! - Not covered by the evaluator (see `.ci/cel/vap.py`): Kubernetes' own CEL libraries
//!   (quantity, url, ip, cidr, format, semver, authorizer; the policy uses none), `optional`
//!   types, cost estimation and runtime cost limits, and the type-check against each
//!   resource's OpenAPI schema (the API server reports its findings as warnings only; the
//!   expressions compare fields with `has()`, `==` and the ternary operator, which type-check
//!   on typed objects too). No API server runs here: admission itself is emulated.

use std::path::{Path, PathBuf};
use std::process::Command;

use platform_model::k8s::admission::ReplicaBounds;
use platform_model::k8s::admission::{self, POLICY, RESTARTED_AT};
use platform_model::k8s::rbac::REMEDIATION_GROUP;
use platform_model::k8s::workload;
use platform_model::monitoring::helm::MONITORING_NAMESPACE;
use platform_model::platform::{self, Artifact, ArtifactKind};
use platform_model::platform::{APPS_NAMESPACE, checkout};
use platform_model::settings::{Environment, Settings};
use serde_json::{Value, json};

const PIP: &str =
    "python3 -m venv .tools/venv && .tools/venv/bin/pip install -r .ci/requirements.txt";

/// Replica bounds with checkout's Deployment at `max`.
fn bounds(max: u32) -> ReplicaBounds {
    ReplicaBounds::from([(format!("{APPS_NAMESPACE}/checkout"), max)])
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A Python tool of the project's venv (`$ENV_VAR` overrides), failing the test with the
/// install command when it is missing.
fn venv_tool(name: &str, env_var: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env_var) {
        return PathBuf::from(p);
    }
    let local = workspace_root().join(".tools/venv/bin").join(name);
    assert!(
        local.exists(),
        "{name} is not installed. Run the test suite with `.ci/test.sh` (installs it), or: {PIP}"
    );
    local
}

/// The Python that has cel-expr-python.
fn cel_python() -> PathBuf {
    let python = venv_tool("python", "CEL_PYTHON");
    let ok = Command::new(&python)
        .args(["-c", "from cel_expr_python import cel"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "cel-expr-python is not installed in {}. Run `.ci/test.sh`, or: {PIP}",
        python.display()
    );
    python
}

fn artifacts(env: Environment) -> Vec<Artifact> {
    let settings = Settings::embedded(env).unwrap();
    let assets = synth::assets::compute(&workspace_root()).unwrap();
    platform::synthesize(&settings, &assets).unwrap()
}

fn documents(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .map(|d| d.trim_start_matches("---\n"))
        .filter(|d| {
            d.lines()
                .any(|l| !l.starts_with('#') && !l.trim().is_empty())
        })
        .map(|d| serde_norway::from_str(d).unwrap())
        .collect()
}

fn file<'a>(artifacts: &'a [Artifact], path: &str) -> &'a Artifact {
    artifacts
        .iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| panic!("{path} is not generated"))
}

// ---------------------------------------------------------------------------------------------
// The generated file
// ---------------------------------------------------------------------------------------------

#[test]
fn every_environment_gets_the_policy_bound_to_its_autoscaler_maximum() {
    for env in Environment::ALL {
        let settings = Settings::embedded(env).unwrap();
        let all = artifacts(env);
        let a = file(&all, "k8s/admission.yaml");
        assert_eq!(a.kind, ArtifactKind::KubernetesYaml);
        let docs = documents(&a.contents);
        let expected =
            admission::manifest(&admission::replica_bounds(&[checkout(&settings).unwrap()]))
                .unwrap();
        assert_eq!(docs, expected.objects(), "{env}");
        assert_eq!(docs[0]["kind"], "ValidatingAdmissionPolicy");
        assert_eq!(docs[1]["kind"], "ValidatingAdmissionPolicyBinding");
        assert_eq!(docs[1]["spec"]["policyName"], POLICY);
        let bound = format!("(apps/checkout: {})", settings.checkout.max_replicas);
        assert!(a.contents.contains(&bound), "{env}: {bound}");
        // The bound is the autoscaler's own maximum.
        let checkout = documents(&file(&all, "k8s/checkout.yaml").contents);
        let hpa = checkout
            .iter()
            .find(|d| d["kind"] == "HorizontalPodAutoscaler")
            .unwrap();
        assert_eq!(
            hpa["spec"]["maxReplicas"],
            json!(settings.checkout.max_replicas)
        );
    }
}

#[test]
fn kubernetes_validate_strict_accepts_the_policy_and_refuses_a_misspelt_field() {
    let kv = venv_tool("kubernetes-validate", "KUBERNETES_VALIDATE");
    let dir = tempfile::tempdir().unwrap();
    let run = |path: &Path| {
        Command::new(&kv)
            .args(["--strict", "--kubernetes-version", "1.34.0"])
            .arg(path)
            .output()
            .unwrap()
    };
    for env in Environment::ALL {
        let text = file(&artifacts(env), "k8s/admission.yaml").contents.clone();
        let path = dir.path().join(format!("{env}-admission.yaml"));
        std::fs::write(&path, &text).unwrap();
        let out = run(&path);
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{env}: {report}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            report.matches(" passed for resource ").count(),
            2,
            "{report}"
        );
        assert!(!report.contains("WARN"), "{report}");

        let broken = text.replace("validationActions:", "validationAction:");
        assert_ne!(broken, text);
        let path = dir.path().join(format!("{env}-broken.yaml"));
        std::fs::write(&path, broken).unwrap();
        assert!(!run(&path).status.success(), "a misspelt field passed");
    }
}

// ---------------------------------------------------------------------------------------------
// The CEL expressions, on the patches runbook_action sends
// ---------------------------------------------------------------------------------------------

/// RFC 7386 JSON merge patch. runbook_action's strategic-merge patches (restart, cordon) hold
/// only maps and scalars, where a strategic merge and a merge patch give the same object.
fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().unwrap();
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// An object as the API server stores it: with the fields the server writes.
fn stored(mut object: Value) -> Value {
    let m = &mut object["metadata"];
    m["uid"] = json!("0b5e5d2c-8a1f-4c5e-9b1a-4f6a2d0c1e11");
    m["resourceVersion"] = json!("1000");
    m["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    m["generation"] = json!(4);
    m["managedFields"] = json!([{
        "manager": "kubectl-client-side-apply",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2026-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {}},
    }]);
    object
}

/// What validating admission sees as `object` after `change` to the stored `old`: the change,
/// then what the server writes on every update (new resourceVersion, a managedFields entry for
/// the patching manager, generation + 1 when spec changed).
fn updated(old: &Value, change: impl FnOnce(&mut Value)) -> Value {
    let mut new = old.clone();
    change(&mut new);
    let m = &mut new["metadata"];
    m["resourceVersion"] = json!("1001");
    m["managedFields"].as_array_mut().unwrap().push(
        json!({"manager": "runbook_action", "operation": "Update", "apiVersion": "v1",
                     "time": "2026-11-27T19:00:00Z", "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:spec": {}}}),
    );
    if new.get("spec") != old.get("spec") && old["metadata"].get("generation").is_some() {
        new["metadata"]["generation"] = json!(old["metadata"]["generation"].as_i64().unwrap() + 1);
    }
    new
}

fn patched(old: &Value, patch: &Value) -> Value {
    updated(old, |o| merge(o, patch))
}

/// Group, version, resource, subresource and kind of a guarded resource.
#[derive(Clone, Copy)]
struct Res {
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    sub: Option<&'static str>,
    kind_group: &'static str,
    kind_version: &'static str,
    kind: &'static str,
    namespaced: bool,
}

const DEPLOYMENTS: Res = Res {
    group: "apps",
    version: "v1",
    resource: "deployments",
    sub: None,
    kind_group: "apps",
    kind_version: "v1",
    kind: "Deployment",
    namespaced: true,
};
const SCALE: Res = Res {
    group: "apps",
    version: "v1",
    resource: "deployments",
    sub: Some("scale"),
    kind_group: "autoscaling",
    kind_version: "v1",
    kind: "Scale",
    namespaced: true,
};
const HPAS: Res = Res {
    group: "autoscaling",
    version: "v2",
    resource: "horizontalpodautoscalers",
    sub: None,
    kind_group: "autoscaling",
    kind_version: "v2",
    kind: "HorizontalPodAutoscaler",
    namespaced: true,
};
const NODES: Res = Res {
    group: "",
    version: "v1",
    resource: "nodes",
    sub: None,
    kind_group: "",
    kind_version: "v1",
    kind: "Node",
    namespaced: false,
};

/// The runbook Lambda's identity as the EKS access entry maps it.
const RUNBOOK_GROUPS: [&str; 2] = [REMEDIATION_GROUP, "system:authenticated"];

/// The AdmissionRequest as the API server gives it to CEL: converted with `omitempty`, so an
/// empty subresource, namespace or group list is absent.
fn request(r: Res, operation: &str, name: &str, groups: &[&str]) -> Value {
    let mut q = json!({
        "uid": "6f1c1b9e-1111-2222-3333-444455556666",
        "kind": {"group": r.kind_group, "version": r.kind_version, "kind": r.kind},
        "resource": {"group": r.group, "version": r.version, "resource": r.resource},
        "requestKind": {"group": r.kind_group, "version": r.kind_version, "kind": r.kind},
        "requestResource": {"group": r.group, "version": r.version, "resource": r.resource},
        "name": name,
        "operation": operation,
        "userInfo": {"username": "arn:aws:sts::111111111111:assumed-role/runbook-action/session"},
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"},
        "dryRun": false,
    });
    if let Some(sub) = r.sub {
        q["subResource"] = json!(sub);
        q["requestSubResource"] = json!(sub);
    }
    if r.namespaced {
        q["namespace"] = json!(APPS_NAMESPACE);
    }
    if !groups.is_empty() {
        q["userInfo"]["groups"] = json!(groups);
    }
    q
}

/// One admission request to decide.
struct Case {
    name: String,
    request: Value,
    object: Value,
    old: Value,
    /// `None`: admitted; `Some(text)`: refused by a validation whose message contains `text`.
    refused: Option<String>,
    /// Whether the policy applies (false: another user).
    matched: bool,
}

fn update(name: &str, r: Res, old: &Value, object: Value, refused: Option<String>) -> Case {
    Case {
        name: name.to_owned(),
        request: request(
            r,
            "UPDATE",
            old["metadata"]["name"].as_str().unwrap(),
            &RUNBOOK_GROUPS,
        ),
        object,
        old: old.clone(),
        refused,
        matched: true,
    }
}

/// Runs `.ci/cel/vap.py` on the cases and checks each decision.
fn decide(policy: &Value, cases: &[Case]) {
    let python = cel_python();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cases.json");
    let body = json!({
        "policy": policy,
        "cases": cases.iter().map(|c| json!({
            "name": c.name, "request": c.request, "object": c.object, "oldObject": c.old,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(&input, serde_json::to_vec(&body).unwrap()).unwrap();
    let out = Command::new(&python)
        .arg(workspace_root().join(".ci/cel/vap.py"))
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vap.py failed (exit {:?}):\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    let mut failures = Vec::new();
    for (case, result) in cases.iter().zip(results) {
        let at = format!("{}: {result}", case.name);
        if result["errors"] != json!([]) {
            failures.push(format!("{at}: decided by an evaluation error"));
        }
        if result["matched"] != case.matched {
            failures.push(format!("{at}: matched should be {}", case.matched));
        }
        let refusals: Vec<&str> = result["refusals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        match &case.refused {
            None if !refusals.is_empty() => failures.push(format!("{at}: refused")),
            Some(text) if !refusals.iter().any(|m| m.contains(text.as_str())) => failures.push(
                format!("{at}: not refused with a message containing {text:?}"),
            ),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The stored objects of an environment: its generated Deployment and autoscaler, the scale
/// of that Deployment and a worker node.
struct Stored {
    deployment: Value,
    hpa: Value,
    scale: Value,
    node: Value,
}

fn objects(settings: &Settings) -> Stored {
    let m = workload::manifest(&checkout(settings).unwrap()).unwrap();
    let of = |kind: &str| {
        m.objects()
            .iter()
            .find(|o| o["kind"] == kind)
            .unwrap()
            .clone()
    };
    let mut deployment = stored(of("Deployment"));
    deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("3");
    deployment["status"] = json!({"replicas": settings.checkout.replicas, "observedGeneration": 4});
    let mut hpa = stored(of("HorizontalPodAutoscaler"));
    hpa["status"] = json!({"currentReplicas": settings.checkout.replicas, "desiredReplicas": settings.checkout.replicas});
    let mut scale = stored(json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "checkout", "namespace": APPS_NAMESPACE},
        "spec": {"replicas": settings.checkout.replicas},
        "status": {"replicas": settings.checkout.replicas, "selector": "app.kubernetes.io/name=checkout"},
    }));
    // A Scale has no generation.
    scale["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("generation");
    let node = stored(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "ip-10-0-1-23.eu-west-1.compute.internal",
            "labels": {
                "kubernetes.io/hostname": "ip-10-0-1-23.eu-west-1.compute.internal",
                "topology.kubernetes.io/zone": "eu-west-1a",
                "eks.amazonaws.com/nodegroup": "workers",
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {
            "providerID": "aws:///eu-west-1a/i-0123456789abcdef0",
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }));
    Stored {
        deployment,
        hpa,
        scale,
        node,
    }
}

/// The patches runbook_action sends (lambdas/src/runbook/mod.rs), as lambdas/tests/it/kube.rs
/// records them; [`the_patches_are_still_the_ones_runbook_action_sends`] fails when they change.
fn restart_patch(at: &str) -> Value {
    json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}})
}
fn scale_patch(replicas: u32) -> Value {
    json!({"spec": {"replicas": replicas}})
}
fn autoscaler_patch(min: u32) -> Value {
    json!({"spec": {"minReplicas": min}})
}
fn cordon_patch() -> Value {
    json!({"spec": {"unschedulable": true}})
}

#[test]
fn the_patches_are_still_the_ones_runbook_action_sends() {
    let squeeze = |p: &str| -> String {
        std::fs::read_to_string(workspace_root().join(p))
            .unwrap()
            .split_whitespace()
            .collect()
    };
    let code = squeeze("lambdas/src/runbook/mod.rs");
    for (what, text) in [
        (
            "the annotation",
            r#"RESTARTED_AT:&str="kubectl.kubernetes.io/restartedAt""#,
        ),
        (
            "restart",
            r#""spec":{"template":{"metadata":{"annotations":{RESTARTED_AT:now}}}}"#,
        ),
        ("scale", r#"json!({"spec":{"replicas":wanted}})"#),
        ("autoscaler", r#"json!({"spec":{"minReplicas":wanted}})"#),
        ("cordon", r#"json!({"spec":{"unschedulable":true}})"#),
    ] {
        assert!(
            code.contains(text),
            "runbook_action's {what} patch changed: update this test's patches and k8s::admission"
        );
    }
    assert_eq!(RESTARTED_AT, "kubectl.kubernetes.io/restartedAt");
    let recorded = squeeze("lambdas/tests/it/kube.rs");
    for text in [
        r#"json!({"spec":{"replicas":8}})"#,
        r#"json!({"spec":{"minReplicas":6}})"#,
        r#"json!({"spec":{"unschedulable":true}})"#,
        r#"["kubectl.kubernetes.io/restartedAt"]"#,
    ] {
        assert!(
            recorded.contains(text),
            "the recorded request {text} changed"
        );
    }
}

/// The requests lambdas/tests/it/kube.rs records, with its numbers: a scale request with
/// `max_replicas` 8 from 2 replicas (`{"spec":{"replicas":8}}`), an autoscaler at minimum 2 and
/// maximum 6 (`{"spec":{"minReplicas":6}}`), a restart, a cordon; under a policy bound of 8.
#[test]
fn the_recorded_requests_are_admitted() {
    let policy = serde_json::to_value(admission::policy(&bounds(8)).unwrap()).unwrap();
    let settings = Settings::embedded(Environment::Prod).unwrap();
    let s = objects(&settings);
    let mut scale = s.scale.clone();
    scale["spec"]["replicas"] = json!(2);
    let mut hpa = s.hpa.clone();
    hpa["spec"]["minReplicas"] = json!(2);
    hpa["spec"]["maxReplicas"] = json!(6);
    let cases = vec![
        update(
            "recorded scale",
            SCALE,
            &scale,
            patched(&scale, &scale_patch(8)),
            None,
        ),
        update(
            "recorded autoscaler minimum",
            HPAS,
            &hpa,
            patched(&hpa, &autoscaler_patch(6)),
            None,
        ),
        update(
            "recorded restart",
            DEPLOYMENTS,
            &s.deployment,
            patched(&s.deployment, &restart_patch("2026-11-27T19:00:00Z")),
            None,
        ),
        update(
            "recorded cordon",
            NODES,
            &s.node,
            patched(&s.node, &cordon_patch()),
            None,
        ),
        // Past the autoscaler's own maximum (6), under the bound (8): refused.
        update(
            "autoscaler minimum past its maximum",
            HPAS,
            &hpa,
            patched(&hpa, &autoscaler_patch(7)),
            Some("above its spec.maxReplicas".into()),
        ),
    ];
    decide(&policy, &cases);
}

fn environment_cases(settings: &Settings) -> Vec<Case> {
    let max = settings.checkout.max_replicas;
    let min = settings.checkout.replicas;
    let s = objects(settings);
    let (d, h, sc, n) = (&s.deployment, &s.hpa, &s.scale, &s.node);
    let refused = |text: &str| Some(text.to_owned());
    // Another Deployment in the namespace: no service declares it, so its bound is 0.
    let mut undeclared = d.clone();
    undeclared["metadata"]["name"] = json!("undeclared");
    // A Deployment restarted before: the annotation is there and changes.
    let restarted = patched(d, &restart_patch("2026-11-27T19:00:00Z"));
    let mut cases = vec![
        // What runbook_action sends: admitted.
        update(
            "restart",
            DEPLOYMENTS,
            d,
            patched(d, &restart_patch("2026-11-27T19:00:00Z")),
            None,
        ),
        update(
            "restart again",
            DEPLOYMENTS,
            &restarted,
            patched(&restarted, &restart_patch("2026-11-27T19:30:05Z")),
            None,
        ),
        update(
            "scale to the bound",
            SCALE,
            sc,
            patched(sc, &scale_patch(max)),
            None,
        ),
        update(
            "scale by one",
            SCALE,
            sc,
            patched(sc, &scale_patch(min + 1)),
            None,
        ),
        update(
            "autoscaler minimum to the bound",
            HPAS,
            h,
            patched(h, &autoscaler_patch(max)),
            None,
        ),
        update("cordon", NODES, n, patched(n, &cordon_patch()), None),
        {
            let cordoned = patched(n, &cordon_patch());
            update(
                "cordon a cordoned node",
                NODES,
                &cordoned,
                patched(&cordoned, &cordon_patch()),
                None,
            )
        },
        update(
            "Deployment replicas raised to the bound",
            DEPLOYMENTS,
            d,
            patched(d, &json!({"spec": {"replicas": max}})),
            None,
        ),
        // Everything else the RBAC would allow: refused, naming what.
        update(
            "image swap",
            DEPLOYMENTS,
            d,
            updated(d, |o| {
                o["spec"]["template"]["spec"]["containers"][0]["image"] =
                    json!("attacker.example/miner:latest")
            }),
            refused("spec.template.spec"),
        ),
        update(
            "restart plus an image swap",
            DEPLOYMENTS,
            d,
            updated(d, |o| {
                merge(o, &restart_patch("2026-11-27T19:00:00Z"));
                o["spec"]["template"]["spec"]["containers"][0]["image"] =
                    json!("attacker.example/miner:latest");
            }),
            refused("spec.template.spec"),
        ),
        update(
            "extra container environment",
            DEPLOYMENTS,
            d,
            updated(d, |o| {
                o["spec"]["template"]["spec"]["containers"][0]["env"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "DEGRADED_MODE", "value": "true"}))
            }),
            refused("spec.template.spec"),
        ),
        update(
            "Deployment scaled to zero",
            DEPLOYMENTS,
            d,
            patched(d, &json!({"spec": {"replicas": 0}})),
            refused("may not lower a Deployment's spec.replicas"),
        ),
        update(
            "Deployment scaled down by one",
            DEPLOYMENTS,
            d,
            patched(d, &json!({"spec": {"replicas": min - 1}})),
            refused("may not lower a Deployment's spec.replicas"),
        ),
        update(
            "Deployment replicas past the bound",
            DEPLOYMENTS,
            d,
            patched(d, &json!({"spec": {"replicas": max + 1}})),
            refused(&format!(
                "spec.replicas above its service's max_replicas (apps/checkout: {max})"
            )),
        ),
        update(
            "replicas raised on a Deployment no service declares",
            DEPLOYMENTS,
            &undeclared,
            patched(&undeclared, &json!({"spec": {"replicas": min + 1}})),
            refused("may not raise a Deployment's spec.replicas above"),
        ),
        update(
            "Deployment strategy",
            DEPLOYMENTS,
            d,
            patched(
                d,
                &json!({"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": "100%"}}}}),
            ),
            refused("spec.strategy"),
        ),
        update(
            "Deployment paused",
            DEPLOYMENTS,
            d,
            patched(d, &json!({"spec": {"paused": true}})),
            refused("spec.paused"),
        ),
        update(
            "restart plus a pod label",
            DEPLOYMENTS,
            d,
            patched(
                d,
                &json!({"spec": {"template": {"metadata": {
                    "annotations": {RESTARTED_AT: "2026-11-27T19:00:00Z"},
                    "labels": {"app.kubernetes.io/name": "other"},
                }}}}),
            ),
            refused("pod template labels"),
        ),
        update(
            "another pod annotation",
            DEPLOYMENTS,
            d,
            patched(
                d,
                &json!({"spec": {"template": {"metadata": {"annotations": {
                    "sidecar.istio.io/inject": "true",
                }}}}}),
            ),
            refused(&format!("only the {RESTARTED_AT} annotation")),
        ),
        update(
            "Deployment annotation",
            DEPLOYMENTS,
            d,
            patched(
                d,
                &json!({"metadata": {"annotations": {"checkov.io/skip1": null}}}),
            ),
            refused("metadata.annotations"),
        ),
        update(
            "scale to zero",
            SCALE,
            sc,
            patched(sc, &scale_patch(0)),
            refused("may not lower spec.replicas of deployments/scale"),
        ),
        update(
            "scale down by one",
            SCALE,
            sc,
            patched(sc, &scale_patch(min - 1)),
            refused("may not lower spec.replicas of deployments/scale"),
        ),
        update(
            "scale past the bound",
            SCALE,
            sc,
            patched(sc, &scale_patch(max + 1)),
            refused(&format!(
                "deployments/scale above its service's max_replicas (apps/checkout: {max})"
            )),
        ),
        update(
            "autoscaler maximum lowered",
            HPAS,
            h,
            patched(h, &json!({"spec": {"maxReplicas": min}})),
            refused("spec.maxReplicas"),
        ),
        update(
            "autoscaler minimum lowered",
            HPAS,
            h,
            patched(h, &autoscaler_patch(min - 1)),
            refused("may not lower a HorizontalPodAutoscaler's spec.minReplicas"),
        ),
        update(
            "autoscaler minimum past the bound",
            HPAS,
            h,
            patched(h, &autoscaler_patch(max + 1)),
            refused("above its spec.maxReplicas"),
        ),
        update(
            "autoscaler metrics",
            HPAS,
            h,
            patched(h, &json!({"spec": {"metrics": []}})),
            refused("spec.metrics"),
        ),
        update(
            "autoscaler target",
            HPAS,
            h,
            patched(h, &json!({"spec": {"scaleTargetRef": {"name": "other"}}})),
            refused("spec.scaleTargetRef"),
        ),
        update(
            "node taint",
            NODES,
            n,
            patched(
                n,
                &json!({"spec": {"taints": [{"key": "evil", "value": "1", "effect": "NoExecute"}]}}),
            ),
            refused("spec.taints"),
        ),
        update(
            "cordon plus a taint",
            NODES,
            n,
            patched(
                n,
                &json!({"spec": {"unschedulable": true, "taints": [{"key": "evil", "effect": "NoSchedule"}]}}),
            ),
            refused("spec.taints"),
        ),
        update(
            "node label",
            NODES,
            n,
            patched(
                n,
                &json!({"metadata": {"labels": {"eks.amazonaws.com/nodegroup": "other"}}}),
            ),
            refused("metadata.labels"),
        ),
        update(
            "node provider id",
            NODES,
            n,
            patched(n, &json!({"spec": {"providerID": "aws:///x/i-1"}})),
            refused("spec.providerID"),
        ),
        {
            let cordoned = patched(n, &cordon_patch());
            update(
                "uncordon",
                NODES,
                &cordoned,
                patched(&cordoned, &json!({"spec": {"unschedulable": false}})),
                refused("uncordon"),
            )
        },
    ];
    // Create and delete by the group: refused.
    for (name, r, op, object, old) in [
        (
            "delete a Deployment",
            DEPLOYMENTS,
            "DELETE",
            Value::Null,
            d.clone(),
        ),
        ("delete a node", NODES, "DELETE", Value::Null, n.clone()),
        ("create a node", NODES, "CREATE", n.clone(), Value::Null),
        (
            "create an autoscaler",
            HPAS,
            "CREATE",
            h.clone(),
            Value::Null,
        ),
    ] {
        cases.push(Case {
            name: name.to_owned(),
            request: request(r, op, "x", &RUNBOOK_GROUPS),
            object,
            old,
            refused: refused("never create or delete"),
            matched: true,
        });
    }
    // Other users: the policy does not apply (RBAC decides).
    for (name, groups) in [
        (
            "image swap by a deployer",
            &["deployers", "system:authenticated"][..],
        ),
        ("image swap by a user without groups", &[][..]),
    ] {
        cases.push(Case {
            name: name.to_owned(),
            request: request(DEPLOYMENTS, "UPDATE", "checkout", groups),
            object: updated(d, |o| {
                o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other:1")
            }),
            old: d.clone(),
            refused: None,
            matched: false,
        });
    }
    cases
}

#[test]
fn every_environment_s_policy_admits_the_runbook_s_patches_and_refuses_the_rest() {
    for env in Environment::ALL {
        let settings = Settings::embedded(env).unwrap();
        assert!(
            settings.checkout.replicas >= 1
                && settings.checkout.max_replicas > settings.checkout.replicas,
            "{env}: the cases need room to scale up and down"
        );
        let all = artifacts(env);
        let policy = documents(&file(&all, "k8s/admission.yaml").contents)[0].clone();
        decide(&policy, &environment_cases(&settings));
    }
}

#[test]
fn an_expression_that_does_not_compile_fails_the_evaluator() {
    // A syntax error, an unknown function, and a validation that is not a bool: each is
    // refused at compile time, as the API server refuses it.
    let python = cel_python();
    let dir = tempfile::tempdir().unwrap();
    for broken in [
        "object.spec.replicas >",
        "quantity(object.spec.replicas) > 1",
        "object.spec.replicas",
    ] {
        let mut policy = serde_json::to_value(admission::policy(&bounds(3)).unwrap()).unwrap();
        policy["spec"]["validations"][1]["expression"] = json!(broken);
        let input = dir.path().join("cases.json");
        std::fs::write(
            &input,
            serde_json::to_vec(&json!({"policy": policy, "cases": []})).unwrap(),
        )
        .unwrap();
        let out = Command::new(&python)
            .arg(workspace_root().join(".ci/cel/vap.py"))
            .arg(&input)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{broken}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("compile_errors"),
            "{broken}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Rule and ServiceMonitor selection
// ---------------------------------------------------------------------------------------------

#[test]
fn prometheus_takes_rules_and_service_monitors_only_from_the_platform_s_namespaces() {
    let owned = json!({"matchExpressions": [{
        "key": "kubernetes.io/metadata.name",
        "operator": "In",
        "values": [MONITORING_NAMESPACE, APPS_NAMESPACE],
    }]});
    for env in Environment::ALL {
        let all = artifacts(env);
        let values: Value =
            serde_norway::from_str(&file(&all, "helm/kube-prometheus-stack.values.yaml").contents)
                .unwrap();
        let spec = &values["prometheus"]["prometheusSpec"];
        for key in ["ruleNamespaceSelector", "serviceMonitorNamespaceSelector"] {
            assert_eq!(spec[key], owned, "{env}: {key}");
        }
        // The platform's own rules and ServiceMonitors are in a selected namespace.
        let owned_names = [MONITORING_NAMESPACE, APPS_NAMESPACE];
        let mut seen = 0;
        for a in all
            .iter()
            .filter(|a| a.kind == ArtifactKind::KubernetesYaml)
        {
            for doc in documents(&a.contents) {
                if matches!(
                    doc["kind"].as_str(),
                    Some("PrometheusRule" | "ServiceMonitor")
                ) {
                    let ns = doc["metadata"]["namespace"].as_str().unwrap();
                    assert!(owned_names.contains(&ns), "{env}/{}: {ns}", a.path);
                    seen += 1;
                }
            }
        }
        assert!(seen >= 2, "{env}: no rules or ServiceMonitors found");
        // kube-prometheus-stack's own rules and ServiceMonitors live in its release namespace.
        let release: Vec<&str> = all
            .iter()
            .find(|a| a.path == "helm/kube-prometheus-stack.values.yaml")
            .unwrap()
            .contents
            .lines()
            .filter(|l| l.contains("--namespace "))
            .collect();
        assert!(
            release
                .iter()
                .any(|l| l.contains(&format!("--namespace {MONITORING_NAMESPACE}"))),
            "{release:?}"
        );
    }
}
