//! runbook_action: the exact Kubernetes requests of each action against a loopback listener
//! (no API server can run here), with the rate limit in a moto DynamoDB table and degraded
//! mode in a moto SSM parameter.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use base64::Engine;
use lambdas::runbook::eks_token::{TOKEN_PREFIX, TokenSigner};
use lambdas::runbook::kube::{ClusterSource, KubeClient};
use lambdas::runbook::{Guards, Runbook, handle};
use platform_model::contract::runbook::{ERROR_NON_RETRYABLE, ERROR_RETRYABLE, Outcome};
use serde_json::{Value, json};

use crate::support::{self, Captured, Listener, moto_url, unique};

async fn table(config: &aws_config::SdkConfig) -> String {
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let name = unique("sre-incidents");
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    dynamodb
        .create_table()
        .table_name(&name)
        .key_schema(key("incident_id", KeyType::Hash))
        .key_schema(key("timestamp", KeyType::Range))
        .attribute_definitions(attr("incident_id"))
        .attribute_definitions(attr("timestamp"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    name
}

async fn runbook(kube_url: &str) -> (Runbook, aws_config::SdkConfig) {
    let config = support::aws(moto_url()).await;
    let signer = TokenSigner::new(
        SharedCredentialsProvider::new(Credentials::new("AKIDTEST", "secret", None, None, "test")),
        "eu-west-1",
        "sre-platform",
    );
    let runbook = Runbook {
        kube: KubeClient::new(
            ClusterSource::Fixed {
                endpoint: kube_url.to_string(),
                ca_pem: None,
            },
            signer,
        ),
        ssm: aws_sdk_ssm::Client::new(&config),
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        guards: Guards {
            allowed_namespaces: BTreeSet::from(["apps".to_string()]),
            rate_limit: Duration::from_secs(600),
            table: table(&config).await,
        },
        degraded_mode_parameter: format!("/checkout/{}", unique("degraded_mode")),
        drain_timeout: Duration::from_secs(5),
        drain_interval: Duration::from_millis(20),
    };
    (runbook, config)
}

/// Every request carries `Bearer k8s-aws-v1.<base64url presigned GetCallerIdentity URL>`.
fn assert_eks_bearer(request: &Captured) {
    let auth = &request.headers["authorization"];
    let token = auth.strip_prefix("Bearer ").expect("bearer");
    let encoded = token
        .strip_prefix(TOKEN_PREFIX)
        .expect("k8s-aws-v1. prefix");
    let url = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    assert!(
        url.starts_with(
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
        "{url}"
    );
    assert!(url.contains("X-Amz-Credential=AKIDTEST%2F"), "{url}");
    assert!(url.contains("X-Amz-Expires=60"), "{url}");
}

fn request(action: &str, namespace: &str, name: &str) -> Value {
    json!({
        "incident_id": unique("inc"),
        "action": action,
        "target": { "namespace": namespace, "name": name },
    })
}

fn body(r: &Captured) -> Value {
    serde_json::from_str(&r.body).unwrap()
}

/// An autoscaler list with one HPA for `other` (not the target) and, when `managed` names a
/// deployment, one for it with `minReplicas` 2 and `maxReplicas` 6.
fn autoscalers(managed: Option<&str>) -> String {
    let hpa = |name: &str, min: u32, max: u32| {
        json!({
            "metadata": {"name": format!("{name}-hpa"), "namespace": "apps"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": min,
                "maxReplicas": max,
            },
        })
    };
    let mut items = vec![hpa("other", 1, 3)];
    if let Some(name) = managed {
        items.push(hpa(name, 2, 6));
    }
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscalerList", "metadata": {}, "items": items})
        .to_string()
}

const AUTOSCALERS: &str = "/apis/autoscaling/v2/namespaces/apps/horizontalpodautoscalers";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_patches_the_scale_subresource_up_to_the_bound() {
    let kube = Listener::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", AUTOSCALERS) => (200, autoscalers(None)),
        ("GET", _) => (200, json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "checkout"}, "spec": {"replicas": 2}}).to_string()),
        _ => (200, r.body.clone()),
    })
    .await;
    let (runbook, _) = runbook(&kube.url).await;
    let name = unique("checkout");
    let mut input = request("scale_deployment", "apps", &name);
    input["max_replicas"] = json!(8);
    input["replicas"] = json!(20);
    let result = handle(&runbook, input).await.unwrap();
    assert_eq!(result.outcome, Outcome::Applied, "{}", result.message);
    let requests = kube.requests();
    assert_eq!(requests.len(), 3);
    let path = format!("/apis/apps/v1/namespaces/apps/deployments/{name}/scale");
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("GET", AUTOSCALERS),
        "first: is an autoscaler in charge?"
    );
    assert_eq!(
        (requests[1].method.as_str(), requests[1].path.as_str()),
        ("GET", path.as_str())
    );
    assert_eq!(
        (requests[2].method.as_str(), requests[2].path.as_str()),
        ("PATCH", path.as_str())
    );
    assert_eq!(
        requests[2].headers["content-type"],
        "application/merge-patch+json"
    );
    assert_eq!(
        body(&requests[2]),
        json!({"spec": {"replicas": 8}}),
        "capped at max_replicas"
    );
    requests.iter().for_each(assert_eks_bearer);
}

