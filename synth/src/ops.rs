//! `synth ops`: recovery commands for the seeds' disaster-recovery scenarios, on the AWS SDK,
//! against an environment's deployed pipeline stack. Every name (table, bus, archive, queue,
//! audit log group) is read from the stack (its outputs, or the physical id of its resource),
//! never typed.
//!
//! - `incidents`: the open incidents (every one with `--all`), from the incidents table.
//! - `timeline ID`: one incident's record and its events in the audit log, in time order.
//! - `redrive`: the dead-letter queue's events, listed first; with `--yes`, put back on the bus
//!   and deleted from the queue once the bus accepted them (nothing is lost on a failure).
//! - `replay --from T --to T`: the archive's events of a time window replayed onto the bus
//!   (`StartReplay`), with `--yes`, followed until it completes.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::primitives::{DateTime, DateTimeFormat};
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, ReplayDestination, ReplayState};
use serde_json::{Value, json};

/// The stack the recovery commands act on.
pub const STACK: &str = platform_model::platform::PIPELINE_STACK;

/// The clients, configured from the standard chain in `region`.
pub struct Clients {
    cfn: aws_sdk_cloudformation::Client,
    ddb: aws_sdk_dynamodb::Client,
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
}

impl Clients {
    /// Loads the configuration for `region`.
    pub async fn load(region: &str) -> Result<Clients> {
        let config = crate::aws_config(region).await?;
        Ok(Clients {
            cfn: aws_sdk_cloudformation::Client::new(&config),
            ddb: aws_sdk_dynamodb::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        })
    }
}

/// An SDK error in one line.
fn short<E: std::error::Error + 'static>(e: E) -> String {
    let full = aws_sdk_cloudformation::error::DisplayErrorContext(&e).to_string();
    full.split(" (").next().unwrap_or(&full).to_owned()
}

/// What the pipeline stack made, by the names the commands need.
pub struct Deployed {
    /// The incidents table.
    pub table: String,
    /// The bus's name.
    pub bus: String,
    /// The bus's ARN.
    pub bus_arn: String,
    /// The dead-letter queue's URL.
    pub dlq_url: String,
    /// The archive's name.
    pub archive: String,
    /// The audit log group's name.
    pub audit_group: String,
}

