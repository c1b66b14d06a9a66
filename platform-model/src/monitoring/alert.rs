//! An alert declared once: its rule, its labels, its runbook and its promtool cases.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kcr_monitoring_coreos_com::v1::prometheusrules::PrometheusRuleGroupsRules;

use crate::Error;
use crate::contract::Severity;
use crate::contract::runbook::{Action, RunbookRef, Target};

/// The alert label that carries the severity (Alertmanager routes on it).
pub const SEVERITY_LABEL: &str = "severity";
/// The alert label naming the runbook action (`scale_deployment`, ...); `alert_ingest` copies it
/// into `IncidentCreated.runbook` and the state machine dispatches on it.
pub const RUNBOOK_ACTION_LABEL: &str = "runbook_action";
/// The alert label naming the runbook's target as `namespace/name` (`name` alone for a node).
pub const RUNBOOK_TARGET_LABEL: &str = "runbook_target";

/// The `runbook_target` label value of a target: `namespace/name`, or `name` without namespace.
pub fn target_label(target: &Target) -> String {
    if target.namespace.is_empty() {
        target.name.clone()
    } else {
        format!("{}/{}", target.namespace, target.name)
    }
}

/// Reads a `runbook_target` label value back (the inverse of [`target_label`]).
pub fn parse_target_label(value: &str) -> Target {
    match value.split_once('/') {
        Some((namespace, name)) => Target {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        },
        None => Target {
            namespace: String::new(),
            name: value.to_owned(),
        },
    }
}

/// One input series of a promtool case: a series selector and its values in promtool's
/// expanding notation (`0+10x30`: start at 0, add 10 each interval, 30 times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// `metric{label="value",...}`.
    pub series: String,
    /// Values, one per evaluation interval.
    pub values: String,
}

impl Series {
    /// A series and its values.
    pub fn new(series: impl Into<String>, values: impl Into<String>) -> Series {
        Series {
            series: series.into(),
            values: values.into(),
        }
    }
}

/// One promtool unit-test case of an alert: input series, an evaluation time, and the label sets
/// of the alert instances expected to fire then (none: the alert must stay quiet).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertCase {
    /// What the case shows, for people (becomes the test group's name).
    pub name: String,
    /// The input series (scraped every minute).
    pub series: Vec<Series>,
    /// When the alert is evaluated, e.g. `20m`.
    pub eval_time: String,
    /// The labels the expression yields for each firing instance (the alert's own labels are
    /// added); empty when the alert must not fire.
    pub fires_with: Vec<BTreeMap<String, String>>,
}

impl AlertCase {
    /// A case in which the alert fires once, with these expression labels.
    pub fn fires<const N: usize>(
        name: impl Into<String>,
        eval_time: impl Into<String>,
        labels: [(&str, &str); N],
    ) -> AlertCase {
        AlertCase {
            name: name.into(),
            series: Vec::new(),
            eval_time: eval_time.into(),
            fires_with: vec![
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ],
        }
    }

    /// A case in which the alert must not fire.
    pub fn quiet(name: impl Into<String>, eval_time: impl Into<String>) -> AlertCase {
        AlertCase {
            name: name.into(),
            series: Vec::new(),
            eval_time: eval_time.into(),
            fires_with: Vec::new(),
        }
    }

    /// Adds an input series.
    #[must_use]
    pub fn series(mut self, series: impl Into<String>, values: impl Into<String>) -> AlertCase {
        self.series.push(Series::new(series, values));
        self
    }
}

