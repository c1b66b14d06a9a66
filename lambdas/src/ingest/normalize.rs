//! Parse, validate and normalize a webhook body into platform events.
//!
//! Pure and synchronous: no I/O, no clock (the caller passes the receive time), so it is the
//! part that is fuzzed and benchmarked. Every rejection names the field that was wrong.

use std::collections::BTreeMap;
use std::fmt;

use platform_model::contract::Severity;
use platform_model::contract::events::{
    DetailType, IncidentCreated, IncidentResolved, PlatformEvent, Source,
};
use platform_model::contract::runbook::{Action, RunbookRef, Target};
use platform_model::contract::webhook::{alertmanager, datadog};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Summaries longer than this are cut (on a character boundary).
pub const MAX_SUMMARY_BYTES: usize = 1024;
/// Descriptions longer than this are cut (on a character boundary).
pub const MAX_DESCRIPTION_BYTES: usize = 8 * 1024;
/// EventBridge's limit for one entry (and one `PutEvents` call).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// Labels the cluster side sets on every alert (Datadog: tags `key:value`).
pub mod label {
    /// The alert's name.
    pub const ALERT_NAME: &str = "alertname";
    /// `critical`, `warning` or `info`.
    pub const SEVERITY: &str = "severity";
    /// An [`Action`](platform_model::contract::runbook::Action) wire name.
    pub const RUNBOOK_ACTION: &str = "runbook_action";
    /// `namespace/name` of a Deployment, or a node name for `drain_node`.
    pub const RUNBOOK_TARGET: &str = "runbook_target";
}

/// A webhook that cannot be accepted: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    /// JSON path of the offending field (`alerts[2].startsAt`), or `body`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl BadRequest {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for BadRequest {}

/// Where a webhook came from (the `{source}` of `POST /webhook/{source}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// Prometheus Alertmanager.
    Alertmanager,
    /// Datadog.
    Datadog,
}

impl Sender {
    /// The sender of a path segment (`alertmanager`, `datadog`).
    pub fn from_path(segment: &str) -> Option<Sender> {
        match segment {
            "alertmanager" => Some(Sender::Alertmanager),
            "datadog" => Some(Sender::Datadog),
            _ => None,
        }
    }

    /// The platform event source of this sender.
    pub const fn source(self) -> Source {
        match self {
            Sender::Alertmanager => Source::Alertmanager,
            Sender::Datadog => Source::Datadog,
        }
    }
}

/// What the receiver adds to every event.
#[derive(Debug, Clone)]
pub struct Enrichment {
    /// When the webhook arrived (RFC 3339, UTC).
    pub received_at: String,
    /// The same instant in seconds since the Unix epoch.
    pub received_at_epoch: i64,
    /// The AWS account that received it.
    pub account: String,
    /// The AWS region that received it.
    pub region: String,
}

impl Enrichment {
    /// Enrichment for a webhook received at `received` by `account` in `region`.
    #[must_use]
    pub fn new(received: OffsetDateTime, account: String, region: String) -> Self {
        Self {
            received_at: format_utc(received).unwrap_or_default(),
            received_at_epoch: received.unix_timestamp(),
            account,
            region,
        }
    }
}

/// One platform event ready for `PutEvents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The incident it concerns.
    pub incident_id: String,
    /// `source`.
    pub source: Source,
    /// `detail-type`.
    pub detail_type: DetailType,
    /// `detail`, serialized.
    pub detail: String,
}

impl Event {
    fn new<T: PlatformEvent>(incident_id: String, source: Source, detail: &T) -> Event {
        Event {
            incident_id,
            source,
            detail_type: T::DETAIL_TYPE,
            // Serializing a struct of strings and string maps cannot fail.
            detail: serde_json::to_string(detail).unwrap_or_default(),
        }
    }

    /// The entry size as EventBridge counts it toward the 256 KB limit (time, source,
    /// detail-type, detail).
    pub fn entry_size(&self) -> usize {
        14 + self.source.as_str().len() + self.detail_type.as_str().len() + self.detail.len()
    }
}

