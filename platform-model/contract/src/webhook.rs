//! The alert webhooks `alert_ingest` accepts: Alertmanager's webhook (version 4) and the Datadog
//! webhook with the project's custom payload template.
//!
//! These are the wire formats as the senders produce them. Fields are kept as the sender's
//! strings (times, statuses) so a payload round-trips byte for byte through these types; the
//! lambda validates and normalizes them into [`IncidentCreated`](super::events::IncidentCreated)
//! and [`IncidentResolved`](super::events::IncidentResolved) events, naming the field on bad
//! input. Unknown fields are ignored (senders add fields over time).
//!
//! ```
//! use platform_contract::webhook::alertmanager::Webhook;
//!
//! let body = r#"{"version":"4","groupKey":"g","status":"firing","receiver":"sre-pipeline",
//!   "groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am",
//!   "alerts":[{"status":"firing","labels":{"alertname":"CheckoutDown","severity":"critical"},
//!   "annotations":{"summary":"down"},"startsAt":"2026-11-27T10:00:00Z",
//!   "endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom","fingerprint":"abc"}]}"#;
//! let hook: Webhook = serde_json::from_str(body).unwrap();
//! assert_eq!(hook.alerts[0].labels["alertname"], "CheckoutDown");
//! ```

/// Alertmanager's webhook payload, version 4.
///
/// <https://prometheus.io/docs/alerting/latest/configuration/#webhook_config>
pub mod alertmanager {
    use std::collections::BTreeMap;

    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// The only payload version this contract knows.
    pub const VERSION: &str = "4";

    /// Firing or resolved (a group's status, or one alert's).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum Status {
        /// The alert is firing.
        Firing,
        /// The alert stopped firing.
        Resolved,
    }

    /// One webhook notification: a group of alerts.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Webhook {
        /// Payload version, `"4"`.
        pub version: String,
        /// Key identifying the group of alerts (used to deduplicate).
        pub group_key: String,
        /// How many alerts were left out because of `max_alerts`.
        #[serde(default)]
        pub truncated_alerts: u64,
        /// `firing` when at least one alert fires.
        pub status: Status,
        /// The receiver's name.
        pub receiver: String,
        /// Labels the group is keyed on.
        #[serde(default)]
        pub group_labels: BTreeMap<String, String>,
        /// Labels every alert has.
        #[serde(default)]
        pub common_labels: BTreeMap<String, String>,
        /// Annotations every alert has.
        #[serde(default)]
        pub common_annotations: BTreeMap<String, String>,
        /// Backlink to the Alertmanager.
        #[serde(rename = "externalURL", default)]
        pub external_url: String,
        /// The alerts.
        pub alerts: Vec<Alert>,
    }

    /// One alert of a notification.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Alert {
        /// This alert's status.
        pub status: Status,
        /// Its labels (`alertname`, `severity`, `runbook_action`, `runbook_target`, ...).
        #[serde(default)]
        pub labels: BTreeMap<String, String>,
        /// Its annotations (`summary`, `description`, ...).
        #[serde(default)]
        pub annotations: BTreeMap<String, String>,
        /// When it started (RFC 3339).
        pub starts_at: String,
        /// When it ended (RFC 3339); `0001-01-01T00:00:00Z` while firing.
        #[serde(default)]
        pub ends_at: String,
        /// Backlink to the rule's expression.
        #[serde(rename = "generatorURL", default)]
        pub generator_url: String,
        /// Alertmanager's fingerprint of the label set.
        pub fingerprint: String,
    }
}

/// The Datadog webhook, with the custom payload template this project documents
/// (`lambdas/README.md`). Datadog fills each `$VARIABLE` with a string.
///
/// ```json
/// {
///   "id": "$ID",
///   "alert_id": "$ALERT_ID",
///   "alert_cycle_key": "$ALERT_CYCLE_KEY",
///   "alert_transition": "$ALERT_TRANSITION",
///   "alert_title": "$ALERT_TITLE",
///   "alert_priority": "$ALERT_PRIORITY",
///   "alert_status": "$ALERT_STATUS",
///   "alert_scope": "$ALERT_SCOPE",
///   "event_msg": "$EVENT_MSG",
///   "date": "$DATE",
///   "last_updated": "$LAST_UPDATED",
///   "tags": "$TAGS",
///   "link": "$LINK",
///   "org": { "id": "$ORG_ID", "name": "$ORG_NAME" }
/// }
/// ```
pub mod datadog {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// The name of the Datadog webhook (monitors mention `@webhook-sre-platform`).
    pub const WEBHOOK_NAME: &str = "sre-platform";

    /// The placeholder of the bearer token in the generated webhook definition's
    /// `custom_headers`: the token sync step substitutes the secret's value for it.
    pub const TOKEN_PLACEHOLDER: &str = "$WEBHOOK_TOKEN";

