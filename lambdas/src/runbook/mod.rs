//! `runbook_action`: one [`ActionRequest`] from the state machine -> one change in the cluster.
//!
//! Guards, in order: the request parses (non-retryable error naming the field), the target's
//! namespace is allow-listed (`refused`), dry-run (`dry_run`, nothing called), the per-target
//! rate limit in DynamoDB (`refused` for another incident within the window; `no_op` when the
//! same incident's action already completed on the target, so a re-delivered incident never
//! runs its remediation twice; a failed attempt of the same incident may retry). Then the
//! action; `drain_node` has its own guards (node selector, cap on cordoned nodes, `kubectl
//! drain`'s default refusals). Errors are [`ActionError`]s, mapped to the Lambda error types
//! [`ERROR_RETRYABLE`] and [`ERROR_NON_RETRYABLE`]: the state machine retries the first and
//! escalates on anything else (its `Catch` is `States.ALL`, which Step Functions requires
//! alone).

pub mod eks_token;
pub mod kube;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use lambda_runtime::Diagnostic;
use platform_contract::incident_record;
use platform_contract::runbook::{
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
    /// A guard refused the action after looking at the cluster (non-retryable: a person
    /// decides). Nothing was changed.
    #[error("refused: {message}")]
    Refused {
        /// Why, naming what was found.
        message: String,
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
            ActionError::BadRequest { .. }
            | ActionError::Config { .. }
            | ActionError::Refused { .. } => false,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guards {
    /// Namespaces whose Deployments may be changed.
    pub allowed_namespaces: BTreeSet<String>,
    /// Minimum time between two actions on one target (different incidents).
    pub rate_limit: Duration,
    /// The table that holds the rate-limit items (the incidents table).
    pub table: String,
    /// The labels a node must have for `drain_node` to touch it (its node groups).
    pub drain_node_selector: NodeSelector,
    /// `drain_node` refuses when this many other nodes are already cordoned.
    pub max_cordoned_nodes: u32,
}

/// An equality-based label selector, `key=value[,key=value]`: a node matches when it has every
/// label with that value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSelector(BTreeMap<String, String>);

impl NodeSelector {
    /// Parse `key=value[,key=value]` (Kubernetes label keys and values; at least one pair).
    pub fn parse(text: &str) -> Result<NodeSelector, String> {
        let expected = "a label selector key=value[,key=value]";
        let mut labels = BTreeMap::new();
        for pair in text.split(',').map(str::trim) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(format!("{expected}: {pair:?} has no '='"));
            };
            let (key, value) = (key.trim(), value.trim());
            if value.starts_with('=') || key.ends_with('!') {
                return Err(format!(
                    "{expected}: {pair:?} is not key=value (only equality is supported)"
                ));
            }
            if !is_label_key(key) {
                return Err(format!("{expected}: {key:?} is not a label key"));
            }
            if !is_label_value(value) {
                return Err(format!("{expected}: {value:?} is not a label value"));
            }
            if labels.insert(key.to_string(), value.to_string()).is_some() {
                return Err(format!("{expected}: {key:?} is given twice"));
            }
        }
        Ok(NodeSelector(labels))
    }

    /// Whether `labels` has every pair of the selector; else the first label that differs.
    pub fn mismatch<'a>(&'a self, labels: &BTreeMap<String, String>) -> Option<(&'a str, &'a str)> {
        self.0
            .iter()
            .find(|(k, v)| labels.get(*k) != Some(*v))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The pairs.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl std::fmt::Display for NodeSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&pairs.join(","))
    }
}

/// A label value: at most 63 of `[A-Za-z0-9._-]`, beginning and ending with an alphanumeric
/// (or empty).
fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric()))
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain, the name a non-empty label value.
fn is_label_key(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    !name.is_empty() && is_label_value(name) && prefix.is_none_or(is_dns_subdomain)
}

