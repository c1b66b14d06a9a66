//! The scenarios and faults, the observers that time them, and the checks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use platform_contract::approval::{BY_FIELD, DEADLINE, TOKEN_FIELD, record, status};
use platform_contract::runbook::Outcome;

use crate::report::{Point, Report, Timeline};
use crate::world::{PumpTarget, World};

/// The alert the scenarios drive, and the one degraded mode raises.
const ERROR_ALERT: &str = "CheckoutHighErrorRate";
/// The alert whose runbook scales checkout (above the approval bound in dev).
const LATENCY_ALERT: &str = "CheckoutHighLatency";
/// Who approves in scenario 3.
const OPERATOR: &str = "loop-operator";
/// Injected error share.
const FAULT_RATE: f64 = 0.5;
/// The load: requests per second, and a bound on their count.
const LOAD_RPS: u64 = 20;
const LOAD_MAX_REQUESTS: u64 = 20_000;
/// Bound on each scenario's wait.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(150);
/// The bus endpoint's outage (issue #15: 30 s).
const BUS_DOWN: Duration = Duration::from_secs(30);
/// Synthetic alerts sent straight to Alertmanager while alert_ingest is killed.
const STREAM_ALERTS: usize = 10;

fn secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// An alert's life as Prometheus showed it.
#[derive(Debug, Clone)]
struct Episode {
    name: String,
    pending_at: f64,
    firing_at: Option<f64>,
    resolved_at: Option<f64>,
}

#[derive(Debug, Clone)]
struct Record {
    alert_name: String,
    first_seen: f64,
    statuses: Vec<(String, f64)>,
    item: Value,
}

#[derive(Debug, Default)]
struct Obs {
    episodes: Vec<Episode>,
    records: BTreeMap<String, Record>,
    /// (sent to the queue by the bus, detail-type, incident id, alert name)
    bus_events: Vec<(f64, String, String, String)>,
    /// (received, subject, message): the paging topic's events
    notifications: Vec<(f64, String, Value)>,
    /// (received, subject, text): what people read
    people: Vec<(f64, String, String)>,
    load_ok: u64,
    load_errors: Vec<f64>,
    load_other: u64,
    executions: u64,
    pump_errors: Vec<String>,
}

type Shared = Arc<Mutex<Obs>>;

