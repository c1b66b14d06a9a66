//! The event pipeline's wiring: webhook API -> alert_ingest -> bus -> rules -> runbook state
//! machine, notifications and audit log; runbook_action; IAM from the wiring; meta-monitoring.

use serde_json::json;

use super::pipeline::{Assets, PipelineData, PipelineExports, ServiceFlag};
use super::runbook::{self, RunbookTiming, RunbookWiring};
use crate::Error;
use crate::aws::Tags;
use crate::aws::apigateway::{
    CustomDomain, LinkRoute, MAX_INTEGRATION_TIMEOUT_MS, Route, WebhookApi, WebhookApiProps,
};
use crate::aws::cloudwatch::{Metric, dashboard, error_rate_alarm, metric_alarm};
use crate::aws::events::{Delivery, EventBus, Pattern, Rule, RuleTarget};
use crate::aws::iam::{ServiceRole, Statement};
use crate::aws::lambda::{Function, FunctionProps};
use crate::aws::logs::LogGroup;
use crate::aws::stepfunctions::{Integrations, StateMachine, StateMachineProps};
use crate::cfn::{Expr, Output, Template, Value};
use crate::contract::Severity;
use crate::contract::approval;
use crate::contract::events::{BUS_NAME, DetailType, Source};
use crate::contract::runtime::{self, Binary, EnvBuilder};
use crate::contract::telemetry::{
    INGEST_NAMESPACE, INGEST_REQUESTS_METRIC, IngestOutcome, OUTCOME_DIMENSION,
};
use crate::contract::webhook::{alertmanager, datadog};
use crate::resources::cloudwatch::alarm::{ComparisonOperator, Statistic};
use crate::resources::ec2::{SecurityGroup, security_group};
use crate::resources::secretsmanager::{Secret, secret};
use crate::service::Service;
use crate::settings::Settings;

/// Requests per second the webhook stage accepts (steady state).
pub const API_RATE_LIMIT: f64 = 1000.0;
/// The webhook API's stage (mapped at the custom domain's root).
pub const WEBHOOK_STAGE: &str = "v1";
/// Days the bus archive keeps every event.
pub const ARCHIVE_DAYS: i64 = 7;
/// Days the audit log keeps every event.
pub const AUDIT_RETENTION_DAYS: i64 = 365;
/// Seconds the runbook's `InvokeRunbookAction` task waits beyond runbook_action's own timeout
/// (invocation overhead and a cold start), so the function's timeout always fires first.
pub const TASK_TIMEOUT_MARGIN_SECONDS: u32 = 30;

/// What the wiring made, for outputs and other stacks.
#[derive(Debug)]
pub struct Wired {
    api: WebhookApi,
    bus: EventBus,
    machine: StateMachine,
    ingest_role: Expr,
    action_role: Expr,
    events_role: Expr,
    machine_role: Expr,
    token_secret: Expr,
    /// What other stacks and files read, each set by the construct that makes the thing.
    pub exports: PipelineExports,
}

impl Wired {
    /// Adds the outputs the cluster side and deploy need.
    pub fn outputs(&self, t: &mut Template, export: &dyn Fn(&str) -> Expr) {
        let url = self.api.url();
        let out = |t: &mut Template, id: &str, value: Expr, what: &str| {
            t.output(id, Output::new(value).description(what).export(export(id)));
        };
        out(
            t,
            "WebhookBaseUrl",
            url,
            "Base URL of the webhook API stage",
        );
        let literal = |t: &mut Template, id: &str, value: &str, what: &str| {
            t.output(
                id,
                Output::new(value.to_owned())
                    .description(what)
                    .export(export(id)),
            );
        };
        literal(
            t,
            "AlertmanagerWebhookUrl",
            &self.exports.alertmanager_webhook_url,
            "Alertmanager's webhook receiver URL (the custom domain)",
        );
        literal(
            t,
            "DatadogWebhookUrl",
            &self.exports.datadog_webhook_url,
            "Datadog's webhook URL (the custom domain)",
        );
        out(
            t,
            "WebhookTokenSecretArn",
            self.token_secret.clone(),
            "Secret holding the senders' bearer token (aws secretsmanager get-secret-value)",
        );
        out(
            t,
            "EventBusArn",
            self.bus.arn(),
            "ARN of the platform event bus",
        );
        out(
            t,
            "EventBusName",
            self.bus.name_expr(),
            "Name of the platform event bus",
        );
        out(
            t,
            "RunbookStateMachineArn",
            self.machine.arn(),
            "ARN of the runbook state machine",
        );
        out(
            t,
            "AlertIngestRoleArn",
            self.ingest_role.clone(),
            "Role of alert_ingest",
        );
        out(
            t,
            "RunbookActionRoleArn",
            self.action_role.clone(),
            "Role of runbook_action (map it to the Kubernetes remediation group with an EKS access entry)",
        );
        out(
            t,
            "EventsTargetRoleArn",
            self.events_role.clone(),
            "Role EventBridge uses to start the runbook",
        );
        out(
            t,
            "RunbookRoleArn",
            self.machine_role.clone(),
            "Role of the runbook state machine",
        );
    }
}

