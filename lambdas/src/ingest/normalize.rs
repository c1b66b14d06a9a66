//! Parse, validate and normalize a webhook body into platform events.
//!
//! Pure and synchronous: no I/O, no clock (the caller passes the receive time), so it is the
//! part that is fuzzed and benchmarked. Every rejection names the field that was wrong.

use std::collections::BTreeMap;
use std::fmt;

use platform_contract::Severity;
use platform_contract::events::{
    DetailType, IncidentCreated, IncidentResolved, PlatformEvent, Source,
};
use platform_contract::runbook::{Action, RunbookRef, Target};
use platform_contract::webhook::{alertmanager, datadog};
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
    /// An [`Action`](platform_contract::runbook::Action) wire name.
    pub const RUNBOOK_ACTION: &str = "runbook_action";
    /// `namespace/name` of a Deployment, or a node name for `drain_node`.
    pub const RUNBOOK_TARGET: &str = "runbook_target";
}

/// A webhook that cannot be accepted at all: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    /// JSON path of the offending field (`alerts[2].startsAt`), or `body`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
    /// When no alert of the payload is valid: every alert, each with its reason (the first
    /// gives `field` and `message`). Empty when the envelope itself is invalid.
    pub rejected: Vec<Rejected>,
}

impl BadRequest {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        BadRequest {
            field: field.into(),
            message: message.into(),
            rejected: Vec::new(),
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

/// The `starts_at` of every Datadog incident (created and resolved): the Unix epoch.
///
/// The incidents table's sort key is `starts_at`, so every notification of one alert cycle must
/// carry the same value, or a re-notification (`Renotify`, `Re-Triggered`, a `Warn` to `Alert`
/// step) writes a second record and runs the remediation again. Datadog gives no cycle start:
/// `$DATE` is the time of *this* notification, and `$ALERT_CYCLE_KEY` is an opaque id (Datadog
/// documents it only as "the ID that links an alert from the time it triggers until it
/// resolves"), from which no time can be read. So the start is a constant that no real alert
/// has, which tells a reader that the start is unknown; the incident id (derived from the cycle
/// key) alone identifies the cycle. The recovery carries the same value, so it keys the same
/// record even when it arrives before (or without) the creation.
pub const DATADOG_CYCLE_START: &str = "1970-01-01T00:00:00Z";

/// An alert of a payload that was not accepted (the others were): which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// The alert: `alerts[2]` (Alertmanager), `body` (a Datadog notification is one alert).
    pub alert: String,
    /// Its index in the payload (0 for Datadog).
    pub index: usize,
    /// Its fingerprint, when the payload gave one (Datadog: `alert_id/alert_scope`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Its alert name, when the payload gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alertname: Option<String>,
    /// JSON path of the offending field (`alerts[2].startsAt`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl Rejected {
    fn new(
        alert: String,
        index: usize,
        fingerprint: Option<String>,
        alertname: Option<String>,
        bad: BadRequest,
    ) -> Box<Self> {
        let non_empty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        Box::new(Rejected {
            alert,
            index,
            fingerprint: non_empty(fingerprint),
            alertname: non_empty(alertname),
            field: bad.field,
            message: bad.message,
        })
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A webhook normalized: the events of its valid alerts, and the alerts it rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// Events to publish, without duplicates (never empty).
    pub events: Vec<Event>,
    /// Alerts that could not be accepted, in payload order.
    pub rejected: Vec<Rejected>,
}

/// Parse a webhook body from `sender` and normalize each alert to a platform event.
///
/// One invalid alert does not block the others: it is listed in [`Normalized::rejected`] and
/// the valid alerts still give events (Alertmanager does not retry a 4xx, and re-sends the
/// same group, so refusing the whole payload would lose every alert of the group). The result
/// is an error only when the envelope itself is invalid (not JSON, wrong version, no alerts)
/// or when no alert is valid; [`BadRequest::rejected`] then lists the rejected alerts.
///
/// Duplicates inside one payload (same incident and event type) are sent once.
pub fn normalize(
    sender: Sender,
    body: &[u8],
    enrichment: &Enrichment,
) -> Result<Normalized, BadRequest> {
    let alerts = match sender {
        Sender::Alertmanager => alertmanager_alerts(body, enrichment)?,
        Sender::Datadog => vec![datadog_alert(body, enrichment)?],
    };
    let mut seen = std::collections::HashSet::with_capacity(alerts.len());
    let mut events = Vec::with_capacity(alerts.len());
    let mut rejected = Vec::new();
    for alert in alerts {
        match alert {
            Ok(event) => {
                if seen.insert((event.incident_id.clone(), event.detail_type)) {
                    events.push(event);
                }
            }
            Err(reject) => rejected.push(*reject),
        }
    }
    if events.is_empty() {
        // `alerts` is never empty, so neither is `rejected` here.
        let (field, message) = rejected
            .first()
            .map(|r| (r.field.clone(), r.message.clone()))
            .unwrap_or_else(|| ("alerts".into(), "no valid alert".into()));
        return Err(BadRequest {
            field,
            message,
            rejected,
        });
    }
    Ok(Normalized { events, rejected })
}

/// Parse with path tracking, naming the field that failed (`body` for the whole document).
fn parse_tracked<T: serde::de::DeserializeOwned>(body: &[u8]) -> BadRequest {
    let de = &mut serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(_) => BadRequest::new("body", "does not parse"),
        Err(error) => {
            let path = error.path().to_string();
            BadRequest::new(root_or("body", &path), error.into_inner().to_string())
        }
    }
}

/// `prefix` for serde_path_to_error's root path (`.` or `?`), else `path`.
fn root_or(prefix: &str, path: &str) -> String {
    if path == "." || path == "?" || path.is_empty() {
        prefix.to_string()
    } else {
        path.to_string()
    }
}

/// One alert: its event, or why it was rejected (boxed: the rare case stays off the stack).
type AlertOutcome = Result<Event, Box<Rejected>>;

fn alertmanager_alerts(
    body: &[u8],
    enrichment: &Enrichment,
) -> Result<Vec<AlertOutcome>, BadRequest> {
    // The fast path: the whole payload parses as the contract type. Only a payload that does
    // not is parsed again alert by alert, to reject the bad alerts and keep the good ones.
    if let Ok(hook) = serde_json::from_slice::<alertmanager::Webhook>(body) {
        check_envelope(&hook.version, hook.alerts.len())?;
        return Ok(hook
            .alerts
            .into_iter()
            .enumerate()
            .map(|(i, alert)| alertmanager_alert(i, alert, enrichment))
            .collect());
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| parse_tracked::<alertmanager::Webhook>(body))?;
    let Some(serde_json::Value::Array(alerts)) =
        value.as_object_mut().and_then(|o| o.get_mut("alerts"))
    else {
        return Err(parse_tracked::<alertmanager::Webhook>(body));
    };
    let alerts = std::mem::take(alerts);
    // The envelope alone (its `alerts` emptied): its errors reject the whole payload.
    let hook: alertmanager::Webhook = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        BadRequest::new(root_or("body", &path), e.into_inner().to_string())
    })?;
    check_envelope(&hook.version, alerts.len())?;
    Ok(alerts
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let identity = |key: &str| {
                let v = if key == label::ALERT_NAME {
                    raw.get("labels").and_then(|l| l.get(key))
                } else {
                    raw.get(key)
                };
                v.and_then(|v| v.as_str()).map(str::to_string)
            };
            let (fingerprint, alertname) = (identity("fingerprint"), identity(label::ALERT_NAME));
            match serde_path_to_error::deserialize::<_, alertmanager::Alert>(raw) {
                Ok(alert) => alertmanager_alert(i, alert, enrichment),
                Err(e) => {
                    let path = e.path().to_string();
                    let field = if path == "." || path == "?" || path.is_empty() {
                        format!("alerts[{i}]")
                    } else {
                        format!("alerts[{i}].{path}")
                    };
                    Err(Rejected::new(
                        format!("alerts[{i}]"),
                        i,
                        fingerprint,
                        alertname,
                        BadRequest::new(field, e.into_inner().to_string()),
                    ))
                }
            }
        })
        .collect())
}

