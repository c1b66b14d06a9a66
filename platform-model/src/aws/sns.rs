//! SNS topics (KMS-encrypted) and their subscriptions.
//!
//! # Example: an on-call topic with subscriptions and a dead-letter queue
//!
//! ```
//! use platform_model::aws::Tags;
//! use platform_model::aws::kms::{EncryptionKey, KeyProps};
//! use platform_model::aws::sns::{FilterScope, NotificationTopic};
//! use platform_model::aws::sqs::DeadLetterQueue;
//! use platform_model::cfn::{Expr, Template};
//! use serde_json::json;
//!
//! let mut t = Template::new("payments-oncall", "Payments team's notifications");
//! let key = EncryptionKey::new(
//!     &mut t,
//!     "Payments",
//!     KeyProps {
//!         description: "Payments team's notifications".into(),
//!         alias: "payments-oncall".into(),
//!         pending_window_days: 30,
//!         admin_role_names: vec![],
//!         service_users: vec!["sns.amazonaws.com".into(), "cloudwatch.amazonaws.com".into()],
//!         allow_logs: false,
//!         tags: Tags::default(),
//!     },
//! );
//! let dlq = DeadLetterQueue::new(&mut t, "Undelivered", "payments-undelivered", &key, 14, &Tags::default());
//! let mut topic = NotificationTopic::new(&mut t, "OnCall", "payments-oncall", &key, &Tags::default());
//! dlq.allow_sns_topic(&mut t, "UndeliveredPolicy", vec![topic.arn()]);
//! topic.dead_letters_to(dlq.arn());
//! topic.subscribe_email(&mut t, "OnCallEmail", "payments-oncall@example.com");
//! topic.subscribe_https(
//!     &mut t,
//!     "OnCallPager",
//!     "https://pager.example.com/hook",
//!     Some((FilterScope::MessageBody, json!({"detail": {"severity": ["critical"]}}))),
//! );
//! // CloudWatch alarms of this account may publish.
//! topic.allow_services_to_publish(
//!     &mut t,
//!     "OnCallPolicy",
//!     &[(
//!         "cloudwatch.amazonaws.com",
//!         Expr::sub("arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"),
//!     )],
//! );
//!
//! let json = t.to_json()?;
//! let r = &json["Resources"];
//! assert_eq!(r["OnCallTopic"]["Properties"]["KmsMasterKeyId"], json!({"Fn::GetAtt": ["PaymentsKey", "Arn"]}));
//! let email = &r["OnCallEmail"]["Properties"];
//! assert_eq!(email["Protocol"], "email");
//! assert_eq!(email["TopicArn"], json!({"Ref": "OnCallTopic"}));
//! assert_eq!(
//!     email["RedrivePolicy"]["deadLetterTargetArn"],
//!     json!({"Fn::GetAtt": ["UndeliveredQueue", "Arn"]})
//! );
//! assert_eq!(r["OnCallPager"]["Properties"]["FilterPolicyScope"], "MessageBody");
//! let publish = &r["OnCallPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
//! assert_eq!(publish["Principal"], json!({"Service": "cloudwatch.amazonaws.com"}));
//! assert_eq!(publish["Condition"]["StringEquals"]["aws:SourceAccount"], json!({"Ref": "AWS::AccountId"}));
//! # Ok::<(), platform_model::Error>(())
//! ```

use crate::aws::Tags;
use crate::aws::kms::EncryptionKey;
use crate::cfn::{Expr, Handle, Json, Template};
use crate::resources::sns::{Subscription, Topic, topic};

/// An encrypted topic.
#[derive(Debug, Clone)]
pub struct NotificationTopic {
    topic: Handle<Topic>,
    name: String,
    dead_letters: Option<Expr>,
}

/// Which part of a message a filter policy looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterScope {
    /// The message attributes.
    MessageAttributes,
    /// The JSON message body (what EventBridge delivers: the event itself).
    MessageBody,
}

impl NotificationTopic {
    /// Adds the topic, encrypted with `key`, to `t` as `<id>Topic`.
    pub fn new(t: &mut Template, id: &str, name: &str, key: &EncryptionKey, tags: &Tags) -> Self {
        let topic = t.add(
            &format!("{id}Topic"),
            Topic::new()
                .topic_name(name)
                .kms_master_key_id(key.arn())
                .tags(tags.to_list(|k, v| topic::Tag::new(k, v))),
        );
        NotificationTopic {
            topic,
            name: name.to_owned(),
            dead_letters: None,
        }
    }

