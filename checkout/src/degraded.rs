//! Where degraded mode comes from, and how it follows the SSM flag while serving.
//!
//! At start: `DEGRADED_MODE` when set (a local-only override: the contract marks it so and the
//! Deployment never sets it), else the SSM parameter named by `DEGRADED_MODE_SSM_PARAMETER`,
//! else off. Unset or empty, that variable turns the SSM read off (logged at start).
//!
//! While serving, the parameter is read again every `DEGRADED_MODE_REFRESH_SECONDS` (each read
//! bounded by `SSM_TIMEOUT_MS`), and the live value in [`AppState`] follows it: the
//! `checkout_degraded_mode_enabled` gauge and `POST /checkout` (recommendations skipped,
//! `degraded` field) change without a restart, and each change logs one info line (previous
//! and new value, source `ssm`). The runbook's `enable_degraded_mode` writes the parameter and
//! the pods pick it up within the refresh interval; no restart is needed, and none is wanted
//! (restarting every pod during an incident adds risk). A human turns it off again the same way:
//! `aws ssm put-parameter --name <parameter> --value false --overwrite`, picked up within the
//! interval; until then the `CheckoutDegradedMode` alert keeps notifying.
//!
//! SSM trouble never stops the service and never flaps the mode: at start a failed read logs a
//! warning and starts off (the refresh keeps trying, except without a region, which cannot
//! change); a failed refresh logs a warning and keeps the last known value. With
//! `DEGRADED_MODE` set no refresh runs. The refresh stops on shutdown.

use std::{future::Future, time::Duration};

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use tokio::{
    sync::OnceCell,
    time::{Instant, MissedTickBehavior},
};

use crate::{AppState, Config, Error, config::parse_bool};

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

/// Degraded mode at start, and the SSM flag to follow while serving.
#[derive(Debug)]
pub struct Resolved {
    /// The value at start.
    pub degraded: bool,
    /// Where it came from.
    pub source: Source,
    /// The flag to re-read while serving ([`follow`]); `None` when `DEGRADED_MODE` is set, the
    /// SSM read is off, or no region is configured.
    pub follow: Option<SsmFlag>,
}

/// Resolves degraded mode at start. Never fails: SSM errors are logged as warnings.
pub async fn resolve(config: &Config) -> Resolved {
    if let Some(on) = config.degraded_mode {
        tracing::info!(
            degraded_mode = on,
            source = "environment",
            "degraded mode from DEGRADED_MODE (local override); SSM not read, no refresh"
        );
        return Resolved {
            degraded: on,
            source: Source::Environment,
            follow: None,
        };
    }
    let Some(parameter) = config.ssm_parameter.clone() else {
        tracing::info!(
            degraded_mode = false,
            source = "default",
            "DEGRADED_MODE_SSM_PARAMETER unset: SSM read off, degraded mode off"
        );
        return Resolved {
            degraded: false,
            source: Source::Default,
            follow: None,
        };
    };
    let flag = SsmFlag::new(parameter, config.ssm_timeout, config.aws_region.clone());
    let parameter = flag.parameter();
    let refresh_seconds = config.degraded_refresh.as_secs();
    match flag.read().await {
        Ok(on) => {
            tracing::info!(
                degraded_mode = on,
                source = "ssm",
                parameter,
                refresh_seconds,
                "degraded mode from SSM, read again while serving"
            );
            Resolved {
                degraded: on,
                source: Source::Ssm,
                follow: Some(flag),
            }
        }
        Err(error @ Error::SsmNoRegion) => {
            tracing::warn!(
                degraded_mode = false,
                source = "default",
                parameter,
                error = %ErrorChain(&error),
                "SSM unavailable, falling back to the environment (DEGRADED_MODE unset: off); \
                 no refresh without a region"
            );
            Resolved {
                degraded: false,
                source: Source::Default,
                follow: None,
            }
        }
        Err(error) => {
            tracing::warn!(
                degraded_mode = false,
                source = "default",
                parameter,
                refresh_seconds,
                error = %ErrorChain(&error),
                "SSM unavailable, falling back to the environment (DEGRADED_MODE unset: off); \
                 the refresh keeps trying"
            );
            Resolved {
                degraded: false,
                source: Source::Default,
                follow: Some(flag),
            }
        }
    }
}

/// A boolean SSM parameter, read with the default AWS configuration (credentials from the
/// environment, EKS Pod Identity or IRSA, `AWS_ENDPOINT_URL` honoured; the region from
/// `AWS_REGION` or the SDK's default chain). The client is made on the first read and kept, so
/// credentials are cached across refreshes.
#[derive(Debug)]
pub struct SsmFlag {
    parameter: String,
    timeout: Duration,
    region: Option<String>,
    client: OnceCell<aws_sdk_ssm::Client>,
}

impl SsmFlag {
    /// The flag `parameter`, each read bounded by `timeout` as a whole; `region` overrides the
    /// SDK's default chain.
    #[must_use]
    pub fn new(parameter: String, timeout: Duration, region: Option<String>) -> Self {
        Self {
            parameter,
            timeout,
            region,
            client: OnceCell::new(),
        }
    }

    /// The parameter's name.
    #[must_use]
    pub fn parameter(&self) -> &str {
        &self.parameter
    }

