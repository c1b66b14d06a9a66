//! Platform events on the EventBridge bus: their sources, detail types and details.
//!
//! The same types give the producer's `PutEvents` entries, the EventBridge rule patterns and the
//! state machine's paths.
//!
//! # Example: an event's detail on the wire
//!
//! A detail round-trips through JSON unchanged, leaves out what it does not know, and refuses a
//! field it does not define (a producer's typo is an error, not a silently dropped value):
//!
//! ```
//! use platform_contract::Severity;
//! use platform_contract::events::{
//!     BUS_NAME, DetailType, IncidentResolved, PlatformEvent, Source,
//! };
//! use serde_json::json;
//!
//! let resolved = IncidentResolved {
//!     incident_id: "am-3f2a9c".into(),
//!     alert_name: "CheckoutHighLatency".into(),
//!     severity: Severity::Critical,
//!     fingerprint: "3f2a9c".into(),
//!     starts_at: String::new(), // unknown to this producer
//!     resolved_at: "2026-01-05T10:20:00Z".into(),
//!     time_to_resolve_seconds: None,
//!     received_at: "2026-01-05T10:20:02Z".into(),
//!     received_at_epoch: 1_767_608_402,
//! };
//! let wire = serde_json::to_value(&resolved)?;
//! assert_eq!(wire["severity"], "critical");
//! assert!(wire.get("time_to_resolve_seconds").is_none(), "never a made-up zero");
//! assert_eq!(serde_json::from_value::<IncidentResolved>(wire.clone())?, resolved);
//!
//! let mut typo = wire;
//! typo["resolvedAt"] = json!("2026-01-05T10:20:00Z");
//! assert!(serde_json::from_value::<IncidentResolved>(typo).is_err());
//!
//! // What a PutEvents entry or a rule pattern names.
//! assert_eq!(Source::Alertmanager.as_str(), "sre.alertmanager");
//! assert_eq!(IncidentResolved::DETAIL_TYPE, DetailType::IncidentResolved);
//! assert_eq!(serde_json::to_value(DetailType::IncidentResolved)?, "incident.resolved");
//! assert_eq!(BUS_NAME, "sre-platform-events");
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Severity;
use super::runbook::{Action, Outcome, RunbookRef, Target};

/// Base name of the custom bus (environments add their prefix).
pub const BUS_NAME: &str = "sre-platform-events";

/// The `source` of an event.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Source {
    /// Alerts from Prometheus Alertmanager.
    #[serde(rename = "sre.alertmanager")]
    Alertmanager,
    /// Alerts from Datadog monitors.
    #[serde(rename = "sre.datadog")]
    Datadog,
    /// The runbook state machine.
    #[serde(rename = "sre.runbook")]
    Runbook,
    /// The approval endpoint (`approval`): approvals requested and decided.
    #[serde(rename = "sre.approval")]
    Approval,
}

impl Source {
    /// Every source.
    pub const ALL: [Source; 4] = [
        Source::Alertmanager,
        Source::Datadog,
        Source::Runbook,
        Source::Approval,
    ];
    /// Sources of alerts (what `alert_ingest` emits).
    pub const ALERTS: [Source; 2] = [Source::Alertmanager, Source::Datadog];

    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Alertmanager => "sre.alertmanager",
            Source::Datadog => "sre.datadog",
            Source::Runbook => "sre.runbook",
            Source::Approval => "sre.approval",
        }
    }
}

/// The `detail-type` of an event.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum DetailType {
    /// An alert started firing: [`IncidentCreated`].
    #[serde(rename = "incident.created")]
    IncidentCreated,
    /// An alert stopped firing: [`IncidentResolved`].
    #[serde(rename = "incident.resolved")]
    IncidentResolved,
    /// The runbook finished an action: [`ActionCompleted`].
    #[serde(rename = "action.completed")]
    ActionCompleted,
    /// A gated action waits for a human: [`crate::approval::ApprovalRequested`].
    #[serde(rename = "approval.requested")]
    ApprovalRequested,
    /// A human approved or denied it, or nobody did before the deadline:
    /// [`crate::approval::ApprovalDecided`].
    #[serde(rename = "approval.decided")]
    ApprovalDecided,
    /// The runbook handed the incident to people: [`IncidentEscalated`].
    #[serde(rename = "incident.escalated")]
    IncidentEscalated,
}

impl DetailType {
    /// Every detail type.
    pub const ALL: [DetailType; 6] = [
        DetailType::IncidentCreated,
        DetailType::IncidentResolved,
        DetailType::ActionCompleted,
        DetailType::ApprovalRequested,
        DetailType::ApprovalDecided,
        DetailType::IncidentEscalated,
    ];

    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            DetailType::IncidentCreated => "incident.created",
            DetailType::IncidentResolved => "incident.resolved",
            DetailType::ActionCompleted => "action.completed",
            DetailType::ApprovalRequested => "approval.requested",
            DetailType::ApprovalDecided => "approval.decided",
            DetailType::IncidentEscalated => "incident.escalated",
        }
    }
}

