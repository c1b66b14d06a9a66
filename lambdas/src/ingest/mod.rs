//! `alert_ingest`: `POST /webhook/{source}` from API Gateway to platform events on the bus.
//!
//! 1. bearer token (constant time, against the secret's current and previous values; cached,
//!    read again once on a mismatch) -> 401
//! 2. body size cap -> 413
//! 3. `{source}` is `alertmanager` or `datadog` -> 404
//! 4. parse, validate, normalize ([`normalize`]) -> 400 naming the field when nothing is valid;
//!    invalid alerts next to valid ones are rejected one by one (named in the 202 answer)
//! 5. `PutEvents` in batches with retries ([`publish`]) -> 503 when events could not be
//!    delivered, so the sender retries (the incident ids are deterministic: a retry maps to the
//!    same incidents)
//! 6. 202 with the incident ids and the rejected alerts.
//!
//! Every request ends with one metrics line ([`metrics`]) naming its outcome.

pub mod metrics;
pub mod normalize;
pub mod publish;
pub mod token;

use http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use platform_contract::telemetry::IngestOutcome;
use serde_json::json;
use time::OffsetDateTime;

use normalize::{Accepted, Enrichment, Sender};
use publish::Publisher;
use token::TokenProvider;

/// Everything the handler needs.
#[derive(Debug)]
pub struct Ingest {
    /// The expected bearer token.
    pub token: TokenProvider,
    /// Where events go.
    pub publisher: Publisher,
    /// Account used when the request context has none.
    pub account: String,
    /// Region that receives the webhooks.
    pub region: String,
    /// Larger bodies get 413.
    pub max_body_bytes: usize,
    /// Where the per-request metrics line goes (stdout in Lambda).
    pub metrics: metrics::Sink,
}

/// alert_ingest's configuration, read in one place through the runtime contract
/// (`platform_contract::runtime::alert_ingest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `EVENT_BUS_NAME`.
    pub event_bus_name: String,
    /// `WEBHOOK_TOKEN_SECRET_ARN`.
    pub token_secret_arn: String,
    /// `MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `AWS_ACCOUNT_ID` (empty when unset).
    pub account: String,
    /// `RUST_LOG`.
    pub log_filter: String,
    /// `AWS_REGION` (Lambda sets it; `None` leaves the region to the SDK's own chain).
    pub region: Option<String>,
}

impl Settings {
    /// Every variable the contract declares for alert_ingest, read from `env`.
    pub fn read(env: &crate::env::Env<'_>) -> Result<Settings, crate::env::VarError> {
        use crate::env::alert_ingest as vars;
        let max_body_bytes = env.integer(&vars::MAX_BODY_BYTES)?;
        Ok(Settings {
            event_bus_name: env.required(&vars::EVENT_BUS_NAME)?,
            token_secret_arn: env.required(&vars::WEBHOOK_TOKEN_SECRET_ARN)?,
            max_body_bytes: usize::try_from(max_body_bytes).map_err(|_| {
                crate::env::VarError::Invalid {
                    name: vars::MAX_BODY_BYTES.name,
                    value: max_body_bytes.to_string(),
                    expected: "a size this platform can address".into(),
                }
            })?,
            account: env.optional(&vars::AWS_ACCOUNT_ID).unwrap_or_default(),
            log_filter: env
                .optional(&vars::RUST_LOG)
                .unwrap_or_else(|| "info".into()),
            region: env.optional(&vars::AWS_REGION),
        })
    }
}

