//! The chaos control endpoint: `GET /chaos` shows the knobs in force, `PUT /chaos` changes them
//! while serving, and the following requests use the new values without a restart.
//!
//! For local runs and the loop harness only. The binary serves it when `CHAOS_CONTROL_PORT` is
//! set, on `127.0.0.1` only ([`server::serve_control`](crate::server::serve_control) refuses any
//! other address); the contract marks that variable local-only, so synth never writes it into a
//! deployment, and the main port never routes `/chaos`.
//!
//! - `GET /chaos`: 200 `{"latency_ms":0,"error_rate":0.0,"core_error_rate":0.0}`;
//! - `PUT /chaos` with any subset of those fields: 200 with the knobs now in force. An unknown
//!   field, a value of the wrong type or out of the environment variable's bounds
//!   (`latency_ms` 0..60000 whole milliseconds, the rates 0.0..1.0) is a 400 naming the field,
//!   `{"field":"error_rate","error":"error_rate: expected ..."}`, and changes nothing. Each
//!   change logs one info line, `chaos knobs changed`, with the new and previous values.
//!
//! ```
//! use axum::{body::Body, http::Request};
//! use checkout::{AppState, Chaos, Knobs, control_app};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let state = AppState::with_seed(Chaos::default(), 7);
//! let put = Request::put("/chaos").body(Body::from(r#"{"error_rate":0.25}"#)).unwrap();
//! let response = control_app(state.clone()).oneshot(put).await.unwrap();
//! assert_eq!(response.status(), 200);
//! let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
//! let knobs: Knobs = serde_json::from_slice(&body).unwrap();
//! assert_eq!(knobs, Knobs { latency_ms: 0, error_rate: 0.25, core_error_rate: 0.0 });
//! assert_eq!(state.chaos().error_rate, 0.25);
//! # });
//! ```

use std::time::Duration;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use platform_contract::runtime::{Var, checkout as vars};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AppState, Chaos, order::Invalid};

/// Largest accepted `PUT /chaos` body.
pub const MAX_CONTROL_BODY_BYTES: usize = 1024;

/// The fields `PUT /chaos` accepts.
pub const FIELDS: [&str; 3] = ["latency_ms", "error_rate", "core_error_rate"];

/// The knobs `/chaos` shows and changes, in its JSON shape:
/// `{"latency_ms":0,"error_rate":0.0,"core_error_rate":0.0}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Knobs {
    /// Added to every `POST /checkout`, whole milliseconds (`LATENCY_MS`).
    pub latency_ms: u64,
    /// Share of valid orders whose optional work fails; degraded mode skips it (`ERROR_RATE`).
    pub error_rate: f64,
    /// Share of `POST /checkout` failing in the core path, in either mode (`CORE_ERROR_RATE`).
    pub core_error_rate: f64,
}

impl From<Chaos> for Knobs {
    fn from(chaos: Chaos) -> Self {
        Self {
            latency_ms: u64::try_from(chaos.latency.as_millis()).unwrap_or(u64::MAX),
            error_rate: chaos.error_rate,
            core_error_rate: chaos.core_error_rate,
        }
    }
}

/// A checked `PUT /chaos` body: the knobs it changes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Change {
    latency_ms: Option<u64>,
    error_rate: Option<f64>,
    core_error_rate: Option<f64>,
}

/// The control endpoint's router (`GET` and `PUT /chaos`). Tests call it with
/// `tower::ServiceExt::oneshot`; the binary serves it through
/// [`server::serve_control`](crate::server::serve_control). It shares `state` with
/// [`app`](crate::app), so a change reaches the next `POST /checkout`.
pub fn control_app(state: AppState) -> Router {
    Router::new()
        .route("/chaos", get(show).put(change))
        .layer(DefaultBodyLimit::max(MAX_CONTROL_BODY_BYTES))
        .with_state(state)
}

async fn show(State(state): State<AppState>) -> Json<Knobs> {
    Json(state.chaos().into())
}

async fn change(State(state): State<AppState>, body: Bytes) -> Response {
    let change = match parse(&body) {
        Ok(change) => change,
        Err(invalid) => return (StatusCode::BAD_REQUEST, Json(invalid)).into_response(),
    };
    let (previous, now) = state.update_chaos(|chaos| {
        if let Some(ms) = change.latency_ms {
            chaos.latency = Duration::from_millis(ms);
        }
        if let Some(rate) = change.error_rate {
            chaos.error_rate = rate;
        }
        if let Some(rate) = change.core_error_rate {
            chaos.core_error_rate = rate;
        }
    });
    let (previous, now) = (Knobs::from(previous), Knobs::from(now));
    if previous != now {
        tracing::info!(
            latency_ms = now.latency_ms,
            error_rate = now.error_rate,
            core_error_rate = now.core_error_rate,
            previous_latency_ms = previous.latency_ms,
            previous_error_rate = previous.error_rate,
            previous_core_error_rate = previous.core_error_rate,
            source = "control",
            "chaos knobs changed"
        );
    }
    (StatusCode::OK, Json(now)).into_response()
}

