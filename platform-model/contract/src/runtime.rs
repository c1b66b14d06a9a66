//! Runtime configuration: every environment variable a platform binary reads, declared once.
//!
//! The binaries (`alert_ingest`, `runbook_action`, `checkout`) read their environment only
//! through these declarations ([`Var::read`] and its typed siblings), and synth writes a
//! function's `Environment` or a Deployment's `env` only through an [`EnvBuilder`], which refuses
//! a variable the binary does not declare, a variable synth must not set (one the platform's
//! runtime sets, or one meant for local runs only, like checkout's `DEGRADED_MODE`), and a
//! missing required one. So a binary cannot read a variable the generator does not know, and the
//! generator cannot write one no binary reads. The whole-output seam test checks the generated
//! files against the same declarations.
//!
//! ```
//! use platform_contract::runtime::{Binary, EnvBuilder, alert_ingest, checkout};
//!
//! let env = EnvBuilder::<String>::new(Binary::AlertIngest)
//!     .set(&alert_ingest::EVENT_BUS_NAME, "sre-platform-events")?
//!     .set(&alert_ingest::WEBHOOK_TOKEN_SECRET_ARN, "arn:aws:secretsmanager:...")?
//!     .build()?;
//! assert_eq!(env["EVENT_BUS_NAME"], "sre-platform-events");
//!
//! // checkout's DEGRADED_MODE wins over SSM, so the cluster must never set it.
//! let err = EnvBuilder::<String>::new(Binary::Checkout).set(&checkout::DEGRADED_MODE, "true").unwrap_err();
//! assert!(err.to_string().contains("local runs only"));
//! # Ok::<(), platform_contract::runtime::RuntimeError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A binary of the workspace that reads runtime configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Binary {
    /// The `alert_ingest` Lambda function.
    AlertIngest,
    /// The `runbook_action` Lambda function.
    RunbookAction,
    /// The checkout service (a Deployment).
    Checkout,
    /// The `approval` Lambda function.
    Approval,
}

impl Binary {
    /// Every binary.
    pub const ALL: [Binary; 4] = [
        Binary::AlertIngest,
        Binary::RunbookAction,
        Binary::Checkout,
        Binary::Approval,
    ];

    /// The binary's name (also its Lambda asset's name).
    pub const fn name(self) -> &'static str {
        match self {
            Binary::AlertIngest => "alert_ingest",
            Binary::RunbookAction => "runbook_action",
            Binary::Checkout => "checkout",
            Binary::Approval => "approval",
        }
    }

    /// Every variable the binary reads.
    pub const fn vars(self) -> &'static [Var] {
        match self {
            Binary::AlertIngest => alert_ingest::ALL,
            Binary::RunbookAction => runbook_action::ALL,
            Binary::Checkout => checkout::ALL,
            Binary::Approval => approval::ALL,
        }
    }

    /// The binary's variable of that name.
    pub fn var(self, name: &str) -> Option<&'static Var> {
        self.vars().iter().find(|v| v.name == name)
    }

    /// The binary of that name.
    pub fn from_name(name: &str) -> Option<Binary> {
        Binary::ALL.into_iter().find(|b| b.name() == name)
    }
}

impl fmt::Display for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who sets a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setter {
    /// synth writes it into the deployment (the function's `Environment`, the container's `env`).
    Deploy {
        /// The generated deployment must set it.
        required: bool,
    },
    /// The platform's runtime sets it (Lambda reserves `AWS_REGION`, ...): synth never writes it.
    Runtime,
    /// Only for local runs and tests; synth refuses to write it.
    LocalOnly,
}

/// The type of a variable's value, with its bounds: what [`Var`]'s typed readers accept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Any non-empty text (a name, an ARN, a URL).
    Text,
    /// A whole number in `min..=max`.
    Integer {
        /// Smallest accepted.
        min: u64,
        /// Largest accepted.
        max: u64,
    },
    /// A whole number of seconds in `min..=max`.
    Seconds {
        /// Smallest accepted.
        min: u64,
        /// Largest accepted.
        max: u64,
    },
    /// A whole number of milliseconds in `min..=max`.
    Millis {
        /// Smallest accepted.
        min: u64,
        /// Largest accepted.
        max: u64,
    },
    /// A number from 0.0 to 1.0.
    Ratio,
    /// `true` / `false` (also `1`/`0`, `yes`/`no`, `on`/`off`, any case).
    Bool,
    /// A comma-separated list of names.
    List,
    /// A log level: `error`, `warn`, `info`, `debug` or `trace`.
    LogLevel,
    /// A log filter (`info`, `lambdas=debug,info`), as `RUST_LOG` takes.
    LogFilter,
}

