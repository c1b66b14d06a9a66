//! CloudWatch Logs log groups: KMS-encrypted, with a retention.
//!
//! # Example: an encrypted audit log group EventBridge writes to
//!
//! ```
//! use platform_model::aws::Tags;
//! use platform_model::aws::kms::{EncryptionKey, KeyProps};
//! use platform_model::aws::logs::LogGroup;
//! use platform_model::cfn::Template;
//! use serde_json::json;
//!
//! let mut t = Template::new("payments-audit", "Payments team's audit trail");
//! let key = EncryptionKey::new(
//!     &mut t,
//!     "Payments",
//!     KeyProps {
//!         description: "Payments team's logs".into(),
//!         alias: "payments-logs".into(),
//!         pending_window_days: 30,
//!         admin_role_names: vec![],
//!         service_users: vec![],
//!         allow_logs: true, // CloudWatch Logs of the stack's region may use the key
//!         tags: Tags::default(),
//!     },
//! );
//! let audit = LogGroup::new(&mut t, "Audit", "/payments/audit", &key, 365, &Tags::default());
//! audit.allow_eventbridge(&mut t, "Audit", "payments-events");
//!
//! let json = t.to_json()?;
//! let group = &json["Resources"]["AuditLogGroup"]["Properties"];
//! assert_eq!(group["LogGroupName"], "/payments/audit");
//! assert_eq!(group["RetentionInDays"], 365);
//! assert_eq!(group["KmsKeyId"], json!({"Fn::GetAtt": ["PaymentsKey", "Arn"]}));
//! // The resource policy is a JSON string filled in by Fn::Sub.
//! let policy = &json["Resources"]["AuditEventsPolicy"]["Properties"];
//! assert_eq!(policy["PolicyName"], "payments-audit-eventbridge");
//! let document: serde_json::Value =
//!     serde_json::from_str(policy["PolicyDocument"]["Fn::Sub"].as_str().unwrap()).unwrap();
//! let statement = &document["Statement"][0];
//! assert_eq!(statement["Principal"], json!({"Service": "events.amazonaws.com"}));
//! assert_eq!(statement["Action"], json!(["logs:CreateLogStream", "logs:PutLogEvents"]));
//! assert!(statement["Condition"]["ArnLike"]["aws:SourceArn"]
//!     .as_str()
//!     .unwrap()
//!     .ends_with(":rule/payments-events/*"));
//! # Ok::<(), platform_model::Error>(())
//! ```

use crate::aws::Tags;
use crate::aws::iam::{PolicyDocument, Principal, ServiceRole, Statement};
use crate::aws::kms::EncryptionKey;
use crate::cfn::{Expr, Handle, Json, Template, Value};
use crate::resources::logs::{LogGroup as LogGroupResource, ResourcePolicy, log_group};

/// A log group.
#[derive(Debug, Clone)]
pub struct LogGroup {
    group: Handle<LogGroupResource>,
    name: String,
}

impl LogGroup {
    /// Adds the log group `name`, encrypted with `key`, keeping events `retention_days`, to `t`
    /// as `<id>LogGroup`.
    pub fn new(
        t: &mut Template,
        id: &str,
        name: &str,
        key: &EncryptionKey,
        retention_days: i64,
        tags: &Tags,
    ) -> Self {
        let group = t.add(
            &format!("{id}LogGroup"),
            LogGroupResource::new()
                .log_group_name(name)
                .kms_key_id(key.arn())
                .retention_in_days(retention_days)
                .tags(tags.to_list(|k, v| log_group::Tag::new(k, v))),
        );
        LogGroup {
            group,
            name: name.to_owned(),
        }
    }

    /// The log group's ARN (`arn:...:log-group:NAME:*`).
    pub fn arn(&self) -> Expr {
        self.group.arn()
    }

    /// The log group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ARN of the log group without the trailing `:*` (what some services want).
    pub fn bare_arn(&self) -> Expr {
        Expr::sub(format!(
            "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{}",
            self.name
        ))
    }

    /// The log group's handle.
    pub fn handle(&self) -> &Handle<LogGroupResource> {
        &self.group
    }

    /// Lets `role` write log events to this group.
    pub fn grant_write(&self, role: &mut ServiceRole) {
        role.grant(Statement::allow(["logs:CreateLogStream", "logs:PutLogEvents"]).on(self.arn()));
    }

    /// Adds the resource policy that lets EventBridge write events into this group (a rule
    /// target needs it), as `<id>EventsPolicy`.
    ///
    /// Only EventBridge rules of `bus` in this account may write (`aws:SourceArn`,
    /// `aws:SourceAccount`: no confused deputy).
    pub fn allow_eventbridge(
        &self,
        t: &mut Template,
        id: &str,
        bus: &str,
    ) -> Handle<ResourcePolicy> {
        let doc = PolicyDocument::new().statement(
            Statement::allow(["logs:CreateLogStream", "logs:PutLogEvents"])
                .sid("EventBridgeWritesAuditEvents")
                .principal(Principal::Service(vec!["events.amazonaws.com".into()]))
                .on(format!(
                    "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{}:*",
                    self.name
                ))
                .when("StringEquals", "aws:SourceAccount", "${AWS::AccountId}")
                .when(
                    "ArnLike",
                    "aws:SourceArn",
                    format!(
                        "arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{bus}/*"
                    ),
                ),
        );
        // AWS::Logs::ResourcePolicy takes the document as a JSON string: render it, and let
        // Fn::Sub fill in the partition, region and account.
        let body = serde_json::to_string(&doc.to_json()).unwrap_or_default();
        let name = format!(
            "{}-eventbridge",
            self.name.trim_start_matches('/').replace('/', "-")
        );
        t.add(
            &format!("{id}EventsPolicy"),
            ResourcePolicy::new(Value::<Json>::from(Expr::sub(body)), name),
        )
    }
}
