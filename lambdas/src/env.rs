//! Configuration from environment variables, read only through the runtime contract
//! (`platform_contract::runtime`): each variable's name, type, default and meaning is
//! declared there once, and synth writes the functions' `Environment` from the same
//! declarations. `lambdas/README.md` lists them.
//!
//! Each function reads its whole configuration in one place (`ingest::Settings::read`,
//! `runbook::Settings::read`) through an [`Env`]: the process environment in Lambda, a map in
//! tests, which can also record what was read (the test that every declared variable is read).

use std::time::Duration;

pub use platform_contract::runtime::{Var, VarError, alert_ingest, runbook_action};

fn lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Where variables are read from.
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}

/// The process environment.
pub fn process() -> Env<'static> {
    Env { lookup: &lookup }
}

impl<'a> Env<'a> {
    /// Variables from `lookup` (tests).
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env { lookup }
    }

    /// A required variable (or its declared default).
    pub fn required(&self, var: &Var) -> Result<String, VarError> {
        var.required(self.lookup)
    }

    /// An optional variable (empty counts as unset), or its declared default.
    pub fn optional(&self, var: &Var) -> Option<String> {
        var.read(self.lookup)
    }

    /// A whole number within the declared bounds; an error when unset without a default.
    pub fn integer(&self, var: &Var) -> Result<u64, VarError> {
        var.integer(self.lookup)?.ok_or(missing(var))
    }

    /// A number of seconds within the declared bounds; an error when unset without a default.
    pub fn seconds(&self, var: &Var) -> Result<Duration, VarError> {
        var.duration(self.lookup)?.ok_or(missing(var))
    }

    /// A comma-separated list; an error when unset without a default.
    pub fn list(&self, var: &Var) -> Result<Vec<String>, VarError> {
        var.list(self.lookup).ok_or(missing(var))
    }

    /// A required variable parsed by `parse`; its error becomes the variable's
    /// [`VarError::Invalid`] (naming the variable, its value and why).
    pub fn parsed<T>(
        &self,
        var: &Var,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, VarError> {
        let value = self.required(var)?;
        parse(&value).map_err(|why| VarError::Invalid {
            name: var.name,
            value,
            expected: why,
        })
    }
}

fn missing(var: &Var) -> VarError {
    VarError::Missing {
        name: var.name,
        doc: var.doc,
    }
}

/// A required variable (or its declared default), from the process environment.
pub fn required(var: &Var) -> Result<String, VarError> {
    process().required(var)
}

/// An optional variable (empty counts as unset), or its declared default, from the process
/// environment.
pub fn optional(var: &Var) -> Option<String> {
    process().optional(var)
}

/// A whole number within the declared bounds, from the process environment.
pub fn integer(var: &Var) -> Result<u64, VarError> {
    process().integer(var)
}

/// A number of seconds within the declared bounds, from the process environment.
pub fn seconds(var: &Var) -> Result<Duration, VarError> {
    process().seconds(var)
}

/// A comma-separated list, from the process environment.
pub fn list(var: &Var) -> Result<Vec<String>, VarError> {
    process().list(var)
}
