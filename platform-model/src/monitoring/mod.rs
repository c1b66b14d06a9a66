//! Monitoring as typed values: alerts, SLOs, rule sets with their promtool tests, the
//! Alertmanager configuration, Grafana dashboards and the Helm values of the add-ons.
//!
//! An alert is declared once ([`Alert`]); from it come the PrometheusRule entry, the promtool
//! unit test, and the labels (`severity`, `runbook_action`, `runbook_target`) Alertmanager
//! routes on and the runbook state machine dispatches on. [`catalog`] lists every alert with its
//! runbook.
//!
//! # Example: another team's alert with a runbook, and an SLO
//!
//! ```
//! use platform_model::contract::{Severity, runbook::{Action, Target}};
//! use platform_model::monitoring::{Alert, AlertCase, RuleSet, Sli, Slo};
//!
//! let target = Target { namespace: "apps".into(), name: "payments".into() };
//! let down = Alert::new("PaymentsDown", r#"up{namespace="apps",job="payments"} == 0"#)
//!     .for_("2m")
//!     .severity(Severity::Critical)
//!     .summary("payments instance {{ $labels.instance }} is down")
//!     .description("The runbook restarts the Deployment.")
//!     .runbook(Action::RestartDeployment, target)
//!     .case(AlertCase::fires("one target down", "5m",
//!             [("namespace", "apps"), ("job", "payments"), ("instance", "a")])
//!         .series(r#"up{namespace="apps",job="payments",instance="a"}"#, "0x10"))
//!     .case(AlertCase::quiet("all up", "5m")
//!         .series(r#"up{namespace="apps",job="payments",instance="a"}"#, "1x10"));
//! let alerts = RuleSet::from_alerts("payments", "payments", vec![down])?;
//!
//! let slo = Slo::new("payments-availability", "PaymentsAvailability", 0.999, Sli::BadOverTotal {
//!     bad: r#"payments_errors_total{namespace="apps",job="payments"}"#.into(),
//!     total: r#"payments_requests_total{namespace="apps",job="payments"}"#.into(),
//! }).label("namespace", "apps");
//! let slo_rules = slo.rule_set()?;
//!
//! assert_eq!(alerts.rule_file_path(), "monitoring/rules/payments.rules.yaml");
//! assert!(alerts.rule_file()?.contains("runbook_action: restart_deployment"));
//! assert!(alerts.test_file()?.contains("- ../rules/payments.rules.yaml"));
//! assert_eq!(slo_rules.name, "payments-availability-slo");
//! # Ok::<(), platform_model::Error>(())
//! ```

mod alert;
mod catalog;
mod promtool;
mod slo;

pub use alert::{
    Alert, AlertCase, RUNBOOK_ACTION_LABEL, RUNBOOK_TARGET_LABEL, SEVERITY_LABEL, Series,
    parse_target_label, render_known_labels, render_labels, target_label,
};
pub use catalog::{CatalogEntry, catalog};
pub use promtool::{
    AlertRuleTest, EVALUATION_INTERVAL, ExpAlert, InputSeries, RUNBOOK_URL, RuleSet, TestGroup,
};
pub use slo::{BurnWindow, STANDARD_WINDOWS, Sli, Slo, duration};

/// Whether `s` is a Prometheus duration of one unit, such as `30s`, `5m` or `4h` (ms, s, m, h,
/// d, w, y).
///
/// ```
/// assert!(platform_model::monitoring::is_duration("5m"));
/// assert!(!platform_model::monitoring::is_duration("5 minutes"));
/// ```
pub fn is_duration(s: &str) -> bool {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(&s[digits..], "ms" | "s" | "m" | "h" | "d" | "w" | "y")
}

/// The seconds of a one-unit Prometheus duration (`30s`, `5m`; `ms` rounds down), `None` when
/// it is not one.
pub fn duration_seconds(s: &str) -> Option<u64> {
    if !is_duration(s) {
        return None;
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = s[..digits].parse().ok()?;
    let unit = match &s[digits..] {
        "ms" => return Some(n / 1000),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => 31_536_000,
    };
    n.checked_mul(unit)
}

/// The longest range selector of a PromQL expression (`rate(x[5m])` -> 300 s; a subquery's
/// range counts), 0 without one.
pub fn longest_range_seconds(expr: &str) -> u64 {
    expr.split('[')
        .skip(1)
        .filter_map(|rest| rest.split(']').next())
        .filter_map(|inside| duration_seconds(inside.split(':').next().unwrap_or_default()))
        .max()
        .unwrap_or(0)
}

pub mod alertmanager;
pub mod dashboards;
pub mod datadog;
pub mod helm;
pub mod runbook_page;

#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn durations_and_longest_windows() {
        assert_eq!(duration_seconds("5m"), Some(300));
        assert_eq!(duration_seconds("1500ms"), Some(1));
        assert_eq!(duration_seconds("5"), None);
        assert_eq!(
            longest_range_seconds("sum(rate(a[5m])) / sum(rate(b[1h])) > 0.1"),
            3600
        );
        assert_eq!(longest_range_seconds("max_over_time(x[30m:1m])"), 1800);
        assert_eq!(longest_range_seconds("up == 0"), 0);
    }
}
