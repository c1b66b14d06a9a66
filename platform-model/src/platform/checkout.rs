//! The checkout service, declared as a [`Service`] like any other team's: its workload (the
//! `checkout/` binary's image, its environment written through the runtime contract), its
//! alerts with their runbooks, its availability SLO and its RED dashboard, the actions it
//! allows (scale, restart, degraded mode). The platform composes it with the others
//! ([`super::Platform`]); no generic module knows it.

use crate::Error;
use crate::contract::runbook::{Action, Target};
use crate::contract::runtime::{Binary, EnvBuilder, checkout as vars};
use crate::contract::{Severity, checkout};
use crate::monitoring::dashboards::{self, Dashboard};
use crate::monitoring::datadog::{self, DatadogQuery};
use crate::monitoring::{Alert, AlertCase, Sli, Slo};
use crate::service::{PublicEndpoint, Service, Workload};
use crate::settings::Settings;

/// The service's name (Deployment, Service, service account, `job` label).
pub const CHECKOUT: &str = "checkout";
/// Its namespace.
pub const APPS_NAMESPACE: &str = "apps";
/// The container port the `checkout/` binary listens on (its `PORT`).
pub const CHECKOUT_PORT: i32 = 8080;
/// The only path the Ingress routes: the service's API.
pub const PUBLIC_PATH: &str = "/checkout";

/// The checkout service of one environment, from its settings.
///
/// ```
/// use platform_model::contract::runbook::Action;
/// use platform_model::settings::{Environment, Settings};
///
/// let checkout = platform_model::platform::checkout(&Settings::embedded(Environment::Prod).unwrap())?;
/// assert_eq!(checkout.bounds(Action::ScaleDeployment).unwrap().max_replicas, Some(10));
/// assert_eq!(checkout.degraded_mode_parameter().as_deref(), Some("/checkout/degraded_mode"));
/// # Ok::<(), platform_model::Error>(())
/// ```
pub fn checkout(settings: &Settings) -> Result<Service, Error> {
    check_settings(settings)?;
    let c = &settings.checkout;
    let svc = Service::new(
        CHECKOUT,
        APPS_NAMESPACE,
        Workload::new(super::checkout_image(settings), c.replicas, c.max_replicas),
    )
    .allow(Action::ScaleDeployment)
    .allow(Action::RestartDeployment)
    .degraded_mode(c.degraded_mode);
    let target = svc.target();
    let parameter = svc
        .degraded_mode_parameter()
        .ok_or_else(|| Error::Construct {
            construct: "service apps/checkout".into(),
            message: "no degraded-mode parameter".into(),
        })?;
    let env = EnvBuilder::<String>::new(Binary::Checkout)
        .set(&vars::PORT, CHECKOUT_PORT.to_string())
        .and_then(|e| e.set(&vars::LATENCY_MS, c.latency_ms.to_string()))
        .and_then(|e| e.set(&vars::ERROR_RATE, c.error_rate.to_string()))
        .and_then(|e| e.set(&vars::DEGRADED_MODE_SSM_PARAMETER, parameter))
        .and_then(|e| {
            e.set(
                &vars::DEGRADED_MODE_REFRESH_SECONDS,
                c.degraded_mode_refresh_seconds.to_string(),
            )
        })
        .and_then(|e| e.set(&vars::AWS_REGION, settings.region.to_string()))
        .and_then(|e| e.build())
        .map_err(|e| Error::Construct {
            construct: "k8s/checkout.yaml Deployment environment".into(),
            message: e.to_string(),
        })?;
    let mut workload = Workload::new(super::checkout_image(settings), c.replicas, c.max_replicas)
        .immutable_tags_in(format!(
            "the ECR repository {} of stack {}",
            settings.bootstrap.checkout_repository,
            super::BOOTSTRAP_STACK
        ))
        .public(PublicEndpoint {
            host: c.host.clone(),
            path: PUBLIC_PATH.into(),
            certificate_arn: c.certificate_arn.clone(),
            waf_acl_arn: c.waf_acl_arn.clone(),
        });
    workload.port = CHECKOUT_PORT;
    workload.approval_above_replicas = c.approval_above_replicas;
    for (name, value) in env {
        workload = workload.env(name, value);
    }
    let svc = svc
        .with_workload(workload)
        .alerts(alerts(settings, &target))
        .slo(slo(settings))
        .dashboard(red_dashboard());
    svc.check()?;
    Ok(svc)
}

