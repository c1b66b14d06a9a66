//! The platform's alerts and SLOs, and the catalog of alert -> runbook the pipeline reads.

use super::alert::{Alert, AlertCase};
use super::promtool::RuleSet;
use super::slo::{Sli, Slo};
use crate::Error;
use crate::contract::runbook::{Action, RunbookRef, Target};
use crate::contract::{Severity, checkout};
use crate::settings::Settings;

/// The namespace of the platform's workloads.
pub const APPS_NAMESPACE: &str = "apps";
/// The checkout service's name (Deployment, Service, `job` label).
pub const CHECKOUT: &str = "checkout";

/// One alert of the catalog: its name, severity and runbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The alert name (`alertname`).
    pub alert: String,
    /// Its severity.
    pub severity: Severity,
    /// The runbook the platform runs, if any (`None`: notify only).
    pub runbook: Option<RunbookRef>,
    /// For `scale_deployment`: the replicas the runbook may scale to at most (the settings'
    /// `checkout.max_replicas`, also the autoscaler's maximum).
    pub max_replicas: Option<u32>,
}

fn checkout_target() -> Target {
    Target {
        namespace: APPS_NAMESPACE.to_owned(),
        name: CHECKOUT.to_owned(),
    }
}

/// The checkout service's alerts: latency, error rate, down, degraded mode.
pub fn checkout_alerts(settings: &Settings) -> Vec<Alert> {
    let sel = format!("namespace=\"{APPS_NAMESPACE}\",job=\"{CHECKOUT}\"");
    let lat = settings.checkout.latency_p99_threshold_seconds;
    let err = settings.checkout.error_ratio_threshold;
    let ns_job = [("namespace", APPS_NAMESPACE), ("job", CHECKOUT)];
    // Latency buckets around the threshold: the firing case puts every request above it, the
    // quiet case below it.
    let bucket = |le: String, values: &str| {
        (
            format!("checkout_request_duration_seconds_bucket{{{sel},le=\"{le}\"}}"),
            values.to_owned(),
        )
    };
    let buckets = |slow: bool| {
        let (low, high) = if slow {
            ("0+0x30", "0+100x30")
        } else {
            ("0+100x30", "0+100x30")
        };
        vec![
            bucket(format!("{}", lat / 2.0), "0+0x30"),
            bucket(format!("{lat}"), low),
            bucket(format!("{}", lat * 4.0), high),
            bucket("+Inf".to_owned(), "0+100x30"),
        ]
    };
    let with = |mut case: AlertCase, series: Vec<(String, String)>| {
        for (s, v) in series {
            case = case.series(s, v);
        }
        case
    };
    let requests = format!("checkout_requests_total{{{sel}}}");
    let errors = format!("checkout_errors_total{{{sel}}}");
    // The seeds' demo, from the knob's value: every request takes LATENCY_MS, so it lands in
    // one bucket; the case fires exactly when Prometheus's p99 estimate is above the threshold.
    let demo_latency = {
        let le = checkout::bucket_of(checkout::DEMO_LATENCY_MS);
        let series = checkout::DURATION_BUCKETS
            .iter()
            .map(|b| {
                let hit = le.is_none_or(|le| *b >= le);
                bucket(format!("{b}"), if hit { "0+100x30" } else { "0+0x30" })
            })
            .chain([bucket("+Inf".to_owned(), "0+100x30")])
            .collect::<Vec<_>>();
        let name = format!(
            "seeds' demo: LATENCY_MS={} (p99 estimate {:.4}s, threshold {lat}s)",
            checkout::DEMO_LATENCY_MS,
            checkout::estimated_quantile(0.99, checkout::DEMO_LATENCY_MS)
        );
        let case = if checkout::estimated_quantile(0.99, checkout::DEMO_LATENCY_MS) > lat {
            AlertCase::fires(&name, "20m", ns_job)
        } else {
            AlertCase::quiet(&name, "20m")
        };
        with(case, series)
    };
    let demo_errors = {
        let name = format!(
            "seeds' demo: ERROR_RATE={} (threshold {err})",
            checkout::DEMO_ERROR_RATE
        );
        let case = if checkout::DEMO_ERROR_RATE > err {
            AlertCase::fires(&name, "15m", ns_job)
        } else {
            AlertCase::quiet(&name, "15m")
        };
        case.series(&requests, "0+100x30").series(
            &errors,
            format!("0+{}x30", checkout::DEMO_ERROR_RATE * 100.0),
        )
    };
    vec![
        Alert::new(
            "CheckoutHighLatency",
            format!(
                "histogram_quantile(0.99, sum by (namespace, job, le) (rate(checkout_request_duration_seconds_bucket{{{sel}}}[5m]))) > {lat}"
            ),
        )
        .for_("10m")
        .severity(Severity::Warning)
        .summary(format!("checkout p99 latency above {lat}s in {{{{ $labels.namespace }}}}"))
        .description(format!(
            "The 99th percentile of checkout request durations in {{{{ $labels.namespace }}}} has been above {lat}s for 10 minutes. The runbook scales the Deployment out."
        ))
        .runbook(Action::ScaleDeployment, checkout_target())
        .case(with(
            AlertCase::fires("every request slower than the threshold", "20m", ns_job),
            buckets(true),
        ))
        .case(with(
            AlertCase::quiet("every request faster than the threshold", "20m"),
            buckets(false),
        ))
        .case(demo_latency),
        Alert::new(
            "CheckoutHighErrorRate",
            format!(
                "sum by (namespace, job) (rate(checkout_errors_total{{{sel}}}[5m])) / sum by (namespace, job) (rate(checkout_requests_total{{{sel}}}[5m])) > {err}"
            ),
        )
        .for_("5m")
        .severity(Severity::Critical)
        .summary(format!("checkout error ratio above {}% in {{{{ $labels.namespace }}}}", err * 100.0))
        .description(format!(
            "More than {}% of checkout requests in {{{{ $labels.namespace }}}} failed over 5 minutes. The runbook switches the service into degraded mode.",
            err * 100.0
        ))
        .runbook(Action::EnableDegradedMode, checkout_target())
        .case(
            AlertCase::fires("errors at twice the threshold", "15m", ns_job)
                .series(&requests, "0+100x30")
                .series(&errors, format!("0+{}x30", err * 200.0)),
        )
        .case(
            AlertCase::quiet("errors at half the threshold", "15m")
                .series(&requests, "0+100x30")
                .series(&errors, format!("0+{}x30", err * 50.0)),
        )
        .case(demo_errors),
        Alert::new("CheckoutDown", format!("up{{{sel}}} == 0"))
            .for_("2m")
            .severity(Severity::Critical)
            .summary("checkout instance {{ $labels.instance }} is down")
            .description(
                "Prometheus could not scrape {{ $labels.instance }} in {{ $labels.namespace }} for 2 minutes. The runbook restarts the Deployment.",
            )
            .runbook(Action::RestartDeployment, checkout_target())
            .case(
                AlertCase::fires(
                    "one instance fails its scrapes",
                    "5m",
                    [
                        ("namespace", APPS_NAMESPACE),
                        ("job", CHECKOUT),
                        ("instance", "10.0.1.10:8080"),
                    ],
                )
                .series(format!("up{{{sel},instance=\"10.0.1.10:8080\"}}"), "0x10")
                .series(format!("up{{{sel},instance=\"10.0.2.10:8080\"}}"), "1x10"),
            )
            .case(
                AlertCase::quiet("every instance answers", "5m")
                    .series(format!("up{{{sel},instance=\"10.0.1.10:8080\"}}"), "1x10"),
            ),
        Alert::new(
            "CheckoutDegradedMode",
            format!("max by (namespace, job) (checkout_degraded_mode_enabled{{{sel}}}) == 1"),
        )
        .for_("1m")
        .severity(Severity::Info)
        .summary("checkout runs in degraded mode")
        .description(
            "Degraded mode is on: {{ $labels.job }} in {{ $labels.namespace }} serves a reduced experience. The runbook never turns it off: when the cause is fixed, set the SSM flag back to false (aws ssm put-parameter --overwrite --value false); the pods follow within their refresh interval, without a restart. This alert repeats while the flag stays on.",
        )
        .case(
            AlertCase::fires("the flag is on", "5m", ns_job)
                .series(format!("checkout_degraded_mode_enabled{{{sel},instance=\"a\"}}"), "1x10"),
        )
        .case(
            AlertCase::quiet("the flag is off", "5m")
                .series(format!("checkout_degraded_mode_enabled{{{sel},instance=\"a\"}}"), "0x10"),
        ),
    ]
}

