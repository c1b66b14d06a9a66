//! The Prometheus metrics, with the seed service's names.
//!
//! Names and the latency histogram's buckets come from the shared contract
//! ([`platform_contract::checkout`]), which the alert rules and their promtool tests
//! read too: a threshold of an environment's latency alert resolves exactly when it is one of
//! [`DURATION_BUCKETS`].

use std::{sync::OnceLock, time::Duration};

use axum::http::{Method, StatusCode};
use platform_contract::checkout::{
    DEGRADED_MODE_GAUGE, DURATION_BUCKETS, ERRORS_TOTAL, REQUEST_DURATION_SECONDS, REQUESTS_TOTAL,
};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Content type of the classic text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Route labels the service knows, in [`Metrics`]'s cache order (`unmatched` last).
pub const ROUTES: [&str; 5] = ["/checkout", "/healthz", "/readyz", "/metrics", "unmatched"];
/// Method labels, in the cache order (`OTHER` last).
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "OTHER",
];
/// Statuses whose counters are cached; others go through the label lookup.
const STATUSES: [u16; 8] = [200, 400, 404, 405, 413, 500, 503, 422];

/// The service's metrics in their own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    errors: IntCounterVec,
    duration: HistogramVec,
    degraded: IntGauge,
    cache: std::sync::Arc<Cache>,
}

/// Labelled children resolved once, on first use (so no series appears before its first
/// request): `with_label_values` hashes the labels and takes a lock on every call.
#[derive(Debug, Default)]
struct Cache {
    requests: [[[OnceLock<IntCounter>; STATUSES.len()]; ROUTES.len()]; METHODS.len()],
    duration: [[OnceLock<Histogram>; ROUTES.len()]; METHODS.len()],
    errors: [OnceLock<IntCounter>; ROUTES.len()],
}

impl Metrics {
    /// Creates and registers the four metrics.
    ///
    /// # Panics
    /// Never in practice: the names and labels are constants that the tests exercise.
    #[must_use]
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(REQUESTS_TOTAL, "HTTP requests answered."),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new(
                ERRORS_TOTAL,
                "HTTP requests answered with a 5xx status (injected by ERROR_RATE or CORE_ERROR_RATE, or not).",
            ),
            &["route"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                REQUEST_DURATION_SECONDS,
                "Time from request received to response ready, injected latency included.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("valid metric");
        let degraded = IntGauge::new(
            DEGRADED_MODE_GAUGE,
            "1 when degraded mode is on (optional work skipped), else 0; follows the SSM flag.",
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(errors.clone()),
            Box::new(duration.clone()),
            Box::new(degraded.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        // Series the alerts divide by exist from the start, so rate() is 0, not absent.
        errors.with_label_values(&["/checkout"]);
        Self {
            registry,
            requests,
            errors,
            duration,
            degraded,
            cache: std::sync::Arc::default(),
        }
    }

    /// Records one answered request. `route` is the matched route, never the raw path.
    pub fn observe(&self, method: &Method, route: &str, status: StatusCode, elapsed: Duration) {
        let Some(r) = ROUTES.iter().position(|known| *known == route) else {
            // A route the cache does not know: the plain lookups.
            let method = method_label(method);
            self.requests
                .with_label_values(&[method, route, status.as_str()])
                .inc();
            if status.is_server_error() {
                self.errors.with_label_values(&[route]).inc();
            }
            self.duration
                .with_label_values(&[method, route])
                .observe(elapsed.as_secs_f64());
            return;
        };
        let m = method_index(method);
        let method = METHODS[m];
        let cache = &*self.cache;
        match STATUSES.iter().position(|s| *s == status.as_u16()) {
            Some(s) => cache.requests[m][r][s]
                .get_or_init(|| {
                    self.requests
                        .with_label_values(&[method, route, status.as_str()])
                })
                .inc(),
            None => self
                .requests
                .with_label_values(&[method, route, status.as_str()])
                .inc(),
        }
        if status.is_server_error() {
            cache.errors[r]
                .get_or_init(|| self.errors.with_label_values(&[route]))
                .inc();
        }
        cache.duration[m][r]
            .get_or_init(|| self.duration.with_label_values(&[method, route]))
            .observe(elapsed.as_secs_f64());
    }

    /// Sets `checkout_degraded_mode_enabled`.
    pub fn set_degraded(&self, on: bool) {
        self.degraded.set(i64::from(on));
    }

    /// The exposition text, as Prometheus scrapes it.
    #[must_use]
    pub fn render(&self) -> String {
        let mut buf = Vec::with_capacity(4096);
        // Encoding into a Vec cannot fail for the metric types used here.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Methods outside the standard set share one label value, so a client cannot grow the series.
fn method_label(method: &Method) -> &'static str {
    METHODS[method_index(method)]
}

/// Index of a method's label in [`METHODS`].
fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::DELETE => 3,
        Method::HEAD => 4,
        Method::OPTIONS => 5,
        Method::PATCH => 6,
        _ => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_has_the_contract_buckets() {
        assert!(DURATION_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        let metrics = Metrics::new();
        metrics.observe(
            &Method::GET,
            "/healthz",
            StatusCode::OK,
            Duration::from_millis(1),
        );
        let text = metrics.render();
        let le: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{REQUEST_DURATION_SECONDS}_bucket{{")))
            .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next()?.parse().ok())
            .filter(|le: &f64| le.is_finite())
            .collect();
        assert_eq!(le, DURATION_BUCKETS);
    }

    #[test]
    fn odd_methods_share_a_label() {
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
    }
}
