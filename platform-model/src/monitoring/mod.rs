//! Monitoring as typed values: alerts, SLOs, rule sets with their promtool tests, the
//! Alertmanager configuration, Grafana dashboards and the Helm values of the add-ons.
//!
//! An alert is declared once ([`Alert`]); from it come the PrometheusRule entry, the promtool
//! unit test, and the labels (`severity`, `runbook_action`, `runbook_target`) Alertmanager
//! routes on and the runbook state machine dispatches on. [`catalog`] lists every alert with its
//! runbook.

mod alert;
mod catalog;
mod promtool;
mod slo;

pub use alert::{
    Alert, AlertCase, RUNBOOK_ACTION_LABEL, RUNBOOK_TARGET_LABEL, SEVERITY_LABEL, Series,
    parse_target_label, render_labels, target_label,
};
pub use catalog::{
    APPS_NAMESPACE, CHECKOUT, CatalogEntry, catalog, checkout_alerts, checkout_slo, rule_sets,
};
pub use promtool::{AlertRuleTest, EVALUATION_INTERVAL, ExpAlert, InputSeries, RuleSet, TestGroup};
pub use slo::{BurnWindow, STANDARD_WINDOWS, Sli, Slo, duration};

pub mod alertmanager;
pub mod dashboards;
pub mod helm;
