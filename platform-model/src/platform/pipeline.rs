//! The SRE pipeline stack (`sre-pipeline`): the data and messaging layer of the loop.
//!
//! | resource | name | what for |
//! |---|---|---|
//! | KMS key + alias | `alias/<prefix>sre-platform` | encrypts the table, topic and queue |
//! | DynamoDB table | `sre-incidents` | incident records (`incident_id` + `timestamp`) |
//! | SNS topic | `sre-incident-notifications` | email, chat and paging (critical only) |
//! | SQS queue | `sre-platform-events-dlq` | events EventBridge could not deliver |
//! | SSM parameter | `/<service>/degraded_mode` | the degraded-mode flag of each service that declares one |
//!
//! Other teams' stacks read its values through [`Export`] (`Fn::ImportValue`), never through a
//! second copy of its resources.

use serde_json::json;

use crate::Error;
use crate::aws::Tags;
use crate::aws::dynamodb::{KeyType, RecordTable, TableProps};
use crate::aws::kms::{EncryptionKey, KeyProps};
use crate::aws::lambda::Asset;
use crate::aws::sns::{FilterScope, NotificationTopic};
use crate::aws::sqs::DeadLetterQueue;
use crate::aws::ssm::FlagParameter;
use crate::cfn::{Expr, Output, Template};
use crate::contract::{Severity, incident_record};
use crate::service::Service;
use crate::settings::Settings;

/// The stack's name, also the base of its file name in `out/<env>/`.
pub const STACK: &str = "sre-pipeline";

/// A value the pipeline stack exports as `sre-pipeline-<name>`: what another team's stack
/// imports. `platform::Platform` checks that every `Fn::ImportValue` of the stacks it is
/// given names one of the pipeline stack's exports.
///
/// ```
/// use platform_model::platform::Export;
/// let key = Export::KeyArn.import();
/// assert_eq!(serde_json::to_value(&key).unwrap(), serde_json::json!({"Fn::ImportValue": "sre-pipeline-KeyArn"}));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// The platform's KMS key (encrypt what you put on its bus, queues of your own).
    KeyArn,
    /// The event bus's ARN (rules of your own, `events:PutEvents`).
    EventBusArn,
    /// The event bus's name.
    EventBusName,
    /// The notifications topic (people: email, chat).
    NotificationsTopicArn,
    /// The paging topic (the pager's machine-readable events).
    PagingTopicArn,
    /// The incidents table's name.
    IncidentsTableName,
    /// The incidents table's ARN (read access for reports).
    IncidentsTableArn,
    /// The runbook state machine.
    RunbookStateMachineArn,
}

impl Export {
    /// Every export.
    pub const ALL: [Export; 8] = [
        Export::KeyArn,
        Export::EventBusArn,
        Export::EventBusName,
        Export::NotificationsTopicArn,
        Export::PagingTopicArn,
        Export::IncidentsTableName,
        Export::IncidentsTableArn,
        Export::RunbookStateMachineArn,
    ];

    /// The output's name.
    pub fn name(self) -> &'static str {
        match self {
            Export::KeyArn => "KeyArn",
            Export::EventBusArn => "EventBusArn",
            Export::EventBusName => "EventBusName",
            Export::NotificationsTopicArn => "NotificationsTopicArn",
            Export::PagingTopicArn => "PagingTopicArn",
            Export::IncidentsTableName => "IncidentsTableName",
            Export::IncidentsTableArn => "IncidentsTableArn",
            Export::RunbookStateMachineArn => "RunbookStateMachineArn",
        }
    }

    /// The exported name, `sre-pipeline-<name>`.
    pub fn export_name(self) -> String {
        format!("{STACK}-{}", self.name())
    }

    /// `Fn::ImportValue` of the export, for another stack.
    pub fn import(self) -> Expr {
        Expr::import_value(self.export_name())
    }
}

/// Service principals that write to the platform's encrypted topic and queue: EventBridge
/// (rule targets and their dead-letter queue) and CloudWatch (alarm notifications).
/// SNS moves undeliverable notifications to its encrypted dead-letter queue.
const KEY_SERVICE_USERS: [&str; 3] = [
    "cloudwatch.amazonaws.com",
    "events.amazonaws.com",
    "sns.amazonaws.com",
];

/// Handles to the data and messaging resources, for the constructs wired to them.
#[derive(Debug, Clone)]
pub struct PipelineData {
    /// The customer managed key that encrypts everything below.
    pub key: EncryptionKey,
    /// `sre-incidents`.
    pub incidents: RecordTable,
    /// `sre-incident-notifications`: what people read (email, chat): a sentence per event, the
    /// approval requests with their links, the alarms.
    pub notifications: NotificationTopic,
    /// `sre-incident-paging`: the pager's machine-readable events (critical incidents, alarms
    /// going into ALARM).
    pub paging: NotificationTopic,
    /// The dead-letter queue of every EventBridge target.
    pub dead_letters: DeadLetterQueue,
    /// The dead-letter queue of every subscription of the notifications topic.
    pub notification_dead_letters: DeadLetterQueue,
}

