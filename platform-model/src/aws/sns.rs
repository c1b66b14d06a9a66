//! SNS topics (KMS-encrypted) and their subscriptions.

use crate::aws::Tags;
use crate::aws::kms::EncryptionKey;
use crate::cfn::{Expr, Handle, Json, Template};
use crate::resources::sns::{Subscription, Topic, topic};

/// An encrypted topic.
#[derive(Debug, Clone)]
pub struct NotificationTopic {
    topic: Handle<Topic>,
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
        NotificationTopic { topic }
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
        t.add(id, Subscription::new("email", self.arn()).endpoint(address))
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
        t.add(id, s)
    }
}

impl NotificationTopic {
    /// Lets `role` publish.
    pub fn grant_publish(&self, role: &mut crate::aws::iam::ServiceRole) {
        role.grant(crate::aws::iam::Statement::allow(["sns:Publish"]).on(self.arn()));
    }

    /// Adds the topic policy that lets the given AWS services publish on behalf of this
    /// account (EventBridge rules, CloudWatch alarms), as `<id>`.
    pub fn allow_services_to_publish(
        &self,
        t: &mut Template,
        id: &str,
        services: &[&str],
    ) -> Handle<crate::resources::sns::TopicPolicy> {
        use crate::aws::iam::{PolicyDocument, Principal, Statement};
        let doc = PolicyDocument::new().statement(
            Statement::allow(["sns:Publish"])
                .sid("ServicesPublishForThisAccount")
                .principal(Principal::Service(
                    services.iter().map(|s| (*s).to_owned()).collect(),
                ))
                .on(self.arn())
                .when("StringEquals", "aws:SourceAccount", Expr::account_id()),
        );
        t.add(
            id,
            crate::resources::sns::TopicPolicy::new(
                doc.to_json(),
                vec![crate::cfn::Value::from(self.arn())],
            ),
        )
    }
}
