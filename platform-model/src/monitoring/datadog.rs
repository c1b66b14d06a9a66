//! Datadog monitors as code: the Datadog equivalent of an [`Alert`], in the Datadog API's
//! monitor JSON (`POST /api/v1/monitor`), with the same threshold, the tags alert_ingest reads
//! (`severity:`, `runbook_action:`, `runbook_target:`) and the platform's webhook
//! (`@webhook-sre-platform`) in the message, so a Datadog alert enters the same runbook as the
//! Prometheus one.
//!
//! A service declares the Datadog query of an alert with [`Alert::datadog`]; the metric names
//! are those the Datadog Agent's OpenMetrics check (v2, namespace [`NAMESPACE`]) gives the
//! service's Prometheus metrics: a counter `x_total` becomes `sre.x.count`, a histogram (with
//! `histogram_buckets_as_distributions`) the distribution `sre.x`, a gauge `sre.x`, and the
//! scrape's health the service check `sre.openmetrics.health`.
//!
//! ```
//! use platform_model::contract::{Severity, runbook::{Action, Target}};
//! use platform_model::monitoring::Alert;
//! use platform_model::monitoring::datadog::{self, DatadogQuery};
//!
//! let alert = Alert::new("PaymentsErrors", "rate(payments_errors_total[5m]) > 1")
//!     .severity(Severity::Critical)
//!     .summary("payments fails")
//!     .description("More than one error a second.")
//!     .runbook(Action::RestartDeployment, Target { namespace: "payments".into(), name: "payments".into() })
//!     .datadog(DatadogQuery::metric(
//!         "sum(last_5m)",
//!         format!("sum:{}{{kube_namespace:payments}}.as_rate()", datadog::counter("payments_errors_total")),
//!         ">",
//!         1.0,
//!     ));
//! let m = datadog::monitor(&alert, "payments", "payments", None, &["env:prod".into()]).unwrap()?;
//! assert_eq!(m["query"], "sum(last_5m):sum:sre.payments_errors.count{kube_namespace:payments}.as_rate() > 1");
//! assert_eq!(m["options"]["thresholds"]["critical"], 1.0);
//! assert!(m["message"].as_str().unwrap().ends_with("@webhook-sre-platform"));
//! let tags: Vec<&str> = m["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
//! assert!(tags.contains(&"runbook_target:payments/payments"));
//! # Ok::<(), platform_model::Error>(())
//! ```

use serde_json::{Value, json};

use super::{Alert, render_known_labels};
use crate::Error;
use crate::contract::Severity;
use crate::contract::webhook::datadog::WEBHOOK_NAME;

/// The OpenMetrics check's namespace: every metric it collects is `sre.<name>`.
pub const NAMESPACE: &str = "sre";

/// The Datadog name of a Prometheus counter (`checkout_errors_total` -> `sre.checkout_errors.count`).
pub fn counter(prometheus: &str) -> String {
    format!(
        "{NAMESPACE}.{}.count",
        prometheus.strip_suffix("_total").unwrap_or(prometheus)
    )
}

/// The Datadog name of a Prometheus gauge, or of a histogram collected as a distribution.
pub fn gauge(prometheus: &str) -> String {
    format!("{NAMESPACE}.{prometheus}")
}

/// The OpenMetrics check's service check (OK when the endpoint answered the last scrape).
pub fn health_check() -> String {
    format!("{NAMESPACE}.openmetrics.health")
}

/// What Datadog evaluates for an alert.
#[derive(Debug, Clone, PartialEq)]
pub enum DatadogQuery {
    /// A metric monitor (`query alert`): `<aggregation>:<expression> <comparator> <threshold>`.
    Metric {
        /// E.g. `sum(last_5m)`.
        aggregation: String,
        /// The metric expression, e.g. `sum:sre.x.count{...}.as_count()`.
        expression: String,
        /// `>`, `>=`, `<` or `<=`.
        comparator: String,
        /// The critical threshold (also `options.thresholds.critical`).
        threshold: f64,
    },
    /// A service check monitor: critical after `failures` failed checks in a row per group.
    ServiceCheck {
        /// The check's name.
        check: String,
        /// The tags it is scoped to (`over(...)`).
        scope: Vec<String>,
        /// One alert per value of this tag.
        by: String,
        /// Consecutive failed checks before it fires.
        failures: u32,
    },
}

