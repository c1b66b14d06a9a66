//! Step Functions: the typed ASL builder ([`asl`]), optimized integrations that grant their own
//! permissions, and the state machine construct.
//!
//! # Example: a state machine that records and notifies
//!
//! Each integration grants the state machine's role exactly the action it calls, on exactly the
//! resource it names, and records the resource as a definition substitution:
//!
//! ```
//! use platform_model::aws::Tags;
//! use platform_model::aws::dynamodb::{KeyType, RecordTable, TableProps};
//! use platform_model::aws::iam::ServiceRole;
//! use platform_model::aws::kms::{EncryptionKey, KeyProps};
//! use platform_model::aws::sns::NotificationTopic;
//! use platform_model::aws::stepfunctions::asl::{Builder, Next, State};
//! use platform_model::aws::stepfunctions::{Integrations, StateMachine, StateMachineProps};
//! use platform_model::cfn::Template;
//! use serde_json::json;
//!
//! let mut t = Template::new("incident-flow", "Record an incident, then page");
//! let key = EncryptionKey::new(
//!     &mut t,
//!     "Data",
//!     KeyProps {
//!         description: "Incident data".into(),
//!         alias: "incident-flow".into(),
//!         pending_window_days: 30,
//!         admin_role_names: vec![],
//!         service_users: vec![],
//!         allow_logs: true,
//!         tags: Tags::default(),
//!     },
//! );
//! let table = RecordTable::new(
//!     &mut t,
//!     "Incidents",
//!     &key,
//!     TableProps {
//!         name: "incidents".into(),
//!         partition_key: ("incident_id".into(), KeyType::String),
//!         sort_key: None,
//!         ttl_attribute: None,
//!         deletion_protection: false,
//!         tags: Tags::default(),
//!     },
//! );
//! let topic = NotificationTopic::new(&mut t, "Page", "page", &key, &Tags::default());
//!
//! let mut role = ServiceRole::new("Flow", "states.amazonaws.com", "Runs the incident flow");
//! let mut integrations = Integrations::new(&mut role);
//! let mut b = Builder::new("Record the incident, then page");
//! let record = b.declare("Record");
//! let page = b.declare("Page");
//! b.define(
//!     &record,
//!     State::Task(integrations.put_item(
//!         &table,
//!         "IncidentsTable",
//!         json!({"Item": {"incident_id": {"S.$": "$.detail.incident_id"}}}),
//!         Next::To(page.clone()),
//!     )),
//! );
//! b.define(
//!     &page,
//!     State::Task(integrations.publish(&topic, "PageTopic", json!({"Message.$": "$.detail.summary"}), Next::End)),
//! );
//! let substitutions = integrations.into_substitutions();
//! let definition = b.build(&record)?;
//! let machine = StateMachine::new(
//!     &mut t,
//!     "Flow",
//!     StateMachineProps {
//!         name: "incident-flow".into(),
//!         definition,
//!         substitutions,
//!         tags: Tags::default(),
//!     },
//!     &mut role,
//!     &key,
//! );
//! role.finish(&mut t);
//! assert_eq!(machine.arn_placeholder(), "${FlowStateMachine}");
//!
//! let json = t.to_json()?;
//! let props = &json["Resources"]["FlowStateMachine"]["Properties"];
//! assert_eq!(props["Definition"]["States"]["Record"]["Parameters"]["TableName"], "${IncidentsTable}");
//! assert_eq!(props["DefinitionSubstitutions"]["IncidentsTable"], json!({"Ref": "IncidentsTable"}));
//! assert_eq!(props["DefinitionSubstitutions"]["PageTopic"], json!({"Ref": "PageTopic"}));
//! assert_eq!(props["EncryptionConfiguration"]["Type"], "CUSTOMER_MANAGED_KMS_KEY");
//! assert_eq!(props["LoggingConfiguration"]["IncludeExecutionData"], false);
//! // The role may put items in that table and publish to that topic, nothing broader.
//! let statements = &json["Resources"]["FlowRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
//! assert!(statements.as_array().unwrap().contains(&json!({
//!     "Effect": "Allow",
//!     "Action": ["dynamodb:PutItem"],
//!     "Resource": [{"Fn::GetAtt": ["IncidentsTable", "Arn"]}]
//! })));
//! assert!(statements.as_array().unwrap().contains(&json!({
//!     "Effect": "Allow",
//!     "Action": ["sns:Publish"],
//!     "Resource": [{"Ref": "PageTopic"}]
//! })));
//! # Ok::<(), platform_model::Error>(())
//! ```

pub mod asl;

use std::collections::BTreeMap;

use serde_json::json;