    /// The payload Datadog renders for every notification: each `$VARIABLE` is Datadog's
    /// template variable of the [`Webhook`] field of the same name.
    pub const PAYLOAD_TEMPLATE: &str = r#"{
  "id": "$ID",
  "alert_id": "$ALERT_ID",
  "alert_cycle_key": "$ALERT_CYCLE_KEY",
  "alert_transition": "$ALERT_TRANSITION",
  "alert_title": "$ALERT_TITLE",
  "alert_priority": "$ALERT_PRIORITY",
  "alert_status": "$ALERT_STATUS",
  "alert_scope": "$ALERT_SCOPE",
  "event_msg": "$EVENT_MSG",
  "date": "$DATE",
  "last_updated": "$LAST_UPDATED",
  "tags": "$TAGS",
  "link": "$LINK",
  "org": { "id": "$ORG_ID", "name": "$ORG_NAME" }
}"#;

    /// The webhook's definition in the body format of Datadog's API
    /// (`POST /api/v1/integration/webhooks/configuration/webhooks`): name, URL, the bearer
    /// header with [`TOKEN_PLACEHOLDER`], JSON encoding and [`PAYLOAD_TEMPLATE`].
    pub fn webhook_definition(url: &str) -> serde_json::Value {
        serde_json::json!({
            "name": WEBHOOK_NAME,
            "url": url,
            "encode_as": "json",
            "custom_headers": serde_json::json!({
                "Authorization": format!("Bearer {TOKEN_PLACEHOLDER}"),
            }).to_string(),
            "payload": PAYLOAD_TEMPLATE,
        })
    }

    /// One Datadog notification (one monitor transition).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    pub struct Webhook {
        /// `$ID`: the notification's event id.
        #[serde(default)]
        pub id: String,
        /// `$ALERT_ID`: the monitor's id; with the scope, the alert's fingerprint.
        pub alert_id: String,
        /// `$ALERT_CYCLE_KEY`: the same for every notification of one alert cycle
        /// (trigger to recovery); stands in for the start time in the incident id.
        pub alert_cycle_key: String,
        /// `$ALERT_TRANSITION`: `Triggered`, `Re-Triggered`, `Warn`, `Re-Warn`, `No Data`,
        /// `Renotify`, `Recovered`, ...
        pub alert_transition: String,
        /// `$ALERT_TITLE`: the monitor's title for this alert.
        pub alert_title: String,
        /// `$ALERT_PRIORITY`: `P1` to `P5` (empty when the monitor has none).
        #[serde(default)]
        pub alert_priority: String,
        /// `$ALERT_STATUS`: a summary of the status.
        #[serde(default)]
        pub alert_status: String,
        /// `$ALERT_SCOPE`: the group (`service:checkout,env:prod`) of a multi-alert.
        #[serde(default)]
        pub alert_scope: String,
        /// `$EVENT_MSG`: the monitor's message.
        #[serde(default)]
        pub event_msg: String,
        /// `$DATE`: when the transition happened, epoch milliseconds.
        pub date: String,
        /// `$LAST_UPDATED`: when the monitor last changed, epoch milliseconds.
        #[serde(default)]
        pub last_updated: String,
        /// `$TAGS`: comma-separated tags (`env:prod,severity:critical,runbook_action:...`).
        #[serde(default)]
        pub tags: String,
        /// `$LINK`: link to the event.
        #[serde(default)]
        pub link: String,
        /// `$ORG_ID` / `$ORG_NAME`.
        #[serde(default)]
        pub org: Org,
    }

    /// The Datadog organization.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    pub struct Org {
        /// `$ORG_ID`.
        #[serde(default)]
        pub id: String,
        /// `$ORG_NAME`.
        #[serde(default)]
        pub name: String,
    }

    /// Transitions that end an alert cycle (everything else counts as firing).
    pub const RESOLVING_TRANSITIONS: [&str; 2] = ["Recovered", "Warn Recovered"];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ActionCompleted, IncidentCreated, IncidentResolved};
    use crate::runbook::{ActionRequest, ActionResult};
    use serde::{Serialize, de::DeserializeOwned};

    /// Parse, serialize, parse again: the value is unchanged and the JSON is the fixture's.
    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(text: &str) -> T {
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        let parsed: T = serde_json::from_str(text).unwrap();
        let written = serde_json::to_value(&parsed).unwrap();
        assert_eq!(written, original, "serialization differs from the fixture");
        let again: T = serde_json::from_value(written).unwrap();
        assert_eq!(again, parsed);
        parsed
    }

    #[test]
    fn alertmanager_firing_fixture_round_trips() {
        let hook: alertmanager::Webhook =
            round_trip(include_str!("fixtures/alertmanager_firing.json"));
        assert_eq!(hook.version, alertmanager::VERSION);
        assert_eq!(hook.status, alertmanager::Status::Firing);
        assert_eq!(hook.alerts.len(), 2);
        assert_eq!(
            hook.alerts[0].labels["runbook_action"],
            "restart_deployment"
        );
    }

    #[test]
    fn alertmanager_resolved_fixture_round_trips() {
        let hook: alertmanager::Webhook =
            round_trip(include_str!("fixtures/alertmanager_resolved.json"));
        assert_eq!(hook.alerts[0].status, alertmanager::Status::Resolved);
    }

    #[test]
    fn datadog_fixtures_round_trip() {
        let hook: datadog::Webhook = round_trip(include_str!("fixtures/datadog_triggered.json"));
        assert_eq!(hook.alert_transition, "Triggered");
        let hook: datadog::Webhook = round_trip(include_str!("fixtures/datadog_recovered.json"));
        assert!(datadog::RESOLVING_TRANSITIONS.contains(&hook.alert_transition.as_str()));
    }

    #[test]
    fn platform_event_fixtures_round_trip() {
        round_trip::<IncidentCreated>(include_str!("fixtures/incident_created.json"));
        round_trip::<IncidentResolved>(include_str!("fixtures/incident_resolved.json"));
        round_trip::<ActionCompleted>(include_str!("fixtures/action_completed.json"));
        round_trip::<ActionRequest>(include_str!("fixtures/action_request.json"));
        round_trip::<ActionResult>(include_str!("fixtures/action_result.json"));
    }

    #[test]
    fn schemas_name_the_wire_fields() {
        let schema = serde_json::to_string(&schemars::schema_for!(alertmanager::Webhook)).unwrap();
        for field in [
            "groupKey",
            "truncatedAlerts",
            "externalURL",
            "generatorURL",
            "startsAt",
        ] {
            assert!(schema.contains(field), "{field} missing from the schema");
        }
    }
}
