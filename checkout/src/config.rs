//! Settings read from the environment at start, validated once.
//!
//! Every variable is declared in the shared runtime contract
//! ([`platform_contract::runtime::checkout`]: name, type, bounds, default, who sets it)
//! and read only through it, so the service reads nothing the deployment generator does not
//! know, and a bad value is reported in the contract's words:
//! `ERROR_RATE="1.5": expected a number from 0.0 to 1.0`.

use std::time::Duration;

use platform_contract::runtime::{Var, VarError, checkout as vars};

use crate::Error;

/// The chaos knobs: what the service does to itself on purpose.
///
/// Two failure rates, because degraded mode is a remedy for one and not the other: the optional
/// work (recommendations) fails at `error_rate` and degraded mode skips it, so turning degraded
/// mode on ends those errors; the core path fails at `core_error_rate` in either mode.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Chaos {
    /// Added to every `POST /checkout` before it is answered (`LATENCY_MS`).
    pub latency: Duration,
    /// Share of valid orders whose optional work (recommendations) fails, answered with 500,
    /// 0.0 to 1.0 (`ERROR_RATE`). Not rolled in degraded mode, which skips that work.
    pub error_rate: f64,
    /// Share of `POST /checkout` failing in the core path, answered with 500, 0.0 to 1.0
    /// (`CORE_ERROR_RATE`); rolled in either mode.
    pub core_error_rate: f64,
    /// Skip the optional work, e.g. recommendations (`DEGRADED_MODE` or SSM). The value at
    /// start: [`AppState`](crate::AppState) holds the live one, which the SSM refresh changes.
    pub degraded: bool,
}

/// Everything the binary reads from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Listen port for every endpoint, metrics included (`PORT`).
    pub port: u16,
    /// `LATENCY_MS`.
    pub latency: Duration,
    /// `ERROR_RATE`.
    pub error_rate: f64,
    /// `CORE_ERROR_RATE`.
    pub core_error_rate: f64,
    /// `DEGRADED_MODE` when set: a local-only override; it wins over SSM and turns the refresh
    /// off.
    pub degraded_mode: Option<bool>,
    /// SSM parameter holding degraded mode (`DEGRADED_MODE_SSM_PARAMETER`); unset or empty turns
    /// the SSM read (at start and while serving) off.
    pub ssm_parameter: Option<String>,
    /// How often the SSM parameter is read again while serving
    /// (`DEGRADED_MODE_REFRESH_SECONDS`).
    pub degraded_refresh: Duration,
    /// Bound on one SSM read, configuration and credentials included (`SSM_TIMEOUT_MS`).
    pub ssm_timeout: Duration,
    /// The SSM parameter's region (`AWS_REGION`); unset: the AWS SDK's default chain.
    pub aws_region: Option<String>,
    /// How long to keep serving with readiness false after SIGTERM, so load balancers stop
    /// sending first (`SHUTDOWN_DELAY_MS`).
    pub shutdown_delay: Duration,
    /// Bound on waiting for in-flight requests after the delay (`SHUTDOWN_TIMEOUT_MS`).
    pub shutdown_timeout: Duration,
    /// Seed for the chaos random source (`CHAOS_SEED`); random when unset.
    pub chaos_seed: Option<u64>,
    /// Loopback port of the chaos control endpoint (`CHAOS_CONTROL_PORT`, local runs only);
    /// unset: no control endpoint.
    pub chaos_control_port: Option<u16>,
    /// `LOG_LEVEL`: error, warn, info, debug or trace.
    pub log_level: tracing::Level,
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (tests pass a map). An empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let lookup: &dyn Fn(&str) -> Option<String> = &lookup;
        let port = with_default(&vars::PORT, vars::PORT.integer(lookup)?)?;
        let port = u16::try_from(port).map_err(|_| invalid(&vars::PORT, &port.to_string()))?;
        let chaos_control_port = vars::CHAOS_CONTROL_PORT
            .integer(lookup)?
            .map(|control| {
                u16::try_from(control)
                    .ok()
                    .filter(|control| *control != port)
                    .ok_or_else(|| VarError::Invalid {
                        name: vars::CHAOS_CONTROL_PORT.name,
                        value: control.to_string(),
                        expected: format!(
                            "{}, other than PORT ({port})",
                            vars::CHAOS_CONTROL_PORT.kind.expected()
                        ),
                    })
            })
            .transpose()?;
        let log_level = with_default(&vars::LOG_LEVEL, vars::LOG_LEVEL.read(lookup))?;
        let log_level = log_level
            .parse::<tracing::Level>()
            .map_err(|_| invalid(&vars::LOG_LEVEL, &log_level))?;
        Ok(Self {
            port,
            latency: duration(&vars::LATENCY_MS, lookup)?,
            error_rate: with_default(&vars::ERROR_RATE, vars::ERROR_RATE.ratio(lookup)?)?,
            core_error_rate: with_default(
                &vars::CORE_ERROR_RATE,
                vars::CORE_ERROR_RATE.ratio(lookup)?,
            )?,
            degraded_mode: vars::DEGRADED_MODE.bool(lookup)?,
            ssm_parameter: vars::DEGRADED_MODE_SSM_PARAMETER.read(lookup),
            degraded_refresh: duration(&vars::DEGRADED_MODE_REFRESH_SECONDS, lookup)?,
            ssm_timeout: duration(&vars::SSM_TIMEOUT_MS, lookup)?,
            aws_region: vars::AWS_REGION.read(lookup),
            shutdown_delay: duration(&vars::SHUTDOWN_DELAY_MS, lookup)?,
            shutdown_timeout: duration(&vars::SHUTDOWN_TIMEOUT_MS, lookup)?,
            chaos_seed: vars::CHAOS_SEED.integer(lookup)?,
            chaos_control_port,
            log_level,
        })
    }

    /// The chaos knobs, with degraded mode as resolved at start (environment, SSM or default).
    #[must_use]
    pub fn chaos(&self, degraded: bool) -> Chaos {
        Chaos {
            latency: self.latency,
            error_rate: self.error_rate,
            core_error_rate: self.core_error_rate,
            degraded,
        }
    }
}