/// A service's degraded-mode flag, made from its declaration
/// ([`Service::degraded_mode_parameter`] owns the name).
#[derive(Debug, Clone)]
pub struct ServiceFlag {
    /// The service's name.
    pub service: String,
    /// The parameter.
    pub parameter: FlagParameter,
}

/// The functions' code assets (content hashes), computed by the caller (synth hashes the
/// `lambdas/` sources).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assets {
    /// `alert_ingest`.
    pub alert_ingest: Asset,
    /// `runbook_action`.
    pub runbook_action: Asset,
    /// `approval`.
    pub approval: Asset,
}

impl Assets {
    /// Assets of the given content hashes.
    pub fn new(
        alert_ingest_sha256: &str,
        runbook_action_sha256: &str,
        approval_sha256: &str,
    ) -> Self {
        Assets {
            alert_ingest: Asset {
                name: "alert_ingest".into(),
                sha256: alert_ingest_sha256.into(),
            },
            runbook_action: Asset {
                name: "runbook_action".into(),
                sha256: runbook_action_sha256.into(),
            },
            approval: Asset {
                name: "approval".into(),
                sha256: approval_sha256.into(),
            },
        }
    }

    /// Every function's asset.
    pub fn all(&self) -> [&Asset; 3] {
        [&self.alert_ingest, &self.runbook_action, &self.approval]
    }
}

/// The values of the pipeline stack that other stacks and files read, each set by the construct
/// that makes the thing (never a second settings key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineExports {
    /// Alertmanager's webhook receiver URL (the webhook API's custom domain).
    pub alertmanager_webhook_url: String,
    /// Datadog's webhook URL.
    pub datadog_webhook_url: String,
    /// The Secrets Manager secret holding the senders' bearer token.
    pub token_secret_name: String,
}

/// The pipeline stack of one environment: its template, the data layer's handles, and what
/// other stacks and files read from it.
#[derive(Debug)]
pub struct Pipeline {
    /// The template.
    pub template: Template,
    /// Handles of the data layer.
    pub data: PipelineData,
    /// The services' degraded-mode flags.
    pub flags: Vec<ServiceFlag>,
    /// Values for the other stacks and the cluster's files.
    pub exports: PipelineExports,
}

/// Builds the pipeline stack of one environment, for `services` (their degraded-mode flags,
/// and the runbook's branches and bounds).
pub fn pipeline_stack(
    settings: &Settings,
    services: &[Service],
    assets: &Assets,
) -> Result<Pipeline, Error> {
    let mut t = Template::new(
        STACK,
        format!(
            "SRE platform event pipeline ({}): incident records, notifications, dead letters, runtime flags",
            settings.environment
        ),
    );
    let data = data_layer(&mut t, "", settings);
    let flags = service_flags(&mut t, settings, services);
    let PipelineData {
        key,
        incidents,
        notifications,
        paging,
        dead_letters,
        ..
    } = &data;

    let export = |name: &str| Expr::sub(format!("${{AWS::StackName}}-{name}"));
    let wired = super::wiring::event_pipeline(&mut t, settings, services, assets, &data, &flags)?;
    wired.outputs(&mut t, &export);
    let exports = wired.exports;
    t.output(
        "KeyArn",
        Output::new(key.arn())
            .description("ARN of the platform's KMS key")
            .export(export("KeyArn")),
    );
    t.output(
        "IncidentsTableName",
        Output::new(incidents.name())
            .description("Name of the incidents table")
            .export(export("IncidentsTableName")),
    );
    t.output(
        "IncidentsTableArn",
        Output::new(incidents.arn())
            .description("ARN of the incidents table")
            .export(export("IncidentsTableArn")),
    );
    t.output(
        "NotificationsTopicArn",
        Output::new(notifications.arn())
            .description("ARN of the notifications topic (people: email, chat)")
            .export(export("NotificationsTopicArn")),
    );
    t.output(
        "PagingTopicArn",
        Output::new(paging.arn())
            .description("ARN of the paging topic (machine-readable events for the pager)")
            .export(export("PagingTopicArn")),
    );
    t.output(
        "DeadLetterQueueArn",
        Output::new(dead_letters.arn())
            .description("ARN of the dead-letter queue")
            .export(export("DeadLetterQueueArn")),
    );
    t.output(
        "DeadLetterQueueUrl",
        Output::new(dead_letters.url())
            .description("URL of the dead-letter queue")
            .export(export("DeadLetterQueueUrl")),
    );
    for (svc, flag) in services
        .iter()
        .filter(|s| s.degraded_mode_flag().is_some())
        .zip(&flags)
    {
        t.output(
            &format!("{}DegradedModeParameterName", svc.construct_id()),
            Output::new(flag.parameter.name()).description(format!(
                "Name of {}'s degraded-mode flag parameter",
                svc.name()
            )),
        );
    }

    Ok(Pipeline {
        template: t,
        data,
        flags,
        exports,
    })
}

