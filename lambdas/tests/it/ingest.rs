//! alert_ingest called directly with fixtures: no AWS (every case here answers before
//! `PutEvents`), plus the normalization's determinism.

use lambda_http::{Body, Request};
use lambdas::ingest::normalize::{Enrichment, Sender, incident_id, normalize};
use lambdas::ingest::publish::{Publisher, RetryPolicy};
use lambdas::ingest::token::{TokenProvider, TokenSource};
use lambdas::ingest::{Ingest, handle};
use platform_model::contract::events::{DetailType, IncidentCreated, IncidentResolved, Source};
use platform_model::contract::runbook::Action;
use serde_json::{Value, json};

use crate::support::{self, enrichment, fixture};

pub const TOKEN: &str = "s3cret-token";

/// An ingest whose bus is unreachable: only for requests rejected before publishing.
pub async fn offline_ingest() -> Ingest {
    let config = support::aws("http://127.0.0.1:9").await;
    Ingest {
        token: TokenProvider::new(TokenSource::Fixed(TOKEN.into())),
        publisher: Publisher::new(
            aws_sdk_eventbridge::Client::new(&config),
            "unreachable",
            RetryPolicy::default(),
        ),
        account: "111122223333".into(),
        region: "eu-west-1".into(),
        max_body_bytes: 64 * 1024,
    }
}

pub fn request(source: &str, token: Option<&str>, body: impl Into<String>) -> Request {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("https://hooks.example.invalid/webhook/{source}"))
        .header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Body::Text(body.into())).unwrap()
}

async fn answer(request: Request) -> (u16, Value) {
    let ingest = offline_ingest().await;
    let response = handle(&ingest, request).await;
    let status = response.status().as_u16();
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    (status, body)
}

fn firing() -> Value {
    serde_json::from_str(&fixture("alertmanager_firing.json")).unwrap()
}

/// Every bad-input class: 400 and a message naming the field.
#[tokio::test]
async fn bad_input_gets_400_naming_the_field() {
    let mut cases: Vec<(&str, &str, String, &str)> = vec![
        ("not json", "alertmanager", "{not json".into(), "body"),
        ("empty body", "alertmanager", "".into(), "body"),
        ("array", "alertmanager", "[]".into(), "body"),
        ("datadog not json", "datadog", "<xml/>".into(), "body"),
    ];
    let mut edit = |what: &'static str, field: &'static str, f: &dyn Fn(&mut Value)| {
        let mut hook = firing();
        f(&mut hook);
        cases.push((what, "alertmanager", hook.to_string(), field));
    };
    edit("wrong version", "version", &|h| h["version"] = json!("3"));
    edit("version type", "version", &|h| h["version"] = json!(4));
    edit("alerts type", "alerts", &|h| h["alerts"] = json!("x"));
    edit("no alerts", "alerts", &|h| h["alerts"] = json!([]));
    edit("group status", "status", &|h| {
        h["status"] = json!("pending")
    });
    edit("alert status", "alerts[1].status", &|h| {
        h["alerts"][1]["status"] = json!("on")
    });
    edit("start time", "alerts[0].startsAt", &|h| {
        h["alerts"][0]["startsAt"] = json!("yesterday")
    });
    edit("empty fingerprint", "alerts[1].fingerprint", &|h| {
        h["alerts"][1]["fingerprint"] = json!(" ")
    });
    edit("label type", "alerts[0].labels.severity", &|h| {
        h["alerts"][0]["labels"]["severity"] = json!(3)
    });
    edit("severity", "alerts[0].labels.severity", &|h| {
        h["alerts"][0]["labels"]["severity"] = json!("urgent")
    });
    edit("alertname", "alerts[0].labels.alertname", &|h| {
        h["alerts"][0]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("alertname");
    });
    edit("action", "alerts[0].labels.runbook_action", &|h| {
        h["alerts"][0]["labels"]["runbook_action"] = json!("reboot")
    });
    edit("target", "alerts[0].labels.runbook_target", &|h| {
        h["alerts"][0]["labels"]["runbook_target"] = json!("checkout")
    });
    edit(
        "target without action",
        "alerts[0].labels.runbook_action",
        &|h| {
            h["alerts"][0]["labels"]
                .as_object_mut()
                .unwrap()
                .remove("runbook_action");
        },
    );
    edit("resolved end time", "alerts[0].endsAt", &|h| {
        h["alerts"][0]["status"] = json!("resolved");
    });
    let mut dd = |what: &'static str, field: &'static str, f: &dyn Fn(&mut Value)| {
        let mut hook: Value = serde_json::from_str(&fixture("datadog_triggered.json")).unwrap();
        f(&mut hook);
        cases.push((what, "datadog", hook.to_string(), field));
    };
    dd("date", "date", &|h| h["date"] = json!("Fri, 14 Mar 2025"));
    dd("priority", "alert_priority", &|h| {
        h["alert_priority"] = json!("high")
    });
    dd("cycle key", "alert_cycle_key", &|h| {
        h["alert_cycle_key"] = json!("")
    });
    dd("alert id type", "alert_id", &|h| {
        h["alert_id"] = json!(148632097)
    });
    dd("tag severity", "tags.severity", &|h| {
        h["tags"] = json!("severity:bad")
    });
    dd("tag action", "tags.runbook_action", &|h| {
        h["tags"] = json!("runbook_action:nope,runbook_target:apps/x")
    });
    for (what, source, body, field) in cases {
        let (status, answer) = answer(request(source, Some(TOKEN), body)).await;
        assert_eq!(status, 400, "{what}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert_eq!(answer["field"], field, "{what}: {answer}");
        assert!(
            message.starts_with(field),
            "{what}: message {message:?} names {field}"
        );
    }
}

#[tokio::test]
async fn missing_fields_are_named_in_the_message() {
    let mut hook = firing();
    hook["alerts"][0]
        .as_object_mut()
        .unwrap()
        .remove("fingerprint");
    let (status, answer) = answer(request("alertmanager", Some(TOKEN), hook.to_string())).await;
    assert_eq!(status, 400);
    assert_eq!(answer["field"], "alerts[0]");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("missing field `fingerprint`"),
        "{answer}"
    );
}