/// A platform event's detail type and source, known from its Rust type.
pub trait PlatformEvent: Serialize {
    /// The `detail-type`.
    const DETAIL_TYPE: DetailType;
}

/// `incident.created`: one firing alert, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentCreated {
    /// Deterministic id: the same alert (source, fingerprint, start) always gives the same id.
    pub incident_id: String,
    /// Alert name (`alertname` label, Datadog monitor title).
    pub alert_name: String,
    /// Severity.
    pub severity: Severity,
    /// One-line summary.
    pub summary: String,
    /// Longer description.
    #[serde(default)]
    pub description: String,
    /// The sender's fingerprint of the alert.
    pub fingerprint: String,
    /// When the alert started (RFC 3339, UTC). Datadog gives no cycle start, so its events carry
    /// the same constant (`1970-01-01T00:00:00Z`) for every notification of a cycle: one record
    /// per cycle, whatever the notification's time.
    pub starts_at: String,
    /// The alert's labels (or Datadog tags as `key: value`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The runbook the alert names, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<RunbookRef>,
    /// When the webhook was received (RFC 3339, UTC).
    pub received_at: String,
    /// The same instant in seconds since the Unix epoch: the runbook derives the record's
    /// TTL expiry from it (Step Functions' JSONPath has no clock arithmetic).
    pub received_at_epoch: i64,
    /// AWS account that received it.
    pub account: String,
    /// AWS region that received it.
    pub region: String,
}

impl PlatformEvent for IncidentCreated {
    const DETAIL_TYPE: DetailType = DetailType::IncidentCreated;
}

/// `incident.resolved`: the alert behind an incident stopped firing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentResolved {
    /// The incident (same derivation as at creation).
    pub incident_id: String,
    /// Alert name.
    pub alert_name: String,
    /// Severity.
    pub severity: Severity,
    /// The sender's fingerprint of the alert.
    pub fingerprint: String,
    /// When the alert started (RFC 3339, UTC); with the id, the record's key. alert_ingest
    /// always sets it (Datadog: the constant of its creation events). Empty from another
    /// producer that does not know it: the runbook then finds the record by its id alone.
    pub starts_at: String,
    /// When it stopped (RFC 3339, UTC).
    pub resolved_at: String,
    /// Seconds from `starts_at` to `resolved_at`: the incident's time to resolve. Absent when
    /// `starts_at` is unknown (never a made-up zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_resolve_seconds: Option<i64>,
    /// When the webhook was received (RFC 3339, UTC).
    pub received_at: String,
    /// The same instant in seconds since the Unix epoch (see [`IncidentCreated`]).
    pub received_at_epoch: i64,
}

impl PlatformEvent for IncidentResolved {
    const DETAIL_TYPE: DetailType = DetailType::IncidentResolved;
}

/// `action.completed`: the runbook ran an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionCompleted {
    /// The incident.
    pub incident_id: String,
    /// The alert behind it.
    pub alert_name: String,
    /// Its severity.
    pub severity: Severity,
    /// The action.
    pub action: Action,
    /// Its target.
    pub target: Target,
    /// How it ended.
    pub outcome: Outcome,
    /// What was done.
    pub message: String,
    /// When the runbook finished it (RFC 3339, UTC).
    pub completed_at: String,
}

impl PlatformEvent for ActionCompleted {
    const DETAIL_TYPE: DetailType = DetailType::ActionCompleted;
}

/// `incident.escalated`: the runbook handed the incident to people (no runbook, an action
/// refused, failed or denied, no approval before the deadline, or not resolved by the deadline).
/// A projection of the incident: what a pager needs, never the execution's whole state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentEscalated {
    /// The incident.
    pub incident_id: String,
    /// Alert name.
    pub alert_name: String,
    /// Severity (the paging subscription filters on it).
    pub severity: Severity,
    /// One-line summary.
    pub summary: String,
    /// The sender's fingerprint of the alert.
    pub fingerprint: String,
    /// When the alert started (RFC 3339, UTC).
    pub starts_at: String,
    /// When the webhook was received (RFC 3339, UTC).
    pub received_at: String,
    /// When the runbook escalated (RFC 3339, UTC).
    pub escalated_at: String,
    /// Always `escalated`.
    pub status: String,
}

impl PlatformEvent for IncidentEscalated {
    const DETAIL_TYPE: DetailType = DetailType::IncidentEscalated;
}
