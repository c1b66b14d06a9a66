//! Runbook pages: one Markdown page per alert, rendered with askama
//! (`platform-model/templates/runbook.md`) from the same [`Alert`] value its rule comes from.
//! The rule's `runbook_url` annotation points at the page ([`RuleSet::link_runbooks`]).
//!
//! The page says what the alert means (its texts, expression and `for`), what the platform does
//! on its own (the runbook action, its guards, how the result is verified), what a human checks
//! first, the dashboards, and how to undo the action. What the platform does is given by the
//! caller as [`Automation`]: this module knows no settings.
//!
//! ```
//! use platform_model::monitoring::runbook_page::{Page, page_path};
//! use platform_model::monitoring::Alert;
//!
//! let alert = Alert::new("QueueBacklog", "queue_depth > 100")
//!     .summary("The queue is backing up")
//!     .description("More than 100 messages wait.");
//! let page = Page::new(&alert, "payments", "payments", "monitoring/rules/payments.rules.yaml")
//!     .check("Is the consumer running?");
//! let text = page.render()?;
//! assert!(text.contains("# QueueBacklog"));
//! assert!(text.contains("queue_depth > 100"));
//! assert!(text.contains("Nothing automatic"));
//! assert_eq!(page_path("QueueBacklog"), "runbooks/QueueBacklog.md");
//! # Ok::<(), platform_model::Error>(())
//! ```
//!
//! [`RuleSet::link_runbooks`]: super::RuleSet::link_runbooks

use askama::Template;

use super::Alert;
use crate::Error;

/// Where an alert's page is written, below the environment's folder.
pub fn page_path(alert: &str) -> String {
    format!("runbooks/{alert}.md")
}

/// The URL of an alert's page under `base` (where `out/<env>/runbooks/` is browsable): the
/// rule's `runbook_url` annotation and the Datadog monitor's link.
pub fn page_url(base: &str, alert: &str) -> String {
    format!("{}/{alert}.md", base.trim_end_matches('/'))
}

/// What the platform does on its own when the alert fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Automation {
    /// The action's wire name, e.g. `enable_degraded_mode`.
    pub action: String,
    /// Its target, e.g. `apps/checkout`.
    pub target: String,
    /// What it does, one sentence.
    pub does: String,
    /// The guards that may refuse it, in order.
    pub guards: Vec<String>,
    /// How the runbook verifies the result.
    pub verify: String,
    /// How a human undoes it.
    pub undo: Vec<String>,
}

/// One rule of the alert's name: its severity, expression, `for` and static labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleView {
    /// `critical`, `warning` or `info`.
    pub severity: String,
    /// The PromQL expression.
    pub expr: String,
    /// Its `for` duration.
    pub for_: String,
    /// The rule's static labels, as `key=value`.
    pub labels: Vec<String>,
}

impl RuleView {
    fn of(alert: &Alert) -> RuleView {
        RuleView {
            severity: alert.severity_level().as_str().to_owned(),
            expr: alert.expr().trim().to_owned(),
            for_: alert.for_duration().to_owned(),
            labels: alert
                .labels()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        }
    }
}

/// One alert's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The alert's name.
    pub alert: String,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    /// The service the alert belongs to.
    pub service: String,
    /// Its namespace.
    pub namespace: String,
    /// The rule file holding the alert.
    pub rule_file: String,
    /// The summary annotation (Prometheus templates left as written).
    pub summary: String,
    /// The description annotation.
    pub description: String,
    /// The rules of this name (an SLO's burn-rate alert has one per window pair).
    pub rules: Vec<RuleView>,
    /// What the platform does, if anything.
    pub automation: Option<Automation>,
    /// What a human checks first, in order.
    pub checks: Vec<String>,
    /// Dashboards to open.
    pub dashboards: Vec<String>,
}

#[derive(Template)]
#[template(path = "runbook.md", escape = "none")]
struct PageTemplate<'a> {
    page: &'a Page,
}

impl Page {
    /// The page of `alert`, of service `namespace/service`, written in `rule_file`.
    pub fn new(alert: &Alert, service: &str, namespace: &str, rule_file: &str) -> Page {
        // The texts as they read for this service's instance (`namespace`, `job` and the
        // rule's labels; anything else stays a template).
        let mut labels = alert.labels();
        labels.insert("namespace".into(), namespace.into());
        labels.insert("job".into(), service.into());
        let text = |key: &str| super::render_known_labels(&alert.annotations()[key], &labels);
        Page {
            alert: alert.name().to_owned(),
            severity: alert.severity_level().as_str().to_owned(),
            service: service.to_owned(),
            namespace: namespace.to_owned(),
            rule_file: rule_file.to_owned(),
            summary: text("summary"),
            description: text("description"),
            rules: vec![RuleView::of(alert)],
            automation: None,
            checks: Vec::new(),
            dashboards: Vec::new(),
        }
    }

    /// Another rule of the same name (the page lists each; the header shows the most severe).
    #[must_use]
    pub fn rule(mut self, alert: &Alert) -> Page {
        self.rules.push(RuleView::of(alert));
        // Severity orders critical first.
        if alert.severity_level() < self.severity_level() {
            self.severity = alert.severity_level().as_str().to_owned();
        }
        self
    }

    fn severity_level(&self) -> crate::contract::Severity {
        match self.severity.as_str() {
            "critical" => crate::contract::Severity::Critical,
            "warning" => crate::contract::Severity::Warning,
            _ => crate::contract::Severity::Info,
        }
    }

    /// What the platform does on its own.
    #[must_use]
    pub fn automation(mut self, automation: Automation) -> Page {
        self.automation = Some(automation);
        self
    }

    /// Something a human checks first.
    #[must_use]
    pub fn check(mut self, text: impl Into<String>) -> Page {
        self.checks.push(text.into());
        self
    }

    /// A dashboard to open.
    #[must_use]
    pub fn dashboard(mut self, name: impl Into<String>) -> Page {
        self.dashboards.push(name.into());
        self
    }

    /// The page as Markdown.
    pub fn render(&self) -> Result<String, Error> {
        PageTemplate { page: self }
            .render()
            .map_err(|e| Error::Construct {
                construct: page_path(&self.alert),
                message: e.to_string(),
            })
    }
}
