//! DynamoDB tables: on-demand, KMS-encrypted, point-in-time recovery, TTL.
//!
//! # Example: the incident table, written by a function
//!
//! ```
//! use platform_model::aws::Tags;
//! use platform_model::aws::dynamodb::{KeyType, RecordTable, TableProps};
//! use platform_model::aws::iam::ServiceRole;
//! use platform_model::aws::kms::{EncryptionKey, KeyProps};
//! use platform_model::cfn::Template;
//! use platform_model::contract::incident_record;
//! use serde_json::json;
//!
//! let mut t = Template::new("incidents", "Incident records");
//! let key = EncryptionKey::new(
//!     &mut t,
//!     "Data",
//!     KeyProps {
//!         description: "Incident records".into(),
//!         alias: "incidents".into(),
//!         pending_window_days: 30,
//!         admin_role_names: vec![],
//!         service_users: vec![],
//!         allow_logs: false,
//!         tags: Tags::default(),
//!     },
//! );
//! let table = RecordTable::new(
//!     &mut t,
//!     "Incidents",
//!     &key,
//!     TableProps {
//!         name: "sre-incidents".into(),
//!         partition_key: (incident_record::INCIDENT_ID.into(), KeyType::String),
//!         sort_key: Some((incident_record::TIMESTAMP.into(), KeyType::String)),
//!         ttl_attribute: Some(incident_record::EXPIRES_AT.into()),
//!         deletion_protection: true,
//!         tags: Tags::default(),
//!     },
//! );
//! let mut role = ServiceRole::new("Recorder", "lambda.amazonaws.com", "Records incidents");
//! table.grant_write(&mut role);
//! role.finish(&mut t);
//!
//! let json = t.to_json()?;
//! let resource = &json["Resources"]["IncidentsTable"];
//! assert_eq!(resource["DeletionPolicy"], "Retain"); // kept when the stack goes
//! let props = &resource["Properties"];
//! assert_eq!(props["BillingMode"], "PAY_PER_REQUEST");
//! assert_eq!(
//!     props["KeySchema"],
//!     json!([
//!         {"AttributeName": "incident_id", "KeyType": "HASH"},
//!         {"AttributeName": "timestamp", "KeyType": "RANGE"}
//!     ])
//! );
//! assert_eq!(props["SSESpecification"]["SSEEnabled"], true);
//! assert_eq!(props["SSESpecification"]["SSEType"], "KMS");
//! assert_eq!(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
//! assert_eq!(props["TimeToLiveSpecification"]["AttributeName"], "expires_at");
//! // Writes only: no deletes, no scans.
//! let grant = &json["Resources"]["RecorderRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0];
//! assert_eq!(grant["Action"], json!(["dynamodb:PutItem", "dynamodb:UpdateItem"]));
//! # Ok::<(), platform_model::Error>(())
//! ```

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
