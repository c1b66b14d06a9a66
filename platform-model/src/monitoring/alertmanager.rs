//! The Alertmanager configuration: route by severity to the pipeline's webhook, group by
//! `alertname` and `namespace`, inhibit a warning while the same alert is critical.
//!
//! ```
//! use platform_model::monitoring::alertmanager::{Routing, config, PIPELINE_RECEIVER};
//!
//! let routing = Routing { group_wait: "30s".into(), group_interval: "5m".into(), repeat_interval: "4h".into() };
//! let am = config(&routing, "https://alerts.example.com/webhook/alertmanager");
//! assert_eq!(am["route"]["receiver"], PIPELINE_RECEIVER);
//! assert_eq!(am["receivers"][1]["webhook_configs"][0]["url"], "https://alerts.example.com/webhook/alertmanager");
//! ```

use serde_json::{Value, json};

use super::alert::SEVERITY_LABEL;
use crate::contract::Severity;

/// The receiver that posts to the pipeline's `POST /webhook/alertmanager`.
pub const PIPELINE_RECEIVER: &str = "sre-pipeline";
/// The Secret (in the monitoring namespace, created outside synth) holding the webhook's bearer
/// token under the key [`WEBHOOK_TOKEN_KEY`]. The Prometheus operator mounts it at
/// `/etc/alertmanager/secrets/<name>/`.
pub const WEBHOOK_TOKEN_SECRET: &str = "alertmanager-sre-pipeline-token";
/// The key of the token in [`WEBHOOK_TOKEN_SECRET`].
pub const WEBHOOK_TOKEN_KEY: &str = "token";

/// Where Alertmanager reads the bearer token (the mounted Secret file; never inline).
pub fn token_file() -> String {
    format!("/etc/alertmanager/secrets/{WEBHOOK_TOKEN_SECRET}/{WEBHOOK_TOKEN_KEY}")
}

/// Alertmanager's route timing (Prometheus durations such as `30s`, `5m`, `4h`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// How long to buffer alerts of a new group before the first notification.
    pub group_wait: String,
    /// How long to wait before notifying about new alerts of a group already notified.
    pub group_interval: String,
    /// How long to wait before repeating a notification.
    pub repeat_interval: String,
}

/// The configuration, as Alertmanager reads it (`alertmanager.yaml`) and as the
/// kube-prometheus-stack values carry it (`alertmanager.config`). `webhook_url` is the
/// pipeline's `POST /webhook/alertmanager` on the webhook API's custom domain, from the API's
/// construct.
pub fn config(am: &Routing, webhook_url: &str) -> Value {
    let severity_route = |s: Severity| {
        json!({
            "matchers": [format!("{SEVERITY_LABEL} = \"{}\"", s.as_str())],
            "receiver": PIPELINE_RECEIVER,
        })
    };
    json!({
        "global": { "resolve_timeout": "5m" },
        "route": {
            "receiver": PIPELINE_RECEIVER,
            "group_by": ["alertname", "namespace"],
            "group_wait": am.group_wait,
            "group_interval": am.group_interval,
            "repeat_interval": am.repeat_interval,
            "routes": [
                // kube-prometheus-stack's always-firing heartbeat and inhibitor alerts.
                { "matchers": ["alertname =~ \"Watchdog|InfoInhibitor\""], "receiver": "null" },
                severity_route(Severity::Critical),
                severity_route(Severity::Warning),
                severity_route(Severity::Info),
            ],
        },
        "receivers": [
            { "name": "null" },
            {
                "name": PIPELINE_RECEIVER,
                "webhook_configs": [{
                    "url": webhook_url,
                    "send_resolved": true,
                    "http_config": {
                        "authorization": { "type": "Bearer", "credentials_file": token_file() },
                    },
                }],
            },
        ],
        "inhibit_rules": [{
            "source_matchers": [format!("{SEVERITY_LABEL} = \"critical\"")],
            "target_matchers": [format!("{SEVERITY_LABEL} = \"warning\"")],
            "equal": ["alertname", "namespace"],
        }],
    })
}
