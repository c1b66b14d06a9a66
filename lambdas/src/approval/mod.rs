//! `approval`: a human's approve / deny for a gated runbook action.
//!
//! Two kinds of events reach the function:
//!
//! - **The runbook's request** ([`ApprovalRequest`], `lambda:invoke.waitForTaskToken`): the
//!   function writes the pending approval (its id, the task token, the expiry) on the incident
//!   record, publishes a message with approve / deny links to the people's topic, and puts
//!   `approval.requested` on the bus (no links: the audit log must not hold a usable token).
//!   The runbook waits for the task token.
//! - **A link** (API Gateway, `/approvals/{incident_id}`): `GET` verifies the token and shows
//!   what it decides, asking who decides (a mail scanner opening the link changes nothing);
//!   `POST` (a form: `token`, `by`) decides: a conditional write makes the token single-use,
//!   then `SendTaskSuccess` (output: who approved) or `SendTaskFailure` (`Approval.Denied`),
//!   and `approval.decided` goes on the bus. A token that is malformed (400), forged or for
//!   another incident (403), already used or superseded (409), or expired (410) is refused
//!   with a page that says why; nothing changes.

pub mod link;

use std::collections::HashMap;

use askama::Template;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use platform_contract::Severity;
use platform_contract::approval::{
    self, ApprovalDecided, ApprovalRequest, ApprovalRequested, BY_FIELD, DEADLINE, Decision,
    ERROR_DENIED, TOKEN_FIELD, record, status,
};
use platform_contract::events::{PlatformEvent, Source};
use platform_contract::incident_record as rec;
use platform_contract::runbook::{ActionRequest, Target};
use platform_contract::runtime::approval as vars;
use serde::Deserialize;
use serde_json::json;

use link::{Claims, Refusal};

/// The function's configuration, read through the runtime contract.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The incidents table.
    pub table: String,
    /// The signing key's secret.
    pub signing_key_secret_arn: String,
    /// The people's topic.
    pub topic_arn: String,
    /// The bus.
    pub bus_name: String,
    /// The links' base URL.
    pub public_url: String,
    /// `RUST_LOG`.
    pub log_filter: String,
}

impl Settings {
    /// Reads every variable `approval` declares.
    pub fn read(env: &crate::env::Env<'_>) -> Result<Settings, crate::env::VarError> {
        Ok(Settings {
            table: env.required(&vars::INCIDENTS_TABLE)?,
            signing_key_secret_arn: env.required(&vars::SIGNING_KEY_SECRET_ARN)?,
            topic_arn: env.required(&vars::NOTIFICATIONS_TOPIC_ARN)?,
            bus_name: env.required(&vars::EVENT_BUS_NAME)?,
            public_url: env
                .required(&vars::PUBLIC_URL)?
                .trim_end_matches('/')
                .to_owned(),
            log_filter: env
                .optional(&vars::RUST_LOG)
                .unwrap_or_else(|| "info".into()),
        })
    }
}

/// Where the signing key comes from.
#[derive(Debug)]
pub enum KeySource {
    /// The secret (read once per container).
    Secret(aws_sdk_secretsmanager::Client),
    /// A fixed key (tests).
    Fixed(Vec<u8>),
}

/// The function's clients and configuration.
#[derive(Debug)]
pub struct Approvals {
    /// Settings.
    pub settings: Settings,
    /// The incidents table.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The people's topic.
    pub sns: aws_sdk_sns::Client,
    /// The bus.
    pub events: aws_sdk_eventbridge::Client,
    /// The runbook's task tokens.
    pub sfn: aws_sdk_sfn::Client,
    /// The signing key.
    pub key: KeySource,
    /// The key once read.
    pub cached_key: tokio::sync::OnceCell<Vec<u8>>,
    /// The clock, epoch seconds (tests move it).
    pub now: fn() -> i64,
}

/// The current time in epoch seconds.
pub fn system_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A failure of the runbook's request: the task fails, and the runbook escalates.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

/// The Lambda error type of a failed approval request.
pub const ERROR_REQUEST_FAILED: &str = "Approval.RequestFailed";

