//! `runbook_action`: one [`ActionRequest`] from the state machine -> one change in the cluster.
//!
//! Guards, in order: the request parses (non-retryable error naming the field), the target's
//! namespace is allow-listed (`refused`), dry-run (`dry_run`, nothing called), the per-target
//! rate limit in DynamoDB (`refused`; the same incident may retry). Then the action. Errors are
//! [`ActionError`]s, mapped to the Lambda error types [`ERROR_RETRYABLE`] and
//! [`ERROR_NON_RETRYABLE`]: the state machine retries the first and escalates on anything else
//! (its `Catch` is `States.ALL`, which Step Functions requires alone).

pub mod eks_token;
pub mod kube;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use lambda_runtime::Diagnostic;
use platform_model::contract::incident_record;
use platform_model::contract::runbook::{
    Action, ActionRequest, ActionResult, ERROR_NON_RETRYABLE, ERROR_RETRYABLE, Outcome, Target,
};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ingest::normalize::{is_dns_label, is_dns_subdomain};
use kube::{KubeClient, MERGE_PATCH, STRATEGIC_MERGE_PATCH};

/// The annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// The annotation of a static (mirror) pod.
pub const MIRROR_POD: &str = "kubernetes.io/config.mirror";

/// Why an action failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The request is malformed (non-retryable).
    #[error("bad request: {field}: {message}")]
    BadRequest {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The function's configuration is wrong (non-retryable).
    #[error("configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// The API server answered with an error (retryable for 409, 429 and 5xx).
    #[error("{what}: Kubernetes API answered {status}: {message}")]
    Kube {
        /// The call.
        what: String,
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The API server could not be reached (retryable).
    #[error("{what}: {message}")]
    Transport {
        /// The call.
        what: String,
        /// Why.
        message: String,
    },
    /// An AWS call failed.
    #[error("{what}: {message}")]
    Aws {
        /// The call.
        what: String,
        /// Why.
        message: String,
        /// Worth retrying.
        retryable: bool,
    },
    /// Evictions did not finish in time (retryable: the next attempt continues).
    #[error("drain of node {node} timed out after {seconds}s; pods left: {pods}")]
    DrainTimeout {
        /// The node.
        node: String,
        /// Time spent.
        seconds: u64,
        /// `namespace/name` of the pods still on the node.
        pods: String,
    },
}

impl ActionError {
    /// Whether the state machine should retry.
    pub fn retryable(&self) -> bool {
        match self {
            ActionError::BadRequest { .. } | ActionError::Config { .. } => false,
            ActionError::Kube { status, .. } => matches!(status, 409 | 429 | 500..),
            ActionError::Transport { .. } | ActionError::DrainTimeout { .. } => true,
            ActionError::Aws { retryable, .. } => *retryable,
        }
    }

    /// The Lambda error type.
    pub fn error_type(&self) -> &'static str {
        if self.retryable() {
            ERROR_RETRYABLE
        } else {
            ERROR_NON_RETRYABLE
        }
    }
}

impl From<ActionError> for Diagnostic {
    fn from(error: ActionError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type().to_string(),
            error_message: error.to_string(),
        }
    }
}

/// Guard settings.
#[derive(Debug, Clone)]
pub struct Guards {
    /// Namespaces whose Deployments may be changed.
    pub allowed_namespaces: BTreeSet<String>,
    /// Minimum time between two actions on one target (different incidents).
    pub rate_limit: Duration,
    /// The table that holds the rate-limit items (the incidents table).
    pub table: String,
}

/// Everything the handler needs.
#[derive(Debug)]
pub struct Runbook {
    /// The cluster.
    pub kube: KubeClient,
    /// SSM (degraded mode).
    pub ssm: aws_sdk_ssm::Client,
    /// DynamoDB (rate limit).
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Guards.
    pub guards: Guards,
    /// The degraded-mode parameter.
    pub degraded_mode_parameter: String,
    /// How long `drain_node` keeps evicting.
    pub drain_timeout: Duration,
    /// Pause between eviction rounds.
    pub drain_interval: Duration,
}

/// Parse the state machine's input, naming the field on error.
pub fn parse_request(input: serde_json::Value) -> Result<ActionRequest, ActionError> {
    serde_path_to_error::deserialize(input).map_err(|e| ActionError::BadRequest {
        field: e.path().to_string(),
        message: e.into_inner().to_string(),
    })
}