/// The checkout service's availability SLO: non-error responses over all requests.
pub fn checkout_slo(settings: &Settings) -> Slo {
    let sel = format!("namespace=\"{APPS_NAMESPACE}\",job=\"{CHECKOUT}\"");
    Slo::new(
        "checkout-availability",
        "CheckoutAvailability",
        settings.checkout.availability_objective,
        Sli::BadOverTotal {
            bad: format!("checkout_errors_total{{{sel}}}"),
            total: format!("checkout_requests_total{{{sel}}}"),
        },
    )
    .label("namespace", APPS_NAMESPACE)
    .label("service", CHECKOUT)
}

/// Every rule set of the platform: the checkout alerts and the checkout SLO.
pub fn rule_sets(settings: &Settings) -> Result<Vec<RuleSet>, Error> {
    Ok(vec![
        RuleSet::from_alerts(CHECKOUT, "checkout", checkout_alerts(settings))?,
        checkout_slo(settings).rule_set()?,
    ])
}

/// The catalog of alert -> runbook: every alerting rule the platform deploys, once per name
/// and severity. The pipeline's state machine enumerates the actions from it; `alert_ingest`
/// reads the same mapping from the alert's labels.
///
/// ```
/// use platform_model::contract::runbook::Action;
/// use platform_model::monitoring::catalog;
/// use platform_model::settings::{Environment, Settings};
///
/// let entries = catalog(&Settings::embedded(Environment::Prod).unwrap()).unwrap();
/// let down = entries.iter().find(|e| e.alert == "CheckoutDown").unwrap();
/// assert_eq!(down.runbook.as_ref().unwrap().action, Action::RestartDeployment);
/// ```
pub fn catalog(settings: &Settings) -> Result<Vec<CatalogEntry>, Error> {
    let mut out: Vec<CatalogEntry> = Vec::new();
    for set in rule_sets(settings)? {
        for a in &set.alerts {
            let runbook = a.runbook_ref().cloned();
            let max_replicas = runbook
                .as_ref()
                .filter(|r| r.action == Action::ScaleDeployment)
                .map(|_| settings.checkout.max_replicas);
            let entry = CatalogEntry {
                alert: a.name().to_owned(),
                severity: a.severity_level(),
                runbook,
                max_replicas,
            };
            if !out.contains(&entry) {
                out.push(entry);
            }
        }
    }
    Ok(out)
}
