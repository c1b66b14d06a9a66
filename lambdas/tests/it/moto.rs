//! alert_ingest and runbook_action against a moto server: the real SDK calls, a real bus, rule
//! and queue, a real table and parameter. Faults are injected by a TCP proxy in front of moto,
//! never by a fake of the AWS API.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use lambdas::ingest::publish::{Publisher, RetryPolicy};
use lambdas::ingest::token::{TokenProvider, TokenSource};
use lambdas::ingest::{Ingest, handle};
use serde_json::{Value, json};

use crate::ingest::{TOKEN, request};
use crate::support::{self, ACCOUNT, FaultProxy, REGION, fixture, moto_url, unique};

/// A bus with a rule sending every alert event to a queue.
pub struct Wiring {
    pub bus: String,
    pub queue_url: String,
    pub sqs: aws_sdk_sqs::Client,
}

pub async fn wiring(config: &SdkConfig) -> Wiring {
    let events = aws_sdk_eventbridge::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let bus = unique("sre-platform-events");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue = unique("incidents");
    let queue_url = sqs
        .create_queue()
        .queue_name(&queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let rule = unique("alerts");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(json!({"source": ["sre.alertmanager", "sre.datadog"]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    Wiring {
        bus,
        queue_url,
        sqs,
    }
}

impl Wiring {
    /// Every message now in the queue (EventBridge delivers synchronously in moto).
    pub async fn drain(&self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

pub fn make_ingest(eventbridge: &SdkConfig, bus: &str, token: TokenSource) -> Ingest {
    // Two SDK attempts with a short backoff under our own retry loop: both layers are
    // exercised, quickly.
    let client = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(eventbridge)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(Duration::from_millis(10)),
            )
            .build(),
    );
    Ingest {
        token: TokenProvider::new(token),
        publisher: Publisher::new(
            client,
            bus,
            RetryPolicy {
                attempts: 3,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(100),
            },
        ),
        account: ACCOUNT.into(),
        region: REGION.into(),
        max_body_bytes: 1024 * 1024,
    }
}

async fn post(ingest: &Ingest, source: &str, body: String) -> (u16, Value) {
    let response = handle(ingest, request(source, Some(TOKEN), body)).await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

fn ids(answer: &Value) -> Vec<String> {
    answer["incident_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_queue_through_bus_and_rule() {
    let config = support::aws(moto_url()).await;
    let wiring = wiring(&config).await;
    let ingest = make_ingest(&config, &wiring.bus, TokenSource::Fixed(TOKEN.into()));

    let (status, answer) = post(&ingest, "alertmanager", fixture("alertmanager_firing.json")).await;
    assert_eq!(status, 202, "{answer}");
    let incident_ids = ids(&answer);
    assert_eq!(incident_ids.len(), 2);
    let (status, answer) = post(&ingest, "datadog", fixture("datadog_triggered.json")).await;
    assert_eq!(status, 202, "{answer}");
    let datadog_id = ids(&answer)[0].clone();

    let messages = wiring.drain().await;
    assert_eq!(messages.len(), 3, "{messages:#?}");
    let mut seen = BTreeSet::new();
    for m in &messages {
        assert_eq!(m["detail-type"], "incident.created");
        assert_eq!(m["detail"]["account"], ACCOUNT);
        assert_eq!(m["detail"]["region"], REGION);
        let source = m["source"].as_str().unwrap();
        assert!(source == "sre.alertmanager" || source == "sre.datadog");
        seen.insert(m["detail"]["incident_id"].as_str().unwrap().to_string());
    }
    let expected: BTreeSet<String> = incident_ids.iter().cloned().chain([datadog_id]).collect();
    assert_eq!(seen, expected);
    let restart = messages
        .iter()
        .find(|m| m["source"] == "sre.alertmanager")
        .unwrap();
    assert_eq!(restart["detail"]["runbook"]["action"], "restart_deployment");
    assert_eq!(restart["detail"]["runbook"]["target"]["name"], "checkout");

    // Alertmanager re-sends the group: the same incidents, not new ones.
    let (status, again) = post(&ingest, "alertmanager", fixture("alertmanager_firing.json")).await;
    assert_eq!(status, 202);
    assert_eq!(ids(&again), incident_ids);
    // ... and its resolution names the same incident.
    let (status, resolved) = post(
        &ingest,
        "alertmanager",
        fixture("alertmanager_resolved.json"),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(ids(&resolved)[0], incident_ids[0]);
    let messages = wiring.drain().await;
    let resolved: Vec<_> = messages
        .iter()
        .filter(|m| m["detail-type"] == "incident.resolved")
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        resolved[0]["detail"]["incident_id"],
        incident_ids[0].as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_alerts_go_in_batches_of_ten() {
    let config = support::aws(moto_url()).await;
    let wiring = wiring(&config).await;
    let ingest = make_ingest(&config, &wiring.bus, TokenSource::Fixed(TOKEN.into()));
    let mut hook: Value = serde_json::from_str(&fixture("alertmanager_firing.json")).unwrap();
    let template = hook["alerts"][0].clone();
    hook["alerts"] = (0..23)
        .map(|i| {
            let mut a = template.clone();
            a["fingerprint"] = json!(format!("fp{i:04}"));
            a
        })
        .collect();
    let (status, answer) = post(&ingest, "alertmanager", hook.to_string()).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["events"], 23);
    assert_eq!(wiring.drain().await.len(), 23);
}

/// PutEvents fails (HTTP 500) three times in a row, then works: the events arrive, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_put_events_failures_are_retried() {
    let config = support::aws(moto_url()).await;
    let wiring = wiring(&config).await;
    let proxy = FaultProxy::start(moto_url(), 3).await;
    let ingest = make_ingest(
        &support::aws(&proxy.url).await,
        &wiring.bus,
        TokenSource::Fixed(TOKEN.into()),
    );
    let (status, answer) = post(&ingest, "alertmanager", fixture("alertmanager_firing.json")).await;
    assert_eq!(status, 202, "{answer}");
    assert!(proxy.connections.load(std::sync::atomic::Ordering::SeqCst) >= 4);
    let messages = wiring.drain().await;
    let got: BTreeSet<String> = messages
        .iter()
        .map(|m| m["detail"]["incident_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(messages.len(), 2, "each event exactly once");
    assert_eq!(got, ids(&answer).into_iter().collect());
}

/// PutEvents never works: 503, so Alertmanager retries; nothing half-delivered is claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeliverable_events_answer_503() {
    let config = support::aws(moto_url()).await;
    let wiring = wiring(&config).await;
    let proxy = FaultProxy::start(moto_url(), usize::MAX).await;
    let ingest = make_ingest(
        &support::aws(&proxy.url).await,
        &wiring.bus,
        TokenSource::Fixed(TOKEN.into()),
    );
    let (status, answer) = post(&ingest, "alertmanager", fixture("alertmanager_firing.json")).await;
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("not delivered"),
        "{answer}"
    );
    assert_eq!(
        proxy.connections.load(std::sync::atomic::Ordering::SeqCst),
        6,
        "3 attempts x 2 SDK tries"
    );
    assert!(wiring.drain().await.is_empty());

    // A bus that does not exist: per-entry failures, retried, then 503.
    let ingest = make_ingest(&config, "no-such-bus", TokenSource::Fixed(TOKEN.into()));
    let (status, answer) = post(&ingest, "alertmanager", fixture("alertmanager_firing.json")).await;
    assert_eq!(status, 503, "{answer}");
}

/// The token comes from an SSM SecureString or a Secrets Manager secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_from_ssm_and_secrets_manager() {
    let config = support::aws(moto_url()).await;
    let wiring = wiring(&config).await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let name = format!("/sre/{}", unique("webhook-token"));
    ssm.put_parameter()
        .name(&name)
        .value(TOKEN)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let secret = unique("webhook-token");
    secrets
        .create_secret()
        .name(&secret)
        .secret_string(json!({ "token": TOKEN }).to_string())
        .send()
        .await
        .unwrap();
    for source in [
        TokenSource::Parameter {
            client: ssm.clone(),
            name: name.clone(),
        },
        TokenSource::Secret {
            client: secrets.clone(),
            id: secret.clone(),
        },
    ] {
        let ingest = make_ingest(&config, &wiring.bus, source);
        let (status, answer) = post(&ingest, "datadog", fixture("datadog_triggered.json")).await;
        assert_eq!(status, 202, "{answer}");
        let response = handle(
            &ingest,
            request("datadog", Some("nope"), fixture("datadog_triggered.json")),
        )
        .await;
        assert_eq!(response.status().as_u16(), 401);
    }
    let missing = make_ingest(
        &config,
        &wiring.bus,
        TokenSource::Parameter {
            client: ssm,
            name: "/sre/missing".into(),
        },
    );
    let (status, _) = post(&missing, "datadog", fixture("datadog_triggered.json")).await;
    assert_eq!(status, 503, "no token: the sender retries later");
}
