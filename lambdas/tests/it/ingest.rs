//! alert_ingest called directly with fixtures: no AWS (every case here answers before
//! `PutEvents`), plus the normalization's determinism.

use lambda_http::{Body, Request};
use lambdas::ingest::metrics::Sink;
use lambdas::ingest::normalize::{
    DATADOG_CYCLE_START, Enrichment, Event, Sender, incident_id, normalize,
};
use lambdas::ingest::publish::{Publisher, RetryPolicy};
use lambdas::ingest::token::{TokenProvider, TokenSource};
use lambdas::ingest::{Ingest, handle};
use platform_contract::events::{DetailType, IncidentCreated, IncidentResolved, Source};
use platform_contract::runbook::Action;
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
        metrics: Sink::memory().0,
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

/// The firing fixture with its first alert only: one bad alert is then the whole payload.
fn firing_one() -> Value {
    let mut hook = firing();
    hook["alerts"].as_array_mut().unwrap().truncate(1);
    hook
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
        let mut hook = firing_one();
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
    edit("alert status", "alerts[0].status", &|h| {
        h["alerts"][0]["status"] = json!("on")
    });
    edit("start time", "alerts[0].startsAt", &|h| {
        h["alerts"][0]["startsAt"] = json!("yesterday")
    });
    edit("empty fingerprint", "alerts[0].fingerprint", &|h| {
        h["alerts"][0]["fingerprint"] = json!(" ")
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
    let mut hook = firing_one();
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
    .unwrap()
    .events;
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
    .unwrap()
    .events;
    let resolved = normalize(
        Sender::Alertmanager,
        fixture("alertmanager_resolved.json").as_bytes(),
        &enrichment(),
    )
    .unwrap()
    .events;
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
    .unwrap()
    .events;
    let resolved = normalize(
        Sender::Datadog,
        fixture("datadog_recovered.json").as_bytes(),
        &enrichment(),
    )
    .unwrap()
    .events;
    assert_eq!(created[0].detail_type, DetailType::IncidentCreated);
    assert_eq!(resolved[0].detail_type, DetailType::IncidentResolved);
    assert_eq!(created[0].incident_id, resolved[0].incident_id);
    // A Datadog recovery does not carry the cycle's start: the same constant start as the
    // creation (the record's key), no made-up duration.
    let recovery: IncidentResolved = serde_json::from_str(&resolved[0].detail).unwrap();
    assert_eq!(recovery.starts_at, DATADOG_CYCLE_START);
    assert_eq!(recovery.time_to_resolve_seconds, None);
    assert!(!resolved[0].detail.contains("time_to_resolve_seconds"));
    let detail: IncidentCreated = serde_json::from_str(&created[0].detail).unwrap();
    assert_eq!(detail.severity.as_str(), "critical");
    assert_eq!(detail.alert_name, "Checkout p99 latency above 1.5s");
    assert_eq!(detail.starts_at, DATADOG_CYCLE_START, "not $DATE");
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
    .unwrap()
    .events;
    assert_eq!(once.len(), 2, "duplicates removed");
    let later = Enrichment {
        received_at: "2025-03-14T09:30:00Z".into(),
        received_at_epoch: 1_741_944_600,
        ..enrichment()
    };
    let again = normalize(Sender::Alertmanager, hook.to_string().as_bytes(), &later)
        .unwrap()
        .events;
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

/// One bad alert does not block its group: the valid alerts give events, the bad one is named
/// (index, fingerprint, alert name, field, message). Covers a semantic error (the fast parse
/// succeeds) and a type error (the payload only parses alert by alert).
#[test]
fn one_bad_alert_does_not_block_its_group() {
    let mut hook = firing();
    let mut third = hook["alerts"][0].clone();
    third["fingerprint"] = json!("0000000000000003");
    hook["alerts"].as_array_mut().unwrap().push(third);
    // A semantic error in the middle alert.
    hook["alerts"][1]["startsAt"] = json!("yesterday");
    let out = normalize(
        Sender::Alertmanager,
        hook.to_string().as_bytes(),
        &enrichment(),
    )
    .expect("the valid alerts are accepted");
    assert_eq!(out.events.len(), 2);
    let fingerprints: Vec<String> = out
        .events
        .iter()
        .map(|e| {
            serde_json::from_str::<IncidentCreated>(&e.detail)
                .unwrap()
                .fingerprint
        })
        .collect();
    assert_eq!(fingerprints, ["5f2a1c7e3b9d0a41", "0000000000000003"]);
    assert_eq!(out.rejected.len(), 1);
    let r = &out.rejected[0];
    assert_eq!(
        (r.alert.as_str(), r.index, r.field.as_str()),
        ("alerts[1]", 1, "alerts[1].startsAt")
    );
    assert_eq!(
        r.fingerprint.as_deref(),
        hook["alerts"][1]["fingerprint"].as_str()
    );
    assert_eq!(
        r.alertname.as_deref(),
        hook["alerts"][1]["labels"]["alertname"].as_str()
    );
    assert!(r.message.contains("RFC 3339"), "{}", r.message);

    // A type error (status "on") in one alert: the others still parse and publish.
    let mut hook = firing();
    hook["alerts"][0]["status"] = json!("on");
    hook["alerts"][1]["labels"]["severity"] = json!(3);
    hook["alerts"]
        .as_array_mut()
        .unwrap()
        .push(firing()["alerts"][0].clone());
    let out = normalize(
        Sender::Alertmanager,
        hook.to_string().as_bytes(),
        &enrichment(),
    )
    .unwrap();
    assert_eq!(out.events.len(), 1, "the third alert");
    let fields: Vec<&str> = out.rejected.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, ["alerts[0].status", "alerts[1].labels.severity"]);
    assert_eq!(
        out.rejected[0].fingerprint.as_deref(),
        Some("5f2a1c7e3b9d0a41")
    );
    assert_eq!(
        out.rejected[1].alertname.as_deref(),
        hook["alerts"][1]["labels"]["alertname"].as_str()
    );

    // Nothing valid: the whole payload is refused, every alert named, the first gives the field.
    let mut hook = firing();
    hook["alerts"][0]["startsAt"] = json!("yesterday");
    hook["alerts"][1]["labels"]["severity"] = json!("urgent");
    let bad = normalize(
        Sender::Alertmanager,
        hook.to_string().as_bytes(),
        &enrichment(),
    )
    .unwrap_err();
    assert_eq!(bad.field, "alerts[0].startsAt");
    let fields: Vec<&str> = bad.rejected.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, ["alerts[0].startsAt", "alerts[1].labels.severity"]);
    // An alert whose event would be over EventBridge's 256 KB: rejected alone, and named.
    let mut hook = firing();
    hook["alerts"][1]["labels"]["blob"] = json!("x".repeat(300 * 1024));
    let out = normalize(
        Sender::Alertmanager,
        hook.to_string().as_bytes(),
        &enrichment(),
    )
    .unwrap();
    assert_eq!(out.events.len(), 1);
    let r = &out.rejected[0];
    assert_eq!(r.field, "alerts[1]");
    assert_eq!(
        r.fingerprint.as_deref(),
        hook["alerts"][1]["fingerprint"].as_str()
    );
    assert!(r.message.contains("labels too large"), "{}", r.message);
    // An invalid envelope names no alert.
    let mut hook = firing();
    hook["version"] = json!("3");
    let bad = normalize(
        Sender::Alertmanager,
        hook.to_string().as_bytes(),
        &enrichment(),
    )
    .unwrap_err();
    assert_eq!((bad.field.as_str(), bad.rejected.len()), ("version", 0));
}

/// The 400 of a payload with nothing valid lists every alert; the field is the first's.
#[tokio::test]
async fn nothing_valid_answers_400_listing_each_alert() {
    let mut hook = firing();
    hook["alerts"][0]["startsAt"] = json!("yesterday");
    hook["alerts"][1]["fingerprint"] = json!("");
    let (status, answer) = answer(request("alertmanager", Some(TOKEN), hook.to_string())).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["field"], "alerts[0].startsAt");
    let rejected = answer["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{answer}");
    assert_eq!(rejected[1]["alert"], "alerts[1]");
    assert_eq!(rejected[1]["field"], "alerts[1].fingerprint");
    assert_eq!(
        rejected[1]["alertname"],
        hook["alerts"][1]["labels"]["alertname"]
    );
    assert!(rejected[1].get("fingerprint").is_none(), "empty: left out");
}

