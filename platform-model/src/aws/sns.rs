//! SNS topics (KMS-encrypted) and their subscriptions.

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
        let mut s = Subscription::new("https", self.arn()).endpoint(url);
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