/// With an autoscaler in charge, patching the deployment would be undone: the action raises
/// the autoscaler's minimum instead, within both bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_raises_the_minimum_of_the_autoscaler_in_charge() {
    let name = unique("checkout");
    let managed = name.clone();
    let kube = Listener::start(move |r| match r.method.as_str() {
        "GET" => (200, autoscalers(Some(&managed))),
        _ => (200, r.body.clone()),
    })
    .await;
    let (first, _) = runbook(&kube.url).await;
    let mut input = request("scale_deployment", "apps", &name);
    input["max_replicas"] = json!(8);
    let result = handle(&first, input).await.unwrap();
    assert_eq!(result.outcome, Outcome::Applied, "{}", result.message);
    let requests = kube.requests();
    assert_eq!(
        requests.len(),
        2,
        "list autoscalers, patch one; the deployment is not touched"
    );
    assert_eq!(
        (requests[1].method.as_str(), requests[1].path.as_str()),
        ("PATCH", format!("{AUTOSCALERS}/{name}-hpa").as_str())
    );
    assert_eq!(
        requests[1].headers["content-type"],
        "application/merge-patch+json"
    );
    assert_eq!(
        body(&requests[1]),
        json!({"spec": {"minReplicas": 6}}),
        "capped at the autoscaler's own maximum (6 < 8)"
    );
    requests.iter().for_each(assert_eks_bearer);

    // Already at least that high: nothing is patched.
    let kube = Listener::start(|_| (200, autoscalers(Some("checkout")))).await;
    let (again, _) = runbook(&kube.url).await;
    let mut input = request("scale_deployment", "apps", "checkout");
    input["max_replicas"] = json!(2);
    let result = handle(&again, input).await.unwrap();
    assert_eq!(result.outcome, Outcome::NoOp, "{}", result.message);
    assert_eq!(kube.requests().len(), 1, "only the list");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_is_a_no_op_when_already_there() {
    let kube = Listener::start(|r| match r.path.as_str() {
        AUTOSCALERS => (200, autoscalers(None)),
        _ => (200, json!({"spec": {"replicas": 8}}).to_string()),
    })
    .await;
    let (runbook, _) = runbook(&kube.url).await;
    let mut input = request("scale_deployment", "apps", &unique("checkout"));
    input["max_replicas"] = json!(8);
    let result = handle(&runbook, input).await.unwrap();
    assert_eq!(result.outcome, Outcome::NoOp);
    assert_eq!(kube.requests().len(), 2, "the autoscaler list and the read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_sets_the_restarted_at_annotation() {
    let kube = Listener::start(|_| (200, "{}".into())).await;
    let (runbook, _) = runbook(&kube.url).await;
    let name = unique("checkout");
    let result = handle(&runbook, request("restart_deployment", "apps", &name))
        .await
        .unwrap();
    assert_eq!(result.outcome, Outcome::Applied);
    let requests = kube.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "PATCH");
    assert_eq!(
        r.path,
        format!("/apis/apps/v1/namespaces/apps/deployments/{name}")
    );
    assert_eq!(
        r.headers["content-type"],
        "application/strategic-merge-patch+json"
    );
    let patch = body(r);
    let at =
        patch["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .as_str()
            .unwrap();
    assert!(
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok(),
        "{at}"
    );
    assert_eks_bearer(r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_mode_sets_the_parameter_and_restarts_nothing() {
    let kube = Listener::start(|_| (200, "{}".into())).await;
    let (runbook, config) = runbook(&kube.url).await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    ssm.put_parameter()
        .name(&runbook.degraded_mode_parameter)
        .value("false")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let result = handle(
        &runbook,
        request("enable_degraded_mode", "apps", "checkout"),
    )
    .await
    .unwrap();
    assert_eq!(result.outcome, Outcome::Applied, "{}", result.message);
    let value = ssm
        .get_parameter()
        .name(&runbook.degraded_mode_parameter)
        .send()
        .await
        .unwrap();
    assert_eq!(value.parameter.unwrap().value.unwrap(), "true");
    // The service follows the flag while serving: restarting every pod mid-incident would
    // only add risk, so the action sends nothing to the Kubernetes API.
    assert_eq!(kube.requests().len(), 0, "{:?}", kube.requests());
}

fn pod(name: &str, extra: Value) -> Value {
    let mut pod =
        json!({"metadata": {"name": name, "namespace": "apps"}, "status": {"phase": "Running"}});
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            pod["metadata"][k] = v;
        }
    }
    pod
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_cordons_then_evicts_respecting_budgets() {
    let lists = Arc::new(AtomicUsize::new(0));
    let evictions_of_b = Arc::new(AtomicUsize::new(0));
    let (l, e) = (lists.clone(), evictions_of_b.clone());
    let kube = Listener::start(move |r| {
        let ds = pod("node-exporter-x", json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "node-exporter", "uid": "1"}]}));
        let mirror = pod("kube-proxy-x", json!({"annotations": {"kubernetes.io/config.mirror": "abc"}}));
        match (r.method.as_str(), r.path.as_str()) {
            ("PATCH", _) => (200, "{}".into()),
            ("GET", _) => {
                let round = l.fetch_add(1, Ordering::SeqCst);
                let mut items = vec![ds, mirror];
                if round == 0 {
                    items.push(pod("checkout-a", json!({})));
                }
                if round <= 1 {
                    items.push(pod("checkout-b", json!({})));
                }
                (200, json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}).to_string())
            }
            ("POST", path) if path.contains("checkout-b") => {
                // The PodDisruptionBudget refuses the first eviction.
                if e.fetch_add(1, Ordering::SeqCst) == 0 {
                    (429, json!({"kind": "Status", "message": "Cannot evict pod as it would violate the pod's disruption budget."}).to_string())
                } else {
                    (201, "{}".into())
                }
            }
            _ => (201, "{}".into()),
        }
    })
    .await;
    let (runbook, _) = runbook(&kube.url).await;
    let node = unique("ip-10-0-1-23.eu-west-1.compute.internal");
    let result = handle(&runbook, request("drain_node", "", &node))
        .await
        .unwrap();
    assert_eq!(result.outcome, Outcome::Applied, "{}", result.message);
    let requests = kube.requests();
    let calls: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let list = format!("GET /api/v1/pods?fieldSelector=spec.nodeName%3D{node}");
    assert_eq!(
        calls,
        [
            format!("PATCH /api/v1/nodes/{node}"),
            list.clone(),
            "POST /api/v1/namespaces/apps/pods/checkout-a/eviction".into(),
            "POST /api/v1/namespaces/apps/pods/checkout-b/eviction".into(),
            list.clone(),
            "POST /api/v1/namespaces/apps/pods/checkout-b/eviction".into(),
            list,
        ]
    );
    assert_eq!(
        requests[0].headers["content-type"],
        "application/strategic-merge-patch+json"
    );
    assert_eq!(body(&requests[0]), json!({"spec": {"unschedulable": true}}));
    assert_eq!(requests[2].headers["content-type"], "application/json");
    assert_eq!(
        body(&requests[2]),
        json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "checkout-a", "namespace": "apps"}})
    );
    requests.iter().for_each(assert_eks_bearer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_that_runs_out_of_time_is_retryable() {
    let kube = Listener::start(|r| match r.method.as_str() {
        "GET" => (200, json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [pod("stuck", json!({}))]}).to_string()),
        "POST" => (429, json!({"message": "budget"}).to_string()),
        _ => (200, "{}".into()),
    })
    .await;
    let (mut runbook, _) = runbook(&kube.url).await;
    runbook.drain_timeout = Duration::from_millis(100);
    let error = handle(&runbook, request("drain_node", "", &unique("node")))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), ERROR_RETRYABLE);
    assert!(error.to_string().contains("apps/stuck"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_refuse_and_dry_run_touches_nothing() {
    let kube = Listener::start(|_| (200, "{}".into())).await;
    let (runbook, _) = runbook(&kube.url).await;
    let result = handle(
        &runbook,
        request("restart_deployment", "kube-system", "coredns"),
    )
    .await
    .unwrap();
    assert_eq!(result.outcome, Outcome::Refused);
    assert!(result.message.contains("allow-list"));
    let mut input = request("restart_deployment", "apps", "checkout");
    input["dry_run"] = json!(true);
    assert_eq!(
        handle(&runbook, input).await.unwrap().outcome,
        Outcome::DryRun
    );
    assert!(kube.requests().is_empty());

    // Rate limit per target: a second incident within the window is refused; the same
    // incident (a state machine retry) is not.
    let name = unique("checkout");
    let first = request("restart_deployment", "apps", &name);
    assert_eq!(
        handle(&runbook, first.clone()).await.unwrap().outcome,
        Outcome::Applied
    );
    assert_eq!(
        handle(&runbook, first).await.unwrap().outcome,
        Outcome::Applied
    );
    let other = request("scale_deployment", "apps", &name);
    let mut other = other;
    other["max_replicas"] = json!(3);
    let refused = handle(&runbook, other).await.unwrap();
    assert_eq!(refused.outcome, Outcome::Refused);
    assert!(
        refused.message.contains("rate limit"),
        "{}",
        refused.message
    );
    assert_eq!(kube.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_map_to_retryable_and_non_retryable() {
    let kube = Listener::start(|r| {
        if r.path.contains("missing") {
            (
                404,
                json!({"kind": "Status", "message": "deployments.apps \"missing\" not found"})
                    .to_string(),
            )
        } else {
            (503, "upstream connect error".into())
        }
    })
    .await;
    let (runbook, _) = runbook(&kube.url).await;
    let error = handle(&runbook, request("restart_deployment", "apps", "missing"))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), ERROR_NON_RETRYABLE);
    assert!(error.to_string().contains("not found"), "{error}");
    let error = handle(
        &runbook,
        request("restart_deployment", "apps", &unique("flaky")),
    )
    .await
    .unwrap_err();
    assert_eq!(error.error_type(), ERROR_RETRYABLE);
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, ERROR_RETRYABLE);

    for (input, field) in [
        (
            json!({"incident_id": "i", "action": "reboot", "target": {"name": "x"}}),
            "action",
        ),
        (
            json!({"incident_id": "i", "action": "scale_deployment", "target": {"namespace": "apps", "name": "x"}}),
            "max_replicas",
        ),
        (
            json!({"incident_id": "i", "action": "restart_deployment", "target": {"namespace": "Apps!", "name": "x"}}),
            "target.namespace",
        ),
        (
            json!({"incident_id": "i", "action": "drain_node", "target": {"namespace": "apps", "name": "n"}}),
            "target.namespace",
        ),
    ] {
        let error = handle(&runbook, input).await.unwrap_err();
        assert_eq!(error.error_type(), ERROR_NON_RETRYABLE);
        assert!(error.to_string().contains(field), "{error} names {field}");
    }
}