#[tokio::test]
async fn auth_size_source_and_method() {
    let body = fixture("alertmanager_firing.json");
    let (status, answer) = self::answer(request("alertmanager", None, body.clone())).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (401, Some("Authorization"))
    );
    let (status, _) = self::answer(request("alertmanager", Some("wrong"), body.clone())).await;
    assert_eq!(status, 401);
    let (status, answer) =
        self::answer(request("alertmanager", Some(TOKEN), "x".repeat(70_000))).await;
    assert_eq!((status, answer["field"].as_str()), (413, Some("body")));
    let (status, answer) = self::answer(request("grafana", Some(TOKEN), body.clone())).await;
    assert_eq!((status, answer["field"].as_str()), (404, Some("source")));
    let mut get = request("alertmanager", Some(TOKEN), body);
    *get.method_mut() = http::Method::GET;
    assert_eq!(self::answer(get).await.0, 405);
}

#[test]
fn alertmanager_fixture_normalizes_to_incidents() {
    let events = normalize(
        Sender::Alertmanager,
        fixture("alertmanager_firing.json").as_bytes(),
        &enrichment(),
    )
    .unwrap();
    assert_eq!(events.len(), 2);
    let first: IncidentCreated = serde_json::from_str(&events[0].detail).unwrap();
    assert_eq!(events[0].detail_type, DetailType::IncidentCreated);
    assert_eq!(first.severity.as_str(), "critical");
    assert_eq!(first.summary, "checkout 5xx ratio above 5% for 5 minutes");
    assert_eq!(first.starts_at, "2025-03-14T09:26:53.589Z");
    assert_eq!(first.account, "111122223333");
    let runbook = first.runbook.unwrap();
    assert_eq!(runbook.action, Action::RestartDeployment);
    assert_eq!(
        (
            runbook.target.namespace.as_str(),
            runbook.target.name.as_str()
        ),
        ("apps", "checkout")
    );
    assert_eq!(
        first.incident_id,
        incident_id(
            Source::Alertmanager,
            "5f2a1c7e3b9d0a41",
            "2025-03-14T09:26:53.589Z"
        )
    );
    // The second alert's start has an offset; it is normalized to UTC.
    let second: IncidentCreated = serde_json::from_str(&events[1].detail).unwrap();
    assert_eq!(second.starts_at, "2025-03-14T09:27:08.101Z");
}

