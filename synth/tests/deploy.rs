//! Deploys the dev pipeline template to a CloudFormation emulator (moto server on loopback)
//! with the AWS CLI, the way a user deploys it (the code zips uploaded under the keys the
//! template names, `create-stack` from a template URL), then reads back through the services'
//! own APIs what moto really created.
//!
//! moto skips the resource types it does not model while still reporting `CREATE_COMPLETE`
//! (alarms, SNS subscriptions, queue policies, API Gateway stages, ...) and ignores some
//! properties (the table's PITR, TTL and KMS, a state machine's `Definition` object): the test
//! checks only what moto models and prints what it skipped; the property tests
//! (`platform-model/tests/pipeline.rs`), cfn-lint, checkov and asl-validator cover the rest.
//! Three moto defects are worked around on the copy sent to it, each named in [`for_moto`];
//! the template under test is otherwise byte for byte `synth`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use platform_model::platform::{self, ArtifactKind};
use platform_model::settings::{Environment, NetworkSettings, Settings};
use serde_json::Value;

mod support;

use support::{Moto, REGION, create_pipeline_stack, for_moto, parameters, workspace_root};

const BUCKET: &str = "deploy-test-assets";

/// The runbook's definition as Step Functions receives it: `DefinitionSubstitutions` resolved
/// against what the stack created (`Ref` = physical id; the function's `Arn` from Lambda).
fn deployed_definition(
    moto: &Moto,
    template: &Value,
    physical: &BTreeMap<String, String>,
) -> String {
    let props = &template["Resources"]["RunbookStateMachine"]["Properties"];
    let mut text = serde_json::to_string(&props["Definition"]).unwrap();
    for (name, value) in props["DefinitionSubstitutions"].as_object().unwrap() {
        let resolved = if let Some(s) = value.as_str() {
            s.to_owned()
        } else if let Some(id) = value["Ref"].as_str() {
            physical[id].clone()
        } else if value["Fn::GetAtt"][1] == "Arn" {
            let id = value["Fn::GetAtt"][0].as_str().unwrap();
            moto.aws(&[
                "lambda",
                "get-function-configuration",
                "--function-name",
                &physical[id],
            ])["FunctionArn"]
                .as_str()
                .unwrap()
                .to_owned()
        } else {
            panic!("substitution {name}: {value} is not resolved by this test");
        };
        text = text.replace(&format!("${{{name}}}"), &resolved);
    }
    text
}

