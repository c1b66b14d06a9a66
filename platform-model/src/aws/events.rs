//! EventBridge: a custom bus with an archive, rules whose patterns come from the event
//! contract, and targets of the kinds EventBridge supports.
//!
//! A rule target is a [`RuleTarget`]: a closed set of the target kinds the platform uses, each
//! wired to its construct. DynamoDB is not a kind EventBridge can deliver to, so there is no way
//! to say it:
//!
//! ```compile_fail
//! use platform_model::aws::events::RuleTarget;
//! use platform_model::aws::dynamodb::RecordTable;
//! fn target(table: &RecordTable) -> RuleTarget<'_> {
//!     RuleTarget::Table(table) // no such kind: EventBridge cannot write to DynamoDB
//! }
//! ```

use serde_json::json;

use crate::aws::Tags;
use crate::aws::iam::{ServiceRole, Statement};
use crate::aws::logs::LogGroup;
use crate::aws::sns::NotificationTopic;
use crate::aws::sqs::DeadLetterQueue;
use crate::aws::stepfunctions::StateMachine;
use crate::cfn::{Expr, Handle, Json, Template, Value};
use crate::contract::events::{DetailType, Source};
use crate::resources::events::{
    Archive, EventBus as EventBusResource, Rule as RuleResource, event_bus, rule,
};

/// A custom event bus.
#[derive(Debug, Clone)]
pub struct EventBus {
    bus: Handle<EventBusResource>,
    name: String,
}

impl EventBus {
    /// Adds the bus `name` as `<id>Bus` and an archive of every event kept `archive_days`
    /// as `<id>Archive`.
    /// Both are encrypted with `key` (the key policy lets EventBridge use it for this
    /// account).
    pub fn new(
        t: &mut Template,
        id: &str,
        name: &str,
        archive_days: i64,
        key: &crate::aws::kms::EncryptionKey,
        tags: &Tags,
    ) -> Self {
        let bus = t.add(
            &format!("{id}Bus"),
            EventBusResource::new(name)
                .description("SRE platform events: incidents and runbook actions")
                .kms_key_identifier(key.arn())
                .tags(tags.to_list(|k, v| event_bus::Tag::new(k, v))),
        );
        t.add(
            &format!("{id}Archive"),
            Archive::new(bus.arn())
                .description("Every platform event, for replay")
                .kms_key_identifier(key.arn())
                .retention_days(archive_days),
        );
        EventBus {
            bus,
            name: name.to_owned(),
        }
    }

    /// The bus's ARN.
    pub fn arn(&self) -> Expr {
        self.bus.arn()
    }

    /// The bus's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bus's name as an expression (`Ref` of a bus is its name), for `EventBusName`.
    pub fn name_expr(&self) -> Expr {
        self.bus.reference()
    }

    /// Lets `role` put events on this bus (and no other).
    pub fn grant_put_events(&self, role: &mut ServiceRole) {
        role.grant(Statement::allow(["events:PutEvents"]).on(self.arn()));
    }

    /// The bus's resource policy: `events:PutEvents` is refused to every principal of any
    /// account except `publishers` (role ARNs), whatever their identity policies grant. A forged
    /// `incident.created` would otherwise start a remediation.
    pub fn restrict_put_events(
        &self,
        t: &mut Template,
        id: &str,
        publishers: Vec<Value<String>>,
    ) -> crate::cfn::Handle<crate::resources::events::EventBusPolicy> {
        use crate::aws::iam::{PolicyDocument, Principal};
        let deny = Statement::allow(["events:PutEvents"])
            .deny()
            .sid("OnlyThePlatformPublishes")
            .principal(Principal::Aws(vec![Value::from("*")]))
            .on(self.arn())
            .when("ArnNotEquals", "aws:PrincipalArn", publishers);
        let doc = PolicyDocument::new().statement(deny).to_json();
        t.add(
            id,
            crate::resources::events::EventBusPolicy::new(Value::from("OnlyThePlatformPublishes"))
                .event_bus_name(self.name_expr())
                .statement(doc["Statement"][0].clone()),
        )
    }
}

/// What a rule matches: sources and detail types from the event contract.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    sources: Vec<Source>,
    detail_types: Vec<DetailType>,
    severity: Option<crate::contract::Severity>,
}

