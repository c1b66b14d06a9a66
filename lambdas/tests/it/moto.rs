//! alert_ingest and runbook_action against a moto server: the real SDK calls, a real bus, rule
//! and queue, a real table and parameter. Faults are injected by a TCP proxy in front of moto,
//! never by a fake of the AWS API.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use lambdas::ingest::metrics::Sink;
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
        metrics: Sink::memory().0,
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

/// A group with one bad alert: the valid alerts reach the bus, the answer is 202 and names the
/// rejected alert (Alertmanager does not retry a 4xx: a 400 would lose the whole group).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_alert_is_rejected_and_its_group_published() {
    let config = support::aws(moto_url()).await;
    let wiring = wiring(&config).await;
    let mut ingest = make_ingest(&config, &wiring.bus, TokenSource::Fixed(TOKEN.into()));
    let (sink, lines) = Sink::memory();
    ingest.metrics = sink;
    let mut hook: Value = serde_json::from_str(&fixture("alertmanager_firing.json")).unwrap();
    let mut bad = hook["alerts"][0].clone();
    bad["fingerprint"] = json!("badbadbadbadbad0");
    bad["labels"]["runbook_action"] = json!("reboot");
    hook["alerts"].as_array_mut().unwrap().insert(1, bad);
    let (status, answer) = post(&ingest, "alertmanager", hook.to_string()).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(ids(&answer).len(), 2);
    assert_eq!(answer["events"], 2);
    assert_eq!(
        answer["rejected"],
        json!([{
            "alert": "alerts[1]",
            "index": 1,
            "fingerprint": "badbadbadbadbad0",
            "alertname": hook["alerts"][0]["labels"]["alertname"],
            "field": "alerts[1].labels.runbook_action",
            "message": "unknown action \"reboot\", expected one of scale_deployment, restart_deployment, enable_degraded_mode, drain_node",
        }])
    );
    let messages = wiring.drain().await;
    let got: BTreeSet<String> = messages
        .iter()
        .map(|m| m["detail"]["fingerprint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        got,
        BTreeSet::from([
            "5f2a1c7e3b9d0a41".to_string(),
            hook["alerts"][2]["fingerprint"]
                .as_str()
                .unwrap()
                .to_string()
        ])
    );
    let line: Value = serde_json::from_str(&lines.lock().unwrap()[0]).unwrap();
    assert_eq!(
        (&line["Outcome"], &line["RejectedAlerts"]),
        (&json!("partial"), &json!(1))
    );
}

/// Checks `doc` against the CloudWatch embedded metric format specification: the `_aws`
/// metadata (integer `Timestamp` in ms, one or more `CloudWatchMetrics` directives with a
/// `Namespace`, `Dimensions` as arrays of dimension keys, `Metrics` with `Name` and an allowed
/// `Unit`), every dimension key a string at top level, every metric a number at top level.
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>
fn assert_emf(doc: &Value) {
    let root = doc.as_object().expect("an object");
    let aws = root["_aws"].as_object().expect("_aws");
    let ts = aws["Timestamp"].as_i64().expect("integer Timestamp");
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    assert!(
        (now - ts).abs() < 60_000,
        "Timestamp {ts} is ms since the epoch, now"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert!(!directives.is_empty());
    for d in directives {
        let ns = d["Namespace"].as_str().expect("Namespace");
        assert!(!ns.is_empty() && ns.len() <= 1024 && !ns.starts_with("AWS/"));
        for set in d["Dimensions"].as_array().expect("Dimensions") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30);
            for key in set {
                let key = key.as_str().unwrap();
                assert!(
                    root[key].is_string(),
                    "dimension {key} at top level, a string"
                );
            }
        }
        let metrics = d["Metrics"].as_array().expect("Metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for m in metrics {
            let name = m["Name"].as_str().expect("Name");
            assert!(
                root[name].is_number(),
                "metric {name} at top level, a number"
            );
            if let Some(unit) = m.get("Unit") {
                assert!(
                    ["Count", "None", "Milliseconds", "Seconds"].contains(&unit.as_str().unwrap())
                );
            }
        }
    }
}