/// A draft-04 JSON Schema of a payload type, as API Gateway models want it
/// ([`crate::aws::apigateway::draft04`]: subschemas inlined, `const` as `enum`).
pub fn request_model<T: schemars::JsonSchema>() -> serde_json::Value {
    let mut settings = schemars::generate::SchemaSettings::draft07();
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    crate::aws::apigateway::draft04(serde_json::to_value(schema).unwrap_or_default())
}

/// Wires the event pipeline onto the data layer.
#[allow(clippy::too_many_lines)]
pub fn event_pipeline(
    t: &mut Template,
    settings: &Settings,
    services: &[Service],
    assets: &Assets,
    data: &PipelineData,
    flags: &[ServiceFlag],
) -> Result<Wired, Error> {
    let p = &settings.pipeline;
    check_timeouts(settings)?;
    let tags = Tags(settings.tags.clone());
    let bucket = super::topology::Input::AssetsBucket.declare(t);
    let vpc_id = super::topology::Input::VpcId.declare(t);
    let subnets = super::topology::Input::PrivateSubnetIds.declare(t);
    let cluster = super::topology::Input::ClusterName.declare(t);

    let bus = EventBus::new(
        t,
        "Platform",
        &settings.name(BUS_NAME),
        ARCHIVE_DAYS,
        &data.key,
        &tags,
    );
    let audit = LogGroup::new(
        t,
        "Audit",
        &format!("/aws/events/{}", settings.name("sre-platform-audit")),
        &data.key,
        AUDIT_RETENTION_DAYS,
        &tags,
    );
    audit.allow_eventbridge(t, "Audit", &settings.name(BUS_NAME));

    // The webhook token: generated by the stack, read by alert_ingest, copied to the cluster
    // (Alertmanager's Secret) by the documented sync step.
    let token_secret_name = settings.name("sre-platform-webhook-token");
    let token_secret = t.add_with(
        "WebhookTokenSecret",
        Secret::new()
            .name(token_secret_name.as_str())
            .description("Bearer token of the alert webhooks (Alertmanager, Datadog): alert_ingest compares it in constant time")
            .kms_key_id(data.key.arn())
            .generate_secret_string(
                secret::GenerateSecretString::new()
                    .password_length(48)
                    .exclude_punctuation(true),
            )
            .tags(tags.to_list(|k, v| secret::Tag::new(k, v))),
        crate::cfn::Attributes::new().checkov_skip(
            "CKV2_AWS_57",
            "Rotated by hand with its senders (Alertmanager's Secret, Datadog's webhook header); automatic rotation would break them until they are updated",
        ),
    );

    // alert_ingest: webhook -> events.
    let mut ingest_role = ServiceRole::new(
        "AlertIngest",
        "lambda.amazonaws.com",
        "alert_ingest: puts incident events on the platform bus",
    );
    bus.grant_put_events(&mut ingest_role);
    ingest_role
        .grant(Statement::allow(["secretsmanager:GetSecretValue"]).on(token_secret.reference()));
    let ingest_env = EnvBuilder::new(Binary::AlertIngest)
        .set(
            &runtime::alert_ingest::EVENT_BUS_NAME,
            Value::from(bus.name_expr()),
        )
        .and_then(|e| {
            e.set(
                &runtime::alert_ingest::WEBHOOK_TOKEN_SECRET_ARN,
                Value::from(token_secret.reference()),
            )
        })
        .and_then(|e| e.set(&runtime::alert_ingest::RUST_LOG, Value::from("info")))
        .and_then(EnvBuilder::build)
        .map_err(|e| runtime_error("alert_ingest", &e))?;
    let ingest = Function::new(
        t,
        "AlertIngest",
        FunctionProps {
            name: settings.name("sre-alert-ingest"),
            description:
                "Receives Alertmanager and Datadog webhooks, puts incident events on the bus".into(),
            asset: assets.alert_ingest.clone(),
            size: p.ingest.clone(),
            architecture: p.lambda_architecture,
            environment: ingest_env,
            vpc: None,
            tags: tags.clone(),
        },
        &mut ingest_role,
        &bucket,
        &data.key,
    );

    // runbook_action: acts on the cluster, in the private subnets. Its role has a physical name
    // so the cluster's access entry (another stack) can map it.
    let action_role_name = settings.name("sre-runbook-action");
    let mut action_role = ServiceRole::new(
        "RunbookAction",
        "lambda.amazonaws.com",
        "runbook_action: scales, restarts, drains, flips the degraded-mode flag",
    )
    .named(&action_role_name);
    // enable_degraded_mode sets the flag the request names: only the services' own flags.
    for flag in flags {
        flag.parameter.grant_read_write(&mut action_role);
    }
    // The rate limit per target is a conditional UpdateItem on the incidents table.
    data.incidents.grant_update(&mut action_role);
    action_role.grant(
        Statement::allow(["eks:DescribeCluster"]).on(Expr::sub(format!(
            "arn:${{AWS::Partition}}:eks:${{AWS::Region}}:${{AWS::AccountId}}:cluster/${{{}}}",
            cluster.logical_id().as_str()
        ))),
    );
    let sg = t.add_with(
        "RunbookActionSecurityGroup",
        SecurityGroup::new(
            "runbook_action: HTTPS out to the EKS API and AWS endpoints, nothing in",
        )
        .vpc_id(vpc_id.reference())
        .security_group_egress(vec![
            security_group::Egress::new("tcp")
                .cidr_ip("0.0.0.0/0")
                .from_port(443)
                .to_port(443)
                .description("HTTPS to the EKS API and AWS APIs"),
        ])
        .tags(tags.to_list(|k, v| security_group::Tag::new(k, v))),
        crate::cfn::Attributes::new(),
    );
    t.output(
        "RunbookActionSecurityGroupId",
        Output::new(sg.get_att("GroupId")).description(
            "runbook_action's security group: a cluster brought by the team admits HTTPS from it",
        ),
    );
    let action_env = action_environment(settings, services, data, cluster.reference())?;
    let action = Function::new(
        t,
        "RunbookAction",
        FunctionProps {
            name: settings.name("sre-runbook-action"),
            description: "Runs runbook actions on the EKS cluster".into(),
            asset: assets.runbook_action.clone(),
            size: p.runbook_action.clone(),
            architecture: p.lambda_architecture,
            environment: action_env,
            vpc: Some((
                Value::from(subnets.reference()),
                vec![sg.get_att("GroupId")],
            )),
            tags: tags.clone(),
        },
        &mut action_role,
        &bucket,
        &data.key,
    );

    // approval: sends people the links of a gated action, answers them. The signing key of
    // the links is the stack's own secret; nobody else needs it.
    let signing_key = t.add_with(
        "ApprovalSigningKey",
        Secret::new()
            .name(settings.name("sre-approval-signing-key").as_str())
            .description("HMAC-SHA256 key of the approve / deny links: only the approval function reads it")
            .kms_key_id(data.key.arn())
            .generate_secret_string(
                secret::GenerateSecretString::new()
                    .password_length(64)
                    .exclude_punctuation(true),
            )
            .tags(tags.to_list(|k, v| secret::Tag::new(k, v))),
        crate::cfn::Attributes::new().checkov_skip(
            "CKV2_AWS_57",
            "Rotating the key only invalidates the links of approvals in flight (their incidents escalate at the deadline); rotate it by updating the secret",
        ),
    );
    let mut approval_role = ServiceRole::new(
        "Approval",
        "lambda.amazonaws.com",
        "approval: records approval requests and decisions, notifies people, answers the runbook",
    );
    approval_role
        .grant(Statement::allow(["secretsmanager:GetSecretValue"]).on(signing_key.reference()));
    data.incidents.grant_read(&mut approval_role);
    data.incidents.grant_update(&mut approval_role);
    data.notifications.grant_publish(&mut approval_role);
    bus.grant_put_events(&mut approval_role);
    // The runbook's name is known, so its ARN is too: no cycle through its definition, which
    // names this function.
    approval_role.grant(
        Statement::allow(["states:SendTaskSuccess", "states:SendTaskFailure"]).on(Expr::sub(
            format!(
                "arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{}",
                super::pipeline::runbook_machine_name(settings)
            ),
        )),
    );
    let public_url = crate::aws::apigateway::public_url(&p.webhook_domain.name);
    let approval_env = {
        use runtime::approval as v;
        EnvBuilder::new(Binary::Approval)
            .set(&v::INCIDENTS_TABLE, Value::from(data.incidents.name()))
            .and_then(|e| {
                e.set(
                    &v::SIGNING_KEY_SECRET_ARN,
                    Value::from(signing_key.reference()),
                )
            })
            .and_then(|e| {
                e.set(
                    &v::NOTIFICATIONS_TOPIC_ARN,
                    Value::from(data.notifications.arn()),
                )
            })
            .and_then(|e| e.set(&v::EVENT_BUS_NAME, Value::from(bus.name_expr())))
            .and_then(|e| e.set(&v::PUBLIC_URL, Value::from(public_url.clone())))
            .and_then(|e| e.set(&v::RUST_LOG, Value::from("info")))
            .and_then(EnvBuilder::build)
            .map_err(|e| runtime_error("approval", &e))?
    };
    let approval_fn = Function::new(
        t,
        "Approval",
        FunctionProps {
            name: settings.name("sre-approval"),
            description:
                "Asks people to approve gated runbook actions; answers the approve / deny links"
                    .into(),
            asset: assets.approval.clone(),
            size: p.approval.function.clone(),
            architecture: p.lambda_architecture,
            environment: approval_env,
            vpc: None,
            tags: tags.clone(),
        },
        &mut approval_role,
        &bucket,
        &data.key,
    );

    // The runbook.
    let mut machine_role = ServiceRole::new(
        "Runbook",
        "states.amazonaws.com",
        "incident-response-runbook: records incidents, invokes runbook_action, notifies",
    );
    let (definition, substitutions) = {
        let mut x = Integrations::new(&mut machine_role);
        let definition = runbook::definition(
            RunbookWiring {
                table: &data.incidents,
                action: &action,
                approval: &approval_fn,
                bus: &bus,
            },
            RunbookTiming {
                stabilization_seconds: p.stabilization_seconds,
                deadline_seconds: p.remediation_deadline_seconds,
                retention_seconds: i64::from(settings.incidents.ttl_days) * 86_400,
                action_task_timeout_seconds: p.runbook_action.timeout_seconds
                    + TASK_TIMEOUT_MARGIN_SECONDS,
                approval_deadline_seconds: p.approval.deadline_seconds,
            },
            services,
            &mut x,
        )?;
        (definition, x.into_substitutions())
    };
    data.key.grant_encrypt_decrypt(&mut machine_role);
    let machine = StateMachine::new(
        t,
        "Runbook",
        StateMachineProps {
            name: super::pipeline::runbook_machine_name(settings),
            definition,
            substitutions,
            tags: tags.clone(),
        },
        &mut machine_role,
        &data.key,
    );

    // Rules.
    let mut events_role = ServiceRole::new(
        "EventsTargets",
        "events.amazonaws.com",
        "EventBridge: starts the runbook for incident events",
    );
    let delivery = Delivery {
        max_event_age_seconds: 3600,
        max_retry_attempts: 10,
    };
    let lifecycle = Rule::new(
        t,
        "IncidentLifecycle",
        &bus,
        "Incidents created and resolved start the runbook",
        &Pattern::new(
            &Source::ALERTS,
            &[DetailType::IncidentCreated, DetailType::IncidentResolved],
        ),
        &[RuleTarget::StateMachine(&machine)],
        &mut events_role,
        delivery,
        &data.dead_letters,
    );
    let notify = Rule::new(
        t,
        "Notify",
        &bus,
        "Every platform event, whole, to the paging topic (its subscription pages critical ones)",
        &Pattern::all_platform_events(),
        &[RuleTarget::Topic(&data.paging)],
        &mut events_role,
        delivery,
        &data.dead_letters,
    );
    // People read sentences: one rule per (event, severity), each with its input transformer.
    let mut people_rules = Vec::new();
    for detail_type in super::messages::SENTENCES {
        for severity in [Severity::Critical, Severity::Warning, Severity::Info] {
            let Some(sentence) = super::messages::sentence(detail_type, severity) else {
                continue;
            };
            let id = format!(
                "Tell{}{}",
                pascal_of(detail_type.as_str()),
                pascal_of(severity.as_str())
            );
            let rule = Rule::new(
                t,
                &id,
                &bus,
                &format!(
                    "{} events of {} incidents, as a sentence, to the notifications topic (email, chat)",
                    detail_type.as_str(),
                    severity.as_str()
                ),
                &Pattern::new(&Source::ALL, &[detail_type]).severity(severity),
                &[RuleTarget::TopicText(&data.notifications, &sentence)],
                &mut events_role,
                delivery,
                &data.dead_letters,
            );
            people_rules.push(rule);
        }
    }
    let audit_rule = Rule::new(
        t,
        "Audit",
        &bus,
        "Every platform event is copied to the audit log",
        &Pattern::all_platform_events(),
        &[RuleTarget::LogGroup(&audit)],
        &mut events_role,
        delivery,
        &data.dead_letters,
    );
    // Starting an execution of the key-encrypted runbook needs the key.
    data.key.grant_encrypt_decrypt(&mut events_role);
    // Only alert_ingest (incidents), the runbook (actions, escalations) and approval
    // (approvals) publish on the bus.
    bus.restrict_put_events(
        t,
        "PlatformBusPolicy",
        vec![
            Value::from(ingest_role.arn()),
            Value::from(machine_role.arn()),
            Value::from(approval_role.arn()),
        ],
    );
    data.dead_letters.allow_eventbridge_rules(
        t,
        "DeadLettersPolicy",
        [lifecycle.arn(), notify.arn(), audit_rule.arn()]
            .into_iter()
            .chain(people_rules.iter().map(Rule::arn))
            .collect(),
    );
    let publishers = [
        (
            "cloudwatch.amazonaws.com",
            Expr::sub("arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"),
        ),
        (
            "events.amazonaws.com",
            Expr::sub(format!(
                "arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{}/*",
                settings.name(BUS_NAME)
            )),
        ),
    ];
    data.notifications
        .allow_services_to_publish(t, "NotificationsPolicy", &publishers);
    data.paging
        .allow_services_to_publish(t, "PagingPolicy", &publishers);

    let api = webhook_api(t, settings, &ingest, &approval_fn, data, &tags)?;
    let approval_path: Vec<String> = approval::ROUTE.iter().map(|p| (*p).to_owned()).collect();
    approval_fn.allow_invoke_from(
        t,
        "ApprovalInvokePermission",
        "apigateway.amazonaws.com",
        api.link_source_arn(&approval_path),
    );

    meta_monitoring(
        t,
        settings,
        data,
        Monitored {
            ingest: &ingest,
            action: &action,
            rules: [
                ("Lifecycle", &lifecycle),
                ("Notify", &notify),
                ("Audit", &audit_rule),
            ],
            machine: &machine,
            audit: &audit,
            api: &api,
        },
    );
    let public = api.public_url();
    let wired = Wired {
        api,
        bus,
        machine,
        ingest_role: ingest_role.arn(),
        action_role: action_role.arn(),
        events_role: events_role.arn(),
        machine_role: machine_role.arn(),
        token_secret: token_secret.reference(),
        exports: PipelineExports {
            alertmanager_webhook_url: format!("{public}/webhook/alertmanager"),
            datadog_webhook_url: format!("{public}/webhook/datadog"),
            token_secret_name,
        },
    };
    ingest_role.finish(t);
    action_role.finish(t);
    approval_role.finish(t);
    machine_role.finish(t);
    events_role.finish(t);
    Ok(wired)
}