fn check_envelope(version: &str, alerts: usize) -> Result<(), BadRequest> {
    if version != alertmanager::VERSION {
        return Err(BadRequest::new(
            "version",
            format!(
                "unsupported version {version:?}, expected \"{}\"",
                alertmanager::VERSION
            ),
        ));
    }
    if alerts == 0 {
        return Err(BadRequest::new("alerts", "must not be empty"));
    }
    Ok(())
}

fn alertmanager_alert(
    i: usize,
    alert: alertmanager::Alert,
    enrichment: &Enrichment,
) -> AlertOutcome {
    let reject = |fingerprint: Option<String>, alertname: Option<String>, bad| {
        Rejected::new(format!("alerts[{i}]"), i, fingerprint, alertname, bad)
    };
    // Validate on the borrowed alert (so a rejection can still name it), then move it into
    // the event: the valid path copies nothing for the rejection's sake.
    let checked = match check_alertmanager(i, &alert) {
        Ok(checked) => checked,
        Err(bad) => {
            let alertname = alert.labels.get(label::ALERT_NAME).cloned();
            return Err(reject(Some(alert.fingerprint), alertname, bad));
        }
    };
    let event = alertmanager_event(alert, checked, enrichment);
    match fits(&event, || format!("alerts[{i}]")) {
        Ok(()) => Ok(event),
        Err(bad) => {
            let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap_or_default();
            let text = |key: &str| detail.get(key).and_then(|v| v.as_str()).map(str::to_string);
            Err(reject(text("fingerprint"), text("alert_name"), bad))
        }
    }
}