impl Kind {
    /// What a value of this kind looks like, for error messages.
    pub fn expected(self) -> String {
        match self {
            Kind::Text => "a non-empty value".into(),
            Kind::Integer { min, max } => format!("a whole number from {min} to {max}"),
            Kind::Seconds { min, max } => format!("a whole number of seconds from {min} to {max}"),
            Kind::Millis { min, max } => {
                format!("a whole number of milliseconds from {min} to {max}")
            }
            Kind::Ratio => "a number from 0.0 to 1.0".into(),
            Kind::Bool => "true or false".into(),
            Kind::List => "a comma-separated list of names".into(),
            Kind::LogLevel => "one of error, warn, info, debug, trace".into(),
            Kind::LogFilter => "a log filter such as info or lambdas=debug,info".into(),
        }
    }
}

/// One environment variable of one binary: its name, type, default, meaning and who sets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Var {
    /// The variable's name.
    pub name: &'static str,
    /// The binary that reads it.
    pub binary: Binary,
    /// Its type and bounds.
    pub kind: Kind,
    /// The value the binary uses when it is unset (`None`: required, or no value means off).
    pub default: Option<&'static str>,
    /// What it means.
    pub doc: &'static str,
    /// Who sets it.
    pub setter: Setter,
}

/// A variable's value does not parse, or a required one is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    /// A required variable is unset.
    #[error("{name}: missing ({doc})")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What it means.
        doc: &'static str,
    },
    /// A value the binary cannot use.
    #[error("{name}={value:?}: expected {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// The value found.
        value: String,
        /// What was expected.
        expected: String,
    },
}

impl Var {
    /// The raw value through `lookup` (tests pass a map; binaries [`std::env::var`]); an empty
    /// or blank value counts as unset.
    pub fn raw(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        lookup(self.name).filter(|v| !v.trim().is_empty())
    }

    /// The value from the process environment, or the declared default.
    pub fn get(&self) -> Option<String> {
        self.read(&|n| std::env::var(n).ok())
    }

    /// The value, or the declared default.
    pub fn read(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        self.raw(lookup)
            .map(|v| v.trim().to_owned())
            .or_else(|| self.default.map(str::to_owned))
    }

    /// The value (or default); an error naming the variable when there is neither.
    pub fn required(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, VarError> {
        self.read(lookup).ok_or(VarError::Missing {
            name: self.name,
            doc: self.doc,
        })
    }

    fn invalid(&self, value: &str) -> VarError {
        VarError::Invalid {
            name: self.name,
            value: value.to_owned(),
            expected: self.kind.expected(),
        }
    }

    fn bounded(&self, value: &str) -> Result<u64, VarError> {
        let (min, max) = match self.kind {
            Kind::Integer { min, max } | Kind::Seconds { min, max } | Kind::Millis { min, max } => {
                (min, max)
            }
            _ => (0, u64::MAX),
        };
        value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| self.invalid(value))
    }

    /// A whole number within the declared bounds (the default when unset, `None` without one).
    pub fn integer(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<u64>, VarError> {
        self.read(lookup).map(|v| self.bounded(&v)).transpose()
    }

    /// A duration: [`Kind::Seconds`] or [`Kind::Millis`] within the declared bounds.
    pub fn duration(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Duration>, VarError> {
        let n = self.integer(lookup)?;
        Ok(n.map(|n| match self.kind {
            Kind::Millis { .. } => Duration::from_millis(n),
            _ => Duration::from_secs(n),
        }))
    }

    /// A ratio from 0.0 to 1.0.
    pub fn ratio(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<f64>, VarError> {
        self.read(lookup)
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| self.invalid(&v))
            })
            .transpose()
    }

