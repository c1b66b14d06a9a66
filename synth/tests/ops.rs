//! `synth ops` (the recovery commands) against a moto server: the dev pipeline stack deployed
//! with the AWS CLI (as `deploy.rs` does), then each command run as a user runs it, the synth
//! binary with `AWS_ENDPOINT_URL` pointing at moto, and its effect read back through the
//! services' APIs. A queue subscribed to the bus by the test (a rule of its own) observes what
//! reaches the bus.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use platform_model::platform::{self, ArtifactKind};
use platform_model::settings::{Environment, Settings};
use serde_json::{Value, json};

mod support;

use support::{Moto, REGION, create_pipeline_stack, for_moto, workspace_root};

const BUCKET: &str = "ops-test-assets";

fn synth(moto: &Moto, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synth"))
        .current_dir(workspace_root())
        .args(["ops", "--env", "dev"])
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Deploys the dev pipeline stack; returns its outputs.
fn deploy(moto: &Moto, settings: &Settings) -> BTreeMap<String, String> {
    let assets = synth::assets::compute(&workspace_root()).unwrap();
    let artifacts = platform::synthesize(settings, &assets).unwrap();
    let pipeline = artifacts
        .iter()
        .find(|a| {
            a.kind == ArtifactKind::CloudformationTemplate && a.path == "sre-pipeline.template.json"
        })
        .unwrap();
    let (sent, _) = for_moto(&serde_json::from_str(&pipeline.contents).unwrap());
    let stack = create_pipeline_stack(moto, settings, &assets, &sent, BUCKET);
    stack["Outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["OutputKey"].as_str().unwrap().to_owned(),
                o["OutputValue"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// An incident record as the runbook writes it.
fn record(id: &str, timestamp: &str, status: &str) -> String {
    json!({
        "incident_id": {"S": id},
        "timestamp": {"S": timestamp},
        "status": {"S": status},
        "severity": {"S": "critical"},
        "alert_name": {"S": "CheckoutHighErrorRate"},
        "actions_taken": {"L": [{"S": "enable_degraded_mode"}]},
    })
    .to_string()
}

/// A platform event as EventBridge delivers it (to the audit log, the dead-letter queue).
fn event(detail_type: &str, id: &str, time: &str) -> Value {
    json!({
        "version": "0",
        "id": format!("{detail_type}-{id}"),
        "detail-type": detail_type,
        "source": "sre.platform.alertmanager",
        "account": "123456789012",
        "time": time,
        "region": REGION,
        "resources": [],
        "detail": {"incident_id": id, "severity": "critical", "alert_name": "CheckoutHighErrorRate"},
    })
}

#[test]
fn recovery_commands_work_against_the_deployed_stack() {
    let settings = Settings::embedded(Environment::Dev).unwrap();
    assert_eq!(
        settings.region.as_str(),
        REGION,
        "ops runs in the settings' region"
    );
    let moto = Moto::start();
    let outputs = deploy(&moto, &settings);
    let table = &outputs["IncidentsTableName"];
    let bus = &outputs["EventBusName"];
    let dlq = &outputs["DeadLetterQueueUrl"];

    // An observer of the bus: everything on it also lands in a queue of the test's.
    let observer = moto.aws(&["sqs", "create-queue", "--queue-name", "observer"])["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let observer_arn = moto.aws(&[
        "sqs",
        "get-queue-attributes",
        "--queue-url",
        &observer,
        "--attribute-names",
        "QueueArn",
    ])["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_owned();
    moto.aws(&[
        "events",
        "put-rule",
        "--name",
        "observer",
        "--event-bus-name",
        bus,
        "--event-pattern",
        r#"{"source":[{"prefix":"sre.platform"}]}"#,
    ]);
    moto.aws(&[
        "events",
        "put-targets",
        "--rule",
        "observer",
        "--event-bus-name",
        bus,
        "--targets",
        &format!("Id=q,Arn={observer_arn}"),
    ]);
    let observed = || -> Vec<Value> {
        let mut all = Vec::new();
        loop {
            let got = moto.aws(&[
                "sqs",
                "receive-message",
                "--queue-url",
                &observer,
                "--max-number-of-messages",
                "10",
            ]);
            let Some(msgs) = got["Messages"].as_array() else {
                break;
            };
            if msgs.is_empty() {
                break;
            }
            for m in msgs {
                all.push(serde_json::from_str(m["Body"].as_str().unwrap()).unwrap());
                moto.aws(&[
                    "sqs",
                    "delete-message",
                    "--queue-url",
                    &observer,
                    "--receipt-handle",
                    m["ReceiptHandle"].as_str().unwrap(),
                ]);
            }
        }
        all
    };

    // incidents: open ones by default, all with --all, oldest first.
    for (id, ts, status) in [
        ("inc-old", "2026-11-27T09:00:00Z", "resolved"),
        ("inc-b", "2026-11-27T11:00:00Z", "remediating"),
        ("inc-a", "2026-11-27T10:00:00Z", "escalated"),
    ] {
        moto.aws(&[
            "dynamodb",
            "put-item",
            "--table-name",
            table,
            "--item",
            &record(id, ts, status),
        ]);
    }
    let o = synth(&moto, &["incidents", "--output", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let open: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = open
        .iter()
        .map(|i| i["incident_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["inc-a", "inc-b"]);
    let o = synth(&moto, &["incidents", "--all"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("inc-old") && t.contains("3 incident(s)"), "{t}");

    // timeline: the record and the incident's events from the audit log, in time order.
    // (moto answers DescribeStackResource with a 500: the list instead.)
    let listed = moto.aws(&[
        "cloudformation",
        "list-stack-resources",
        "--stack-name",
        "sre-pipeline",
    ]);
    let audit = listed["StackResourceSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["LogicalResourceId"] == "AuditLogGroup")
        .unwrap()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    moto.aws(&[
        "logs",
        "create-log-stream",
        "--log-group-name",
        &audit,
        "--log-stream-name",
        "s",
    ]);
    let log_events: Vec<Value> = [
        (
            "incident.created",
            "inc-a",
            "2026-11-27T10:00:05Z",
            1_795_773_605_000_i64,
        ),
        (
            "incident.created",
            "inc-b",
            "2026-11-27T11:00:05Z",
            1_795_777_205_000,
        ),
        (
            "action.completed",
            "inc-a",
            "2026-11-27T10:01:00Z",
            1_795_773_660_000,
        ),
    ]
    .iter()
    .map(|(dt, id, time, ms)| json!({"timestamp": ms, "message": event(dt, id, time).to_string()}))
    .collect();
    let mut sorted = log_events.clone();
    sorted.sort_by_key(|e| e["timestamp"].as_i64());
    moto.aws(&[
        "logs",
        "put-log-events",
        "--log-group-name",
        &audit,
        "--log-stream-name",
        "s",
        "--log-events",
        &serde_json::to_string(&sorted).unwrap(),
    ]);
    let o = synth(&moto, &["timeline", "inc-a"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let record_at = t.find("record: escalated").expect(&t);
    let created_at = t.find("event: incident.created").expect(&t);
    let completed_at = t.find("event: action.completed").expect(&t);
    assert!(record_at < created_at && created_at < completed_at, "{t}");
    assert!(!t.contains("inc-b"), "only this incident's events: {t}");
    let o = synth(&moto, &["timeline", "inc-missing"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no incident inc-missing"), "{}", text(&o));

    // redrive: listed first (nothing sent, nothing lost), then sent and deleted with --yes;
    // a message that is not an event stays.
    for body in [
        event("incident.created", "inc-dlq-1", "2026-11-27T12:00:00Z").to_string(),
        event("incident.resolved", "inc-dlq-2", "2026-11-27T12:01:00Z").to_string(),
        "not an event".to_owned(),
    ] {
        moto.aws(&[
            "sqs",
            "send-message",
            "--queue-url",
            dlq,
            "--message-body",
            &body,
        ]);
    }
    let o = synth(&moto, &["redrive"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("3 message(s)") && t.contains("2 event(s) would be put back"),
        "{t}"
    );
    assert!(observed().is_empty(), "nothing sent without --yes");
    let o = synth(&moto, &["redrive", "--yes"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("2 event(s) put back"), "{t}");
    let seen = observed();
    let mut redriven: Vec<&str> = seen
        .iter()
        .map(|e| e["detail"]["incident_id"].as_str().unwrap())
        .collect();
    redriven.sort_unstable();
    assert_eq!(redriven, ["inc-dlq-1", "inc-dlq-2"], "{seen:?}");
    let left = moto.aws(&[
        "sqs",
        "get-queue-attributes",
        "--queue-url",
        dlq,
        "--attribute-names",
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
    ]);
    let count = |k: &str| {
        left["Attributes"][k]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert_eq!(
        count("ApproximateNumberOfMessages") + count("ApproximateNumberOfMessagesNotVisible"),
        1,
        "only the message that is not an event stays: {left}"
    );

    // replay: the archive's window back onto the bus.
    let o = synth(
        &moto,
        &[
            "replay",
            "--from",
            "2026-11-27T12:00:00Z",
            "--to",
            "2026-11-27T10:00:00Z",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("is not before"), "{}", text(&o));
    let o = synth(
        &moto,
        &[
            "replay",
            "--from",
            "yesterday",
            "--to",
            "2026-11-27T10:00:00Z",
        ],
    );
    assert!(
        text(&o).contains("expected an RFC 3339 time"),
        "{}",
        text(&o)
    );
    let o = synth(
        &moto,
        &[
            "replay",
            "--from",
            "2000-01-01T00:00:00Z",
            "--to",
            "2100-01-01T00:00:00Z",
        ],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("run again with --yes"), "{t}");
    let o = synth(
        &moto,
        &[
            "replay",
            "--from",
            "2000-01-01T00:00:00Z",
            "--to",
            "2100-01-01T00:00:00Z",
            "--yes",
        ],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("completed"), "{t}");
    let replayed = observed();
    println!("replayed: {}", replayed.len());
    assert!(
        replayed
            .iter()
            .any(|e| e["detail"]["incident_id"] == "inc-dlq-1"),
        "the redriven event, archived, is replayed: {replayed:?}"
    );
}