/// What validating an Alertmanager alert found.
struct Checked {
    alert_name: String,
    severity: Severity,
    starts_at: String,
    incident_id: String,
    /// Firing: the runbook. Resolved: the end and the time to resolve.
    state: CheckedState,
}

enum CheckedState {
    Firing(Option<RunbookRef>),
    Resolved { resolved_at: String, seconds: i64 },
}

fn check_alertmanager(i: usize, alert: &alertmanager::Alert) -> Result<Checked, BadRequest> {
    let at = |field: &str| format!("alerts[{i}].{field}");
    if alert.fingerprint.trim().is_empty() {
        return Err(BadRequest::new(at("fingerprint"), "must not be empty"));
    }
    let alert_name = required_label(&alert.labels, label::ALERT_NAME, || at("labels.alertname"))?;
    let severity = severity_label(&alert.labels, || at("labels.severity"))?;
    let starts_at = rfc3339(&alert.starts_at, || at("startsAt"))?;
    let incident_id = incident_id(Source::Alertmanager, &alert.fingerprint, &starts_at);
    let state = match alert.status {
        alertmanager::Status::Firing => CheckedState::Firing(runbook(&alert.labels, |name| {
            at(&format!("labels.{name}"))
        })?),
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
            CheckedState::Resolved {
                resolved_at,
                seconds: (end - start).whole_seconds(),
            }
        }
    };
    Ok(Checked {
        alert_name: alert_name.to_string(),
        severity,
        starts_at,
        incident_id,
        state,
    })
}

