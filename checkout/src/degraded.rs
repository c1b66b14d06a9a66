//! Where degraded mode comes from: `DEGRADED_MODE`, else the SSM parameter, else off.
//!
//! The runbook turns degraded mode on by writing the SSM parameter and restarting the
//! deployment, so the parameter is read once at start. SSM trouble never stops the service:
//! it logs a warning and falls back to the environment (off when `DEGRADED_MODE` is unset).

use std::time::Duration;

use aws_config::{BehaviorVersion, retry::RetryConfig, timeout::TimeoutConfig};

use crate::{Config, Error, config::parse_bool};

/// Where the degraded-mode value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `DEGRADED_MODE` was set (it wins over SSM).
    Environment,
    /// The SSM parameter was read.
    Ssm,
    /// Neither: SSM was off, unreachable, or held a bad value.
    Default,
}

impl Source {
    /// The name used in logs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Environment => "environment",
            Self::Ssm => "ssm",
            Self::Default => "default",
        }
    }
}

/// Resolves degraded mode at start. Never fails: SSM errors are logged as warnings.
pub async fn resolve(config: &Config) -> (bool, Source) {
    if let Some(on) = config.degraded_mode {
        tracing::info!(
            degraded_mode = on,
            source = "environment",
            "degraded mode from DEGRADED_MODE; SSM not read"
        );
        return (on, Source::Environment);
    }
    let Some(parameter) = config.ssm_parameter.as_deref() else {
        tracing::info!(
            degraded_mode = false,
            source = "default",
            "DEGRADED_MODE unset and SSM read off"
        );
        return (false, Source::Default);
    };
    match read_ssm(parameter, config.ssm_timeout).await {
        Ok(on) => {
            tracing::info!(
                degraded_mode = on,
                source = "ssm",
                parameter,
                "degraded mode from SSM"
            );
            (on, Source::Ssm)
        }
        Err(error) => {
            tracing::warn!(
                degraded_mode = false,
                source = "default",
                parameter,
                error = %ErrorChain(&error),
                "SSM unavailable, falling back to the environment (DEGRADED_MODE unset: off)"
            );
            (false, Source::Default)
        }
    }
}

/// Reads a boolean SSM parameter with the default AWS configuration (region, credentials and
/// `AWS_ENDPOINT_URL` from the environment), bounded by `timeout` as a whole.
pub async fn read_ssm(parameter: &str, timeout: Duration) -> Result<bool, Error> {
    let read = async {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(timeout)
                    .operation_timeout(timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .load()
            .await;
        if sdk.region().is_none() {
            return Err(Error::SsmNoRegion);
        }
        let out = aws_sdk_ssm::Client::new(&sdk)
            .get_parameter()
            .name(parameter)
            .send()
            .await
            .map_err(|e| Error::SsmRead {
                parameter: parameter.to_owned(),
                source: Box::new(e),
            })?;
        let value = out
            .parameter()
            .and_then(|p| p.value())
            .unwrap_or_default()
            .to_owned();
        parse_bool(&value).ok_or(Error::SsmBadValue {
            parameter: parameter.to_owned(),
            value,
        })
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| {
            Err(Error::SsmTimeout {
                parameter: parameter.to_owned(),
                timeout,
            })
        })
}

/// Displays an error with its sources, `a: b: c`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}