impl Approvals {
    async fn key(&self) -> Result<&[u8], String> {
        self.cached_key
            .get_or_try_init(|| async {
                match &self.key {
                    KeySource::Fixed(k) => Ok(k.clone()),
                    KeySource::Secret(client) => client
                        .get_secret_value()
                        .secret_id(&self.settings.signing_key_secret_arn)
                        .send()
                        .await
                        .map_err(|e| format!("reading the signing key: {}", aws_error(&e)))?
                        .secret_string()
                        .filter(|s| !s.is_empty())
                        .map(|s| s.as_bytes().to_vec())
                        .ok_or_else(|| "the signing key's secret has no string value".to_owned()),
                }
            })
            .await
            .map(Vec::as_slice)
    }

    fn link(&self, incident_id: &str, token: &str) -> String {
        let path: String = form_urlencoded::byte_serialize(incident_id.as_bytes()).collect();
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair(TOKEN_FIELD, token)
            .finish();
        format!(
            "{}/{}/{path}?{query}",
            self.settings.public_url,
            approval::ROUTE[0]
        )
    }
}

/// An SDK error with its causes, as the other functions log them.
fn aws_error<E: std::error::Error>(e: &E) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key_of(incident_id: &str, starts_at: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (rec::INCIDENT_ID.to_owned(), s(incident_id)),
        (rec::TIMESTAMP.to_owned(), s(starts_at)),
    ])
}

fn target_text(target: &Target) -> String {
    if target.namespace.is_empty() {
        format!("node {}", target.name)
    } else {
        format!("{}/{}", target.namespace, target.name)
    }
}

/// The people's message of an approval request: a sentence, then the links.
pub fn request_message(
    request: &ApprovalRequest,
    expires_at: &str,
    approve: &str,
    deny: &str,
) -> (String, String) {
    let what = format!(
        "{} on {}",
        request.request.action.as_str(),
        target_text(&request.request.target)
    );
    let mut subject = format!("APPROVAL NEEDED: {what} ({})", request.alert_name);
    // SNS subjects: at most 100 printable ASCII characters.
    subject.retain(|c| c.is_ascii() && !c.is_ascii_control());
    subject.truncate(100);
    let message = format!(
        "APPROVAL NEEDED {severity} {alert}: the runbook wants to run {what} (incident {incident}, asked {asked}).\n\
         Why: {why}.\n\
         Summary: {summary}\n\
         The links expire at {expires_at}; with no decision by then the runbook escalates.\n\
         \n\
         Approve: {approve}\n\
         Deny: {deny}\n\
         \n\
         Each link opens a page that asks your name before anything changes, and works once.",
        severity = request.severity.as_str().to_uppercase(),
        alert = request.alert_name,
        incident = request.incident_id,
        asked = request.requested_at,
        why = request.why,
        summary = request.summary,
    );
    (subject, message)
}