fn validate(request: &ActionRequest) -> Result<(), ActionError> {
    let bad = |field: &str, message: String| ActionError::BadRequest {
        field: field.into(),
        message,
    };
    let Target { namespace, name } = &request.target;
    if !is_dns_subdomain(name) {
        return Err(bad(
            "target.name",
            format!("{name:?} is not a Kubernetes name"),
        ));
    }
    if request.action == Action::DrainNode {
        if !namespace.is_empty() {
            return Err(bad(
                "target.namespace",
                "must be empty for drain_node".into(),
            ));
        }
    } else if !is_dns_label(namespace) {
        return Err(bad(
            "target.namespace",
            format!("{namespace:?} is not a namespace"),
        ));
    }
    if request.action == Action::ScaleDeployment {
        match request.max_replicas {
            None => return Err(bad("max_replicas", "required for scale_deployment".into())),
            Some(0) => return Err(bad("max_replicas", "must be at least 1".into())),
            Some(_) => {}
        }
    }
    if request.incident_id.is_empty() {
        return Err(bad("incident_id", "must not be empty".into()));
    }
    Ok(())
}

fn target_text(target: &Target) -> String {
    if target.namespace.is_empty() {
        target.name.clone()
    } else {
        format!("{}/{}", target.namespace, target.name)
    }
}

fn result(request: &ActionRequest, outcome: Outcome, message: String) -> ActionResult {
    ActionResult {
        incident_id: request.incident_id.clone(),
        action: request.action,
        target: request.target.clone(),
        outcome,
        message,
    }
}

/// Handle one request.
pub async fn handle(
    runbook: &Runbook,
    input: serde_json::Value,
) -> Result<ActionResult, ActionError> {
    let request = parse_request(input)?;
    validate(&request)?;
    let target = target_text(&request.target);
    if request.action != Action::DrainNode
        && !runbook
            .guards
            .allowed_namespaces
            .contains(&request.target.namespace)
    {
        let message = format!(
            "namespace {:?} is not in the allow-list ({})",
            request.target.namespace,
            runbook
                .guards
                .allowed_namespaces
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        tracing::warn!(incident_id = %request.incident_id, %target, %message, "refused");
        return Ok(result(&request, Outcome::Refused, message));
    }
    if request.dry_run {
        let message = format!("dry run: would {} on {target}", request.action.as_str());
        tracing::info!(incident_id = %request.incident_id, %target, "dry run");
        return Ok(result(&request, Outcome::DryRun, message));
    }
    if let Some(message) = rate_limited(runbook, &request, &target).await? {
        tracing::warn!(incident_id = %request.incident_id, %target, %message, "rate limited");
        return Ok(result(&request, Outcome::Refused, message));
    }
    let (outcome, message) = match request.action {
        Action::ScaleDeployment => scale(runbook, &request).await?,
        Action::RestartDeployment => restart(runbook, &request.target).await?,
        Action::EnableDegradedMode => degraded_mode(runbook).await?,
        Action::DrainNode => drain(runbook, &request.target.name).await?,
    };
    tracing::info!(incident_id = %request.incident_id, action = request.action.as_str(), %target, ?outcome, %message, "action done");
    Ok(result(&request, outcome, message))
}

/// The rate-limit item's key in the incidents table.
pub fn rate_limit_key(target: &str) -> String {
    format!("ratelimit#{target}")
}

/// Take the target's rate-limit slot: a conditional write that succeeds when no other
/// incident acted on the target within the window. `Some(reason)` when refused.
async fn rate_limited(
    runbook: &Runbook,
    request: &ActionRequest,
    target: &str,
) -> Result<Option<String>, ActionError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let window = runbook.guards.rate_limit.as_secs() as i64;
    let outcome = runbook
        .dynamodb
        .update_item()
        .table_name(&runbook.guards.table)
        .key(incident_record::INCIDENT_ID, AttributeValue::S(rate_limit_key(target)))
        .key(incident_record::TIMESTAMP, AttributeValue::S("rate-limit".into()))
        .update_expression("SET last_action_at = :now, holder = :incident, #expires = :expires")
        .condition_expression(
            "attribute_not_exists(last_action_at) OR last_action_at < :cutoff OR holder = :incident",
        )
        .expression_attribute_names("#expires", incident_record::EXPIRES_AT)
        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
        .expression_attribute_values(":cutoff", AttributeValue::N((now - window).to_string()))
        .expression_attribute_values(":incident", AttributeValue::S(request.incident_id.clone()))
        .expression_attribute_values(":expires", AttributeValue::N((now + window + 86_400).to_string()))
        .send()
        .await;
    match outcome {
        Ok(_) => Ok(None),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Ok(Some(format!(
                "rate limit: another incident acted on {target} within the last {window}s"
            )))
        }
        Err(e) => Err(ActionError::Aws {
            what: format!("rate limit (UpdateItem on {})", runbook.guards.table),
            message: aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
            retryable: true,
        }),
    }
}

