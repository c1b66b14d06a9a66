//! The router, its handlers and the middleware that measures and logs every request.

use std::time::Instant;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;

use crate::{AppState, order};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Header carrying the request id, taken from the client when it sends a usable one.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request id, put into request extensions for handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// Builds the service's router. Tests call it with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/checkout", post(checkout))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        // Runs after routing, so the matched route is known; hands it out to `observe`.
        .route_layer(middleware::from_fn(tag_route))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics().render(),
    )
        .into_response()
}

async fn checkout(State(state): State<AppState>, body: Bytes) -> Response {
    let chaos = state.chaos();
    if !chaos.latency.is_zero() {
        tokio::time::sleep(chaos.latency).await;
    }
    if state.roll_error() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": "injected failure (ERROR_RATE)" })),
        )
            .into_response();
    }
    let order = match order::parse(&body) {
        Ok(order) => order,
        Err(invalid) => return (StatusCode::BAD_REQUEST, Json(invalid)).into_response(),
    };
    let total_minor = order::total_minor(&order);
    let recommendations = if chaos.degraded {
        Vec::new()
    } else {
        order::recommendations(&order)
    };
    let confirmation = order::Confirmation {
        order_id: uuid::Uuid::new_v4().to_string(),
        status: "confirmed".to_owned(),
        currency: order.currency,
        total_minor,
        total: order::format_minor(total_minor),
        recommendations,
        degraded: chaos.degraded,
    };
    (StatusCode::OK, Json(confirmation)).into_response()
}

/// The matched route, passed from `tag_route` to `observe` in response extensions.
#[derive(Clone)]
struct RouteLabel(MatchedPath);

async fn tag_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(RouteLabel(matched));
    }
    response
}

/// Request id, metrics and the access log for every request, unmatched ones included.
async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .filter(|v| usable_request_id(v))
        .cloned()
        .unwrap_or_else(|| state.next_request_id());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    let elapsed = start.elapsed();
    let status = response.status();
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or("unmatched", |r| r.0.as_str());
    state.metrics().observe(&method, route, status, elapsed);
    let request_id = id.to_str().unwrap_or_default();
    let duration_ms = elapsed.as_secs_f64() * 1e3;
    if status.is_server_error() {
        tracing::warn!(request_id, %method, route, status = status.as_u16(), duration_ms, "request failed");
    } else if matches!(route, "/healthz" | "/readyz" | "/metrics") {
        // Probes and scrapes arrive every few seconds: keep them out of the info log.
        tracing::debug!(request_id, %method, route, status = status.as_u16(), duration_ms, "request");
    } else {
        tracing::info!(request_id, %method, route, status = status.as_u16(), duration_ms, "request");
    }
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    response
}

fn usable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}