/// An alert, declared once. Its [`Alert::rule`] is the PrometheusRule entry, its labels carry
/// the severity and the runbook the state machine dispatches on, and its [`AlertCase`]s become
/// promtool unit tests.
///
/// ```
/// use platform_model::contract::Severity;
/// use platform_model::contract::runbook::{Action, Target};
/// use platform_model::monitoring::{Alert, AlertCase};
///
/// let alert = Alert::new("PaymentsDown", r#"up{job="payments"} == 0"#)
///     .for_("2m")
///     .severity(Severity::Critical)
///     .summary("payments is down")
///     .description("{{ $labels.instance }} has not answered a scrape for 2 minutes.")
///     .runbook(Action::RestartDeployment, Target { namespace: "apps".into(), name: "payments".into() })
///     .case(AlertCase::fires("a target is down", "5m", [("job", "payments"), ("instance", "a")])
///         .series(r#"up{job="payments",instance="a"}"#, "0x10"))
///     .case(AlertCase::quiet("all targets up", "5m")
///         .series(r#"up{job="payments",instance="a"}"#, "1x10"));
/// let labels = alert.labels();
/// assert_eq!(labels["runbook_action"], "restart_deployment");
/// assert_eq!(labels["runbook_target"], "apps/payments");
/// alert.check().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    name: String,
    expr: String,
    for_: String,
    severity: Severity,
    summary: String,
    description: String,
    runbook: Option<RunbookRef>,
    extra_labels: BTreeMap<String, String>,
    cases: Vec<AlertCase>,
    datadog: Option<super::datadog::DatadogQuery>,
}

impl Alert {
    /// An alert named `name` (CamelCase, the `alertname` label) on a PromQL expression.
    /// Defaults: `for: 5m`, severity warning, no runbook.
    pub fn new(name: impl Into<String>, expr: impl Into<String>) -> Alert {
        Alert {
            name: name.into(),
            expr: expr.into(),
            for_: "5m".to_owned(),
            severity: Severity::Warning,
            summary: String::new(),
            description: String::new(),
            runbook: None,
            extra_labels: BTreeMap::new(),
            cases: Vec::new(),
            datadog: None,
        }
    }

    /// The same alert in Datadog: the query of its monitor
    /// ([`crate::monitoring::datadog`]), with the same threshold.
    #[must_use]
    pub fn datadog(mut self, query: super::datadog::DatadogQuery) -> Alert {
        self.datadog = Some(query);
        self
    }

    /// The Datadog query, if the alert declares one.
    pub fn datadog_query(&self) -> Option<&super::datadog::DatadogQuery> {
        self.datadog.as_ref()
    }

    /// How long the expression must hold before the alert fires (a Prometheus duration).
    #[must_use]
    pub fn for_(mut self, duration: impl Into<String>) -> Alert {
        self.for_ = duration.into();
        self
    }

    /// The severity (label `severity`).
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Alert {
        self.severity = severity;
        self
    }

    /// One line for people (annotation `summary`); `{{ $labels.x }}` is replaced per instance.
    #[must_use]
    pub fn summary(mut self, text: impl Into<String>) -> Alert {
        self.summary = text.into();
        self
    }

    /// What is wrong and what to look at (annotation `description`).
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Alert {
        self.description = text.into();
        self
    }

    /// The runbook the platform runs when the alert fires.
    #[must_use]
    pub fn runbook(mut self, action: Action, target: Target) -> Alert {
        self.runbook = Some(RunbookRef { action, target });
        self
    }

    /// A further static label.
    #[must_use]
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Alert {
        self.extra_labels.insert(name.into(), value.into());
        self
    }

    /// A promtool unit-test case.
    #[must_use]
    pub fn case(mut self, case: AlertCase) -> Alert {
        self.cases.push(case);
        self
    }

    /// The alert's name (`alertname`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The PromQL expression.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// How long the expression must hold (`for`).
    pub fn for_duration(&self) -> &str {
        &self.for_
    }

    /// The severity.
    pub fn severity_level(&self) -> Severity {
        self.severity
    }

    /// The runbook, if the alert has one.
    pub fn runbook_ref(&self) -> Option<&RunbookRef> {
        self.runbook.as_ref()
    }

    /// The promtool cases.
    pub fn cases(&self) -> &[AlertCase] {
        &self.cases
    }