/// runbook_action's environment, written through the runtime contract.
fn action_environment(
    settings: &Settings,
    services: &[Service],
    data: &PipelineData,
    cluster: Expr,
) -> Result<std::collections::BTreeMap<String, Value<String>>, Error> {
    // The namespaces where some service allows an action (the same list as the Roles of
    // `k8s/rbac.yaml`).
    let namespaces: Vec<String> = crate::k8s::rbac::actions_by_namespace(services)
        .into_keys()
        .collect();
    let p = &settings.pipeline;
    use runtime::runbook_action as v;
    EnvBuilder::new(Binary::RunbookAction)
        .set(&v::EKS_CLUSTER_NAME, Value::from(cluster))
        .and_then(|e| e.set(&v::ALLOWED_NAMESPACES, Value::from(namespaces.join(","))))
        .and_then(|e| e.set(&v::INCIDENTS_TABLE, Value::from(data.incidents.name())))
        .and_then(|e| {
            e.set(
                &v::DRAIN_TIMEOUT_SECONDS,
                Value::from(p.drain_timeout_seconds.to_string()),
            )
        })
        .and_then(|e| {
            e.set(
                &v::DRAIN_NODE_SELECTOR,
                Value::from(
                    p.drain_node_labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            )
        })
        .and_then(|e| {
            e.set(
                &v::MAX_CORDONED_NODES,
                Value::from(p.max_cordoned_nodes.to_string()),
            )
        })
        .and_then(|e| e.set(&v::RUST_LOG, Value::from("info")))
        .and_then(EnvBuilder::build)
        .map_err(|e| runtime_error("runbook_action", &e))
}

/// The webhook API in front of alert_ingest: one validated route per sender, its custom
/// domain, stage throttling. API Gateway refuses a model with a keyword outside its draft 4.
fn webhook_api(
    t: &mut Template,
    settings: &Settings,
    ingest: &Function,
    approval_fn: &Function,
    data: &PipelineData,
    tags: &Tags,
) -> Result<WebhookApi, Error> {
    let p = &settings.pipeline;
    let routes = vec![
        Route {
            path: vec!["webhook".into(), "alertmanager".into()],
            model_name: "AlertmanagerWebhook".into(),
            model_schema: request_model::<alertmanager::Webhook>(),
        },
        Route {
            path: vec!["webhook".into(), "datadog".into()],
            model_name: "DatadogWebhook".into(),
            model_schema: request_model::<datadog::Webhook>(),
        },
    ];
    for route in &routes {
        let problems = crate::aws::apigateway::draft04_problems(&route.model_schema);
        if !problems.is_empty() {
            return Err(Error::Construct {
                construct: format!("API Gateway model {}", route.model_name),
                message: problems.join("; "),
            });
        }
    }
    Ok(WebhookApi::new(
        t,
        "Webhook",
        WebhookApiProps {
            name: settings.name("sre-webhooks"),
            stage: WEBHOOK_STAGE.into(),
            rate_limit: API_RATE_LIMIT,
            burst_limit: i64::from(p.api_burst_limit),
            integration_timeout_ms: MAX_INTEGRATION_TIMEOUT_MS,
            domain: CustomDomain {
                name: p.webhook_domain.name.clone(),
                certificate_arn: p.webhook_domain.certificate_arn.clone(),
                zone_name: settings.dns.zone_name.clone(),
            },
            routes,
            links: vec![LinkRoute {
                path: approval::ROUTE.iter().map(|p| (*p).to_owned()).collect(),
                methods: vec!["GET".into(), "POST".into()],
                function_arn: approval_fn.arn(),
                why_no_authorizer: "People open these links from a notification: the approval function checks each request's signed, expiring, single-use token, and the stage throttles every caller".into(),
            }],
            tags: tags.clone(),
        },
        ingest,
        &data.key,
    ))
}

/// What the meta-monitoring watches.
struct Monitored<'a> {
    ingest: &'a Function,
    action: &'a Function,
    rules: [(&'static str, &'a Rule); 3],
    machine: &'a StateMachine,
    api: &'a WebhookApi,
    audit: &'a LogGroup,
}

