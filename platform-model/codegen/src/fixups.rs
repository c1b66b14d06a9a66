//! Corrections to the upstream schemas: name length limits AWS enforces but the schemas do not
//! state (or state too loosely).
//!
//! Each fixup names the value it expects to find. When the schema changes (the property is gone,
//! or AWS published the limit), generation fails so that the fixup is reviewed and removed rather
//! than silently applied to something it was not written for.

use anyhow::{Context, Result, bail};
use serde_json::Value as Json;

/// One corrected `maxLength` of a top-level property.
struct MaxLength {
    type_name: &'static str,
    property: &'static str,
    /// The `maxLength` the vendored schema has today (`None`: it has none).
    upstream: Option<u64>,
    /// The limit AWS enforces.
    enforced: u64,
    /// Where the enforced limit is documented.
    why: &'static str,
}

const MAX_LENGTHS: &[MaxLength] = &[
    MaxLength {
        type_name: "AWS::DynamoDB::Table",
        property: "TableName",
        upstream: Some(1024),
        enforced: 255,
        why: "DynamoDB table names are 3-255 characters (DynamoDB naming rules)",
    },
    MaxLength {
        type_name: "AWS::IAM::ManagedPolicy",
        property: "ManagedPolicyName",
        upstream: None,
        enforced: 128,
        why: "IAM policy names are at most 128 characters (IAM quotas)",
    },
    MaxLength {
        type_name: "AWS::Lambda::Function",
        property: "FunctionName",
        upstream: None,
        enforced: 64,
        why: "Lambda function names are at most 64 characters (the schema's pattern only)",
    },
    MaxLength {
        type_name: "AWS::SQS::Queue",
        property: "QueueName",
        upstream: None,
        enforced: 80,
        why: "SQS queue names, `.fifo` suffix included, are at most 80 characters",
    },
];

// Checked against the vendored schemas and dropped because the schemas already carry the limit:
// AWS::IAM::Role RoleName 64, AWS::SNS::Topic TopicName 256, AWS::Events::Rule Name 64,
// AWS::StepFunctions::StateMachine StateMachineName 80, AWS::Logs::LogGroup LogGroupName 512.

/// Applies every fixup that concerns `type_name` to its schema.
///
/// # Errors
/// When a fixup no longer applies: the property is gone or its `maxLength` is not the one the
/// fixup was written against.
pub fn apply(type_name: &str, schema: &mut Json) -> Result<()> {
    for f in MAX_LENGTHS.iter().filter(|f| f.type_name == type_name) {
        let prop = schema
            .get_mut("properties")
            .and_then(|p| p.get_mut(f.property))
            .and_then(Json::as_object_mut)
            .with_context(|| {
                format!(
                    "fixup {} {}: the property no longer exists; remove the fixup",
                    f.type_name, f.property
                )
            })?;
        let found = prop.get("maxLength").and_then(Json::as_u64);
        if found != f.upstream {
            bail!(
                "fixup {} {}: expected upstream maxLength {:?}, found {:?}; review and remove or \
                 update the fixup ({})",
                f.type_name,
                f.property,
                f.upstream,
                found,
                f.why
            );
        }
        prop.insert("maxLength".to_owned(), Json::from(f.enforced));
    }
    Ok(())
}

/// The type names fixups are written for, to check that each still matches a vendored schema.
pub fn type_names() -> impl Iterator<Item = &'static str> {
    MAX_LENGTHS.iter().map(|f| f.type_name)
}
