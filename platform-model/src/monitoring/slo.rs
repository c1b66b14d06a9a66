//! Service level objectives and their multiwindow, multi-burn-rate alerts.
//!
//! An [`Slo`] (objective, window, SLI as two counters) yields recording rules of its error
//! ratio over every window the alerts read, and one alert per [`BurnWindow`]: the error ratio
//! over the long window and over the short one (a twelfth of it) both above
//! `factor x (1 - objective)`, where `factor = budget share x SLO window / long window`: the
//! rate that spends that share of the budget within the long window. For a 30-day SLO the
//! standard windows give the Google SRE workbook's 14.4x (2 % in 1 h), 6x (5 % in 6 h),
//! 3x (10 % in 1 d) and 1x (10 % in 3 d).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kcr_monitoring_coreos_com::v1::prometheusrules::PrometheusRuleGroupsRules;

use super::alert::{Alert, AlertCase};
use super::promtool::{RuleSet, group_of, test_group};
use crate::Error;
use crate::contract::Severity;
use crate::contract::runbook::{Action, Target};

/// The service level indicator: a ratio of two counters. Selectors are plain
/// `metric{label="value",...}` (equality matchers only), so the promtool tests can feed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sli {
    /// Bad events over all events (e.g. errors over requests).
    BadOverTotal {
        /// Counter of bad events.
        bad: String,
        /// Counter of all events.
        total: String,
    },
    /// Good events over all events.
    GoodOverTotal {
        /// Counter of good events.
        good: String,
        /// Counter of all events.
        total: String,
    },
}

/// One burn-rate alert: how much of the budget may burn within the long window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnWindow {
    /// The long window, in minutes; the short window is a twelfth of it.
    pub long_minutes: u32,
    /// The share of the whole window's error budget that burning within the long window
    /// alerts on (0.02 = 2 %).
    pub budget_share: f64,
    /// Critical pages, warning opens a ticket.
    pub severity: Severity,
    /// How long both ratios must stay above the threshold.
    pub for_minutes: u32,
}

impl BurnWindow {
    /// The short window, in minutes.
    pub fn short_minutes(&self) -> u32 {
        self.long_minutes / 12
    }

    /// The burn-rate factor for an SLO window of `window_days`.
    pub fn factor(&self, window_days: u32) -> f64 {
        round(
            self.budget_share * f64::from(window_days * 24 * 60) / f64::from(self.long_minutes),
            6,
        )
    }
}

/// The standard windows: page on 2 % of the budget in 1 h or 5 % in 6 h; ticket on 10 % in
/// 1 d or 10 % in 3 d.
pub const STANDARD_WINDOWS: [BurnWindow; 4] = [
    BurnWindow {
        long_minutes: 60,
        budget_share: 0.02,
        severity: Severity::Critical,
        for_minutes: 2,
    },
    BurnWindow {
        long_minutes: 360,
        budget_share: 0.05,
        severity: Severity::Critical,
        for_minutes: 15,
    },
    BurnWindow {
        long_minutes: 1440,
        budget_share: 0.10,
        severity: Severity::Warning,
        for_minutes: 60,
    },
    BurnWindow {
        long_minutes: 4320,
        budget_share: 0.10,
        severity: Severity::Warning,
        for_minutes: 60,
    },
];

/// A service level objective.
///
/// ```
/// use platform_model::monitoring::{Sli, Slo};
///
/// let slo = Slo::new("payments-availability", "PaymentsAvailability", 0.999, Sli::BadOverTotal {
///     bad: r#"payments_errors_total{job="payments"}"#.into(),
///     total: r#"payments_requests_total{job="payments"}"#.into(),
/// })
/// .label("namespace", "apps");
/// let rules = slo.rule_set().unwrap();
/// // four alerts (14.4x, 6x, 3x, 1x), each tested just above and just below its rate
/// assert_eq!(rules.alerts.len(), 4);
/// assert_eq!(rules.tests.len(), 8);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    name: String,
    alert_prefix: String,
    objective: f64,
    window_days: u32,
    sli: Sli,
    labels: BTreeMap<String, String>,
    windows: Vec<BurnWindow>,
    runbook: Option<(Action, Target)>,
}

