//! Property assertions on the pipeline stack (CDK `Template` style): what must hold whatever
//! the snapshot says.

use platform_model::cfn::Template;
use platform_model::platform::{Assets, pipeline_stack};

fn assets() -> Assets {
    Assets::new(&"a".repeat(64), &"b".repeat(64), &"c".repeat(64))
}
use platform_model::resources::sqs::Queue;
use platform_model::settings::{Environment, Settings};
use serde_json::{Value, json};

fn stack(env: Environment) -> (Template, Value) {
    let settings = Settings::embedded(env).unwrap();
    let t = pipeline_stack(
        &settings,
        &[platform_model::platform::checkout(&settings).unwrap()],
        &assets(),
    )
    .unwrap()
    .template;
    let json = t.to_json().unwrap();
    (t, json)
}

/// Resources of one type: (logical id, whole resource).
fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

fn one<'a>(t: &'a Value, kind: &str) -> &'a Value {
    let all = of_type(t, kind);
    assert_eq!(all.len(), 1, "expected one {kind}, found {}", all.len());
    all[0].1
}

fn key_arn() -> Value {
    json!({"Fn::GetAtt": ["PlatformKey", "Arn"]})
}

#[test]
fn the_incidents_table_has_keys_pitr_ttl_kms_on_demand_and_protection() {
    let (_, t) = stack(Environment::Prod);
    let table = one(&t, "AWS::DynamoDB::Table");
    let p = &table["Properties"];
    assert_eq!(p["TableName"], "sre-incidents");
    assert_eq!(
        p["KeySchema"],
        json!([{"AttributeName": "incident_id", "KeyType": "HASH"}, {"AttributeName": "timestamp", "KeyType": "RANGE"}])
    );
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({"AttributeName": "expires_at", "Enabled": true})
    );
    assert_eq!(
        p["SSESpecification"],
        json!({"KMSMasterKeyId": key_arn(), "SSEEnabled": true, "SSEType": "KMS"})
    );
    assert_eq!(p["DeletionProtectionEnabled"], true);
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
}

#[test]
fn dev_differs_only_by_settings() {
    let (_, t) = stack(Environment::Dev);
    let table = one(&t, "AWS::DynamoDB::Table");
    assert_eq!(table["Properties"]["TableName"], "dev-sre-incidents");
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"], false);
    assert_eq!(table["DeletionPolicy"], "Delete");
    assert!(
        of_type(&t, "AWS::SNS::Subscription")
            .iter()
            .all(|(_, s)| s["Properties"]["Protocol"] == "email"),
        "dev has no paging"
    );
}

#[test]
fn the_key_rotates_and_only_the_account_and_named_services_use_it() {
    let (_, t) = stack(Environment::Prod);
    let key = one(&t, "AWS::KMS::Key");
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    assert_eq!(key["Properties"]["PendingWindowInDays"], 30);
    let statements = key["Properties"]["KeyPolicy"]["Statement"]
        .as_array()
        .unwrap();
    for s in statements {
        assert_ne!(s["Principal"], json!("*"), "no anonymous principal: {s}");
        assert_ne!(
            s["Principal"]["AWS"],
            json!("*"),
            "no wildcard principal: {s}"
        );
    }
    let services = statements
        .iter()
        .find(|s| s["Principal"]["Service"].is_array())
        .unwrap();
    assert_eq!(
        services["Action"],
        json!(["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"])
    );
    // Confused deputy: services act only for this account; Logs only in the stack's region.
    assert_eq!(
        services["Condition"]["StringEquals"]["aws:SourceAccount"],
        json!({"Ref": "AWS::AccountId"})
    );
    let logs = statements
        .iter()
        .find(|s| s["Sid"] == "CloudWatchLogsEncryptsThisAccountsLogGroups")
        .unwrap();
    assert_eq!(
        logs["Principal"]["Service"],
        json!({"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"})
    );
    let alias = one(&t, "AWS::KMS::Alias");
    assert_eq!(alias["Properties"]["AliasName"], "alias/sre-platform");
    assert_eq!(
        alias["Properties"]["TargetKeyId"],
        json!({"Ref": "PlatformKey"})
    );
}

