//! The checkout service: the workload the SRE platform watches.
//!
//! An axum service answering `POST /checkout`, `GET /healthz`, `GET /readyz` and `GET /metrics`,
//! with the seed service's Prometheus metrics, chaos knobs (`LATENCY_MS`, `ERROR_RATE`,
//! `DEGRADED_MODE`) and degraded mode read from SSM at start and followed while serving.
//!
//! Modules:
//! - [`config`]: settings from the environment (declared in the shared runtime contract,
//!   `platform_contract::runtime::checkout`), validated once at start;
//! - [`order`]: the order body, its validation and the confirmation;
//! - [`metrics`]: the metrics and their exposition;
//! - [`degraded`]: where degraded mode comes from (environment, SSM, default) and the refresh
//!   that follows the SSM flag while serving;
//! - [`server`]: serving with graceful shutdown;
//! - [`app`] builds the router from an [`AppState`].
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
pub mod degraded;
mod error;
mod http;
pub mod metrics;
pub mod order;
pub mod server;

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use axum::http::HeaderValue;
use rand::{RngExt, SeedableRng, rngs::StdRng};

pub use config::{Chaos, Config};
pub use error::Error;
pub use http::{MAX_BODY_BYTES, REQUEST_ID_HEADER, RequestId, app};
pub use metrics::Metrics;

/// What the handlers share: chaos knobs, live degraded mode, metrics, readiness, the random
/// source.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Latency and error rate; its `degraded` is only the value at start.
    chaos: Chaos,
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

    /// A state with a seeded random source: the same seed gives the same injected errors, the
    /// n-th `POST /checkout` failing when the n-th `StdRng::seed_from_u64(seed).random::<f64>()`
    /// is below `error_rate`.
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
                chaos,
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
    #[must_use]
    pub fn chaos(&self) -> Chaos {
        Chaos {
            degraded: self.is_degraded(),
            ..self.inner.chaos
        }
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

    /// Draws from the random source: `true` for a request that must fail (`ERROR_RATE`).
    /// Draws nothing when the rate is 0, so the sequence only depends on the rolls made.
    #[must_use]
    pub fn roll_error(&self) -> bool {
        let rate = self.inner.chaos.error_rate;
        if rate <= 0.0 {
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
}