/// runbook_action's configuration, read in one place through the runtime contract
/// (`platform_contract::runtime::runbook_action`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `EKS_CLUSTER_NAME`.
    pub cluster_name: String,
    /// `EKS_CLUSTER_ENDPOINT` (`None`: DescribeCluster).
    pub cluster_endpoint: Option<String>,
    /// `EKS_CLUSTER_CA` (base64 PEM).
    pub cluster_ca: Option<String>,
    /// `ALLOWED_NAMESPACES`, `RATE_LIMIT_SECONDS`, `INCIDENTS_TABLE`, `DRAIN_NODE_SELECTOR`,
    /// `MAX_CORDONED_NODES`.
    pub guards: Guards,
    /// `DRAIN_TIMEOUT_SECONDS`.
    pub drain_timeout: Duration,
    /// `RUST_LOG`.
    pub log_filter: String,
    /// `AWS_REGION` (Lambda sets it; `None` leaves the region to the SDK's own chain).
    pub region: Option<String>,
}

impl Settings {
    /// Every variable the contract declares for runbook_action, read from `env`.
    pub fn read(env: &crate::env::Env<'_>) -> Result<Settings, crate::env::VarError> {
        use crate::env::runbook_action as vars;
        let max_cordoned = env.integer(&vars::MAX_CORDONED_NODES)?;
        Ok(Settings {
            cluster_name: env.required(&vars::EKS_CLUSTER_NAME)?,
            cluster_endpoint: env.optional(&vars::EKS_CLUSTER_ENDPOINT),
            cluster_ca: env.optional(&vars::EKS_CLUSTER_CA),
            guards: Guards {
                allowed_namespaces: env.list(&vars::ALLOWED_NAMESPACES)?.into_iter().collect(),
                rate_limit: env.seconds(&vars::RATE_LIMIT_SECONDS)?,
                table: env.required(&vars::INCIDENTS_TABLE)?,
                drain_node_selector: env.parsed(&vars::DRAIN_NODE_SELECTOR, NodeSelector::parse)?,
                max_cordoned_nodes: u32::try_from(max_cordoned).map_err(|_| {
                    crate::env::VarError::Invalid {
                        name: vars::MAX_CORDONED_NODES.name,
                        value: max_cordoned.to_string(),
                        expected: "a whole number that fits 32 bits".into(),
                    }
                })?,
            },
            drain_timeout: env.seconds(&vars::DRAIN_TIMEOUT_SECONDS)?,
            log_filter: env
                .optional(&vars::RUST_LOG)
                .unwrap_or_else(|| "info".into()),
            region: env.optional(&vars::AWS_REGION),
        })
    }
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
    if request.action == Action::EnableDegradedMode {
        match request.degraded_mode_parameter.as_deref() {
            None => {
                return Err(bad(
                    "degraded_mode_parameter",
                    "required for enable_degraded_mode".into(),
                ));
            }
            Some(p) if !p.starts_with('/') || p.contains(char::is_whitespace) => {
                return Err(bad(
                    "degraded_mode_parameter",
                    format!("{p:?} is not an SSM parameter path"),
                ));
            }
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
    // The gate comes before the rate-limit slot: an action waiting for a human holds nothing.
    let planned = (request.action == Action::ScaleDeployment).then(|| planned_replicas(&request));
    if let Some(why) = request.needs_approval(planned) {
        tracing::info!(incident_id = %request.incident_id, %target, %why, "needs approval");
        return Ok(result(&request, Outcome::NeedsApproval, why));
    }
    match take_slot(runbook, &request, &target).await? {
        Slot::Taken => {}
        Slot::RateLimited(message) => {
            tracing::warn!(incident_id = %request.incident_id, %target, %message, "rate limited");
            return Ok(result(&request, Outcome::Refused, message));
        }
        Slot::AlreadyDone(message) => {
            tracing::info!(incident_id = %request.incident_id, %target, %message, "already done");
            return Ok(result(&request, Outcome::NoOp, message));
        }
    }
    let (outcome, message) = match request.action {
        Action::ScaleDeployment => scale(runbook, &request).await?,
        Action::RestartDeployment => restart(runbook, &request.target).await?,
        Action::EnableDegradedMode => degraded_mode(runbook, &request).await?,
        Action::DrainNode => drain(runbook, &request.target.name).await?,
    };
    mark_done(runbook, &request, &target, outcome).await;
    tracing::info!(incident_id = %request.incident_id, action = request.action.as_str(), %target, ?outcome, %message, "action done");
    Ok(result(&request, outcome, message))
}

/// The replicas `scale_deployment` aims for: `replicas`, capped at `max_replicas` (which it
/// defaults to). The approval gate compares this aim with the request's bound.
fn planned_replicas(request: &ActionRequest) -> u32 {
    let max = request.max_replicas.unwrap_or(1);
    request.replicas.unwrap_or(max).min(max)
}

/// The rate-limit item's key in the incidents table.
pub fn rate_limit_key(target: &str) -> String {
    format!("ratelimit#{target}")
}

/// The rate-limit item's attribute naming the incident that holds the slot.
pub const HOLDER: &str = "holder";
/// The rate-limit item's attribute set when the holder's action completed (epoch seconds).
pub const COMPLETED_AT: &str = "completed_at";

/// What the rate limit says about a request.
enum Slot {
    /// Go ahead.
    Taken,
    /// Another incident acted on the target within the window.
    RateLimited(String),
    /// This incident's action already completed on the target: a repeat is a no-op.
    AlreadyDone(String),
}

/// Take the target's rate-limit slot, a conditional write on `ratelimit#<target>` that
/// succeeds when
///
/// - no incident acted on the target yet, or
/// - this incident holds the slot and its action did not complete (a retry of a failed
///   attempt), or
/// - another incident holds it and acted before the window.
///
/// Otherwise the item says why: this incident's action completed (the request is a repeat,
/// `AlreadyDone`, whatever the window), or another incident acted within the window.
async fn take_slot(
    runbook: &Runbook,
    request: &ActionRequest,
    target: &str,
) -> Result<Slot, ActionError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let window = runbook.guards.rate_limit.as_secs() as i64;
    let outcome = runbook
        .dynamodb
        .update_item()
        .table_name(&runbook.guards.table)
        .key(
            incident_record::INCIDENT_ID,
            AttributeValue::S(rate_limit_key(target)),
        )
        .key(
            incident_record::TIMESTAMP,
            AttributeValue::S("rate-limit".into()),
        )
        .update_expression(
            "SET last_action_at = :now, #holder = :incident, #expires = :expires REMOVE #completed",
        )
        .condition_expression(
            "attribute_not_exists(last_action_at) \
             OR (#holder = :incident AND attribute_not_exists(#completed)) \
             OR (#holder <> :incident AND last_action_at < :cutoff)",
        )
        .expression_attribute_names("#expires", incident_record::EXPIRES_AT)
        .expression_attribute_names("#holder", HOLDER)
        .expression_attribute_names("#completed", COMPLETED_AT)
        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
        .expression_attribute_values(":cutoff", AttributeValue::N((now - window).to_string()))
        .expression_attribute_values(":incident", AttributeValue::S(request.incident_id.clone()))
        .expression_attribute_values(
            ":expires",
            AttributeValue::N((now + window + 86_400).to_string()),
        )
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    // Refused: the item as it was (ReturnValuesOnConditionCheckFailure, so no GetItem and no
    // read permission) says who holds the slot, and whether its action completed.
    let item = match outcome {
        Ok(_) => return Ok(Slot::Taken),
        Err(e) => match e.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                failed.item().cloned().unwrap_or_default()
            }
            _ => {
                return Err(ActionError::Aws {
                    what: format!("rate limit (UpdateItem on {})", runbook.guards.table),
                    message: aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
                    retryable: true,
                });
            }
        },
    };
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s) | AttributeValue::N(s)) => Some(s.clone()),
        _ => None,
    };
    if text(HOLDER).as_deref() == Some(request.incident_id.as_str())
        && let Some(completed) = text(COMPLETED_AT)
    {
        let at = completed
            .parse::<i64>()
            .ok()
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or(completed);
        return Ok(Slot::AlreadyDone(format!(
            "{} already ran for incident {} on {target} (completed at {at}); not repeated",
            request.action.as_str(),
            request.incident_id
        )));
    }
    Ok(Slot::RateLimited(format!(
        "rate limit: another incident ({}) acted on {target} within the last {window}s",
        text(HOLDER).unwrap_or_else(|| "unknown".into())
    )))
}