#[test]
fn the_paging_subscription_receives_only_critical_incidents() {
    let (_, t) = stack(Environment::Prod);
    let subs = of_type(&t, "AWS::SNS::Subscription");
    let https: Vec<_> = subs
        .iter()
        .filter(|(_, s)| s["Properties"]["Protocol"] == "https")
        .collect();
    assert_eq!(https.len(), 2, "paging and chat");
    let paging = subs
        .iter()
        .find(|(id, _)| *id == "PagingSubscription")
        .unwrap()
        .1;
    // Critical incidents page, and so does every platform alarm going into ALARM (CloudWatch's
    // message has no `detail.severity`).
    assert_eq!(
        paging["Properties"]["FilterPolicy"],
        json!({"$or": [{"detail": {"severity": ["critical"]}}, {"NewStateValue": ["ALARM"]}]})
    );
    assert_eq!(paging["Properties"]["FilterPolicyScope"], "MessageBody");
    assert!(
        paging["Properties"]["Endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let chat = subs
        .iter()
        .find(|(id, _)| *id == "NotificationsChat")
        .unwrap()
        .1;
    assert!(
        chat["Properties"].get("FilterPolicy").is_none(),
        "chat receives everything"
    );
    let email = subs
        .iter()
        .find(|(_, s)| s["Properties"]["Protocol"] == "email")
        .unwrap()
        .1;
    assert_eq!(email["Properties"]["Endpoint"], "sre-oncall@example.com");
    // People (email, chat) read the notifications topic; the pager has its own topic.
    for (id, s) in subs {
        let topic = if id == "PagingSubscription" {
            "PagingTopic"
        } else {
            "NotificationsTopic"
        };
        assert_eq!(s["Properties"]["TopicArn"], json!({"Ref": topic}), "{id}");
        // Undeliverable notifications are kept.
        assert_eq!(
            s["Properties"]["RedrivePolicy"]["deadLetterTargetArn"],
            json!({"Fn::GetAtt": ["NotificationDeadLettersQueue", "Arn"]}),
            "{id}"
        );
    }
    let policies = of_type(&t, "AWS::SNS::TopicPolicy");
    assert_eq!(policies.len(), 2);
    for s in policies.iter().flat_map(|(_, p)| {
        p["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
    }) {
        assert!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"].is_object(),
            "{s}"
        );
        assert!(
            s["Condition"]["ArnLike"]["aws:SourceArn"].is_object(),
            "{s}"
        );
    }
    let topics = of_type(&t, "AWS::SNS::Topic");
    let names: Vec<_> = topics
        .iter()
        .map(|(_, t)| t["Properties"]["TopicName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sre-incident-notifications", "sre-incident-paging"]);
    for (_, topic) in &topics {
        assert_eq!(topic["Properties"]["KmsMasterKeyId"], key_arn());
    }
}

#[test]
fn the_dead_letter_queues_keep_messages_14_days_encrypted() {
    let (_, t) = stack(Environment::Prod);
    let queues = of_type(&t, "AWS::SQS::Queue");
    assert_eq!(queues.len(), 2, "events and notifications");
    for (id, q) in queues {
        assert_eq!(q["Properties"]["MessageRetentionPeriod"], 1_209_600, "{id}");
        assert_eq!(q["Properties"]["KmsMasterKeyId"], key_arn(), "{id}");
    }
}

#[test]
fn the_degraded_mode_flag_starts_off() {
    let (_, t) = stack(Environment::Prod);
    let p = one(&t, "AWS::SSM::Parameter");
    assert_eq!(p["Properties"]["Name"], "/checkout/degraded_mode");
    assert_eq!(p["Properties"]["Type"], "String");
    assert_eq!(p["Properties"]["Value"], "false");
}

#[test]
fn every_taggable_resource_carries_the_environment_tags() {
    let (_, t) = stack(Environment::Staging);
    for kind in [
        "AWS::KMS::Key",
        "AWS::DynamoDB::Table",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
    ] {
        for (id, r) in of_type(&t, kind) {
            let tags = &r["Properties"]["Tags"];
            assert!(
                tags.as_array()
                    .unwrap()
                    .contains(&json!({"Key": "environment", "Value": "staging"})),
                "{id}: {tags}"
            );
        }
    }
    assert_eq!(
        one(&t, "AWS::SSM::Parameter")["Properties"]["Tags"]["environment"],
        "staging"
    );
}

#[test]
fn a_reference_to_a_resource_of_another_template_fails_naming_both() {
    let settings = Settings::embedded(Environment::Prod).unwrap();
    let data = pipeline_stack(
        &settings,
        &[platform_model::platform::checkout(&settings).unwrap()],
        &assets(),
    )
    .unwrap()
    .data;
    // A handle from the pipeline stack used in a template that does not hold that resource.
    let mut other = Template::new("consumer", "Uses a key it does not hold");
    other.add("Buffer", Queue::new().kms_master_key_id(data.key.arn()));
    let err = other.render().unwrap_err().to_string();
    assert!(
        err.contains("template `consumer` failed its self-check"),
        "{err}"
    );
    assert!(err.contains("resource `Buffer` (AWS::SQS::Queue) at Properties.KmsMasterKeyId refers to `PlatformKey.Arn` (Fn::GetAtt), but `PlatformKey` is not a resource in template `consumer`"), "{err}");
}

#[test]
fn a_name_over_the_aws_limit_fails_naming_resource_property_and_limit() {
    let mut t = Template::new("limits", "Limits");
    t.add("Long", Queue::new().queue_name("q".repeat(81)));
    let err = t.render().unwrap_err().to_string();
    assert!(
        err.contains("resource `Long` (AWS::SQS::Queue) property QueueName"),
        "{err}"
    );
    assert!(
        err.contains("is 81 characters long; the limit is 80"),
        "{err}"
    );
}

#[test]
fn an_attribute_the_type_does_not_have_is_an_error() {
    let mut t = Template::new("attrs", "Attributes");
    let q = t.add("Q", Queue::new());
    t.add("R", Queue::new().kms_master_key_id(q.get_att("KeyArn")));
    let err = t.render().unwrap_err().to_string();
    assert!(err.contains("asks for attribute `KeyArn` of `Q`"), "{err}");
    assert!(
        err.contains("AWS::SQS::Queue has no attribute `KeyArn`"),
        "{err}"
    );
}

/// The statements of a role's inline policies.
fn role_statements<'a>(t: &'a Value, role: &str) -> Vec<&'a Value> {
    t["Resources"][role]["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
        .collect()
}

#[test]
fn the_ingest_role_can_put_events_on_the_platform_bus_only() {
    let (_, t) = stack(Environment::Prod);
    let put: Vec<_> = role_statements(&t, "AlertIngestRole")
        .into_iter()
        .filter(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a.as_str().unwrap().starts_with("events:"))
        })
        .collect();
    assert_eq!(put.len(), 1);
    assert_eq!(put[0]["Action"], json!(["events:PutEvents"]));
    assert_eq!(
        put[0]["Resource"],
        json!([{"Fn::GetAtt": ["PlatformBus", "Arn"]}])
    );
}

