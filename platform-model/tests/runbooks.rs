//! The runbook pages say what each alert means and what the platform does about it, with the
//! environment's own values: the threshold, the action and its guards, the undo command.

use platform_model::platform::{Assets, Platform};
use platform_model::settings::{Environment, Settings};

fn pages(env: Environment) -> (Settings, Vec<(String, String)>) {
    let settings = Settings::embedded(env).unwrap();
    let files = Platform::standard(settings.clone())
        .unwrap()
        .synthesize(&Assets::new(
            &"a".repeat(64),
            &"b".repeat(64),
            &"c".repeat(64),
        ))
        .unwrap();
    let pages = files
        .into_iter()
        .filter(|f| f.path.starts_with("runbooks/"))
        .map(|f| (f.path, f.contents))
        .collect();
    (settings, pages)
}

fn page<'a>(pages: &'a [(String, String)], alert: &str) -> &'a str {
    &pages
        .iter()
        .find(|(p, _)| p == &format!("runbooks/{alert}.md"))
        .unwrap_or_else(|| panic!("no page for {alert}"))
        .1
}

#[test]
fn an_automated_alert_s_page_names_its_threshold_action_guards_and_undo() {
    for env in Environment::ALL {
        let (s, pages) = pages(env);
        let p = page(&pages, "CheckoutHighErrorRate");
        // The threshold is the environment's.
        assert!(
            p.contains(&format!("> {}", s.checkout.error_ratio_threshold)),
            "{env}: {p}"
        );
        assert!(
            p.contains("**`enable_degraded_mode`** on `apps/checkout`"),
            "{env}"
        );
        assert!(p.contains("acts only in apps"), "{env}");
        assert!(p.contains("every 600 s"), "{env}");
        assert!(
            p.contains(&format!("after {} s", s.pipeline.stabilization_seconds)),
            "{env}"
        );
        assert!(
            p.contains(&format!(
                "aws ssm put-parameter --region {} --name /checkout/degraded_mode --value false --overwrite",
                s.region
            )),
            "{env}"
        );
        // The summary reads as it does for checkout's instance, not as a template.
        assert!(!p.contains("{{"), "{env}: {p}");
        assert!(p.contains("dashboards/checkout-red.json"), "{env}");

        let scale = pages
            .iter()
            .find(|(_, text)| text.contains("**`scale_deployment`**"));
        if let Some((_, text)) = scale {
            assert!(
                text.contains(&format!("at most {} replicas", s.checkout.max_replicas)),
                "{env}"
            );
        }
    }
}

#[test]
fn an_alert_without_a_runbook_says_nothing_is_automatic() {
    let (_, pages) = pages(Environment::Prod);
    let p = page(&pages, "CheckoutDegradedMode");
    assert!(p.contains("Nothing automatic"), "{p}");
    assert!(p.contains("Nothing to undo"), "{p}");
}

#[test]
fn an_slo_alert_s_page_lists_each_window_pair() {
    let (settings, pages) = pages(Environment::Prod);
    let p = page(&pages, "CheckoutAvailabilityErrorBudgetBurn");
    let rules = platform_model::platform::checkout(&settings)
        .unwrap()
        .rule_sets()
        .unwrap()
        .iter()
        .flat_map(|set| set.alerts.clone())
        .filter(|a| a.name() == "CheckoutAvailabilityErrorBudgetBurn")
        .count();
    assert!(rules > 1);
    assert_eq!(p.matches("```promql").count(), rules, "{p}");
    assert!(p.contains("**Severity:** critical"), "{p}");
}

#[test]
fn a_deadline_shorter_than_a_remedied_alert_s_resolution_is_refused() {
    // dev: CheckoutHighErrorRate's 5m window + 1m evaluation + 5m group_interval + 30 s wait.
    let mut settings = Settings::embedded(Environment::Dev).unwrap();
    assert!(
        Platform::standard(settings.clone())
            .unwrap()
            .check()
            .is_ok()
    );
    settings.pipeline.remediation_deadline_seconds = 300;
    let err = Platform::standard(settings.clone())
        .and_then(|p| p.check())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "pipeline.remediation_deadline_seconds (300) is shorter than the time CheckoutHighErrorRate needs to resolve once its runbook fixed it: its longest window 300 s + rule evaluation 60 s + Alertmanager group_interval 300 s + one stabilization wait 30 s = 690 s"
        ),
        "{err}"
    );
    settings.pipeline.remediation_deadline_seconds = 690;
    assert!(Platform::standard(settings).unwrap().check().is_ok());
}
