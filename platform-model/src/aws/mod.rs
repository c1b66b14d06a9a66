//! Hand-written constructs over the generated resource types: defaults that are safe, grants
//! derived from wiring, and typed references between resources.
//!
//! Each construct adds its resources to a [`crate::cfn::Template`] and returns handles.

pub mod apigateway;
pub mod cloudwatch;
pub mod dynamodb;
pub mod events;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod logs;
pub mod sns;
pub mod sqs;
pub mod ssm;
pub mod stepfunctions;

use std::collections::BTreeMap;

/// Tags applied to every taggable resource of a stack, as `(key, value)` pairs in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(pub BTreeMap<String, String>);

impl Tags {
    /// Converts to a generated type's tag list.
    pub fn to_list<T>(&self, make: impl Fn(&str, &str) -> T) -> Vec<T> {
        self.0.iter().map(|(k, v)| make(k, v)).collect()
    }
}