    /// Reads the parameter: `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`). Bounded by
    /// the timeout as a whole (configuration, credentials and the call).
    pub async fn read(&self) -> Result<bool, Error> {
        let parameter = self.parameter.as_str();
        let read = async {
            let client = self.client.get_or_try_init(|| self.connect()).await?;
            let out = client
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
        tokio::time::timeout(self.timeout, read)
            .await
            .unwrap_or_else(|_| {
                Err(Error::SsmTimeout {
                    parameter: parameter.to_owned(),
                    timeout: self.timeout,
                })
            })
    }

    async fn connect(&self) -> Result<aws_sdk_ssm::Client, Error> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(self.timeout)
                    .operation_timeout(self.timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(2));
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(Error::SsmNoRegion);
        }
        Ok(aws_sdk_ssm::Client::new(&sdk))
    }
}

/// Reads a boolean SSM parameter once (a fresh client), bounded by `timeout` as a whole.
pub async fn read_ssm(parameter: &str, timeout: Duration) -> Result<bool, Error> {
    SsmFlag::new(parameter.to_owned(), timeout, None)
        .read()
        .await
}

/// Follows `flag` until `stop` resolves: reads it every `every` and sets `state`'s degraded
/// mode (and its gauge) to the value read; see the [module docs](self).
pub async fn follow(
    state: &AppState,
    flag: &SsmFlag,
    every: Duration,
    stop: impl Future<Output = ()>,
) {
    refresh(state, flag.parameter(), every, || flag.read(), stop).await;
}

/// The refresh loop of [`follow`], with the read as a closure (tests script it). The first read
/// is one period after the call (the start already read the flag). A read in progress when
/// `stop` resolves is dropped.
pub async fn refresh<R, F>(
    state: &AppState,
    parameter: &str,
    every: Duration,
    mut read: R,
    stop: impl Future<Output = ()>,
) where
    R: FnMut() -> F,
    F: Future<Output = Result<bool, Error>>,
{
    let work = async {
        let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failures: u64 = 0;
        loop {
            ticks.tick().await;
            match read().await {
                Ok(on) => {
                    if failures > 0 {
                        tracing::info!(parameter, failures, "SSM refresh works again");
                        failures = 0;
                    }
                    let previous = state.set_degraded(on);
                    if previous != on {
                        tracing::info!(
                            degraded_mode = on,
                            previous,
                            source = "ssm",
                            parameter,
                            "degraded mode changed: {} -> {}",
                            on_off(previous),
                            on_off(on)
                        );
                    }
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!(
                        degraded_mode = state.is_degraded(),
                        source = "ssm",
                        parameter,
                        consecutive_failures = failures,
                        error = %ErrorChain(&error),
                        "SSM refresh failed, keeping the last known degraded mode"
                    );
                }
            }
        }
    };
    tokio::select! {
        () = stop => {}
        () = work => {}
    }
    tracing::info!(parameter, "degraded-mode refresh stopped");
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Chaos;
    use tokio::sync::{mpsc, oneshot};

    /// A read the test answers step by step: each call announces itself on `calls`, then waits
    /// for its answer on `answers`.
    struct Script {
        calls: mpsc::UnboundedSender<()>,
        answers: tokio::sync::Mutex<mpsc::UnboundedReceiver<Result<bool, Error>>>,
    }

    impl Script {
        async fn read(&self) -> Result<bool, Error> {
            let _ = self.calls.send(());
            match self.answers.lock().await.recv().await {
                Some(answer) => answer,
                None => std::future::pending().await,
            }
        }
    }

    fn gauge(state: &AppState) -> bool {
        state
            .metrics()
            .render()
            .lines()
            .any(|l| l == "checkout_degraded_mode_enabled 1")
    }

    #[tokio::test]
    async fn the_loop_follows_the_flag_keeps_it_on_errors_and_stops() {
        let state = AppState::with_seed(Chaos::default(), 1);
        let (calls_tx, mut calls) = mpsc::unbounded_channel();
        let (answer, answers) = mpsc::unbounded_channel();
        let script = Script {
            calls: calls_tx,
            answers: tokio::sync::Mutex::new(answers),
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = {
            let state = state.clone();
            tokio::spawn(async move {
                refresh(
                    &state,
                    "/test/degraded_mode",
                    Duration::from_millis(5),
                    || script.read(),
                    async {
                        let _ = stop_rx.await;
                    },
                )
                .await;
            })
        };
        // An answer is applied before the next read starts: the next call says it was.
        calls.recv().await.unwrap();
        assert!(!state.is_degraded());
        answer.send(Ok(true)).unwrap();
        calls.recv().await.unwrap();
        assert!(state.is_degraded(), "on after a true read");
        assert!(state.chaos().degraded);
        assert!(gauge(&state), "the gauge follows");
        answer
            .send(Err(Error::SsmTimeout {
                parameter: "/test/degraded_mode".into(),
                timeout: Duration::from_secs(2),
            }))
            .unwrap();
        calls.recv().await.unwrap();
        assert!(state.is_degraded(), "an error keeps the last known value");
        assert!(gauge(&state));
        answer.send(Ok(false)).unwrap();
        calls.recv().await.unwrap();
        assert!(!state.is_degraded(), "off after a false read");
        assert!(!gauge(&state));

        // A read is in progress (never answered): stopping drops it and ends the loop.
        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the loop stops")
            .unwrap();
    }
}
