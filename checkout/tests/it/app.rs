//! The router through `tower::ServiceExt::oneshot`: endpoints, bad input, chaos knobs, metrics.

use std::time::{Duration, Instant};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use checkout::{AppState, Chaos, app};
use http_body_util::BodyExt;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde_json::Value;
use tower::ServiceExt;

use crate::exposition::Exposition;

const ORDER: &str = r#"{"currency":"EUR","items":[{"sku":"SKU-1001","quantity":2},{"sku":"SKU-1003","quantity":1}]}"#;

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8"),
    }
}

async fn get(router: &Router, path: &str) -> Answer {
    send(router, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn post(router: &Router, body: &str) -> Answer {
    let request = Request::post("/checkout")
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(router, request).await
}

async fn scrape(router: &Router) -> Exposition {
    let answer = get(router, "/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    Exposition::parse(&answer.body)
}

fn router(chaos: Chaos) -> Router {
    app(AppState::with_seed(chaos, 42))
}

#[tokio::test]
async fn healthz_answers_and_sets_a_request_id() {
    let router = router(Chaos::default());
    let answer = get(&router, "/healthz").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "ok\n");
    let id = answer.headers["x-request-id"].to_str().unwrap().to_owned();
    assert!(!id.is_empty());
    let again = get(&router, "/healthz").await;
    assert_ne!(again.headers["x-request-id"], id.as_str(), "ids are unique");

    let request = Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let answer = send(&router, request).await;
    assert_eq!(
        answer.headers["x-request-id"], "abc-123",
        "a client's id is kept"
    );
}

#[tokio::test]
async fn readyz_goes_false_when_shutting_down() {
    let state = AppState::with_seed(Chaos::default(), 1);
    let router = app(state.clone());
    assert_eq!(get(&router, "/readyz").await.status, StatusCode::OK);
    state.set_not_ready();
    let answer = get(&router, "/readyz").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        get(&router, "/healthz").await.status,
        StatusCode::OK,
        "still alive"
    );
}

#[tokio::test]
async fn checkout_confirms_an_order() {
    let router = router(Chaos::default());
    let answer = post(&router, ORDER).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["status"], "confirmed");
    assert_eq!(body["currency"], "EUR");
    assert_eq!(body["total_minor"], 2 * 1_299 + 499);
    assert_eq!(body["total"], "30.97");
    assert_eq!(body["degraded"], false);
    assert!(!body["recommendations"].as_array().unwrap().is_empty());
    let id = body["order_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn bad_input_is_400_naming_the_field() {
    let router = router(Chaos::default());
    for (body, field) in [
        (
            r#"{"currency":"EUR","items":[{"sku":"SKU-1001","quantity":0}]}"#,
            "items[0].quantity",
        ),
        (
            r#"{"currency":"EUR","items":[{"sku":"SKU-1001","quantity":"2"}]}"#,
            "items[0].quantity",
        ),
        (
            r#"{"currency":"EUR","items":[{"quantity":1}]}"#,
            "items[0].sku",
        ),
        (r#"{"currency":"EUR","items":[]}"#, "items"),
        (
            r#"{"currency":"eur","items":[{"sku":"SKU-1001","quantity":1}]}"#,
            "currency",
        ),
        (r#"{"items":[{"sku":"SKU-1001","quantity":1}]}"#, "currency"),
    ] {
        let answer = post(&router, body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        let json = answer.json();
        assert_eq!(json["field"], field, "{body}");
        assert!(
            json["error"].as_str().unwrap().starts_with(field),
            "{}",
            answer.body
        );
    }
    let answer = post(&router, "not json").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    let huge = format!(
        r#"{{"currency":"EUR","items":[],"pad":"{}"}}"#,
        "x".repeat(20_000)
    );
    assert_eq!(
        post(&router, &huge).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn latency_knob_delays_checkout_only() {
    let router = router(Chaos {
        latency: Duration::from_millis(250),
        ..Chaos::default()
    });
    let start = Instant::now();
    assert_eq!(post(&router, ORDER).await.status, StatusCode::OK);
    assert!(start.elapsed() >= Duration::from_millis(250));

    let start = Instant::now();
    assert_eq!(get(&router, "/healthz").await.status, StatusCode::OK);
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "probes are not delayed"
    );

    // The observation falls above the 0.2 s bucket and within the alert threshold's 0.3 s one.
    let m = scrape(&router).await;
    let bucket = |le: &str| {
        m.value(
            "checkout_request_duration_seconds_bucket",
            &[("method", "POST"), ("route", "/checkout"), ("le", le)],
        )
        .unwrap()
    };
    assert_eq!(bucket("0.2"), 0.0);
    assert_eq!(bucket("0.3"), 1.0);
}

/// The statuses a seed and rate must give, from the same generator the service uses.
fn expected_failures(seed: u64, rate: f64, n: usize) -> Vec<bool> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random::<f64>() < rate).collect()
}

#[tokio::test]
async fn error_rate_is_exact_with_a_seed() {
    let rate = 0.3;
    let state = AppState::with_seed(
        Chaos {
            error_rate: rate,
            ..Chaos::default()
        },
        42,
    );
    let router = app(state);
    let expected = expected_failures(42, rate, 100);
    let mut failures = 0;
    for (i, must_fail) in expected.iter().enumerate() {
        let answer = post(&router, ORDER).await;
        let want = if *must_fail {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        assert_eq!(answer.status, want, "request {i}");
        failures += usize::from(*must_fail);
    }
    assert!((15..=45).contains(&failures), "{failures} of 100 at 0.3");
    let m = scrape(&router).await;
    let errors = m.value("checkout_errors_total", &[("route", "/checkout")]);
    assert_eq!(errors, Some(failures as f64));
    let five_hundreds = m.value(
        "checkout_requests_total",
        &[
            ("method", "POST"),
            ("route", "/checkout"),
            ("status", "500"),
        ],
    );
    assert_eq!(five_hundreds, Some(failures as f64));
}

#[tokio::test]
async fn error_rate_extremes() {
    let all = router(Chaos {
        error_rate: 1.0,
        ..Chaos::default()
    });
    let none = router(Chaos::default());
    for _ in 0..20 {
        assert_eq!(
            post(&all, ORDER).await.status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(post(&none, ORDER).await.status, StatusCode::OK);
    }
    assert_eq!(
        get(&all, "/healthz").await.status,
        StatusCode::OK,
        "probes never fail"
    );
}

#[tokio::test]
async fn degraded_mode_skips_recommendations_and_sets_the_gauge() {
    let degraded = router(Chaos {
        degraded: true,
        ..Chaos::default()
    });
    let body = post(&degraded, ORDER).await.json();
    assert_eq!(body["degraded"], true);
    assert_eq!(body["recommendations"], serde_json::json!([]));
    assert_eq!(body["total"], "30.97", "the order itself still works");
    let m = scrape(&degraded).await;
    assert_eq!(m.value("checkout_degraded_mode_enabled", &[]), Some(1.0));

    let normal = router(Chaos::default());
    let m = scrape(&normal).await;
    assert_eq!(m.value("checkout_degraded_mode_enabled", &[]), Some(0.0));
}

#[tokio::test]
async fn degraded_mode_changes_while_serving() {
    let state = AppState::with_seed(Chaos::default(), 3);
    let router = app(state.clone());
    assert!(
        !post(&router, ORDER).await.json()["degraded"]
            .as_bool()
            .unwrap()
    );

    assert!(!state.set_degraded(true), "returns the previous value");
    let body = post(&router, ORDER).await.json();
    assert_eq!(body["degraded"], true);
    assert_eq!(body["recommendations"], serde_json::json!([]));
    let m = scrape(&router).await;
    assert_eq!(m.value("checkout_degraded_mode_enabled", &[]), Some(1.0));

    assert!(state.set_degraded(false));
    let body = post(&router, ORDER).await.json();
    assert_eq!(body["degraded"], false);
    assert!(!body["recommendations"].as_array().unwrap().is_empty());
    let m = scrape(&router).await;
    assert_eq!(m.value("checkout_degraded_mode_enabled", &[]), Some(0.0));
}

#[tokio::test]
async fn metrics_have_the_seed_names_types_and_bounded_labels() {
    let router = router(Chaos::default());
    post(&router, ORDER).await;
    post(&router, r#"{"currency":"EUR","items":[]}"#).await;
    get(&router, "/healthz").await;
    get(&router, "/healthz?probe=1").await;
    get(&router, "/no/such/path/123").await;
    get(&router, "/checkout").await;
    let m = scrape(&router).await;

    for (name, kind) in [
        ("checkout_requests_total", "counter"),
        ("checkout_errors_total", "counter"),
        ("checkout_request_duration_seconds", "histogram"),
        ("checkout_degraded_mode_enabled", "gauge"),
    ] {
        assert_eq!(m.types.get(name).map(String::as_str), Some(kind), "{name}");
        assert!(m.helps.contains_key(name), "{name} has help");
    }
    let requests = |method, route, status| {
        m.value(
            "checkout_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("POST", "/checkout", "200"), Some(1.0));
    assert_eq!(requests("POST", "/checkout", "400"), Some(1.0));
    assert_eq!(
        requests("GET", "/healthz", "200"),
        Some(2.0),
        "query strings do not split"
    );
    assert_eq!(
        requests("GET", "unmatched", "404"),
        Some(1.0),
        "raw paths never appear"
    );
    assert_eq!(requests("GET", "/checkout", "405"), Some(1.0));
    assert_eq!(
        m.value("checkout_errors_total", &[("route", "/checkout")]),
        Some(0.0)
    );

    let routes: std::collections::BTreeSet<&str> = m
        .samples
        .iter()
        .filter_map(|s| s.labels.get("route").map(String::as_str))
        .collect();
    let allowed = ["/checkout", "/healthz", "/readyz", "/metrics", "unmatched"];
    assert!(routes.iter().all(|r| allowed.contains(r)), "{routes:?}");

    for s in m.samples_of("checkout_requests_total") {
        let keys: Vec<&str> = s.labels.keys().map(String::as_str).collect();
        assert_eq!(keys, ["method", "route", "status"]);
    }
    let count = m
        .value(
            "checkout_request_duration_seconds_count",
            &[("method", "POST"), ("route", "/checkout")],
        )
        .unwrap();
    assert_eq!(count, 2.0);
    let le: Vec<&str> = m
        .samples_of("checkout_request_duration_seconds_bucket")
        .filter(|s| s.labels["route"] == "/checkout" && s.labels["method"] == "POST")
        .map(|s| s.labels["le"].as_str())
        .collect();
    assert!(le.contains(&"0.3") && le.contains(&"+Inf"), "{le:?}");
}