    /// The static labels of the rule: `severity`, `runbook_action` and `runbook_target` (when the
    /// alert has a runbook), and any further labels.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.extra_labels.clone();
        labels.insert(SEVERITY_LABEL.to_owned(), self.severity.as_str().to_owned());
        if let Some(rb) = &self.runbook {
            labels.insert(
                RUNBOOK_ACTION_LABEL.to_owned(),
                rb.action.as_str().to_owned(),
            );
            labels.insert(RUNBOOK_TARGET_LABEL.to_owned(), target_label(&rb.target));
        }
        labels
    }

    /// The annotations (`summary`, `description`) as templates.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("summary".to_owned(), self.summary.clone()),
            ("description".to_owned(), self.description.clone()),
        ])
    }

    /// The annotations as Prometheus renders them for an instance with these labels.
    pub fn rendered_annotations(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        self.annotations()
            .into_iter()
            .map(|(k, v)| (k, render_labels(&v, labels)))
            .collect()
    }

    /// The rule entry of the PrometheusRule (and of the plain rule file).
    pub fn rule(&self) -> PrometheusRuleGroupsRules {
        PrometheusRuleGroupsRules {
            alert: Some(self.name.clone()),
            annotations: Some(self.annotations()),
            expr: IntOrString::String(self.expr.clone()),
            r#for: Some(self.for_.clone()),
            labels: Some(self.labels()),
            ..Default::default()
        }
    }

    /// Checks what Prometheus would reject or what would make the alert useless: the name, the
    /// `for` duration, the texts, and that its cases show it firing and staying quiet.
    pub fn check(&self) -> Result<(), Error> {
        let err = |message: String| Error::Construct {
            construct: format!("alert {}", self.name),
            message,
        };
        let mut chars = self.name.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_uppercase())
            || !chars.all(|c| c.is_ascii_alphanumeric())
        {
            return Err(err(
                "the name must be CamelCase: an ASCII capital, then letters and digits".into(),
            ));
        }
        if !super::is_duration(&self.for_) {
            return Err(err(format!(
                "`for`: {:?} is not a Prometheus duration such as \"30s\", \"5m\" or \"4h\"",
                self.for_
            )));
        }
        if self.expr.trim().is_empty() {
            return Err(err("the expression is empty".into()));
        }
        if self.summary.trim().is_empty() || self.description.trim().is_empty() {
            return Err(err("a summary and a description are required".into()));
        }
        for key in self.extra_labels.keys() {
            if [SEVERITY_LABEL, RUNBOOK_ACTION_LABEL, RUNBOOK_TARGET_LABEL].contains(&key.as_str())
            {
                return Err(err(format!("label `{key}` is set by the model")));
            }
        }
        if !self.cases.iter().any(|c| !c.fires_with.is_empty()) {
            return Err(err("needs a promtool case in which it fires".into()));
        }
        if !self.cases.iter().any(|c| c.fires_with.is_empty()) {
            return Err(err("needs a promtool case in which it stays quiet".into()));
        }
        Ok(())
    }
}

/// Replaces `{{ $labels.name }}` with the label's value, as Prometheus's template does for the
/// templates the model writes (only label references are used, so tests can predict the text).
pub fn render_labels(template: &str, labels: &BTreeMap<String, String>) -> String {
    render(template, labels, false)
}

/// [`render_labels`] for a reader who has no instance at hand (a runbook page, a Datadog
/// monitor's message): a label not in `labels` reads `[name]` instead of nothing.
pub fn render_known_labels(template: &str, labels: &BTreeMap<String, String>) -> String {
    render(template, labels, true)
}

fn render(template: &str, labels: &BTreeMap<String, String>, placeholders: bool) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = rest[start + 2..start + end].trim();
        match inner.strip_prefix("$labels.") {
            Some(name) => match labels.get(name) {
                Some(v) => out.push_str(v),
                None if placeholders => out.push_str(&format!("[{name}]")),
                None => {}
            },
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_templates_render_like_prometheus() {
        let labels = BTreeMap::from([("job".to_owned(), "checkout".to_owned())]);
        assert_eq!(
            render_labels("{{ $labels.job }} / {{$labels.missing}}!", &labels),
            "checkout / !"
        );
    }

    #[test]
    fn target_labels_round_trip() {
        for t in [
            Target {
                namespace: "apps".into(),
                name: "checkout".into(),
            },
            Target {
                namespace: String::new(),
                name: "ip-10-0-0-1".into(),
            },
        ] {
            assert_eq!(parse_target_label(&target_label(&t)), t);
        }
    }

    #[test]
    fn a_bad_alert_is_refused_with_its_name() {
        let e = Alert::new("bad name", "up == 0").check().unwrap_err();
        assert!(
            e.to_string()
                .starts_with("alert bad name: the name must be CamelCase")
        );
        let e = Alert::new("Good", "up == 0")
            .for_("5 minutes")
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("`for`"), "{e}");
    }
}
