//! What the checkout service and its alerts share: metric names and the latency histogram's
//! buckets. The service exports these; the alert rules and their promtool tests read them.
//!
//! # Example: where a slow request lands
//!
//! The seeds' `LATENCY_MS=400` demo lands every request in the 0.5 s bucket, so the p99 that
//! `histogram_quantile` reports is just under 0.5 s: above a 300 ms latency threshold, which is
//! why `CheckoutHighLatency` fires.
//!
//! ```
//! use platform_contract::checkout::{
//!     DEMO_LATENCY_MS, DURATION_BUCKETS, bucket_of, estimated_quantile,
//! };
//!
//! assert_eq!(bucket_of(DEMO_LATENCY_MS), Some(0.5));
//! let p99 = estimated_quantile(0.99, DEMO_LATENCY_MS);
//! assert!((p99 - 0.499).abs() < 1e-9);
//! assert!(p99 > 0.3);
//! // A request on a boundary lands in the next bucket; above every boundary, in +Inf.
//! assert_eq!(bucket_of(100), Some(0.2));
//! assert_eq!(bucket_of(10_000), None);
//! assert_eq!(estimated_quantile(0.5, 10_000), DURATION_BUCKETS[DURATION_BUCKETS.len() - 1]);
//! ```

/// Requests answered, by route, method and status.
pub const REQUESTS_TOTAL: &str = "checkout_requests_total";
/// Requests answered with a 5xx.
pub const ERRORS_TOTAL: &str = "checkout_errors_total";
/// Request duration histogram.
pub const REQUEST_DURATION_SECONDS: &str = "checkout_request_duration_seconds";
/// `1` while degraded mode is on, `0` otherwise; follows the SSM flag while serving.
pub const DEGRADED_MODE_GAUGE: &str = "checkout_degraded_mode_enabled";

/// Upper bounds (`le`) of [`REQUEST_DURATION_SECONDS`]'s buckets: fine below 100 ms where the
/// service lives, and boundaries around the environments' latency thresholds, so
/// `histogram_quantile` resolves a threshold exactly when it is one of them.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0, 2.5, 5.0,
];

/// The seeds' demo: `LATENCY_MS=400` is how they provoke `CheckoutHighLatency`.
pub const DEMO_LATENCY_MS: u32 = 400;
/// The seeds' demo: `ERROR_RATE=0.5` is how they provoke `CheckoutHighErrorRate`.
pub const DEMO_ERROR_RATE: f64 = 0.5;

/// The `le` of the bucket a request of `latency_ms` lands in: the first boundary above it (a
/// request takes its injected latency plus its own work, so one exactly on a boundary lands in
/// the next bucket). `None`: above every boundary (`+Inf`).
pub fn bucket_of(latency_ms: u32) -> Option<f64> {
    let seconds = f64::from(latency_ms) / 1000.0;
    DURATION_BUCKETS.iter().copied().find(|le| *le > seconds)
}

/// What Prometheus's `histogram_quantile(q, ...)` estimates when every request takes
/// `latency_ms`: linear interpolation inside the bucket holding them all.
pub fn estimated_quantile(q: f64, latency_ms: u32) -> f64 {
    match bucket_of(latency_ms) {
        Some(upper) => {
            let lower = DURATION_BUCKETS
                .iter()
                .copied()
                .take_while(|le| *le < upper)
                .last()
                .unwrap_or(0.0);
            lower + (upper - lower) * q
        }
        // Prometheus answers the highest finite boundary for the +Inf bucket.
        None => DURATION_BUCKETS[DURATION_BUCKETS.len() - 1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_400ms_request_lands_in_the_half_second_bucket() {
        assert_eq!(bucket_of(DEMO_LATENCY_MS), Some(0.5));
        assert!((estimated_quantile(0.99, DEMO_LATENCY_MS) - 0.499).abs() < 1e-9);
        assert_eq!(bucket_of(0), Some(0.001));
        assert_eq!(bucket_of(60_000), None);
    }
}
