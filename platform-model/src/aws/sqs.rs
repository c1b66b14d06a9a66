//! SQS queues: KMS-encrypted dead-letter queues.
//!
//! # Example: an encrypted dead-letter queue for EventBridge rules
//!
//! ```
//! use platform_model::aws::Tags;
//! use platform_model::aws::kms::{EncryptionKey, KeyProps};
//! use platform_model::aws::sqs::{DeadLetterQueue, MAX_RETENTION_DAYS};
//! use platform_model::cfn::{Expr, Template};
//! use serde_json::json;
//!
//! let mut t = Template::new("payments-dlq", "Payments team's undeliverable events");
//! let key = EncryptionKey::new(
//!     &mut t,
//!     "Payments",
//!     KeyProps {
//!         description: "Payments team's queues".into(),
//!         alias: "payments".into(),
//!         pending_window_days: 30,
//!         admin_role_names: vec![],
//!         service_users: vec!["events.amazonaws.com".into()],
//!         allow_logs: false,
//!         tags: Tags::default(),
//!     },
//! );
//! // 30 days asked, SQS keeps at most 14.
//! let dlq = DeadLetterQueue::new(&mut t, "Failed", "payments-failed", &key, 30, &Tags::default());
//! dlq.allow_eventbridge_rules(
//!     &mut t,
//!     "FailedPolicy",
//!     vec![Expr::sub(
//!         "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/payments/*",
//!     )],
//! );
//!
//! let json = t.to_json()?;
//! let queue = &json["Resources"]["FailedQueue"]["Properties"];
//! assert_eq!(queue["QueueName"], "payments-failed");
//! // Server-side encryption with the customer managed key.
//! assert_eq!(queue["KmsMasterKeyId"], json!({"Fn::GetAtt": ["PaymentsKey", "Arn"]}));
//! assert_eq!(queue["MessageRetentionPeriod"], i64::from(MAX_RETENTION_DAYS) * 86_400);
//! let policy = &json["Resources"]["FailedPolicy"]["Properties"];
//! assert_eq!(policy["Queues"], json!([{"Ref": "FailedQueue"}]));
//! let statement = &policy["PolicyDocument"]["Statement"][0];
//! assert_eq!(statement["Principal"], json!({"Service": "events.amazonaws.com"}));
//! assert_eq!(statement["Action"], json!(["sqs:SendMessage"]));
//! assert!(statement["Condition"]["ArnEquals"]["aws:SourceArn"].is_array());
//! # Ok::<(), platform_model::Error>(())
//! ```

use crate::aws::Tags;
use crate::aws::kms::EncryptionKey;
use crate::cfn::{Expr, Handle, Template};
use crate::resources::sqs::{Queue, queue};

/// SQS's longest retention: 14 days.
pub const MAX_RETENTION_DAYS: u32 = 14;

/// A queue that keeps what could not be delivered.
#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    queue: Handle<Queue>,
    name: String,
}

impl DeadLetterQueue {
    /// Adds the queue, encrypted with `key`, keeping messages `retention_days` (at most 14), to
    /// `t` as `<id>Queue`.
    pub fn new(
        t: &mut Template,
        id: &str,
        name: &str,
        key: &EncryptionKey,
        retention_days: u32,
        tags: &Tags,
    ) -> Self {
        let seconds = i64::from(retention_days.min(MAX_RETENTION_DAYS)) * 86_400;
        let queue = t.add(
            &format!("{id}Queue"),
            Queue::new()
                .queue_name(name)
                .kms_master_key_id(key.arn())
                .message_retention_period(seconds)
                .tags(tags.to_list(|k, v| queue::Tag::new(k, v))),
        );
        DeadLetterQueue {
            queue,
            name: name.to_owned(),
        }
    }

    /// The queue's physical name (metric dimensions read it from here).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue's ARN.
    pub fn arn(&self) -> Expr {
        self.queue.arn()
    }

    /// The queue's URL.
    pub fn url(&self) -> Expr {
        self.queue.reference()
    }

    /// The queue's handle.
    pub fn handle(&self) -> &Handle<Queue> {
        &self.queue
    }
}

impl DeadLetterQueue {
    /// Adds the queue policy that lets EventBridge move undeliverable events of these rules
    /// here, as `<id>`.
    pub fn allow_eventbridge_rules(
        &self,
        t: &mut Template,
        id: &str,
        rule_arns: Vec<Expr>,
    ) -> Handle<crate::resources::sqs::QueuePolicy> {
        use crate::aws::iam::{PolicyDocument, Principal, Statement};
        let doc = PolicyDocument::new().statement(
            Statement::allow(["sqs:SendMessage"])
                .sid("EventBridgeDeadLetters")
                .principal(Principal::service("events.amazonaws.com"))
                .on(self.arn())
                .when("ArnEquals", "aws:SourceArn", rule_arns),
        );
        t.add(
            id,
            crate::resources::sqs::QueuePolicy::new(
                doc.to_json(),
                vec![crate::cfn::Value::from(self.url())],
            ),
        )
    }

    /// Adds the queue policy that lets SNS move undeliverable notifications of `topic_arn`
    /// here, as `<id>`.
    pub fn allow_sns_topic(
        &self,
        t: &mut Template,
        id: &str,
        topic_arns: Vec<Expr>,
    ) -> Handle<crate::resources::sqs::QueuePolicy> {
        use crate::aws::iam::{PolicyDocument, Principal, Statement};
        let doc = PolicyDocument::new().statement(
            Statement::allow(["sqs:SendMessage"])
                .sid("SnsDeadLetters")
                .principal(Principal::service("sns.amazonaws.com"))
                .on(self.arn())
                .when("ArnEquals", "aws:SourceArn", topic_arns),
        );
        t.add(
            id,
            crate::resources::sqs::QueuePolicy::new(
                doc.to_json(),
                vec![crate::cfn::Value::from(self.url())],
            ),
        )
    }
}