    /// A boolean.
    pub fn bool(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<bool>, VarError> {
        self.read(lookup)
            .map(|v| parse_bool(&v).ok_or_else(|| self.invalid(&v)))
            .transpose()
    }

    /// A comma-separated list (blank items dropped).
    pub fn list(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Option<Vec<String>> {
        self.read(lookup).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    /// Checks a value synth is about to write against the declared type and bounds.
    pub fn check(&self, value: &str) -> Result<(), VarError> {
        match self.kind {
            Kind::Text | Kind::LogFilter => {
                if value.trim().is_empty() {
                    return Err(self.invalid(value));
                }
            }
            Kind::LogLevel => {
                if !["error", "warn", "info", "debug", "trace"]
                    .contains(&value.trim().to_ascii_lowercase().as_str())
                {
                    return Err(self.invalid(value));
                }
            }
            Kind::Integer { .. } | Kind::Seconds { .. } | Kind::Millis { .. } => {
                self.bounded(value)?;
            }
            Kind::Ratio => {
                value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| self.invalid(value))?;
            }
            Kind::Bool => {
                parse_bool(value).ok_or_else(|| self.invalid(value))?;
            }
            Kind::List => {}
        }
        Ok(())
    }
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), any case.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// synth tried to write an environment the binary would not read as meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// The variable belongs to another binary (or to none).
    #[error("{binary} does not read {name} (it reads: {known})")]
    Unknown {
        /// The binary.
        binary: Binary,
        /// The variable.
        name: String,
        /// The variables it does read.
        known: String,
    },
    /// The variable must not be written by synth.
    #[error("{binary}: {name} must not be set in a deployment: {why}")]
    NotSettable {
        /// The binary.
        binary: Binary,
        /// The variable.
        name: &'static str,
        /// Why.
        why: &'static str,
    },
    /// A required variable was not set.
    #[error("{binary}: required variable {name} is not set ({doc})")]
    MissingRequired {
        /// The binary.
        binary: Binary,
        /// The variable.
        name: &'static str,
        /// What it means.
        doc: &'static str,
    },
    /// A literal value does not parse as the variable's type.
    #[error("{binary}: {source}")]
    BadValue {
        /// The binary.
        binary: Binary,
        /// The problem.
        #[source]
        source: VarError,
    },
}

/// Builds the environment of one binary's deployment; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct EnvBuilder<V> {
    binary: Binary,
    vars: BTreeMap<String, V>,
}

/// A value synth writes: a literal is checked against the variable's type; an expression
/// (resolved at deploy time) is not.
pub trait EnvValue {
    /// The literal text, when the value is one.
    fn literal(&self) -> Option<&str>;
}

impl EnvValue for String {
    fn literal(&self) -> Option<&str> {
        Some(self)
    }
}

impl EnvValue for &str {
    fn literal(&self) -> Option<&str> {
        Some(self)
    }
}

/// A CloudFormation value: a literal is checked, an expression is resolved at deploy time.
#[cfg(feature = "cfn")]
impl EnvValue for platform_cfn::Value<String> {
    fn literal(&self) -> Option<&str> {
        match self {
            platform_cfn::Value::Lit(s) => Some(s),
            platform_cfn::Value::Expr(_) => None,
        }
    }
}

impl<V: EnvValue> EnvBuilder<V> {
    /// An empty environment of `binary`.
    #[must_use]
    pub fn new(binary: Binary) -> Self {
        EnvBuilder {
            binary,
            vars: BTreeMap::new(),
        }
    }