/// Record that this incident's action on the target completed, so a repeat of the request is
/// a no-op. A failure is logged, not returned: the action itself was done, and an error would
/// make the state machine run it again.
async fn mark_done(runbook: &Runbook, request: &ActionRequest, target: &str, outcome: Outcome) {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let written = runbook
        .dynamodb
        .update_item()
        .table_name(&runbook.guards.table)
        .key(
            incident_record::INCIDENT_ID,
            AttributeValue::S(rate_limit_key(target)),
        )
        .key(
            incident_record::TIMESTAMP,
            AttributeValue::S("rate-limit".into()),
        )
        .update_expression("SET #completed = :now, completed_outcome = :outcome")
        .condition_expression("#holder = :incident")
        .expression_attribute_names("#holder", HOLDER)
        .expression_attribute_names("#completed", COMPLETED_AT)
        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
        .expression_attribute_values(":incident", AttributeValue::S(request.incident_id.clone()))
        .expression_attribute_values(
            ":outcome",
            AttributeValue::S(
                serde_json::to_value(outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            ),
        )
        .send()
        .await;
    if let Err(e) = written {
        tracing::warn!(
            incident_id = %request.incident_id,
            %target,
            error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e),
            "could not record the completed action; a repeat of this request would run it again"
        );
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
    let wanted = planned_replicas(request);
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
async fn degraded_mode(
    runbook: &Runbook,
    request: &ActionRequest,
) -> Result<(Outcome, String), ActionError> {
    // validate() refused a request without one.
    let parameter = request
        .degraded_mode_parameter
        .as_deref()
        .unwrap_or_default();
    runbook
        .ssm
        .put_parameter()
        .name(parameter)
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
                what: format!("PutParameter {parameter}"),
                message: aws_sdk_ssm::error::DisplayErrorContext(&e).to_string(),
                retryable,
            }
        })?;
    Ok((
        Outcome::Applied,
        format!(
            "set {parameter} to \"true\"; the pods follow it within their refresh interval (no restart)"
        ),
    ))
}