/// Handles the runbook's request: records the pending approval, sends the links, and puts
/// `approval.requested` on the bus. Returns the approval's id.
pub async fn request(app: &Approvals, req: &ApprovalRequest) -> Result<String, RequestError> {
    let fail = |what: &str, e: String| RequestError(format!("{what}: {e}"));
    let key = app
        .key()
        .await
        .map_err(|e| fail("signing key", e))?
        .to_vec();
    let approval_id = uuid::Uuid::new_v4().to_string();
    let expires = (app.now)() + i64::from(req.timeout_seconds);
    let expires_at = link::rfc3339(expires);
    let request_json = serde_json::to_string(&req.request).unwrap_or_default();
    app.dynamodb
        .update_item()
        .table_name(&app.settings.table)
        .set_key(Some(key_of(&req.incident_id, &req.starts_at)))
        .update_expression(format!(
            "SET {} = :id, {} = :status, {} = :request, {} = :why, {} = :asked, {} = :expires, {} = :token REMOVE {}, {}, {}",
            record::ID,
            record::STATUS,
            record::REQUEST,
            record::WHY,
            record::REQUESTED_AT,
            record::EXPIRES_AT,
            record::TASK_TOKEN,
            record::DECIDED_BY,
            record::DECIDED_AT,
            record::DECIDED_FROM,
        ))
        .condition_expression(format!("attribute_exists({})", rec::INCIDENT_ID))
        .expression_attribute_values(":id", s(&approval_id))
        .expression_attribute_values(":status", s(status::REQUESTED))
        .expression_attribute_values(":request", s(request_json))
        .expression_attribute_values(":why", s(&req.why))
        .expression_attribute_values(":asked", s(&req.requested_at))
        .expression_attribute_values(":expires", AttributeValue::N(expires.to_string()))
        .expression_attribute_values(":token", s(&req.task_token))
        .send()
        .await
        .map_err(|e| fail("recording the approval request", aws_error(&e)))?;
    let token = |decision| {
        link::sign(
            &key,
            &Claims {
                incident_id: req.incident_id.clone(),
                starts_at: req.starts_at.clone(),
                approval_id: approval_id.clone(),
                decision,
                expires_at: expires,
            },
        )
    };
    let approve = app.link(&req.incident_id, &token(Decision::Approve));
    let deny = app.link(&req.incident_id, &token(Decision::Deny));
    let (subject, message) = request_message(req, &expires_at, &approve, &deny);
    app.sns
        .publish()
        .topic_arn(&app.settings.topic_arn)
        .subject(subject)
        .message(message)
        .send()
        .await
        .map_err(|e| fail("publishing the approval request", aws_error(&e)))?;
    let event = ApprovalRequested {
        incident_id: req.incident_id.clone(),
        alert_name: req.alert_name.clone(),
        severity: req.severity,
        approval_id: approval_id.clone(),
        action: req.request.action,
        target: req.request.target.clone(),
        why: req.why.clone(),
        expires_at,
    };
    // The links are out: a lost audit event is logged, not a reason to fail the request.
    if let Err(e) = put_event(app, &event).await {
        tracing::error!(incident_id = %req.incident_id, error = %e, "approval.requested not put on the bus");
    }
    tracing::info!(incident_id = %req.incident_id, %approval_id, action = req.request.action.as_str(), "approval requested");
    Ok(approval_id)
}

async fn put_event<E: PlatformEvent>(app: &Approvals, detail: &E) -> Result<(), String> {
    let out = app
        .events
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(&app.settings.bus_name)
                .source(Source::Approval.as_str())
                .detail_type(E::DETAIL_TYPE.as_str())
                .detail(serde_json::to_string(detail).unwrap_or_default())
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error(&e))?;
    if out.failed_entry_count() > 0 {
        return Err(format!("{:?}", out.entries()));
    }
    Ok(())
}

/// What people get back: a status and an HTML page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// HTML.
    pub html: String,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>{{ title }}</title></head>
<body>
<h1>{{ title }}</h1>
{% for line in lines %}<p>{{ line }}</p>
{% endfor %}{% if let Some(token) = form_token %}<form method="post">
<input type="hidden" name="{{ token_field }}" value="{{ token }}">
<label>Your name (recorded with the decision): <input name="{{ by_field }}" required maxlength="64"></label>
<button type="submit">{{ button }}</button>
</form>
{% endif %}</body></html>
"#
)]
struct Html<'a> {
    title: &'a str,
    lines: Vec<String>,
    form_token: Option<&'a str>,
    token_field: &'a str,
    by_field: &'a str,
    button: &'a str,
}

fn page(status: u16, title: &str, lines: Vec<String>, form: Option<(&str, &str)>) -> Page {
    let html = Html {
        title,
        lines,
        form_token: form.map(|(t, _)| t),
        token_field: TOKEN_FIELD,
        by_field: BY_FIELD,
        button: form.map_or("", |(_, b)| b),
    }
    .render()
    .unwrap_or_else(|e| format!("<p>{e}</p>"));
    Page { status, html }
}

fn refused(r: &Refusal) -> Page {
    page(r.status(), "Link refused", vec![r.to_string()], None)
}

/// A request to the approval route, as API Gateway's proxy event carries it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkRequest {
    /// `GET` or `POST`.
    pub http_method: String,
    /// `incident_id`.
    #[serde(default)]
    pub path_parameters: Option<HashMap<String, String>>,
    /// `token` (on `GET`).
    #[serde(default)]
    pub query_string_parameters: Option<HashMap<String, String>>,
    /// The form (on `POST`).
    #[serde(default)]
    pub body: Option<String>,
    /// Whether API Gateway base64-encoded the body.
    #[serde(default)]
    pub is_base64_encoded: bool,
    /// The caller's address.
    #[serde(default)]
    pub request_context: Option<LinkContext>,
}

