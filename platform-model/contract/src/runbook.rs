//! Runbook actions: what the state machine asks `runbook_action` to do, and what it answers.
//!
//! # Example: a request from the state machine, a result back
//!
//! ```
//! use platform_contract::runbook::{
//!     Action, ActionRequest, ActionResult, ERROR_RETRYABLE, Outcome, Target,
//! };
//! use serde_json::json;
//!
//! // The state machine's input for a restart: no replica bounds, not a dry run.
//! let request: ActionRequest = serde_json::from_value(json!({
//!     "incident_id": "am-3f2a9c",
//!     "action": "restart_deployment",
//!     "target": {"namespace": "checkout", "name": "checkout"}
//! }))?;
//! assert_eq!(request.action, Action::RestartDeployment);
//! assert_eq!((request.max_replicas, request.dry_run), (None, false));
//! // The alert label names the action by its wire name.
//! assert_eq!(Action::from_name("drain_node"), Some(Action::DrainNode));
//! assert_eq!(Action::from_name("reboot_everything"), None);
//!
//! let result = ActionResult {
//!     incident_id: request.incident_id,
//!     action: request.action,
//!     target: Target { namespace: "checkout".into(), name: "checkout".into() },
//!     outcome: Outcome::Applied,
//!     message: "restarted deployment checkout/checkout".into(),
//! };
//! let wire = serde_json::to_value(&result)?;
//! assert_eq!(wire["outcome"], "applied");
//! assert_eq!(serde_json::from_value::<ActionResult>(wire)?, result);
//! // The error type the state machine's Retry lists.
//! assert_eq!(ERROR_RETRYABLE, "RunbookAction.Retryable");
//! # Ok::<(), serde_json::Error>(())
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A remediation the runbook can run. An alert names one (label `runbook_action`); the state
/// machine dispatches on it; `runbook_action` performs it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Scale a Deployment up, bounded by a maximum; a no-op when already there.
    ScaleDeployment,
    /// Rolling restart of a Deployment (the `restartedAt` annotation).
    RestartDeployment,
    /// Set the SSM flag `/checkout/degraded_mode` to `"true"`, then restart the Deployment.
    EnableDegradedMode,
    /// Cordon a node and evict its pods, respecting PodDisruptionBudgets.
    DrainNode,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 4] = [
        Action::ScaleDeployment,
        Action::RestartDeployment,
        Action::EnableDegradedMode,
        Action::DrainNode,
    ];

    /// The wire name (`scale_deployment`, ...), also the alert label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::ScaleDeployment => "scale_deployment",
            Action::RestartDeployment => "restart_deployment",
            Action::EnableDegradedMode => "enable_degraded_mode",
            Action::DrainNode => "drain_node",
        }
    }

    /// The action of that wire name.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// When the action needs a human's approval before it runs.
    pub const fn gate(self) -> Gate {
        match self {
            Action::DrainNode => Gate::Always,
            Action::ScaleDeployment => Gate::AboveReplicas,
            Action::RestartDeployment | Action::EnableDegradedMode => Gate::Never,
        }
    }
}

/// The approval class of an action: whether `runbook_action` answers
/// [`Outcome::NeedsApproval`] instead of acting, until the request carries `approved_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// Runs alone.
    Never,
    /// Needs a human when it would set more replicas than the request's
    /// `approval_above_replicas` (the service's bound from settings).
    AboveReplicas,
    /// Always needs a human (draining evicts every pod of a node).
    Always,
}

impl Gate {
    /// What the runbook page says about it.
    pub const fn describe(self) -> &'static str {
        match self {
            Gate::Never => "No human approval: this action runs alone.",
            Gate::AboveReplicas => {
                "Scaling above the service's approval bound waits for a human's approval; up to the bound it runs alone."
            }
            Gate::Always => "Always waits for a human's approval before it runs.",
        }
    }
}

/// What an action works on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Namespace of the Deployment (empty for a node).
    #[serde(default)]
    pub namespace: String,
    /// Name of the Deployment or node.
    pub name: String,
}

/// The runbook named by an incident: which action on which target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunbookRef {
    /// The action.
    pub action: Action,
    /// Its target.
    pub target: Target,
}

/// The input of `runbook_action`, built by the state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// The incident this remediates.
    pub incident_id: String,
    /// The action.
    pub action: Action,
    /// Its target.
    pub target: Target,
    /// Upper bound of replicas for `scale_deployment` (required for that action): the target
    /// service's `max_replicas`, passed by the runbook from the service's declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<u32>,
    /// Replicas `scale_deployment` aims for (capped at `max_replicas`; defaults to it). The
    /// action never scales down: at or above the aim it is a no-op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// The SSM parameter `enable_degraded_mode` sets to `"true"` (required for that action):
    /// the target service's own flag, passed by the runbook from the service's declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_mode_parameter: Option<String>,
    /// Replicas `scale_deployment` may set without a human: above them it answers
    /// [`Outcome::NeedsApproval`] unless `approved_by` is set (the service's bound from settings;
    /// `None`: up to `max_replicas` runs alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_above_replicas: Option<u32>,
    /// Who approved the action, when its [`Gate`] asked: set by the runbook from the approval
    /// endpoint's answer. A gated action without it answers [`Outcome::NeedsApproval`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// Report what would be done without doing it.
    #[serde(default)]
    pub dry_run: bool,
}

impl ActionRequest {
    /// Why this request needs a human before it runs, or `None` when it may run now:
    /// `planned_replicas` is what `scale_deployment` would set (ignored by other actions).
    /// An approved request never needs another approval.
    pub fn needs_approval(&self, planned_replicas: Option<u32>) -> Option<String> {
        if self.approved_by.is_some() {
            return None;
        }
        match self.action.gate() {
            Gate::Never => None,
            Gate::Always => Some(format!(
                "{} of {} evicts every pod on it: a human approves it first",
                self.action.as_str(),
                if self.target.namespace.is_empty() {
                    format!("node {}", self.target.name)
                } else {
                    format!("{}/{}", self.target.namespace, self.target.name)
                }
            )),
            Gate::AboveReplicas => match (planned_replicas, self.approval_above_replicas) {
                (Some(planned), Some(bound)) if planned > bound => Some(format!(
                    "scaling {}/{} to {planned} replicas passes the bound of {bound} that runs without a human",
                    self.target.namespace, self.target.name
                )),
                _ => None,
            },
        }
    }
}

/// The Lambda error type (`errorType`, the state machine's `Error`) of a failure worth
/// retrying: the Kubernetes API or AWS was unavailable, a drain ran out of time. The state
/// machine's `Retry` lists it.
pub const ERROR_RETRYABLE: &str = "RunbookAction.Retryable";

/// The Lambda error type of a failure that a retry cannot fix: a malformed request, a missing
/// target, a permission denied. The state machine's `Catch` sends it to escalation.
pub const ERROR_NON_RETRYABLE: &str = "RunbookAction.NonRetryable";

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The change was made.
    Applied,
    /// Nothing to do: the target was already in the wanted state.
    NoOp,
    /// Dry run: nothing was changed.
    DryRun,
    /// Refused by a guard (namespace allow-list, rate limit).
    Refused,
    /// Nothing was changed: the action's [`Gate`] asks a human first. The runbook requests an
    /// approval and calls again with `approved_by` set, or escalates.
    NeedsApproval,
}

/// The output of `runbook_action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionResult {
    /// The incident this remediates.
    pub incident_id: String,
    /// The action.
    pub action: Action,
    /// Its target.
    pub target: Target,
    /// How it ended.
    pub outcome: Outcome,
    /// What was done, for people.
    pub message: String,
}
