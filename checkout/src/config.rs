//! Settings read from the environment at start, validated once.

use std::time::Duration;

use crate::Error;

/// The SSM parameter the runbook flips to turn degraded mode on.
pub const DEFAULT_SSM_PARAMETER: &str = "/checkout/degraded_mode";

/// The largest `LATENCY_MS` accepted (one minute).
pub const MAX_LATENCY_MS: u64 = 60_000;

/// The chaos knobs: what the service does to itself on purpose.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Chaos {
    /// Added to every `POST /checkout` before it is answered (`LATENCY_MS`).
    pub latency: Duration,
    /// Share of `POST /checkout` answered with 500, 0.0 to 1.0 (`ERROR_RATE`).
    pub error_rate: f64,
    /// Skip the optional work, e.g. recommendations (`DEGRADED_MODE` or SSM).
    pub degraded: bool,
}

/// Everything the binary reads from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Listen port for every endpoint, metrics included (`PORT`, default 8080).
    pub port: u16,
    /// `LATENCY_MS`, default 0.
    pub latency: Duration,
    /// `ERROR_RATE`, default 0.0.
    pub error_rate: f64,
    /// `DEGRADED_MODE` when set; it wins over SSM.
    pub degraded_mode: Option<bool>,
    /// SSM parameter to read degraded mode from when `DEGRADED_MODE` is unset
    /// (`DEGRADED_MODE_SSM_PARAMETER`, default [`DEFAULT_SSM_PARAMETER`]; empty turns the read off).
    pub ssm_parameter: Option<String>,
    /// Bound on the whole SSM read (`SSM_TIMEOUT_MS`, default 2000).
    pub ssm_timeout: Duration,
    /// How long to keep serving with readiness false after SIGTERM, so load balancers stop
    /// sending first (`SHUTDOWN_DELAY_MS`, default 5000).
    pub shutdown_delay: Duration,
    /// Bound on waiting for in-flight requests after the delay (`SHUTDOWN_TIMEOUT_MS`, default 20000).
    pub shutdown_timeout: Duration,
    /// Seed for the chaos random source (`CHAOS_SEED`); random when unset.
    pub chaos_seed: Option<u64>,
    /// `LOG_LEVEL`: error, warn, info (default), debug or trace.
    pub log_level: tracing::Level,
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (tests pass a map). An empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let ms = |name: &'static str, default: u64, max: u64, expected: &'static str| {
            get(name).map_or(Ok(Duration::from_millis(default)), |v| {
                v.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= max)
                    .map(Duration::from_millis)
                    .ok_or(Error::InvalidSetting {
                        name,
                        value: v,
                        expected,
                    })
            })
        };
        let port = get("PORT").map_or(Ok(8080), |v| {
            v.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(Error::InvalidSetting {
                    name: "PORT",
                    value: v,
                    expected: "a port number from 1 to 65535",
                })
        })?;
        let latency = ms(
            "LATENCY_MS",
            0,
            MAX_LATENCY_MS,
            "a whole number of milliseconds from 0 to 60000",
        )?;
        let error_rate = get("ERROR_RATE").map_or(Ok(0.0), |v| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or(Error::InvalidSetting {
                    name: "ERROR_RATE",
                    value: v,
                    expected: "a number from 0.0 to 1.0",
                })
        })?;
        let degraded_mode = get("DEGRADED_MODE")
            .map(|v| {
                parse_bool(&v).ok_or(Error::InvalidSetting {
                    name: "DEGRADED_MODE",
                    value: v,
                    expected: "true or false",
                })
            })
            .transpose()?;
        let ssm_parameter = match lookup("DEGRADED_MODE_SSM_PARAMETER") {
            None => Some(DEFAULT_SSM_PARAMETER.to_owned()),
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(v.trim().to_owned()),
        };
        let ssm_timeout = ms(
            "SSM_TIMEOUT_MS",
            2_000,
            60_000,
            "a whole number of milliseconds from 0 to 60000",
        )?;
        let shutdown_delay = ms(
            "SHUTDOWN_DELAY_MS",
            5_000,
            300_000,
            "a whole number of milliseconds from 0 to 300000",
        )?;
        let shutdown_timeout = ms(
            "SHUTDOWN_TIMEOUT_MS",
            20_000,
            300_000,
            "a whole number of milliseconds from 0 to 300000",
        )?;
        let chaos_seed = get("CHAOS_SEED")
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| Error::InvalidSetting {
                    name: "CHAOS_SEED",
                    value: v,
                    expected: "a whole number from 0 to 18446744073709551615",
                })
            })
            .transpose()?;
        let log_level = get("LOG_LEVEL").map_or(Ok(tracing::Level::INFO), |v| {
            v.trim()
                .parse::<tracing::Level>()
                .map_err(|_| Error::InvalidSetting {
                    name: "LOG_LEVEL",
                    value: v,
                    expected: "one of error, warn, info, debug, trace",
                })
        })?;
        Ok(Self {
            port,
            latency,
            error_rate,
            degraded_mode,
            ssm_parameter,
            ssm_timeout,
            shutdown_delay,
            shutdown_timeout,
            chaos_seed,
            log_level,
        })
    }

    /// The chaos knobs, with degraded mode as resolved (environment, SSM or default).
    #[must_use]
    pub fn chaos(&self, degraded: bool) -> Chaos {
        Chaos {
            latency: self.latency,
            error_rate: self.error_rate,
            degraded,
        }
    }
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), any case.
#[must_use]
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(c.degraded_mode, None);
        assert_eq!(c.ssm_parameter.as_deref(), Some(DEFAULT_SSM_PARAMETER));
        assert_eq!(c.ssm_timeout, Duration::from_secs(2));
    }

    #[test]
    fn knobs_parse() {
        let c = config(&[
            ("LATENCY_MS", "400"),
            ("ERROR_RATE", "0.05"),
            ("DEGRADED_MODE", "TRUE"),
            ("DEGRADED_MODE_SSM_PARAMETER", ""),
            ("PORT", "9000"),
        ])
        .unwrap();
        assert_eq!(c.latency, Duration::from_millis(400));
        assert_eq!(c.error_rate, 0.05);
        assert_eq!(c.degraded_mode, Some(true));
        assert_eq!(c.ssm_parameter, None);
        assert_eq!(c.port, 9000);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = config(&[("LATENCY_MS", ""), ("DEGRADED_MODE", " ")]).unwrap();
        assert_eq!(c.latency, Duration::ZERO);
        assert_eq!(c.degraded_mode, None);
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
                "PORT=\"0\": expected a port number from 1 to 65535",
            ),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.to_string(), expected);
        }
    }
}