#[test]
fn the_eventbridge_role_can_start_only_the_runbook() {
    let (_, t) = stack(Environment::Prod);
    let statements = role_statements(&t, "EventsTargetsRole");
    assert_eq!(statements.len(), 2, "{statements:?}");
    assert_eq!(statements[0]["Action"], json!(["states:StartExecution"]));
    assert_eq!(
        statements[0]["Resource"],
        json!([{"Ref": "RunbookStateMachine"}])
    );
    // The runbook's execution data is encrypted with the platform key: starting one needs it.
    assert_eq!(statements[1]["Resource"], json!([key_arn()]));
}

#[test]
fn no_role_uses_a_wildcard_resource_except_where_aws_allows_nothing_narrower() {
    let (_, t) = stack(Environment::Prod);
    // Actions AWS defines on "*" only: X-Ray and CloudWatch Logs vended log delivery; and the
    // VPC network interfaces of a function, which Lambda checks on "*".
    let star_only = |a: &str| {
        a.starts_with("xray:")
            || [
                "ec2:AssignPrivateIpAddresses",
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:UnassignPrivateIpAddresses",
            ]
            .contains(&a)
            || a.ends_with("LogDelivery")
            || a == "logs:ListLogDeliveries"
            || a == "logs:DescribeLogGroups"
            || a == "logs:DescribeResourcePolicies"
            || a == "logs:PutResourcePolicy"
    };
    for (id, r) in of_type(&t, "AWS::IAM::Role") {
        // No managed policy with logs:* on every log group (AWSLambdaVPCAccessExecutionRole).
        for m in r["Properties"]["ManagedPolicyArns"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert!(
                !m.to_string().contains("AWSLambdaVPCAccessExecutionRole"),
                "{id}: {m}"
            );
        }
        for p in r["Properties"]["Policies"].as_array().into_iter().flatten() {
            for s in p["PolicyDocument"]["Statement"].as_array().unwrap() {
                if s["Resource"] == json!(["*"]) {
                    for a in s["Action"].as_array().unwrap() {
                        assert!(star_only(a.as_str().unwrap()), "{id}: {a} on *");
                    }
                }
            }
        }
    }
}

