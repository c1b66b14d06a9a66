//! CloudWatch alarms that notify a topic, and dashboards.

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
    topic: &NotificationTopic,
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
            .alarm_actions(vec![Value::from(topic.arn())])
            .ok_actions(vec![Value::from(topic.arn())]),
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
    topic: &NotificationTopic,
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
            .alarm_actions(vec![Value::from(topic.arn())])
            .ok_actions(vec![Value::from(topic.arn())]),
    )
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