/// The part of API Gateway's request context the endpoint reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LinkContext {
    /// The caller.
    #[serde(default)]
    pub identity: Option<LinkIdentity>,
}

/// The caller's identity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkIdentity {
    /// Its address.
    #[serde(default)]
    pub source_ip: Option<String>,
}

/// The pending approval as the record holds it.
struct Pending {
    approval_id: String,
    status: String,
    decided_by: Option<String>,
    decided_at: Option<String>,
    request: Option<ActionRequest>,
    alert_name: String,
    severity: Option<Severity>,
    task_token: Option<String>,
}

fn pending_of(item: &HashMap<String, AttributeValue>) -> Pending {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    Pending {
        approval_id: text(record::ID).unwrap_or_default(),
        status: text(record::STATUS).unwrap_or_default(),
        decided_by: text(record::DECIDED_BY),
        decided_at: text(record::DECIDED_AT),
        request: text(record::REQUEST).and_then(|r| serde_json::from_str(&r).ok()),
        alert_name: text("alert_name").unwrap_or_default(),
        severity: text("severity").and_then(|s| serde_json::from_value(json!(s)).ok()),
        task_token: text(record::TASK_TOKEN),
    }
}

fn not_pending(p: &Pending, claims: &Claims) -> Option<Refusal> {
    if p.approval_id != claims.approval_id {
        return Some(Refusal::Replayed(
            "this link answers an earlier approval request of the incident, no longer pending"
                .into(),
        ));
    }
    if p.status != status::REQUESTED {
        return Some(Refusal::Replayed(format!(
            "this approval was already decided: {} by {} at {}; a link works once",
            p.status,
            p.decided_by.as_deref().unwrap_or("?"),
            p.decided_at.as_deref().unwrap_or("?"),
        )));
    }
    None
}

fn describe(p: &Pending) -> String {
    match &p.request {
        Some(r) => format!("{} on {}", r.action.as_str(), target_text(&r.target)),
        None => "the gated action".into(),
    }
}

/// Answers a request to the approval route.
pub async fn respond(app: &Approvals, req: &LinkRequest) -> Page {
    let incident = req
        .path_parameters
        .as_ref()
        .and_then(|p| p.get(approval::PATH_PARAMETER))
        .cloned()
        .unwrap_or_default();
    let method = req.http_method.to_ascii_uppercase();
    let form: HashMap<String, String> = match (&method[..], &req.body) {
        ("POST", Some(body)) => {
            let bytes = if req.is_base64_encoded {
                use base64::Engine;
                match base64::engine::general_purpose::STANDARD.decode(body) {
                    Ok(b) => b,
                    Err(_) => {
                        return refused(&Refusal::Malformed("the body is not base64".into()));
                    }
                }
            } else {
                body.as_bytes().to_vec()
            };
            form_urlencoded::parse(&bytes).into_owned().collect()
        }
        _ => HashMap::new(),
    };
    let token = match &method[..] {
        "GET" => req
            .query_string_parameters
            .as_ref()
            .and_then(|q| q.get(TOKEN_FIELD))
            .cloned(),
        "POST" => form.get(TOKEN_FIELD).cloned(),
        other => {
            return page(
                405,
                "Method not allowed",
                vec![format!(
                    "{other} is not answered here: open the link (GET) or send its form (POST)"
                )],
                None,
            );
        }
    };
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return refused(&Refusal::Malformed(format!(
            "the `{TOKEN_FIELD}` field is missing"
        )));
    };
    let key = match app.key().await {
        Ok(k) => k.to_vec(),
        Err(e) => {
            tracing::error!(error = %e, "signing key");
            return page(503, "Try again", vec!["The signing key could not be read; nothing was decided. Try the link again in a minute.".into()], None);
        }
    };
    let claims = match link::verify(&key, &token, &incident, (app.now)()) {
        Ok(c) => c,
        Err(r) => {
            tracing::warn!(incident_id = %incident, refusal = %r, "link refused");
            return refused(&r);
        }
    };
    let record = match app
        .dynamodb
        .get_item()
        .table_name(&app.settings.table)
        .set_key(Some(key_of(&claims.incident_id, &claims.starts_at)))
        .consistent_read(true)
        .send()
        .await
    {
        Ok(out) => out.item,
        Err(e) => {
            tracing::error!(error = %aws_error(&e), "reading the record");
            return page(503, "Try again", vec!["The incident record could not be read; nothing was decided. Try again in a minute.".into()], None);
        }
    };
    let Some(record) = record else {
        return refused(&Refusal::Replayed(format!(
            "incident {} has no record any more",
            claims.incident_id
        )));
    };
    let pending = pending_of(&record);
    if let Some(r) = not_pending(&pending, &claims) {
        return refused(&r);
    }
    let verb = match claims.decision {
        Decision::Approve => "Approve",
        _ => "Deny",
    };
    if method == "GET" {
        return page(
            200,
            &format!("{verb} {}?", describe(&pending)),
            vec![
                format!(
                    "Incident {} ({}): {}",
                    claims.incident_id,
                    pending.alert_name,
                    record
                        .get(record::WHY)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                ),
                format!(
                    "The link expires at {}. Nothing changes until you send this form.",
                    link::rfc3339(claims.expires_at)
                ),
            ],
            Some((&token, verb)),
        );
    }
    let by = form
        .get(BY_FIELD)
        .map(|b| b.trim().to_owned())
        .unwrap_or_default();
    if by.is_empty() || by.chars().count() > 64 || by.chars().any(char::is_control) {
        return refused(&Refusal::Malformed(format!(
            "the `{BY_FIELD}` field must name who decides (1-64 characters)"
        )));
    }
    decide(app, &claims, &pending, &by, source_ip(req)).await
}

