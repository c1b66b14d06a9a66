//! Human approval of gated actions: what the runbook asks the `approval` function, the records
//! it keeps, and the events it puts on the bus.
//!
//! A gated action (see [`Gate`](crate::runbook::Gate)) answers
//! [`Outcome::NeedsApproval`](crate::runbook::Outcome::NeedsApproval). The runbook then invokes
//! `approval` with an [`ApprovalRequest`] and a task token, and waits (`waitForTaskToken`) until
//! the deadline. `approval` stores the token on the incident record, sends people approve / deny
//! links carrying a signed, expiring, single-use token, and on a decision calls
//! `SendTaskSuccess` (output: who approved, a JSON string) or `SendTaskFailure`
//! ([`ERROR_DENIED`]). No decision by the deadline: the runbook records
//! [`Decision::Expired`] and escalates.
//!
//! ```
//! use platform_contract::approval::{ApprovalRequest, Decision, PATH_PARAMETER, ROUTE};
//! use serde_json::json;
//!
//! let request: ApprovalRequest = serde_json::from_value(json!({
//!     "task_token": "AAAA",
//!     "incident_id": "am-3f2a9c",
//!     "starts_at": "2026-01-05T10:00:00Z",
//!     "alert_name": "NodeNotReady",
//!     "severity": "critical",
//!     "summary": "node ip-10-0-1-5 NotReady for 10 minutes",
//!     "request": {
//!         "incident_id": "am-3f2a9c",
//!         "action": "drain_node",
//!         "target": {"name": "ip-10-0-1-5"}
//!     },
//!     "why": "drain_node of node ip-10-0-1-5 evicts every pod on it: a human approves it first",
//!     "requested_at": "2026-01-05T10:00:09Z",
//!     "timeout_seconds": 900
//! }))?;
//! assert_eq!(request.timeout_seconds, 900);
//! assert_eq!(Decision::from_name("approved"), Some(Decision::Approve));
//! assert_eq!(ROUTE, ["approvals", "{incident_id}"]);
//! assert_eq!(ROUTE[1], format!("{{{PATH_PARAMETER}}}"));
//! # Ok::<(), serde_json::Error>(())
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Severity;
use crate::events::{DetailType, PlatformEvent};
use crate::runbook::{Action, ActionRequest, Target};

/// The route of the approval endpoint on the webhook API, below its root: `GET` shows the
/// decision a link carries and asks who decides, `POST` (a form: `token`, `by`) decides. Its
/// second part is the path parameter [`PATH_PARAMETER`].
pub const ROUTE: [&str; 2] = ["approvals", "{incident_id}"];

/// The route's path parameter: the incident the link is for.
pub const PATH_PARAMETER: &str = "incident_id";

/// The query parameter (on `GET`) and form field (on `POST`) that carries the signed token.
pub const TOKEN_FIELD: &str = "token";

/// The form field naming who decides.
pub const BY_FIELD: &str = "by";

/// The error (`SendTaskFailure`) of a denied approval: the runbook's `Catch` escalates.
pub const ERROR_DENIED: &str = "Approval.Denied";

/// What the runbook passes `approval` (its `waitForTaskToken` payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// The execution's task token: `SendTaskSuccess` / `SendTaskFailure` name it.
    pub task_token: String,
    /// The incident.
    pub incident_id: String,
    /// When it started: with the id, the incident record's key.
    pub starts_at: String,
    /// The alert.
    pub alert_name: String,
    /// Its severity.
    pub severity: Severity,
    /// Its summary.
    pub summary: String,
    /// The gated request, as `runbook_action` would run it.
    pub request: ActionRequest,
    /// Why it needs a human (`runbook_action`'s message).
    pub why: String,
    /// When the runbook asked (RFC 3339, UTC).
    pub requested_at: String,
    /// Seconds the runbook waits: the links expire with it.
    pub timeout_seconds: u32,
}