async fn poll_prometheus(url: String, obs: Shared, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(r) = client.get(format!("{url}/api/v1/alerts")).send().await
            && let Ok(v) = r.json::<Value>().await
        {
            let now = secs(SystemTime::now());
            let mut active: BTreeMap<String, String> = BTreeMap::new();
            for a in v["data"]["alerts"].as_array().into_iter().flatten() {
                let name = a["labels"]["alertname"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let state = a["state"].as_str().unwrap_or_default().to_owned();
                let e = active.entry(name).or_default();
                if state == "firing" || e.is_empty() {
                    *e = state;
                }
            }
            let mut o = obs.lock().unwrap();
            for (name, state) in &active {
                let open = o
                    .episodes
                    .iter_mut()
                    .rev()
                    .find(|e| &e.name == name && e.resolved_at.is_none());
                match open {
                    Some(e) => {
                        if state == "firing" && e.firing_at.is_none() {
                            e.firing_at = Some(now);
                        }
                    }
                    None => o.episodes.push(Episode {
                        name: name.clone(),
                        pending_at: now,
                        firing_at: (state == "firing").then_some(now),
                        resolved_at: None,
                    }),
                }
            }
            for e in o.episodes.iter_mut() {
                if e.resolved_at.is_none() && !active.contains_key(&e.name) {
                    e.resolved_at = Some(now);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn poll_table(
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    obs: Shared,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        if let Ok(page) = dynamodb.scan().table_name(&table).send().await {
            let now = secs(SystemTime::now());
            let mut o = obs.lock().unwrap();
            for item in page.items() {
                let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                let (Some(id), Some(alert)) = (s("incident_id"), s("alert_name")) else {
                    continue;
                };
                let status = s("status").unwrap_or_default();
                let doc: serde_json::Map<String, Value> = item
                    .iter()
                    .map(|(k, v)| {
                        let v = v
                            .as_s()
                            .map(|s| json!(s))
                            .or_else(|_| v.as_n().map(|n| json!(n)))
                            .unwrap_or(Value::Null);
                        (k.clone(), v)
                    })
                    .collect();
                let r = o.records.entry(id).or_insert_with(|| Record {
                    alert_name: alert,
                    first_seen: now,
                    statuses: Vec::new(),
                    item: Value::Null,
                });
                if r.statuses.last().map(|(s, _)| s) != Some(&status) {
                    r.statuses.push((status, now));
                }
                r.item = Value::Object(doc);
            }
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

/// Up to ten messages of `queue` (a one-second long poll), with their `SentTimestamp`; none
/// after an error (a short pause first).
async fn receive(sqs: &aws_sdk_sqs::Client, queue: &str) -> Vec<aws_sdk_sqs::types::Message> {
    match sqs
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
        )
        .send()
        .await
    {
        Ok(got) => got.messages.unwrap_or_default(),
        Err(_) => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Vec::new()
        }
    }
}

/// Deletes a handled message.
async fn delete(sqs: &aws_sdk_sqs::Client, queue: &str, m: &aws_sdk_sqs::types::Message) {
    if let Some(h) = m.receipt_handle() {
        let _ = sqs
            .delete_message()
            .queue_url(queue)
            .receipt_handle(h)
            .send()
            .await;
    }
}

/// Delivers what a rule's stand-in queue receives to the target moto cannot deliver to.
async fn pump(
    world_aws: aws_config::SdkConfig,
    queue: String,
    target: PumpTarget,
    obs: Shared,
    stop: Arc<AtomicBool>,
) {
    let sqs = aws_sdk_sqs::Client::new(&world_aws);
    let sfn = aws_sdk_sfn::Client::new(&world_aws);
    let sns = aws_sdk_sns::Client::new(&world_aws);
    while !stop.load(Ordering::Relaxed) {
        for m in receive(&sqs, &queue).await {
            let body = m.body().unwrap_or_default().to_owned();
            let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let sent = m
                .attributes()
                .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp))
                .and_then(|t| t.parse::<f64>().ok())
                .map_or_else(|| secs(SystemTime::now()), |ms| ms / 1000.0);
            let delivered = match &target {
                PumpTarget::StateMachine(arn) => {
                    {
                        let mut o = obs.lock().unwrap();
                        o.bus_events.push((
                            sent,
                            event["detail-type"].as_str().unwrap_or_default().to_owned(),
                            event["detail"]["incident_id"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                            event["detail"]["alert_name"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                        ));
                    }
                    // The execution name: the event id, as EventBridge's target does not
                    // dedupe; moto needs a name.
                    let name = event["id"].as_str().map_or_else(
                        || uuid::Uuid::new_v4().to_string(),
                        |id| {
                            id.chars()
                                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                                .take(80)
                                .collect()
                        },
                    );
                    let r = sfn
                        .start_execution()
                        .state_machine_arn(arn)
                        .name(name)
                        .input(&body)
                        .send()
                        .await;
                    match r {
                        Ok(_) => {
                            obs.lock().unwrap().executions += 1;
                            Ok(())
                        }
                        // A redelivered message whose execution had started.
                        Err(e)
                            if e.as_service_error()
                                .is_some_and(|e| e.is_execution_already_exists()) =>
                        {
                            Ok(())
                        }
                        Err(e) => Err(format!("StartExecution: {e:?}")),
                    }
                }
                PumpTarget::Topic(topic, transformer) => sns
                    .publish()
                    .topic_arn(topic)
                    .message(match transformer {
                        // What EventBridge's transformer makes of the event.
                        Some(sentence) => platform_model::platform::messages::render(
                            sentence,
                            &serde_json::from_str(&body).unwrap_or(Value::Null),
                        ),
                        None => body.clone(),
                    })
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("Publish: {e:?}")),
            };
            match delivered {
                Ok(()) => {
                    delete(&sqs, &queue, &m).await;
                }
                Err(e) => obs.lock().unwrap().pump_errors.push(e),
            }
        }
    }
}

/// Reads a topic's read-back queue until stopped, handing each SNS envelope's subject and
/// message text to `keep`.
async fn read_topic(
    aws: aws_config::SdkConfig,
    queue: String,
    obs: Shared,
    stop: Arc<AtomicBool>,
    keep: fn(&mut Obs, f64, String, &str),
) {
    let sqs = aws_sdk_sqs::Client::new(&aws);
    while !stop.load(Ordering::Relaxed) {
        for m in receive(&sqs, &queue).await {
            let envelope: Value =
                serde_json::from_str(m.body().unwrap_or_default()).unwrap_or(Value::Null);
            keep(
                &mut obs.lock().unwrap(),
                secs(SystemTime::now()),
                envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                envelope["Message"].as_str().unwrap_or_default(),
            );
            delete(&sqs, &queue, &m).await;
        }
    }
}

/// The paging topic's messages are events.
fn keep_paged(o: &mut Obs, at: f64, subject: String, message: &str) {
    let event = serde_json::from_str(message).unwrap_or(Value::Null);
    o.notifications.push((at, subject, event));
}

/// The notifications topic's messages are text for people.
fn keep_told(o: &mut Obs, at: f64, subject: String, message: &str) {
    o.people.push((at, subject, message.to_owned()));
}

/// A steady, bounded load on checkout: `LOAD_RPS` orders a second until stopped, at most
/// `LOAD_MAX_REQUESTS`.
async fn load(url: String, obs: Shared, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / LOAD_RPS));
    let body = json!({"currency": "EUR", "items": [{"sku": "SKU-1001", "quantity": 2}]});
    for _ in 0..LOAD_MAX_REQUESTS {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        tick.tick().await;
        let status = client
            .post(format!("{url}/checkout"))
            .json(&body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        let mut o = obs.lock().unwrap();
        match status {
            200 => o.load_ok += 1,
            500 => o.load_errors.push(secs(SystemTime::now())),
            _ => o.load_other += 1,
        }
    }
}

/// Scenarios 3 and 4: `scale_deployment` aims above dev's approval bound, so the runbook asks
/// a human through the approval function. In 3 the harness, as that human, opens the link
/// from the notifications topic and approves: the runbook scales. In 4 nobody answers: the
/// runbook escalates at the (scaled) deadline.
async fn approval_scenarios(world: &World, obs: &Shared, report: &mut Report) -> Result<()> {
    let latency = json!({"latency_ms": platform_contract::checkout::DEMO_LATENCY_MS});
    let calm = json!({"latency_ms": 0});
    let client = reqwest::Client::new();
    println!(
        "\n==> scenario 3: scaling above the approval bound waits for a human, who approves ({LATENCY_ALERT}, {latency})"
    );
    let fault3 = set_chaos(world, latency.clone()).await?;
    let asked = wait_for("scenario 3's approval request", SCENARIO_TIMEOUT, || {
        obs.lock()
            .unwrap()
            .people
            .iter()
            .find(|(t, _, text)| {
                *t >= fault3 && text.starts_with("APPROVAL NEEDED") && text.contains(LATENCY_ALERT)
            })
            .map(|(_, _, text)| text.clone())
    })
    .await;
    let Some(message) = asked else {
        report.check(
            "scenario 3: the gated action asks a human",
            false,
            format!("records: {:?}", records_of(obs, LATENCY_ALERT, fault3)),
        );
        set_chaos(world, calm).await?;
        return Ok(());
    };
    // The link as people get it, on the harness's front instead of the public host.
    let link = |label: &str| -> Option<(String, String, String)> {
        let url = message
            .lines()
            .find_map(|l| l.strip_prefix(label))?
            .trim()
            .replace(&world.public_url, &world.approval_base);
        let (path, query) = url.split_once('?')?;
        let token = query.strip_prefix(&format!("{TOKEN_FIELD}="))?.to_owned();
        let incident = path.rsplit('/').next()?.to_owned();
        Some((path.to_owned(), token, incident))
    };
    let (Some((path, token, incident)), Some((_, deny_token, _))) =
        (link("Approve:"), link("Deny:"))
    else {
        report.check(
            "scenario 3: the request carries approve and deny links",
            false,
            message,
        );
        set_chaos(world, calm).await?;
        return Ok(());
    };
    // The record says a human is asked (the table is polled every 0.4 s).
    let waiting = wait_for(
        "the pending approval on the record",
        Duration::from_secs(5),
        || {
            obs.lock()
                .unwrap()
                .records
                .get(&incident)
                .filter(|r| !r.item[record::STATUS].is_null())
                .map(|r| r.item.clone())
        },
    )
    .await;
    let shown = client
        .get(format!("{path}?{TOKEN_FIELD}={token}"))
        .send()
        .await?;
    let shown = (
        shown.status().as_u16(),
        shown.text().await.unwrap_or_default(),
    );
    let post = |token: String| {
        let client = client.clone();
        let path = path.clone();
        async move {
            let r = client
                .post(&path)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("{TOKEN_FIELD}={token}&{BY_FIELD}={OPERATOR}"))
                .send()
                .await?;
            Ok::<_, anyhow::Error>((r.status().as_u16(), r.text().await.unwrap_or_default()))
        }
    };
    let approved = post(token.clone()).await?;
    let replayed = post(token.clone()).await?;
    let other = post(deny_token).await?;
    report.check(
        "scenario 3: the request reaches people with links; the page asks before it decides, the approval is taken once",
        waiting
            .as_ref()
            .is_some_and(|i| i[record::STATUS] == status::REQUESTED)
            && shown.0 == 200
            && shown.1.contains("<form")
            && approved.0 == 200
            && approved.1.contains(&format!("Approved by {OPERATOR}"))
            && replayed.0 == 409
            && other.0 == 409,
        format!(
            "{}; record before: {}; GET {}; POST {}; again {}; the deny link after {}",
            message.lines().next().unwrap_or_default(),
            waiting.map_or("none".into(), |i| i[record::STATUS].to_string()),
            shown.0,
            approved.0,
            replayed.0,
            other.0
        ),
    );
    let scaled = wait_for("the approved scale", Duration::from_secs(30), || {
        world
            .kube_log
            .lock()
            .unwrap()
            .iter()
            .find(|c| c.method == "PATCH" && c.uri.ends_with("/deployments/checkout/scale"))
            .cloned()
    })
    .await;
    let decided = wait_for(
        "the decision on the record",
        Duration::from_secs(10),
        || {
            obs.lock()
                .unwrap()
                .records
                .get(&incident)
                .filter(|r| r.item[record::STATUS] == status::APPROVED)
                .map(|r| r.item.clone())
        },
    )
    .await;
    report.check(
        "scenario 3: approved, the runbook runs the action with who approved, and the record says who",
        scaled.is_some()
            && decided
                .as_ref()
                .is_some_and(|i| i[record::DECIDED_BY] == OPERATOR),
        format!(
            "scale PATCH: {}; record: {}",
            scaled.map_or("none".into(), |c| c.body),
            decided.map_or("not approved".into(), |i| format!(
                "{} by {}",
                i[record::STATUS], i[record::DECIDED_BY]
            ))
        ),
    );
    set_chaos(world, calm.clone()).await?;
    let resolved = wait_for("scenario 3's incident resolved", SCENARIO_TIMEOUT, || {
        obs.lock()
            .unwrap()
            .records
            .get(&incident)
            .and_then(|r| status_at(r, "resolved"))
    })
    .await;
    report.check(
        "scenario 3: the incident resolves once the latency is gone",
        resolved.is_some(),
        format!(
            "{:?}",
            obs.lock()
                .unwrap()
                .records
                .get(&incident)
                .map(|r| r.statuses.clone())
        ),
    );
    report.timelines.push(timeline(
        world,
        obs,
        "scenario 3: approved by a human, remedied",
        LATENCY_ALERT,
        fault3,
        &incident,
        "resolved",
    ));

    println!("\n==> scenario 4: nobody answers the approval request before the deadline");
    let fault4 = set_chaos(world, latency).await?;
    let expired = wait_for("scenario 4's record escalated", SCENARIO_TIMEOUT, || {
        records_of(obs, LATENCY_ALERT, fault4)
            .into_iter()
            .find(|(_, r)| status_at(r, "escalated").is_some())
    })
    .await;
    set_chaos(world, calm).await?;
    match expired {
        Some((id, r)) => {
            report.check(
                "scenario 4: no decision by the deadline: the approval expires and the incident is escalated",
                r.item[record::STATUS] == status::EXPIRED && r.item[record::DECIDED_BY] == DEADLINE,
                format!(
                    "approval {} by {}",
                    r.item[record::STATUS], r.item[record::DECIDED_BY]
                ),
            );
            report.timelines.push(timeline(
                world,
                obs,
                "scenario 4: nobody approved, escalated",
                LATENCY_ALERT,
                fault4,
                &id,
                "escalated",
            ));
        }
        None => report.check(
            "scenario 4: the unanswered approval escalates",
            false,
            format!("records: {:?}", records_of(obs, LATENCY_ALERT, fault4)),
        ),
    }
    Ok(())
}

/// Degraded mode turned off in SSM, as a person does once the cause is fixed (the runbook
/// page's undo step).
async fn degraded_mode_off(ssm: &aws_sdk_ssm::Client, world: &World) -> Result<()> {
    ssm.put_parameter()
        .name(&world.degraded_parameter)
        .value("false")
        .overwrite(true)
        .send()
        .await?;
    println!("  degraded mode turned off in SSM (the runbook page's undo step)");
    Ok(())
}

async fn set_chaos(world: &World, knobs: Value) -> Result<f64> {
    let r = reqwest::Client::new()
        .put(&world.chaos_url)
        .json(&knobs)
        .send()
        .await
        .context("the chaos control endpoint")?;
    anyhow::ensure!(
        r.status().is_success(),
        "PUT /chaos {knobs}: {}",
        r.status()
    );
    println!("  chaos knobs: {knobs}");
    Ok(secs(SystemTime::now()))
}

async fn wait_for<T>(
    what: &str,
    within: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Option<T> {
    let started = Instant::now();
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if started.elapsed() > within {
            println!("  gave up waiting for {what} after {within:?}");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn fired(obs: &Shared, name: &str, after: f64) -> Option<Episode> {
    obs.lock()
        .unwrap()
        .episodes
        .iter()
        .find(|e| e.name == name && e.pending_at >= after && e.firing_at.is_some())
        .cloned()
}

fn records_of(obs: &Shared, name: &str, after: f64) -> Vec<(String, Record)> {
    obs.lock()
        .unwrap()
        .records
        .iter()
        .filter(|(_, r)| r.alert_name == name && r.first_seen >= after)
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect()
}

fn status_at(r: &Record, status: &str) -> Option<f64> {
    r.statuses
        .iter()
        .find(|(s, _)| s == status)
        .map(|(_, t)| *t)
}

/// The incident's timeline from the observers' records and the fronts' logs.
fn timeline(
    world: &World,
    obs: &Shared,
    scenario: &str,
    alert: &str,
    fault: f64,
    id: &str,
    end_status: &str,
) -> Timeline {
    let o = obs.lock().unwrap();
    let record = o.records.get(id).cloned();
    let episode = o
        .episodes
        .iter()
        .find(|e| e.name == alert && e.pending_at >= fault)
        .cloned();
    let accepted = world
        .webhook_log
        .lock()
        .unwrap()
        .iter()
        .filter(|c| secs(c.at) >= fault && (200..300).contains(&c.status))
        .find(|c| {
            c.request["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["labels"]["alertname"] == alert && a["status"] == "firing")
        })
        .map(|c| secs(c.at));
    let on_bus = o
        .bus_events
        .iter()
        .find(|(_, t, i, _)| t == "incident.created" && i == id)
        .map(|(at, ..)| *at);
    let invocations = world.sfn_front.invocations.lock().unwrap().clone();
    // The action applied: runbook_action's first answer that is not a request for approval.
    let action = invocations
        .iter()
        .find(|c| {
            c.payload["incident_id"] == id
                && c.payload.get("task_token").is_none()
                && c.error.is_none()
                && c.result["outcome"] != json!(Outcome::NeedsApproval)
        })
        .map(|c| secs(c.at));
    let item = record.as_ref().map(|r| r.item.clone()).unwrap_or_default();
    let at = |key: &str| {
        item[key].as_str().and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp_nanos() as f64 / 1e9)
        })
    };
    // When the runbook asked (its `RequestApproval` entered), and when it was decided, as the
    // record says.
    let asked = at(record::REQUESTED_AT);
    let decided = at(record::DECIDED_AT);
    let approval = item[record::STATUS].as_str().unwrap_or_default().to_owned();
    let errors_stopped = action.and_then(|a| {
        let last = o
            .load_errors
            .iter()
            .copied()
            .filter(|t| *t >= fault)
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
        last.map(|l| l.max(a))
    });
    let end = record.as_ref().and_then(|r| status_at(r, end_status));
    let rel = |t: Option<f64>| t.map(|t| ((t - fault) * 10.0).round() / 10.0);
    let mut points = vec![
        ("fault injected", Some(fault)),
        ("alert pending", episode.as_ref().map(|e| e.pending_at)),
        ("alert firing", episode.as_ref().and_then(|e| e.firing_at)),
        ("event on the bus", on_bus),
        ("webhook answered 202", accepted),
        ("incident recorded", record.as_ref().map(|r| r.first_seen)),
    ];
    if asked.is_some() {
        points.push(("approval requested", asked));
        points.push((
            match approval.as_str() {
                status::APPROVED => "approved by a human",
                status::DENIED => "denied by a human",
                _ => "approval expired",
            },
            decided,
        ));
    }
    if approval != status::EXPIRED && approval != status::DENIED {
        points.push(("action applied", action));
    }
    if end_status == "escalated" {
        points.push(("record escalated", end));
    } else {
        if alert == ERROR_ALERT {
            points.push(("errors stopped", errors_stopped));
        }
        points.extend([
            (
                "alert resolved",
                episode.as_ref().and_then(|e| e.resolved_at),
            ),
            ("record resolved", end),
        ]);
    }
    Timeline {
        scenario: scenario.to_owned(),
        incident_id: id.to_owned(),
        points: points
            .into_iter()
            .map(|(s, t)| Point {
                step: s.to_owned(),
                at: rel(t),
            })
            .collect(),
        mttr_seconds: rel(end),
    }
}

pub async fn run(world: &mut World) -> Result<Report> {
    let mut report = Report {
        time_scale: world.options.time_scale,
        changes: world.changes.clone(),
        emulated: world.emulated.clone(),
        ..Report::default()
    };
    println!("\n==> the hops the harness does itself");
    for e in &world.emulated {
        println!("  - {e}");
    }
    let obs: Shared = Arc::new(Mutex::new(Obs::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = vec![
        tokio::spawn(poll_prometheus(
            world.prometheus_url.clone(),
            obs.clone(),
            stop.clone(),
        )),
        tokio::spawn(poll_table(
            aws_sdk_dynamodb::Client::new(&world.aws),
            world.table.clone(),
            obs.clone(),
            stop.clone(),
        )),
        tokio::spawn(read_topic(
            world.aws.clone(),
            world.people_queue.clone(),
            obs.clone(),
            stop.clone(),
            keep_told,
        )),
        tokio::spawn(read_topic(
            world.aws.clone(),
            world.notifications_queue.clone(),
            obs.clone(),
            stop.clone(),
            keep_paged,
        )),
        tokio::spawn(load(world.checkout_url.clone(), obs.clone(), stop.clone())),
    ];
    for (queue, target) in &world.pumps {
        tasks.push(tokio::spawn(pump(
            world.aws.clone(),
            queue.clone(),
            target.clone(),
            obs.clone(),
            stop.clone(),
        )));
    }
    let result = scenarios(world, &obs, &mut report).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    result?;
    Ok(report)
}

async fn scenarios(world: &mut World, obs: &Shared, report: &mut Report) -> Result<()> {
    let began = Instant::now();
    let ssm = aws_sdk_ssm::Client::new(&world.aws);
    println!("\n==> steady load on checkout ({LOAD_RPS}/s), waiting for the first scrapes");
    let client = reqwest::Client::new();
    let mut scraped = false;
    for _ in 0..120 {
        let v: Value = client
            // up{job="checkout"} == 1
            .get(format!(
                "{}/api/v1/query?query=up%7Bjob%3D%22checkout%22%7D%20%3D%3D%201",
                world.prometheus_url
            ))
            .send()
            .await?
            .json()
            .await?;
        if v["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
            && obs.lock().unwrap().load_ok > 0
        {
            scraped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    anyhow::ensure!(
        scraped,
        "Prometheus did not scrape checkout (up == 1) under load within 30 s"
    );
    // A clean window before the fault: the error ratio's window filled with successes.
    let settle = Duration::from_secs(8);
    tokio::time::sleep(settle).await;

    // ---- Scenario 1: a fault the runbook remedies, with the bus down, two Alertmanagers
    // and SSM throttled once.
    println!(
        "\n==> scenario 1: errors in the optional work degraded mode skips (ERROR_RATE={FAULT_RATE})"
    );
    let attempts = 3;
    world.ssm_proxy.faults.lock().unwrap().throttle =
        Some(("AmazonSSM.PutParameter".into(), attempts));
    println!(
        "  fault armed: the next {attempts} SSM PutParameter calls answer ThrottlingException (one whole invocation, the SDK's own retries included)"
    );
    let fault1 = set_chaos(world, json!({"error_rate": FAULT_RATE})).await?;
    // The outage begins with the first PutEvents after the fault: the alerts firing meet it.
    world.bus_proxy.faults.lock().unwrap().down_on_next = Some(BUS_DOWN);
    println!(
        "  fault armed: the bus endpoint goes down for {} s at the next PutEvents",
        BUS_DOWN.as_secs()
    );
    let firing = wait_for("CheckoutHighErrorRate firing", SCENARIO_TIMEOUT, || {
        fired(obs, ERROR_ALERT, fault1)
    })
    .await;
    anyhow::ensure!(firing.is_some(), "CheckoutHighErrorRate did not fire");
    let bus_down_at = world
        .bus_proxy
        .faults
        .lock()
        .unwrap()
        .injected
        .first()
        .map(|(t, _)| secs(*t));
    // The malformed webhook, while the loop runs.
    let bad = client
        .post(&world.webhook_url)
        .bearer_auth(&world.token)
        .json(&json!({"version": "4", "status": "firing", "receiver": "sre-pipeline", "groupKey": "{}:{}", "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://loop", "alerts": [{"status": "firing", "labels": {"severity": "critical"}, "annotations": {}, "startsAt": "2026-11-28T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "0000000000000001"}]}))
        .send()
        .await?;
    let bad_status = bad.status().as_u16();
    let bad_body = bad.text().await.unwrap_or_default();
    report.check(
        "a malformed webhook gets a 400 naming the field, and the loop goes on",
        bad_status == 400 && bad_body.contains("alerts[0].labels.alertname"),
        format!("{bad_status} {bad_body}"),
    );
    let resolved = wait_for("scenario 1's record resolved", SCENARIO_TIMEOUT, || {
        records_of(obs, ERROR_ALERT, fault1)
            .into_iter()
            .find(|(_, r)| status_at(r, "resolved").is_some())
    })
    .await;
    let records1 = records_of(obs, ERROR_ALERT, fault1);
    match &resolved {
        Some((id, r)) => {
            report.timelines.push(timeline(
                world,
                obs,
                "scenario 1: remedied by degraded mode",
                ERROR_ALERT,
                fault1,
                id,
                "resolved",
            ));
            report.check(
                "scenario 1: the record is resolved with its time to resolve",
                r.item["time_to_resolve_seconds"].is_string() && r.item["resolved_at"].is_string(),
                format!("{}", r.item),
            );
            report.check(
                "scenario 1: remediated, never escalated",
                status_at(r, "escalated").is_none() && r.item.get("escalated_at").is_none(),
                format!(
                    "statuses {:?}",
                    r.statuses
                        .iter()
                        .map(|(s, _)| s.as_str())
                        .collect::<Vec<_>>()
                ),
            );
        }
        None => report.check(
            "scenario 1: the record is resolved",
            false,
            format!("records: {records1:?}"),
        ),
    }
    report.check(
        "bus down 30 s + two Alertmanager replicas: exactly one incident",
        records1.len() == 1,
        format!("{} record(s) of {ERROR_ALERT}", records1.len()),
    );
    {
        let calls = world.webhook_log.lock().unwrap().clone();
        let of_alert: Vec<_> = calls
            .iter()
            .filter(|c| secs(c.at) >= fault1)
            .filter(|c| {
                c.request["alerts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|a| a["labels"]["alertname"] == ERROR_ALERT && a["status"] == "firing")
            })
            .collect();
        let unavailable = of_alert.iter().filter(|c| c.status == 503).count();
        let accepted_after = of_alert
            .iter()
            .filter(|c| {
                (200..300).contains(&c.status)
                    && bus_down_at.is_some_and(|d| secs(c.at) > d + BUS_DOWN.as_secs_f64() - 0.5)
            })
            .count();
        report.check(
            "bus down: alert_ingest answered 503, Alertmanager retried, accepted after recovery",
            unavailable >= 1 && accepted_after >= 1,
            format!("{unavailable} answer(s) 503, {accepted_after} accepted after the outage"),
        );
        let fronts: BTreeSet<&str> = of_alert.iter().map(|c| c.front.as_str()).collect();
        report.check(
            "two Alertmanager replicas both sent the alert",
            fronts.contains("alertmanager-0") && fronts.contains("alertmanager-1"),
            format!("sent by {fronts:?}"),
        );
    }
    {
        let invocations = world.sfn_front.invocations.lock().unwrap().clone();
        let id = resolved
            .as_ref()
            .map(|(id, _)| id.clone())
            .unwrap_or_default();
        let mine: Vec<_> = invocations
            .iter()
            .filter(|c| c.payload["incident_id"] == id.as_str())
            .collect();
        let first_retryable = mine.first().and_then(|c| c.error.clone());
        let applied = mine
            .iter()
            .any(|c| c.error.is_none() && c.result["outcome"] != "refused");
        report.check(
            "SSM throttled: runbook_action's error is retryable, the definition retries, the remedy applies",
            first_retryable.as_deref() == Some("RunbookAction.Retryable") && applied && mine.len() >= 2,
            format!(
                "{} invocation(s): {}",
                mine.len(),
                mine.iter().map(|c| c.error.clone().unwrap_or_else(|| c.result.to_string())).collect::<Vec<_>>().join(" | ")
            ),
        );
        if let Some(c) = mine.first() {
            report.check(
                "runbook_action got the ActionRequest the definition built",
                c.payload["action"] == "enable_degraded_mode"
                    && c.payload["degraded_mode_parameter"] == world.degraded_parameter.as_str()
                    && c.payload["target"]["namespace"] == "apps",
                c.payload.to_string(),
            );
        }
    }
    let flag = ssm
        .get_parameter()
        .name(&world.degraded_parameter)
        .send()
        .await?;
    report.check(
        "degraded mode is on in SSM",
        flag.parameter().and_then(|p| p.value()) == Some("true"),
        format!(
            "{} = {:?}",
            world.degraded_parameter,
            flag.parameter().and_then(|p| p.value())
        ),
    );

    // The cause fixed, degraded mode turned off by a person (the runbook page's undo).
    set_chaos(world, json!({"error_rate": 0.0})).await?;
    degraded_mode_off(&ssm, world).await?;

    // ---- Fault: alert_ingest killed and restarted mid-stream.
    println!(
        "\n==> fault: alert_ingest killed and restarted while {STREAM_ALERTS} alerts stream in"
    );
    let stream_start = secs(SystemTime::now());
    let mut killed_in_flight = false;
    world.bus_proxy.faults.lock().unwrap().delay = Some(Duration::from_millis(1500));
    println!(
        "  fault: PutEvents slowed by 1.5 s until the kill, so a webhook is in flight when it comes"
    );
    let names: Vec<String> = (0..STREAM_ALERTS)
        .map(|i| format!("LoopStream{i:02}"))
        .collect();
    for (i, name) in names.iter().enumerate() {
        let alert = json!([{
            "labels": {"alertname": name, "severity": "warning", "namespace": "loop"},
            "annotations": {"summary": format!("synthetic alert {i} of the loop's stream")},
            "startsAt": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?,
        }]);
        for am in &world.alertmanagers {
            client
                .post(format!("{am}/api/v2/alerts"))
                .json(&alert)
                .send()
                .await?
                .error_for_status()?;
        }
        if i == STREAM_ALERTS / 2 {
            // Killed while it handles a webhook: PutEvents is slowed so one is in flight.
            let in_flight = wait_for("a webhook in flight", Duration::from_secs(10), || {
                (world.ingest_api.in_flight() > 0).then_some(())
            })
            .await;
            killed_in_flight = in_flight.is_some();
            world.crash_and_restart_ingest().await?;
            world.bus_proxy.faults.lock().unwrap().delay = None;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let stream_names: BTreeSet<String> = names.iter().cloned().collect();
    let sent = || -> BTreeSet<String> {
        world
            .webhook_log
            .lock()
            .unwrap()
            .iter()
            .filter(|c| secs(c.at) >= stream_start)
            .flat_map(|c| c.request["alerts"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
            .filter(|n| stream_names.contains(n))
            .collect()
    };
    let on_bus = || -> BTreeSet<String> {
        obs.lock()
            .unwrap()
            .bus_events
            .iter()
            .filter(|(_, t, _, n)| t == "incident.created" && stream_names.contains(n))
            .map(|(_, _, _, n)| n.clone())
            .collect()
    };
    wait_for(
        "every streamed alert on the bus",
        Duration::from_secs(60),
        || (on_bus().len() == STREAM_ALERTS).then_some(()),
    )
    .await;
    let failed_during = world
        .webhook_log
        .lock()
        .unwrap()
        .iter()
        .filter(|c| secs(c.at) >= stream_start && c.status == 502)
        .count();
    let (sent, arrived) = (sent(), on_bus());
    report.check(
        "alert_ingest killed mid-stream: every alert Alertmanager sent is an event (by count)",
        killed_in_flight && failed_during >= 1 && sent.len() == STREAM_ALERTS && arrived == sent,
        format!(
            "killed with a webhook in flight: {killed_in_flight}; {failed_during} webhook(s) answered 502 by the crash and retried by Alertmanager; {} distinct alert(s) sent by Alertmanager, {} of them on the bus",
            sent.len(),
            arrived.len()
        ),
    );

    // ---- Scenario 2: a fault degraded mode cannot fix.
    println!(
        "\n==> scenario 2: errors in the core path (CORE_ERROR_RATE={FAULT_RATE}), which degraded mode cannot fix"
    );
    let fault2 = set_chaos(world, json!({"core_error_rate": FAULT_RATE})).await?;
    let escalated = wait_for("scenario 2's record escalated", SCENARIO_TIMEOUT, || {
        records_of(obs, ERROR_ALERT, fault2)
            .into_iter()
            .find(|(_, r)| status_at(r, "escalated").is_some())
    })
    .await;
    match &escalated {
        Some((id, record)) => {
            let invocations = world.sfn_front.invocations.lock().unwrap().clone();
            let applied = invocations.iter().find(|c| {
                c.payload["incident_id"] == id.as_str() && c.result["outcome"] == "applied"
            });
            let escalated_at = status_at(record, "escalated").unwrap_or(f64::MAX);
            let errors_after = obs
                .lock()
                .unwrap()
                .load_errors
                .iter()
                .filter(|t| applied.is_some_and(|a| **t > secs(a.at) + 2.0) && **t < escalated_at)
                .count();
            report.check(
                "scenario 2: degraded mode was applied and the errors went on",
                applied.is_some() && errors_after > 0,
                format!(
                    "action: {}; {errors_after} order(s) failed between the action and the escalation",
                    applied.map_or("none applied".into(), |a| a.result.to_string())
                ),
            );
            report.timelines.push(timeline(
                world,
                obs,
                "scenario 2: not remediable, escalated",
                ERROR_ALERT,
                fault2,
                id,
                "escalated",
            ));
            let published = wait_for(
                "the escalation on the topic",
                Duration::from_secs(20),
                || {
                    obs.lock()
                        .unwrap()
                        .notifications
                        .iter()
                        .find(|(_, _, m)| {
                            m["detail-type"] == "incident.escalated"
                                && m["detail"]["incident_id"] == id.as_str()
                        })
                        .cloned()
                },
            )
            .await;
            report.check(
                "scenario 2: the incident ends escalated, and the escalation is published",
                published.is_some(),
                published.map_or("no incident.escalated on the topic".into(), |(_, s, m)| {
                    format!("{s}: {m}")
                }),
            );
        }
        None => report.check(
            "scenario 2: the incident ends escalated",
            false,
            format!("records: {:?}", records_of(obs, ERROR_ALERT, fault2)),
        ),
    }
    set_chaos(world, json!({"core_error_rate": 0.0})).await?;
    degraded_mode_off(&ssm, world).await?;
    approval_scenarios(world, obs, report).await?;
    report.scenario_seconds = began.elapsed().as_secs_f64();

    // ---- Notify and audit.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let notified: BTreeMap<String, usize> =
        obs.lock()
            .unwrap()
            .notifications
            .iter()
            .fold(BTreeMap::new(), |mut m, (_, _, n)| {
                *m.entry(n["detail-type"].as_str().unwrap_or("?").to_owned())
                    .or_default() += 1;
                m
            });
    report.check(
        "events reach the paging topic whole (read back through an SQS subscription)",
        [
            "incident.created",
            "incident.resolved",
            "action.completed",
            "incident.escalated",
        ]
        .iter()
        .all(|t| notified.contains_key(*t)),
        format!("{notified:?}"),
    );
    // People read sentences (email, chat): one of each kind the scenarios cause, none a raw
    // event.
    let people = obs.lock().unwrap().people.clone();
    let kinds = [
        ("created", " firing: "),
        ("action", " enable_degraded_mode applied: "),
        ("escalated", " ESCALATED to the on-call engineer: "),
        ("resolved", "RESOLVED "),
    ];
    let missing: Vec<&str> = kinds
        .iter()
        .filter(|(_, needle)| !people.iter().any(|(_, _, text)| text.contains(needle)))
        .map(|(kind, _)| *kind)
        .collect();
    let raw = people
        .iter()
        .filter(|(_, _, text)| serde_json::from_str::<Value>(text).is_ok_and(|v| v.is_object()))
        .count();
    report.check(
        "people read sentences (the notifications topic, read back through an SQS subscription)",
        missing.is_empty() && raw == 0 && !people.is_empty(),
        format!(
            "{} message(s), {raw} raw event(s), missing {missing:?}; e.g. {:?}",
            people.len(),
            people
                .iter()
                .find(|(_, _, t)| t.contains(" applied: "))
                .map(|(_, _, t)| t.as_str())
                .unwrap_or_default()
        ),
    );
    // moto answers FilterLogEvents with timestamps the SDK refuses ("invalid number"):
    // read through the service's JSON protocol directly.
    let mut audited: BTreeMap<String, usize> = BTreeMap::new();
    let mut next: Option<String> = None;
    loop {
        let mut body = json!({"logGroupName": world.audit_log_group});
        if let Some(t) = &next {
            body["nextToken"] = json!(t);
        }
        let page: Value = client
            .post(&world.moto_url)
            .header("x-amz-target", "Logs_20140328.FilterLogEvents")
            .header("content-type", "application/x-amz-json-1.1")
            .header("authorization", format!("AWS4-HMAC-SHA256 Credential=testing/20261128/{}/logs/aws4_request, SignedHeaders=host, Signature=0", world.region))
            .body(body.to_string())
            .send()
            .await
            .context("FilterLogEvents on the audit log group")?
            .json()
            .await
            .context("FilterLogEvents answer")?;
        for e in page["events"].as_array().into_iter().flatten() {
            let v: Value = serde_json::from_str(e["message"].as_str().unwrap_or_default())
                .unwrap_or(Value::Null);
            *audited
                .entry(v["detail-type"].as_str().unwrap_or("?").to_owned())
                .or_default() += 1;
        }
        next = page["nextToken"].as_str().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    // The audit rule and the notify rule have one pattern: every event the topic got (all of
    // them come from the bus, escalations included) is in the audit log, and nothing else.
    report.check(
        "every platform event is in the audit log group",
        audited == notified && audited.contains_key("incident.escalated"),
        format!("audit log {audited:?}; notified from the bus {notified:?}"),
    );
    let o = obs.lock().unwrap();
    report.check(
        "the pumps delivered everything (no StartExecution or Publish error)",
        o.pump_errors.is_empty(),
        format!("{:?}", o.pump_errors),
    );
    let kube = world.kube_log.lock().unwrap().clone();
    let counts = &mut report.counts;
    counts.insert("orders_ok".into(), json!(o.load_ok));
    counts.insert("orders_500".into(), json!(o.load_errors.len()));
    counts.insert("orders_other".into(), json!(o.load_other));
    counts.insert(
        "webhooks".into(),
        json!(world.webhook_log.lock().unwrap().len()),
    );
    counts.insert("executions_started".into(), json!(o.executions));
    let invoked = world.sfn_front.invocations.lock().unwrap().clone();
    let approval_invocations = invoked
        .iter()
        .filter(|c| c.payload.get("task_token").is_some())
        .count();
    counts.insert(
        "runbook_action_invocations".into(),
        json!(invoked.len() - approval_invocations),
    );
    counts.insert("approval_requests".into(), json!(approval_invocations));
    counts.insert("people_messages".into(), json!(o.people.len()));
    counts.insert("incident_records".into(), json!(o.records.len()));
    counts.insert("paged".into(), json!(notified));
    counts.insert("audit_log".into(), json!(audited));
    counts.insert(
        "kubernetes_requests".into(),
        json!(
            kube.iter()
                .map(|k| format!("{} {}", k.method, k.uri))
                .collect::<Vec<_>>()
        ),
    );
    counts.insert(
        "faults_injected".into(),
        json!({
            "bus": world.bus_proxy.faults.lock().unwrap().injected.len(),
            "ssm": world.ssm_proxy.faults.lock().unwrap().injected.len(),
        }),
    );
    Ok(())
}
