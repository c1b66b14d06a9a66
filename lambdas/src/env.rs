//! Configuration from environment variables (the pipeline stack sets them; `lambdas/README.md`
//! lists them).

use std::time::Duration;

/// A required variable is missing or a value does not parse.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {message}")]
pub struct EnvError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong.
    pub message: String,
}

/// A required variable.
pub fn required(name: &'static str) -> Result<String, EnvError> {
    optional(name).ok_or_else(|| EnvError {
        name,
        message: "missing".into(),
    })
}

/// An optional variable (empty counts as unset).
pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// An optional number with a default.
pub fn number<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, EnvError> {
    match optional(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| EnvError {
            name,
            message: format!("{text:?} is not a number"),
        }),
    }
}

/// An optional number of seconds with a default.
pub fn seconds(name: &'static str, default: u64) -> Result<Duration, EnvError> {
    number(name, default).map(Duration::from_secs)
}

/// `EVENT_BUS_NAME`: the custom bus alert_ingest sends to.
pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
/// `WEBHOOK_TOKEN_SECRET_ARN`: Secrets Manager secret holding the webhook bearer token.
pub const WEBHOOK_TOKEN_SECRET_ARN: &str = "WEBHOOK_TOKEN_SECRET_ARN";
/// `WEBHOOK_TOKEN_PARAMETER`: SSM SecureString holding the token (when no secret is set).
pub const WEBHOOK_TOKEN_PARAMETER: &str = "WEBHOOK_TOKEN_PARAMETER";
/// `MAX_BODY_BYTES`: body size cap of alert_ingest.
pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
/// `AWS_ACCOUNT_ID`: account used when the API Gateway request context has none.
pub const AWS_ACCOUNT_ID: &str = "AWS_ACCOUNT_ID";
/// `INCIDENTS_TABLE`: the incidents table (runbook_action keeps its rate-limit items there).
pub const INCIDENTS_TABLE: &str = "INCIDENTS_TABLE";
/// `ALLOWED_NAMESPACES`: comma-separated namespaces runbook_action may change.
pub const ALLOWED_NAMESPACES: &str = "ALLOWED_NAMESPACES";
/// `RATE_LIMIT_SECONDS`: minimum time between two actions on one target.
pub const RATE_LIMIT_SECONDS: &str = "RATE_LIMIT_SECONDS";
/// `EKS_CLUSTER_NAME`: the cluster (the token's `x-k8s-aws-id`, and DescribeCluster).
pub const EKS_CLUSTER_NAME: &str = "EKS_CLUSTER_NAME";
/// `EKS_CLUSTER_ENDPOINT`: API server URL; DescribeCluster when unset.
pub const EKS_CLUSTER_ENDPOINT: &str = "EKS_CLUSTER_ENDPOINT";
/// `EKS_CLUSTER_CA`: base64 PEM of the cluster CA (as DescribeCluster returns it).
pub const EKS_CLUSTER_CA: &str = "EKS_CLUSTER_CA";
/// `DEGRADED_MODE_PARAMETER`: SSM parameter of degraded mode (default `/checkout/degraded_mode`).
pub const DEGRADED_MODE_PARAMETER: &str = "DEGRADED_MODE_PARAMETER";
/// `DRAIN_TIMEOUT_SECONDS`: how long drain_node waits for evictions.
pub const DRAIN_TIMEOUT_SECONDS: &str = "DRAIN_TIMEOUT_SECONDS";
