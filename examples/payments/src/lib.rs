//! The payments team's part of the platform, declared outside `platform-model`: its service
//! (a Deployment, two alerts with runbooks, an availability SLO, a dashboard) and a stack of its
//! own that uses the platform's bus and key through their exports.
//!
//! ```
//! use platform_model::settings::{Environment, Settings};
//!
//! let platform = payments_platform::compose(Settings::embedded(Environment::Prod).unwrap())?;
//! assert_eq!(platform.services().len(), 2); // checkout and payments
//! # Ok::<(), platform_model::Error>(())
//! ```

use platform_model::Error;
use platform_model::cfn::{Output, Template};
use platform_model::contract::events::{DetailType, Source};
use platform_model::contract::{Severity, runbook::Action};
use platform_model::monitoring::dashboards::{self, Dashboard};
use platform_model::monitoring::{Alert, AlertCase, Sli, Slo};
use platform_model::platform::{Export, Platform};
use platform_model::resources::events::rule::{self, Rule};
use platform_model::resources::sqs::{Queue, QueueInlinePolicy};
use platform_model::service::{Service, Workload};
use platform_model::settings::{Environment, Settings};
use serde_json::json;

/// The service's name and namespace.
pub const PAYMENTS: &str = "payments";

/// Replicas at rest and the most the runbook (and the autoscaler) may scale to, per
/// environment. The team's own settings: the platform's settings files do not know them.
pub fn replicas(env: Environment) -> (u32, u32) {
    match env {
        Environment::Dev => (2, 3),
        Environment::Staging => (2, 4),
        Environment::Prod => (3, 8),
    }
}

