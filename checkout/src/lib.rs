//! The checkout service: the workload the SRE platform watches.
//!
//! An axum service answering `POST /checkout`, `GET /healthz`, `GET /readyz` and `GET /metrics`,
//! with the seed service's Prometheus metrics, chaos knobs (`LATENCY_MS`, `ERROR_RATE`,
//! `CORE_ERROR_RATE`, `DEGRADED_MODE`) and degraded mode read from SSM at start and followed
//! while serving.
//!
//! The chaos model: `ERROR_RATE` fails the optional work (recommendations), which degraded mode
//! skips, so the runbook's `enable_degraded_mode` ends those errors; `CORE_ERROR_RATE` fails the
//! core path in either mode. In local runs the knobs also change while serving, through the
//! loopback-only control endpoint ([`control_app`], `CHAOS_CONTROL_PORT`).
//!
//! Modules:
//! - [`config`]: settings from the environment (declared in the shared runtime contract,
//!   `platform_contract::runtime::checkout`), validated once at start;
//! - [`order`]: the order body, its validation and the confirmation;
//! - [`metrics`]: the metrics and their exposition;
//! - [`degraded`]: where degraded mode comes from (environment, SSM, default) and the refresh
//!   that follows the SSM flag while serving;
//! - [`server`]: serving with graceful shutdown, and the control endpoint stopping with it;
//! - [`app`] builds the router from an [`AppState`]; [`control_app`] the control endpoint's
//!   (`GET`/`PUT /chaos`, see [`control`]).
//!
//! ```
//! use checkout::{AppState, Chaos, app};
//! use tower::ServiceExt;
//! use axum::{body::Body, http::Request};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let state = AppState::with_seed(Chaos::default(), 7);
//! let response = app(state)
//!     .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(response.status(), 200);
//! # });
//! ```

pub mod config;
pub mod control;
pub mod degraded;
mod error;
mod http;
pub mod metrics;
pub mod order;
pub mod server;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::http::HeaderValue;
use rand::{RngExt, SeedableRng, rngs::StdRng};

pub use config::{Chaos, Config};
pub use control::{Knobs, control_app};
pub use error::Error;
pub use http::{MAX_BODY_BYTES, REQUEST_ID_HEADER, RequestId, app};
pub use metrics::Metrics;

/// What the handlers share: live chaos knobs, live degraded mode, metrics, readiness, the random
/// source.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The injected latency now, in nanoseconds: the control endpoint changes it while serving.
    latency_nanos: AtomicU64,
    /// `ERROR_RATE` now, as `f64::to_bits`.
    error_rate: AtomicU64,
    /// `CORE_ERROR_RATE` now, as `f64::to_bits`.
    core_error_rate: AtomicU64,
    /// Serializes [`AppState::update_chaos`], so concurrent partial changes do not lose one
    /// another. Readers take no lock.
    chaos_write: Mutex<()>,
    /// Degraded mode now: the SSM refresh changes it while serving.
    degraded: AtomicBool,
    /// Serializes [`AppState::set_degraded`], so the gauge always ends at the flag's value.
    degraded_write: Mutex<()>,
    metrics: Metrics,
    ready: AtomicBool,
    rng: Mutex<StdRng>,
    id_prefix: u32,
    id_counter: AtomicU64,
}

impl AppState {
    /// A state whose random source is seeded from the operating system.
    #[must_use]
    pub fn new(chaos: Chaos) -> Self {
        Self::from_rng(chaos, StdRng::from_rng(&mut rand::rng()))
    }

    /// A state with a seeded random source: the same seed gives the same injected errors.
    ///
    /// Each `POST /checkout` takes the next `StdRng::seed_from_u64(seed).random::<f64>()` draws
    /// in this order: one for the core path when `core_error_rate > 0` (below it: 500, no
    /// further draw); then, for a valid order outside degraded mode, one for the optional work
    /// when `error_rate > 0` (below it: 500). A rate of 0, degraded mode and a rejected order
    /// draw nothing, so the sequence only depends on the rolls made.
    #[must_use]
    pub fn with_seed(chaos: Chaos, seed: u64) -> Self {
        Self::from_rng(chaos, StdRng::seed_from_u64(seed))
    }

    fn from_rng(chaos: Chaos, rng: StdRng) -> Self {
        let metrics = Metrics::new();
        metrics.set_degraded(chaos.degraded);
        // Not drawn from `rng`: the chaos sequence of a seed stays `random::<f64>()` draws only.
        let id_prefix = rand::rng().random();
        Self {
            inner: Arc::new(Inner {
                latency_nanos: AtomicU64::new(nanos(chaos.latency)),
                error_rate: AtomicU64::new(chaos.error_rate.to_bits()),
                core_error_rate: AtomicU64::new(chaos.core_error_rate.to_bits()),
                chaos_write: Mutex::new(()),
                degraded: AtomicBool::new(chaos.degraded),
                degraded_write: Mutex::new(()),
                metrics,
                ready: AtomicBool::new(true),
                rng: Mutex::new(rng),
                id_prefix,
                id_counter: AtomicU64::new(0),
            }),
        }
    }