fn source_ip(req: &LinkRequest) -> String {
    req.request_context
        .as_ref()
        .and_then(|c| c.identity.as_ref())
        .and_then(|i| i.source_ip.clone())
        .unwrap_or_else(|| "unknown".into())
}

async fn set_status(
    app: &Approvals,
    claims: &Claims,
    from: &str,
    to: &str,
    by: &str,
    at: &str,
    ip: &str,
) -> Result<Option<HashMap<String, AttributeValue>>, String> {
    match app
        .dynamodb
        .update_item()
        .table_name(&app.settings.table)
        .set_key(Some(key_of(&claims.incident_id, &claims.starts_at)))
        .update_expression(format!(
            "SET {} = :to, {} = :by, {} = :at, {} = :ip",
            record::STATUS,
            record::DECIDED_BY,
            record::DECIDED_AT,
            record::DECIDED_FROM
        ))
        .condition_expression(format!(
            "{} = :id AND {} = :from",
            record::ID,
            record::STATUS
        ))
        .expression_attribute_values(":to", s(to))
        .expression_attribute_values(":by", s(by))
        .expression_attribute_values(":at", s(at))
        .expression_attribute_values(":ip", s(ip))
        .expression_attribute_values(":id", s(&claims.approval_id))
        .expression_attribute_values(":from", s(from))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
    {
        Ok(out) => Ok(out.attributes),
        Err(e) => {
            let conditional = e
                .as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception());
            if conditional {
                Ok(None)
            } else {
                Err(aws_error(&e))
            }
        }
    }
}

