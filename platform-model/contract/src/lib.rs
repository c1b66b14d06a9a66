//! The event contract shared by the producer (alert_ingest), the consumers (state machine,
//! notifications) and the infrastructure that routes between them, and the binaries' runtime
//! configuration ([`runtime`]).
//!
//! A small crate of its own (serde, schemars, thiserror and serde_json only) so that the Lambda
//! handlers and checkout compile it without the platform's Kubernetes, monitoring or settings
//! code; `platform-model` re-exports it as `platform_model::contract`. Its `cfn` feature (off by
//! default, on in `platform-model`) lets synth build an environment of CloudFormation values.

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
