//! Logical ids: valid, and derived from a construct path so they stay stable across runs.

use std::fmt;

use crate::{Error, Expr};

/// CloudFormation's limit on the length of a logical id.
pub const MAX_LOGICAL_ID_LEN: usize = 255;

/// A valid logical id: ASCII letters and digits, 1 to 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogicalId(String);

impl LogicalId {
    /// Checks `id` and wraps it.
    ///
    /// ```
    /// use platform_cfn::LogicalId;
    /// assert!(LogicalId::new("IncidentsTable").is_ok());
    /// assert!(LogicalId::new("incidents-table").is_err());
    /// ```
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        let problem = if id.is_empty() {
            Some("it is empty".to_owned())
        } else if id.len() > MAX_LOGICAL_ID_LEN {
            Some(format!(
                "it is {} characters long; the limit is {MAX_LOGICAL_ID_LEN}",
                id.len()
            ))
        } else {
            id.chars()
                .find(|c| !c.is_ascii_alphanumeric())
                .map(|c| format!("{c:?} is not an ASCII letter or digit"))
        };
        match problem {
            Some(reason) => Err(Error::InvalidLogicalId { id, reason }),
            None => Ok(LogicalId(id)),
        }
    }

    /// Derives a logical id from a construct path: each segment in PascalCase, joined, with
    /// everything but ASCII letters and digits dropped. `["incidents", "table"]` gives
    /// `IncidentsTable`. The same path always gives the same id.
    pub fn from_path<S: AsRef<str>>(path: &[S]) -> Result<Self, Error> {
        let mut id = String::new();
        for segment in path {
            for word in segment
                .as_ref()
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
            {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    id.push(first.to_ascii_uppercase());
                    id.extend(chars);
                }
            }
        }
        LogicalId::new(id)
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{"Fn::GetAtt": [this id, attribute]}`: what the generated attribute methods return.
    pub fn get_att(&self, attribute: &str) -> Expr {
        Expr::GetAtt {
            resource: self.0.clone(),
            attribute: attribute.to_owned(),
        }
    }
}

impl fmt::Display for LogicalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for LogicalId {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self, Error> {
        LogicalId::new(s)
    }
}
