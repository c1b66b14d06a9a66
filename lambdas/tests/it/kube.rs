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
use lambdas::runbook::{CORDONED_NODES, Guards, NodeSelector, Runbook, handle};
use platform_contract::runbook::{ERROR_NON_RETRYABLE, ERROR_RETRYABLE, Outcome};
use serde_json::{Value, json};

use crate::support::{self, Captured, Listener, moto_url, unique};

pub async fn table(config: &aws_config::SdkConfig) -> String {
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

/// The node-group label of the drainable nodes (`DRAIN_NODE_SELECTOR` is `<it>=workers`).
const NODEGROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";

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
            drain_node_selector: NodeSelector::parse(&format!("{NODEGROUP_LABEL}=workers"))
                .unwrap(),
            max_cordoned_nodes: 1,
        },
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

/// A request as the runbook sends it; `drain_node` comes approved (its gate always asks; the
/// approval is the runbook's and `approval`'s business, tested on its own below).
fn request(action: &str, namespace: &str, name: &str) -> Value {
    let mut r = json!({
        "incident_id": unique("inc"),
        "action": action,
        "target": { "namespace": namespace, "name": name },
    });
    if action == "drain_node" {
        r["approved_by"] = json!("alice");
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gated_actions_ask_a_human_before_touching_anything() {
    let kube = Listener::start(|r| match r.path.as_str() {
        AUTOSCALERS => (200, autoscalers(None)),
        _ => (200, json!({"spec": {"replicas": 2}}).to_string()),
    })
    .await;
    let (runbook, _) = runbook(&kube.url).await;
    // drain_node, unapproved: nothing is read or changed, the slot is not taken.
    let mut drain = request("drain_node", "", &unique("node"));
    drain.as_object_mut().unwrap().remove("approved_by");
    let result = handle(&runbook, drain).await.unwrap();
    assert_eq!(result.outcome, Outcome::NeedsApproval);
    assert!(
        result.message.contains("a human approves it first"),
        "{}",
        result.message
    );
    // Scaling to 6 with a bound of 3: asks, says why.
    let name = unique("checkout");
    let mut scale = request("scale_deployment", "apps", &name);
    scale["max_replicas"] = json!(6);
    scale["approval_above_replicas"] = json!(3);
    let result = handle(&runbook, scale.clone()).await.unwrap();
    assert_eq!(result.outcome, Outcome::NeedsApproval);
    assert!(
        result
            .message
            .contains("to 6 replicas passes the bound of 3"),
        "{}",
        result.message
    );
    assert!(kube.requests().is_empty(), "{:?}", kube.requests());
    // Within the bound it runs alone; approved, it runs past it.
    let mut within = scale.clone();
    within["replicas"] = json!(3);
    assert_eq!(
        handle(&runbook, within).await.unwrap().outcome,
        Outcome::Applied
    );
    let mut approved = request("scale_deployment", "apps", &unique("checkout"));
    approved["max_replicas"] = json!(6);
    approved["approval_above_replicas"] = json!(3);
    approved["approved_by"] = json!("alice");
    let result = handle(&runbook, approved).await.unwrap();
    assert_eq!(result.outcome, Outcome::Applied, "{}", result.message);
    assert!(
        result.message.contains("from 2 to 6 replicas"),
        "{}",
        result.message
    );
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
    // The request names the target service's own flag (the runbook passes it).
    let parameter = format!("/checkout/{}", unique("degraded_mode"));
    ssm.put_parameter()
        .name(&parameter)
        .value("false")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let mut req = request("enable_degraded_mode", "apps", "checkout");
    req["degraded_mode_parameter"] = json!(parameter);
    let result = handle(&runbook, req).await.unwrap();
    assert_eq!(result.outcome, Outcome::Applied, "{}", result.message);
    let value = ssm.get_parameter().name(&parameter).send().await.unwrap();
    assert_eq!(value.parameter.unwrap().value.unwrap(), "true");
    // The service follows the flag while serving: restarting every pod mid-incident would
    // only add risk, so the action sends nothing to the Kubernetes API.
    assert_eq!(kube.requests().len(), 0, "{:?}", kube.requests());
}

/// A running pod in `apps` owned by a ReplicaSet (a controller), with `extra` metadata.
fn pod(name: &str, extra: Value) -> Value {
    let mut pod = json!({
        "metadata": {
            "name": name,
            "namespace": "apps",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "checkout-7c9d8f6b5", "uid": "2", "controller": true}],
        },
        "status": {"phase": "Running"},
    });
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            pod["metadata"][k] = v;
        }
    }
    pod
}