    /// Sets `var` to `value`.
    pub fn set(mut self, var: &Var, value: impl Into<V>) -> Result<Self, RuntimeError> {
        let binary = self.binary;
        if var.binary != binary || binary.var(var.name).is_none() {
            return Err(RuntimeError::Unknown {
                binary,
                name: var.name.to_owned(),
                known: binary
                    .vars()
                    .iter()
                    .map(|v| v.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let why = match var.setter {
            Setter::Deploy { .. } => None,
            Setter::Runtime => Some("the platform's runtime sets it"),
            Setter::LocalOnly => Some("it is for local runs only"),
        };
        if let Some(why) = why {
            return Err(RuntimeError::NotSettable {
                binary,
                name: var.name,
                why,
            });
        }
        let value = value.into();
        if let Some(text) = value.literal() {
            var.check(text)
                .map_err(|source| RuntimeError::BadValue { binary, source })?;
        }
        self.vars.insert(var.name.to_owned(), value);
        Ok(self)
    }

    /// The environment; an error when a required variable is missing.
    pub fn build(self) -> Result<BTreeMap<String, V>, RuntimeError> {
        for var in self.binary.vars() {
            if var.setter == (Setter::Deploy { required: true })
                && !self.vars.contains_key(var.name)
            {
                return Err(RuntimeError::MissingRequired {
                    binary: self.binary,
                    name: var.name,
                    doc: var.doc,
                });
            }
        }
        Ok(self.vars)
    }
}

macro_rules! vars {
    ($binary:expr; $( $(#[$doc:meta])* $id:ident = ($kind:expr, $default:expr, $setter:expr, $what:literal); )*) => {
        $(
            $(#[$doc])*
            #[doc = concat!("\n\n", $what)]
            pub const $id: Var = Var {
                name: stringify!($id),
                binary: $binary,
                kind: $kind,
                default: $default,
                doc: $what,
                setter: $setter,
            };
        )*
        /// Every variable of this binary.
        pub const ALL: &[Var] = &[$($id),*];
    };
}

const DEPLOY: Setter = Setter::Deploy { required: true };
const DEPLOY_OPTIONAL: Setter = Setter::Deploy { required: false };

/// The variables `alert_ingest` reads.
pub mod alert_ingest {
    use super::{DEPLOY, DEPLOY_OPTIONAL, Kind, Setter, Var};

    vars! { super::Binary::AlertIngest;
        /// The bus.
        EVENT_BUS_NAME = (Kind::Text, None, DEPLOY, "the custom event bus alert_ingest puts incident events on");
        /// The token's secret.
        WEBHOOK_TOKEN_SECRET_ARN = (Kind::Text, None, DEPLOY, "the Secrets Manager secret holding the webhook bearer token (the pipeline stack generates it)");
        /// Body cap.
        MAX_BODY_BYTES = (Kind::Integer { min: 1024, max: 10_485_760 }, Some("1048576"), DEPLOY_OPTIONAL, "the largest webhook body accepted (413 above)");
        /// The account.
        AWS_ACCOUNT_ID = (Kind::Text, None, DEPLOY_OPTIONAL, "the account named in events when the API Gateway request context has none");
        /// Logs.
        RUST_LOG = (Kind::LogFilter, Some("info"), DEPLOY_OPTIONAL, "log level or filter (JSON lines)");
        /// Region.
        AWS_REGION = (Kind::Text, None, Setter::Runtime, "the region (Lambda sets it)");
    }
}

/// The variables `runbook_action` reads.
pub mod runbook_action {
    use super::{DEPLOY, DEPLOY_OPTIONAL, Kind, Setter, Var};

    vars! { super::Binary::RunbookAction;
        /// The cluster.
        EKS_CLUSTER_NAME = (Kind::Text, None, DEPLOY, "the EKS cluster: the token's x-k8s-aws-id, and DescribeCluster");
        /// The API server.
        EKS_CLUSTER_ENDPOINT = (Kind::Text, None, DEPLOY_OPTIONAL, "the API server URL; eks:DescribeCluster once per container when unset");
        /// The CA.
        EKS_CLUSTER_CA = (Kind::Text, None, DEPLOY_OPTIONAL, "base64 PEM of the cluster CA, with EKS_CLUSTER_ENDPOINT");
        /// Namespaces.
        ALLOWED_NAMESPACES = (Kind::List, None, DEPLOY, "comma-separated namespaces whose Deployments the actions may change");
        /// Rate limit.
        RATE_LIMIT_SECONDS = (Kind::Seconds { min: 0, max: 86_400 }, Some("600"), DEPLOY_OPTIONAL, "minimum time between actions of different incidents on one target");
        /// The table.
        INCIDENTS_TABLE = (Kind::Text, None, DEPLOY, "the incidents table (the rate-limit items live there)");
        /// Drainable nodes.
        DRAIN_NODE_SELECTOR = (Kind::Text, None, DEPLOY, "label selector (key=value[,key=value]) a node must match for drain_node to touch it");
        /// Cordon cap.
        MAX_CORDONED_NODES = (Kind::Integer { min: 1, max: 100 }, None, DEPLOY, "drain_node refuses when this many nodes are already cordoned");
        /// Drain window.
        DRAIN_TIMEOUT_SECONDS = (Kind::Seconds { min: 1, max: 840 }, None, DEPLOY, "how long drain_node keeps evicting; must end before the function's timeout");
        /// Logs.
        RUST_LOG = (Kind::LogFilter, Some("info"), DEPLOY_OPTIONAL, "log level or filter (JSON lines)");
        /// Region.
        AWS_REGION = (Kind::Text, None, Setter::Runtime, "the region (Lambda sets it)");
    }
}

/// The variables `approval` reads.
pub mod approval {
    use super::{DEPLOY, DEPLOY_OPTIONAL, Kind, Var};

    vars! { super::Binary::Approval;
        /// The table.
        INCIDENTS_TABLE = (Kind::Text, None, DEPLOY, "the incidents table: the pending approval and every decision are written on the incident's record");
        /// The signing key.
        SIGNING_KEY_SECRET_ARN = (Kind::Text, None, DEPLOY, "the Secrets Manager secret whose value signs the approve / deny links (HMAC-SHA256; the pipeline stack generates it)");
        /// The topic.
        NOTIFICATIONS_TOPIC_ARN = (Kind::Text, None, DEPLOY, "the topic people read: the approval request with its links is published there");
        /// The bus.
        EVENT_BUS_NAME = (Kind::Text, None, DEPLOY, "the bus approval.requested and approval.decided go on (the audit log copies them)");
        /// The links' base.
        PUBLIC_URL = (Kind::Text, None, DEPLOY, "the webhook API's public base URL (`https://` and its custom domain): the links point at its approval route");
        /// Logs.
        RUST_LOG = (Kind::LogFilter, Some("info"), DEPLOY_OPTIONAL, "log level or filter (JSON lines)");
    }
}

/// The variables the checkout service reads.
pub mod checkout {
    use super::{DEPLOY, DEPLOY_OPTIONAL, Kind, Setter, Var};

    vars! { super::Binary::Checkout;
        /// Port.
        PORT = (Kind::Integer { min: 1, max: 65_535 }, Some("8080"), DEPLOY, "listen port of every endpoint, /metrics included");
        /// Chaos: latency.
        LATENCY_MS = (Kind::Millis { min: 0, max: 60_000 }, Some("0"), DEPLOY_OPTIONAL, "chaos knob: latency added to every POST /checkout");
        /// Chaos: errors in the optional work.
        ERROR_RATE = (Kind::Ratio, Some("0.0"), DEPLOY_OPTIONAL, "chaos knob: share of POST /checkout whose optional work (recommendations) fails (500); degraded mode skips that work, so it ends these errors");
        /// Chaos: errors in the core path.
        CORE_ERROR_RATE = (Kind::Ratio, Some("0.0"), DEPLOY_OPTIONAL, "chaos knob: share of POST /checkout failing in the core path (500), which degraded mode cannot fix");
        /// Local override of degraded mode.
        DEGRADED_MODE = (Kind::Bool, None, Setter::LocalOnly, "degraded mode for local runs; it wins over SSM, so a deployment must never set it");
        /// The flag's parameter.
        DEGRADED_MODE_SSM_PARAMETER = (Kind::Text, None, DEPLOY, "the SSM parameter holding degraded mode (\"true\"/\"false\"); unset in a local run turns the read off");
        /// Refresh.
        DEGRADED_MODE_REFRESH_SECONDS = (Kind::Seconds { min: 1, max: 3600 }, Some("15"), DEPLOY_OPTIONAL, "how often the SSM flag is read again while serving (no restart needed)");
        /// SSM timeout.
        SSM_TIMEOUT_MS = (Kind::Millis { min: 0, max: 60_000 }, Some("2000"), DEPLOY_OPTIONAL, "bound on one SSM read");
        /// Drain delay.
        SHUTDOWN_DELAY_MS = (Kind::Millis { min: 0, max: 300_000 }, Some("5000"), DEPLOY_OPTIONAL, "how long to keep serving with readiness false after SIGTERM");
        /// Drain bound.
        SHUTDOWN_TIMEOUT_MS = (Kind::Millis { min: 0, max: 300_000 }, Some("20000"), DEPLOY_OPTIONAL, "bound on waiting for in-flight requests after the delay");
        /// Seed.
        CHAOS_SEED = (Kind::Integer { min: 0, max: u64::MAX }, None, Setter::LocalOnly, "seed of the chaos random source (tests); random when unset");
        /// Runtime control of the chaos knobs.
        CHAOS_CONTROL_PORT = (Kind::Integer { min: 1, max: 65_535 }, None, Setter::LocalOnly, "loopback port of the chaos control endpoint (local runs and the loop harness): PUT /chaos changes the knobs while serving; a deployment never sets it");
        /// Logs.
        LOG_LEVEL = (Kind::LogLevel, Some("info"), DEPLOY_OPTIONAL, "error, warn, info, debug or trace");
        /// Region.
        AWS_REGION = (Kind::Text, None, DEPLOY, "the region of the SSM parameter");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn names_are_unique_per_binary_and_defaults_parse() {
        for binary in Binary::ALL {
            let names: BTreeSet<_> = binary.vars().iter().map(|v| v.name).collect();
            assert_eq!(names.len(), binary.vars().len(), "{binary}");
            for var in binary.vars() {
                assert_eq!(var.binary, binary, "{}", var.name);
                if let Some(d) = var.default {
                    var.check(d).unwrap();
                }
            }
        }
    }

    #[test]
    fn builder_refuses_foreign_runtime_and_local_variables() {
        let e = EnvBuilder::<String>::new(Binary::AlertIngest)
            .set(&runbook_action::INCIDENTS_TABLE, "t")
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("alert_ingest does not read INCIDENTS_TABLE"),
            "{e}"
        );
        let e = EnvBuilder::<String>::new(Binary::AlertIngest)
            .set(&alert_ingest::AWS_REGION, "eu-west-1")
            .unwrap_err();
        assert!(e.to_string().contains("runtime sets it"), "{e}");
        let e = EnvBuilder::<String>::new(Binary::Checkout)
            .set(&checkout::DEGRADED_MODE, "false")
            .unwrap_err();
        assert!(e.to_string().contains("local runs only"), "{e}");
    }

    #[test]
    fn builder_requires_required_and_checks_literals() {
        let e = EnvBuilder::<String>::new(Binary::RunbookAction)
            .set(&runbook_action::EKS_CLUSTER_NAME, "c")
            .unwrap()
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("ALLOWED_NAMESPACES"), "{e}");
        let e = EnvBuilder::<String>::new(Binary::RunbookAction)
            .set(&runbook_action::DRAIN_TIMEOUT_SECONDS, "0")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "runbook_action: DRAIN_TIMEOUT_SECONDS=\"0\": expected a whole number of seconds from 1 to 840"
        );
    }

    #[test]
    fn readers_apply_defaults_bounds_and_blank_as_unset() {
        let l = lookup(&[("LATENCY_MS", " 400 "), ("ERROR_RATE", "1.5"), ("PORT", "")]);
        assert_eq!(
            checkout::LATENCY_MS.duration(&l).unwrap(),
            Some(Duration::from_millis(400))
        );
        assert_eq!(checkout::PORT.integer(&l).unwrap(), Some(8080));
        assert_eq!(
            checkout::ERROR_RATE.ratio(&l).unwrap_err().to_string(),
            "ERROR_RATE=\"1.5\": expected a number from 0.0 to 1.0"
        );
        assert_eq!(checkout::DEGRADED_MODE.bool(&l).unwrap(), None);
        assert_eq!(
            runbook_action::INCIDENTS_TABLE
                .required(&l)
                .unwrap_err()
                .to_string(),
            "INCIDENTS_TABLE: missing (the incidents table (the rate-limit items live there))"
        );
        let l = lookup(&[("ALLOWED_NAMESPACES", "apps, ,payments")]);
        assert_eq!(
            runbook_action::ALLOWED_NAMESPACES.list(&l),
            Some(vec!["apps".to_owned(), "payments".to_owned()])
        );
    }
}