/// Pods a drain leaves alone: mirror (static) pods, DaemonSet pods and finished pods.
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

/// Why `kubectl drain` with its defaults (no `--force`, no `--delete-emptydir-data`) would
/// refuse to drain a node running this pod; `None` when the pod may be evicted (or is
/// skipped).
pub fn drain_refusal(pod: &Pod) -> Option<&'static str> {
    if skipped_by_drain(pod) {
        return None;
    }
    let controlled = pod
        .metadata
        .owner_references
        .as_ref()
        .is_some_and(|owners| owners.iter().any(|o| o.controller == Some(true)));
    if !controlled {
        return Some("no controller: evicting a bare pod deletes it for good");
    }
    let empty_dir = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .is_some_and(|volumes| volumes.iter().any(|v| v.empty_dir.is_some()));
    if empty_dir {
        return Some("emptyDir volume: its data would be lost");
    }
    None
}

fn pod_name(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The pods on `node` that `kubectl drain` would refuse to evict, as an error naming them.
fn refuse_unsafe_pods(node: &str, pods: &[Pod], state: &str) -> Result<(), ActionError> {
    let refused: Vec<String> = pods
        .iter()
        .filter_map(|p| drain_refusal(p).map(|why| format!("{} ({why})", pod_name(p))))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(ActionError::Refused {
        message: format!(
            "node {node} runs pods that kubectl drain refuses to evict by default: {}; {state}",
            refused.join(", ")
        ),
    })
}

async fn list_pods(runbook: &Runbook, path: &str) -> Result<Vec<Pod>, ActionError> {
    let answer = runbook.kube.send(http::Method::GET, path, None).await?;
    if !answer.ok() {
        return Err(answer.error("list pods on node"));
    }
    let pods: k8s_openapi::List<Pod> = answer.json("list pods on node")?;
    Ok(pods.items)
}

/// The node-group and capacity guards of `drain_node`, before anything is changed: the node
/// matches `DRAIN_NODE_SELECTOR`, and fewer than `MAX_CORDONED_NODES` other nodes are
/// cordoned. Returns whether the node itself is already cordoned.
async fn drain_guards(runbook: &Runbook, node: &str) -> Result<bool, ActionError> {
    let answer = runbook
        .kube
        .send(http::Method::GET, &format!("/api/v1/nodes/{node}"), None)
        .await?;
    if !answer.ok() {
        return Err(answer.error("read node"));
    }
    let current: Node = answer.json("read node")?;
    let labels = current.metadata.labels.unwrap_or_default();
    let selector = &runbook.guards.drain_node_selector;
    if let Some((key, wanted)) = selector.mismatch(&labels) {
        let found = labels
            .get(key)
            .map_or_else(|| "missing".to_string(), |v| format!("{v:?}"));
        return Err(ActionError::Refused {
            message: format!(
                "node {node} is outside the drainable node groups: DRAIN_NODE_SELECTOR is {selector}, and its label {key} is {found}, not {wanted:?}; nothing was changed"
            ),
        });
    }
    let already = current.spec.and_then(|s| s.unschedulable).unwrap_or(false);
    let answer = runbook
        .kube
        .send(http::Method::GET, CORDONED_NODES, None)
        .await?;
    if !answer.ok() {
        return Err(answer.error("list cordoned nodes"));
    }
    let nodes: k8s_openapi::List<Node> = answer.json("list cordoned nodes")?;
    // The field selector already filters; checking again costs nothing.
    let cordoned: Vec<String> = nodes
        .items
        .into_iter()
        .filter(|n| n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true))
        .filter_map(|n| n.metadata.name)
        .filter(|name| name != node)
        .collect();
    let max = runbook.guards.max_cordoned_nodes as usize;
    if cordoned.len() >= max {
        return Err(ActionError::Refused {
            message: format!(
                "{} other nodes are already cordoned ({}), MAX_CORDONED_NODES is {max}: node {node} is not cordoned; uncordon the repaired nodes first (kubectl uncordon <node>)",
                cordoned.len(),
                cordoned.join(", ")
            ),
        });
    }
    Ok(already)
}