/// The payments service of one environment.
pub fn payments(env: Environment) -> Result<Service, Error> {
    let (replicas, max_replicas) = replicas(env);
    let workload = Workload::new(
        "111111111111.dkr.ecr.us-east-1.amazonaws.com/payments:1.4.2",
        replicas,
        max_replicas,
    )
    // The team's repository keeps tags immutable, so the tag pins the image.
    .immutable_tags_in("the payments team's ECR repository payments")
    .env("PORT", "8080")
    .env("RUST_LOG", "info");
    let svc = Service::new(PAYMENTS, PAYMENTS, workload)
        .allow(Action::RestartDeployment)
        .allow(Action::ScaleDeployment);
    let target = svc.target();
    let sel = r#"namespace="payments",job="payments""#;
    let labels = [("namespace", PAYMENTS), ("job", PAYMENTS)];
    let down = Alert::new("PaymentsDown", format!("up{{{sel}}} == 0"))
        .for_("2m")
        .severity(Severity::Critical)
        .summary("payments instance {{ $labels.instance }} is down")
        .description("Prometheus could not scrape {{ $labels.instance }} for 2 minutes. The runbook restarts the Deployment.")
        .runbook(Action::RestartDeployment, target.clone())
        .case(
            AlertCase::fires(
                "one instance fails its scrapes",
                "5m",
                [("namespace", PAYMENTS), ("job", PAYMENTS), ("instance", "10.0.3.7:8080")],
            )
            .series(format!(r#"up{{{sel},instance="10.0.3.7:8080"}}"#), "0x10"),
        )
        .case(
            AlertCase::quiet("every instance answers", "5m")
                .series(format!(r#"up{{{sel},instance="10.0.3.7:8080"}}"#), "1x10"),
        );
    let bucket = |le: &str, values: &str| {
        (
            format!(r#"payments_request_duration_seconds_bucket{{{sel},le="{le}"}}"#),
            values.to_owned(),
        )
    };
    let with = |mut case: AlertCase, series: Vec<(String, String)>| {
        for (s, v) in series {
            case = case.series(s, v);
        }
        case
    };
    let slow = Alert::new(
        "PaymentsSlow",
        format!(
            "histogram_quantile(0.99, sum by (namespace, job, le) (rate(payments_request_duration_seconds_bucket{{{sel}}}[5m]))) > 1"
        ),
    )
    .for_("10m")
    .severity(Severity::Warning)
    .summary("payments p99 latency above 1s")
    .description(format!(
        "The runbook scales the Deployment out, to at most {max_replicas} replicas."
    ))
    .runbook(Action::ScaleDeployment, target)
    .case(with(
        AlertCase::fires("every request takes 2-4s", "20m", labels),
        vec![
            bucket("1", "0+0x30"),
            bucket("4", "0+100x30"),
            bucket("+Inf", "0+100x30"),
        ],
    ))
    .case(with(
        AlertCase::quiet("every request under 1s", "20m"),
        vec![
            bucket("1", "0+100x30"),
            bucket("4", "0+100x30"),
            bucket("+Inf", "0+100x30"),
        ],
    ));
    let slo = Slo::new(
        "payments-availability",
        "PaymentsAvailability",
        0.995,
        Sli::BadOverTotal {
            bad: format!("payments_errors_total{{{sel}}}"),
            total: format!("payments_requests_total{{{sel}}}"),
        },
    )
    .label("namespace", PAYMENTS)
    .label("service", PAYMENTS);
    let rate = format!("sum(rate(payments_requests_total{{{sel}}}[5m]))");
    let errors = format!(
        "sum(rate(payments_errors_total{{{sel}}}[5m])) / sum(rate(payments_requests_total{{{sel}}}[5m]))"
    );
    let board = Dashboard {
        name: "payments-red".into(),
        json: dashboards::dashboard(
            "payments-red",
            "Payments: rate and errors",
            &["payments", "red"],
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
            ],
        ),
    };
    let svc = svc.alert(down).alert(slow).slo(slo).dashboard(board);
    svc.check()?;
    Ok(svc)
}

/// The payments team's stack: a queue of the incidents that name a payments target, encrypted
/// with the platform's key, fed by a rule on the platform's bus. Both come in through the
/// pipeline stack's exports ([`Export`]), never as a second copy.
pub fn payments_stack() -> Template {
    let mut t = Template::new(
        "payments-incidents",
        "Payments team: a queue of the platform's incidents about payments, on the platform's bus and key",
    );
    let queue = t.add(
        "PaymentsIncidents",
        Queue::new()
            .queue_name("payments-incidents")
            .kms_master_key_id(Export::KeyArn.import())
            .message_retention_period(1_209_600),
    );
    let rule = t.add(
        "PaymentsIncidentsRule",
        Rule::new()
            .description("Incidents whose runbook targets the payments namespace")
            .event_bus_name(Export::EventBusName.import())
            .event_pattern(json!({
                "source": [Source::Alertmanager.as_str(), Source::Datadog.as_str()],
                "detail-type": [DetailType::IncidentCreated.as_str()],
                "detail": { "runbook": { "target": { "namespace": [PAYMENTS] } } },
            }))
            .state(rule::State::Enabled)
            .targets(vec![rule::Target::new(queue.arn(), "payments-incidents")]),
    );
    t.add(
        "PaymentsIncidentsPolicy",
        QueueInlinePolicy::new(
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "PlatformBusRule",
                    "Effect": "Allow",
                    "Principal": { "Service": "events.amazonaws.com" },
                    "Action": "sqs:SendMessage",
                    "Resource": queue.arn(),
                    "Condition": { "ArnEquals": { "aws:SourceArn": rule.arn() } },
                }],
            }),
            queue.reference(),
        ),
    );
    t.output("PaymentsIncidentsQueueUrl", Output::new(queue.reference()));
    t
}

/// The platform as the payments team synthesizes it: the standard platform (its own parts and
/// checkout), the payments service, and the payments team's stack.
pub fn compose(settings: Settings) -> Result<Platform, Error> {
    let env = settings.environment;
    Ok(Platform::standard(settings)?
        .service(payments(env)?)
        .stack(payments_stack()))
}