/// Meta-monitoring: the alarms that say the loop itself is broken (every one notifies the
/// topic, and pages when it goes into ALARM), and the platform dashboard.
#[allow(clippy::too_many_lines)]
fn meta_monitoring(t: &mut Template, settings: &Settings, data: &PipelineData, m: Monitored<'_>) {
    let Monitored {
        ingest,
        action,
        rules,
        machine,
        api,
        audit,
    } = m;
    // Every alarm tells people (CloudWatch formats the email itself) and the pager (its filter
    // admits `NewStateValue: ALARM`).
    let alarm_topics = [&data.notifications, &data.paging];
    let lambda_metric = |f: &Function, name: &str| {
        Metric::new(
            "AWS/Lambda",
            name,
            vec![("FunctionName", Value::from(f.name()))],
        )
    };
    error_rate_alarm(
        t,
        "IngestErrorRate",
        &settings.name("sre-ingest-error-rate"),
        "alert_ingest fails more than 1% of invocations: webhooks may be lost upstream",
        &lambda_metric(ingest, "Errors"),
        &lambda_metric(ingest, "Invocations"),
        1.0,
        &alarm_topics,
    );
    for (id, rule) in rules {
        metric_alarm(
            t,
            &format!("{id}FailedInvocations"),
            &settings.name(&format!("sre-events-{}-failed", id.to_lowercase())),
            "EventBridge could not deliver events of this rule to its target",
            &Metric::new(
                "AWS/Events",
                "FailedInvocations",
                vec![("RuleName", Value::from(rule.name()))],
            ),
            Statistic::Sum,
            300,
            1,
            ComparisonOperator::GreaterThanThreshold,
            0.0,
            &alarm_topics,
        );
    }
    metric_alarm(
        t,
        "RunbookActionFailures",
        &settings.name("sre-runbook-action-failures"),
        "runbook_action failed 3 times in 10 minutes",
        &lambda_metric(action, "Errors"),
        Statistic::Sum,
        600,
        1,
        ComparisonOperator::GreaterThanOrEqualToThreshold,
        3.0,
        &alarm_topics,
    );
    metric_alarm(
        t,
        "DeadLetters",
        &settings.name("sre-dead-letters"),
        "An event could not be delivered and waits in the dead-letter queue",
        &Metric::new(
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            vec![("QueueName", Value::from(data.dead_letters.name()))],
        ),
        Statistic::Maximum,
        300,
        1,
        ComparisonOperator::GreaterThanThreshold,
        0.0,
        &alarm_topics,
    );
    metric_alarm(
        t,
        "RunbookExecutionsFailed",
        &settings.name("sre-runbook-executions-failed"),
        "A runbook execution failed",
        &Metric::new(
            "AWS/States",
            "ExecutionsFailed",
            vec![("StateMachineArn", Value::from(machine.arn()))],
        ),
        Statistic::Sum,
        300,
        1,
        ComparisonOperator::GreaterThanThreshold,
        0.0,
        &alarm_topics,
    );
    // Lost alerts page someone: alert_ingest's answers (its outcome metrics: a 4xx or 503 is a
    // successful invocation, invisible to the Errors alarm), the API's own errors, and
    // notifications SNS could not deliver.
    let outcome = |o: IngestOutcome| {
        Metric::new(
            INGEST_NAMESPACE,
            INGEST_REQUESTS_METRIC,
            vec![(OUTCOME_DIMENSION, Value::from(o.as_str()))],
        )
    };
    let api_metric = |name: &str| {
        Metric::new(
            "AWS/ApiGateway",
            name,
            vec![
                ("ApiName", Value::from(api.name())),
                ("Stage", Value::from(api.stage_name())),
            ],
        )
    };
    for (id, name, what, metric, threshold) in [
        (
            "IngestUnavailable",
            "sre-ingest-unavailable",
            "alert_ingest answered 503: the token or the bus was unavailable; senders retry, but alerts wait",
            outcome(IngestOutcome::Unavailable),
            0.0,
        ),
        (
            "IngestUnauthorized",
            "sre-ingest-unauthorized",
            "Webhooks were refused for a wrong or missing bearer token: a sender's token is stale (rotation?) or someone probes the API",
            outcome(IngestOutcome::Unauthorized),
            4.0,
        ),
        (
            "IngestRejected",
            "sre-ingest-rejected",
            "A whole webhook payload was invalid (400): its alerts were not published",
            outcome(IngestOutcome::Rejected),
            0.0,
        ),
        (
            "IngestPartial",
            "sre-ingest-partial",
            "Some alerts of a webhook were invalid and rejected (the valid ones were published)",
            outcome(IngestOutcome::Partial),
            0.0,
        ),
        (
            "Webhook5xx",
            "sre-webhook-5xx",
            "The webhook API answered 5XX",
            api_metric("5XXError"),
            0.0,
        ),
        (
            "Webhook4xx",
            "sre-webhook-4xx",
            "The webhook API answered 4XX (throttling, bad requests, auth)",
            api_metric("4XXError"),
            4.0,
        ),
        (
            "NotificationsFailed",
            "sre-notifications-failed",
            "SNS could not deliver a notification to a subscriber",
            Metric::new(
                "AWS/SNS",
                "NumberOfNotificationsFailed",
                vec![("TopicName", Value::from(data.notifications.name()))],
            ),
            0.0,
        ),
        (
            "NotificationDeadLetters",
            "sre-notification-dead-letters",
            "A notification could not be delivered and waits in the notifications' dead-letter queue",
            Metric::new(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                vec![(
                    "QueueName",
                    Value::from(data.notification_dead_letters.name()),
                )],
            ),
            0.0,
        ),
    ] {
        metric_alarm(
            t,
            id,
            &settings.name(name),
            what,
            &metric,
            if id.ends_with("DeadLetters") {
                Statistic::Maximum
            } else {
                Statistic::Sum
            },
            300,
            1,
            ComparisonOperator::GreaterThanThreshold,
            threshold,
            &alarm_topics,
        );
    }
    remediation_metrics_and_queries(t, settings, ingest, action, audit);
    dashboard(
        t,
        "Platform",
        &settings.name("sre-platform"),
        dashboard_widgets(ingest, action, machine),
    );
}