/// The deterministic incident id: the same alert (source, fingerprint, start) always gives the
/// same id, so retried and duplicated webhooks map to one incident.
pub fn incident_id(source: Source, fingerprint: &str, start: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(source.as_str().as_bytes());
    hash.update([0]);
    hash.update(fingerprint.as_bytes());
    hash.update([0]);
    hash.update(start.as_bytes());
    let digest = hash.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(36);
    id.push_str("inc-");
    for byte in &digest[..16] {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    id
}

/// Parse a webhook body from `sender` and normalize each alert to a platform event.
///
/// Duplicates inside one payload (same incident and event type) are sent once.
pub fn normalize(
    sender: Sender,
    body: &[u8],
    enrichment: &Enrichment,
) -> Result<Vec<Event>, BadRequest> {
    let events = match sender {
        Sender::Alertmanager => alertmanager_events(parse(body)?, enrichment)?,
        Sender::Datadog => datadog_events(parse(body)?, enrichment)?,
    };
    let mut seen = std::collections::HashSet::with_capacity(events.len());
    let mut unique = Vec::with_capacity(events.len());
    for event in events {
        if event.entry_size() > MAX_ENTRY_BYTES {
            return Err(BadRequest::new(
                "body",
                format!(
                    "the event for incident {} is {} bytes, more than EventBridge's {} (labels too large)",
                    event.incident_id,
                    event.entry_size(),
                    MAX_ENTRY_BYTES
                ),
            ));
        }
        if seen.insert((event.incident_id.clone(), event.detail_type)) {
            unique.push(event);
        }
    }
    Ok(unique)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, BadRequest> {
    // The fast path: a plain parse. Only a body that fails is parsed again with path tracking,
    // which costs on every field, to name where it failed.
    if let Ok(parsed) = serde_json::from_slice(body) {
        return Ok(parsed);
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." || path == "?" || path.is_empty() {
            "body".to_string()
        } else {
            path
        };
        BadRequest::new(field, error.into_inner().to_string())
    })
}

fn alertmanager_events(
    hook: alertmanager::Webhook,
    enrichment: &Enrichment,
) -> Result<Vec<Event>, BadRequest> {
    if hook.version != alertmanager::VERSION {
        return Err(BadRequest::new(
            "version",
            format!(
                "unsupported version {:?}, expected \"{}\"",
                hook.version,
                alertmanager::VERSION
            ),
        ));
    }
    if hook.alerts.is_empty() {
        return Err(BadRequest::new("alerts", "must not be empty"));
    }
    let source = Source::Alertmanager;
    let mut events = Vec::with_capacity(hook.alerts.len());
    for (i, alert) in hook.alerts.into_iter().enumerate() {
        let at = |field: &str| format!("alerts[{i}].{field}");
        if alert.fingerprint.trim().is_empty() {
            return Err(BadRequest::new(at("fingerprint"), "must not be empty"));
        }
        let alert_name =
            required_label(&alert.labels, label::ALERT_NAME, || at("labels.alertname"))?;
        let severity = severity_label(&alert.labels, || at("labels.severity"))?;
        let starts_at = rfc3339(&alert.starts_at, || at("startsAt"))?;
        let incident_id = incident_id(source, &alert.fingerprint, &starts_at);
        match alert.status {
            alertmanager::Status::Firing => {
                let runbook = runbook(&alert.labels, |name| at(&format!("labels.{name}")))?;
                let mut annotations = alert.annotations;
                let summary = annotations
                    .remove("summary")
                    .unwrap_or_else(|| alert_name.to_string());
                let description = annotations.remove("description").unwrap_or_default();
                let detail = IncidentCreated {
                    incident_id: incident_id.clone(),
                    alert_name: alert_name.to_string(),
                    severity,
                    summary: cut(summary, MAX_SUMMARY_BYTES),
                    description: cut(description, MAX_DESCRIPTION_BYTES),
                    fingerprint: alert.fingerprint,
                    starts_at,
                    labels: alert.labels,
                    runbook,
                    received_at: enrichment.received_at.clone(),
                    received_at_epoch: enrichment.received_at_epoch,
                    account: enrichment.account.clone(),
                    region: enrichment.region.clone(),
                };
                events.push(Event::new(incident_id, source, &detail));
            }
            alertmanager::Status::Resolved => {
                let resolved_at = rfc3339(&alert.ends_at, || at("endsAt"))?;
                // Both parsed a moment ago (`rfc3339` returns what it could parse).
                let start = OffsetDateTime::parse(&starts_at, &Rfc3339)
                    .map_err(|e| BadRequest::new(at("startsAt"), e.to_string()))?;
                let end = OffsetDateTime::parse(&resolved_at, &Rfc3339)
                    .map_err(|e| BadRequest::new(at("endsAt"), e.to_string()))?;
                if end < start {
                    return Err(BadRequest::new(
                        at("endsAt"),
                        format!("{resolved_at} is before startsAt {starts_at} in a resolved alert"),
                    ));
                }
                let time_to_resolve_seconds = Some((end - start).whole_seconds());
                let detail = IncidentResolved {
                    incident_id: incident_id.clone(),
                    alert_name: alert_name.to_string(),
                    severity,
                    fingerprint: alert.fingerprint,
                    starts_at,
                    resolved_at,
                    time_to_resolve_seconds,
                    received_at: enrichment.received_at.clone(),
                    received_at_epoch: enrichment.received_at_epoch,
                };
                events.push(Event::new(incident_id, source, &detail));
            }
        }
    }
    Ok(events)
}