#[test]
fn every_rule_target_has_a_retry_policy_and_the_dead_letter_queue() {
    let (_, t) = stack(Environment::Prod);
    let rules = of_type(&t, "AWS::Events::Rule");
    // Lifecycle, notify (paging), audit, and a sentence rule per (event, severity).
    assert_eq!(rules.len(), 3 + 5 * 3);
    for (id, r) in rules {
        assert_eq!(
            r["Properties"]["EventBusName"],
            json!({"Ref": "PlatformBus"}),
            "{id}"
        );
        for target in r["Properties"]["Targets"].as_array().unwrap() {
            assert!(
                target["RetryPolicy"]["MaximumRetryAttempts"]
                    .as_i64()
                    .unwrap()
                    > 0,
                "{id}"
            );
            assert_eq!(
                target["DeadLetterConfig"]["Arn"],
                json!({"Fn::GetAtt": ["DeadLettersQueue", "Arn"]}),
                "{id}"
            );
        }
    }
    let policy = &t["Resources"]["DeadLettersPolicy"];
    let sources = &policy["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]
        ["aws:SourceArn"];
    assert_eq!(
        sources.as_array().unwrap().len(),
        3 + 5 * 3,
        "every rule may dead-letter, nothing else"
    );
}

#[test]
fn rule_patterns_come_from_the_event_contract() {
    let (_, t) = stack(Environment::Prod);
    let lifecycle = &t["Resources"]["IncidentLifecycleRule"]["Properties"];
    assert_eq!(
        lifecycle["EventPattern"],
        json!({"source": ["sre.alertmanager", "sre.datadog"], "detail-type": ["incident.created", "incident.resolved"]})
    );
    assert_eq!(
        lifecycle["Targets"][0]["Arn"],
        json!({"Ref": "RunbookStateMachine"})
    );
    assert_eq!(
        lifecycle["Targets"][0]["RoleArn"],
        json!({"Fn::GetAtt": ["EventsTargetsRole", "Arn"]})
    );
}

#[test]
fn the_runbook_has_a_branch_per_action_and_reads_only_contract_fields() {
    use platform_model::contract::events::{IncidentCreated, IncidentResolved};
    use platform_model::contract::runbook::Action;
    let (_, t) = stack(Environment::Prod);
    let sm = &t["Resources"]["RunbookStateMachine"]["Properties"];
    let def = &sm["Definition"];
    let choices = def["States"]["ChooseAction"]["Choices"].as_array().unwrap();
    let branches: Vec<&str> = choices
        .iter()
        .map(|c| c["StringEquals"].as_str().unwrap())
        .collect();
    assert_eq!(branches, Action::ALL.map(Action::as_str).to_vec());
    let invoke = &def["States"]["InvokeRunbookAction"];
    assert_eq!(invoke["Retry"][0]["MaxAttempts"], 3);
    assert_eq!(invoke["Retry"][0]["BackoffRate"], 2.0);
    assert_eq!(invoke["Catch"][0]["Next"], "Escalate");
    assert_eq!(
        def["States"]["RecordIncident"]["Parameters"]["ConditionExpression"],
        "attribute_not_exists(incident_id)"
    );
    assert_eq!(def["States"]["WaitForStabilization"]["Seconds"], 60);
    assert_eq!(sm["TracingConfiguration"]["Enabled"], true);
    // Every `$.detail.<field>` the definition reads is a field of the incident events.
    let fields = |schema: schemars::Schema| -> Vec<String> {
        schema.as_value()["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let mut known = fields(schemars::schema_for!(IncidentCreated));
    known.extend(fields(schemars::schema_for!(IncidentResolved)));
    let text = serde_json::to_string(def).unwrap();
    let mut read = 0;
    for part in text.split("$.detail.").skip(1) {
        let field: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            known.contains(&field),
            "the runbook reads $.detail.{field}, which no incident event has"
        );
        read += 1;
    }
    assert!(read > 10, "the runbook reads the event's fields");
}

/// `incident.resolved` without a start (a Datadog recovery) finds the record by its id; with
/// one, it updates the record keyed by it; both are first-writer-wins.
#[test]
fn the_resolve_path_keys_the_record_with_or_without_a_start_time() {
    let (_, t) = stack(Environment::Prod);
    let states = &t["Resources"]["RunbookStateMachine"]["Properties"]["Definition"]["States"];
    let has_start = &states["HasStartTime"];
    assert_eq!(has_start["Choices"][0]["Variable"], "$.detail.starts_at");
    assert_eq!(has_start["Choices"][0]["StringEquals"], "");
    assert_eq!(has_start["Choices"][0]["Next"], "FindIncidentStart");
    assert_eq!(has_start["Default"], "UseEventStart");
    let find = &states["FindIncidentStart"];
    assert_eq!(find["Resource"], "arn:aws:states:::aws-sdk:dynamodb:query");
    assert_eq!(
        find["Parameters"]["KeyConditionExpression"],
        "incident_id = :id"
    );
    assert_eq!(
        states["UseRecordedStart"]["Parameters"]["value.$"],
        "$.found.items[0].timestamp.S"
    );
    assert_eq!(
        states["UseResolvedAtAsStart"]["Parameters"]["value.$"],
        "$.detail.resolved_at"
    );
    for (state, with_duration) in [("ResolveIncident", true), ("ResolveUndatedIncident", false)] {
        let p = &states[state]["Parameters"];
        assert_eq!(p["Key"]["timestamp"]["S.$"], "$.start.value", "{state}");
        assert_eq!(
            p["ConditionExpression"], "attribute_not_exists(resolved_at)",
            "{state}"
        );
        let update = p["UpdateExpression"].as_str().unwrap();
        assert_eq!(
            update.contains("time_to_resolve_seconds"),
            with_duration,
            "{state}: {update}"
        );
        assert_eq!(states[state]["Catch"][0]["Next"], "AlreadyResolved");
    }
    // The role may query the table (and nothing wider) for it.
    let queries = role_statements(&t, "RunbookRole")
        .into_iter()
        .filter(|s| s["Action"].to_string().contains("dynamodb:Query"))
        .count();
    assert_eq!(queries, 1);
}

#[test]
fn the_webhook_api_validates_bodies_against_the_payload_types() {
    let (_, t) = stack(Environment::Prod);
    let models = of_type(&t, "AWS::ApiGateway::Model");
    assert_eq!(models.len(), 2);
    for (_, m) in &models {
        let schema = &m["Properties"]["Schema"];
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
        assert!(
            schema["required"].as_array().unwrap().len() >= 3,
            "{schema}"
        );
    }
    let am = models
        .iter()
        .find(|(id, _)| id.contains("Alertmanager"))
        .unwrap()
        .1;
    assert!(am["Properties"]["Schema"]["properties"]["alerts"].is_object());
    let methods = of_type(&t, "AWS::ApiGateway::Method");
    // The approval links: GET shows, POST decides, both proxied to the approval function,
    // which checks each request's signed token (no body model: a query string and a form).
    let approvals: Vec<_> = methods
        .iter()
        .filter(|(id, _)| id.contains("Approvals"))
        .collect();
    let verbs: Vec<_> = approvals
        .iter()
        .map(|(_, m)| m["Properties"]["HttpMethod"].as_str().unwrap())
        .collect();
    assert_eq!(verbs, ["GET", "POST"]);
    for (id, m) in &approvals {
        let uri = m["Properties"]["Integration"]["Uri"].to_string();
        assert!(uri.contains("ApprovalFunction"), "{id}: {uri}");
        assert_eq!(m["Properties"]["Integration"]["Type"], "AWS_PROXY", "{id}");
        assert_eq!(
            m["Metadata"]["checkov"]["skip"][0]["id"], "CKV_AWS_59",
            "{id}"
        );
    }
    let permission = &t["Resources"]["ApprovalInvokePermission"]["Properties"];
    assert!(
        permission["SourceArn"]
            .to_string()
            .contains("/v1/*/approvals/*"),
        "{permission}"
    );
    for (id, m) in methods.iter().filter(|(id, _)| !id.contains("Approvals")) {
        assert_eq!(m["Properties"]["HttpMethod"], "POST", "{id}");
        assert_eq!(m["Properties"]["Integration"]["Type"], "AWS_PROXY", "{id}");
        // One auth model: the bearer token alert_ingest checks. No API key, which no sender
        // carries (the seam test sends the senders' exact requests).
        assert_eq!(m["Properties"]["ApiKeyRequired"], false, "{id}");
        assert_eq!(
            m["Properties"]["Integration"]["TimeoutInMillis"], 29000,
            "{id}"
        );
        assert!(m["Properties"]["RequestValidatorId"].is_object(), "{id}");
    }
    let stage = one(&t, "AWS::ApiGateway::Stage");
    assert_eq!(
        stage["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"],
        1000.0
    );
    assert_eq!(
        stage["Properties"]["MethodSettings"][0]["ThrottlingBurstLimit"],
        500
    );
    assert!(stage["Properties"]["AccessLogSetting"]["DestinationArn"].is_object());
}

#[test]
fn functions_run_on_al2023_from_content_addressed_assets() {
    let (_, t) = stack(Environment::Prod);
    for (id, f) in of_type(&t, "AWS::Lambda::Function") {
        let p = &f["Properties"];
        assert_eq!(p["Runtime"], "provided.al2023", "{id}");
        assert!(
            p["Code"]["S3Key"].as_str().unwrap().ends_with(".zip"),
            "{id}"
        );
        assert_eq!(
            p["Code"]["S3Bucket"],
            json!({"Ref": "AssetsBucket"}),
            "{id}"
        );
        assert!(
            p["ReservedConcurrentExecutions"].as_i64().unwrap() > 0,
            "{id}"
        );
        assert_eq!(p["KmsKeyArn"], key_arn(), "{id}");
    }
    assert_eq!(
        t["Resources"]["AlertIngestFunction"]["Properties"]["Code"]["S3Key"],
        format!("lambdas/alert_ingest/arm64/{}.zip", "a".repeat(64))
    );
    // The subnets are an input: the network stack's output, or the settings' existing ones.
    assert_eq!(
        t["Resources"]["RunbookActionFunction"]["Properties"]["VpcConfig"]["SubnetIds"],
        json!({"Ref": "PrivateSubnetIds"})
    );
    assert_eq!(
        t["Parameters"]["PrivateSubnetIds"]["Type"],
        "List<AWS::EC2::Subnet::Id>"
    );
    for (id, g) in of_type(&t, "AWS::Logs::LogGroup") {
        assert!(g["Properties"]["KmsKeyId"].is_object(), "{id}");
    }
}

#[test]
fn meta_monitoring_alarms_notify_the_topic() {
    let (_, t) = stack(Environment::Prod);
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    assert_eq!(
        alarms.len(),
        15,
        "error rate, 3 rules, action failures, dead letters, failed executions; ingest outcomes (unavailable, unauthorized, rejected, partial), the API's 4XX and 5XX, failed notifications and their dead letters"
    );
    // The outcome alarms read alert_ingest's metrics by the contract's names.
    let unavailable = &t["Resources"]["IngestUnavailableAlarm"]["Properties"];
    assert_eq!(unavailable["Namespace"], "SrePlatform/AlertIngest");
    assert_eq!(unavailable["MetricName"], "Requests");
    assert_eq!(
        unavailable["Dimensions"],
        json!([{"Name": "Outcome", "Value": "unavailable"}])
    );
    for (id, a) in &alarms {
        // People and the pager.
        assert_eq!(
            a["Properties"]["AlarmActions"],
            json!([{"Ref": "NotificationsTopic"}, {"Ref": "PagingTopic"}]),
            "{id}"
        );
    }
    let rate = &t["Resources"]["IngestErrorRateAlarm"]["Properties"];
    assert_eq!(rate["Threshold"], 1.0);
    assert!(
        rate["Metrics"][2]["Expression"]
            .as_str()
            .unwrap()
            .contains("100 * errors / total")
    );
    let failures = &t["Resources"]["RunbookActionFailuresAlarm"]["Properties"];
    assert_eq!(
        (failures["Threshold"].as_f64(), failures["Period"].as_i64()),
        (Some(3.0), Some(600))
    );
    assert_eq!(of_type(&t, "AWS::CloudWatch::Dashboard").len(), 1);
}

/// API Gateway accepts draft 4 only and refuses a model with any other keyword ("Invalid model
/// schema specified. Unsupported keyword(s)", API Gateway Developer Guide, "Data models"):
/// every model is walked, keyword by keyword.
#[test]
fn request_models_are_draft_4_as_api_gateway_accepts_it() {
    use platform_model::aws::apigateway::draft04_problems;
    for env in Environment::ALL {
        let (_, t) = stack(env);
        for (id, m) in of_type(&t, "AWS::ApiGateway::Model") {
            let schema = &m["Properties"]["Schema"];
            assert_eq!(draft04_problems(schema), Vec::<String>::new(), "{id}");
            let text = schema.to_string();
            assert!(!text.contains("\"$ref\""), "{id}: subschemas are inlined");
            assert!(!text.contains("\"const\""), "{id}");
        }
    }
    let (_, t) = stack(Environment::Prod);
    let am = &t["Resources"]["WebhookAlertmanagerWebhookModel"]["Properties"]["Schema"];
    assert_eq!(
        am["properties"]["status"]["enum"],
        json!(["firing", "resolved"])
    );
    assert_eq!(
        am["properties"]["alerts"]["items"]["properties"]["status"]["enum"],
        json!(["firing", "resolved"])
    );
    // The check itself refuses what draft 4 lacks.
    let bad = json!({"type": "object", "properties": {"s": {"const": "x"}}, "$id": "y",
                     "dependentRequired": {}});
    let problems = draft04_problems(&bad);
    assert_eq!(problems.len(), 3, "{problems:?}");
}

/// A REST API deployment is a snapshot: CloudFormation makes a new one (and the stage serves
/// the change) only when the deployment's logical id changes, so the id follows the content.
#[test]
fn changing_a_model_changes_the_deployment() {
    use platform_model::aws::Tags;
    use platform_model::aws::apigateway::{CustomDomain, Route, WebhookApi, WebhookApiProps};
    use platform_model::aws::iam::ServiceRole;
    use platform_model::aws::lambda::{Function, FunctionProps};
    use platform_model::cfn::Parameter;
    use platform_model::platform::data_layer;

    let settings = Settings::embedded(Environment::Dev).unwrap();
    let deployment_of = |schema: Value| {
        let mut t = Template::new("api", "test");
        let data = data_layer(&mut t, "", &settings);
        let bucket = t.parameter("Bucket", Parameter::string());
        let mut role = ServiceRole::new("Fn", "lambda.amazonaws.com", "test");
        let f = Function::new(
            &mut t,
            "Fn",
            FunctionProps {
                name: "fn".into(),
                description: "test".into(),
                asset: assets().alert_ingest,
                size: settings.pipeline.ingest.clone(),
                architecture: settings.pipeline.lambda_architecture,
                environment: Default::default(),
                vpc: None,
                tags: Tags::default(),
            },
            &mut role,
            &bucket,
            &data.key,
        );
        role.finish(&mut t);
        WebhookApi::new(
            &mut t,
            "Webhook",
            WebhookApiProps {
                name: "api".into(),
                stage: "v1".into(),
                rate_limit: 10.0,
                burst_limit: 10,
                routes: vec![Route {
                    path: vec!["webhook".into(), "x".into()],
                    model_name: "X".into(),
                    model_schema: schema,
                }],
                links: vec![],
                integration_timeout_ms: 29_000,
                domain: CustomDomain {
                    name: "alerts.example.com".into(),
                    certificate_arn: "arn:aws:acm:us-east-1:111111111111:certificate/x".into(),
                    zone_name: "example.com".into(),
                },
                tags: Tags::default(),
            },
            &f,
            &data.key,
        );
        let json = t.to_json().unwrap();
        let ids: Vec<String> = of_type(&json, "AWS::ApiGateway::Deployment")
            .into_iter()
            .map(|(id, _)| id.to_owned())
            .collect();
        assert_eq!(ids.len(), 1);
        let stage = one(&json, "AWS::ApiGateway::Stage");
        assert_eq!(stage["Properties"]["DeploymentId"], json!({"Ref": ids[0]}));
        ids[0].clone()
    };
    let a = deployment_of(json!({"type": "object", "required": ["a"]}));
    let same = deployment_of(json!({"type": "object", "required": ["a"]}));
    let b = deployment_of(json!({"type": "object", "required": ["b"]}));
    assert_eq!(a, same, "the same API keeps its deployment");
    assert_ne!(a, b, "a changed model gets a new deployment");
    assert!(a.starts_with("WebhookDeployment"), "{a}");
}

/// Hardening read from the template: what neither moto nor cfn-lint enforces.
#[test]
fn only_the_platform_publishes_and_its_key_encrypts_bus_archive_and_runbook() {
    let (_, t) = stack(Environment::Prod);
    // A forged incident.created from any other principal of the account is refused.
    let policy = one(&t, "AWS::Events::EventBusPolicy");
    let st = &policy["Properties"]["Statement"];
    assert_eq!(st["Effect"], "Deny");
    assert_eq!(st["Action"], json!(["events:PutEvents"]));
    assert_eq!(
        st["Condition"]["ArnNotEquals"]["aws:PrincipalArn"],
        json!([
            {"Fn::GetAtt": ["AlertIngestRole", "Arn"]},
            {"Fn::GetAtt": ["RunbookRole", "Arn"]},
            {"Fn::GetAtt": ["ApprovalRole", "Arn"]}
        ])
    );
    for kind in ["AWS::Events::EventBus", "AWS::Events::Archive"] {
        assert_eq!(
            one(&t, kind)["Properties"]["KmsKeyIdentifier"],
            key_arn(),
            "{kind}"
        );
    }
    let machine = one(&t, "AWS::StepFunctions::StateMachine");
    assert_eq!(
        machine["Properties"]["EncryptionConfiguration"]["KmsKeyId"],
        key_arn()
    );
    // The audit log's resource policy: EventBridge rules of this bus and account only.
    let logs = one(&t, "AWS::Logs::ResourcePolicy");
    let doc = logs["Properties"]["PolicyDocument"]["Fn::Sub"]
        .as_str()
        .unwrap();
    assert!(!doc.contains("delivery.logs.amazonaws.com"), "{doc}");
    assert!(
        doc.contains("aws:SourceArn") && doc.contains("aws:SourceAccount"),
        "{doc}"
    );
    // The account-wide API Gateway setting survives the stack.
    let account = one(&t, "AWS::ApiGateway::Account");
    assert_eq!(account["DeletionPolicy"], "Retain");
    assert_eq!(
        t["Resources"]["WebhookCloudWatchRole"]["DeletionPolicy"],
        "Retain"
    );
}

/// The field names of a contract type (its JSON Schema's properties).
fn contract_fields<T: schemars::JsonSchema>() -> Vec<String> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap();
    let mut fields: Vec<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    fields.sort();
    fields
}

/// The field names a state builds (`Parameters` or `Payload`, `.$` stripped).
fn built_fields(params: &Value) -> Vec<String> {
    let mut fields: Vec<String> = params
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.trim_end_matches(".$").to_owned())
        .collect();
    fields.sort();
    fields
}