impl Slo {
    /// An SLO named `name` (kebab-case, the `slo` label), alerting as `<alert_prefix>ErrorBudgetBurn`,
    /// over 30 days with the [`STANDARD_WINDOWS`].
    pub fn new(name: &str, alert_prefix: &str, objective: f64, sli: Sli) -> Slo {
        Slo {
            name: name.to_owned(),
            alert_prefix: alert_prefix.to_owned(),
            objective,
            window_days: 30,
            sli,
            labels: BTreeMap::new(),
            windows: STANDARD_WINDOWS.to_vec(),
            runbook: None,
        }
    }

    /// The SLO window in days (default 30).
    #[must_use]
    pub fn window_days(mut self, days: u32) -> Slo {
        self.window_days = days;
        self
    }

    /// A label of the recorded ratios and so of the alerts (e.g. `namespace`).
    #[must_use]
    pub fn label(mut self, name: &str, value: &str) -> Slo {
        self.labels.insert(name.to_owned(), value.to_owned());
        self
    }

    /// A runbook for the paging (critical) alerts.
    #[must_use]
    pub fn runbook(mut self, action: Action, target: Target) -> Slo {
        self.runbook = Some((action, target));
        self
    }

    /// The SLO's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The error budget: `1 - objective`.
    pub fn error_budget(&self) -> f64 {
        round(1.0 - self.objective, 9)
    }

    /// The name of the alert every burn window raises.
    pub fn alert_name(&self) -> String {
        format!("{}ErrorBudgetBurn", self.alert_prefix)
    }

    /// The recording rule name of the error ratio over `minutes`.
    pub fn ratio_record(minutes: u32) -> String {
        format!("slo:sli_error:ratio_rate{}", duration(minutes))
    }

    fn ratio_expr(&self, minutes: u32) -> String {
        let w = duration(minutes);
        match &self.sli {
            Sli::BadOverTotal { bad, total } => {
                format!("sum(rate({bad}[{w}])) / sum(rate({total}[{w}]))")
            }
            Sli::GoodOverTotal { good, total } => {
                format!("1 - (sum(rate({good}[{w}])) / sum(rate({total}[{w}])))")
            }
        }
    }