async fn decide(app: &Approvals, claims: &Claims, pending: &Pending, by: &str, ip: String) -> Page {
    // When, to the sub-second (the expiry checks use whole seconds of `app.now`).
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| link::rfc3339((app.now)()));
    let to = claims.decision.status();
    // The conditional write is what makes a link single-use: of two clicks, one wins.
    let item = match set_status(app, claims, status::REQUESTED, to, by, &at, &ip).await {
        Ok(Some(item)) => item,
        Ok(None) => {
            return refused(&Refusal::Replayed(
                "this approval was decided a moment ago by someone else; a link works once".into(),
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "recording the decision");
            return page(503, "Try again", vec!["The decision could not be recorded; nothing was decided. Try again in a minute.".into()], None);
        }
    };
    let decided = pending_of(&item);
    let task_token = decided.task_token.clone().unwrap_or_default();
    // `gone`: the runbook no longer waits for this token (its deadline passed).
    fn failed<E: std::error::Error + 'static>(
        e: &aws_sdk_sfn::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
        gone: impl Fn(&E) -> bool,
    ) -> (bool, String) {
        (e.as_service_error().is_some_and(gone), aws_error(e))
    }
    let sent = match claims.decision {
        Decision::Approve => app
            .sfn
            .send_task_success()
            .task_token(&task_token)
            .output(serde_json::to_string(by).unwrap_or_default())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                failed(&e, |s| {
                    s.is_task_timed_out() || s.is_task_does_not_exist() || s.is_invalid_token()
                })
            }),
        _ => app
            .sfn
            .send_task_failure()
            .task_token(&task_token)
            .error(ERROR_DENIED)
            .cause(format!("denied by {by}"))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                failed(&e, |s| {
                    s.is_task_timed_out() || s.is_task_does_not_exist() || s.is_invalid_token()
                })
            }),
    };
    if let Err((gone, e)) = sent {
        tracing::warn!(incident_id = %claims.incident_id, error = %e, gone, "the runbook did not take the decision");
        if gone {
            // The runbook stopped waiting (its deadline): the record says what happened.
            let _ = set_status(app, claims, to, status::EXPIRED, DEADLINE, &at, &ip).await;
            return refused(&Refusal::Expired(format!(
                "{at} (the runbook no longer waits for this approval)"
            )));
        }
        let _ = set_status(app, claims, to, status::REQUESTED, "", "", "").await;
        return page(503, "Try again", vec!["Step Functions did not take the decision; nothing was decided. Try again in a minute.".into()], None);
    }
    let (action, target) = match &pending.request {
        Some(r) => (r.action, r.target.clone()),
        None => {
            return page(200, "Decided", vec![format!("{} by {by}.", to)], None);
        }
    };
    let event = ApprovalDecided {
        incident_id: claims.incident_id.clone(),
        alert_name: decided.alert_name.clone(),
        severity: decided.severity.unwrap_or(Severity::Critical),
        approval_id: claims.approval_id.clone(),
        action,
        target,
        decision: claims.decision,
        decided_by: by.to_owned(),
        decided_at: at.clone(),
    };
    if let Err(e) = put_event(app, &event).await {
        tracing::error!(incident_id = %claims.incident_id, error = %e, "approval.decided not put on the bus");
    }
    tracing::info!(incident_id = %claims.incident_id, approval_id = %claims.approval_id, decision = claims.decision.as_str(), %by, %ip, "decided");
    let next = match claims.decision {
        Decision::Approve => format!("The runbook runs {} now.", describe(pending)),
        _ => "The runbook escalates the incident to the on-call engineer.".to_owned(),
    };
    page(
        200,
        &format!(
            "{} by {by}",
            if claims.decision == Decision::Approve {
                "Approved"
            } else {
                "Denied"
            }
        ),
        vec![
            format!("Incident {}: {} at {at}.", claims.incident_id, to),
            next,
        ],
        None,
    )
}

/// An API Gateway proxy response carrying `page`.
pub fn proxy_response(page: &Page) -> serde_json::Value {
    json!({
        "statusCode": page.status,
        "headers": {
            "content-type": "text/html; charset=utf-8",
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
        },
        "body": page.html,
        "isBase64Encoded": false,
    })
}

/// One invocation: the runbook's request (it carries `task_token`) or a link (API Gateway).
pub async fn handle(
    app: &Approvals,
    event: serde_json::Value,
) -> Result<serde_json::Value, RequestError> {
    if event.get("task_token").is_some() {
        let req: ApprovalRequest = serde_path_to_error::deserialize(event).map_err(|e| {
            RequestError(format!(
                "the approval request does not parse at {}: {}",
                e.path(),
                e.inner()
            ))
        })?;
        let id = request(app, &req).await?;
        return Ok(json!({ "approval_id": id }));
    }
    let page = match serde_json::from_value::<LinkRequest>(event) {
        Ok(req) => respond(app, &req).await,
        Err(e) => refused(&Refusal::Malformed(format!(
            "not an API Gateway request: {e}"
        ))),
    };
    Ok(proxy_response(&page))
}