impl Deployed {
    /// Reads the names from the deployed stack.
    pub async fn read(c: &Clients) -> Result<Deployed> {
        let stacks = c
            .cfn
            .describe_stacks()
            .stack_name(STACK)
            .send()
            .await
            .map_err(|e| anyhow!("the {STACK} stack: {} (is it deployed here?)", short(e)))?;
        let outputs: BTreeMap<String, String> = stacks
            .stacks()
            .first()
            .map(|s| {
                s.outputs()
                    .iter()
                    .filter_map(|o| {
                        Some((o.output_key()?.to_owned(), o.output_value()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let output = |key: &str| {
            outputs
                .get(key)
                .cloned()
                .ok_or_else(|| anyhow!("the {STACK} stack has no output {key}"))
        };
        let mut physical_ids = BTreeMap::new();
        let mut token = None;
        loop {
            let page = c
                .cfn
                .list_stack_resources()
                .stack_name(STACK)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| anyhow!("{STACK}'s resources: {}", short(e)))?;
            for r in page.stack_resource_summaries() {
                if let (Some(id), Some(physical)) =
                    (r.logical_resource_id(), r.physical_resource_id())
                {
                    physical_ids.insert(id.to_owned(), physical.to_owned());
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let physical = |id: &str| {
            physical_ids
                .get(id)
                .cloned()
                .ok_or_else(|| anyhow!("the {STACK} stack has no resource {id}"))
        };
        Ok(Deployed {
            table: output("IncidentsTableName")?,
            bus: output("EventBusName")?,
            bus_arn: output("EventBusArn")?,
            dlq_url: output("DeadLetterQueueUrl")?,
            archive: physical("PlatformArchive")?,
            audit_group: physical("AuditLogGroup")?,
        })
    }
}

/// A DynamoDB item as plain JSON (strings, numbers, lists, maps).
fn plain(item: &std::collections::HashMap<String, AttributeValue>) -> Value {
    fn one(v: &AttributeValue) -> Value {
        match v {
            AttributeValue::S(s) => Value::from(s.clone()),
            AttributeValue::N(n) => n
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| n.parse::<f64>().map(Value::from))
                .unwrap_or_else(|_| Value::from(n.clone())),
            AttributeValue::Bool(b) => Value::from(*b),
            AttributeValue::L(l) => Value::Array(l.iter().map(one).collect()),
            AttributeValue::M(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), one(v))).collect())
            }
            AttributeValue::Ss(ss) => json!(ss),
            AttributeValue::Null(_) => Value::Null,
            other => Value::from(format!("{other:?}")),
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), one(v))).collect())
}

fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// `synth ops incidents`: the open incidents (not `resolved`), or all, oldest first.
pub async fn incidents(c: &Clients, all: bool, as_json: bool) -> Result<Vec<Value>> {
    let d = Deployed::read(c).await?;
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = c
            .ddb
            .scan()
            .table_name(&d.table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| anyhow!("scanning {}: {}", d.table, short(e)))?;
        items.extend(page.items().iter().map(plain));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    items.retain(|i| all || i["status"] != "resolved");
    items.sort_by_key(|a| text(a, "timestamp"));
    if as_json {
        println!("{}", serde_json::to_string_pretty(&items)?);
    } else {
        println!(
            "{:<24} {:<25} {:<12} {:<9} alert (actions)",
            "started", "incident", "status", "severity"
        );
        for i in &items {
            let actions = i["actions_taken"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| text(&json!({"x": x}), "x"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            println!(
                "{:<24} {:<25} {:<12} {:<9} {}{}",
                text(i, "timestamp"),
                text(i, "incident_id"),
                text(i, "status"),
                text(i, "severity"),
                text(i, "alert_name"),
                if actions.is_empty() {
                    String::new()
                } else {
                    format!(" ({actions})")
                }
            );
        }
        println!(
            "{} {}incident(s) in {}",
            items.len(),
            if all { "" } else { "open " },
            d.table
        );
    }
    Ok(items)
}

/// `synth ops timeline ID`: the incident's record(s) and its events in the audit log, in time
/// order. Returns the timeline's lines.
pub async fn timeline(c: &Clients, id: &str) -> Result<Vec<String>> {
    let d = Deployed::read(c).await?;
    let records = c
        .ddb
        .query()
        .table_name(&d.table)
        .key_condition_expression("incident_id = :i")
        .expression_attribute_values(":i", AttributeValue::S(id.to_owned()))
        .send()
        .await
        .map_err(|e| anyhow!("querying {}: {}", d.table, short(e)))?;
    let records: Vec<Value> = records.items().iter().map(plain).collect();
    if records.is_empty() {
        bail!("no incident {id} in {}", d.table);
    }
    let mut lines: Vec<(String, String)> = Vec::new();
    for r in &records {
        lines.push((
            text(r, "timestamp"),
            format!(
                "record: {} {} {} ({})",
                text(r, "status"),
                text(r, "severity"),
                text(r, "alert_name"),
                r["actions_taken"]
            ),
        ));
        if r["resolved_at"].is_string() {
            lines.push((text(r, "resolved_at"), "record: resolved".into()));
        }
    }
    let mut token = None;
    loop {
        let page = c
            .logs
            .filter_log_events()
            .log_group_name(&d.audit_group)
            .filter_pattern(format!("\"{id}\""))
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| anyhow!("reading {}: {}", d.audit_group, short(e)))?;
        for e in page.events() {
            let Ok(event) = serde_json::from_str::<Value>(e.message().unwrap_or_default()) else {
                continue;
            };
            if event["detail"]["incident_id"] != id {
                continue;
            }
            lines.push((
                text(&event, "time"),
                format!(
                    "event: {} from {}",
                    text(&event, "detail-type"),
                    text(&event, "source")
                ),
            ));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    lines.sort();
    let out: Vec<String> = lines
        .into_iter()
        .map(|(t, l)| format!("{t}  {l}"))
        .collect();
    println!(
        "incident {id} ({} record, audit log {})",
        d.table, d.audit_group
    );
    for l in &out {
        println!("  {l}");
    }
    Ok(out)
}

/// One message of the dead-letter queue: its receipt handle and the event it carries.
struct Dead {
    receipt: String,
    event: Option<Value>,
    body: String,
}

/// `synth ops redrive`: lists the dead-letter queue's events (at most `max`); with `yes`, puts
/// each back on the bus and deletes it from the queue once the bus accepted it. Returns how
/// many were listed and how many were sent.
pub async fn redrive(c: &Clients, yes: bool, max: usize) -> Result<(usize, usize)> {
    let d = Deployed::read(c).await?;
    let mut dead: Vec<Dead> = Vec::new();
    while dead.len() < max {
        let batch = c
            .sqs
            .receive_message()
            .queue_url(&d.dlq_url)
            .max_number_of_messages(i32::try_from((max - dead.len()).min(10)).unwrap_or(10))
            .visibility_timeout(120)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| anyhow!("reading {}: {}", d.dlq_url, short(e)))?;
        if batch.messages().is_empty() {
            break;
        }
        for m in batch.messages() {
            let body = m.body().unwrap_or_default().to_owned();
            let event = serde_json::from_str::<Value>(&body)
                .ok()
                .filter(|e| e["detail-type"].is_string() && e["source"].is_string());
            dead.push(Dead {
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                event,
                body,
            });
        }
    }
    println!(
        "{} message(s) in the dead-letter queue {}:",
        dead.len(),
        d.dlq_url
    );
    for m in &dead {
        match &m.event {
            Some(e) => println!(
                "  {}  {}  {}",
                text(e, "time"),
                text(e, "detail-type"),
                text(&e["detail"], "incident_id")
            ),
            None => println!(
                "  not an event, kept: {}",
                m.body.chars().take(80).collect::<String>()
            ),
        }
    }
    let sendable: Vec<&Dead> = dead.iter().filter(|m| m.event.is_some()).collect();
    if !yes {
        // Give them back at once instead of after the visibility timeout.
        for m in &dead {
            let _ = c
                .sqs
                .change_message_visibility()
                .queue_url(&d.dlq_url)
                .receipt_handle(&m.receipt)
                .visibility_timeout(0)
                .send()
                .await;
        }
        println!(
            "{} event(s) would be put back on {}; run again with --yes to send them",
            sendable.len(),
            d.bus
        );
        return Ok((dead.len(), 0));
    }
    let mut sent = 0;
    for chunk in sendable.chunks(10) {
        let entries: Vec<PutEventsRequestEntry> = chunk
            .iter()
            .filter_map(|m| m.event.as_ref())
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&d.bus)
                    .source(text(e, "source"))
                    .detail_type(text(e, "detail-type"))
                    .detail(e["detail"].to_string())
                    .build()
            })
            .collect();
        let out = c
            .events
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| anyhow!("putting events on {}: {}", d.bus, short(e)))?;
        for (m, result) in chunk.iter().zip(out.entries()) {
            if result.event_id().is_some() {
                c.sqs
                    .delete_message()
                    .queue_url(&d.dlq_url)
                    .receipt_handle(&m.receipt)
                    .send()
                    .await
                    .map_err(|e| anyhow!("deleting a redriven message: {}", short(e)))?;
                sent += 1;
            } else {
                println!(
                    "  kept (the bus refused it: {}): {}",
                    result.error_message().unwrap_or("unknown"),
                    m.body.chars().take(80).collect::<String>()
                );
            }
        }
    }
    println!(
        "{sent} event(s) put back on {} and removed from the queue",
        d.bus
    );
    Ok((dead.len(), sent))
}

