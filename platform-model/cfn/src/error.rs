//! The model's error type (re-exported as `platform_model::Error`).

use std::fmt;

/// Everything that can go wrong while building, checking or rendering the model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A logical id that CloudFormation would reject.
    #[error("invalid logical id `{id}`: {reason} (logical ids are 1-255 ASCII letters and digits)")]
    InvalidLogicalId {
        /// The rejected id.
        id: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The template failed its synth-time self-check; every problem found is listed.
    #[error("template `{template}` failed its self-check:\n{problems}")]
    Template {
        /// Name of the template (its stack).
        template: String,
        /// Every problem found.
        problems: Problems,
    },
    /// A settings file could not be read as settings.
    #[error("settings file {file}: {message}")]
    Settings {
        /// The file (or embedded environment) the settings came from.
        file: String,
        /// What is wrong: key path, the problem and what was expected.
        message: String,
    },
    /// A construct was given a value it cannot use.
    #[error("{construct}: {message}")]
    Construct {
        /// The construct (its path) that rejected the value.
        construct: String,
        /// What is wrong and what was expected.
        message: String,
    },
}

/// The problems found by a template's self-check, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<String>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {p}")?;
        }
        Ok(())
    }
}