use crate::aws::Tags;
use crate::aws::dynamodb::RecordTable;
use crate::aws::events::EventBus;
use crate::aws::iam::{ServiceRole, Statement};
use crate::aws::kms::EncryptionKey;
use crate::aws::lambda::Function;
use crate::aws::logs::LogGroup;
use crate::aws::sns::NotificationTopic;
use crate::cfn::{Attributes, Expr, Handle, Json, Template, Value};
use crate::resources::stepfunctions::{StateMachine as StateMachineResource, state_machine};
use asl::{Definition, Next, Task};

/// Builds Task states for the optimized integrations. Each call records the substitution of
/// the resource it touches and grants exactly the action it needs to the state machine's role.
#[derive(Debug)]
pub struct Integrations<'r> {
    role: &'r mut ServiceRole,
    substitutions: BTreeMap<String, Value<String>>,
}

impl<'r> Integrations<'r> {
    /// Integrations whose permissions go to `role`.
    pub fn new(role: &'r mut ServiceRole) -> Self {
        Integrations {
            role,
            substitutions: BTreeMap::new(),
        }
    }

    fn placeholder(&mut self, name: &str, value: Expr) -> String {
        self.substitutions.insert(name.to_owned(), value.into());
        format!("${{{name}}}")
    }

    /// `dynamodb:putItem` on `table`.
    pub fn put_item(
        &mut self,
        table: &RecordTable,
        placeholder: &str,
        params: Json,
        next: Next,
    ) -> Task {
        self.dynamodb(
            "putItem",
            "dynamodb:PutItem",
            table,
            placeholder,
            params,
            next,
        )
    }

    /// `dynamodb:updateItem` on `table`.
    pub fn update_item(
        &mut self,
        table: &RecordTable,
        placeholder: &str,
        params: Json,
        next: Next,
    ) -> Task {
        self.dynamodb(
            "updateItem",
            "dynamodb:UpdateItem",
            table,
            placeholder,
            params,
            next,
        )
    }

    /// `dynamodb:getItem` on `table`.
    pub fn get_item(
        &mut self,
        table: &RecordTable,
        placeholder: &str,
        params: Json,
        next: Next,
    ) -> Task {
        self.dynamodb(
            "getItem",
            "dynamodb:GetItem",
            table,
            placeholder,
            params,
            next,
        )
    }

    /// `dynamodb:query` on `table`, through the AWS SDK integration (there is no optimized
    /// one). The result is the SDK's `QueryOutput` (`Items`, `Count`, ...).
    pub fn query(
        &mut self,
        table: &RecordTable,
        placeholder: &str,
        params: Json,
        next: Next,
    ) -> Task {
        self.dynamodb(
            "aws-sdk:dynamodb:query",
            "dynamodb:Query",
            table,
            placeholder,
            params,
            next,
        )
    }

    fn dynamodb(
        &mut self,
        api: &str,
        action: &str,
        table: &RecordTable,
        placeholder: &str,
        mut params: Json,
        next: Next,
    ) -> Task {
        self.role.grant(Statement::allow([action]).on(table.arn()));
        params["TableName"] = json!(self.placeholder(placeholder, table.name()));
        let resource = if api.starts_with("aws-sdk:") {
            format!("arn:aws:states:::{api}")
        } else {
            format!("arn:aws:states:::dynamodb:{api}")
        };
        Task::new(resource, params, next)
    }

    /// `sns:publish` to `topic`.
    pub fn publish(
        &mut self,
        topic: &NotificationTopic,
        placeholder: &str,
        mut params: Json,
        next: Next,
    ) -> Task {
        topic.grant_publish(self.role);
        params["TopicArn"] = json!(self.placeholder(placeholder, topic.arn()));
        Task::new("arn:aws:states:::sns:publish", params, next)
    }

    /// `lambda:invoke` of `function` with `payload_path` as the payload.
    pub fn invoke(
        &mut self,
        function: &Function,
        placeholder: &str,
        payload_path: &str,
        next: Next,
    ) -> Task {
        function.grant_invoke(self.role);
        let name = self.placeholder(placeholder, function.arn());
        Task::new(
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": name, "Payload.$": payload_path}),
            next,
        )
    }

    /// `lambda:invoke.waitForTaskToken` of `function` with `payload` (which should carry
    /// `$$.Task.Token`): the state waits until someone calls `SendTaskSuccess` /
    /// `SendTaskFailure` with the token, or its `TimeoutSeconds` pass (`States.Timeout`).
    pub fn invoke_for_token(
        &mut self,
        function: &Function,
        placeholder: &str,
        payload: Json,
        next: Next,
    ) -> Task {
        function.grant_invoke(self.role);
        let name = self.placeholder(placeholder, function.arn());
        Task::new(
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            json!({"FunctionName": name, "Payload": payload}),
            next,
        )
    }

    /// `events:putEvents` of one entry on `bus`.
    pub fn put_event(
        &mut self,
        bus: &EventBus,
        placeholder: &str,
        source: &str,
        detail_type: &str,
        detail_path: &str,
        next: Next,
    ) -> Task {
        bus.grant_put_events(self.role);
        let name = self.placeholder(placeholder, bus.name_expr());
        Task::new(
            "arn:aws:states:::events:putEvents",
            json!({"Entries": [{
                "EventBusName": name,
                "Source": source,
                "DetailType": detail_type,
                "Detail.$": detail_path,
            }]}),
            next,
        )
    }

