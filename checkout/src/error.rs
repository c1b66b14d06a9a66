//! The crate's one error type.

use std::time::Duration;

use platform_contract::runtime::VarError;

/// Everything that can go wrong in the checkout library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An environment setting has a value the service cannot use (the shared contract's
    /// message: `ERROR_RATE="1.5": expected a number from 0.0 to 1.0`).
    #[error(transparent)]
    Setting(#[from] VarError),
    /// No AWS region is configured, so SSM cannot be asked.
    #[error("no AWS region configured (set AWS_REGION)")]
    SsmNoRegion,
    /// The SSM read did not finish in time.
    #[error("reading SSM parameter {parameter} timed out after {timeout:?}")]
    SsmTimeout {
        /// The parameter's name.
        parameter: String,
        /// The bound that was hit.
        timeout: Duration,
    },
    /// SSM answered with an error, or could not be reached.
    #[error("reading SSM parameter {parameter} failed")]
    SsmRead {
        /// The parameter's name.
        parameter: String,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The parameter exists but holds something other than a boolean.
    #[error("SSM parameter {parameter} holds {value:?}: expected true or false")]
    SsmBadValue {
        /// The parameter's name.
        parameter: String,
        /// The value it holds.
        value: String,
    },
    /// The chaos control endpoint was given a listener on a non-loopback address.
    #[error("the chaos control endpoint serves on loopback only, not on {addr}")]
    ControlNotLoopback {
        /// The listener's address.
        addr: std::net::SocketAddr,
    },
    /// The HTTP server failed.
    #[error("serving HTTP failed")]
    Serve {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