/// Adds the data and messaging layer (key, incidents table, notifications topic and its
/// subscriptions, dead-letter queues) to `t`, every logical id starting with `id_prefix`.
pub fn data_layer(t: &mut Template, id_prefix: &str, settings: &Settings) -> PipelineData {
    let t = &mut *t;
    let tags = Tags(settings.tags.clone());
    let key = EncryptionKey::new(
        t,
        &format!("{id_prefix}Platform"),
        KeyProps {
            description: format!(
                "Encrypts the SRE platform's incident records, notifications and dead letters ({})",
                settings.environment
            ),
            alias: settings.name("sre-platform"),
            pending_window_days: settings.kms.pending_window_days,
            admin_role_names: settings.kms.admin_role_names.clone(),
            service_users: KEY_SERVICE_USERS.map(String::from).to_vec(),
            allow_logs: true,
            tags: tags.clone(),
        },
    );

    let incidents = RecordTable::new(
        t,
        &format!("{id_prefix}Incidents"),
        &key,
        TableProps {
            name: incidents_table_name(settings),
            partition_key: (incident_record::INCIDENT_ID.to_owned(), KeyType::String),
            sort_key: Some((incident_record::TIMESTAMP.to_owned(), KeyType::String)),
            ttl_attribute: Some(incident_record::EXPIRES_AT.to_owned()),
            deletion_protection: settings.incidents.deletion_protection,
            tags: tags.clone(),
        },
    );

    let mut notifications = NotificationTopic::new(
        t,
        &format!("{id_prefix}Notifications"),
        &settings.name("sre-incident-notifications"),
        &key,
        &tags,
    );
    // What a subscriber could not take after SNS's retries is kept, not lost.
    let notification_dead_letters = DeadLetterQueue::new(
        t,
        &format!("{id_prefix}NotificationDeadLetters"),
        &settings.name("sre-notifications-dlq"),
        &key,
        settings.dead_letter.retention_days,
        &tags,
    );
    let mut paging = NotificationTopic::new(
        t,
        &format!("{id_prefix}Paging"),
        &settings.name("sre-incident-paging"),
        &key,
        &tags,
    );
    notification_dead_letters.allow_sns_topic(
        t,
        &format!("{id_prefix}NotificationDeadLettersPolicy"),
        vec![notifications.arn(), paging.arn()],
    );
    notifications.dead_letters_to(notification_dead_letters.arn());
    paging.dead_letters_to(notification_dead_letters.arn());
    for (i, email) in settings.notifications.emails.iter().enumerate() {
        notifications.subscribe_email(
            t,
            &format!("{id_prefix}NotificationsEmail{}", i + 1),
            email.as_str(),
        );
    }
    if let Some(url) = &settings.notifications.chat_url {
        notifications.subscribe_https(
            t,
            &format!("{id_prefix}NotificationsChat"),
            url.as_str(),
            None,
        );
    }
    if let Some(url) = &settings.notifications.pagerduty_url {
        // Messages on the paging topic are platform events (EventBridge delivers the event
        // itself as the body), so the filter reads the body: critical incidents page, and so
        // does every platform alarm going into ALARM (CloudWatch's message has
        // `NewStateValue`, not `detail.severity`): a broken loop must page someone.
        let critical_only = json!({ "$or": [
            { "detail": { "severity": [Severity::Critical.as_str()] } },
            { "NewStateValue": ["ALARM"] },
        ] });
        paging.subscribe_https(
            t,
            &format!("{id_prefix}PagingSubscription"),
            url.as_str(),
            Some((FilterScope::MessageBody, critical_only)),
        );
    }

    let dead_letters = DeadLetterQueue::new(
        t,
        &format!("{id_prefix}DeadLetters"),
        &settings.name("sre-platform-events-dlq"),
        &key,
        settings.dead_letter.retention_days,
        &tags,
    );

    PipelineData {
        notification_dead_letters,
        key,
        incidents,
        notifications,
        paging,
        dead_letters,
    }
}

/// The degraded-mode flag of every service that declares one (`<Service>DegradedModeParameter`,
/// named by [`Service::degraded_mode_parameter`]).
pub fn service_flags(
    t: &mut Template,
    settings: &Settings,
    services: &[Service],
) -> Vec<ServiceFlag> {
    let tags = Tags(settings.tags.clone());
    services
        .iter()
        .filter_map(|svc| {
            let flag = svc.degraded_mode_flag()?;
            let name = svc.degraded_mode_parameter()?;
            Some(ServiceFlag {
                service: svc.name().to_owned(),
                parameter: FlagParameter::new(
                    t,
                    &format!("{}DegradedMode", svc.construct_id()),
                    &name,
                    flag.initially,
                    &format!(
                        "{} degraded mode: \"true\" skips optional work. Set by the runbook's enable_degraded_mode action; a person sets it back.",
                        svc.name()
                    ),
                    &tags,
                ),
            })
        })
        .collect()
}

/// The incidents table's name (the runbook pages tell people where to look).
pub(crate) fn incidents_table_name(settings: &Settings) -> String {
    settings.name("sre-incidents")
}

/// The runbook state machine's name.
pub(crate) fn runbook_machine_name(settings: &Settings) -> String {
    settings.name("incident-response-runbook")
}