fn pod_list(items: Vec<Value>) -> String {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}).to_string()
}

/// A node with the node-group label `group`, cordoned or not.
fn node(name: &str, group: &str, unschedulable: bool) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {NODEGROUP_LABEL: group, "kubernetes.io/os": "linux"}},
        "spec": {"unschedulable": unschedulable},
    })
}

fn node_list(items: Vec<Value>) -> String {
    json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": items}).to_string()
}

fn calls(requests: &[Captured]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_cordons_then_evicts_respecting_budgets() {
    let lists = Arc::new(AtomicUsize::new(0));
    let evictions_of_b = Arc::new(AtomicUsize::new(0));
    let (l, e) = (lists.clone(), evictions_of_b.clone());
    let name = unique("ip-10-0-1-23.eu-west-1.compute.internal");
    let this = name.clone();
    let kube = Listener::start(move |r| {
        let ds = pod("node-exporter-x", json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "node-exporter", "uid": "1", "controller": true}]}));
        let mirror = pod("kube-proxy-x", json!({"annotations": {"kubernetes.io/config.mirror": "abc"}, "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "3", "controller": true}]}));
        // A mirror pod has no controller in practice: skipped before that check.
        let bare_mirror = pod("etcd-x", json!({"annotations": {"kubernetes.io/config.mirror": "def"}, "ownerReferences": []}));
        let finished = {
            let mut p = pod("job-done", json!({"ownerReferences": []}));
            p["status"]["phase"] = json!("Succeeded");
            p
        };
        match (r.method.as_str(), r.path.as_str()) {
            ("PATCH", _) => (200, "{}".into()),
            ("GET", CORDONED_NODES) => (200, node_list(vec![node(&this, "workers", false)])),
            ("GET", path) if path.starts_with("/api/v1/nodes/") => (200, node(&this, "workers", false).to_string()),
            ("GET", _) => {
                // The check before cordoning, then one list per eviction round.
                let round = l.fetch_add(1, Ordering::SeqCst);
                let mut items = vec![ds, mirror, bare_mirror, finished];
                if round <= 1 {
                    items.push(pod("checkout-a", json!({})));
                }
                if round <= 2 {
                    items.push(pod("checkout-b", json!({})));
                }
                (200, pod_list(items))
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
    let result = handle(&runbook, request("drain_node", "", &name))
        .await
        .unwrap();
    assert_eq!(result.outcome, Outcome::Applied, "{}", result.message);
    assert!(
        result.message.contains(&format!(
            "stays cordoned: uncordon it (kubectl uncordon {name})"
        )),
        "{}",
        result.message
    );
    let requests = kube.requests();
    let list = format!("GET /api/v1/pods?fieldSelector=spec.nodeName%3D{name}");
    assert_eq!(
        calls(&requests),
        [
            format!("GET /api/v1/nodes/{name}"),
            format!("GET {CORDONED_NODES}"),
            list.clone(),
            format!("PATCH /api/v1/nodes/{name}"),
            list.clone(),
            "POST /api/v1/namespaces/apps/pods/checkout-a/eviction".into(),
            "POST /api/v1/namespaces/apps/pods/checkout-b/eviction".into(),
            list.clone(),
            "POST /api/v1/namespaces/apps/pods/checkout-b/eviction".into(),
            list,
        ]
    );
    assert_eq!(
        requests[3].headers["content-type"],
        "application/strategic-merge-patch+json"
    );
    assert_eq!(body(&requests[3]), json!({"spec": {"unschedulable": true}}));
    assert_eq!(requests[5].headers["content-type"], "application/json");
    assert_eq!(
        body(&requests[5]),
        json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "checkout-a", "namespace": "apps"}})
    );
    requests.iter().for_each(assert_eks_bearer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_that_runs_out_of_time_is_retryable() {
    let kube = Listener::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", CORDONED_NODES) => (200, node_list(vec![])),
        ("GET", p) if p.starts_with("/api/v1/nodes/") => {
            (200, node("n", "workers", false).to_string())
        }
        ("GET", _) => (200, pod_list(vec![pod("stuck", json!({}))])),
        ("POST", _) => (429, json!({"message": "budget"}).to_string()),
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

/// A listener for the drain guards: the node (its group, cordoned or not), the cordoned
/// nodes, the pods on the node; every other request answered 200.
async fn drain_cluster(
    group: &str,
    this_cordoned: bool,
    others_cordoned: usize,
    pods: Vec<Value>,
) -> Listener {
    let group = group.to_string();
    Listener::start(move |r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", CORDONED_NODES) => {
            let items: Vec<Value> = (0..others_cordoned)
                .map(|i| node(&format!("ip-10-0-9-{i}.internal"), "workers", true))
                .collect();
            (200, node_list(items))
        }
        ("GET", p) if p.starts_with("/api/v1/nodes/") => {
            let name = p.trim_start_matches("/api/v1/nodes/");
            (200, node(name, &group, this_cordoned).to_string())
        }
        ("GET", _) => (200, pod_list(pods.clone())),
        _ => (200, "{}".into()),
    })
    .await
}

/// drain_node touches only the node groups `DRAIN_NODE_SELECTOR` names: another node is
/// refused (non-retryable), after one read, before anything changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_refuses_a_node_outside_the_selector() {
    let kube = drain_cluster("system", false, 0, vec![]).await;
    let (runbook, _) = runbook(&kube.url).await;
    let name = unique("ip-10-0-2-7.internal");
    let error = handle(&runbook, request("drain_node", "", &name))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), ERROR_NON_RETRYABLE);
    let message = error.to_string();
    assert!(
        message.contains("DRAIN_NODE_SELECTOR is eks.amazonaws.com/nodegroup=workers")
            && message.contains("\"system\""),
        "{message}"
    );
    assert_eq!(
        calls(&kube.requests()),
        [format!("GET /api/v1/nodes/{name}")]
    );

    // A node without the label at all.
    let kube = Listener::start(|r| {
        (
            200,
            json!({"metadata": {"name": r.path.trim_start_matches("/api/v1/nodes/")}}).to_string(),
        )
    })
    .await;
    let (runbook, _) = self::runbook(&kube.url).await;
    let error = handle(&runbook, request("drain_node", "", &unique("bare-node")))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("is missing"), "{error}");
    assert_eq!(kube.requests().len(), 1);
}