/// What the runbook builds for others to read is exactly a contract type: the escalation (a
/// small projection of the incident, never the execution state), the approval request and the
/// expired approval's event.
#[test]
fn the_runbook_builds_contract_payloads() {
    use platform_model::contract::approval::{ApprovalDecided, ApprovalRequest};
    use platform_model::contract::events::IncidentEscalated;
    let (_, t) = stack(Environment::Prod);
    let machine = one(&t, "AWS::StepFunctions::StateMachine");
    let states = &machine["Properties"]["Definition"]["States"];
    let projection = &states["ProjectEscalation"]["Parameters"];
    assert_eq!(
        built_fields(projection),
        contract_fields::<IncidentEscalated>()
    );
    assert_eq!(projection["severity.$"], "$.detail.severity");
    assert!(!projection.to_string().contains("labels"), "{projection}");
    let notify = &states["NotifyEscalation"];
    assert_eq!(notify["Resource"], "arn:aws:states:::events:putEvents");
    assert_eq!(
        notify["Parameters"]["Entries"][0]["DetailType"],
        "incident.escalated"
    );
    assert_eq!(
        notify["Parameters"]["Entries"][0]["Detail.$"],
        "$.escalation"
    );

    let ask = &states["RequestApproval"];
    assert_eq!(
        ask["Resource"],
        "arn:aws:states:::lambda:invoke.waitForTaskToken"
    );
    assert_eq!(
        built_fields(&ask["Parameters"]["Payload"]),
        contract_fields::<ApprovalRequest>()
    );
    assert_eq!(
        ask["Parameters"]["Payload"]["task_token.$"],
        "$$.Task.Token"
    );
    // The wait is the settings' deadline, and its timeout records the expiry.
    assert_eq!(ask["TimeoutSeconds"], 900);
    assert_eq!(ask["Parameters"]["Payload"]["timeout_seconds"], 900);
    assert_eq!(ask["Catch"][0]["ErrorEquals"], json!(["States.Timeout"]));
    assert_eq!(ask["Catch"][0]["Next"], "RecordApprovalExpired");
    assert_eq!(ask["Catch"][1]["Next"], "Escalate");
    assert_eq!(ask["ResultPath"], "$.request.approved_by");
    assert_eq!(ask["Next"], "InvokeRunbookAction");
    assert_eq!(
        built_fields(&states["ProjectApprovalExpired"]["Parameters"]),
        contract_fields::<ApprovalDecided>()
    );
}

