//! Configuration from environment variables, read only through the runtime contract
//! (`platform_model::contract::runtime`): each variable's name, type, default and meaning is
//! declared there once, and synth writes the functions' `Environment` from the same
//! declarations. `lambdas/README.md` lists them.

use std::time::Duration;

pub use platform_model::contract::runtime::{Var, VarError, alert_ingest, runbook_action};

fn lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A required variable (or its declared default).
pub fn required(var: &Var) -> Result<String, VarError> {
    var.required(&lookup)
}

/// An optional variable (empty counts as unset), or its declared default.
pub fn optional(var: &Var) -> Option<String> {
    var.read(&lookup)
}

/// A whole number within the declared bounds; an error when unset without a default.
pub fn integer(var: &Var) -> Result<u64, VarError> {
    var.integer(&lookup)?.ok_or(VarError::Missing {
        name: var.name,
        doc: var.doc,
    })
}

/// A number of seconds within the declared bounds; an error when unset without a default.
pub fn seconds(var: &Var) -> Result<Duration, VarError> {
    var.duration(&lookup)?.ok_or(VarError::Missing {
        name: var.name,
        doc: var.doc,
    })
}

/// A comma-separated list; an error when unset without a default.
pub fn list(var: &Var) -> Result<Vec<String>, VarError> {
    var.list(&lookup).ok_or(VarError::Missing {
        name: var.name,
        doc: var.doc,
    })
}