/// At most `MAX_CORDONED_NODES` (1 here) other nodes may be cordoned; the node itself being
/// cordoned already (a retry) does not count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_refuses_beyond_the_cordoned_nodes_cap() {
    let kube = drain_cluster("workers", false, 1, vec![]).await;
    let (runbook, _) = runbook(&kube.url).await;
    let name = unique("ip-10-0-3-1.internal");
    let error = handle(&runbook, request("drain_node", "", &name))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), ERROR_NON_RETRYABLE);
    assert!(
        error.to_string().contains(
            "1 other nodes are already cordoned (ip-10-0-9-0.internal), MAX_CORDONED_NODES is 1"
        ),
        "{error}"
    );
    assert_eq!(
        calls(&kube.requests()),
        [
            format!("GET /api/v1/nodes/{name}"),
            format!("GET {CORDONED_NODES}")
        ],
        "refused before cordoning"
    );

    // Only the node itself is cordoned (a retry after a timeout): it goes on, and is not
    // cordoned a second time.
    let kube = Listener::start(move |r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", CORDONED_NODES) => (200, node_list(vec![node("self", "workers", true)])),
        ("GET", p) if p.starts_with("/api/v1/nodes/") => {
            (200, node("self", "workers", true).to_string())
        }
        ("GET", _) => (200, pod_list(vec![])),
        _ => (200, "{}".into()),
    })
    .await;
    let (runbook, _) = self::runbook(&kube.url).await;
    let result = handle(&runbook, request("drain_node", "", "self"))
        .await
        .unwrap();
    assert_eq!(result.outcome, Outcome::Applied, "{}", result.message);
    assert!(
        !calls(&kube.requests())
            .iter()
            .any(|c| c.starts_with("PATCH"))
    );
}