/// `GET` of the cordoned nodes (`spec.unschedulable` is a supported field selector of nodes).
pub const CORDONED_NODES: &str = "/api/v1/nodes?fieldSelector=spec.unschedulable%3Dtrue";

/// `kubectl drain` with its defaults, bounded: refuses a node outside `DRAIN_NODE_SELECTOR`,
/// refuses when `MAX_CORDONED_NODES` other nodes are already cordoned, refuses (before
/// cordoning) a node running pods without a controller or with emptyDir volumes, then cordons
/// and evicts every other pod except DaemonSet and mirror pods, honouring
/// PodDisruptionBudgets. Like `kubectl drain`, it never uncordons: a person does, once the node
/// is repaired or replaced.
async fn drain(runbook: &Runbook, node: &str) -> Result<(Outcome, String), ActionError> {
    let started = Instant::now();
    let already_cordoned = drain_guards(runbook, node).await?;
    let list_path = format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{node}");
    refuse_unsafe_pods(
        node,
        &list_pods(runbook, &list_path).await?,
        if already_cordoned {
            "nothing was evicted (the node was already cordoned)"
        } else {
            "the node was not cordoned"
        },
    )?;
    if !already_cordoned {
        let patch = json!({ "spec": { "unschedulable": true } });
        send_patch(
            runbook,
            &format!("/api/v1/nodes/{node}"),
            STRATEGIC_MERGE_PATCH,
            &patch,
            "cordon node",
        )
        .await?;
    }
    let uncordon = format!(
        "the node stays cordoned: uncordon it (kubectl uncordon {node}) once it is repaired or replaced"
    );
    let mut evicted = BTreeSet::new();
    let mut blocked = 0u32;
    loop {
        let pods = list_pods(runbook, &list_path).await?;
        // A bare or emptyDir pod can still be bound to the node after the check above.
        refuse_unsafe_pods(
            node,
            &pods,
            &format!("nothing more was evicted; {uncordon}"),
        )?;
        let left: Vec<&Pod> = pods.iter().filter(|p| !skipped_by_drain(p)).collect();
        if left.is_empty() {
            return Ok((
                Outcome::Applied,
                format!(
                    "{} node {node} and evicted {} pods ({blocked} evictions waited on a PodDisruptionBudget); {uncordon}",
                    if already_cordoned {
                        "drained the already cordoned"
                    } else {
                        "cordoned"
                    },
                    evicted.len()
                ),
            ));
        }
        if started.elapsed() >= runbook.drain_timeout {
            let pods = left
                .iter()
                .map(|p| pod_name(p))
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
