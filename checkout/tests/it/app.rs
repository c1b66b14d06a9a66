//! The router through `tower::ServiceExt::oneshot`: endpoints, bad input, chaos knobs, metrics,
//! and the chaos control router changing the knobs while serving.

use std::time::{Duration, Instant};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use checkout::{AppState, Chaos, app, control_app};
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

async fn put_chaos(control: &Router, body: &str) -> Answer {
    let request = Request::put("/chaos")
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(control, request).await
}

/// `checkout_errors_total{route="/checkout"}` now.
async fn checkout_errors(router: &Router) -> f64 {
    scrape(router)
        .await
        .value("checkout_errors_total", &[("route", "/checkout")])
        .expect("the errors counter exists from start")
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

/// The runbook's remedy works on `ERROR_RATE`: its failures are in the optional work, which
/// degraded mode skips.
#[tokio::test]
async fn degraded_mode_ends_the_errors_of_error_rate() {
    let state = AppState::with_seed(
        Chaos {
            error_rate: 1.0,
            ..Chaos::default()
        },
        5,
    );
    let router = app(state.clone());
    for i in 0..10 {
        let answer = post(&router, ORDER).await;
        assert_eq!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "request {i}"
        );
        let error = answer.json()["error"].as_str().unwrap().to_owned();
        assert!(
            error.contains("optional work") && error.contains("ERROR_RATE"),
            "{error}"
        );
    }
    assert_eq!(checkout_errors(&router).await, 10.0);
    // A rejected order does no optional work: still a 400, not a 500.
    let answer = post(&router, r#"{"currency":"EUR","items":[]}"#).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    state.set_degraded(true);
    for i in 0..10 {
        let answer = post(&router, ORDER).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {i}: {}",
            answer.body
        );
        let body = answer.json();
        assert_eq!(body["degraded"], true);
        assert_eq!(body["recommendations"], serde_json::json!([]));
        assert_eq!(body["status"], "confirmed");
    }
    assert_eq!(checkout_errors(&router).await, 10.0, "no error since");

    state.set_degraded(false);
    assert_eq!(
        post(&router, ORDER).await.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "off again: the optional work fails again"
    );
}

/// `CORE_ERROR_RATE` fails in the core path: degraded mode changes nothing.
#[tokio::test]
async fn core_error_rate_fails_in_both_modes() {
    let state = AppState::with_seed(
        Chaos {
            core_error_rate: 1.0,
            ..Chaos::default()
        },
        6,
    );
    let router = app(state.clone());
    for degraded in [false, true, false] {
        state.set_degraded(degraded);
        for _ in 0..5 {
            let answer = post(&router, ORDER).await;
            assert_eq!(
                answer.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "degraded {degraded}"
            );
            let error = answer.json()["error"].as_str().unwrap().to_owned();
            assert!(error.contains("CORE_ERROR_RATE"), "{error}");
        }
    }
    assert_eq!(checkout_errors(&router).await, 15.0);
    assert_eq!(
        get(&router, "/healthz").await.status,
        StatusCode::OK,
        "probes never fail"
    );
}

/// The draws a seed gives: per request, the core roll, then (not degraded, core passed) the
/// optional one; a rate of 0 and degraded mode draw nothing.
fn expected_statuses(seed: u64, chaos: Chaos, n: usize) -> Vec<StatusCode> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut roll = |rate: f64| rate > 0.0 && rng.random::<f64>() < rate;
    (0..n)
        .map(|_| {
            if roll(chaos.core_error_rate) || (!chaos.degraded && roll(chaos.error_rate)) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        })
        .collect()
}

#[tokio::test]
async fn both_rates_are_exact_with_a_seed_in_either_mode() {
    for degraded in [false, true] {
        let chaos = Chaos {
            error_rate: 0.5,
            core_error_rate: 0.2,
            degraded,
            ..Chaos::default()
        };
        let router = app(AppState::with_seed(chaos, 11));
        let expected = expected_statuses(11, chaos, 200);
        for (i, want) in expected.iter().enumerate() {
            assert_eq!(
                post(&router, ORDER).await.status,
                *want,
                "degraded {degraded}, request {i}"
            );
        }
        let failures = expected
            .iter()
            .filter(|s| **s == StatusCode::INTERNAL_SERVER_ERROR)
            .count();
        // About 60% of 200 (0.2 + 0.8 * 0.5), about 20% in degraded mode.
        let bounds = if degraded { 20..=60 } else { 95..=145 };
        assert!(
            bounds.contains(&failures),
            "degraded {degraded}: {failures} of 200"
        );
        assert_eq!(checkout_errors(&router).await, failures as f64);
    }
}