/// Checks the settings the checkout objects are built from, naming the key and what was
/// expected.
fn check_settings(settings: &Settings) -> Result<(), Error> {
    let c = &settings.checkout;
    let mut problems = Vec::new();
    if c.max_replicas < c.replicas {
        problems.push(format!(
            "checkout.max_replicas ({}) is below checkout.replicas ({})",
            c.max_replicas, c.replicas
        ));
    }
    if c.replicas < 2 {
        problems.push(format!(
            "checkout.replicas ({}) must be at least 2: the PodDisruptionBudget allows one pod down, so a single replica would stop node drains",
            c.replicas
        ));
    }
    if !(0.0..=1.0).contains(&c.error_rate) {
        problems.push(format!(
            "checkout.error_rate ({}) must be within 0.0-1.0",
            c.error_rate
        ));
    }
    if let Err(e) = super::bootstrap::check(settings) {
        problems.push(e.to_string());
    }
    if !c.certificate_arn.starts_with("arn:aws:acm:") {
        problems.push(format!(
            "checkout.certificate_arn ({:?}) must be an ACM certificate ARN (arn:aws:acm:...)",
            c.certificate_arn
        ));
    }
    if let Some(acl) = &c.waf_acl_arn
        && !acl.starts_with("arn:aws:wafv2:")
    {
        problems.push(format!(
            "checkout.waf_acl_arn ({acl:?}) must be a WAFv2 web ACL ARN (arn:aws:wafv2:...)"
        ));
    }
    let host_ok = c.host.len() <= 253
        && c.host.split('.').count() >= 2
        && c.host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !host_ok {
        problems.push(format!(
            "checkout.host ({:?}) must be a lowercase DNS name",
            c.host
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Construct {
            construct: format!("checkout settings of {}", settings.environment),
            message: problems.join("; "),
        })
    }
}

/// The checkout service's alerts: latency, error rate, down, degraded mode.
fn alerts(settings: &Settings, target: &Target) -> Vec<Alert> {
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
    // Datadog's view of the same metrics (the Agent's OpenMetrics check on the pods).
    let dd_scope = format!("kube_namespace:{APPS_NAMESPACE},kube_deployment:{CHECKOUT}");
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
        .runbook(Action::ScaleDeployment, target.clone())
        .datadog(DatadogQuery::metric(
            "avg(last_10m)",
            format!(
                "p99:{}{{{dd_scope}}}",
                datadog::gauge(checkout::REQUEST_DURATION_SECONDS)
            ),
            ">",
            lat,
        ))
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
        .runbook(Action::EnableDegradedMode, target.clone())
        .datadog(DatadogQuery::metric(
            "sum(last_5m)",
            format!(
                "sum:{}{{{dd_scope}}}.as_count() / sum:{}{{{dd_scope}}}.as_count()",
                datadog::counter(checkout::ERRORS_TOTAL),
                datadog::counter(checkout::REQUESTS_TOTAL)
            ),
            ">",
            err,
        ))
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
            .runbook(Action::RestartDeployment, target.clone())
            .datadog(DatadogQuery::ServiceCheck {
                check: datadog::health_check(),
                scope: vec![
                    format!("kube_namespace:{APPS_NAMESPACE}"),
                    format!("kube_deployment:{CHECKOUT}"),
                ],
                by: "pod_name".into(),
                failures: 2,
            })
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
        .datadog(DatadogQuery::metric(
            "max(last_1m)",
            format!(
                "max:{}{{{dd_scope}}}",
                datadog::gauge(checkout::DEGRADED_MODE_GAUGE)
            ),
            ">=",
            1.0,
        ))
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
fn slo(settings: &Settings) -> Slo {
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

/// The checkout RED dashboard: request rate, error ratio, duration p50 / p95 / p99.
fn red_dashboard() -> Dashboard {
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
        json: dashboards::dashboard(
            "checkout-red",
            "Checkout: rate, errors, duration",
            &["checkout", "red", "sre-platform"],
            vec![
                dashboards::panel(1, "Request rate", "reqps", 0, 0, &[(&rate, "requests/s")]),
                dashboards::panel(
                    2,
                    "Error ratio",
                    "percentunit",
                    12,
                    0,
                    &[(&errors, "errors")],
                ),
                dashboards::panel(
                    3,
                    "Duration",
                    "s",
                    0,
                    8,
                    &[(&p50, "p50"), (&p95, "p95"), (&p99, "p99")],
                ),
                dashboards::panel(
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