/// `kubectl drain`'s default refusals: a pod without a controller and a pod with an emptyDir
/// volume stop the drain before the node is cordoned, and are named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_refuses_bare_and_empty_dir_pods_before_cordoning() {
    let bare = pod("debug-shell", json!({"ownerReferences": []}));
    // Owned, but not by a controller.
    let adopted = pod(
        "orphan",
        json!({"ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "9"}]}),
    );
    let mut cache = pod("checkout-cache", json!({}));
    cache["spec"] = json!({"containers": [], "volumes": [{"name": "scratch", "emptyDir": {}}]});
    let fine = pod("checkout-a", json!({}));
    let kube = drain_cluster("workers", false, 0, vec![fine, bare, adopted, cache]).await;
    let (runbook, _) = runbook(&kube.url).await;
    let name = unique("ip-10-0-4-2.internal");
    let error = handle(&runbook, request("drain_node", "", &name))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), ERROR_NON_RETRYABLE);
    let message = error.to_string();
    for named in [
        "apps/debug-shell (no controller",
        "apps/orphan (no controller",
        "apps/checkout-cache (emptyDir volume",
        "the node was not cordoned",
    ] {
        assert!(message.contains(named), "{named}: {message}");
    }
    assert!(!message.contains("checkout-a"), "{message}");
    let requests = calls(&kube.requests());
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(
        requests.iter().all(|c| c.starts_with("GET")),
        "no cordon, no eviction: {requests:?}"
    );
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
    // incident again is a no-op (its action already completed).
    let name = unique("checkout");
    let first = request("restart_deployment", "apps", &name);
    assert_eq!(
        handle(&runbook, first.clone()).await.unwrap().outcome,
        Outcome::Applied
    );
    assert_eq!(
        handle(&runbook, first).await.unwrap().outcome,
        Outcome::NoOp
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
    assert_eq!(kube.requests().len(), 1, "only the first restart");
}