/// The control router shows the knobs and changes them for the following requests.
#[tokio::test]
async fn control_changes_the_knobs_while_serving() {
    let state = AppState::with_seed(Chaos::default(), 9);
    let router = app(state.clone());
    let control = control_app(state.clone());

    let answer = get(&control, "/chaos").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        r#"{"latency_ms":0,"error_rate":0.0,"core_error_rate":0.0}"#
    );
    assert_eq!(post(&router, ORDER).await.status, StatusCode::OK);

    let answer = put_chaos(&control, r#"{"error_rate":1.0}"#).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.json(),
        serde_json::json!({"latency_ms": 0, "error_rate": 1.0, "core_error_rate": 0.0})
    );
    assert_eq!(state.chaos().error_rate, 1.0);
    let answer = post(&router, ORDER).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(answer.body.contains("ERROR_RATE"), "{}", answer.body);

    // A subset leaves the other knobs as they are.
    let answer = put_chaos(&control, r#"{"latency_ms":250,"core_error_rate":0.5}"#).await;
    assert_eq!(
        answer.json(),
        serde_json::json!({"latency_ms": 250, "error_rate": 1.0, "core_error_rate": 0.5})
    );
    assert_eq!(state.chaos().latency, Duration::from_millis(250));
    assert_eq!(
        get(&control, "/chaos").await.json(),
        serde_json::json!({"latency_ms": 250, "error_rate": 1.0, "core_error_rate": 0.5})
    );

    let answer = put_chaos(
        &control,
        r#"{"latency_ms":0,"error_rate":0,"core_error_rate":0}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(post(&router, ORDER).await.status, StatusCode::OK);
    assert_eq!(
        get(&router, "/chaos").await.status,
        StatusCode::NOT_FOUND,
        "the main router never serves the control endpoint"
    );
}

#[tokio::test]
async fn control_refuses_bad_changes_naming_the_field_and_changes_nothing() {
    let state = AppState::with_seed(
        Chaos {
            error_rate: 0.25,
            ..Chaos::default()
        },
        10,
    );
    let control = control_app(state.clone());
    let before = get(&control, "/chaos").await.body;
    for (body, field) in [
        (r#"{"error_rate":1.5}"#, "error_rate"),
        (r#"{"error_rate":"x"}"#, "error_rate"),
        (r#"{"nope":1}"#, "nope"),
        // Nothing is applied when one field is bad, even a valid one before it.
        (r#"{"core_error_rate":0.5,"error_rate":-1}"#, "error_rate"),
        (r#"{"latency_ms":60001}"#, "latency_ms"),
        (r#"{"latency_ms":1,"nope":1}"#, "nope"),
        ("not json", "."),
    ] {
        let answer = put_chaos(&control, body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        let json = answer.json();
        assert_eq!(json["field"], field, "{body}");
        assert!(
            json["error"].as_str().unwrap().starts_with(field),
            "{}",
            answer.body
        );
        assert_eq!(get(&control, "/chaos").await.body, before, "after {body}");
    }
    assert_eq!(state.chaos().error_rate, 0.25);
    assert_eq!(state.chaos().core_error_rate, 0.0);
    assert_eq!(state.chaos().latency, Duration::ZERO);
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

#[tokio::test]
async fn the_control_endpoint_serves_on_loopback_only() {
    let state = AppState::with_seed(Chaos::default(), 12);
    let everywhere = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let err = checkout::server::serve_control(everywhere, state.clone(), std::future::pending())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the chaos control endpoint serves on loopback only, not on 0.0.0.0:"),
        "{err}"
    );

    let loopback = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(checkout::server::serve_control(loopback, state, async {
        let _ = stopped.await;
    }));
    drop(stop);
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("stops when told")
        .unwrap()
        .unwrap();
}
