//! `approval` against a moto server: the real table, topic, bus and Step Functions. The task
//! token comes from a moto execution waiting on `sns:publish.waitForTaskToken`, which moto
//! runs (the runbook's own `lambda:invoke.waitForTaskToken` would need moto's Docker Lambda);
//! the decisions go back to that execution through `SendTaskSuccess` / `SendTaskFailure`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use lambdas::approval::link::{self, Claims};
use lambdas::approval::{Approvals, KeySource, LinkRequest, Page, Settings, handle, respond};
use platform_contract::approval::{ApprovalRequest, Decision, record, status};
use platform_contract::runbook::{Action, ActionRequest, Target};
use serde_json::{Value, json};

use crate::support::{self, ACCOUNT, REGION, moto_url, unique};

const KEY: &[u8] = b"test-signing-key";
const PUBLIC: &str = "https://alerts.example.com";

struct World {
    app: Approvals,
    sqs: aws_sdk_sqs::Client,
    sfn: aws_sdk_sfn::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    /// The people's topic, read back.
    people: String,
    /// approval.* events from the bus.
    events: String,
    /// The task tokens of the stand-in runbook.
    tokens: String,
    machine: String,
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let name = unique(name);
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (url, format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"))
}

async fn topic_to_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> (String, String) {
    let topic = sns
        .create_topic()
        .name(unique(name))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let (url, arn) = queue(sqs, name).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    (topic, url)
}

async fn world(timeout_seconds: u32) -> World {
    let config = support::aws(moto_url()).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let sns = aws_sdk_sns::Client::new(&config);
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sfn = aws_sdk_sfn::Client::new(&config);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = crate::kube::table(&config).await;
    let (people_topic, people) = topic_to_queue(&sns, &sqs, "people").await;
    let (tokens_topic, tokens) = topic_to_queue(&sns, &sqs, "tokens").await;
    let bus = unique("sre-platform-events");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let (events_url, events_arn) = queue(&sqs, "approvals").await;
    let rule = unique("approvals");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(json!({"source": ["sre.approval"]}).to_string())
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
                .arn(events_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    reqwest::Client::new()
        .post(format!("{}/moto-api/config", moto_url()))
        .json(&json!({"stepfunctions": {"execute_state_machine": true}}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    // The runbook's wait, standing in for RequestApproval: same result path, timeout and
    // catches (States.Timeout -> expired, anything else -> escalate).
    let definition = json!({
        "StartAt": "RequestApproval",
        "States": {
            "RequestApproval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                "Parameters": {"TopicArn": tokens_topic, "Message": {"task_token.$": "$$.Task.Token"}},
                "TimeoutSeconds": timeout_seconds,
                "ResultPath": "$.request.approved_by",
                "Catch": [
                    {"ErrorEquals": ["States.Timeout"], "Next": "RecordApprovalExpired"},
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Escalate"}
                ],
                "Next": "InvokeRunbookAction"
            },
            "InvokeRunbookAction": {"Type": "Succeed"},
            "RecordApprovalExpired": {"Type": "Fail", "Error": "Expired"},
            "Escalate": {"Type": "Fail", "Error": "Escalated", "Cause": "denied"}
        }
    });
    let machine = sfn
        .create_state_machine()
        .name(unique("runbook"))
        .definition(definition.to_string())
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/runbook"))
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let app = Approvals {
        settings: Settings {
            table: table.clone(),
            signing_key_secret_arn: "unused".into(),
            topic_arn: people_topic,
            bus_name: bus,
            public_url: PUBLIC.into(),
            log_filter: "info".into(),
        },
        dynamodb: dynamodb.clone(),
        sns,
        events,
        sfn: sfn.clone(),
        key: KeySource::Fixed(KEY.to_vec()),
        cached_key: tokio::sync::OnceCell::new(),
        now: lambdas::approval::system_now,
    };
    World {
        app,
        sqs,
        sfn,
        dynamodb,
        table,
        people,
        events: events_url,
        tokens,
        machine,
    }
}

impl World {
    async fn receive(&self, url: &str) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..50 {
            let got = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            for m in got.messages.unwrap_or_default() {
                out.push(m.body.unwrap_or_default());
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            if !out.is_empty() {
                return out;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        out
    }

    /// Starts an execution and the incident record, and asks for an approval as the runbook
    /// does; answers the request and the people's message.
    async fn ask(&self, incident: &str) -> (String, ApprovalRequest, String) {
        self.dynamodb
            .put_item()
            .table_name(&self.table)
            .item("incident_id", AttributeValue::S(incident.into()))
            .item(
                "timestamp",
                AttributeValue::S("2026-01-05T10:00:00Z".into()),
            )
            .item("alert_name", AttributeValue::S("NodeNotReady".into()))
            .item("severity", AttributeValue::S("critical".into()))
            .item("status", AttributeValue::S("remediating".into()))
            .send()
            .await
            .unwrap();
        let execution = self
            .sfn
            .start_execution()
            .state_machine_arn(&self.machine)
            .name(incident)
            .input("{}")
            .send()
            .await
            .unwrap()
            .execution_arn;
        let token_message = self.receive(&self.tokens).await;
        let token: Value = serde_json::from_str(&token_message[0]).unwrap();
        let request = ApprovalRequest {
            task_token: token["task_token"].as_str().unwrap().to_owned(),
            incident_id: incident.into(),
            starts_at: "2026-01-05T10:00:00Z".into(),
            alert_name: "NodeNotReady".into(),
            severity: platform_contract::Severity::Critical,
            summary: "node ip-10-0-1-5 NotReady for 5 minutes".into(),
            request: ActionRequest {
                incident_id: incident.into(),
                action: Action::DrainNode,
                target: Target {
                    namespace: String::new(),
                    name: "ip-10-0-1-5".into(),
                },
                max_replicas: None,
                replicas: None,
                degraded_mode_parameter: None,
                approval_above_replicas: None,
                approved_by: None,
                dry_run: false,
            },
            why: "drain_node of node ip-10-0-1-5 evicts every pod on it: a human approves it first"
                .into(),
            requested_at: "2026-01-05T10:05:01Z".into(),
            timeout_seconds: 900,
        };
        let answer = handle(&self.app, serde_json::to_value(&request).unwrap())
            .await
            .unwrap();
        assert!(answer["approval_id"].is_string(), "{answer}");
        let people = self.receive(&self.people).await;
        assert_eq!(people.len(), 1, "{people:?}");
        (execution, request, people[0].clone())
    }

    async fn record(&self, incident: &str) -> HashMap<String, AttributeValue> {
        self.dynamodb
            .get_item()
            .table_name(&self.table)
            .key("incident_id", AttributeValue::S(incident.into()))
            .key(
                "timestamp",
                AttributeValue::S("2026-01-05T10:00:00Z".into()),
            )
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    async fn execution(
        &self,
        arn: &str,
    ) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
        for _ in 0..100 {
            let out = self
                .sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .unwrap();
            if out.status != aws_sdk_sfn::types::ExecutionStatus::Running {
                return out;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("execution {arn} still running");
    }
}

fn text(item: &HashMap<String, AttributeValue>, k: &str) -> String {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// The link's incident (path) and token (query), from the message.
fn link_after(message: &str, label: &str) -> (String, String) {
    let line = message
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line in {message}"));
    let url = line.trim_start_matches(label).trim();
    let rest = url
        .strip_prefix(&format!("{PUBLIC}/approvals/"))
        .unwrap_or_else(|| panic!("{url}"));
    let (incident, query) = rest.split_once('?').unwrap();
    let query: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    (incident.to_owned(), query["token"].clone())
}

fn get(incident: &str, token: &str) -> LinkRequest {
    serde_json::from_value(json!({
        "httpMethod": "GET",
        "pathParameters": {"incident_id": incident},
        "queryStringParameters": {"token": token},
        "requestContext": {"identity": {"sourceIp": "198.51.100.7"}},
    }))
    .unwrap()
}

fn post(incident: &str, token: &str, by: Option<&str>) -> LinkRequest {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token);
    if let Some(by) = by {
        form.append_pair("by", by);
    }
    serde_json::from_value(json!({
        "httpMethod": "POST",
        "pathParameters": {"incident_id": incident},
        "body": form.finish(),
        "requestContext": {"identity": {"sourceIp": "198.51.100.7"}},
    }))
    .unwrap()
}

fn assert_page(page: &Page, status: u16, says: &str) {
    assert_eq!(page.status, status, "{}", page.html);
    assert!(
        page.html.contains(says),
        "expected {says:?} in {}",
        page.html
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_resumes_the_runbook_once_and_bad_links_are_refused() {
    let w = world(900).await;
    let incident = unique("am-approve");
    let (execution, _, message) = w.ask(&incident).await;
    // A sentence first, then the links.
    let first = message.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "APPROVAL NEEDED CRITICAL NodeNotReady: the runbook wants to run drain_node on node ip-10-0-1-5 (incident {incident}"
        )),
        "{message}"
    );
    assert!(
        message.contains("Why: drain_node of node ip-10-0-1-5 evicts every pod"),
        "{message}"
    );
    let (path_incident, approve) = link_after(&message, "Approve:");
    let (_, deny) = link_after(&message, "Deny:");
    assert_eq!(path_incident, incident);
    let pending = w.record(&incident).await;
    assert_eq!(text(&pending, record::STATUS), status::REQUESTED);
    assert!(!text(&pending, record::TASK_TOKEN).is_empty());

    // GET shows the decision and asks who; it changes nothing.
    let shown = respond(&w.app, &get(&incident, &approve)).await;
    assert_page(&shown, 200, "Approve drain_node on node ip-10-0-1-5?");
    assert!(
        shown.html.contains(r#"<form method="post">"#),
        "{}",
        shown.html
    );
    assert_eq!(
        text(&w.record(&incident).await, record::STATUS),
        status::REQUESTED
    );

    // Forged: the claims changed to another approval, the signature kept.
    let (_, signature) = approve.split_once('.').unwrap();
    let forged_claims = Claims {
        incident_id: incident.clone(),
        starts_at: "2026-01-05T10:00:00Z".into(),
        approval_id: "made-up".into(),
        decision: Decision::Approve,
        expires_at: i64::MAX,
    };
    let forged = format!(
        "{}.{signature}",
        link::sign(b"not the key", &forged_claims)
            .split_once('.')
            .unwrap()
            .0
    );
    assert_page(
        &respond(&w.app, &post(&incident, &forged, Some("mallory"))).await,
        403,
        "not signed by this platform",
    );
    // Signed by another key altogether.
    assert_page(
        &respond(
            &w.app,
            &post(
                &incident,
                &link::sign(b"not the key", &forged_claims),
                Some("mallory"),
            ),
        )
        .await,
        403,
        "not signed by this platform",
    );
    // A real token presented for another incident.
    assert_page(
        &respond(&w.app, &post("am-other", &approve, Some("mallory"))).await,
        403,
        &format!("issued for incident {incident}, not am-other"),
    );
    // Malformed, and a missing name.
    assert_page(
        &respond(&w.app, &post(&incident, "garbage", Some("x"))).await,
        400,
        "malformed",
    );
    assert_page(
        &respond(&w.app, &post(&incident, &approve, None)).await,
        400,
        "`by` field",
    );
    // Expired: the same token after its expiry.
    let late = Approvals {
        now: || lambdas::approval::system_now() + 901,
        ..clone_app(&w.app)
    };
    assert_page(
        &respond(&late, &post(&incident, &approve, Some("alice"))).await,
        410,
        "expired",
    );
    assert_eq!(
        text(&w.record(&incident).await, record::STATUS),
        status::REQUESTED
    );

    // The approval: the runbook resumes with who approved.
    let approved = respond(&w.app, &post(&incident, &approve, Some("alice"))).await;
    assert_page(&approved, 200, "Approved by alice");
    let done = w.execution(&execution).await;
    assert_eq!(done.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(done.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["request"]["approved_by"], "alice", "{output}");
    let decided = w.record(&incident).await;
    assert_eq!(text(&decided, record::STATUS), status::APPROVED);
    assert_eq!(text(&decided, record::DECIDED_BY), "alice");
    assert_eq!(text(&decided, record::DECIDED_FROM), "198.51.100.7");
    assert!(!text(&decided, record::DECIDED_AT).is_empty());

    // Replayed: the same link again, or the other link of the pair.
    assert_page(
        &respond(&w.app, &post(&incident, &approve, Some("alice"))).await,
        409,
        "already decided: approved by alice",
    );
    assert_page(
        &respond(&w.app, &post(&incident, &deny, Some("bob"))).await,
        409,
        "already decided",
    );
    assert_page(
        &respond(&w.app, &get(&incident, &deny)).await,
        409,
        "already decided",
    );

    // The audit trail: requested (without the links), then decided, with who.
    let events: Vec<Value> = w
        .receive(&w.events)
        .await
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["approval.requested", "approval.decided"],
        "{events:?}"
    );
    assert!(
        !events[0].to_string().contains(&approve[..20]),
        "{}",
        events[0]
    );
    assert_eq!(events[1]["detail"]["decided_by"], "alice");
    assert_eq!(events[1]["detail"]["decision"], "approved");
    assert_eq!(events[1]["detail"]["target"]["name"], "ip-10-0-1-5");
}

fn clone_app(app: &Approvals) -> Approvals {
    Approvals {
        settings: app.settings.clone(),
        dynamodb: app.dynamodb.clone(),
        sns: app.sns.clone(),
        events: app.events.clone(),
        sfn: app.sfn.clone(),
        key: KeySource::Fixed(KEY.to_vec()),
        cached_key: tokio::sync::OnceCell::new(),
        now: app.now,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_escalates_and_an_answer_after_the_deadline_is_refused() {
    let w = world(3).await;
    let incident = unique("am-deny");
    let (execution, _, message) = w.ask(&incident).await;
    let (_, deny) = link_after(&message, "Deny:");
    assert_page(
        &respond(&w.app, &post(&incident, &deny, Some("bob"))).await,
        200,
        "Denied by bob",
    );
    let done = w.execution(&execution).await;
    assert_eq!(done.status, aws_sdk_sfn::types::ExecutionStatus::Failed);
    // Caught as anything but a timeout: the runbook escalates.
    assert_eq!(done.error.as_deref(), Some("Escalated"));
    let decided = w.record(&incident).await;
    assert_eq!(text(&decided, record::STATUS), status::DENIED);
    assert_eq!(text(&decided, record::DECIDED_BY), "bob");

    // Nobody answers: moto's Step Functions times the wait out (States.Timeout, caught).
    let incident = unique("am-late");
    let (execution, _, message) = w.ask(&incident).await;
    let (_, approve) = link_after(&message, "Approve:");
    let done = w.execution(&execution).await;
    assert_eq!(done.error.as_deref(), Some("Expired"), "{done:?}");
    // A click after the runbook stopped waiting (the link itself is still within its time):
    // refused, and the record says the deadline decided.
    let page = respond(&w.app, &post(&incident, &approve, Some("carol"))).await;
    assert_page(&page, 410, "no longer waits");
    let record = w.record(&incident).await;
    assert_eq!(text(&record, record::STATUS), status::EXPIRED);
    assert_eq!(text(&record, record::DECIDED_BY), "deadline");
}
