//! Grafana dashboards as JSON: the checkout service's RED view and the SRE incidents view.

use serde_json::{Value, json};

use super::catalog::{APPS_NAMESPACE, CHECKOUT};

/// A dashboard: its file stem and its JSON model.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    /// File stem and ConfigMap name suffix, e.g. `checkout-red`.
    pub name: String,
    /// The dashboard JSON (Grafana's model).
    pub json: Value,
}

fn panel(id: u32, title: &str, unit: &str, x: u32, y: u32, targets: &[(&str, &str)]) -> Value {
    json!({
        "id": id,
        "type": "timeseries",
        "title": title,
        "datasource": { "type": "prometheus", "uid": "prometheus" },
        "gridPos": { "h": 8, "w": 12, "x": x, "y": y },
        "fieldConfig": { "defaults": { "unit": unit }, "overrides": [] },
        "targets": targets.iter().enumerate().map(|(i, (expr, legend))| json!({
            "refId": char::from(b'A' + i as u8).to_string(),
            "expr": expr,
            "legendFormat": legend,
        })).collect::<Vec<_>>(),
    })
}

fn dashboard(uid: &str, title: &str, tags: &[&str], panels: Vec<Value>) -> Value {
    json!({
        "uid": uid,
        "title": title,
        "tags": tags,
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": false,
        "refresh": "30s",
        "time": { "from": "now-6h", "to": "now" },
        "panels": panels,
    })
}

/// The checkout RED dashboard: request rate, error ratio, duration p50 / p95 / p99.
pub fn checkout_red() -> Dashboard {
    let sel = format!("namespace=\"{APPS_NAMESPACE}\",job=\"{CHECKOUT}\"");
    let q = |p: &str| {
        format!(
            "histogram_quantile({p}, sum by (le) (rate(checkout_request_duration_seconds_bucket{{{sel}}}[5m])))"
        )
    };
    let rate = format!("sum(rate(checkout_requests_total{{{sel}}}[5m]))");
    let errors = format!(
        "sum(rate(checkout_errors_total{{{sel}}}[5m])) / sum(rate(checkout_requests_total{{{sel}}}[5m]))"
    );
    let (p50, p95, p99) = (q("0.5"), q("0.95"), q("0.99"));
    Dashboard {
        name: "checkout-red".to_owned(),
        json: dashboard(
            "checkout-red",
            "Checkout: rate, errors, duration",
            &["checkout", "red", "sre-platform"],
            vec![
                panel(1, "Request rate", "reqps", 0, 0, &[(&rate, "requests/s")]),
                panel(
                    2,
                    "Error ratio",
                    "percentunit",
                    12,
                    0,
                    &[(&errors, "errors")],
                ),
                panel(
                    3,
                    "Duration",
                    "s",
                    0,
                    8,
                    &[(&p50, "p50"), (&p95, "p95"), (&p99, "p99")],
                ),
                panel(
                    4,
                    "Degraded mode",
                    "short",
                    12,
                    8,
                    &[(
                        &format!("max(checkout_degraded_mode_enabled{{{sel}}})"),
                        "degraded",
                    )],
                ),
            ],
        ),
    }
}

/// The SRE incidents dashboard: firing alerts by severity, webhook notifications to the
/// pipeline and their failures, and the checkout SLO's burn rates.
pub fn sre_incidents() -> Dashboard {
    Dashboard {
        name: "sre-incidents".to_owned(),
        json: dashboard(
            "sre-incidents",
            "SRE: incidents and alerting",
            &["sre", "incidents", "sre-platform"],
            vec![
                panel(
                    1,
                    "Firing alerts by severity",
                    "short",
                    0,
                    0,
                    &[(
                        "sum by (severity) (ALERTS{alertstate=\"firing\",alertname!~\"Watchdog|InfoInhibitor\"})",
                        "{{severity}}",
                    )],
                ),
                panel(
                    2,
                    "Notifications to the pipeline",
                    "short",
                    12,
                    0,
                    &[
                        (
                            "sum(rate(alertmanager_notifications_total{integration=\"webhook\"}[5m]))",
                            "sent/s",
                        ),
                        (
                            "sum(rate(alertmanager_notifications_failed_total{integration=\"webhook\"}[5m]))",
                            "failed/s",
                        ),
                    ],
                ),
                panel(
                    3,
                    "Checkout availability: error ratio by window",
                    "percentunit",
                    0,
                    8,
                    &[
                        (
                            "slo:sli_error:ratio_rate5m{slo=\"checkout-availability\"}",
                            "5m",
                        ),
                        (
                            "slo:sli_error:ratio_rate1h{slo=\"checkout-availability\"}",
                            "1h",
                        ),
                        (
                            "slo:sli_error:ratio_rate6h{slo=\"checkout-availability\"}",
                            "6h",
                        ),
                        (
                            "slo:sli_error:ratio_rate3d{slo=\"checkout-availability\"}",
                            "3d",
                        ),
                    ],
                ),
                panel(
                    4,
                    "Remediation alerts by runbook action",
                    "short",
                    12,
                    8,
                    &[(
                        "sum by (runbook_action) (ALERTS{alertstate=\"firing\",runbook_action!=\"\"})",
                        "{{runbook_action}}",
                    )],
                ),
            ],
        ),
    }
}

/// Every dashboard.
pub fn dashboards() -> Vec<Dashboard> {
    vec![checkout_red(), sre_incidents()]
}