fn datadog_events(
    hook: datadog::Webhook,
    enrichment: &Enrichment,
) -> Result<Vec<Event>, BadRequest> {
    let source = Source::Datadog;
    if hook.alert_id.trim().is_empty() {
        return Err(BadRequest::new("alert_id", "must not be empty"));
    }
    if hook.alert_cycle_key.trim().is_empty() {
        return Err(BadRequest::new("alert_cycle_key", "must not be empty"));
    }
    if hook.alert_transition.trim().is_empty() {
        return Err(BadRequest::new("alert_transition", "must not be empty"));
    }
    let date = epoch_millis(&hook.date, "date")?;
    let mut labels = BTreeMap::new();
    for tag in hook
        .tags
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let (key, value) = tag.split_once(':').unwrap_or((tag, ""));
        labels.insert(key.to_string(), value.to_string());
    }
    let alert_name = monitor_name(&hook.alert_title);
    if alert_name.is_empty() {
        return Err(BadRequest::new("alert_title", "must not be empty"));
    }
    labels
        .entry(label::ALERT_NAME.to_string())
        .or_insert_with(|| alert_name.to_string());
    let severity = match labels.get(label::SEVERITY) {
        Some(_) => severity_label(&labels, || "tags.severity".to_string())?,
        None if hook.alert_transition.contains("Warn") => Severity::Warning,
        None => match hook.alert_priority.as_str() {
            "P1" | "P2" => Severity::Critical,
            "P3" | "" => Severity::Warning,
            "P4" | "P5" => Severity::Info,
            other => {
                return Err(BadRequest::new(
                    "alert_priority",
                    format!("unknown priority {other:?}, expected P1 to P5 or empty"),
                ));
            }
        },
    };
    let fingerprint = if hook.alert_scope.is_empty() {
        hook.alert_id.clone()
    } else {
        format!("{}/{}", hook.alert_id, hook.alert_scope)
    };
    // The cycle key is the same for every notification from trigger to recovery: it is the
    // alert's identity in time, where Alertmanager has the start time.
    let incident_id = incident_id(source, &fingerprint, &hook.alert_cycle_key);
    let event = if datadog::RESOLVING_TRANSITIONS.contains(&hook.alert_transition.as_str()) {
        let detail = IncidentResolved {
            incident_id: incident_id.clone(),
            alert_name: alert_name.to_string(),
            severity,
            fingerprint,
            // Datadog's recovery does not say when the cycle started; the incident id alone
            // identifies the record (it is derived from the cycle).
            starts_at: String::new(),
            resolved_at: date,
            time_to_resolve_seconds: None,
            received_at: enrichment.received_at.clone(),
            received_at_epoch: enrichment.received_at_epoch,
        };
        Event::new(incident_id, source, &detail)
    } else {
        let runbook = runbook(&labels, |name| format!("tags.{name}"))?;
        let summary = if hook.alert_status.is_empty() {
            alert_name.to_string()
        } else {
            hook.alert_status
        };
        let detail = IncidentCreated {
            incident_id: incident_id.clone(),
            alert_name: alert_name.to_string(),
            severity,
            summary: cut(summary, MAX_SUMMARY_BYTES),
            description: cut(hook.event_msg, MAX_DESCRIPTION_BYTES),
            fingerprint,
            starts_at: date,
            labels,
            runbook,
            received_at: enrichment.received_at.clone(),
            received_at_epoch: enrichment.received_at_epoch,
            account: enrichment.account.clone(),
            region: enrichment.region.clone(),
        };
        Event::new(incident_id, source, &detail)
    };
    Ok(vec![event])
}

/// `[Triggered on {service:checkout}] Checkout latency` -> `Checkout latency`.
fn monitor_name(title: &str) -> &str {
    let title = title.trim();
    match title
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("] "))
    {
        Some((_, name)) => name.trim(),
        None => title,
    }
}

