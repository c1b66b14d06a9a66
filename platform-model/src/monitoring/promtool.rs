//! Rule sets: one Prometheus rule file, the PrometheusRule that carries the same groups, and the
//! promtool unit tests that show each alert firing and staying quiet.

use std::collections::BTreeMap;

use kcr_monitoring_coreos_com::v1::prometheusrules::{
    PrometheusRuleGroups, PrometheusRuleGroupsRules, PrometheusRuleSpec,
};
use serde::Serialize;

use super::alert::{Alert, AlertCase};
use crate::Error;
use crate::yaml;

/// A promtool test group: series, and the alerts expected at an evaluation time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestGroup {
    /// What the group shows.
    pub name: String,
    /// Scrape interval of the input series.
    pub interval: String,
    /// Input series.
    pub input_series: Vec<InputSeries>,
    /// Alert expectations.
    pub alert_rule_test: Vec<AlertRuleTest>,
}

/// An input series of a test group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputSeries {
    /// `metric{label="value"}`.
    pub series: String,
    /// Values in promtool's expanding notation.
    pub values: String,
}

/// The alerts of one name expected at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRuleTest {
    /// When.
    pub eval_time: String,
    /// Which alert.
    pub alertname: String,
    /// Every instance expected to fire (empty: none may).
    pub exp_alerts: Vec<ExpAlert>,
}

/// One expected alert instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpAlert {
    /// Every label of the instance except `alertname`.
    pub exp_labels: BTreeMap<String, String>,
    /// Its rendered annotations.
    pub exp_annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct TestFile<'a> {
    rule_files: Vec<String>,
    evaluation_interval: &'a str,
    tests: &'a [TestGroup],
}

#[derive(Serialize)]
struct RuleFile<'a> {
    groups: &'a [PrometheusRuleGroups],
}

/// One rule file with its tests. Its name is the file stem and the PrometheusRule's name.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    /// File stem and PrometheusRule name, e.g. `checkout`.
    pub name: String,
    /// The rule groups.
    pub groups: Vec<PrometheusRuleGroups>,
    /// The promtool test groups.
    pub tests: Vec<TestGroup>,
    /// The alerting rules of the set (for catalogs and checks).
    pub alerts: Vec<Alert>,
}

/// The annotation linking an alert to its runbook page (the name Alertmanager's and Grafana's
/// integrations look for).
pub const RUNBOOK_URL: &str = "runbook_url";

/// The evaluation interval of rule groups and tests.
pub const EVALUATION_INTERVAL: &str = "1m";

impl RuleSet {
    /// A rule set of one group holding these alerts, with one test group per alert case.
    pub fn from_alerts(name: &str, group: &str, alerts: Vec<Alert>) -> Result<RuleSet, Error> {
        let mut rules = Vec::new();
        let mut tests = Vec::new();
        for a in &alerts {
            a.check()?;
            rules.push(a.rule());
            for case in a.cases() {
                tests.push(test_group(std::slice::from_ref(a), a.name(), case));
            }
        }
        Ok(RuleSet {
            name: name.to_owned(),
            groups: vec![group_of(group, rules)],
            tests,
            alerts,
        })
    }

    /// Links every alert of the set to its runbook page: the `runbook_url` annotation of its
    /// rule (in the rule file and the PrometheusRule alike), and the same annotation expected
    /// of every instance its promtool tests expect to fire.
    pub fn link_runbooks(&mut self, url_of: &dyn Fn(&str) -> String) {
        for group in &mut self.groups {
            for rule in group.rules.iter_mut().flatten() {
                if let Some(name) = &rule.alert {
                    rule.annotations
                        .get_or_insert_with(BTreeMap::new)
                        .insert(RUNBOOK_URL.to_owned(), url_of(name));
                }
            }
        }
        for test in &mut self.tests {
            for art in &mut test.alert_rule_test {
                for e in &mut art.exp_alerts {
                    e.exp_annotations
                        .insert(RUNBOOK_URL.to_owned(), url_of(&art.alertname));
                }
            }
        }
    }