/// A duration variable that has a default in the contract.
fn duration(var: &Var, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Duration, VarError> {
    with_default(var, var.duration(lookup)?)
}

/// The value, or an error naming the variable when it is unset and the contract declares no
/// default for it (the readers already return the default when there is one).
fn with_default<T>(var: &Var, value: Option<T>) -> Result<T, VarError> {
    value.ok_or(VarError::Missing {
        name: var.name,
        doc: var.doc,
    })
}

/// The contract's error for a value of `var` the service cannot use.
fn invalid(var: &Var, value: &str) -> VarError {
    VarError::Invalid {
        name: var.name,
        value: value.to_owned(),
        expected: var.kind.expected(),
    }
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), any case: the contract's reading, also
/// applied to the SSM parameter's value.
#[must_use]
pub fn parse_bool(value: &str) -> Option<bool> {
    platform_contract::runtime::parse_bool(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform_contract::runtime::{Kind, Setter};
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.latency, Duration::ZERO);
        assert_eq!(c.error_rate, 0.0);
        assert_eq!(c.core_error_rate, 0.0);
        assert_eq!(c.degraded_mode, None);
        assert_eq!(c.ssm_parameter, None, "no default parameter: SSM off");
        assert_eq!(c.degraded_refresh, Duration::from_secs(15));
        assert_eq!(c.ssm_timeout, Duration::from_secs(2));
        assert_eq!(c.aws_region, None);
        assert_eq!(c.shutdown_delay, Duration::from_secs(5));
        assert_eq!(c.shutdown_timeout, Duration::from_secs(20));
        assert_eq!(c.chaos_seed, None);
        assert_eq!(
            c.chaos_control_port, None,
            "no control endpoint unless asked"
        );
        assert_eq!(c.log_level, tracing::Level::INFO);
    }

    #[test]
    fn knobs_parse() {
        let c = config(&[
            ("LATENCY_MS", "400"),
            ("ERROR_RATE", "0.05"),
            ("CORE_ERROR_RATE", "1"),
            ("CHAOS_CONTROL_PORT", "9001"),
            ("DEGRADED_MODE", "TRUE"),
            (
                "DEGRADED_MODE_SSM_PARAMETER",
                " /dev/checkout/degraded_mode ",
            ),
            ("DEGRADED_MODE_REFRESH_SECONDS", "1"),
            ("AWS_REGION", "eu-west-1"),
            ("PORT", "9000"),
            ("CHAOS_SEED", "18446744073709551615"),
            ("LOG_LEVEL", "debug"),
        ])
        .unwrap();
        assert_eq!(c.latency, Duration::from_millis(400));
        assert_eq!(c.error_rate, 0.05);
        assert_eq!(c.core_error_rate, 1.0);
        assert_eq!(c.chaos_control_port, Some(9001));
        let chaos = c.chaos(false);
        assert_eq!(
            (chaos.latency, chaos.error_rate, chaos.core_error_rate),
            (Duration::from_millis(400), 0.05, 1.0)
        );
        assert_eq!(c.degraded_mode, Some(true));
        assert_eq!(
            c.ssm_parameter.as_deref(),
            Some("/dev/checkout/degraded_mode")
        );
        assert_eq!(c.degraded_refresh, Duration::from_secs(1));
        assert_eq!(c.aws_region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.port, 9000);
        assert_eq!(c.chaos_seed, Some(u64::MAX));
        assert_eq!(c.log_level, tracing::Level::DEBUG);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = config(&[
            ("LATENCY_MS", ""),
            ("DEGRADED_MODE", " "),
            ("DEGRADED_MODE_SSM_PARAMETER", ""),
        ])
        .unwrap();
        assert_eq!(c.latency, Duration::ZERO);
        assert_eq!(c.degraded_mode, None);
        assert_eq!(c.ssm_parameter, None);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value, expected) in [
            (
                "ERROR_RATE",
                "1.5",
                "ERROR_RATE=\"1.5\": expected a number from 0.0 to 1.0",
            ),
            (
                "ERROR_RATE",
                "NaN",
                "ERROR_RATE=\"NaN\": expected a number from 0.0 to 1.0",
            ),
            (
                "ERROR_RATE",
                "-0.1",
                "ERROR_RATE=\"-0.1\": expected a number from 0.0 to 1.0",
            ),
            (
                "CORE_ERROR_RATE",
                "2",
                "CORE_ERROR_RATE=\"2\": expected a number from 0.0 to 1.0",
            ),
            (
                "CHAOS_CONTROL_PORT",
                "0",
                "CHAOS_CONTROL_PORT=\"0\": expected a whole number from 1 to 65535",
            ),
            (
                "CHAOS_CONTROL_PORT",
                "8080",
                "CHAOS_CONTROL_PORT=\"8080\": expected a whole number from 1 to 65535, other than PORT (8080)",
            ),
            (
                "LATENCY_MS",
                "-5",
                "LATENCY_MS=\"-5\": expected a whole number of milliseconds from 0 to 60000",
            ),
            (
                "LATENCY_MS",
                "400ms",
                "LATENCY_MS=\"400ms\": expected a whole number of milliseconds from 0 to 60000",
            ),
            (
                "DEGRADED_MODE",
                "maybe",
                "DEGRADED_MODE=\"maybe\": expected true or false",
            ),
            (
                "PORT",
                "0",
                "PORT=\"0\": expected a whole number from 1 to 65535",
            ),
            (
                "DEGRADED_MODE_REFRESH_SECONDS",
                "0",
                "DEGRADED_MODE_REFRESH_SECONDS=\"0\": expected a whole number of seconds from 1 to 3600",
            ),
            (
                "LOG_LEVEL",
                "loud",
                "LOG_LEVEL=\"loud\": expected one of error, warn, info, debug, trace",
            ),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.to_string(), expected);
        }
    }

    /// Every variable the contract declares for checkout is read: a value of the wrong type is
    /// refused naming it, a text value arrives in the settings.
    #[test]
    fn every_contract_variable_is_read() {
        for var in vars::ALL {
            match var.kind {
                Kind::Text | Kind::List => {
                    let c = config(&[(var.name, "some-text")]).unwrap();
                    let seen = [c.ssm_parameter.as_deref(), c.aws_region.as_deref()];
                    assert!(
                        seen.contains(&Some("some-text")),
                        "{} is not read",
                        var.name
                    );
                }
                _ => {
                    let err = config(&[(var.name, "not-a-value")]).unwrap_err();
                    assert!(
                        err.to_string().starts_with(&format!("{}=", var.name)),
                        "{} is not read: {err}",
                        var.name
                    );
                }
            }
        }
    }

    /// The control endpoint is never deployed: synth's builder refuses its port.
    #[test]
    fn a_deployment_cannot_set_the_control_port() {
        use platform_contract::runtime::{Binary, EnvBuilder};
        let err = EnvBuilder::<String>::new(Binary::Checkout)
            .set(&vars::CHAOS_CONTROL_PORT, "9090")
            .unwrap_err();
        assert!(err.to_string().contains("local runs only"), "{err}");
        let env = EnvBuilder::<String>::new(Binary::Checkout)
            .set(&vars::CORE_ERROR_RATE, "0.5")
            .unwrap();
        assert!(
            env.set(&vars::CORE_ERROR_RATE, "1.5").is_err(),
            "bounds checked"
        );
    }

    /// The README's table lists every contract variable with the contract's default and setter.
    #[test]
    fn readme_table_matches_the_contract() {
        let readme = include_str!("../README.md");
        for var in vars::ALL {
            let prefix = format!("| `{}` |", var.name);
            let row = readme
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("README.md has no row for {}", var.name));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert_eq!(cells[2], var.default.unwrap_or("unset"), "{row}");
            let setter = match var.setter {
                Setter::Deploy { required: true } => "Deployment (required)",
                Setter::Deploy { required: false } => "Deployment (optional)",
                Setter::Runtime => "runtime",
                Setter::LocalOnly => "local only",
            };
            assert_eq!(cells[3], setter, "{row}");
        }
    }
}