fn alertmanager_event(
    alert: alertmanager::Alert,
    checked: Checked,
    enrichment: &Enrichment,
) -> Event {
    let source = Source::Alertmanager;
    let Checked {
        alert_name,
        severity,
        starts_at,
        incident_id,
        state,
    } = checked;
    match state {
        CheckedState::Firing(runbook) => {
            let mut annotations = alert.annotations;
            let summary = annotations
                .remove("summary")
                .unwrap_or_else(|| alert_name.clone());
            let description = annotations.remove("description").unwrap_or_default();
            let detail = IncidentCreated {
                incident_id: incident_id.clone(),
                alert_name,
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
            Event::new(incident_id, source, &detail)
        }
        CheckedState::Resolved {
            resolved_at,
            seconds,
        } => {
            let detail = IncidentResolved {
                incident_id: incident_id.clone(),
                alert_name,
                severity,
                fingerprint: alert.fingerprint,
                starts_at,
                resolved_at,
                time_to_resolve_seconds: Some(seconds),
                received_at: enrichment.received_at.clone(),
                received_at_epoch: enrichment.received_at_epoch,
            };
            Event::new(incident_id, source, &detail)
        }
    }
}

/// A rejection when the event is over EventBridge's entry limit.
fn fits(event: &Event, field: impl Fn() -> String) -> Result<(), BadRequest> {
    if event.entry_size() > MAX_ENTRY_BYTES {
        return Err(BadRequest::new(
            field(),
            format!(
                "the event for incident {} is {} bytes, more than EventBridge's {} (labels too large)",
                event.incident_id,
                event.entry_size(),
                MAX_ENTRY_BYTES
            ),
        ));
    }
    Ok(())
}

/// A Datadog notification is one alert: its event, or its rejection. Only a body that is not a
/// JSON object is an envelope error.
fn datadog_alert(body: &[u8], enrichment: &Enrichment) -> Result<AlertOutcome, BadRequest> {
    let identity = |hook: &serde_json::Value| {
        let text = |key: &str| hook.get(key).and_then(|v| v.as_str()).unwrap_or_default();
        let fingerprint = match (text("alert_id"), text("alert_scope")) {
            ("", _) => None,
            (id, "") => Some(id.to_string()),
            (id, scope) => Some(format!("{id}/{scope}")),
        };
        (
            fingerprint,
            Some(monitor_name(text("alert_title")).to_string()),
        )
    };
    let hook = match serde_json::from_slice::<datadog::Webhook>(body) {
        Ok(hook) => hook,
        Err(_) => {
            let bad = parse_tracked::<datadog::Webhook>(body);
            return match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(value) if value.is_object() => {
                    let (fingerprint, alertname) = identity(&value);
                    Ok(Err(Rejected::new(
                        "body".into(),
                        0,
                        fingerprint,
                        alertname,
                        bad,
                    )))
                }
                _ => Err(bad),
            };
        }
    };
    let fingerprint = datadog_fingerprint(&hook);
    let alertname = Some(monitor_name(&hook.alert_title).to_string());
    Ok(datadog_event(hook, enrichment)
        .map_err(|bad| Rejected::new("body".into(), 0, fingerprint, alertname, bad)))
}

fn datadog_fingerprint(hook: &datadog::Webhook) -> Option<String> {
    if hook.alert_id.trim().is_empty() {
        None
    } else if hook.alert_scope.is_empty() {
        Some(hook.alert_id.clone())
    } else {
        Some(format!("{}/{}", hook.alert_id, hook.alert_scope))
    }
}

fn datadog_event(hook: datadog::Webhook, enrichment: &Enrichment) -> Result<Event, BadRequest> {
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
    let fingerprint = datadog_fingerprint(&hook).unwrap_or_default();
    // The cycle key is the same for every notification from trigger to recovery: it is the
    // alert's identity in time, where Alertmanager has the start time. With
    // [`DATADOG_CYCLE_START`] as the start, every notification of the cycle gives the same
    // (incident id, starts_at): one record, one remediation.
    let incident_id = incident_id(source, &fingerprint, &hook.alert_cycle_key);
    let event = if datadog::RESOLVING_TRANSITIONS.contains(&hook.alert_transition.as_str()) {
        let detail = IncidentResolved {
            incident_id: incident_id.clone(),
            alert_name: alert_name.to_string(),
            severity,
            fingerprint,
            // The same key as the creation; the cycle's real start is unknown, so no duration.
            starts_at: DATADOG_CYCLE_START.to_string(),
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
            // Not `$DATE` (this notification's time, different for each re-notification).
            starts_at: DATADOG_CYCLE_START.to_string(),
            labels,
            runbook,
            received_at: enrichment.received_at.clone(),
            received_at_epoch: enrichment.received_at_epoch,
            account: enrichment.account.clone(),
            region: enrichment.region.clone(),
        };
        Event::new(incident_id, source, &detail)
    };
    fits(&event, || "body".to_string())?;
    Ok(event)
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

/// The 202 answer: which incidents the webhook concerned, and which alerts were rejected.
#[derive(Debug, Serialize)]
pub struct Accepted<'a> {
    /// Incident ids, in payload order, without duplicates.
    pub incident_ids: Vec<&'a str>,
    /// Events delivered to the bus.
    pub events: usize,
    /// Alerts not accepted (empty when every alert was): the sender does not retry them.
    pub rejected: &'a [Rejected],
}