/// A Datadog alert cycle as Datadog sends it: trigger, re-notification, re-trigger (each with
/// its own `$DATE` and `$ID`, the same `$ALERT_CYCLE_KEY`), recovery. Every creation names the
/// same (incident_id, starts_at), which is the incidents table's key: one record, so one
/// remediation; the recovery names the same incident and key.
#[test]
fn a_datadog_cycle_is_one_incident_with_one_key() {
    let base: Value = serde_json::from_str(&fixture("datadog_triggered.json")).unwrap();
    let notification = |transition: &str, id: &str, date: &str| {
        let mut n = base.clone();
        n["alert_transition"] = json!(transition);
        n["id"] = json!(id);
        n["date"] = json!(date);
        n["last_updated"] = json!(date);
        n["alert_title"] = json!(format!(
            "[{transition} on {{service:checkout,env:prod}}] Checkout p99 latency above 1.5s"
        ));
        n
    };
    let sequence = [
        notification("Triggered", "7584920385821993762", "1741944413000"),
        notification("Renotify", "7584925000000000001", "1741944713000"),
        notification("Re-Triggered", "7584927000000000002", "1741944893000"),
        notification("Recovered", "7584931119205311230", "1741945053000"),
    ];
    let mut created = std::collections::BTreeSet::new();
    let mut resolved = Vec::new();
    for (i, n) in sequence.iter().enumerate() {
        // Each notification arrives at its own time.
        let at = Enrichment {
            received_at_epoch: 1_741_944_421 + 300 * i as i64,
            ..enrichment()
        };
        let events: Vec<Event> = normalize(Sender::Datadog, n.to_string().as_bytes(), &at)
            .unwrap()
            .events;
        assert_eq!(events.len(), 1);
        match events[0].detail_type {
            DetailType::IncidentCreated => {
                let d: IncidentCreated = serde_json::from_str(&events[0].detail).unwrap();
                created.insert((d.incident_id, d.starts_at));
            }
            _ => {
                resolved.push(serde_json::from_str::<IncidentResolved>(&events[0].detail).unwrap())
            }
        }
    }
    assert_eq!(
        created.len(),
        1,
        "one (incident_id, starts_at) for the cycle: {created:?}"
    );
    let (id, starts_at) = created.into_iter().next().unwrap();
    assert_eq!(starts_at, DATADOG_CYCLE_START);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].incident_id, id);
    assert_eq!(
        resolved[0].starts_at, starts_at,
        "the recovery keys the same record"
    );
    assert_eq!(resolved[0].resolved_at, "2025-03-14T09:37:33Z");
    // The next cycle of the same monitor is another incident.
    let mut next = sequence[0].clone();
    next["alert_cycle_key"] = json!("7584999999999999999");
    let other = normalize(Sender::Datadog, next.to_string().as_bytes(), &enrichment())
        .unwrap()
        .events;
    assert_ne!(other[0].incident_id, id);
}
