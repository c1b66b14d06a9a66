//! CloudWatch alarms that notify a topic, and dashboards.
//!
//! # Example: an error-rate alarm on alert_ingest's own metrics
//!
//! ```
//! use platform_model::aws::Tags;
//! use platform_model::aws::cloudwatch::{Metric, error_rate_alarm, metric_alarm};
//! use platform_model::aws::kms::{EncryptionKey, KeyProps};
//! use platform_model::aws::sns::NotificationTopic;
//! use platform_model::cfn::{Template, Value};
//! use platform_model::contract::telemetry::{
//!     INGEST_NAMESPACE, INGEST_REQUESTS_METRIC, IngestOutcome, OUTCOME_DIMENSION,
//! };
//! use platform_model::resources::cloudwatch::alarm::{ComparisonOperator, Statistic};
//! use serde_json::json;
//!
//! let mut t = Template::new("ingest-alarms", "Alarms on the webhook ingestion");
//! let key = EncryptionKey::new(
//!     &mut t,
//!     "Alarms",
//!     KeyProps {
//!         description: "Alarm notifications".into(),
//!         alias: "alarms".into(),
//!         pending_window_days: 30,
//!         admin_role_names: vec![],
//!         service_users: vec!["cloudwatch.amazonaws.com".into()],
//!         allow_logs: false,
//!         tags: Tags::default(),
//!     },
//! );
//! let topic = NotificationTopic::new(&mut t, "OnCall", "oncall", &key, &Tags::default());
//! let requests = |outcome: IngestOutcome| {
//!     Metric::new(
//!         INGEST_NAMESPACE,
//!         INGEST_REQUESTS_METRIC,
//!         vec![(OUTCOME_DIMENSION, Value::from(outcome.as_str()))],
//!     )
//! };
//! error_rate_alarm(
//!     &mut t,
//!     "IngestUnavailable",
//!     "ingest-unavailable",
//!     "More than 5% of webhook calls could not be delivered",
//!     &requests(IngestOutcome::Unavailable),
//!     &Metric::new(INGEST_NAMESPACE, INGEST_REQUESTS_METRIC, vec![]),
//!     5.0,
//!     &[&topic],
//! );
//! metric_alarm(
//!     &mut t,
//!     "IngestUnauthorized",
//!     "ingest-unauthorized",
//!     "Webhook calls with a wrong token",
//!     &requests(IngestOutcome::Unauthorized),
//!     Statistic::Sum,
//!     300,
//!     1,
//!     ComparisonOperator::GreaterThanOrEqualToThreshold,
//!     10.0,
//!     &[&topic],
//! );
//!
//! let json = t.to_json()?;
//! let rate = &json["Resources"]["IngestUnavailableAlarm"]["Properties"];
//! assert_eq!(rate["Threshold"], 5.0);
//! assert_eq!(rate["Metrics"][2]["Expression"], "IF(total > 0, 100 * errors / total, 0)");
//! assert_eq!(
//!     rate["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"],
//!     json!([{"Name": "Outcome", "Value": "unavailable"}])
//! );
//! // Both alarms notify the topic when they fire and when they recover.
//! for alarm in ["IngestUnavailableAlarm", "IngestUnauthorizedAlarm"] {
//!     let props = &json["Resources"][alarm]["Properties"];
//!     assert_eq!(props["AlarmActions"], json!([{"Ref": "OnCallTopic"}]));
//!     assert_eq!(props["OKActions"], json!([{"Ref": "OnCallTopic"}]));
//! }
//! # Ok::<(), platform_model::Error>(())
//! ```

use serde_json::json;

use crate::aws::sns::NotificationTopic;
use crate::cfn::{Expr, Handle, Json, Template, Value};
use crate::resources::cloudwatch::{Alarm as AlarmResource, Dashboard, alarm};

/// A metric: namespace, name and dimensions.
#[derive(Debug, Clone)]
pub struct Metric {
    /// Namespace, e.g. `AWS/Lambda`.
    pub namespace: String,
    /// Metric name, e.g. `Errors`.
    pub name: String,
    /// Dimensions.
    pub dimensions: Vec<(String, Value<String>)>,
}