/// The remediation metrics (metric filters on the audit log and runbook_action's logs, shown
/// on the dashboard) and the saved Logs Insights queries an operator starts from.
fn remediation_metrics_and_queries(
    t: &mut Template,
    settings: &Settings,
    ingest: &Function,
    action: &Function,
    audit: &LogGroup,
) {
    use crate::contract::events::DetailType;
    use crate::contract::runbook::Outcome;
    use crate::contract::telemetry as tm;
    use crate::resources::logs::{MetricFilter, QueryDefinition, metric_filter};
    let outcome = |o: Outcome| {
        serde_json::to_value(o)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let completed = DetailType::ActionCompleted.as_str();
    for (id, group, pattern, metric) in [
        (
            "RemediationsSucceededFilter",
            audit.handle().reference(),
            format!(
                "{{ ($.detail-type = \"{completed}\") && (($.detail.outcome = \"{}\") || ($.detail.outcome = \"{}\")) }}",
                outcome(Outcome::Applied),
                outcome(Outcome::NoOp)
            ),
            tm::REMEDIATIONS_SUCCEEDED_METRIC,
        ),
        (
            "RemediationsRefusedFilter",
            audit.handle().reference(),
            format!(
                "{{ ($.detail-type = \"{completed}\") && ($.detail.outcome = \"{}\") }}",
                outcome(Outcome::Refused)
            ),
            tm::REMEDIATIONS_REFUSED_METRIC,
        ),
        (
            "RemediationErrorsFilter",
            action.logs().handle().reference(),
            "{ $.level = \"ERROR\" }".to_owned(),
            tm::REMEDIATION_ERRORS_METRIC,
        ),
    ] {
        t.add(
            id,
            MetricFilter::new(
                pattern,
                group,
                vec![
                    metric_filter::MetricTransformation::new(
                        metric,
                        tm::REMEDIATION_NAMESPACE,
                        "1",
                    )
                    .default_value(0.0),
                ],
            )
            .filter_name(settings.name(&format!("sre-{}", metric.to_ascii_lowercase()))),
        );
    }
    for (id, name, groups, query) in [
        (
            "RemediationOutcomesQuery",
            "remediation-outcomes",
            vec![audit.handle().reference()],
            format!(
                "fields @timestamp, detail.incident_id, detail.action, detail.outcome, detail.message\n| filter `detail-type` = \"{completed}\"\n| stats count(*) as actions by detail.action, detail.outcome\n| sort actions desc"
            ),
        ),
        (
            "FailedDeliveriesQuery",
            "failed-deliveries",
            vec![ingest.logs().handle().reference()],
            format!(
                "fields @timestamp, fields.message, fields.error, fields.incident_ids\n| filter level = \"ERROR\" or fields.message = \"{}\"\n| sort @timestamp desc",
                tm::LOG_PUT_EVENTS_FAILED
            ),
        ),
        (
            "IngestRejectionsQuery",
            "ingest-rejections-by-field",
            vec![ingest.logs().handle().reference()],
            format!(
                "fields @timestamp, fields.source, fields.field, fields.error, fields.alertname\n| filter fields.message = \"{}\" or fields.message = \"{}\"\n| stats count(*) as rejected by fields.source, fields.field\n| sort rejected desc",
                tm::LOG_ALERT_REJECTED,
                tm::LOG_BAD_WEBHOOK
            ),
        ),
    ] {
        t.add(
            id,
            QueryDefinition::new(format!("{}/{name}", settings.name("sre-platform")), query)
                .log_group_names(groups.into_iter().map(Value::from).collect::<Vec<_>>()),
        );
    }
}

/// `incident.created` -> `IncidentCreated`.
fn pascal_of(wire: &str) -> String {
    crate::cfn::LogicalId::from_path(&[wire])
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default()
}

fn runtime_error(function: &str, e: &runtime::RuntimeError) -> Error {
    Error::Construct {
        construct: format!("{function} environment"),
        message: e.to_string(),
    }
}

/// The timeouts along the loop must nest, or a part is killed while the next one still waits:
/// drain window < runbook_action's timeout < the runbook task's timeout; alert_ingest's timeout
/// < API Gateway's integration timeout (29 s) < Alertmanager's notification timeout (its
/// `group_interval`: Alertmanager 0.25 bounds a notification by it), so a sender never gives up
/// on a request the API still processes.
pub fn check_timeouts(settings: &Settings) -> Result<(), Error> {
    let p = &settings.pipeline;
    let mut problems = Vec::new();
    let action = p.runbook_action.timeout_seconds;
    if p.drain_timeout_seconds >= action {
        problems.push(format!(
            "pipeline.drain_timeout_seconds ({}) must be below pipeline.runbook_action.timeout_seconds ({action}): drain_node would be killed mid-drain",
            p.drain_timeout_seconds
        ));
    }
    let integration = MAX_INTEGRATION_TIMEOUT_MS / 1000;
    if i64::from(p.ingest.timeout_seconds) >= integration {
        problems.push(format!(
            "pipeline.ingest.timeout_seconds ({}) must be below API Gateway's integration timeout ({integration} s): the API would answer 504 while alert_ingest still publishes",
            p.ingest.timeout_seconds
        ));
    }
    if i64::from(p.approval.function.timeout_seconds) >= integration {
        problems.push(format!(
            "pipeline.approval.function.timeout_seconds ({}) must be below API Gateway's integration timeout ({integration} s): a person's click would get a 504 while the decision is still being made",
            p.approval.function.timeout_seconds
        ));
    }
    let notify = prom_seconds(settings.cluster.alertmanager.group_interval.as_str());
    if notify.is_some_and(|n| n <= integration) {
        problems.push(format!(
            "cluster.alertmanager.group_interval ({}) must be longer than API Gateway's integration timeout ({integration} s): Alertmanager bounds a notification by it and would give up first",
            settings.cluster.alertmanager.group_interval
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Construct {
            construct: format!("timeouts of {}", settings.environment),
            message: problems.join("; "),
        })
    }
}

/// Seconds of a one-unit Prometheus duration (`30s`, `5m`), as
/// [`crate::monitoring::duration_seconds`] reads it.
pub fn prom_seconds(d: &str) -> Option<i64> {
    crate::monitoring::duration_seconds(d).and_then(|s| i64::try_from(s).ok())
}

fn dashboard_widgets(
    ingest: &Function,
    action: &Function,
    machine: &StateMachine,
) -> Vec<serde_json::Value> {
    let region = "${AWS::Region}";
    let machine = machine.arn_placeholder();
    let metric_widget = |title: &str, x: i64, y: i64, metrics: serde_json::Value, stat: &str| {
        json!({
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": {"title": title, "region": region, "stat": stat, "period": 300, "view": "timeSeries", "metrics": metrics}
        })
    };
    vec![
        metric_widget(
            "Alert volume (webhook invocations)",
            0,
            0,
            json!([
                ["AWS/Lambda", "Invocations", "FunctionName", ingest.name()],
                [".", "Errors", ".", "."]
            ]),
            "Sum",
        ),
        metric_widget(
            "Remediation outcomes",
            12,
            0,
            json!([
                [
                    "AWS/States",
                    "ExecutionsSucceeded",
                    "StateMachineArn",
                    machine
                ],
                [".", "ExecutionsFailed", ".", "."],
                ["AWS/Lambda", "Errors", "FunctionName", action.name()]
            ]),
            "Sum",
        ),
        metric_widget(
            "Remediations (from the audit log and runbook_action's logs)",
            12,
            6,
            json!([
                [
                    crate::contract::telemetry::REMEDIATION_NAMESPACE,
                    crate::contract::telemetry::REMEDIATIONS_SUCCEEDED_METRIC
                ],
                [".", crate::contract::telemetry::REMEDIATIONS_REFUSED_METRIC],
                [".", crate::contract::telemetry::REMEDIATION_ERRORS_METRIC]
            ]),
            "Sum",
        ),
        metric_widget(
            "Time to resolve (runbook execution time, ms)",
            0,
            6,
            json!([["AWS/States", "ExecutionTime", "StateMachineArn", machine, {"stat": "p90"}], ["...", {"stat": "Average"}]]),
            "Average",
        ),
    ]
}