fn required_label<'a>(
    labels: &'a BTreeMap<String, String>,
    name: &str,
    field: impl Fn() -> String,
) -> Result<&'a str, BadRequest> {
    match labels.get(name).map(|v| v.trim()) {
        Some(value) if !value.is_empty() => Ok(value),
        Some(_) => Err(BadRequest::new(field(), "must not be empty")),
        None => Err(BadRequest::new(field(), "missing")),
    }
}

/// The `severity` label; `warning` when absent (a missing label is not a reason to drop an
/// alert), an error when present and unknown.
fn severity_label(
    labels: &BTreeMap<String, String>,
    field: impl Fn() -> String,
) -> Result<Severity, BadRequest> {
    match labels.get(label::SEVERITY).map(String::as_str) {
        None => Ok(Severity::Warning),
        Some("critical") => Ok(Severity::Critical),
        Some("warning") => Ok(Severity::Warning),
        Some("info") => Ok(Severity::Info),
        Some(other) => Err(BadRequest::new(
            field(),
            format!("unknown severity {other:?}, expected critical, warning or info"),
        )),
    }
}

/// The runbook the labels name: both `runbook_action` and `runbook_target`, or neither.
fn runbook(
    labels: &BTreeMap<String, String>,
    field: impl Fn(&str) -> String,
) -> Result<Option<RunbookRef>, BadRequest> {
    let action = labels.get(label::RUNBOOK_ACTION).map(|v| v.trim());
    let target = labels.get(label::RUNBOOK_TARGET).map(|v| v.trim());
    let action = match action {
        None | Some("") => {
            return match target {
                Some(t) if !t.is_empty() => Err(BadRequest::new(
                    field(label::RUNBOOK_ACTION),
                    "missing while runbook_target is set",
                )),
                _ => Ok(None),
            };
        }
        Some(name) => Action::from_name(name).ok_or_else(|| {
            BadRequest::new(
                field(label::RUNBOOK_ACTION),
                format!(
                    "unknown action {name:?}, expected one of {}",
                    Action::ALL.map(Action::as_str).join(", ")
                ),
            )
        })?,
    };
    let target = match target {
        None | Some("") => {
            return Err(BadRequest::new(
                field(label::RUNBOOK_TARGET),
                "missing while runbook_action is set",
            ));
        }
        Some(t) => t,
    };
    let target = parse_target(action, target)
        .map_err(|message| BadRequest::new(field(label::RUNBOOK_TARGET), message))?;
    Ok(Some(RunbookRef { action, target }))
}

/// `namespace/name` for Deployment actions, a node name for `drain_node`.
pub fn parse_target(action: Action, text: &str) -> Result<Target, String> {
    if action == Action::DrainNode {
        if !is_dns_subdomain(text) {
            return Err(format!(
                "{text:?} is not a node name (lowercase DNS subdomain, at most 253 characters)"
            ));
        }
        return Ok(Target {
            namespace: String::new(),
            name: text.to_string(),
        });
    }
    match text.split_once('/') {
        Some((namespace, name)) if is_dns_label(namespace) && is_dns_subdomain(name) => {
            Ok(Target {
                namespace: namespace.to_string(),
                name: name.to_string(),
            })
        }
        _ => Err(format!(
            "{text:?} is not namespace/name (lowercase DNS names) as {} needs",
            action.as_str()
        )),
    }
}

/// A Kubernetes namespace name: RFC 1123 label.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A Kubernetes object name: RFC 1123 subdomain.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// An RFC 3339 time, normalized to UTC.
fn rfc3339(text: &str, field: impl Fn() -> String) -> Result<String, BadRequest> {
    let time = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| BadRequest::new(field(), format!("{text:?} is not an RFC 3339 time ({e})")))?;
    format_utc(time).ok_or_else(|| BadRequest::new(field(), format!("{text:?} is out of range")))
}

fn format_utc(time: OffsetDateTime) -> Option<String> {
    time.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()
}

/// Datadog's `$DATE`: epoch milliseconds.
fn epoch_millis(text: &str, field: &str) -> Result<String, BadRequest> {
    let bad = || BadRequest::new(field, format!("{text:?} is not epoch milliseconds"));
    let millis: i64 = text.trim().parse().map_err(|_| bad())?;
    let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .map_err(|_| bad())?;
    format_utc(time).ok_or_else(bad)
}

fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The 202 answer: which incidents the webhook concerned.
#[derive(Debug, Serialize)]
pub struct Accepted<'a> {
    /// Incident ids, in payload order, without duplicates.
    pub incident_ids: Vec<&'a str>,
    /// Events delivered to the bus.
    pub events: usize,
}