/// The remediation metrics are counted by metric filters on the audit log (the contract's
/// `action.completed` outcomes) and runbook_action's logs (errors), shown on the dashboard; the
/// saved Logs Insights queries cover remediation outcomes, failed deliveries and ingest
/// rejections by field, each on the log group that holds those lines.
#[test]
fn remediation_metrics_and_saved_queries_read_the_right_logs() {
    use platform_model::contract::telemetry as tm;
    let (_, t) = stack(Environment::Prod);
    let filters = of_type(&t, "AWS::Logs::MetricFilter");
    let mut metrics = Vec::new();
    for (id, f) in &filters {
        let p = &f["Properties"];
        let m = &p["MetricTransformations"][0];
        assert_eq!(m["MetricNamespace"], tm::REMEDIATION_NAMESPACE, "{id}");
        assert_eq!(m["MetricValue"], "1", "{id}");
        let group = p["LogGroupName"]["Ref"].as_str().unwrap();
        let pattern = p["FilterPattern"].as_str().unwrap();
        if pattern.contains("action.completed") {
            assert_eq!(group, "AuditLogGroup", "{id}");
        } else {
            assert_eq!(group, "RunbookActionLogGroup", "{id}");
            assert!(pattern.contains("\"ERROR\""), "{id}");
        }
        metrics.push(m["MetricName"].as_str().unwrap().to_owned());
    }
    metrics.sort();
    assert_eq!(
        metrics,
        [
            tm::REMEDIATION_ERRORS_METRIC,
            tm::REMEDIATIONS_REFUSED_METRIC,
            tm::REMEDIATIONS_SUCCEEDED_METRIC
        ]
    );
    // The outcome values are the contract's wire names.
    let succeeded = filters
        .iter()
        .find(|(id, _)| *id == "RemediationsSucceededFilter")
        .unwrap()
        .1["Properties"]["FilterPattern"]
        .as_str()
        .unwrap();
    for o in [
        platform_model::contract::runbook::Outcome::Applied,
        platform_model::contract::runbook::Outcome::NoOp,
    ] {
        let wire = serde_json::to_value(o).unwrap();
        assert!(
            succeeded.contains(&format!("\"{}\"", wire.as_str().unwrap())),
            "{succeeded}"
        );
    }
    // On the dashboard.
    let (_, d) = of_type(&t, "AWS::CloudWatch::Dashboard")[0];
    let body = serde_json::to_string(&d["Properties"]["DashboardBody"]).unwrap();
    for m in &metrics {
        assert!(body.contains(m.as_str()), "the dashboard shows {m}");
    }
    // The saved queries.
    let queries = of_type(&t, "AWS::Logs::QueryDefinition");
    let by_name: std::collections::BTreeMap<String, &Value> = queries
        .iter()
        .map(|(_, q)| (q["Properties"]["Name"].as_str().unwrap().to_owned(), *q))
        .collect();
    for (name, group, needle) in [
        (
            "sre-platform/remediation-outcomes",
            "AuditLogGroup",
            "action.completed",
        ),
        (
            "sre-platform/failed-deliveries",
            "AlertIngestLogGroup",
            "PutEvents failed",
        ),
        (
            "sre-platform/ingest-rejections-by-field",
            "AlertIngestLogGroup",
            "fields.field",
        ),
    ] {
        let q = by_name
            .get(name)
            .unwrap_or_else(|| panic!("no query {name}"));
        assert_eq!(
            q["Properties"]["LogGroupNames"],
            json!([{"Ref": group}]),
            "{name}"
        );
        assert!(
            q["Properties"]["QueryString"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{name}"
        );
    }
}

/// Chat and paging (HTTPS subscribers) get 3 retries over about ten minutes, as the seeds ask,
/// before the subscription's dead-letter queue; email keeps SNS's own schedule (no delivery
/// policy for email).
#[test]
fn https_subscribers_get_three_retries_over_ten_minutes() {
    let (_, t) = stack(Environment::Prod);
    let subs = of_type(&t, "AWS::SNS::Subscription");
    let mut https = 0;
    for (id, s) in subs {
        let p = &s["Properties"];
        if p["Protocol"] == "https" {
            https += 1;
            let r = &p["DeliveryPolicy"]["healthyRetryPolicy"];
            assert_eq!(r["numRetries"], 3, "{id}");
            assert_eq!(r["backoffFunction"], "exponential", "{id}");
            let (min, max) = (
                r["minDelayTarget"].as_i64().unwrap(),
                r["maxDelayTarget"].as_i64().unwrap(),
            );
            // Exponential from min to max over three retries: min, sqrt(min * max), max.
            let total = min + ((min * max) as f64).sqrt() as i64 + max;
            assert!(
                (540..=660).contains(&total),
                "{id}: about ten minutes, got {total} s"
            );
            assert!(
                p["RedrivePolicy"]["deadLetterTargetArn"].is_object(),
                "{id}"
            );
        } else {
            assert!(p.get("DeliveryPolicy").is_none(), "{id}");
        }
    }
    assert_eq!(https, 2, "chat and paging");
}

/// People get a sentence per event: a rule per (detail type, severity) filtering on
/// `detail.severity`, whose input transformer reads only paths the contract's detail type has;
/// the pager gets every event whole on its own topic.
#[test]
fn people_read_sentences_made_from_contract_fields() {
    use platform_model::contract::Severity;
    use platform_model::contract::approval::ApprovalDecided;
    use platform_model::contract::events::{
        ActionCompleted, DetailType, IncidentCreated, IncidentEscalated, IncidentResolved,
    };
    use platform_model::platform::messages::{SENTENCES, sentence};
    let (_, t) = stack(Environment::Prod);
    let notify = &t["Resources"]["NotifyRule"]["Properties"];
    assert_eq!(notify["Targets"][0]["Arn"], json!({"Ref": "PagingTopic"}));
    assert!(notify["Targets"][0].get("InputTransformer").is_none());
    let fields = |dt: DetailType| -> Vec<String> {
        match dt {
            DetailType::IncidentCreated => contract_fields::<IncidentCreated>(),
            DetailType::IncidentResolved => contract_fields::<IncidentResolved>(),
            DetailType::ActionCompleted => contract_fields::<ActionCompleted>(),
            DetailType::ApprovalDecided => contract_fields::<ApprovalDecided>(),
            DetailType::IncidentEscalated => contract_fields::<IncidentEscalated>(),
            DetailType::ApprovalRequested => vec![],
        }
    };
    for dt in SENTENCES {
        for sev in [Severity::Critical, Severity::Warning, Severity::Info] {
            let id = format!(
                "Tell{}{}Rule",
                platform_model::cfn::LogicalId::from_path(&[dt.as_str()])
                    .unwrap()
                    .as_str(),
                platform_model::cfn::LogicalId::from_path(&[sev.as_str()])
                    .unwrap()
                    .as_str()
            );
            let rule = &t["Resources"][&id]["Properties"];
            assert_eq!(
                rule["EventPattern"]["detail"]["severity"],
                json!([sev.as_str()]),
                "{id}"
            );
            assert_eq!(
                rule["EventPattern"]["detail-type"],
                json!([dt.as_str()]),
                "{id}"
            );
            let target = &rule["Targets"][0];
            assert_eq!(target["Arn"], json!({"Ref": "NotificationsTopic"}), "{id}");
            let transformer = &target["InputTransformer"];
            let template = transformer["InputTemplate"].as_str().unwrap();
            assert!(
                template.contains(&sev.as_str().to_ascii_uppercase()),
                "{id}: {template}"
            );
            let expected = sentence(dt, sev).unwrap();
            for (name, path) in transformer["InputPathsMap"].as_object().unwrap() {
                assert!(
                    template.contains(&format!("<{name}>")),
                    "{id}: <{name}> unused"
                );
                assert_eq!(expected.paths[name], path.as_str().unwrap());
                let path = path.as_str().unwrap();
                let field = path.strip_prefix("$.detail.").unwrap();
                let top = field.split('.').next().unwrap();
                assert!(
                    fields(dt).contains(&top.to_owned()),
                    "{id}: {path} is not a field of {}",
                    dt.as_str()
                );
            }
        }
    }
}
