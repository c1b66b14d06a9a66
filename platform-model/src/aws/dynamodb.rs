//! DynamoDB tables: on-demand, KMS-encrypted, point-in-time recovery, TTL.

use crate::aws::Tags;
use crate::aws::kms::EncryptionKey;
use crate::cfn::{Attributes, Expr, Handle, Template};
use crate::resources::dynamodb::{Table, table};

/// The type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// String (`S`).
    String,
    /// Number (`N`).
    Number,
}

impl KeyType {
    fn code(self) -> table::AttributeType {
        match self {
            KeyType::String => table::AttributeType::S,
            KeyType::Number => table::AttributeType::N,
        }
    }
}

/// What a [`RecordTable`] is made from.
#[derive(Debug, Clone)]
pub struct TableProps {
    /// Physical table name.
    pub name: String,
    /// Partition key attribute and type.
    pub partition_key: (String, KeyType),
    /// Sort key attribute and type, if any.
    pub sort_key: Option<(String, KeyType)>,
    /// Attribute holding the expiry time (epoch seconds) for TTL.
    pub ttl_attribute: Option<String>,
    /// Refuse deletion: sets deletion protection and retains the table on stack deletion or
    /// replacement.
    pub deletion_protection: bool,
    /// Tags.
    pub tags: Tags,
}

/// A table of records: on-demand billing, encrypted with a customer managed key, point-in-time
/// recovery on.
#[derive(Debug, Clone)]
pub struct RecordTable {
    table: Handle<Table>,
}

impl RecordTable {
    /// Adds the table to `t` as `<id>Table`.
    pub fn new(t: &mut Template, id: &str, key: &EncryptionKey, props: TableProps) -> Self {
        let mut schema = vec![table::KeySchema::new(
            props.partition_key.0.as_str(),
            "HASH",
        )];
        let mut attributes = vec![table::AttributeDefinition::new(
            props.partition_key.0.as_str(),
            props.partition_key.1.code(),
        )];
        if let Some((name, kind)) = &props.sort_key {
            schema.push(table::KeySchema::new(name.as_str(), "RANGE"));
            attributes.push(table::AttributeDefinition::new(name.as_str(), kind.code()));
        }
        let mut table = Table::new(schema)
            .table_name(props.name.as_str())
            .attribute_definitions(attributes)
            .billing_mode(table::BillingMode::PayPerRequest)
            .deletion_protection_enabled(props.deletion_protection)
            .point_in_time_recovery_specification(
                table::PointInTimeRecoverySpecification::new().point_in_time_recovery_enabled(true),
            )
            .sse_specification(
                table::SSESpecification::new(true)
                    .sse_type(table::SSEType::Kms)
                    .kms_master_key_id(key.arn()),
            )
            .tags(props.tags.to_list(|k, v| table::Tag::new(k, v)));
        if let Some(attr) = &props.ttl_attribute {
            table = table.time_to_live_specification(
                table::TimeToLiveSpecification::new(true).attribute_name(attr.as_str()),
            );
        }
        let attrs = if props.deletion_protection {
            Attributes::new().retain()
        } else {
            Attributes::new()
                .deletion_policy(crate::cfn::Policy::Delete)
                .update_replace_policy(crate::cfn::Policy::Delete)
        };
        let table = t.add_with(&format!("{id}Table"), table, attrs);
        RecordTable { table }
    }

    /// The table's ARN.
    pub fn arn(&self) -> Expr {
        self.table.arn()
    }

    /// The table's name.
    pub fn name(&self) -> Expr {
        self.table.reference()
    }

    /// The table's handle.
    pub fn handle(&self) -> &Handle<Table> {
        &self.table
    }
}

impl RecordTable {
    /// Lets `role` read items.
    pub fn grant_read(&self, role: &mut crate::aws::iam::ServiceRole) {
        role.grant(
            crate::aws::iam::Statement::allow(["dynamodb:GetItem", "dynamodb:Query"])
                .on(self.arn()),
        );
    }

    /// Lets `role` update items only (an update also creates a missing item: conditional
    /// counters and locks need nothing more).
    pub fn grant_update(&self, role: &mut crate::aws::iam::ServiceRole) {
        role.grant(crate::aws::iam::Statement::allow(["dynamodb:UpdateItem"]).on(self.arn()));
    }

    /// Lets `role` create and update items (no deletes, no scans).
    pub fn grant_write(&self, role: &mut crate::aws::iam::ServiceRole) {
        role.grant(
            crate::aws::iam::Statement::allow(["dynamodb:PutItem", "dynamodb:UpdateItem"])
                .on(self.arn()),
        );
    }
}