    /// Sends what a subscription could not deliver (after SNS's retries) to `queue`: every
    /// subscription made afterwards gets it as its redrive policy. The queue must let SNS send
    /// from this topic ([`crate::aws::sqs::DeadLetterQueue::allow_sns_topic`]).
    pub fn dead_letters_to(&mut self, queue_arn: Expr) {
        self.dead_letters = Some(queue_arn);
    }

    fn redrive(&self, s: Subscription) -> Subscription {
        match &self.dead_letters {
            Some(arn) => s.redrive_policy(serde_json::json!({ "deadLetterTargetArn": arn })),
            None => s,
        }
    }

    /// The topic's physical name (metric dimensions read it from here).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The topic's ARN.
    pub fn arn(&self) -> Expr {
        self.topic.reference()
    }

    /// The topic's handle.
    pub fn handle(&self) -> &Handle<Topic> {
        &self.topic
    }

    /// Subscribes an email address (the recipient confirms by email).
    pub fn subscribe_email(
        &self,
        t: &mut Template,
        id: &str,
        address: &str,
    ) -> Handle<Subscription> {
        t.add(
            id,
            self.redrive(Subscription::new("email", self.arn()).endpoint(address)),
        )
    }

    /// Subscribes an HTTPS endpoint, optionally filtered.
    pub fn subscribe_https(
        &self,
        t: &mut Template,
        id: &str,
        url: &str,
        filter: Option<(FilterScope, Json)>,
    ) -> Handle<Subscription> {
        let mut s = Subscription::new("https", self.arn())
            .endpoint(url)
            .delivery_policy(https_delivery_policy());
        if let Some((scope, policy)) = filter {
            let scope = match scope {
                FilterScope::MessageAttributes => "MessageAttributes",
                FilterScope::MessageBody => "MessageBody",
            };
            s = s.filter_policy(policy).filter_policy_scope(scope);
        }
        t.add(id, self.redrive(s))
    }
}

/// The retries of an HTTPS subscription that does not answer 2xx: 3 retries over about ten
/// minutes (exponential backoff from 60 s to 400 s: about 60, 155 and 400 s), then the
/// subscription's dead-letter queue. SNS's default is 3 retries within 20 seconds, too short for
/// a chat relay or pager that is restarting.
pub fn https_delivery_policy() -> Json {
    serde_json::json!({
        "healthyRetryPolicy": {
            "numRetries": 3,
            "numNoDelayRetries": 0,
            "numMinDelayRetries": 0,
            "numMaxDelayRetries": 0,
            "minDelayTarget": 60,
            "maxDelayTarget": 400,
            "backoffFunction": "exponential"
        },
        "throttlePolicy": { "maxReceivesPerSecond": 10 }
    })
}

impl NotificationTopic {
    /// Lets `role` publish.
    pub fn grant_publish(&self, role: &mut crate::aws::iam::ServiceRole) {
        role.grant(crate::aws::iam::Statement::allow(["sns:Publish"]).on(self.arn()));
    }

    /// Adds the topic policy that lets the given AWS services publish on behalf of this
    /// account (EventBridge rules, CloudWatch alarms), as `<id>`.
    ///
    /// `publishers` pairs each service with the ARN pattern of its resources that may publish
    /// (`aws:SourceArn`), always within this account (`aws:SourceAccount`): no confused deputy.
    pub fn allow_services_to_publish(
        &self,
        t: &mut Template,
        id: &str,
        publishers: &[(&str, Expr)],
    ) -> Handle<crate::resources::sns::TopicPolicy> {
        use crate::aws::iam::{PolicyDocument, Principal, Statement};
        let mut doc = PolicyDocument::new();
        for (i, (service, source)) in publishers.iter().enumerate() {
            doc = doc.statement(
                Statement::allow(["sns:Publish"])
                    .sid(format!("ServicePublishes{}", i + 1))
                    .principal(Principal::service(*service))
                    .on(self.arn())
                    .when("StringEquals", "aws:SourceAccount", Expr::account_id())
                    .when("ArnLike", "aws:SourceArn", source.clone()),
            );
        }
        t.add(
            id,
            crate::resources::sns::TopicPolicy::new(
                doc.to_json(),
                vec![crate::cfn::Value::from(self.arn())],
            ),
        )
    }
}
