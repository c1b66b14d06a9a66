//! The metrics the platform's functions emit (CloudWatch embedded metric format, one JSON log
//! line per request) and its alarms read: one owner for their namespace, names and dimensions.

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
