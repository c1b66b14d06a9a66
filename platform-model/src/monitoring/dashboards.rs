//! Grafana dashboards as JSON: the building blocks ([`dashboard`], [`panel`]) a service's
//! dashboards are made of, and the platform's SRE incidents view.
//!
//! ```
//! use platform_model::monitoring::dashboards::{Dashboard, dashboard, panel, sre_incidents};
//!
//! let board = Dashboard {
//!     name: "payments-red".into(),
//!     json: dashboard("payments-red", "Payments", &["payments"], vec![
//!         panel(1, "Request rate", "reqps", 0, 0, &[("sum(rate(payments_requests_total[5m]))", "req/s")]),
//!     ]),
//! };
//! assert_eq!(board.json["panels"][0]["targets"][0]["refId"], "A");
//! assert_eq!(sre_incidents().json["uid"], "sre-incidents");
//! ```

use serde_json::{Value, json};

/// A dashboard: its file stem and its JSON model.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    /// File stem and ConfigMap name suffix, e.g. `checkout-red`.
    pub name: String,
    /// The dashboard JSON (Grafana's model).
    pub json: Value,
}

/// A time-series panel at grid position (`x`, `y`), 12 wide and 8 high, with one query per
/// `(expression, legend)` on the `prometheus` data source.
pub fn panel(id: u32, title: &str, unit: &str, x: u32, y: u32, targets: &[(&str, &str)]) -> Value {
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

/// A dashboard model: UTC, read-only, refreshed every 30 s, the last 6 hours.
pub fn dashboard(uid: &str, title: &str, tags: &[&str], panels: Vec<Value>) -> Value {
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

/// The SRE incidents dashboard: firing alerts by severity, webhook notifications to the
/// pipeline and their failures, every SLO's error ratio, remediation alerts by action.
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
                    "SLO error ratio (1h window) by SLO",
                    "percentunit",
                    0,
                    8,
                    &[("slo:sli_error:ratio_rate1h", "{{slo}}")],
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