fn deployment_path(target: &Target) -> String {
    format!(
        "/apis/apps/v1/namespaces/{}/deployments/{}",
        target.namespace, target.name
    )
}

/// Scales the deployment up to `min(replicas, max_replicas)`, never down.
///
/// When a HorizontalPodAutoscaler manages the deployment, patching the deployment's replicas
/// would be undone by the autoscaler within its next sync: the action raises the autoscaler's
/// `minReplicas` instead (bounded by its own `maxReplicas` too), and the autoscaler scales.
/// The next `kubectl apply` of the generated HPA restores the declared minimum.
async fn scale(
    runbook: &Runbook,
    request: &ActionRequest,
) -> Result<(Outcome, String), ActionError> {
    let max = request.max_replicas.unwrap_or(1);
    let wanted = request.replicas.unwrap_or(max).min(max);
    let target = target_text(&request.target);
    if let Some(hpa) = autoscaler_of(runbook, &request.target).await? {
        let name = hpa.metadata.name.clone().unwrap_or_default();
        let spec = hpa.spec.unwrap_or_default();
        let hpa_max = u32::try_from(spec.max_replicas).unwrap_or(0);
        let minimum = u32::try_from(spec.min_replicas.unwrap_or(1)).unwrap_or(1);
        let wanted = wanted.min(hpa_max);
        if minimum >= wanted {
            return Ok((
                Outcome::NoOp,
                format!(
                    "autoscaler {name} of deployment {target} already keeps at least {minimum} replicas (wanted {wanted}, max {max}, autoscaler max {hpa_max})"
                ),
            ));
        }
        let path = format!(
            "/apis/autoscaling/v2/namespaces/{}/horizontalpodautoscalers/{name}",
            request.target.namespace
        );
        let patch = json!({ "spec": { "minReplicas": wanted } });
        send_patch(runbook, &path, MERGE_PATCH, &patch, "patch autoscaler").await?;
        return Ok((
            Outcome::Applied,
            format!(
                "raised the minimum of autoscaler {name} of deployment {target} from {minimum} to {wanted} replicas (max {max})"
            ),
        ));
    }
    let path = format!("{}/scale", deployment_path(&request.target));
    let answer = runbook.kube.send(http::Method::GET, &path, None).await?;
    if !answer.ok() {
        return Err(answer.error("read scale"));
    }
    let current: Scale = answer.json("read scale")?;
    let replicas = current.spec.and_then(|s| s.replicas).unwrap_or(0).max(0) as u32;
    if replicas >= wanted {
        return Ok((
            Outcome::NoOp,
            format!(
                "deployment {target} already has {replicas} replicas (wanted {wanted}, max {max})"
            ),
        ));
    }
    let patch = json!({ "spec": { "replicas": wanted } });
    send_patch(runbook, &path, MERGE_PATCH, &patch, "patch scale").await?;
    Ok((
        Outcome::Applied,
        format!("scaled deployment {target} from {replicas} to {wanted} replicas (max {max})"),
    ))
}

/// `PATCH path` with `patch` as `content_type`; an error answer becomes an error naming `what`.
async fn send_patch(
    runbook: &Runbook,
    path: &str,
    content_type: &str,
    patch: &serde_json::Value,
    what: &str,
) -> Result<(), ActionError> {
    let answer = runbook
        .kube
        .send(
            http::Method::PATCH,
            path,
            Some((content_type, patch.to_string().into_bytes())),
        )
        .await?;
    if !answer.ok() {
        return Err(answer.error(what));
    }
    Ok(())
}

/// The autoscaler (autoscaling/v2) whose scale target is the deployment `target`, if any.
async fn autoscaler_of(
    runbook: &Runbook,
    target: &Target,
) -> Result<Option<HorizontalPodAutoscaler>, ActionError> {
    let path = format!(
        "/apis/autoscaling/v2/namespaces/{}/horizontalpodautoscalers",
        target.namespace
    );
    let answer = runbook.kube.send(http::Method::GET, &path, None).await?;
    if !answer.ok() {
        return Err(answer.error("list autoscalers"));
    }
    let list: k8s_openapi::List<HorizontalPodAutoscaler> = answer.json("list autoscalers")?;
    Ok(list.items.into_iter().find(|hpa| {
        hpa.spec.as_ref().is_some_and(|s| {
            s.scale_target_ref.kind == "Deployment" && s.scale_target_ref.name == target.name
        })
    }))
}