/// One EMF line per request, for every outcome, with the contract's namespace, metric names
/// and dimension.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_metrics_line_per_request_and_outcome() {
    use platform_contract::telemetry::{
        INGEST_NAMESPACE, INGEST_REJECTED_ALERTS_METRIC, INGEST_REQUESTS_METRIC, IngestOutcome,
        OUTCOME_DIMENSION,
    };
    let config = support::aws(moto_url()).await;
    let wiring = wiring(&config).await;
    let (sink, lines) = Sink::memory();
    let mut ingest = make_ingest(&config, &wiring.bus, TokenSource::Fixed(TOKEN.into()));
    ingest.metrics = sink.clone();
    let mut broken = make_ingest(&config, "no-such-bus", TokenSource::Fixed(TOKEN.into()));
    broken.metrics = sink.clone();
    let mut tokenless = make_ingest(
        &config,
        &wiring.bus,
        TokenSource::Parameter {
            client: aws_sdk_ssm::Client::new(&config),
            name: "/sre/missing".into(),
        },
    );
    tokenless.metrics = sink;

    let firing = fixture("alertmanager_firing.json");
    let mut partial: Value = serde_json::from_str(&firing).unwrap();
    partial["alerts"][1]["startsAt"] = json!("yesterday");
    let mut nothing: Value = partial.clone();
    nothing["alerts"][0]["startsAt"] = json!("yesterday");
    let mut get = request("alertmanager", Some(TOKEN), firing.clone());
    *get.method_mut() = http::Method::GET;
    let cases: Vec<(&Ingest, lambda_http::Request, u16, IngestOutcome, u64)> = vec![
        (
            &ingest,
            request("alertmanager", Some(TOKEN), firing.clone()),
            202,
            IngestOutcome::Accepted,
            0,
        ),
        (
            &ingest,
            request("alertmanager", Some(TOKEN), partial.to_string()),
            202,
            IngestOutcome::Partial,
            1,
        ),
        (
            &ingest,
            request("alertmanager", Some(TOKEN), nothing.to_string()),
            400,
            IngestOutcome::Rejected,
            2,
        ),
        (
            &ingest,
            request("alertmanager", Some(TOKEN), "{not json"),
            400,
            IngestOutcome::Rejected,
            0,
        ),
        (
            &ingest,
            request("alertmanager", Some("wrong"), firing.clone()),
            401,
            IngestOutcome::Unauthorized,
            0,
        ),
        (
            &ingest,
            request("grafana", Some(TOKEN), firing.clone()),
            404,
            IngestOutcome::Refused,
            0,
        ),
        (&ingest, get, 405, IngestOutcome::Refused, 0),
        (
            &ingest,
            request("alertmanager", Some(TOKEN), "x".repeat(2 << 20)),
            413,
            IngestOutcome::Refused,
            0,
        ),
        (
            &broken,
            request("alertmanager", Some(TOKEN), firing.clone()),
            503,
            IngestOutcome::Unavailable,
            0,
        ),
        (
            &tokenless,
            request("alertmanager", Some(TOKEN), firing.clone()),
            503,
            IngestOutcome::Unavailable,
            0,
        ),
    ];
    let n = cases.len();
    for (i, (ingest, request, status, outcome, rejected)) in cases.into_iter().enumerate() {
        let response = handle(ingest, request).await;
        assert_eq!(response.status().as_u16(), status, "case {i}");
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), i + 1, "one line per request");
        assert!(!lines[i].contains('\n'), "one line");
        let doc: Value = serde_json::from_str(&lines[i]).unwrap();
        assert_emf(&doc);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], INGEST_NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([[OUTCOME_DIMENSION]]));
        assert_eq!(
            directive["Metrics"],
            json!([
                {"Name": INGEST_REQUESTS_METRIC, "Unit": "Count"},
                {"Name": INGEST_REJECTED_ALERTS_METRIC, "Unit": "Count"},
            ])
        );
        assert_eq!(doc[OUTCOME_DIMENSION], outcome.as_str(), "case {i}");
        assert_eq!(doc[INGEST_REQUESTS_METRIC], 1);
        assert_eq!(doc[INGEST_REJECTED_ALERTS_METRIC], rejected, "case {i}");
    }
    assert_eq!(n, 10);
    // Every outcome the contract names was produced.
    let seen: BTreeSet<String> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["Outcome"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let all: BTreeSet<String> = IngestOutcome::ALL
        .iter()
        .map(|o| o.as_str().to_string())
        .collect();
    assert_eq!(seen, all);
    wiring.drain().await;
}

/// Token rotation: the secret's current and previous values are both accepted, and a rotated
/// value is accepted at once (a mismatch re-reads the secret), not after the cache expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_token_current_and_previous_values_are_accepted() {
    use lambdas::ingest::token::TokenProvider;
    let config = support::aws(moto_url()).await;
    let wiring = wiring(&config).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let secret = unique("webhook-token");
    let arn = secrets
        .create_secret()
        .name(&secret)
        .secret_string("token-v1")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let source = TokenSource::Secret {
        client: secrets.clone(),
        id: arn,
    };
    let mut ingest = make_ingest(&config, &wiring.bus, source.clone());
    // The production cache lifetime (5 minutes); no minimum age before a re-read on mismatch,
    // so the test does not wait 30 s.
    ingest.token = TokenProvider::with_timing(
        source.clone(),
        lambdas::ingest::token::TOKEN_TTL,
        Duration::ZERO,
    );
    async fn status(ingest: &Ingest, token: &str) -> u16 {
        let request = request("datadog", Some(token), fixture("datadog_triggered.json"));
        handle(ingest, request).await.status().as_u16()
    }
    assert_eq!(status(&ingest, "token-v1").await, 202);
    assert_eq!(
        ingest.token.tokens().await.unwrap(),
        ["token-v1"],
        "no AWSPREVIOUS yet"
    );

    // Rotation: moto moves AWSCURRENT to v2 and AWSPREVIOUS to v1.
    secrets
        .put_secret_value()
        .secret_id(&secret)
        .secret_string("token-v2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status(&ingest, "token-v2").await,
        202,
        "the new value, before the cache expires"
    );
    assert_eq!(
        status(&ingest, "token-v1").await,
        202,
        "the previous value, still configured in a sender"
    );
    assert_eq!(
        ingest.token.tokens().await.unwrap(),
        ["token-v2", "token-v1"]
    );
    assert_eq!(status(&ingest, "token-v3").await, 401, "any other value");

    // With the refresh bound, a wrong token does not re-read the secret each time: a value set
    // after the last read waits for the bound (or the cache's expiry).
    let bounded = make_ingest(&config, &wiring.bus, source);
    assert_eq!(status(&bounded, "token-v2").await, 202);
    secrets
        .put_secret_value()
        .secret_id(&secret)
        .secret_string("token-v3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status(&bounded, "token-v3").await,
        401,
        "within 30 s of the last read"
    );
    assert_eq!(status(&ingest, "token-v3").await, 202);
    assert_eq!(status(&ingest, "token-v1").await, 401, "two rotations ago");
    wiring.drain().await;
}
