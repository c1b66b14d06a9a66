//! Outcome metrics: one CloudWatch Embedded Metric Format (EMF) line per webhook request.
//!
//! alert_ingest answers every request itself (400, 401, 503 included), so the Lambda `Errors`
//! metric never sees a wrong token, a bus outage or a rejected payload. Each request therefore
//! prints one JSON line to stdout; Lambda sends it to CloudWatch Logs, which extracts the
//! metrics from the `_aws` metadata (no API call, no extra permission):
//!
//! - `Requests` (Count, 1) with the dimension `Outcome` = `accepted`, `partial`, `rejected`,
//!   `unauthorized`, `refused` or `unavailable`;
//! - `RejectedAlerts` (Count): the alerts of the payload that were rejected (the `rejected`
//!   list of the answer; 0 when the envelope itself was invalid).
//!
//! Namespace, names and dimension are `platform_contract::telemetry`'s, which the alarms
//! read too. Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use std::io::Write;
use std::sync::{Arc, Mutex};

use platform_contract::telemetry::{
    INGEST_NAMESPACE, INGEST_REJECTED_ALERTS_METRIC, INGEST_REQUESTS_METRIC, IngestOutcome,
    OUTCOME_DIMENSION,
};
use serde_json::{Map, Value, json};

/// The EMF unit of both metrics.
pub const UNIT: &str = "Count";

/// The EMF document of one request: `outcome`, `rejected_alerts`, at `timestamp_millis`
/// (milliseconds since the Unix epoch).
pub fn line(outcome: IngestOutcome, rejected_alerts: usize, timestamp_millis: i64) -> Value {
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{
                "Namespace": INGEST_NAMESPACE,
                "Dimensions": [[OUTCOME_DIMENSION]],
                "Metrics": [
                    {"Name": INGEST_REQUESTS_METRIC, "Unit": UNIT},
                    {"Name": INGEST_REJECTED_ALERTS_METRIC, "Unit": UNIT},
                ],
            }],
        }),
    );
    doc.insert(OUTCOME_DIMENSION.into(), json!(outcome.as_str()));
    doc.insert(INGEST_REQUESTS_METRIC.into(), json!(1));
    doc.insert(INGEST_REJECTED_ALERTS_METRIC.into(), json!(rejected_alerts));
    Value::Object(doc)
}

/// Where the lines go.
#[derive(Debug, Clone, Default)]
pub enum Sink {
    /// The process's stdout (Lambda ships it to CloudWatch Logs).
    #[default]
    Stdout,
    /// Kept in memory (tests).
    Memory(Arc<Mutex<Vec<String>>>),
}

impl Sink {
    /// A sink keeping the lines in memory, and the lines.
    pub fn memory() -> (Sink, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (Sink::Memory(lines.clone()), lines)
    }

    /// Write `doc` as one line. A failed write is ignored: a metric is never worth failing
    /// the request.
    pub fn emit(&self, doc: &Value) {
        let text = doc.to_string();
        match self {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
            Sink::Memory(lines) => {
                if let Ok(mut lines) = lines.lock() {
                    lines.push(text);
                }
            }
        }
    }
}
