//! The metrics the platform's functions emit (CloudWatch embedded metric format, one JSON log
//! line per request) and its alarms read: one owner for their namespace, names and dimensions.
//!
//! # Example: one embedded-metric-format line
//!
//! A function writes one JSON log line per request; CloudWatch turns it into metrics named here,
//! which the alarms then read by the same constants:
//!
//! ```
//! use platform_contract::telemetry::{
//!     INGEST_NAMESPACE, INGEST_REJECTED_ALERTS_METRIC, INGEST_REQUESTS_METRIC, IngestOutcome,
//!     OUTCOME_DIMENSION,
//! };
//! use serde_json::json;
//!
//! let outcome = IngestOutcome::Partial;
//! let line = json!({
//!     "_aws": {
//!         "Timestamp": 1_767_607_203_000_i64,
//!         "CloudWatchMetrics": [{
//!             "Namespace": INGEST_NAMESPACE,
//!             "Dimensions": [[OUTCOME_DIMENSION]],
//!             "Metrics": [
//!                 {"Name": INGEST_REQUESTS_METRIC, "Unit": "Count"},
//!                 {"Name": INGEST_REJECTED_ALERTS_METRIC, "Unit": "Count"}
//!             ]
//!         }]
//!     },
//!     OUTCOME_DIMENSION: outcome.as_str(),
//!     INGEST_REQUESTS_METRIC: 1,
//!     INGEST_REJECTED_ALERTS_METRIC: 2
//! });
//! let text = line.to_string();
//! assert!(text.contains(r#""Namespace":"SrePlatform/AlertIngest""#));
//! assert_eq!(line["Outcome"], "partial");
//! assert_eq!(line["RejectedAlerts"], 2);
//! // Every outcome has its own dimension value.
//! let values: std::collections::BTreeSet<_> = IngestOutcome::ALL.iter().map(|o| o.as_str()).collect();
//! assert_eq!(values.len(), IngestOutcome::ALL.len());
//! ```

/// The CloudWatch namespace of alert_ingest's metrics.
pub const INGEST_NAMESPACE: &str = "SrePlatform/AlertIngest";
/// Requests answered, one per webhook call, with the dimension [`OUTCOME_DIMENSION`].
pub const INGEST_REQUESTS_METRIC: &str = "Requests";
/// Alerts of a payload that were rejected (invalid), counted per request.
pub const INGEST_REJECTED_ALERTS_METRIC: &str = "RejectedAlerts";
/// The dimension of [`INGEST_REQUESTS_METRIC`].
pub const OUTCOME_DIMENSION: &str = "Outcome";

/// How alert_ingest answered a webhook: the values of [`OUTCOME_DIMENSION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IngestOutcome {
    /// 202: every alert published.
    Accepted,
    /// 202: the valid alerts published, some rejected (named in the answer).
    Partial,
    /// 400: nothing valid in the payload.
    Rejected,
    /// 401: missing or wrong bearer token.
    Unauthorized,
    /// 404 / 405 / 413: unknown source, wrong method, body too large.
    Refused,
    /// 503: the token could not be read or events could not be delivered (the sender retries).
    Unavailable,
}

impl IngestOutcome {
    /// Every outcome.
    pub const ALL: [IngestOutcome; 6] = [
        IngestOutcome::Accepted,
        IngestOutcome::Partial,
        IngestOutcome::Rejected,
        IngestOutcome::Unauthorized,
        IngestOutcome::Refused,
        IngestOutcome::Unavailable,
    ];

    /// The dimension value.
    pub const fn as_str(self) -> &'static str {
        match self {
            IngestOutcome::Accepted => "accepted",
            IngestOutcome::Partial => "partial",
            IngestOutcome::Rejected => "rejected",
            IngestOutcome::Unauthorized => "unauthorized",
            IngestOutcome::Refused => "refused",
            IngestOutcome::Unavailable => "unavailable",
        }
    }
}

/// The namespace of the remediation metrics, counted by metric filters from the audit log
/// (`action.completed` outcomes) and runbook_action's logs (errors).
pub const REMEDIATION_NAMESPACE: &str = "SrePlatform/Remediation";
/// Actions that changed their target (`action.completed`, outcome `applied` or `no_op`).
pub const REMEDIATIONS_SUCCEEDED_METRIC: &str = "RemediationsSucceeded";
/// Actions a guard refused (`action.completed`, outcome `refused`).
pub const REMEDIATIONS_REFUSED_METRIC: &str = "RemediationsRefused";
/// runbook_action's error log lines (a failed action: retried, then escalated).
pub const REMEDIATION_ERRORS_METRIC: &str = "RemediationErrors";

/// alert_ingest's log message for a payload refused as a whole (fields `source`, `field`,
/// `error`): the saved Logs Insights query of rejections reads it.
pub const LOG_BAD_WEBHOOK: &str = "bad webhook";
/// alert_ingest's log message for one rejected alert (fields `source`, `alertname`, `field`).
pub const LOG_ALERT_REJECTED: &str = "alert rejected";
/// alert_ingest's log message for a failed `PutEvents` attempt (field `error`).
pub const LOG_PUT_EVENTS_FAILED: &str = "PutEvents failed";