/// A decision on an approval.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Decision {
    /// Run the action.
    #[serde(rename = "approved")]
    Approve,
    /// Do not: the runbook escalates.
    #[serde(rename = "denied")]
    Deny,
    /// Nobody decided before the deadline: the runbook escalates.
    #[serde(rename = "expired")]
    Expired,
}

impl Decision {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Deny => "denied",
            Decision::Expired => "expired",
        }
    }

    /// The decision of that wire name.
    pub fn from_name(name: &str) -> Option<Decision> {
        [Decision::Approve, Decision::Deny, Decision::Expired]
            .into_iter()
            .find(|d| d.as_str() == name)
    }

    /// The record's `approval_status` after it.
    pub const fn status(self) -> &'static str {
        match self {
            Decision::Approve => status::APPROVED,
            Decision::Deny => status::DENIED,
            Decision::Expired => status::EXPIRED,
        }
    }
}

/// Values of the incident record's `approval_status`.
pub mod status {
    /// Links sent; waiting for a human.
    pub const REQUESTED: &str = "requested";
    /// Approved: the action runs.
    pub const APPROVED: &str = "approved";
    /// Denied: escalated.
    pub const DENIED: &str = "denied";
    /// Nobody decided before the deadline: escalated.
    pub const EXPIRED: &str = "expired";
}

/// The approval attributes of an incident record (`approval` writes them, the runbook writes
/// the expiry).
pub mod record {
    /// The pending approval's id (one per request; a token names it).
    pub const ID: &str = "approval_id";
    /// [`super::status`].
    pub const STATUS: &str = "approval_status";
    /// The gated [`ActionRequest`](crate::runbook::ActionRequest), as JSON text.
    pub const REQUEST: &str = "approval_request";
    /// Why it needs a human.
    pub const WHY: &str = "approval_why";
    /// When the runbook asked (RFC 3339).
    pub const REQUESTED_AT: &str = "approval_requested_at";
    /// Epoch seconds after which the links are refused.
    pub const EXPIRES_AT: &str = "approval_expires_at";
    /// The execution's task token (the endpoint answers the runbook with it).
    pub const TASK_TOKEN: &str = "approval_task_token";
    /// Who decided (the name given on the page; `deadline` for an expiry).
    pub const DECIDED_BY: &str = "approval_decided_by";
    /// The address the decision came from (API Gateway's source IP).
    pub const DECIDED_FROM: &str = "approval_decided_from";
    /// When (RFC 3339).
    pub const DECIDED_AT: &str = "approval_decided_at";
}

/// Who decides when nobody did before the deadline.
pub const DEADLINE: &str = "deadline";

/// `approval.requested`: a gated action waits for a human. No links: the audit log must not
/// hold a usable token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequested {
    /// The incident.
    pub incident_id: String,
    /// The alert.
    pub alert_name: String,
    /// Its severity.
    pub severity: Severity,
    /// The approval's id.
    pub approval_id: String,
    /// The action waiting.
    pub action: Action,
    /// Its target.
    pub target: Target,
    /// Why it needs a human.
    pub why: String,
    /// When the links expire (RFC 3339, UTC).
    pub expires_at: String,
}

impl PlatformEvent for ApprovalRequested {
    const DETAIL_TYPE: DetailType = DetailType::ApprovalRequested;
}

/// `approval.decided`: who decided what, or that nobody did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecided {
    /// The incident.
    pub incident_id: String,
    /// The alert.
    pub alert_name: String,
    /// Its severity.
    pub severity: Severity,
    /// The approval's id.
    pub approval_id: String,
    /// The action.
    pub action: Action,
    /// Its target.
    pub target: Target,
    /// The decision.
    pub decision: Decision,
    /// Who ([`DEADLINE`] for an expiry).
    pub decided_by: String,
    /// When (RFC 3339, UTC).
    pub decided_at: String,
}

impl PlatformEvent for ApprovalDecided {
    const DETAIL_TYPE: DetailType = DetailType::ApprovalDecided;
}