    fn record_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        l.insert("slo".to_owned(), self.name.clone());
        l
    }

    fn check(&self) -> Result<(), Error> {
        let err = |message: String| Error::Construct {
            construct: format!("SLO {}", self.name),
            message,
        };
        if !(self.objective > 0.0 && self.objective < 1.0) {
            return Err(err(format!(
                "the objective must be between 0 and 1 (exclusive), got {}",
                self.objective
            )));
        }
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(err("the name must be kebab-case".into()));
        }
        for w in &self.windows {
            if !w.long_minutes.is_multiple_of(12) || w.long_minutes > self.window_days * 24 * 60 {
                return Err(err(format!(
                    "long window {}: must be a multiple of 12 minutes within the SLO window",
                    duration(w.long_minutes)
                )));
            }
            if w.factor(self.window_days) * self.error_budget() >= 1.0 {
                return Err(err(format!(
                    "the {}x burn rate over {} exceeds an error ratio of 1: it can never fire",
                    w.factor(self.window_days),
                    duration(w.long_minutes)
                )));
            }
        }
        Ok(())
    }

    /// The burn-rate alerts, one per window.
    pub fn alerts(&self) -> Vec<Alert> {
        let sel = |minutes: u32| format!("{}{{slo=\"{}\"}}", Slo::ratio_record(minutes), self.name);
        self.windows
            .iter()
            .map(|w| {
                let factor = w.factor(self.window_days);
                let threshold = format!("({} * {})", num(factor), num(self.error_budget()));
                let (long, short) = (duration(w.long_minutes), duration(w.short_minutes()));
                let mut a = Alert::new(
                    self.alert_name(),
                    format!(
                        "{} > {threshold} and {} > {threshold}",
                        sel(w.long_minutes),
                        sel(w.short_minutes())
                    ),
                )
                .for_(duration(w.for_minutes))
                .severity(w.severity)
                .label("long_window", &long)
                .label("short_window", &short)
                .summary(format!(
                    "SLO {} burns its error budget {}x too fast ({long} and {short} windows)",
                    self.name,
                    num(factor)
                ))
                .description(format!(
                    "At this rate {}% of the {}-day error budget of SLO {} (objective {}) is spent within {long}.",
                    num(w.budget_share * 100.0),
                    self.window_days,
                    self.name,
                    num(self.objective)
                ));
                if let (Some((action, target)), Severity::Critical) = (&self.runbook, w.severity) {
                    a = a.runbook(*action, target.clone());
                }
                a
            })
            .collect()
    }

    /// The rule set: recording rules for every window, the alerts, and for each alert a promtool
    /// case just above its burn rate (it fires, with every alert of a lower rate) and one just
    /// below it (it does not).
    pub fn rule_set(&self) -> Result<RuleSet, Error> {
        self.check()?;
        let mut minutes: Vec<u32> = self
            .windows
            .iter()
            .flat_map(|w| [w.short_minutes(), w.long_minutes])
            .collect();
        minutes.sort_unstable();
        minutes.dedup();
        let mut rules: Vec<PrometheusRuleGroupsRules> = minutes
            .iter()
            .map(|&m| PrometheusRuleGroupsRules {
                record: Some(Slo::ratio_record(m)),
                expr: IntOrString::String(self.ratio_expr(m)),
                labels: Some(self.record_labels()),
                ..Default::default()
            })
            .collect();
        let alerts = self.alerts();
        rules.extend(alerts.iter().map(Alert::rule));

        let budget = self.error_budget();
        let thresholds: Vec<f64> = self
            .windows
            .iter()
            .map(|w| w.factor(self.window_days) * budget)
            .collect();
        // Evaluate once every alert's `for` has passed (the ratios hold from the first minute).
        let eval_minutes = self
            .windows
            .iter()
            .map(|w| w.for_minutes)
            .max()
            .unwrap_or(0)
            + 30;
        let mut tests = Vec::new();
        for (i, w) in self.windows.iter().enumerate() {
            for (above, scale) in [(true, 1.05), (false, 0.95)] {
                let ratio = thresholds[i] * scale;
                let fires_with = alerts
                    .iter()
                    .zip(&thresholds)
                    .filter(|(_, t)| **t < ratio)
                    .map(|(a, _)| {
                        let mut l = self.record_labels();
                        l.extend(a.labels());
                        l
                    })
                    .collect();
                let case = AlertCase {
                    name: format!(
                        "{} error ratio {} = {}x the {}x rate over {}: {}",
                        self.name,
                        num(ratio),
                        num(scale),
                        num(w.factor(self.window_days)),
                        duration(w.long_minutes),
                        if above { "fires" } else { "does not fire" }
                    ),
                    series: self.series(ratio, eval_minutes + 10),
                    eval_time: duration(eval_minutes),
                    fires_with,
                };
                tests.push(test_group(&alerts, &self.alert_name(), &case));
            }
        }
        Ok(RuleSet {
            name: format!("{}-slo", self.name),
            groups: vec![group_of(&format!("slo-{}", self.name), rules)],
            tests,
            alerts,
        })
    }

    /// Input series in which `ratio` of 1000 events a minute are bad, for `minutes`.
    fn series(&self, ratio: f64, minutes: u32) -> Vec<super::alert::Series> {
        let per_minute = 1000.0;
        let (counted, total, step) = match &self.sli {
            Sli::BadOverTotal { bad, total } => (bad, total, per_minute * ratio),
            Sli::GoodOverTotal { good, total } => (good, total, per_minute * (1.0 - ratio)),
        };
        vec![
            super::alert::Series::new(
                counted.clone(),
                format!("0+{}x{minutes}", num(round(step, 6))),
            ),
            super::alert::Series::new(total.clone(), format!("0+{}x{minutes}", num(per_minute))),
        ]
    }
}

/// A duration in minutes as Prometheus writes it (`5m`, `1h`, `3d`).
pub fn duration(minutes: u32) -> String {
    if minutes.is_multiple_of(1440) {
        format!("{}d", minutes / 1440)
    } else if minutes.is_multiple_of(60) {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// A number as short as it is exact enough (9 decimals at most).
fn num(x: f64) -> String {
    format!("{}", round(x, 9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_factors_derive_from_budget_share_and_windows() {
        let f: Vec<f64> = STANDARD_WINDOWS.iter().map(|w| w.factor(30)).collect();
        assert_eq!(f, [14.4, 6.0, 3.0, 1.0]);
        let short: Vec<String> = STANDARD_WINDOWS
            .iter()
            .map(|w| duration(w.short_minutes()))
            .collect();
        assert_eq!(short, ["5m", "30m", "2h", "6h"]);
    }

    #[test]
    fn an_objective_that_cannot_alert_is_refused() {
        let slo = Slo::new(
            "x",
            "X",
            0.9,
            Sli::BadOverTotal {
                bad: "a".into(),
                total: "b".into(),
            },
        );
        let e = slo.rule_set().unwrap_err().to_string();
        assert!(e.contains("can never fire"), "{e}");
    }
}