    /// The PrometheusRule's spec: the same groups as the rule file.
    pub fn spec(&self) -> PrometheusRuleSpec {
        PrometheusRuleSpec {
            groups: Some(self.groups.clone()),
        }
    }

    /// Path of the rule file below the environment's folder.
    pub fn rule_file_path(&self) -> String {
        format!("monitoring/rules/{}.rules.yaml", self.name)
    }

    /// Path of the test file below the environment's folder.
    pub fn test_file_path(&self) -> String {
        format!("monitoring/tests/{}.test.yaml", self.name)
    }

    /// The plain Prometheus rule file (`promtool check rules` reads it).
    pub fn rule_file(&self) -> Result<String, Error> {
        let body = yaml::to_string(
            &self.rule_file_path(),
            &RuleFile {
                groups: &self.groups,
            },
        )?;
        Ok(yaml::with_header(
            &format!(
                "Generated by synth from platform_model::monitoring; do not edit.\n\
                 The same groups are deployed as the PrometheusRule `{}`.",
                self.name
            ),
            &body,
        ))
    }

    /// The promtool unit-test file (`promtool test rules` reads it); it names the rule file by
    /// its path relative to the test file.
    pub fn test_file(&self) -> Result<String, Error> {
        let body = yaml::to_string(
            &self.test_file_path(),
            &TestFile {
                rule_files: vec![format!("../rules/{}.rules.yaml", self.name)],
                evaluation_interval: EVALUATION_INTERVAL,
                tests: &self.tests,
            },
        )?;
        Ok(yaml::with_header(
            "Generated by synth from platform_model::monitoring; do not edit.\n\
             Run: promtool test rules <this file>",
            &body,
        ))
    }
}

/// A rule group evaluated every [`EVALUATION_INTERVAL`].
pub(crate) fn group_of(name: &str, rules: Vec<PrometheusRuleGroupsRules>) -> PrometheusRuleGroups {
    PrometheusRuleGroups {
        name: name.to_owned(),
        interval: Some(EVALUATION_INTERVAL.to_owned()),
        rules: Some(rules),
        ..Default::default()
    }
}

/// The test group of one case: `rules` are every rule sharing the alert name `alertname`; each
/// expected instance's labels are the case's expression labels plus the static labels of the
/// rule whose labels they match.
pub(crate) fn test_group(rules: &[Alert], alertname: &str, case: &AlertCase) -> TestGroup {
    let exp_alerts = case
        .fires_with
        .iter()
        .map(|expr_labels| {
            let rule = match rules {
                [only] => only,
                _ => rules
                    .iter()
                    .find(|r| {
                        r.labels()
                            .iter()
                            .all(|(k, v)| expr_labels.get(k) == Some(v))
                    })
                    .unwrap_or(&rules[0]),
            };
            // Prometheus renders templates in a rule's labels too (a node alert's
            // `runbook_target` is `{{ $labels.node }}`).
            let mut labels = expr_labels.clone();
            labels.extend(
                rule.labels()
                    .into_iter()
                    .map(|(k, v)| (k, super::render_labels(&v, expr_labels))),
            );
            ExpAlert {
                exp_annotations: rule.rendered_annotations(&labels),
                exp_labels: labels,
            }
        })
        .collect();
    TestGroup {
        name: case.name.clone(),
        interval: EVALUATION_INTERVAL.to_owned(),
        input_series: case
            .series
            .iter()
            .map(|s| InputSeries {
                series: s.series.clone(),
                values: s.values.clone(),
            })
            .collect(),
        alert_rule_test: vec![AlertRuleTest {
            eval_time: case.eval_time.clone(),
            alertname: alertname.to_owned(),
            exp_alerts,
        }],
    }
}