impl Metric {
    /// A metric with dimensions.
    pub fn new(namespace: &str, name: &str, dimensions: Vec<(&str, Value<String>)>) -> Self {
        Metric {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            dimensions: dimensions
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }

    fn dims(&self) -> Vec<alarm::Dimension> {
        self.dimensions
            .iter()
            .map(|(k, v)| alarm::Dimension::new(k.as_str(), v.clone()))
            .collect()
    }
}

/// Adds an alarm as `<id>Alarm`: `statistic` of `metric` over `period_seconds`,
/// `comparison` `threshold`, in `periods` consecutive periods; notifies `topic` on alarm and OK.
#[allow(clippy::too_many_arguments)]
pub fn metric_alarm(
    t: &mut Template,
    id: &str,
    name: &str,
    description: &str,
    metric: &Metric,
    statistic: alarm::Statistic,
    period_seconds: i64,
    periods: i64,
    comparison: alarm::ComparisonOperator,
    threshold: f64,
    topics: &[&NotificationTopic],
) -> Handle<AlarmResource> {
    t.add(
        &format!("{id}Alarm"),
        AlarmResource::new()
            .alarm_name(name)
            .alarm_description(description)
            .namespace(metric.namespace.as_str())
            .metric_name(metric.name.as_str())
            .dimensions(metric.dims())
            .statistic(statistic)
            .period(period_seconds)
            .evaluation_periods(periods)
            .comparison_operator(comparison)
            .threshold(threshold)
            .treat_missing_data(alarm::TreatMissingData::NotBreaching)
            .alarm_actions(actions(topics))
            .ok_actions(actions(topics)),
    )
}

/// Adds an alarm on a ratio `100 * errors / total` (metric math) above `percent`, as
/// `<id>Alarm`.
#[allow(clippy::too_many_arguments)]
pub fn error_rate_alarm(
    t: &mut Template,
    id: &str,
    name: &str,
    description: &str,
    errors: &Metric,
    total: &Metric,
    percent: f64,
    topics: &[&NotificationTopic],
) -> Handle<AlarmResource> {
    let stat = |m: &Metric, qid: &str| {
        alarm::MetricDataQuery::new(qid)
            .metric_stat(alarm::MetricStat::new(
                alarm::Metric::new()
                    .namespace(m.namespace.as_str())
                    .metric_name(m.name.as_str())
                    .dimensions(m.dims()),
                300,
                "Sum",
            ))
            .return_data(false)
    };
    t.add(
        &format!("{id}Alarm"),
        AlarmResource::new()
            .alarm_name(name)
            .alarm_description(description)
            .metrics(vec![
                stat(errors, "errors"),
                stat(total, "total"),
                alarm::MetricDataQuery::new("rate")
                    .expression("IF(total > 0, 100 * errors / total, 0)")
                    .label("Error rate (%)")
                    .return_data(true),
            ])
            .evaluation_periods(1)
            .comparison_operator(alarm::ComparisonOperator::GreaterThanThreshold)
            .threshold(percent)
            .treat_missing_data(alarm::TreatMissingData::NotBreaching)
            .alarm_actions(actions(topics))
            .ok_actions(actions(topics)),
    )
}

/// The topics' ARNs, as an alarm's actions.
fn actions(topics: &[&NotificationTopic]) -> Vec<Value<String>> {
    topics.iter().map(|t| Value::from(t.arn())).collect()
}

/// Adds a dashboard named `name` as `<id>Dashboard` with `widgets` (CloudWatch dashboard
/// widget JSON; strings may hold `${...}` placeholders resolved by `Fn::Sub`).
pub fn dashboard(t: &mut Template, id: &str, name: &str, widgets: Vec<Json>) -> Handle<Dashboard> {
    let body = serde_json::to_string(&json!({ "widgets": widgets })).unwrap_or_default();
    t.add(
        &format!("{id}Dashboard"),
        Dashboard::new(Expr::sub(body)).dashboard_name(name),
    )
}