#[test]
fn resolution_maps_to_the_same_incident() {
    let created = normalize(
        Sender::Alertmanager,
        fixture("alertmanager_firing.json").as_bytes(),
        &enrichment(),
    )
    .unwrap();
    let resolved = normalize(
        Sender::Alertmanager,
        fixture("alertmanager_resolved.json").as_bytes(),
        &enrichment(),
    )
    .unwrap();
    assert_eq!(resolved[0].detail_type, DetailType::IncidentResolved);
    assert_eq!(resolved[0].incident_id, created[0].incident_id);
    let detail: IncidentResolved = serde_json::from_str(&resolved[0].detail).unwrap();
    assert_eq!(detail.resolved_at, "2025-03-14T09:41:23.002Z");
    // 09:26:53.589 to 09:41:23.002: 14 min 29.4 s.
    assert_eq!(detail.time_to_resolve_seconds, Some(869));
    assert_eq!(detail.received_at_epoch, 1_741_944_421);

    let created = normalize(
        Sender::Datadog,
        fixture("datadog_triggered.json").as_bytes(),
        &enrichment(),
    )
    .unwrap();
    let resolved = normalize(
        Sender::Datadog,
        fixture("datadog_recovered.json").as_bytes(),
        &enrichment(),
    )
    .unwrap();
    assert_eq!(created[0].detail_type, DetailType::IncidentCreated);
    assert_eq!(resolved[0].detail_type, DetailType::IncidentResolved);
    assert_eq!(created[0].incident_id, resolved[0].incident_id);
    // A Datadog recovery does not carry the cycle's start: no key part, no made-up duration.
    let recovery: IncidentResolved = serde_json::from_str(&resolved[0].detail).unwrap();
    assert_eq!(recovery.starts_at, "");
    assert_eq!(recovery.time_to_resolve_seconds, None);
    assert!(!resolved[0].detail.contains("time_to_resolve_seconds"));
    let detail: IncidentCreated = serde_json::from_str(&created[0].detail).unwrap();
    assert_eq!(detail.severity.as_str(), "critical");
    assert_eq!(detail.alert_name, "Checkout p99 latency above 1.5s");
    assert_eq!(detail.starts_at, "2025-03-14T09:26:53Z");
    assert_eq!(detail.runbook.unwrap().action, Action::ScaleDeployment);
}

/// Retries, re-sends and duplicates inside a payload never make a second incident.
#[test]
fn duplicates_and_retries_map_to_one_incident() {
    let mut hook = firing();
    let first = hook["alerts"][0].clone();
    hook["alerts"].as_array_mut().unwrap().push(first.clone());
    // The same instant written differently is the same start.
    let mut same = first;
    same["startsAt"] = json!("2025-03-14T10:26:53.589+01:00");
    hook["alerts"].as_array_mut().unwrap().push(same);
    let once = normalize(
        Sender::Alertmanager,
        hook.to_string().as_bytes(),
        &enrichment(),
    )
    .unwrap();
    assert_eq!(once.len(), 2, "duplicates removed");
    let later = Enrichment {
        received_at: "2025-03-14T09:30:00Z".into(),
        received_at_epoch: 1_741_944_600,
        ..enrichment()
    };
    let again = normalize(Sender::Alertmanager, hook.to_string().as_bytes(), &later).unwrap();
    let ids = |events: &[lambdas::ingest::normalize::Event]| {
        events
            .iter()
            .map(|e| e.incident_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&once), ids(&again));
    // A different start (a new firing of the same series) is a new incident.
    assert_ne!(
        incident_id(
            Source::Alertmanager,
            "5f2a1c7e3b9d0a41",
            "2025-03-14T09:26:53.589Z"
        ),
        incident_id(
            Source::Alertmanager,
            "5f2a1c7e3b9d0a41",
            "2025-03-14T11:00:00Z"
        )
    );
}