/// Parses a `PUT /chaos` body and checks each value against its environment variable's
/// declaration in the contract; the error names the field (`.` for the body itself).
fn parse(body: &[u8]) -> Result<Change, Invalid> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Invalid::new(".", e))?;
    let Value::Object(fields) = value else {
        return Err(Invalid::new(
            ".",
            format_args!("expected a JSON object with any of {}", FIELDS.join(", ")),
        ));
    };
    let mut change = Change::default();
    for (field, value) in &fields {
        match field.as_str() {
            "latency_ms" => {
                change.latency_ms = Some(knob(&vars::LATENCY_MS, field, value, Value::as_u64)?);
            }
            "error_rate" => {
                change.error_rate = Some(knob(&vars::ERROR_RATE, field, value, Value::as_f64)?);
            }
            "core_error_rate" => {
                change.core_error_rate =
                    Some(knob(&vars::CORE_ERROR_RATE, field, value, Value::as_f64)?);
            }
            _ => {
                return Err(Invalid::new(
                    field.as_str(),
                    format_args!("unknown field, expected one of {}", FIELDS.join(", ")),
                ));
            }
        }
    }
    Ok(change)
}

/// One knob's value: a JSON number that the contract's check of `var` accepts (so the bounds
/// are the environment variable's), read with `read`.
fn knob<T>(
    var: &Var,
    field: &str,
    value: &Value,
    read: fn(&Value) -> Option<T>,
) -> Result<T, Invalid> {
    let checked = match value {
        Value::Number(n) => var.check(&n.to_string()).ok().and_then(|()| read(value)),
        _ => None,
    };
    checked.ok_or_else(|| {
        Invalid::new(
            field,
            format_args!(
                "expected {} (as {}), got {value}",
                var.kind.expected(),
                var.name
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(body: &str) -> (String, String) {
        let invalid = parse(body.as_bytes()).unwrap_err();
        (invalid.field, invalid.error)
    }

    #[test]
    fn accepts_any_subset_within_the_contract_bounds() {
        assert_eq!(parse(b"{}").unwrap(), Change::default());
        assert_eq!(
            parse(br#"{"latency_ms":60000,"error_rate":1,"core_error_rate":0.0}"#).unwrap(),
            Change {
                latency_ms: Some(60_000),
                error_rate: Some(1.0),
                core_error_rate: Some(0.0),
            }
        );
        assert_eq!(
            parse(br#"{"core_error_rate":0.125}"#).unwrap(),
            Change {
                core_error_rate: Some(0.125),
                ..Change::default()
            }
        );
    }

    #[test]
    fn refusals_name_the_field() {
        for (body, field, error) in [
            (
                r#"{"error_rate":1.5}"#,
                "error_rate",
                "error_rate: expected a number from 0.0 to 1.0 (as ERROR_RATE), got 1.5",
            ),
            (
                r#"{"error_rate":"x"}"#,
                "error_rate",
                r#"error_rate: expected a number from 0.0 to 1.0 (as ERROR_RATE), got "x""#,
            ),
            (
                r#"{"core_error_rate":-0.1}"#,
                "core_error_rate",
                "core_error_rate: expected a number from 0.0 to 1.0 (as CORE_ERROR_RATE), got -0.1",
            ),
            (
                r#"{"core_error_rate":null}"#,
                "core_error_rate",
                "core_error_rate: expected a number from 0.0 to 1.0 (as CORE_ERROR_RATE), got null",
            ),
            (
                r#"{"latency_ms":60001}"#,
                "latency_ms",
                "latency_ms: expected a whole number of milliseconds from 0 to 60000 (as LATENCY_MS), got 60001",
            ),
            (
                r#"{"latency_ms":2.5}"#,
                "latency_ms",
                "latency_ms: expected a whole number of milliseconds from 0 to 60000 (as LATENCY_MS), got 2.5",
            ),
            (
                r#"{"latency_ms":-1}"#,
                "latency_ms",
                "latency_ms: expected a whole number of milliseconds from 0 to 60000 (as LATENCY_MS), got -1",
            ),
            (
                r#"{"nope":1}"#,
                "nope",
                "nope: unknown field, expected one of latency_ms, error_rate, core_error_rate",
            ),
            (
                "[0.5]",
                ".",
                ".: expected a JSON object with any of latency_ms, error_rate, core_error_rate",
            ),
        ] {
            assert_eq!(
                refused(body),
                (field.to_owned(), error.to_owned()),
                "{body}"
            );
        }
        // Not JSON at all (JSON has no NaN): the body itself.
        for body in ["", "NaN", r#"{"error_rate":NaN}"#] {
            let (field, error) = refused(body);
            assert_eq!(field, ".", "{body}");
            assert!(error.starts_with(".: "), "{body}: {error}");
        }
    }
}