/// The same incident requested again on the same target (a re-delivered or re-notified
/// incident) is an idempotent no-op: no Kubernetes request, a message saying it already ran.
/// A failed attempt does not count: the state machine's retry of it goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_incident_is_a_no_op_and_a_failed_attempt_may_retry() {
    let failures = Arc::new(AtomicUsize::new(1));
    let f = failures.clone();
    let kube = Listener::start(move |_| {
        if f.load(Ordering::SeqCst) > 0 {
            f.fetch_sub(1, Ordering::SeqCst);
            (503, "upstream connect error".into())
        } else {
            (200, "{}".into())
        }
    })
    .await;
    let (runbook, _) = runbook(&kube.url).await;
    let input = request("restart_deployment", "apps", &unique("checkout"));
    let incident = input["incident_id"].as_str().unwrap().to_string();
    // First attempt fails (retryable), the retry applies.
    let error = handle(&runbook, input.clone()).await.unwrap_err();
    assert_eq!(error.error_type(), ERROR_RETRYABLE);
    let applied = handle(&runbook, input.clone()).await.unwrap();
    assert_eq!(applied.outcome, Outcome::Applied, "{}", applied.message);
    assert_eq!(kube.requests().len(), 2);
    // The same incident again: nothing is sent.
    for _ in 0..2 {
        let again = handle(&runbook, input.clone()).await.unwrap();
        assert_eq!(again.outcome, Outcome::NoOp, "{}", again.message);
        assert!(
            again.message.contains(&format!(
                "restart_deployment already ran for incident {incident}"
            )),
            "{}",
            again.message
        );
    }
    assert_eq!(kube.requests().len(), 2, "no request for the repeats");

    // Also after the window: a repeat stays a no-op, while another incident may act.
    let kube = Listener::start(|_| (200, "{}".into())).await;
    let (mut runbook, _) = self::runbook(&kube.url).await;
    runbook.guards.rate_limit = Duration::ZERO;
    let input = request("restart_deployment", "apps", &unique("checkout"));
    assert_eq!(
        handle(&runbook, input.clone()).await.unwrap().outcome,
        Outcome::Applied
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        handle(&runbook, input.clone()).await.unwrap().outcome,
        Outcome::NoOp
    );
    let mut other = input;
    other["incident_id"] = json!(unique("inc"));
    assert_eq!(
        handle(&runbook, other).await.unwrap().outcome,
        Outcome::Applied
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

/// A Datadog alert cycle replayed end to end: the notifications through alert_ingest to a moto
/// bus and queue, each `incident.created` recorded as the state machine's `RecordIncident`
/// does (a conditional put on (incident_id, starts_at)), and each one handed to
/// runbook_action as its `Prepare*` state would. One record, one remediation; the recovery
/// updates that record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datadog_cycle_records_and_remediates_once() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use platform_contract::events::{IncidentCreated, IncidentResolved};
    use platform_contract::incident_record as rec;

    let kube = Listener::start(|_| (200, "{}".into())).await;
    let (runbook, config) = runbook(&kube.url).await;
    let wiring = crate::moto::wiring(&config).await;
    let ingest = crate::moto::make_ingest(
        &config,
        &wiring.bus,
        lambdas::ingest::token::TokenSource::Fixed(crate::ingest::TOKEN.into()),
    );
    let deployment = unique("checkout");
    let mut base: Value =
        serde_json::from_str(&support::fixture("datadog_triggered.json")).unwrap();
    base["alert_cycle_key"] = json!(unique("cycle"));
    base["tags"] = json!(format!(
        "env:prod,severity:critical,runbook_action:restart_deployment,runbook_target:apps/{deployment}"
    ));
    for (transition, date) in [
        ("Triggered", "1741944413000"),
        ("Renotify", "1741944713000"),
        ("Re-Triggered", "1741944893000"),
        ("Recovered", "1741945053000"),
    ] {
        let mut n = base.clone();
        n["alert_transition"] = json!(transition);
        n["date"] = json!(date);
        let response = lambdas::ingest::handle(
            &ingest,
            crate::ingest::request("datadog", Some(crate::ingest::TOKEN), n.to_string()),
        )
        .await;
        assert_eq!(response.status().as_u16(), 202);
    }
    let messages = wiring.drain().await;
    assert_eq!(messages.len(), 4);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = &runbook.guards.table;
    let mut recorded = 0;
    let mut results = Vec::new();
    for m in messages
        .iter()
        .filter(|m| m["detail-type"] == "incident.created")
    {
        let created: IncidentCreated = serde_json::from_value(m["detail"].clone()).unwrap();
        let put = dynamodb
            .put_item()
            .table_name(table)
            .item(
                rec::INCIDENT_ID,
                AttributeValue::S(created.incident_id.clone()),
            )
            .item(rec::TIMESTAMP, AttributeValue::S(created.starts_at.clone()))
            .item("status", AttributeValue::S("open".into()))
            .condition_expression("attribute_not_exists(incident_id)")
            .send()
            .await;
        recorded += usize::from(put.is_ok());
        // Even past the record's duplicate check, runbook_action runs the action once.
        let runbook_ref = created.runbook.unwrap();
        let request = json!({
            "incident_id": created.incident_id,
            "action": runbook_ref.action,
            "target": runbook_ref.target,
            "dry_run": false,
        });
        results.push(handle(&runbook, request).await.unwrap().outcome);
    }
    assert_eq!(recorded, 1, "one record for the cycle");
    assert_eq!(results, [Outcome::Applied, Outcome::NoOp, Outcome::NoOp]);
    assert_eq!(kube.requests().len(), 1, "one restart");
    // The recovery keys the same record.
    let resolved: IncidentResolved = serde_json::from_value(
        messages
            .iter()
            .find(|m| m["detail-type"] == "incident.resolved")
            .unwrap()["detail"]
            .clone(),
    )
    .unwrap();
    let items = dynamodb
        .query()
        .table_name(table)
        .key_condition_expression("incident_id = :id")
        .expression_attribute_values(":id", AttributeValue::S(resolved.incident_id.clone()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0][rec::TIMESTAMP],
        AttributeValue::S(resolved.starts_at)
    );
}