    /// The substitutions recorded so far.
    pub fn into_substitutions(self) -> BTreeMap<String, Value<String>> {
        self.substitutions
    }
}

/// A standard state machine with logging (all events, no execution data) to a KMS-encrypted
/// log group, and X-Ray tracing.
#[derive(Debug, Clone)]
pub struct StateMachine {
    machine: Handle<StateMachineResource>,
}

/// What a [`StateMachine`] is made from.
#[derive(Debug)]
pub struct StateMachineProps {
    /// Physical name.
    pub name: String,
    /// The checked definition.
    pub definition: Definition,
    /// Placeholder values of the definition.
    pub substitutions: BTreeMap<String, Value<String>>,
    /// Tags.
    pub tags: Tags,
}

impl StateMachine {
    /// Adds the state machine as `<id>StateMachine`, its log group `<id>LogGroup`, and the
    /// logging, tracing and key permissions to `role` (which the caller finishes afterwards).
    pub fn new(
        t: &mut Template,
        id: &str,
        props: StateMachineProps,
        role: &mut ServiceRole,
        key: &EncryptionKey,
    ) -> Self {
        let logs = LogGroup::new(
            t,
            id,
            &format!("/aws/vendedlogs/states/{}", props.name),
            key,
            crate::aws::lambda::LOG_RETENTION_DAYS,
            &props.tags,
        );
        // The log delivery and X-Ray APIs accept only "*" as their resource.
        role.grant(
            Statement::allow([
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
                "logs:GetLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:UpdateLogDelivery",
            ])
            .sid("VendedLogDelivery")
            .on("*"),
        );
        role.grant(
            Statement::allow([
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:PutTelemetryRecords",
                "xray:PutTraceSegments",
            ])
            .sid("XRayTracing")
            .on("*"),
        );
        role.checkov_skip(
            "CKV_AWS_111",
            "CloudWatch Logs vended log delivery and X-Ray accept only Resource \"*\" (AWS Step Functions logging docs)",
        );
        role.checkov_skip(
            "CKV_AWS_356",
            "CloudWatch Logs vended log delivery and X-Ray accept only Resource \"*\" (AWS Step Functions logging docs)",
        );
        let machine = t.add_with(
            &format!("{id}StateMachine"),
            StateMachineResource::new(role.arn())
                .state_machine_name(props.name.as_str())
                .state_machine_type(state_machine::StateMachineType::Standard)
                // The platform key encrypts execution data (the role's grant below lets it use
                // the key; whoever starts an execution needs kms:GenerateDataKey on it too).
                .encryption_configuration(
                    state_machine::EncryptionConfiguration::new(
                        state_machine::Type::CustomerManagedKmsKey,
                    )
                    .kms_key_id(key.arn())
                    .kms_data_key_reuse_period_seconds(300),
                )
                .definition(props.definition.to_json())
                .definition_substitutions(Json::Object(
                    props
                        .substitutions
                        .into_iter()
                        .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or(Json::Null)))
                        .collect::<serde_json::Map<String, Json>>(),
                ))
                .logging_configuration(
                    state_machine::LoggingConfiguration::new()
                        .level(state_machine::Level::All)
                        .include_execution_data(false)
                        .destinations(vec![
                            state_machine::LogDestination::new().cloud_watch_logs_log_group(
                                state_machine::CloudWatchLogsLogGroup::new()
                                    .log_group_arn(logs.arn()),
                            ),
                        ]),
                )
                .tracing_configuration(state_machine::TracingConfiguration::new().enabled(true))
                .tags(
                    props
                        .tags
                        .to_list(|k, v| state_machine::TagsEntry::new(k, v)),
                ),
            Attributes::new(),
        );
        StateMachine { machine }
    }

    /// The state machine's ARN.
    pub fn arn(&self) -> Expr {
        self.machine.reference()
    }

    /// The state machine's ARN as an `Fn::Sub` placeholder (`${<LogicalId>}`: `Ref` of a state
    /// machine is its ARN), for bodies built as one substituted string (dashboards).
    pub fn arn_placeholder(&self) -> String {
        format!("${{{}}}", self.machine.logical_id())
    }

    /// The state machine's name.
    pub fn name(&self) -> Expr {
        self.machine.get_att("Name")
    }

    /// The handle.
    pub fn handle(&self) -> &Handle<StateMachineResource> {
        &self.machine
    }

    /// Lets `role` start executions of this state machine (and no other).
    pub fn grant_start_execution(&self, role: &mut ServiceRole) {
        role.grant(Statement::allow(["states:StartExecution"]).on(self.arn()));
    }
}
