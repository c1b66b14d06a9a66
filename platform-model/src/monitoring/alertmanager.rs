//! The Alertmanager configuration: route by severity to the pipeline's webhook, group by
//! `alertname` and `namespace`, inhibit a warning while the same alert is critical.

use serde_json::{Value, json};

use super::alert::SEVERITY_LABEL;
use crate::contract::Severity;
use crate::settings::Settings;

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

/// The configuration, as Alertmanager reads it (`alertmanager.yaml`) and as the
/// kube-prometheus-stack values carry it (`alertmanager.config`). `webhook_url` is the
/// pipeline's `POST /webhook/alertmanager` on the webhook API's custom domain, from the API's
/// construct.
pub fn config(settings: &Settings, webhook_url: &str) -> Value {
    let am = &settings.cluster.alertmanager;
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
            "group_wait": am.group_wait.as_str(),
            "group_interval": am.group_interval.as_str(),
            "repeat_interval": am.repeat_interval.as_str(),
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
