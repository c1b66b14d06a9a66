//! Setting the loop up from the generated files, and stopping it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use serde_json::{Value, json};
use tokio::process::Command;

use platform_contract::runtime::{self, Var, alert_ingest, checkout, runbook_action};

use platform_model::platform::messages::Sentence;

use crate::Options;
use crate::fronts::{self, KubeCall, Proxy, RuntimeApi, WebhookLog};
use crate::procs::{self, Proc, free_port, wait_listening};
use crate::scale;

/// moto's account.
pub const ACCOUNT: &str = "123456789012";
const PIPELINE: &str = "sre-pipeline";
const BOOTSTRAP: &str = "sre-bootstrap";

/// Everything running, and where to find it.
pub struct World {
    pub options: Options,
    pub region: String,
    pub moto_url: String,
    pub aws: SdkConfig,
    pub table: String,
    pub degraded_parameter: String,
    pub audit_log_group: String,
    pub notifications_queue: String,
    /// The people's topic's read-back queue (sentences, approval requests).
    pub people_queue: String,
    /// Queues standing in for targets moto cannot deliver to: (queue URL, what it feeds).
    pub pumps: Vec<(String, PumpTarget)>,
    pub token: String,
    pub ingest_api: RuntimeApi,
    pub ingest: Proc,
    ingest_cmd: Vec<(String, String)>,
    pub runbook: Proc,
    pub checkout: Proc,
    pub checkout_url: String,
    pub chaos_url: String,
    pub prometheus_url: String,
    pub alertmanagers: Vec<String>,
    pub webhook_log: WebhookLog,
    /// The harness's own webhook front (the malformed-webhook fault).
    pub webhook_url: String,
    /// The same front's base URL: the approval links' stand-in host.
    pub approval_base: String,
    /// The base URL the approval links name (the API's public URL).
    pub public_url: String,
    pub approval: Proc,
    pub bus_proxy: Proxy,
    pub ssm_proxy: Proxy,
    pub sfn_front: Proxy,
    pub kube_log: Arc<Mutex<Vec<KubeCall>>>,
    /// Every change made to the generated files and values, printed and reported.
    pub changes: Vec<String>,
    /// The hops the harness does itself.
    pub emulated: Vec<String>,
    procs: Vec<Proc>,
    bin: PathBuf,
}

/// Where a pumped queue's messages go.
#[derive(Debug, Clone)]
pub enum PumpTarget {
    /// StartExecution of the runbook.
    StateMachine(String),
    /// Publish to the topic: the event itself, or with the target's input transformer
    /// (`InputPathsMap`, `InputTemplate`) the sentence it makes.
    Topic(String, Option<Sentence>),
}

fn step(what: &str) {
    println!("\n==> {what}");
}

fn change(changes: &mut Vec<String>, line: String) {
    println!("  changed: {line}");
    changes.push(line);
}

async fn moto_config(endpoint: &str, region: &str) -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "loop",
        ))
        .load()
        .await
}

/// The AWS variables every process the loop starts gets: moto's endpoint, dummy credentials,
/// the region.
fn aws_env(cmd: &mut Command, moto: &str, region: &str) {
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", region)
        .env("AWS_DEFAULT_REGION", region)
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))
}

fn copy_dir(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src).with_context(|| format!("read {}", src.display()))? {
        let entry = entry?;
        let to = dst.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

/// The Deployment's container `env` of `name` in a multi-document YAML file.
fn deployment_env(text: &str, name: &str) -> Result<Vec<(String, String)>> {
    use serde::Deserialize;
    for doc in serde_norway::Deserializer::from_str(text) {
        let v = serde_norway::Value::deserialize(doc)?;
        if v["kind"].as_str() != Some("Deployment") {
            continue;
        }
        for c in v["spec"]["template"]["spec"]["containers"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            if c["name"].as_str() == Some(name) {
                return c["env"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        let key = e["name"].as_str().context("env without a name")?;
                        let value = e["value"].as_str().with_context(|| {
                            format!("env {key} has no literal value (valueFrom is not run here)")
                        })?;
                        Ok((key.to_owned(), value.to_owned()))
                    })
                    .collect();
            }
        }
    }
    bail!("no Deployment with a container {name:?}")
}

/// The `interval`, `path` of the ServiceMonitor's first endpoint, and its namespace and name.
fn service_monitor(text: &str) -> Result<(String, String, String, String)> {
    use serde::Deserialize;
    for doc in serde_norway::Deserializer::from_str(text) {
        let v = serde_norway::Value::deserialize(doc)?;
        if v["kind"].as_str() == Some("ServiceMonitor") {
            let ep = &v["spec"]["endpoints"][0];
            return Ok((
                ep["interval"].as_str().unwrap_or("30s").to_owned(),
                ep["path"].as_str().unwrap_or("/metrics").to_owned(),
                v["metadata"]["namespace"]
                    .as_str()
                    .context("ServiceMonitor namespace")?
                    .to_owned(),
                v["metadata"]["name"]
                    .as_str()
                    .context("ServiceMonitor name")?
                    .to_owned(),
            ));
        }
    }
    bail!("no ServiceMonitor")
}

