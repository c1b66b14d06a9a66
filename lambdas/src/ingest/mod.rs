//! `alert_ingest`: `POST /webhook/{source}` from API Gateway to platform events on the bus.
//!
//! 1. bearer token (constant time; token cached from Secrets Manager or SSM) -> 401
//! 2. body size cap -> 413
//! 3. `{source}` is `alertmanager` or `datadog` -> 404
//! 4. parse, validate, normalize ([`normalize`]) -> 400 naming the field
//! 5. `PutEvents` in batches with retries ([`publish`]) -> 503 when events could not be
//!    delivered, so the sender retries (the incident ids are deterministic: a retry maps to the
//!    same incidents)
//! 6. 202 with the incident ids.

pub mod normalize;
pub mod publish;
pub mod token;

use http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
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

fn error(status: StatusCode, field: Option<&str>, message: &str) -> Response<Body> {
    let mut body =
        json!({ "error": status.canonical_reason().unwrap_or("error"), "message": message });
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    respond(status, body)
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

/// Handle one webhook. Never fails: every outcome is an HTTP answer.
pub async fn handle(ingest: &Ingest, request: Request) -> Response<Body> {
    if request.method() != http::Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "only POST is accepted",
        );
    }
    let expected = match ingest.token.token().await {
        Ok(token) => token,
        Err(e) => {
            tracing::error!(error = %e, "webhook token unavailable");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the webhook token is unavailable; retry later",
            );
        }
    };
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !token::authorized(header, &expected) {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            Some("Authorization"),
            "a valid bearer token is required",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let body: &[u8] = request.body().as_ref();
    if body.len() > ingest.max_body_bytes {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("body"),
            &format!(
                "the body is {} bytes, the limit is {}",
                body.len(),
                ingest.max_body_bytes
            ),
        );
    }
    let name = sender_name(&request);
    let Some(sender) = Sender::from_path(&name) else {
        return error(
            StatusCode::NOT_FOUND,
            Some("source"),
            &format!("unknown source {name:?}, expected alertmanager or datadog"),
        );
    };
    let enrichment = Enrichment::new(
        OffsetDateTime::now_utc(),
        account_of(&request).unwrap_or_else(|| ingest.account.clone()),
        ingest.region.clone(),
    );
    let events = match normalize::normalize(sender, body, &enrichment) {
        Ok(events) => events,
        Err(bad) => {
            tracing::warn!(source = ?sender, field = %bad.field, error = %bad.message, "bad webhook");
            return error(StatusCode::BAD_REQUEST, Some(&bad.field), &bad.to_string());
        }
    };
    let mut incident_ids: Vec<&str> = Vec::with_capacity(events.len());
    for event in &events {
        if !incident_ids.contains(&event.incident_id.as_str()) {
            incident_ids.push(&event.incident_id);
        }
    }
    if let Err(e) = ingest.publisher.publish(&events).await {
        tracing::error!(?incident_ids, error = %e, "events not delivered; the sender will retry");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            &format!("events not delivered, retry: {e}"),
        );
    }
    tracing::info!(
        ?incident_ids,
        events = events.len(),
        bus = ingest.publisher.bus(),
        "webhook accepted"
    );
    respond(
        StatusCode::ACCEPTED,
        json!(Accepted {
            incident_ids,
            events: events.len()
        }),
    )
}