impl DatadogQuery {
    /// A metric monitor's query.
    pub fn metric(
        aggregation: impl Into<String>,
        expression: impl Into<String>,
        comparator: impl Into<String>,
        threshold: f64,
    ) -> DatadogQuery {
        DatadogQuery::Metric {
            aggregation: aggregation.into(),
            expression: expression.into(),
            comparator: comparator.into(),
            threshold,
        }
    }

    /// The monitor's `type` and `query`.
    fn type_and_query(&self) -> (&'static str, String) {
        match self {
            DatadogQuery::Metric {
                aggregation,
                expression,
                comparator,
                threshold,
            } => (
                "query alert",
                format!(
                    "{aggregation}:{expression} {comparator} {}",
                    num(*threshold)
                ),
            ),
            DatadogQuery::ServiceCheck {
                check,
                scope,
                by,
                failures,
            } => (
                "service check",
                format!(
                    "\"{check}\".over({}).by(\"{by}\").last({}).count_by_status()",
                    scope
                        .iter()
                        .map(|s| format!("\"{s}\""))
                        .collect::<Vec<_>>()
                        .join(","),
                    failures + 1
                ),
            ),
        }
    }

    /// `options.thresholds`.
    fn thresholds(&self) -> Value {
        match self {
            DatadogQuery::Metric { threshold, .. } => json!({ "critical": threshold }),
            DatadogQuery::ServiceCheck { failures, .. } => {
                json!({ "critical": failures, "ok": 1, "warning": 1 })
            }
        }
    }
}

/// A number as Datadog's query parser reads it (no trailing `.0`).
fn num(x: f64) -> String {
    let s = format!("{x}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Datadog's priority for a severity (alert_ingest maps P1/P2 to critical; the severity tag
/// decides anyway).
fn priority(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 1,
        Severity::Warning => 3,
        Severity::Info => 4,
    }
}

/// The monitor of `alert` for service `namespace/service`, or `None` when the alert declares
/// no Datadog query. The message links `runbook_url` when given; `extra_tags` (e.g.
/// `env:prod`) are added to the alert's own labels.
pub fn monitor(
    alert: &Alert,
    service: &str,
    namespace: &str,
    runbook_url: Option<&str>,
    extra_tags: &[String],
) -> Option<Result<Value, Error>> {
    let query = alert.datadog_query()?;
    let mut labels = alert.labels();
    labels.insert("namespace".into(), namespace.into());
    labels.insert("job".into(), service.into());
    let annotations = alert.annotations();
    let text = |key: &str| render_known_labels(&annotations[key], &labels);
    let mut tags: Vec<String> = alert
        .labels()
        .into_iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    tags.push(format!("service:{service}"));
    tags.extend(extra_tags.iter().cloned());
    tags.sort();
    for t in &tags {
        if t.len() > 200 || t.contains(',') || t.chars().any(char::is_whitespace) {
            return Some(Err(Error::Construct {
                construct: format!("Datadog monitor {}", alert.name()),
                message: format!(
                    "tag {t:?}: Datadog tags have no spaces or commas and at most 200 characters ($TAGS is comma-separated)"
                ),
            }));
        }
    }
    let mut message = format!("{}\n\n{}", text("summary"), text("description"));
    if let Some(url) = runbook_url {
        message.push_str(&format!("\n\nRunbook: {url}"));
    }
    message.push_str(&format!("\n\n@webhook-{WEBHOOK_NAME}"));
    let (kind, q) = query.type_and_query();
    Some(Ok(json!({
        "name": alert.name(),
        "type": kind,
        "query": q,
        "message": message,
        "tags": tags,
        "priority": priority(alert.severity_level()),
        "options": {
            "thresholds": query.thresholds(),
            "notify_no_data": false,
            "include_tags": true,
            "require_full_window": false,
            "new_group_delay": 60,
            "renotify_interval": 0,
            "notify_audit": false,
        },
    })))
}