    /// The chaos knobs in force, degraded mode as it is now.
    ///
    /// Each knob is read on its own (no lock): a request read during a change may see some
    /// knobs before it and some after.
    #[must_use]
    pub fn chaos(&self) -> Chaos {
        let inner = &self.inner;
        Chaos {
            latency: Duration::from_nanos(inner.latency_nanos.load(Ordering::Relaxed)),
            error_rate: f64::from_bits(inner.error_rate.load(Ordering::Relaxed)),
            core_error_rate: f64::from_bits(inner.core_error_rate.load(Ordering::Relaxed)),
            degraded: self.is_degraded(),
        }
    }

    /// Changes the latency and the two error rates while serving; the following requests use
    /// the new values, without a restart. `change` gets the knobs in force; the `degraded` it
    /// leaves is ignored ([`AppState::set_degraded`] owns degraded mode). Returns the knobs
    /// before and after.
    ///
    /// No validation here: the callers check the bounds (the settings through the contract, the
    /// control endpoint the same bounds). A rate above 1 fails every roll, NaN none.
    pub fn update_chaos(&self, change: impl FnOnce(&mut Chaos)) -> (Chaos, Chaos) {
        let _write = self
            .inner
            .chaos_write
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let previous = self.chaos();
        let mut next = previous;
        change(&mut next);
        let inner = &self.inner;
        inner
            .latency_nanos
            .store(nanos(next.latency), Ordering::Relaxed);
        inner
            .error_rate
            .store(next.error_rate.to_bits(), Ordering::Relaxed);
        inner
            .core_error_rate
            .store(next.core_error_rate.to_bits(), Ordering::Relaxed);
        next.degraded = previous.degraded;
        (previous, next)
    }

    /// Whether degraded mode is on now (optional work skipped).
    #[must_use]
    pub fn is_degraded(&self) -> bool {
        self.inner.degraded.load(Ordering::Relaxed)
    }

    /// Turns degraded mode on or off while serving, with the
    /// `checkout_degraded_mode_enabled` gauge; returns the previous value.
    pub fn set_degraded(&self, on: bool) -> bool {
        let _write = self
            .inner
            .degraded_write
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let previous = self.inner.degraded.swap(on, Ordering::Relaxed);
        self.inner.metrics.set_degraded(on);
        previous
    }

    /// The metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Whether `/readyz` answers 200.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }

    /// Turns readiness off for good (shutdown has begun).
    pub fn set_not_ready(&self) {
        self.inner.ready.store(false, Ordering::Relaxed);
    }

    /// Draws from the random source: `true` for a request that must fail at `rate`
    /// (`CORE_ERROR_RATE`, or `ERROR_RATE` for the optional work). Draws nothing when the rate
    /// is 0 (or NaN), so the sequence only depends on the rolls made.
    #[must_use]
    pub fn roll(&self, rate: f64) -> bool {
        if rate.is_nan() || rate <= 0.0 {
            return false;
        }
        let draw: f64 = self
            .inner
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .random();
        draw < rate
    }

    /// A fresh request id: a random per-process prefix and a counter, unique without a syscall.
    /// `{prefix:08x}-{counter:012x}`, hex-encoded by hand (no formatting machinery).
    fn next_request_id(&self) -> HeaderValue {
        let n = self.inner.id_counter.fetch_add(1, Ordering::Relaxed);
        let mut id = [0u8; 21];
        hex_into(&mut id[..8], u64::from(self.inner.id_prefix));
        id[8] = b'-';
        hex_into(&mut id[9..], n);
        HeaderValue::from_bytes(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    }
}

/// A duration in whole nanoseconds, saturating (584 years).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Writes the low `4 * out.len()` bits of `value` as zero-padded lowercase hex.
fn hex_into(out: &mut [u8], mut value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in out.iter_mut().rev() {
        *byte = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_prefix_dash_counter_in_hex() {
        let state = AppState::with_seed(Chaos::default(), 1);
        let prefix = state.inner.id_prefix;
        state.inner.id_counter.store(0xabc, Ordering::Relaxed);
        let id = state.next_request_id();
        assert_eq!(id.to_str().unwrap(), format!("{prefix:08x}-{:012x}", 0xabc));
    }

    #[test]
    fn chaos_changes_while_serving_and_leaves_degraded_mode_alone() {
        let state = AppState::with_seed(
            Chaos {
                error_rate: 0.5,
                ..Chaos::default()
            },
            1,
        );
        state.set_degraded(true);
        let (previous, now) = state.update_chaos(|c| {
            c.latency = Duration::from_millis(7);
            c.core_error_rate = 0.25;
            c.degraded = false;
        });
        assert_eq!(
            previous,
            Chaos {
                error_rate: 0.5,
                degraded: true,
                ..Chaos::default()
            }
        );
        let expected = Chaos {
            latency: Duration::from_millis(7),
            error_rate: 0.5,
            core_error_rate: 0.25,
            degraded: true,
        };
        assert_eq!(now, expected);
        assert_eq!(state.chaos(), expected, "degraded mode is set_degraded's");
    }

    #[test]
    fn a_zero_rate_draws_nothing() {
        let state = AppState::with_seed(Chaos::default(), 4);
        assert!(!state.roll(0.0));
        assert!(!state.roll(f64::NAN));
        let mut fresh = StdRng::seed_from_u64(4);
        let first: f64 = fresh.random();
        assert_eq!(
            state.roll(0.5),
            first < 0.5,
            "the first draw is still the seed's first"
        );
    }
}