impl Pattern {
    /// Events from these sources with these detail types.
    pub fn new(sources: &[Source], detail_types: &[DetailType]) -> Self {
        Pattern {
            sources: sources.to_vec(),
            detail_types: detail_types.to_vec(),
            severity: None,
        }
    }

    /// Only events whose `detail.severity` is `severity`.
    pub fn severity(mut self, severity: crate::contract::Severity) -> Self {
        self.severity = Some(severity);
        self
    }

    /// Every platform event.
    pub fn all_platform_events() -> Self {
        Pattern::new(&Source::ALL, &DetailType::ALL)
    }

    /// The EventBridge pattern JSON.
    pub fn to_json(&self) -> Json {
        let mut pattern = json!({
            "source": self.sources.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "detail-type": self.detail_types.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        });
        if let Some(severity) = self.severity {
            pattern["detail"] = json!({"severity": [severity.as_str()]});
        }
        pattern
    }
}

/// A rule target: one of the kinds EventBridge delivers to, wired to the platform's constructs.
#[derive(Debug, Clone, Copy)]
pub enum RuleTarget<'a> {
    /// Start an execution with the event as input (needs a role: the rule's own).
    StateMachine(&'a StateMachine),
    /// Publish the event to a topic (allowed by the topic's policy).
    Topic(&'a NotificationTopic),
    /// Publish a sentence made of the event (an input transformer) to a topic.
    TopicText(
        &'a NotificationTopic,
        &'a crate::platform::messages::Sentence,
    ),
    /// Write the event to a log group (allowed by the log group's resource policy).
    LogGroup(&'a LogGroup),
}

/// Retry policy of every target: EventBridge's retry window and attempts.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// Seconds EventBridge keeps retrying (60-86400).
    pub max_event_age_seconds: i64,
    /// Attempts (0-185).
    pub max_retry_attempts: i64,
}

/// A rule on a bus.
#[derive(Debug, Clone)]
pub struct Rule {
    rule: Handle<RuleResource>,
}

impl Rule {
    /// Adds a rule as `<id>Rule` delivering matching events to `targets`, each with the retry
    /// policy and the dead-letter queue. A state machine target gets `role`, which is granted
    /// exactly `states:StartExecution` on that state machine.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        t: &mut Template,
        id: &str,
        bus: &EventBus,
        description: &str,
        pattern: &Pattern,
        targets: &[RuleTarget<'_>],
        role: &mut ServiceRole,
        delivery: Delivery,
        dead_letters: &DeadLetterQueue,
    ) -> Self {
        let list: Vec<rule::Target> = targets
            .iter()
            .enumerate()
            .map(|(i, kind_of)| {
                let (arn, kind): (Expr, &str) = match kind_of {
                    RuleTarget::StateMachine(sm) => (sm.arn(), "StateMachine"),
                    RuleTarget::Topic(topic) | RuleTarget::TopicText(topic, _) => {
                        (topic.arn(), "Topic")
                    }
                    RuleTarget::LogGroup(group) => (group.arn(), "LogGroup"),
                };
                let mut target = rule::Target::new(arn, format!("{kind}{}", i + 1))
                    .retry_policy(
                        rule::RetryPolicy::new()
                            .maximum_event_age_in_seconds(delivery.max_event_age_seconds)
                            .maximum_retry_attempts(delivery.max_retry_attempts),
                    )
                    .dead_letter_config(rule::DeadLetterConfig::new().arn(dead_letters.arn()));
                if let RuleTarget::TopicText(_, sentence) = *kind_of {
                    target = target.input_transformer(
                        rule::InputTransformer::new(sentence.template.as_str()).input_paths_map(
                            sentence
                                .paths
                                .iter()
                                .map(|(k, v)| (k.clone(), Value::from(v.as_str()))),
                        ),
                    );
                }
                if let RuleTarget::StateMachine(sm) = *kind_of {
                    sm.grant_start_execution(role);
                    target = target.role_arn(role.arn());
                }
                target
            })
            .collect();
        let rule = t.add(
            &format!("{id}Rule"),
            RuleResource::new()
                .description(description)
                .event_bus_name(bus.name_expr())
                .event_pattern(Value::<Json>::from(pattern.to_json()))
                .state(rule::State::Enabled)
                .targets(list),
        );
        Rule { rule }
    }

    /// The rule's ARN.
    pub fn arn(&self) -> Expr {
        self.rule.arn()
    }

    /// The rule's name.
    pub fn name(&self) -> Expr {
        self.rule.get_att("RuleName")
    }
}
