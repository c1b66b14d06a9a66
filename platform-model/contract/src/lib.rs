//! The event contract shared by the producer (alert_ingest), the consumers (state machine,
//! notifications) and the infrastructure that routes between them, and the binaries' runtime
//! configuration ([`runtime`]).
//!
//! A small crate of its own (serde, schemars, thiserror and serde_json only) so that the Lambda
//! handlers and checkout compile it without the platform's Kubernetes, monitoring or settings
//! code; `platform-model` re-exports it as `platform_model::contract`. Its `cfn` feature (off by
//! default, on in `platform-model`) lets synth build an environment of CloudFormation values.
//!
//! # Example: from an incident to a runbook request
//!
//! A consumer reads an `incident.created` detail as `alert_ingest` published it, and the runbook
//! it names becomes the request `runbook_action` receives:
//!
//! ```
//! use platform_contract::Severity;
//! use platform_contract::events::{IncidentCreated, PlatformEvent};
//! use platform_contract::runbook::{Action, ActionRequest};
//! use serde_json::json;
//!
//! let detail: IncidentCreated = serde_json::from_value(json!({
//!     "incident_id": "am-3f2a9c",
//!     "alert_name": "CheckoutHighLatency",
//!     "severity": "critical",
//!     "summary": "checkout p99 latency above 300 ms",
//!     "fingerprint": "3f2a9c",
//!     "starts_at": "2026-01-05T10:00:00Z",
//!     "labels": {"namespace": "checkout"},
//!     "runbook": {
//!         "action": "scale_deployment",
//!         "target": {"namespace": "checkout", "name": "checkout"}
//!     },
//!     "received_at": "2026-01-05T10:00:03Z",
//!     "received_at_epoch": 1_767_607_203,
//!     "account": "111111111111",
//!     "region": "eu-west-1"
//! }))?;
//! assert_eq!(detail.severity, Severity::Critical); // only critical pages
//! assert_eq!(IncidentCreated::DETAIL_TYPE.as_str(), "incident.created");
//!
//! let runbook = detail.runbook.expect("the alert names a runbook");
//! let request = ActionRequest {
//!     incident_id: detail.incident_id,
//!     action: runbook.action,
//!     target: runbook.target,
//!     max_replicas: Some(6),
//!     replicas: None,
//!     degraded_mode_parameter: None,
//!     approval_above_replicas: None,
//!     approved_by: None,
//!     dry_run: false,
//! };
//! assert_eq!(request.action, Action::ScaleDeployment);
//! assert_eq!(
//!     serde_json::to_value(&request)?,
//!     json!({
//!         "incident_id": "am-3f2a9c",
//!         "action": "scale_deployment",
//!         "target": {"namespace": "checkout", "name": "checkout"},
//!         "max_replicas": 6,
//!         "dry_run": false
//!     })
//! );
//! # Ok::<(), serde_json::Error>(())
//! ```

pub mod approval;
pub mod checkout;
pub mod events;
pub mod runbook;
pub mod runtime;
pub mod telemetry;
pub mod webhook;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How urgent an incident is. Drives paging: only `critical` reaches the paging endpoint.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Pages the on-call engineer.
    Critical,
    /// Notifies, does not page.
    Warning,
    /// Informational.
    Info,
}

impl Severity {
    /// The wire name (`critical`, `warning`, `info`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// The attributes of an incident record in the `sre-incidents` table.
pub mod incident_record {
    /// Partition key: the deterministic incident id (source + fingerprint + start time).
    pub const INCIDENT_ID: &str = "incident_id";
    /// Sort key: when the incident started (RFC 3339, UTC); for Datadog, whose notifications
    /// carry no cycle start, the constant `1970-01-01T00:00:00Z` (the id encodes the cycle).
    pub const TIMESTAMP: &str = "timestamp";
    /// Epoch seconds after which DynamoDB's TTL deletes the record.
    pub const EXPIRES_AT: &str = "expires_at";
}
