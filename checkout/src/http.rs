//! The router, its handlers and the middleware that measures and logs every request.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Instant,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    handler::Handler,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rand::RngExt;
use serde_json::json;
use tower::{Layer, Service};

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
        // Only `/checkout` reads a body; the limit costs nothing on the other routes.
        .route(
            "/checkout",
            post(checkout.layer(DefaultBodyLimit::max(MAX_BODY_BYTES))),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        // `Router::layer` wraps every endpoint, the 405 and 404 fallbacks included, after
        // routing: the matched route is in the request, and one layer does all the work.
        .layer(ObserveLayer {
            state: state.clone(),
        })
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
    // Read once: the rolls, the recommendations and the `degraded` field agree even when the SSM
    // refresh or the control endpoint changes a knob during the request.
    let chaos = state.chaos();
    let degraded = chaos.degraded;
    if !chaos.latency.is_zero() {
        tokio::time::sleep(chaos.latency).await;
    }
    // The core path fails on any request, in either mode: degraded mode cannot fix it.
    if state.roll(chaos.core_error_rate) {
        return injected(
            "injected failure in the core path (CORE_ERROR_RATE); degraded mode does not skip it",
        );
    }
    let order = match order::parse(&body) {
        Ok(order) => order,
        Err(invalid) => return (StatusCode::BAD_REQUEST, Json(invalid)).into_response(),
    };
    let total_minor = order::total_minor(&order);
    // The optional work: degraded mode skips it, and with it its failures (no roll is made).
    let recommendations = if degraded {
        Vec::new()
    } else if state.roll(chaos.error_rate) {
        return injected(
            "injected failure in the optional work (ERROR_RATE); degraded mode skips it",
        );
    } else {
        order::recommendations(&order)
    };
    let confirmation = order::Confirmation {
        order_id: order_id(),
        status: "confirmed".to_owned(),
        currency: order.currency,
        total_minor,
        total: order::format_minor(total_minor),
        recommendations,
        degraded,
    };
    (StatusCode::OK, Json(confirmation)).into_response()
}

/// A 500 the chaos knobs injected, saying which one.
fn injected(error: &'static str) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": error })),
    )
        .into_response()
}

/// A fresh order id: a UUID v4 from the thread's random generator (a CSPRNG seeded from the
/// operating system, reseeded periodically), not one `getrandom` call per order.
fn order_id() -> String {
    let uuid = uuid::Builder::from_random_bytes(rand::rng().random()).into_uuid();
    uuid.hyphenated()
        .encode_lower(&mut uuid::Uuid::encode_buffer())
        .to_owned()
}

/// Request id, metrics and the access log for every request, unmatched ones included.
#[derive(Clone)]
struct ObserveLayer {
    state: AppState,
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service [`ObserveLayer`] wraps each endpoint in.
#[derive(Clone)]
struct Observe<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let start = Instant::now();
        let method = request.method().clone();
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(|m| route_label(m.as_str()));
        let id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .filter(|v| usable_request_id(v))
            .cloned()
            .unwrap_or_else(|| self.state.next_request_id());
        request.extensions_mut().insert(RequestId(id.clone()));
        ObserveFuture {
            inner: self.inner.call(request),
            done: Some(Done {
                state: self.state.clone(),
                start,
                method,
                route,
                id,
            }),
        }
    }
}

/// The route label: the known routes as static strings, others as the matched pattern.
fn route_label(matched: &str) -> Route {
    crate::metrics::ROUTES
        .iter()
        .find(|known| **known == matched)
        .map_or_else(
            || Route::Other(matched.to_owned()),
            |known| Route::Known(known),
        )
}

enum Route {
    Known(&'static str),
    Other(String),
}

/// What [`ObserveFuture`] needs once the response is ready.
struct Done {
    state: AppState,
    start: Instant,
    method: Method,
    route: Option<Route>,
    id: HeaderValue,
}

pin_project_lite::pin_project! {
    /// The inner response future, then the metrics, the access log and the id header.
    struct ObserveFuture<F> {
        #[pin]
        inner: F,
        done: Option<Done>,
    }
}

impl<F> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        let Some(done) = this.done.take() else {
            return Poll::Ready(Ok(response));
        };
        finish(done, &mut response);
        Poll::Ready(Ok(response))
    }
}

fn finish(done: Done, response: &mut Response) {
    let Done {
        state,
        start,
        method,
        route,
        id,
    } = done;
    let elapsed = start.elapsed();
    let status = response.status();
    let route = match &route {
        Some(Route::Known(r)) => r,
        Some(Route::Other(r)) => r.as_str(),
        None => "unmatched",
    };
    state.metrics().observe(&method, route, status, elapsed);
    let request_id = id.to_str().unwrap_or_default();
    let duration_ms = elapsed.as_secs_f64() * 1e3;
    if status.is_server_error() {
        tracing::warn!(request_id, %method, route, status = status.as_u16(), duration_ms, "request failed");
    } else if status.is_success() || matches!(route, "/healthz" | "/readyz" | "/metrics") {
        // Probes, scrapes and confirmed orders stay out of the info log: the metrics count and
        // time every one of them, and formatting a JSON line was a third of a checkout's CPU.
        // Rejected requests (4xx) stay at info, failures (5xx) at warn, both with the request id.
        tracing::debug!(request_id, %method, route, status = status.as_u16(), duration_ms, "request");
    } else {
        tracing::info!(request_id, %method, route, status = status.as_u16(), duration_ms, "request");
    }
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
}

fn usable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}