async fn restart(runbook: &Runbook, target: &Target) -> Result<(Outcome, String), ActionError> {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
        .format(&Rfc3339)
        .unwrap_or_default();
    let patch = json!({
        "spec": { "template": { "metadata": { "annotations": { RESTARTED_AT: now } } } }
    });
    send_patch(
        runbook,
        &deployment_path(target),
        STRATEGIC_MERGE_PATCH,
        &patch,
        "restart deployment",
    )
    .await?;
    Ok((
        Outcome::Applied,
        format!(
            "restarted deployment {} (restartedAt {now})",
            target_text(target)
        ),
    ))
}

/// Sets the degraded-mode flag. No restart: the service re-reads the flag while serving (its
/// `DEGRADED_MODE_REFRESH_SECONDS`), and restarting every pod during an incident adds risk.
async fn degraded_mode(runbook: &Runbook) -> Result<(Outcome, String), ActionError> {
    runbook
        .ssm
        .put_parameter()
        .name(&runbook.degraded_mode_parameter)
        .value("true")
        .overwrite(true)
        .send()
        .await
        .map_err(|e| {
            let retryable = !e.as_service_error().is_some_and(|s| {
                s.is_hierarchy_type_mismatch_exception()
                    || s.is_parameter_pattern_mismatch_exception()
                    || s.is_unsupported_parameter_type()
            });
            ActionError::Aws {
                what: format!("PutParameter {}", runbook.degraded_mode_parameter),
                message: aws_sdk_ssm::error::DisplayErrorContext(&e).to_string(),
                retryable,
            }
        })?;
    Ok((
        Outcome::Applied,
        format!(
            "set {} to \"true\"; the pods follow it within their refresh interval (no restart)",
            runbook.degraded_mode_parameter
        ),
    ))
}

/// Pods a drain leaves alone: mirror (static) pods and DaemonSet pods.
pub fn skipped_by_drain(pod: &Pod) -> bool {
    let meta = &pod.metadata;
    let mirror = meta
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_POD));
    let daemon = meta
        .owner_references
        .as_ref()
        .is_some_and(|owners| owners.iter().any(|o| o.kind == "DaemonSet"));
    let finished = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p == "Succeeded" || p == "Failed");
    mirror || daemon || finished
}

async fn drain(runbook: &Runbook, node: &str) -> Result<(Outcome, String), ActionError> {
    let started = Instant::now();
    let patch = json!({ "spec": { "unschedulable": true } });
    send_patch(
        runbook,
        &format!("/api/v1/nodes/{node}"),
        STRATEGIC_MERGE_PATCH,
        &patch,
        "cordon node",
    )
    .await?;
    let list_path = format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{node}");
    let mut evicted = BTreeSet::new();
    let mut blocked = 0u32;
    loop {
        let answer = runbook
            .kube
            .send(http::Method::GET, &list_path, None)
            .await?;
        if !answer.ok() {
            return Err(answer.error("list pods on node"));
        }
        let pods: k8s_openapi::List<Pod> = answer.json("list pods on node")?;
        let left: Vec<&Pod> = pods.items.iter().filter(|p| !skipped_by_drain(p)).collect();
        if left.is_empty() {
            return Ok((
                Outcome::Applied,
                format!(
                    "cordoned node {node} and evicted {} pods ({blocked} evictions waited on a PodDisruptionBudget)",
                    evicted.len()
                ),
            ));
        }
        if started.elapsed() >= runbook.drain_timeout {
            let pods = left
                .iter()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p.metadata.namespace.as_deref().unwrap_or_default(),
                        p.metadata.name.as_deref().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ActionError::DrainTimeout {
                node: node.to_string(),
                seconds: started.elapsed().as_secs(),
                pods,
            });
        }
        for pod in left {
            if pod.metadata.deletion_timestamp.is_some() {
                continue; // already terminating
            }
            let (Some(namespace), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name)
            else {
                continue;
            };
            let eviction = Eviction {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(namespace.clone()),
                    ..ObjectMeta::default()
                },
                delete_options: None,
            };
            let body = serde_json::to_vec(&eviction).unwrap_or_default();
            let path = format!("/api/v1/namespaces/{namespace}/pods/{name}/eviction");
            let answer = runbook
                .kube
                .send(http::Method::POST, &path, Some(("application/json", body)))
                .await?;
            match answer.status {
                200..=299 | 404 => {
                    evicted.insert(format!("{namespace}/{name}"));
                }
                // A PodDisruptionBudget does not allow it now: try again next round.
                429 => blocked += 1,
                _ => return Err(answer.error("evict pod")),
            }
        }
        tokio::time::sleep(runbook.drain_interval).await;
    }
}