/// Parses an RFC 3339 time.
fn instant(s: &str, flag: &str) -> Result<DateTime> {
    DateTime::from_str(s, DateTimeFormat::DateTime).with_context(|| {
        format!("{flag} {s:?}: expected an RFC 3339 time such as 2026-11-27T10:00:00Z")
    })
}

/// `synth ops replay`: replays the archive's events of `[from, to)` onto the bus; with `yes`,
/// starts the replay and follows it until it completes. Returns the replay's name.
pub async fn replay(c: &Clients, from: &str, to: &str, yes: bool) -> Result<Option<String>> {
    let (start, end) = (instant(from, "--from")?, instant(to, "--to")?);
    if start.secs() >= end.secs() {
        bail!("--from {from} is not before --to {to}");
    }
    let mut d = Deployed::read(c).await?;
    // The bus's archive: the stack's (its physical id), found among the bus's archives.
    let archives = c
        .events
        .list_archives()
        .event_source_arn(&d.bus_arn)
        .send()
        .await
        .map_err(|e| anyhow!("the archives of {}: {}", d.bus, short(e)))?;
    let names: Vec<String> = archives
        .archives()
        .iter()
        .filter_map(|a| a.archive_name().map(str::to_owned))
        .collect();
    if !names.contains(&d.archive) {
        match names.as_slice() {
            [only] => d.archive = only.clone(),
            [] => bail!("{} has no archive: nothing to replay", d.bus),
            _ => bail!(
                "{} has several archives ({}), none of them {STACK}'s {:?}",
                d.bus,
                names.join(", "),
                d.archive
            ),
        }
    }
    let archive = c
        .events
        .describe_archive()
        .archive_name(&d.archive)
        .send()
        .await
        .map_err(|e| anyhow!("the archive {}: {}", d.archive, short(e)))?;
    let archive_arn = archive
        .archive_arn()
        .ok_or_else(|| anyhow!("the archive {} has no ARN", d.archive))?
        .to_owned();
    println!(
        "replay: archive {} ({} events archived), {from} .. {to}, onto {} (every rule of the bus: the runbook skips incidents it has recorded, notifications and the audit log repeat)",
        d.archive,
        archive.event_count(),
        d.bus
    );
    if !yes {
        println!("run again with --yes to start it");
        return Ok(None);
    }
    let name = format!("synth-replay-{}", start.secs());
    c.events
        .start_replay()
        .replay_name(&name)
        .event_source_arn(&archive_arn)
        .event_start_time(start)
        .event_end_time(end)
        .destination(ReplayDestination::builder().arn(&d.bus_arn).build()?)
        .send()
        .await
        .map_err(|e| anyhow!("starting replay {name}: {}", short(e)))?;
    for _ in 0..600 {
        let r = c
            .events
            .describe_replay()
            .replay_name(&name)
            .send()
            .await
            .map_err(|e| anyhow!("replay {name}: {}", short(e)))?;
        match r.state() {
            Some(ReplayState::Completed) => {
                println!("replay {name}: completed");
                return Ok(Some(name));
            }
            Some(s @ (ReplayState::Failed | ReplayState::Cancelled)) => bail!(
                "replay {name}: {} ({})",
                s.as_str(),
                r.state_reason().unwrap_or("no reason given")
            ),
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    bail!(
        "replay {name} still running after 10 minutes: aws events describe-replay --replay-name {name}"
    )
}