/// Runs the runbook on `event`; its final status and the states it entered, in order.
fn execute(moto: &Moto, machine: &str, name: &str, event: &Value) -> (String, Vec<String>) {
    let started = moto.aws(&[
        "stepfunctions",
        "start-execution",
        "--state-machine-arn",
        machine,
        "--name",
        name,
        "--input",
        &event.to_string(),
    ]);
    let arn = started["executionArn"].as_str().unwrap().to_owned();
    let begun = Instant::now();
    let status = loop {
        let d = moto.aws(&[
            "stepfunctions",
            "describe-execution",
            "--execution-arn",
            &arn,
        ]);
        let status = d["status"].as_str().unwrap().to_owned();
        if status != "RUNNING" {
            break status;
        }
        assert!(
            begun.elapsed() < Duration::from_secs(60),
            "{name} still running"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let history = moto.aws(&[
        "stepfunctions",
        "get-execution-history",
        "--execution-arn",
        &arn,
    ]);
    let events = history["events"].as_array().unwrap();
    if status != "SUCCEEDED" {
        // What failed, for the assertion's reader.
        for e in events {
            let kind = e["type"].as_str().unwrap_or_default();
            if kind.ends_with("Failed") || kind.ends_with("TimedOut") {
                eprintln!("{name}: {e}");
            }
        }
    }
    let entered = events
        .iter()
        .filter_map(|e| e["stateEnteredEventDetails"]["name"].as_str())
        .map(str::to_owned)
        .collect();
    (status, entered)
}

/// The incident record, or `null`.
fn record(moto: &Moto, incident_id: &str, timestamp: &str) -> Value {
    let key = serde_json::json!({"incident_id": {"S": incident_id}, "timestamp": {"S": timestamp}});
    moto.aws(&[
        "dynamodb",
        "get-item",
        "--table-name",
        "dev-sre-incidents",
        "--key",
        &key.to_string(),
    ])["Item"]
        .clone()
}

fn fixture(name: &str) -> Value {
    let path = workspace_root()
        .join("platform-model/contract/src/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn event(detail_type: &str, detail: &Value) -> Value {
    serde_json::json!({
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": detail_type,
        "source": "sre.alertmanager",
        "account": "123456789012",
        "region": REGION,
        "time": "2025-03-14T09:27:01Z",
        "resources": [],
        "detail": detail,
    })
}

#[test]
fn the_dev_pipeline_stack_deploys_to_the_emulator() {
    let settings = Settings::embedded(Environment::Dev).unwrap();
    let assets = synth::assets::compute(&workspace_root()).unwrap();
    let artifacts = platform::synthesize(&settings, &assets).unwrap();
    let pipeline = artifacts
        .iter()
        .find(|a| {
            a.kind == ArtifactKind::CloudformationTemplate && a.path == "sre-pipeline.template.json"
        })
        .expect("the pipeline template");
    let template: Value = serde_json::from_str(&pipeline.contents).unwrap();
    let (sent, changes) = for_moto(&template);
    assert_eq!(
        changes.len(),
        5,
        "the moto workarounds still apply: {changes:?}"
    );

    let moto = Moto::start();
    let stack = &create_pipeline_stack(&moto, &settings, &assets, &sent, BUCKET);

    // Which resources moto created, and which types it skipped.
    let listed = moto.aws(&[
        "cloudformation",
        "list-stack-resources",
        "--stack-name",
        "sre-pipeline",
    ]);
    let created: BTreeSet<&str> = listed["StackResourceSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ResourceStatus"] == "CREATE_COMPLETE")
        .filter_map(|r| r["LogicalResourceId"].as_str())
        .filter(|id| !id.is_empty())
        .collect();
    let mut skipped = BTreeSet::new();
    for (id, r) in template["Resources"].as_object().unwrap() {
        if !created.contains(id.as_str()) {
            skipped.insert(r["Type"].as_str().unwrap());
        }
    }
    println!("moto skipped these resource types: {skipped:?}");
    for kind in [
        "AWS::KMS::Key",
        "AWS::DynamoDB::Table",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::Events::EventBus",
        "AWS::Events::Rule",
        "AWS::Lambda::Function",
        "AWS::StepFunctions::StateMachine",
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
        "AWS::ApiGateway::RestApi",
        "AWS::SSM::Parameter",
    ] {
        assert!(!skipped.contains(kind), "moto did not create the {kind}");
    }

    // The incidents table, as DynamoDB describes it.
    let table = &moto.aws(&[
        "dynamodb",
        "describe-table",
        "--table-name",
        "dev-sre-incidents",
    ])["Table"];
    let keys: Vec<(&str, &str)> = table["KeySchema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap(),
                k["KeyType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, [("incident_id", "HASH"), ("timestamp", "RANGE")]);
    assert_eq!(
        table["BillingModeSummary"]["BillingMode"],
        "PAY_PER_REQUEST"
    );

    // Every rule on the bus (but the archive's own) delivers with retries and the DLQ.
    let bus = "dev-sre-platform-events";
    let queue_arn = format!("arn:aws:sqs:{REGION}:123456789012:dev-sre-platform-events-dlq");
    let rules = moto.aws(&["events", "list-rules", "--event-bus-name", bus]);
    let mut targets = BTreeSet::new();
    for rule in rules["Rules"].as_array().unwrap() {
        let name = rule["Name"].as_str().unwrap();
        if name.starts_with("Events-Archive-") {
            continue;
        }
        let listed = moto.aws(&[
            "events",
            "list-targets-by-rule",
            "--rule",
            name,
            "--event-bus-name",
            bus,
        ]);
        for target in listed["Targets"].as_array().unwrap() {
            assert_eq!(
                target["DeadLetterConfig"]["Arn"],
                queue_arn.as_str(),
                "{name}"
            );
            assert!(
                target["RetryPolicy"]["MaximumRetryAttempts"]
                    .as_u64()
                    .unwrap()
                    > 0,
                "{name}"
            );
            targets.insert(target["Arn"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        targets
            .iter()
            .any(|a| a.contains(":stateMachine:dev-incident-response-runbook")),
        "the runbook is a target: {targets:?}"
    );
    assert!(
        targets
            .iter()
            .any(|a| a.contains(":sns:") && a.ends_with(":dev-sre-incident-notifications")),
        "the topic is a target: {targets:?}"
    );
    assert!(
        targets
            .iter()
            .any(|a| a.contains(":log-group:/aws/events/dev-sre-platform-audit")),
        "the audit log group is a target: {targets:?}"
    );

    // The functions: runtime, the environment they read, their code where the README puts it.
    let ingest = moto.aws(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        "dev-sre-alert-ingest",
    ]);
    assert_eq!(ingest["Runtime"], "provided.al2023");
    assert_eq!(ingest["Environment"]["Variables"]["EVENT_BUS_NAME"], bus);
    let action = moto.aws(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        "dev-sre-runbook-action",
    ]);
    let vars = &action["Environment"]["Variables"];
    for name in ["EKS_CLUSTER_NAME", "INCIDENTS_TABLE", "ALLOWED_NAMESPACES"] {
        assert!(
            vars[name].is_string(),
            "runbook_action lacks {name}: {vars}"
        );
    }
    assert_eq!(vars["INCIDENTS_TABLE"], "dev-sre-incidents");

    // The runbook exists under its name with its own role (moto reads only
    // `DefinitionString`, not the `Definition` object the template uses: the definition is
    // checked by asl-validator and the property tests instead).
    let machines = moto.aws(&["stepfunctions", "list-state-machines"]);
    let arn = machines["stateMachines"][0]["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        arn.ends_with(":stateMachine:dev-incident-response-runbook"),
        "{arn}"
    );
    let machine = moto.aws(&[
        "stepfunctions",
        "describe-state-machine",
        "--state-machine-arn",
        &arn,
    ]);
    assert!(
        machine["roleArn"].as_str().unwrap().contains("RunbookRole"),
        "{machine}"
    );

    // The degraded-mode flag starts off; log groups keep 30 days (the audit group longer).
    let flag = moto.aws(&["ssm", "get-parameter", "--name", "/checkout/degraded_mode"]);
    assert_eq!(flag["Parameter"]["Value"], "false");
    let groups = moto.aws(&["logs", "describe-log-groups"]);
    for group in groups["logGroups"].as_array().unwrap() {
        assert!(group["retentionInDays"].as_u64().unwrap() >= 30, "{group}");
    }

    // The outputs the cluster side and deploy read.
    let outputs: BTreeMap<&str, &str> = stack["Outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["OutputKey"].as_str().unwrap(),
                o["OutputValue"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        outputs["AlertmanagerWebhookUrl"].ends_with("/webhook/alertmanager"),
        "{outputs:?}"
    );
    assert_eq!(outputs["EventBusName"], bus);

    // The runbook, executed by moto's Step Functions on the deployed table and topic. moto runs
    // only machines created through its API after a switch, so the definition is created again
    // from the template (substitutions resolved); paths that invoke runbook_action are not run
    // (no Lambda without Docker): they are covered by the property tests and asl-validator.
    let physical: BTreeMap<String, String> = listed["StackResourceSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            Some((
                r["LogicalResourceId"].as_str()?.to_owned(),
                r["PhysicalResourceId"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let switch = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], \
             data=b'{\"stepfunctions\": {\"execute_state_machine\": true}}', method='POST'))",
            &format!("{}/moto-api/config", moto.url),
        ])
        .status()
        .unwrap();
    assert!(switch.success(), "enabling moto's state machine execution");
    let definition = deployed_definition(&moto, &sent, &physical);
    let runbook = moto.aws(&[
        "stepfunctions",
        "create-state-machine",
        "--name",
        "runbook-executed",
        "--role-arn",
        machine["roleArn"].as_str().unwrap(),
        "--definition",
        &definition,
    ])["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = fixture("incident_created.json");
    let resolved = fixture("incident_resolved.json");
    let id = created["incident_id"].as_str().unwrap();
    let starts_at = created["starts_at"].as_str().unwrap();

    // An info incident is recorded, with its TTL from the retention setting, and not acted on.
    let mut info = created.clone();
    info["severity"] = "info".into();
    let (status, states) = execute(&moto, &runbook, "info", &event("incident.created", &info));
    assert_eq!(status, "SUCCEEDED", "{states:?}");
    assert_eq!(states.last().unwrap(), "NoRemediation", "{states:?}");
    let item = record(&moto, id, starts_at);
    assert_eq!(item["status"]["S"], "open", "{item}");
    let retention = i64::from(settings.incidents.ttl_days) * 86_400;
    assert_eq!(
        item["expires_at"]["N"],
        (created["received_at_epoch"].as_i64().unwrap() + retention).to_string()
    );
    // The same event again stops at the duplicate check.
    let (_, states) = execute(
        &moto,
        &runbook,
        "info-again",
        &event("incident.created", &info),
    );
    assert_eq!(states.last().unwrap(), "DuplicateIncident", "{states:?}");

    // Resolution with a start time updates that record once; a repeat changes nothing.
    let (status, states) = execute(
        &moto,
        &runbook,
        "resolve",
        &event("incident.resolved", &resolved),
    );
    assert_eq!(status, "SUCCEEDED", "{states:?}");
    assert_eq!(states.last().unwrap(), "Resolved", "{states:?}");
    let item = record(&moto, id, starts_at);
    assert_eq!(item["status"]["S"], "resolved", "{item}");
    assert_eq!(item["time_to_resolve_seconds"]["N"], "869");
    assert_eq!(item["resolved_at"]["S"], resolved["resolved_at"]);
    let (_, states) = execute(
        &moto,
        &runbook,
        "resolve-again",
        &event("incident.resolved", &resolved),
    );
    assert_eq!(states.last().unwrap(), "AlreadyResolved", "{states:?}");

    // moto's EventBridge delivers to SQS, not SNS: the rules' topic targets are pointed at a
    // queue (same target ids and input transformers), where the notifications are read back:
    // `notified` gets the paging topic's events, `told` the people's sentences.
    let queue = |name: &str| {
        let url = moto.aws(&["sqs", "create-queue", "--queue-name", name])["QueueUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        (url, format!("arn:aws:sqs:{REGION}:123456789012:{name}"))
    };
    let (queue_url, queue_arn) = queue("notified");
    let (told_url, told_arn) = queue("told");
    // The lifecycle rule's runbook target too (moto delivers no event to Step Functions).
    let (_, started_arn) = queue("started");
    let rules = moto.aws(&["events", "list-rules", "--event-bus-name", bus]);
    for rule in rules["Rules"].as_array().unwrap() {
        let name = rule["Name"].as_str().unwrap();
        let targets = moto.aws(&[
            "events",
            "list-targets-by-rule",
            "--rule",
            name,
            "--event-bus-name",
            bus,
        ]);
        for target in targets["Targets"].as_array().unwrap() {
            let arn = target["Arn"].as_str().unwrap();
            if arn.contains(":sns:") || arn.contains(":states:") {
                let mut to_queue = target.clone();
                to_queue["Arn"] = if arn.contains(":states:") {
                    to_queue.as_object_mut().unwrap().remove("RoleArn");
                    started_arn.clone().into()
                } else if target.get("InputTransformer").is_some() {
                    told_arn.clone().into()
                } else {
                    queue_arn.clone().into()
                };
                moto.aws(&[
                    "events",
                    "put-targets",
                    "--rule",
                    name,
                    "--event-bus-name",
                    bus,
                    "--targets",
                    &serde_json::json!([to_queue]).to_string(),
                ]);
            }
        }
    }

    // A critical incident without a runbook is escalated: the record's status, and
    // `incident.escalated` on the bus, which the notify rule delivers.
    let mut critical = created.clone();
    critical["incident_id"] = "inc-critical-no-runbook".into();
    critical.as_object_mut().unwrap().remove("runbook");
    let (status, states) = execute(
        &moto,
        &runbook,
        "escalate",
        &event("incident.created", &critical),
    );
    assert_eq!(status, "SUCCEEDED", "{states:?}");
    assert!(
        states.contains(&"NotifyEscalation".to_owned()),
        "{states:?}"
    );
    assert_eq!(
        record(&moto, "inc-critical-no-runbook", starts_at)["status"]["S"],
        "escalated"
    );
    let received = moto.aws(&[
        "sqs",
        "receive-message",
        "--queue-url",
        &queue_url,
        "--max-number-of-messages",
        "10",
    ]);
    let notified: Vec<Value> = received["Messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| serde_json::from_str(m["Body"].as_str().unwrap()).unwrap())
        .collect();
    let escalation = notified
        .iter()
        .find(|e| e["detail-type"] == "incident.escalated")
        .unwrap_or_else(|| panic!("no incident.escalated in {notified:?}"));
    assert_eq!(escalation["source"], "sre.runbook");
    let detail: platform_model::contract::events::IncidentEscalated =
        serde_json::from_value(escalation["detail"].clone()).unwrap();
    assert_eq!(detail.incident_id, "inc-critical-no-runbook");
    assert_eq!(detail.status, "escalated");
    people_read_a_sentence_per_event(&moto, bus, &told_url);

    // A resolution without a start (a Datadog recovery) finds the record by its id ...
    let mut datadog = created.clone();
    datadog["incident_id"] = "inc-datadog".into();
    datadog["severity"] = "info".into();
    execute(
        &moto,
        &runbook,
        "datadog-created",
        &event("incident.created", &datadog),
    );
    let mut recovery = resolved.clone();
    recovery["incident_id"] = "inc-datadog".into();
    recovery["starts_at"] = "".into();
    recovery
        .as_object_mut()
        .unwrap()
        .remove("time_to_resolve_seconds");
    let (status, states) = execute(
        &moto,
        &runbook,
        "datadog-resolve",
        &event("incident.resolved", &recovery),
    );
    assert_eq!(status, "SUCCEEDED", "{states:?}");
    assert!(
        states.contains(&"UseRecordedStart".to_owned()),
        "{states:?}"
    );
    let item = record(&moto, "inc-datadog", starts_at);
    assert_eq!(item["status"]["S"], "resolved", "{item}");
    assert!(item.get("time_to_resolve_seconds").is_none(), "{item}");
    // ... and one for an incident never recorded is keyed by its resolution time.
    recovery["incident_id"] = "inc-datadog-early".into();
    let (status, states) = execute(
        &moto,
        &runbook,
        "datadog-early",
        &event("incident.resolved", &recovery),
    );
    assert_eq!(status, "SUCCEEDED", "{states:?}");
    assert!(
        states.contains(&"UseResolvedAtAsStart".to_owned()),
        "{states:?}"
    );
    let early = record(
        &moto,
        "inc-datadog-early",
        resolved["resolved_at"].as_str().unwrap(),
    );
    assert_eq!(early["status"]["S"], "resolved", "{early}");
}

/// Creates `stack` from `template` (inline, or from `bucket` when over the inline limit) with
/// its parameters from the manifest's sources, and returns its outputs and the resource types
/// moto skipped.
fn create_stack(
    moto: &Moto,
    settings: &Settings,
    stack: &str,
    template: &Value,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
    bucket: &str,
    dir: &Path,
) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let (sent, _) = for_moto(template);
    let body = serde_json::to_string(&sent).unwrap();
    let file = dir.join(format!("{stack}.template.json"));
    std::fs::write(&file, &body).unwrap();
    let source = if body.len() > 51_200 {
        let key = format!("templates/{stack}.template.json");
        moto.aws(&[
            "s3api",
            "put-object",
            "--bucket",
            bucket,
            "--key",
            &key,
            "--body",
            file.to_str().unwrap(),
        ]);
        (
            "--template-url",
            format!("https://{bucket}.s3.amazonaws.com/{key}"),
        )
    } else {
        ("--template-body", format!("file://{}", file.display()))
    };
    let params = parameters(settings, stack, outputs, None);
    let mut args = vec![
        "cloudformation",
        "create-stack",
        "--stack-name",
        stack,
        source.0,
        &source.1,
        "--capabilities",
        "CAPABILITY_NAMED_IAM",
    ];
    if params != "[]" {
        args.extend(["--parameters", &params]);
    }
    moto.aws(&args);
    let described =
        &moto.aws(&["cloudformation", "describe-stacks", "--stack-name", stack])["Stacks"][0];
    assert_eq!(
        described["StackStatus"], "CREATE_COMPLETE",
        "{stack}: {described:#}"
    );
    let outs: BTreeMap<String, String> = described["Outputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    (
                        o["OutputKey"].as_str().unwrap().to_owned(),
                        o["OutputValue"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let listed = moto.aws(&[
        "cloudformation",
        "list-stack-resources",
        "--stack-name",
        stack,
    ]);
    let created: BTreeSet<String> = listed["StackResourceSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ResourceStatus"] == "CREATE_COMPLETE")
        .filter_map(|r| r["LogicalResourceId"].as_str().map(str::to_owned))
        .collect();
    let skipped = template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(id, _)| !created.contains(*id))
        .map(|(_, r)| r["Type"].as_str().unwrap().to_owned())
        .collect();
    (outs, skipped)
}

/// A new account stands up from `out/`: every stack of prod (bootstrap, network, cluster,
/// pipeline, identity) is created in the manifest's order, each parameter fed from the
/// settings or from an output of a stack created before, the Lambda code uploaded to the
/// bucket the bootstrap stack made. Then what moto models is read back through the services'
/// APIs: the VPC, subnets, routes, security groups, the bucket's settings and policy, the
/// image repository's settings, the IAM roles and their trust policies.
#[test]
fn a_new_account_stands_up_in_the_manifest_s_order() {
    let settings = Settings::embedded(Environment::Prod).unwrap();
    let assets = synth::assets::compute(&workspace_root()).unwrap();
    let platform = platform::Platform::standard(settings.clone()).unwrap();
    let artifacts = platform.synthesize(&assets).unwrap();
    let order = platform.deploy_order();
    let names: Vec<&str> = order.iter().map(|s| s.stack.as_str()).collect();
    assert_eq!(
        names,
        [
            "sre-bootstrap",
            "sre-network",
            "sre-cluster",
            "sre-pipeline",
            "sre-cluster-access"
        ]
    );
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let bucket = settings.bootstrap.assets_bucket.clone();
    let mut outputs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut skipped_by_stack = BTreeMap::new();
    for step in &order {
        if step.needs_assets {
            // synth deploy uploads the code here, once the bucket exists.
            let zip = dir.path().join("bootstrap.zip");
            std::fs::write(&zip, b"placeholder: moto does not run functions").unwrap();
            for asset in [&assets.alert_ingest, &assets.runbook_action] {
                moto.aws(&[
                    "s3api",
                    "put-object",
                    "--bucket",
                    &bucket,
                    "--key",
                    &asset.key(settings.pipeline.lambda_architecture),
                    "--body",
                    zip.to_str().unwrap(),
                ]);
            }
        }
        let template: Value = serde_json::from_str(
            &artifacts
                .iter()
                .find(|a| a.path == step.template)
                .unwrap()
                .contents,
        )
        .unwrap();
        let (outs, skipped) = create_stack(
            &moto,
            &settings,
            &step.stack,
            &template,
            &outputs,
            &bucket,
            dir.path(),
        );
        let mut outs = outs;
        if skipped.contains("AWS::EKS::Cluster") && !outs.contains_key("ClusterName") {
            // moto drops an output that is the `Ref` of a type it does not model; on AWS the
            // cluster's `Ref` is its name, which the template sets.
            let name = template["Resources"]["Cluster"]["Properties"]["Name"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(
                template["Outputs"]["ClusterName"]["Value"],
                serde_json::json!({"Ref": "Cluster"})
            );
            println!(
                "moto gave no ClusterName output (no EKS); standing in the cluster's name {name}"
            );
            outs.insert("ClusterName".into(), name);
        }
        println!("{}: outputs {outs:?}", step.stack);
        skipped_by_stack.insert(step.stack.clone(), skipped);
        outputs.insert(step.stack.clone(), outs);
    }
    for (stack, skipped) in &skipped_by_stack {
        println!("moto skipped in {stack}: {skipped:?}");
    }
    for (stack, must) in [
        (
            "sre-bootstrap",
            &["AWS::S3::Bucket", "AWS::ECR::Repository"][..],
        ),
        (
            "sre-network",
            &[
                "AWS::EC2::VPC",
                "AWS::EC2::Subnet",
                "AWS::EC2::RouteTable",
                "AWS::EC2::Route",
                "AWS::EC2::NatGateway",
                "AWS::EC2::InternetGateway",
                "AWS::EC2::SecurityGroup",
                "AWS::EC2::VPCEndpoint",
                "AWS::IAM::Role",
            ][..],
        ),
        (
            "sre-cluster",
            &[
                "AWS::IAM::Role",
                "AWS::EC2::SecurityGroup",
                "AWS::EC2::LaunchTemplate",
            ][..],
        ),
        ("sre-cluster-access", &["AWS::IAM::Role"][..]),
    ] {
        for kind in must {
            assert!(
                !skipped_by_stack[stack].contains(*kind),
                "moto did not create {stack}'s {kind}"
            );
        }
    }

    // The network, as EC2 describes it.
    let vpc_id = outputs["sre-network"]["VpcId"].clone();
    let vpc = &moto.aws(&["ec2", "describe-vpcs", "--vpc-ids", &vpc_id])["Vpcs"][0];
    let NetworkSettings::Create(network) = &settings.network else {
        unreachable!()
    };
    assert_eq!(vpc["CidrBlock"], network.cidr.as_str());
    let subnets = moto.aws(&[
        "ec2",
        "describe-subnets",
        "--filters",
        &format!("Name=vpc-id,Values={vpc_id}"),
    ]);
    let subnets = subnets["Subnets"].as_array().unwrap();
    assert_eq!(subnets.len(), 2 * network.availability_zones.len());
    let tag = |s: &Value, key: &str| {
        s["Tags"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["Key"] == key)
            .map(|t| t["Value"].clone())
    };
    for s in subnets {
        let public = tag(s, "kubernetes.io/role/elb").is_some();
        let internal = tag(s, "kubernetes.io/role/internal-elb").is_some();
        assert!(
            public ^ internal,
            "subnet {} is tagged for exactly one kind of load balancer: {s}",
            s["SubnetId"]
        );
        // (moto reports MapPublicIpOnLaunch true whatever the template says; the template's
        // false is checked by the property tests.)
    }
    let private: BTreeSet<String> = outputs["sre-network"]["PrivateSubnetIds"]
        .split(',')
        .map(str::to_owned)
        .collect();
    for s in subnets {
        let id = s["SubnetId"].as_str().unwrap();
        assert_eq!(
            private.contains(id),
            tag(s, "kubernetes.io/role/internal-elb").is_some(),
            "{id}: the PrivateSubnetIds output lists the internal ones"
        );
    }
    // Routes: public subnets leave through the internet gateway, private ones through a NAT.
    let tables = moto.aws(&[
        "ec2",
        "describe-route-tables",
        "--filters",
        &format!("Name=vpc-id,Values={vpc_id}"),
    ]);
    let mut nat_routes = 0;
    let mut igw_routes = 0;
    for t in tables["RouteTables"].as_array().unwrap() {
        for r in t["Routes"].as_array().unwrap() {
            if r["DestinationCidrBlock"] == "0.0.0.0/0" {
                if r["NatGatewayId"].is_string() {
                    nat_routes += 1;
                } else if r["GatewayId"]
                    .as_str()
                    .is_some_and(|g| g.starts_with("igw-"))
                {
                    igw_routes += 1;
                }
            }
        }
    }
    assert_eq!(nat_routes, network.availability_zones.len(), "{tables:#}");
    assert_eq!(igw_routes, 1, "{tables:#}");
    let nats = moto.aws(&["ec2", "describe-nat-gateways"]);
    assert_eq!(
        nats["NatGateways"].as_array().unwrap().len(),
        if network.nat_gateway_per_az {
            network.availability_zones.len()
        } else {
            1
        }
    );
    // No security group admits the internet.
    let groups = moto.aws(&[
        "ec2",
        "describe-security-groups",
        "--filters",
        &format!("Name=vpc-id,Values={vpc_id}"),
    ]);
    for g in groups["SecurityGroups"].as_array().unwrap() {
        for rule in g["IpPermissions"].as_array().unwrap() {
            for range in rule["IpRanges"].as_array().unwrap() {
                assert_ne!(
                    range["CidrIp"], "0.0.0.0/0",
                    "{} admits the internet: {rule}",
                    g["GroupName"]
                );
            }
        }
    }
    let endpoints = moto.aws(&[
        "ec2",
        "describe-vpc-endpoints",
        "--filters",
        &format!("Name=vpc-id,Values={vpc_id}"),
    ]);
    let services: BTreeSet<String> = endpoints["VpcEndpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["ServiceName"]
                .as_str()
                .unwrap()
                .rsplit_once(&format!("{REGION}."))
                .map_or(String::new(), |x| x.1.to_owned())
        })
        .collect();
    for svc in platform::INTERFACE_ENDPOINTS
        .iter()
        .chain(&platform::GATEWAY_ENDPOINTS)
    {
        assert!(
            services.contains(*svc),
            "no endpoint for {svc}: {services:?}"
        );
    }

    // The assets bucket. moto applies only a bucket's encryption and tags from a template
    // (versioning, the public access block, lifecycle and ownership are ignored, and the
    // bucket policy is skipped): those are checked by the property tests and checkov.
    let encryption = moto.aws(&["s3api", "get-bucket-encryption", "--bucket", &bucket]);
    assert_eq!(
        encryption["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
            ["SSEAlgorithm"],
        "AES256",
        "{encryption}"
    );
    match moto.try_aws(&["s3api", "get-bucket-policy", "--bucket", &bucket]) {
        Ok(policy) => {
            let doc: Value = serde_json::from_str(policy["Policy"].as_str().unwrap()).unwrap();
            assert!(
                doc["Statement"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["Effect"] == "Deny"
                        && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"),
                "{doc}"
            );
        }
        Err(e) => {
            assert!(
                skipped_by_stack["sre-bootstrap"].contains("AWS::S3::BucketPolicy"),
                "the bucket has no policy, and moto did not say it skipped it: {e}"
            );
            println!("moto skipped the bucket policy; the property tests and checkov cover it");
        }
    }

    // The image repository.
    let repo = &moto.aws(&[
        "ecr",
        "describe-repositories",
        "--repository-names",
        &settings.bootstrap.checkout_repository,
    ])["repositories"][0];
    assert_eq!(repo["imageTagMutability"], "IMMUTABLE", "{repo}");
    // moto stores the template's ImageScanningConfiguration and EncryptionConfiguration under
    // CloudFormation's key case and reports them empty, and ignores LifecyclePolicy: scan on
    // push, KMS and the lifecycle are checked by the property tests and checkov.
    assert_eq!(
        outputs["sre-bootstrap"][platform::CHECKOUT_REPOSITORY_URI],
        repo["repositoryUri"].as_str().unwrap()
    );

    // The roles, and whom they trust.
    let roles = moto.aws(&["iam", "list-roles"]);
    let trust_of = |needle: &str| -> Vec<Value> {
        roles["Roles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["RoleName"].as_str().unwrap().contains(needle))
            .map(|r| {
                let doc = &r["AssumeRolePolicyDocument"];
                match doc {
                    Value::String(s) => serde_json::from_str(s).unwrap(),
                    other => other.clone(),
                }
            })
            .collect()
    };
    for (needle, principal) in [
        ("FlowLogsRole", "vpc-flow-logs.amazonaws.com"),
        ("ClusterRole", "eks.amazonaws.com"),
        ("NodesRole", "ec2.amazonaws.com"),
        ("CheckoutPodsRole", "pods.eks.amazonaws.com"),
        ("AwsLoadBalancerControllerRole", "pods.eks.amazonaws.com"),
    ] {
        let docs = trust_of(needle);
        assert_eq!(docs.len(), 1, "one role named like {needle}");
        assert_eq!(
            docs[0]["Statement"][0]["Principal"]["Service"], principal,
            "{needle}"
        );
    }
    let pods = &trust_of("CheckoutPodsRole")[0]["Statement"][0]["Condition"];
    let tags = &pods["StringEquals"];
    assert!(
        tags["aws:RequestTag/eks-cluster-arn"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":cluster/{}", settings.cluster.name)),
        "the pod role trusts only this cluster: {pods}"
    );
    assert_eq!(
        tags["aws:RequestTag/kubernetes-namespace"], "apps",
        "{pods}"
    );
    assert_eq!(
        tags["aws:RequestTag/kubernetes-service-account"], "checkout",
        "{pods}"
    );
}

/// Every body now in the queue.
fn drain(moto: &Moto, url: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let got = moto.aws(&[
            "sqs",
            "receive-message",
            "--queue-url",
            url,
            "--max-number-of-messages",
            "10",
        ]);
        let Some(messages) = got["Messages"].as_array().filter(|m| !m.is_empty()) else {
            return out;
        };
        for m in messages {
            out.push(m["Body"].as_str().unwrap().to_owned());
            moto.aws(&[
                "sqs",
                "delete-message",
                "--queue-url",
                url,
                "--receipt-handle",
                m["ReceiptHandle"].as_str().unwrap(),
            ]);
        }
    }
}

/// One event of each kind people are told about, put on the deployed bus; the sentence each
/// rule's input transformer made, read back from moto (the queue standing in for the
/// notifications topic), is what `messages::render` says and what the snapshot shows.
fn people_read_a_sentence_per_event(moto: &Moto, bus: &str, told: &str) {
    use platform_model::contract::Severity;
    use platform_model::contract::approval::{ApprovalDecided, Decision};
    use platform_model::contract::events::{
        ActionCompleted, IncidentCreated, IncidentEscalated, IncidentResolved, PlatformEvent,
    };
    use platform_model::contract::runbook::{Action, Outcome, Target};
    use platform_model::platform::messages::{render, sentence};
    drain(moto, told);
    let id = "inc-people-3f2a9c";
    let target = Target {
        namespace: "apps".into(),
        name: "checkout".into(),
    };
    fn entry<E: PlatformEvent>(bus: &str, source: &str, detail: &E) -> Value {
        serde_json::json!({
            "EventBusName": bus,
            "Source": source,
            "DetailType": E::DETAIL_TYPE.as_str(),
            "Detail": serde_json::to_string(detail).unwrap(),
        })
    }
    let entries = vec![
        entry(
            bus,
            "sre.alertmanager",
            &IncidentCreated {
                incident_id: id.into(),
                alert_name: "CheckoutHighErrorRate".into(),
                severity: Severity::Critical,
                summary: "checkout error ratio above 5% in apps".into(),
                description: String::new(),
                fingerprint: "3f2a9c".into(),
                starts_at: "2026-01-05T10:00:00Z".into(),
                labels: Default::default(),
                runbook: None,
                received_at: "2026-01-05T10:00:03Z".into(),
                received_at_epoch: 1_767_607_203,
                account: "123456789012".into(),
                region: REGION.into(),
            },
        ),
        entry(
            bus,
            "sre.runbook",
            &ActionCompleted {
                incident_id: id.into(),
                alert_name: "CheckoutHighErrorRate".into(),
                severity: Severity::Critical,
                action: Action::EnableDegradedMode,
                target: target.clone(),
                outcome: Outcome::Applied,
                message:
                    "set /checkout/degraded_mode to true and restarted deployment apps/checkout"
                        .into(),
                completed_at: "2026-01-05T10:02:11Z".into(),
            },
        ),
        entry(
            bus,
            "sre.approval",
            &ApprovalDecided {
                incident_id: id.into(),
                alert_name: "CheckoutHighLatency".into(),
                severity: Severity::Critical,
                approval_id: "ap-1".into(),
                action: Action::ScaleDeployment,
                target: target.clone(),
                decision: Decision::Approve,
                decided_by: "alice".into(),
                decided_at: "2026-01-05T10:03:40Z".into(),
            },
        ),
        entry(
            bus,
            "sre.runbook",
            &IncidentEscalated {
                incident_id: id.into(),
                alert_name: "CheckoutHighErrorRate".into(),
                severity: Severity::Critical,
                summary: "checkout error ratio above 5% in apps".into(),
                fingerprint: "3f2a9c".into(),
                starts_at: "2026-01-05T10:00:00Z".into(),
                received_at: "2026-01-05T10:00:03Z".into(),
                escalated_at: "2026-01-05T10:17:11Z".into(),
                status: "escalated".into(),
            },
        ),
        entry(
            bus,
            "sre.alertmanager",
            &IncidentResolved {
                incident_id: id.into(),
                alert_name: "CheckoutHighErrorRate".into(),
                severity: Severity::Warning,
                fingerprint: "3f2a9c".into(),
                starts_at: "2026-01-05T10:00:00Z".into(),
                resolved_at: "2026-01-05T10:20:00Z".into(),
                time_to_resolve_seconds: Some(1200),
                received_at: "2026-01-05T10:20:02Z".into(),
                received_at_epoch: 1_767_608_402,
            },
        ),
    ];
    let mut expected = Vec::new();
    for e in &entries {
        let event = serde_json::json!({"detail": serde_json::from_str::<Value>(e["Detail"].as_str().unwrap()).unwrap()});
        let dt = platform_model::contract::events::DetailType::ALL
            .into_iter()
            .find(|d| d.as_str() == e["DetailType"])
            .unwrap();
        let severity: Severity =
            serde_json::from_value(event["detail"]["severity"].clone()).unwrap();
        expected.push(render(&sentence(dt, severity).unwrap(), &event));
        moto.aws(&[
            "events",
            "put-events",
            "--entries",
            &serde_json::json!([e]).to_string(),
        ]);
    }
    // moto delivers the text as a JSON string (the template was quoted for it, see
    // `emulator::for_moto`); AWS delivers the text itself.
    let told: Vec<String> = drain(moto, told)
        .iter()
        .map(|b| serde_json::from_str::<String>(b).unwrap_or_else(|e| panic!("{b}: {e}")))
        .collect();
    assert_eq!(told, expected, "one sentence per event, in order");
    insta::assert_snapshot!("people_messages", told.join("\n"));
}