fn respond(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn error_body(status: StatusCode, field: Option<&str>, message: &str) -> serde_json::Value {
    let mut body =
        json!({ "error": status.canonical_reason().unwrap_or("error"), "message": message });
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    body
}

fn error(status: StatusCode, field: Option<&str>, message: &str) -> Response<Body> {
    respond(status, error_body(status, field, message))
}

/// The `{source}` path parameter, or the path's last segment when the event has none.
fn sender_name(request: &Request) -> String {
    if let Some(source) = request
        .path_parameters_ref()
        .and_then(|p| p.first("source"))
    {
        return source.to_string();
    }
    request
        .uri()
        .path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn account_of(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(ctx) => ctx.account_id.clone(),
        RequestContext::ApiGatewayV2(ctx) => ctx.account_id.clone(),
        _ => None,
    }
}

/// How a request was answered: the response, its outcome and the alerts it rejected.
#[derive(Debug)]
pub struct Handled {
    /// The HTTP answer.
    pub response: Response<Body>,
    /// The metric's outcome.
    pub outcome: IngestOutcome,
    /// Alerts rejected (the answer's `rejected` list).
    pub rejected_alerts: usize,
}

impl Handled {
    fn new(response: Response<Body>, outcome: IngestOutcome) -> Self {
        Handled {
            response,
            outcome,
            rejected_alerts: 0,
        }
    }
}

/// Handle one webhook and write its metrics line. Never fails: every outcome is an HTTP
/// answer.
pub async fn handle(ingest: &Ingest, request: Request) -> Response<Body> {
    let handled = process(ingest, request).await;
    let now = OffsetDateTime::now_utc();
    let millis = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or_default();
    ingest.metrics.emit(&metrics::line(
        handled.outcome,
        handled.rejected_alerts,
        millis,
    ));
    handled.response
}

/// Handle one webhook: the answer and its outcome, without the metrics line.
pub async fn process(ingest: &Ingest, request: Request) -> Handled {
    if request.method() != http::Method::POST {
        return Handled::new(
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                "only POST is accepted",
            ),
            IngestOutcome::Refused,
        );
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match ingest.token.check(header).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(
                field = "Authorization",
                "webhook refused: missing or wrong bearer token"
            );
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                Some("Authorization"),
                "a valid bearer token is required",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return Handled::new(response, IngestOutcome::Unauthorized);
        }
        Err(e) => {
            tracing::error!(error = %e, "webhook token unavailable");
            return Handled::new(
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    "the webhook token is unavailable; retry later",
                ),
                IngestOutcome::Unavailable,
            );
        }
    }
    let body: &[u8] = request.body().as_ref();
    if body.len() > ingest.max_body_bytes {
        return Handled::new(
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                Some("body"),
                &format!(
                    "the body is {} bytes, the limit is {}",
                    body.len(),
                    ingest.max_body_bytes
                ),
            ),
            IngestOutcome::Refused,
        );
    }
    let name = sender_name(&request);
    let Some(sender) = Sender::from_path(&name) else {
        return Handled::new(
            error(
                StatusCode::NOT_FOUND,
                Some("source"),
                &format!("unknown source {name:?}, expected alertmanager or datadog"),
            ),
            IngestOutcome::Refused,
        );
    };
    let enrichment = Enrichment::new(
        OffsetDateTime::now_utc(),
        account_of(&request).unwrap_or_else(|| ingest.account.clone()),
        ingest.region.clone(),
    );
    let normalized = match normalize::normalize(sender, body, &enrichment) {
        Ok(normalized) => normalized,
        Err(bad) => {
            log_rejected(sender, &bad.rejected);
            tracing::warn!(source = ?sender, field = %bad.field, error = %bad.message, rejected_alerts = bad.rejected.len(), "{}", platform_contract::telemetry::LOG_BAD_WEBHOOK);
            let mut body = error_body(StatusCode::BAD_REQUEST, Some(&bad.field), &bad.to_string());
            if !bad.rejected.is_empty() {
                body["rejected"] = json!(bad.rejected);
            }
            let response = respond(StatusCode::BAD_REQUEST, body);
            return Handled {
                response,
                outcome: IngestOutcome::Rejected,
                rejected_alerts: bad.rejected.len(),
            };
        }
    };
    log_rejected(sender, &normalized.rejected);
    let events = &normalized.events;
    let rejected = &normalized.rejected;
    let mut incident_ids: Vec<&str> = Vec::with_capacity(events.len());
    for event in events {
        if !incident_ids.contains(&event.incident_id.as_str()) {
            incident_ids.push(&event.incident_id);
        }
    }
    if let Err(e) = ingest.publisher.publish(events).await {
        tracing::error!(?incident_ids, error = %e, "events not delivered; the sender will retry");
        return Handled {
            response: error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                &format!("events not delivered, retry: {e}"),
            ),
            outcome: IngestOutcome::Unavailable,
            rejected_alerts: rejected.len(),
        };
    }
    tracing::info!(
        ?incident_ids,
        events = events.len(),
        rejected_alerts = rejected.len(),
        bus = ingest.publisher.bus(),
        "webhook accepted"
    );
    let outcome = if rejected.is_empty() {
        IngestOutcome::Accepted
    } else {
        IngestOutcome::Partial
    };
    Handled {
        response: respond(
            StatusCode::ACCEPTED,
            json!(Accepted {
                incident_ids,
                events: events.len(),
                rejected,
            }),
        ),
        outcome,
        rejected_alerts: rejected.len(),
    }
}

/// One JSON log line per rejected alert, naming the alert and the field.
fn log_rejected(sender: Sender, rejected: &[normalize::Rejected]) {
    for r in rejected {
        tracing::warn!(
            source = ?sender,
            alert = %r.alert,
            fingerprint = r.fingerprint.as_deref().unwrap_or_default(),
            alertname = r.alertname.as_deref().unwrap_or_default(),
            field = %r.field,
            error = %r.message,
            "{}",
            platform_contract::telemetry::LOG_ALERT_REJECTED
        );
    }
}
