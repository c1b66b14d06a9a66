//! Property assertions on the pipeline stack (CDK `Template` style): what must hold whatever
//! the snapshot says.

use platform_model::cfn::Template;
use platform_model::platform::pipeline_stack;
use platform_model::resources::sqs::Queue;
use platform_model::settings::{Environment, Settings};
use serde_json::{Value, json};

fn stack(env: Environment) -> (Template, Value) {
    let settings = Settings::embedded(env).unwrap();
    let (t, _) = pipeline_stack(&settings).unwrap();
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
        json!(["kms:Decrypt", "kms:GenerateDataKey*"])
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
        .find(|(id, _)| *id == "NotificationsPaging")
        .unwrap()
        .1;
    assert_eq!(
        paging["Properties"]["FilterPolicy"],
        json!({"detail": {"severity": ["critical"]}})
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
    for (_, s) in subs {
        assert_eq!(
            s["Properties"]["TopicArn"],
            json!({"Ref": "NotificationsTopic"})
        );
    }
    let topic = one(&t, "AWS::SNS::Topic");
    assert_eq!(
        topic["Properties"]["TopicName"],
        "sre-incident-notifications"
    );
    assert_eq!(topic["Properties"]["KmsMasterKeyId"], key_arn());
}

#[test]
fn the_dead_letter_queue_keeps_messages_14_days_encrypted() {
    let (_, t) = stack(Environment::Prod);
    let q = one(&t, "AWS::SQS::Queue");
    assert_eq!(q["Properties"]["MessageRetentionPeriod"], 1_209_600);
    assert_eq!(q["Properties"]["KmsMasterKeyId"], key_arn());
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
        let tags = &one(&t, kind)["Properties"]["Tags"];
        assert!(
            tags.as_array()
                .unwrap()
                .contains(&json!({"Key": "environment", "Value": "staging"})),
            "{kind}: {tags}"
        );
    }
    assert_eq!(
        one(&t, "AWS::SSM::Parameter")["Properties"]["Tags"]["environment"],
        "staging"
    );
}

#[test]
fn a_reference_to_a_resource_of_another_template_fails_naming_both() {
    let settings = Settings::embedded(Environment::Prod).unwrap();
    let (_, data) = pipeline_stack(&settings).unwrap();
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