impl World {
    pub async fn start(options: &Options) -> Result<World> {
        let root = options.root.canonicalize().context("the repository root")?;
        // Only a folder an earlier run made is emptied (`--run-dir .` must not delete a tree).
        let marker = options.run_dir.join(".sre-loop-run");
        if options.run_dir.exists() {
            let empty = std::fs::read_dir(&options.run_dir)?.next().is_none();
            if !empty && !marker.exists() {
                bail!(
                    "{} exists and was not made by sre-loop (no .sre-loop-run in it): choose another --run-dir",
                    options.run_dir.display()
                );
            }
            std::fs::remove_dir_all(&options.run_dir)
                .with_context(|| format!("empty {}", options.run_dir.display()))?;
        }
        std::fs::create_dir_all(&options.run_dir)?;
        std::fs::write(&marker, "made by sre-loop; emptied by its next run\n")?;
        // Absolute: Alertmanager reads its token file relative to its configuration's folder.
        let run = &options.run_dir.canonicalize()?;
        let logs = run.join("logs");
        std::fs::create_dir_all(&logs)?;
        let factor = options.time_scale;
        let mut changes = Vec::new();
        let mut emulated = Vec::new();
        let mut procs_list = Vec::new();

        let prometheus = procs::tool(
            &root,
            "prometheus",
            "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager",
        )?;
        let alertmanager = procs::tool(
            &root,
            "prometheus-alertmanager",
            "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager",
        )
        .or_else(|_| procs::tool(&root, "alertmanager", ""))?;
        let moto = procs::tool(
            &root,
            "moto_server",
            "python3 -m venv .tools/venv && .tools/venv/bin/pip install -r .ci/requirements.txt",
        )?;

        let bin = root.join("target/debug");
        if options.build {
            step(
                "building synth, alert_ingest, runbook_action, approval and checkout (cargo build)",
            );
            let status =
                std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
                    .current_dir(&root)
                    .args([
                        "build", "--quiet", "-p", "synth", "-p", "lambdas", "-p", "checkout",
                        "--bins",
                    ])
                    .status()
                    .context("run cargo build")?;
            if !status.success() {
                bail!("cargo build failed");
            }
        }
        for b in [
            "synth",
            "alert_ingest",
            "runbook_action",
            "approval",
            "checkout",
        ] {
            if !bin.join(b).is_file() {
                bail!("{} missing: run without --no-build", bin.join(b).display());
            }
        }

        step(&format!(
            "the generated files: out/{} copied to {}",
            options.env,
            run.display()
        ));
        let src = root.join("out").join(&options.env);
        let out = run.join("out");
        let env_dir = out.join(&options.env);
        copy_dir(&src, &env_dir)?;
        let manifest_path = env_dir.join("manifest.json");
        let mut manifest = read_json(&manifest_path)?;
        let region = manifest["region"]
            .as_str()
            .context("manifest region")?
            .to_owned();
        change(
            &mut changes,
            format!(
                "manifest.json: account_id {} -> {ACCOUNT} (moto's account)",
                manifest["account_id"]
            ),
        );
        manifest["account_id"] = json!(ACCOUNT);
        for stack in [BOOTSTRAP, PIPELINE] {
            let file = format!("{stack}.template.json");
            let template = read_json(&env_dir.join(&file))?;
            let (sent, moto_changes) = synth::emulator::for_moto(&template);
            for c in moto_changes {
                change(&mut changes, format!("{file}: {c} (moto 5.2 defect)"));
            }
            let (text, moved) = synth::emulator::in_dependency_order(&sent);
            if moved {
                change(
                    &mut changes,
                    format!(
                        "{file}: resources written in DependsOn order (moto executes a change set's additions in file order)"
                    ),
                );
            }
            std::fs::write(env_dir.join(&file), &text)?;
            for f in manifest["files"].as_array_mut().into_iter().flatten() {
                if f["path"] == file.as_str() {
                    f["sha256"] = json!(synth::sha256_hex(text.as_bytes()));
                    f["bytes"] = json!(text.len());
                }
            }
        }
        std::fs::write(&manifest_path, serde_json::to_string_pretty(&manifest)?)?;
        let pipeline = read_json(&env_dir.join(format!("{PIPELINE}.template.json")))?;
        let resources_t = pipeline["Resources"].as_object().context("Resources")?;
        let function = |id: &str| -> Result<(String, u64, u64)> {
            let p = &resources_t
                .get(id)
                .with_context(|| format!("{PIPELINE} has no {id}"))?["Properties"];
            Ok((
                p["FunctionName"]
                    .as_str()
                    .context("FunctionName")?
                    .to_owned(),
                p["Timeout"].as_u64().unwrap_or(3),
                p["MemorySize"].as_u64().unwrap_or(128),
            ))
        };
        let (ingest_name, ingest_timeout, ingest_memory) = function("AlertIngestFunction")?;
        let (runbook_name, runbook_timeout, runbook_memory) = function("RunbookActionFunction")?;
        let (approval_name, approval_timeout, approval_memory) = function("ApprovalFunction")?;
        let arn = |name: &str| format!("arn:aws:lambda:{region}:{ACCOUNT}:function:{name}");

        step("the AWS side on the moto server");
        let moto_port = free_port()?;
        let moto_url = format!("http://127.0.0.1:{moto_port}");
        let (runbook_api, runbook_api_addr) =
            RuntimeApi::serve(&arn(&runbook_name), Duration::from_secs(runbook_timeout)).await?;
        let (approval_api, approval_api_addr) =
            RuntimeApi::serve(&arn(&approval_name), Duration::from_secs(approval_timeout)).await?;
        let sfn_front = Proxy::start(
            &moto_url,
            vec![
                (runbook_name.clone(), runbook_api.clone()),
                (approval_name.clone(), approval_api.clone()),
            ],
        )
        .await?;
        emulated.push(format!(
            "Step Functions -> Lambda: moto's Step Functions calls the Lambda API on {} (MOTO_PORT), where the harness answers Invoke of {runbook_name} and {approval_name} (with its task token) through their Runtime APIs (moto would need Docker); every other call is forwarded to moto",
            sfn_front.url()
        ));
        let mut cmd = Command::new(&moto);
        cmd.args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
            .env("MOTO_PORT", sfn_front.addr.port().to_string());
        let mut moto_proc = Proc::spawn("moto", &mut cmd, &logs)?;
        wait_listening(&mut moto_proc, moto_port, Duration::from_secs(60)).await?;
        procs_list.push(moto_proc);
        let aws = moto_config(&moto_url, &region).await;

        let cfn = aws_sdk_cloudformation::Client::new(&aws);
        let body = std::fs::read_to_string(env_dir.join(format!("{BOOTSTRAP}.template.json")))?;
        cfn.create_stack()
            .stack_name(BOOTSTRAP)
            .template_body(body)
            .send()
            .await
            .context("CreateStack sre-bootstrap")?;
        println!(
            "  {BOOTSTRAP}: CreateStack (moto fills Outputs after CreateStack, not after a change set; the next stack reads them)"
        );
        emulated.push(format!("{BOOTSTRAP} created with CreateStack instead of synth deploy's change set: moto gives a stack no Outputs after a change set, and {PIPELINE} reads the bucket from them"));
        let lambda_dir = run.join("lambda");
        for a in manifest["assets"].as_array().into_iter().flatten() {
            if let Some(zip) = a["zip"].as_str() {
                let rel = zip.strip_prefix("target/lambda/").unwrap_or(zip);
                let path = lambda_dir.join(rel);
                std::fs::create_dir_all(path.parent().context("zip folder")?)?;
                // An empty zip: the functions run here as host binaries, not from S3.
                let mut empty = b"PK\x05\x06".to_vec();
                empty.extend([0u8; 18]);
                std::fs::write(&path, empty)?;
            }
        }
        println!(
            "  Lambda zips: empty placeholders uploaded (the functions run here as host binaries from target/debug)"
        );
        println!(
            "  {PIPELINE}: synth deploy --env {} --stack {PIPELINE} --yes",
            options.env
        );
        let mut deploy = std::process::Command::new(bin.join("synth"));
        deploy
            .args([
                "deploy",
                "--env",
                &options.env,
                "--stack",
                PIPELINE,
                "--yes",
                "--from",
            ])
            .arg(&out)
            .arg("--lambda-dir")
            .arg(&lambda_dir)
            .env("AWS_ENDPOINT_URL", &moto_url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", &region)
            .env_remove("AWS_PROFILE")
            .stdin(std::process::Stdio::null());
        let done = deploy.output().context("run synth deploy")?;
        std::fs::write(
            logs.join("synth-deploy.log"),
            [done.stdout.as_slice(), done.stderr.as_slice()].concat(),
        )?;
        if !done.status.success() {
            bail!(
                "synth deploy failed:\n{}{}",
                String::from_utf8_lossy(&done.stdout),
                String::from_utf8_lossy(&done.stderr)
            );
        }
        let mut resources = BTreeMap::new();
        let mut next = None;
        loop {
            let page = cfn
                .list_stack_resources()
                .stack_name(PIPELINE)
                .set_next_token(next)
                .send()
                .await
                .context("ListStackResources")?;
            for r in page.stack_resource_summaries() {
                if let (Some(l), Some(p)) = (r.logical_resource_id(), r.physical_resource_id()) {
                    resources.insert(l.to_owned(), p.to_owned());
                }
            }
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        let physical = |id: &str| -> Result<String> {
            resources
                .get(id)
                .cloned()
                .with_context(|| format!("{PIPELINE} on moto has no {id}"))
        };
        println!("  {PIPELINE}: {} resources", resources.len());

        // The runbook: moto executes only state machines created through its API once
        // execution is switched on.
        let http = reqwest::Client::new();
        http.post(format!("{moto_url}/moto-api/config"))
            .json(&json!({"stepfunctions": {"execute_state_machine": true}}))
            .send()
            .await?
            .error_for_status()
            .context("switch moto's state machine execution on")?;
        let sm = &resources_t["RunbookStateMachine"]["Properties"];
        let mut definition = sm["Definition"].clone();
        let mut text = definition.to_string();
        for (key, value) in sm["DefinitionSubstitutions"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let resolved = match value {
                Value::String(s) => s.clone(),
                v if v.get("Ref").is_some() => physical(v["Ref"].as_str().unwrap_or_default())?,
                v if v["Fn::GetAtt"][1] == "Arn" => {
                    let id = v["Fn::GetAtt"][0].as_str().unwrap_or_default();
                    let p = physical(id)?;
                    if p.starts_with("arn:") { p } else { arn(&p) }
                }
                v => bail!("definition substitution {key}: {v} is not resolved here"),
            };
            text = text.replace(&format!("${{{key}}}"), &resolved);
        }
        definition = serde_json::from_str(&text)?;
        for c in scale::definition(&mut definition, factor) {
            change(&mut changes, c);
        }
        let sfn = aws_sdk_sfn::Client::new(&aws);
        let cfn_machine = physical("RunbookStateMachine")?;
        let name = sm["StateMachineName"]
            .as_str()
            .context("StateMachineName")?
            .to_owned();
        let _ = sfn
            .delete_state_machine()
            .state_machine_arn(&cfn_machine)
            .send()
            .await;
        let role = format!("arn:aws:iam::{ACCOUNT}:role/{}", physical("RunbookRole")?);
        let made = sfn
            .create_state_machine()
            .name(&name)
            .definition(definition.to_string())
            .role_arn(role)
            .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
            .send()
            .await
            .context("CreateStateMachine")?;
        let state_machine_arn = made.state_machine_arn().to_owned();
        println!(
            "  state machine {name}: recreated through the API with the template's definition (substitutions resolved from the stack), so moto executes it"
        );
        emulated.push(format!("the runbook state machine {name} is recreated through moto's API with the template's definition: moto executes only state machines created through its API"));

        // Targets moto cannot deliver to become queues the harness pumps.
        let events = aws_sdk_eventbridge::Client::new(&aws);
        let sqs = aws_sdk_sqs::Client::new(&aws);
        // moto gives the bus no usable physical id: its name is the template's.
        let bus = resources_t["PlatformBus"]["Properties"]["Name"]
            .as_str()
            .context("the bus's Name")?
            .to_owned();
        let mut pumps = Vec::new();
        for (id, r) in resources_t {
            if r["Type"] != "AWS::Events::Rule" {
                continue;
            }
            let rule = physical(id)?;
            let rule = rule.rsplit('/').next().unwrap_or(&rule).to_owned();
            let listed = events
                .list_targets_by_rule()
                .rule(&rule)
                .event_bus_name(&bus)
                .send()
                .await
                .with_context(|| format!("ListTargetsByRule {rule}"))?;
            for t in listed.targets() {
                let service = t.arn().split(':').nth(2).unwrap_or_default().to_owned();
                let target = match service.as_str() {
                    "states" => PumpTarget::StateMachine(state_machine_arn.clone()),
                    "sns" => PumpTarget::Topic(
                        t.arn().to_owned(),
                        t.input_transformer().map(|x| {
                            let template = x.input_template();
                            // The copy sent to moto carries it as a JSON string.
                            let template = serde_json::from_str::<String>(template)
                                .unwrap_or_else(|_| template.to_owned());
                            Sentence {
                                paths: x
                                    .input_paths_map()
                                    .cloned()
                                    .unwrap_or_default()
                                    .into_iter()
                                    .collect(),
                                template,
                            }
                        }),
                    ),
                    _ => continue,
                };
                // A topic target's input transformer is applied by the pump (moto's own breaks
                // on a value with a quote in it); nothing else rewrites an event.
                if t.input().is_some()
                    || t.input_path().is_some()
                    || (t.input_transformer().is_some() && service != "sns")
                {
                    bail!(
                        "rule {rule} target {}: this input transformation is not emulated by the loop",
                        t.id()
                    );
                }
                let queue = sqs
                    .create_queue()
                    .queue_name(format!(
                        "loop-{}-{}",
                        id.to_lowercase(),
                        t.id().to_lowercase()
                    ))
                    .send()
                    .await?
                    .queue_url()
                    .context("queue URL")?
                    .to_owned();
                let queue_arn = format!(
                    "arn:aws:sqs:{region}:{ACCOUNT}:{}",
                    queue.rsplit('/').next().unwrap_or_default()
                );
                events
                    .remove_targets()
                    .rule(&rule)
                    .event_bus_name(&bus)
                    .ids(t.id())
                    .send()
                    .await?;
                events
                    .put_targets()
                    .rule(&rule)
                    .event_bus_name(&bus)
                    .targets(
                        aws_sdk_eventbridge::types::Target::builder()
                            .id(t.id())
                            .arn(&queue_arn)
                            .build()?,
                    )
                    .send()
                    .await?;
                let what = match &target {
                    PumpTarget::StateMachine(_) => {
                        "StartExecution of the runbook (EventBridge -> Step Functions; moto answers PutEvents with 500 for that target)"
                    }
                    PumpTarget::Topic(_, Some(_)) => {
                        "Publish to the topic of the sentence the target's input transformer makes of the event, applied by the harness (EventBridge -> SNS; moto answers PutEvents with 500 for that target, and its transformer parses a plain-text template as JSON)"
                    }
                    PumpTarget::Topic(_, None) => {
                        "Publish to the topic with the event as the message (EventBridge -> SNS; moto answers PutEvents with 500 for that target)"
                    }
                };
                println!(
                    "  rule {id}: target {} ({service}) -> queue {queue_arn}, pumped to {what}",
                    t.id()
                );
                emulated.push(format!("rule {id} target {}: {what}", t.id()));
                pumps.push((queue, target));
            }
        }

        // The notifications, read back through an SQS subscription of each topic: the
        // pager's events (JSON) and what people read (sentences, approval requests).
        let mut readback = Vec::new();
        for (logical, queue_name) in [
            ("PagingTopic", "loop-paging-readback"),
            ("NotificationsTopic", "loop-people-readback"),
        ] {
            let topic = physical(logical)?;
            let url = sqs
                .create_queue()
                .queue_name(queue_name)
                .send()
                .await?
                .queue_url()
                .context("queue URL")?
                .to_owned();
            aws_sdk_sns::Client::new(&aws)
                .subscribe()
                .topic_arn(&topic)
                .protocol("sqs")
                .endpoint(format!("arn:aws:sqs:{region}:{ACCOUNT}:{queue_name}"))
                .send()
                .await
                .with_context(|| format!("Subscribe the read-back queue {queue_name}"))?;
            println!(
                "  topic {topic}: SQS subscription {queue_name} added (its messages are read back from it)"
            );
            readback.push(url);
        }
        let people_queue = readback.pop().context("people read-back")?;
        let notifications_queue = readback.pop().context("paging read-back")?;

        // moto's CloudFormation does not create AWS::SecretsManager::Secret: the harness
        // makes it as the template declares it (name, GenerateSecretString).
        let secret_props = &resources_t["WebhookTokenSecret"]["Properties"];
        let secrets = aws_sdk_secretsmanager::Client::new(&aws);
        let make_secret = |props: Value| {
            let secrets = secrets.clone();
            async move {
                let name = props["Name"]
                    .as_str()
                    .context("the secret's Name")?
                    .to_owned();
                let generate = &props["GenerateSecretString"];
                let password = secrets
                    .get_random_password()
                    .password_length(generate["PasswordLength"].as_i64().unwrap_or(32))
                    .exclude_punctuation(generate["ExcludePunctuation"].as_bool().unwrap_or(false))
                    .send()
                    .await?
                    .random_password()
                    .context("GetRandomPassword")?
                    .to_owned();
                let arn = secrets
                    .create_secret()
                    .name(&name)
                    .secret_string(&password)
                    .send()
                    .await
                    .with_context(|| format!("CreateSecret {name}"))?
                    .arn()
                    .context("the secret's ARN")?
                    .to_owned();
                Ok::<_, anyhow::Error>((name, arn))
            }
        };
        let (secret_name, secret_arn) = make_secret(secret_props.clone()).await?;
        change(
            &mut changes,
            format!(
                "WebhookTokenSecret: created by the harness as {secret_name} with GenerateSecretString's rules (moto's CloudFormation skips AWS::SecretsManager::Secret)"
            ),
        );
        let (key_name, key_arn) =
            make_secret(resources_t["ApprovalSigningKey"]["Properties"].clone()).await?;
        change(
            &mut changes,
            format!(
                "ApprovalSigningKey: created by the harness as {key_name} with GenerateSecretString's rules (moto's CloudFormation skips AWS::SecretsManager::Secret)"
            ),
        );
        let token = secrets
            .get_secret_value()
            .secret_id(&secret_arn)
            .send()
            .await
            .context("GetSecretValue of the webhook token")?
            .secret_string()
            .context("the token secret has no string")?
            .to_owned();
        let token_file = run.join("alertmanager-token");
        std::fs::write(&token_file, &token)?;

        step("alert_ingest and runbook_action: the real binaries behind local Runtime APIs");
        let lambda = aws_sdk_lambda::Client::new(&aws);
        let vars = |name: String| {
            let lambda = lambda.clone();
            async move {
                let c = lambda
                    .get_function_configuration()
                    .function_name(&name)
                    .send()
                    .await
                    .with_context(|| format!("GetFunctionConfiguration {name}"))?;
                Ok::<_, anyhow::Error>(
                    c.environment()
                        .and_then(|e| e.variables())
                        .cloned()
                        .unwrap_or_default(),
                )
            }
        };
        let ingest_vars = vars(ingest_name.clone()).await?;
        let runbook_vars = vars(runbook_name.clone()).await?;
        let approval_vars = vars(approval_name.clone()).await?;
        let bus_proxy = Proxy::start(&moto_url, vec![]).await?;
        let ssm_proxy = Proxy::start(&moto_url, vec![]).await?;
        let (ingest_api, ingest_api_addr) =
            RuntimeApi::serve(&arn(&ingest_name), Duration::from_secs(ingest_timeout)).await?;
        let mut ingest_cmd: Vec<(String, String)> = ingest_vars.into_iter().collect();
        ingest_cmd.sort();
        // moto leaves out a variable whose Ref names a resource it skipped.
        let secret_var = alert_ingest::WEBHOOK_TOKEN_SECRET_ARN.name;
        ingest_cmd.retain(|(k, _)| k != secret_var);
        change(
            &mut changes,
            format!(
                "{ingest_name}: WEBHOOK_TOKEN_SECRET_ARN -> {secret_arn} (the secret the harness made; moto drops the variable its Ref resolves to)"
            ),
        );
        ingest_cmd.push((secret_var.into(), secret_arn.clone()));
        ingest_cmd.extend(runtime_vars(&ingest_name, ingest_memory));
        ingest_cmd.extend([
            ("AWS_LAMBDA_RUNTIME_API".into(), ingest_api_addr.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), ingest_name.clone()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE".into(), bus_proxy.url()),
        ]);
        change(
            &mut changes,
            format!(
                "{ingest_name}: EventBridge endpoint -> {} (the fault proxy in front of moto)",
                bus_proxy.url()
            ),
        );
        let ingest = start_function("alert_ingest", &bin, &ingest_cmd, &moto_url, &region, &logs)?;

        let (kube_addr, kube_log) = fronts::kube().await?;
        let mut runbook_env: Vec<(String, String)> = runbook_vars.into_iter().collect();
        runbook_env.sort();
        let limit_var = &runbook_action::RATE_LIMIT_SECONDS;
        let rate_limit = seconds(limit_var, &runbook_env)?;
        let scaled_limit = (rate_limit / u64::from(factor)).max(1);
        runbook_env.retain(|(k, _)| k != limit_var.name);
        change(
            &mut changes,
            format!("{runbook_name}: RATE_LIMIT_SECONDS {rate_limit} -> {scaled_limit}"),
        );
        change(
            &mut changes,
            format!(
                "{runbook_name}: EKS_CLUSTER_ENDPOINT -> http://{kube_addr} (the recording Kubernetes API stand-in)"
            ),
        );
        change(
            &mut changes,
            format!(
                "{runbook_name}: SSM endpoint -> {} (the fault proxy in front of moto)",
                ssm_proxy.url()
            ),
        );
        emulated.push(format!("the Kubernetes API: a loopback stand-in on {kube_addr} that records each request and answers 404 (no API server here)"));
        emulated.push("API Gateway -> alert_ingest: a loopback front builds the REST API's proxy event (authorization NONE, the bearer token checked by the function as deployed); the API's request model validation is not applied (alert_ingest validates the body itself)".into());
        runbook_env.extend([
            (limit_var.name.into(), scaled_limit.to_string()),
            (
                runbook_action::EKS_CLUSTER_ENDPOINT.name.into(),
                format!("http://{kube_addr}"),
            ),
            (
                "AWS_LAMBDA_RUNTIME_API".into(),
                runbook_api_addr.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), runbook_name.clone()),
            ("AWS_ENDPOINT_URL_SSM".into(), ssm_proxy.url()),
        ]);
        runbook_env.extend(runtime_vars(&runbook_name, runbook_memory));
        let runbook = start_function(
            "runbook_action",
            &bin,
            &runbook_env,
            &moto_url,
            &region,
            &logs,
        )?;

        // approval: the links' base URL is the API's public one; the harness's webhook front
        // stands in for it (the scenario rewrites the links' host).
        let mut approval_env: Vec<(String, String)> = approval_vars.into_iter().collect();
        approval_env.sort();
        let key_var = runtime::approval::SIGNING_KEY_SECRET_ARN.name;
        approval_env.retain(|(k, _)| k != key_var);
        change(
            &mut changes,
            format!(
                "{approval_name}: SIGNING_KEY_SECRET_ARN -> {key_arn} (the secret the harness made; moto drops the variable its Ref resolves to)"
            ),
        );
        approval_env.push((key_var.into(), key_arn.clone()));
        let public_url = approval_env
            .iter()
            .find(|(k, _)| k == runtime::approval::PUBLIC_URL.name)
            .map(|(_, v)| v.clone())
            .context("approval's PUBLIC_URL")?;
        approval_env.extend(runtime_vars(&approval_name, approval_memory));
        approval_env.extend([
            (
                "AWS_LAMBDA_RUNTIME_API".into(),
                approval_api_addr.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), approval_name.clone()),
        ]);
        let approval = start_function("approval", &bin, &approval_env, &moto_url, &region, &logs)?;
        emulated.push(format!("API Gateway -> approval: the same front builds the proxy event of GET/POST /approvals/{{incident_id}}; the links name {public_url}, whose host the scenario replaces with the front's"));

        let webhook_log: WebhookLog = Arc::new(Mutex::new(Vec::new()));
        let stage = resources_t
            .values()
            .find(|r| r["Type"] == "AWS::ApiGateway::Stage")
            .and_then(|r| r["Properties"]["StageName"].as_str())
            .unwrap_or("v1")
            .to_owned();
        let mut fronts_urls = Vec::new();
        for name in ["alertmanager-0", "alertmanager-1", "harness"] {
            let addr = fronts::webhook(
                name,
                &stage,
                ACCOUNT,
                ingest_api.clone(),
                Some(approval_api.clone()),
                webhook_log.clone(),
            )
            .await?;
            fronts_urls.push(format!("http://{addr}/webhook/alertmanager"));
        }

        step("checkout with the generated Deployment's environment");
        let k8s = std::fs::read_to_string(env_dir.join("k8s/checkout.yaml"))?;
        let mut checkout_env = deployment_env(&k8s, "checkout")?;
        let port = free_port()?;
        let chaos_port = free_port()?;
        let refresh_var = &checkout::DEGRADED_MODE_REFRESH_SECONDS;
        let refresh = seconds(refresh_var, &checkout_env)?;
        let scaled_refresh = (refresh / u64::from(factor)).max(1);
        checkout_env.retain(|(k, _)| k != checkout::PORT.name && k != refresh_var.name);
        change(&mut changes, format!("checkout: PORT -> {port}"));
        change(
            &mut changes,
            format!(
                "checkout: {} {refresh} -> {scaled_refresh}",
                refresh_var.name
            ),
        );
        checkout_env.extend([
            (checkout::PORT.name.into(), port.to_string()),
            (refresh_var.name.into(), scaled_refresh.to_string()),
        ]);
        change(
            &mut changes,
            format!(
                "checkout: CHAOS_CONTROL_PORT={chaos_port} added (local only: the harness turns the chaos knobs with it)"
            ),
        );
        checkout_env.push((
            checkout::CHAOS_CONTROL_PORT.name.into(),
            chaos_port.to_string(),
        ));
        let mut cmd = Command::new(bin.join("checkout"));
        aws_env(&mut cmd, &moto_url, &region);
        cmd.envs(checkout_env.iter().cloned());
        let mut checkout = Proc::spawn("checkout", &mut cmd, &logs)?;
        wait_listening(&mut checkout, port, Duration::from_secs(30)).await?;
        wait_listening(&mut checkout, chaos_port, Duration::from_secs(10)).await?;

        step("Prometheus and two Alertmanager replicas with the generated files");
        let monitoring = std::fs::read_to_string(env_dir.join("k8s/checkout-monitoring.yaml"))?;
        let (interval, path, namespace, job) = service_monitor(&monitoring)?;
        let scrape = scale::scaled(scale::parse(&interval)?, factor);
        change(
            &mut changes,
            format!(
                "ServiceMonitor {namespace}/{job}: interval {interval} -> {} (the scrape job's)",
                scale::format(scrape)
            ),
        );
        let min_window = scrape * 4;
        let rules_dir = run.join("rules");
        std::fs::create_dir_all(&rules_dir)?;
        let mut rule_files = Vec::new();
        let mut eval = Duration::from_secs(60);
        for entry in std::fs::read_dir(env_dir.join("monitoring/rules"))? {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(entry.path())?;
            let doc: serde_norway::Value = serde_norway::from_str(&text)?;
            for g in doc["groups"].as_sequence().into_iter().flatten() {
                if let Some(i) = g["interval"].as_str() {
                    eval = eval.min(scale::parse(i)?);
                }
            }
            let (scaled_text, rule_changes) = scale::rules(&text, &file, factor, min_window)?;
            for c in rule_changes {
                change(&mut changes, c);
            }
            std::fs::write(rules_dir.join(&file), scaled_text)?;
            rule_files.push(rules_dir.join(&file));
        }
        let eval = scale::scaled(eval, factor);
        let am_ports = [free_port()?, free_port()?];
        let prom_port = free_port()?;
        let prom_config = json!({
            "global": {
                "scrape_interval": scale::format(scrape),
                "evaluation_interval": scale::format(eval),
            },
            "rule_files": rule_files,
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": am_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect::<Vec<_>>()}]}]},
            "scrape_configs": [{
                "job_name": job,
                "metrics_path": path,
                "scrape_interval": scale::format(scrape),
                "static_configs": [{"targets": [format!("127.0.0.1:{port}")], "labels": {"namespace": namespace}}],
            }],
        });
        println!(
            "  scrape job {job}: 127.0.0.1:{port}{path}, labels job={job} namespace={namespace} (what the ServiceMonitor's target gets)"
        );
        let prom_file = run.join("prometheus.yml");
        std::fs::write(&prom_file, serde_norway::to_string(&prom_config)?)?;
        let mut cmd = Command::new(&prometheus);
        cmd.arg(format!("--config.file={}", prom_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                run.join("prometheus-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
        let mut prom = Proc::spawn("prometheus", &mut cmd, &logs)?;
        wait_listening(&mut prom, prom_port, Duration::from_secs(60)).await?;
        procs_list.push(prom);

        let am_text = std::fs::read_to_string(env_dir.join("monitoring/alertmanager.yaml"))?;
        let mut alertmanagers = Vec::new();
        for (i, p) in am_ports.iter().enumerate() {
            let (config, am_changes) = scale::alertmanager(
                &am_text,
                factor,
                &fronts_urls[i],
                &token_file.to_string_lossy(),
            )?;
            if i == 0 {
                for c in am_changes {
                    change(&mut changes, c);
                }
            } else {
                change(
                    &mut changes,
                    format!(
                        "alertmanager-1: the same, its receiver URL {}",
                        fronts_urls[i]
                    ),
                );
            }
            let file = run.join(format!("alertmanager-{i}.yml"));
            std::fs::write(&file, config)?;
            let mut cmd = Command::new(&alertmanager);
            cmd.arg(format!("--config.file={}", file.display()))
                .arg(format!(
                    "--storage.path={}",
                    run.join(format!("alertmanager-{i}-data")).display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{p}"))
                .arg("--cluster.listen-address=");
            let mut am = Proc::spawn(&format!("alertmanager-{i}"), &mut cmd, &logs)?;
            wait_listening(&mut am, *p, Duration::from_secs(30)).await?;
            procs_list.push(am);
            alertmanagers.push(format!("http://127.0.0.1:{p}"));
        }
        println!(
            "  two replicas, not clustered: both send every notification (the worst case of the generated two-replica Alertmanager)"
        );

        Ok(World {
            options: options.clone(),
            region,
            moto_url,
            aws,
            table: physical("IncidentsTable")?,
            degraded_parameter: physical("CheckoutDegradedModeParameter")?,
            audit_log_group: resources_t["AuditLogGroup"]["Properties"]["LogGroupName"]
                .as_str()
                .map(str::to_owned)
                .map_or_else(|| physical("AuditLogGroup"), Ok)?,
            notifications_queue,
            people_queue,
            pumps,
            token,
            ingest_api,
            ingest,
            ingest_cmd,
            runbook,
            checkout,
            checkout_url: format!("http://127.0.0.1:{port}"),
            chaos_url: format!("http://127.0.0.1:{chaos_port}/chaos"),
            prometheus_url: format!("http://127.0.0.1:{prom_port}"),
            alertmanagers,
            webhook_log,
            webhook_url: fronts_urls[2].clone(),
            approval_base: fronts_urls[2]
                .trim_end_matches("/webhook/alertmanager")
                .to_owned(),
            public_url,
            approval,
            bus_proxy,
            ssm_proxy,
            sfn_front,
            kube_log,
            changes,
            emulated,
            procs: procs_list,
            bin,
        })
    }

    /// Kills alert_ingest (SIGKILL by PID), fails what it had taken, and starts it again.
    pub async fn crash_and_restart_ingest(&mut self) -> Result<()> {
        self.ingest.kill().await?;
        self.ingest_api
            .fail_pending("the process was killed during the invocation");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let logs = self.options.run_dir.join("logs");
        self.ingest = start_function(
            "alert_ingest",
            &self.bin,
            &self.ingest_cmd,
            &self.moto_url,
            &self.region,
            &logs,
        )?;
        Ok(())
    }

    /// Stops every process by its PID.
    pub async fn stop(&mut self) {
        println!("\n==> stopping every process by its PID");
        let _ = self.checkout.stop().await;
        let _ = self.ingest.stop().await;
        let _ = self.runbook.stop().await;
        let _ = self.approval.stop().await;
        for p in self.procs.iter_mut().rev() {
            let _ = p.stop().await;
        }
    }
}

/// `var` in `env` (or its contract default), in seconds; the contract's message when invalid.
fn seconds(var: &Var, env: &[(String, String)]) -> Result<u64> {
    let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    var.duration(&lookup)?
        .map(|d| d.as_secs())
        .with_context(|| format!("{} is unset and has no default", var.name))
}

/// The variables Lambda sets for every function (the runtime client reads them).
fn runtime_vars(name: &str, memory: u64) -> Vec<(String, String)> {
    vec![
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), memory.to_string()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{name}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), "loop".into()),
    ]
}

fn start_function(
    name: &str,
    bin: &Path,
    vars: &[(String, String)],
    moto: &str,
    region: &str,
    logs: &Path,
) -> Result<Proc> {
    let mut cmd = Command::new(bin.join(name));
    aws_env(&mut cmd, moto, region);
    cmd.envs(vars.iter().cloned());
    Proc::spawn(name, &mut cmd, logs)
}
