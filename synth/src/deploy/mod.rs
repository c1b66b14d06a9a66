//! `synth diff` and `synth deploy`: CloudFormation change sets through `aws-sdk-cloudformation`.
//!
//! - **diff**: per stack, a change set is created, read back and deleted (a stack that did not
//!   exist is deleted again too); the diff is what the change set says, replacement included.
//! - **deploy**: before the first stack that runs them (the pipeline stack, after the bootstrap
//!   stack made the bucket), the Lambda zips are uploaded under their content-hash keys (skipped
//!   when present); a template over the inline limit goes to the assets bucket, the change set is
//!   shown and, once confirmed, executed while the stack's events drive a progress bar; a
//!   failure prints the first failed resource's reason and waits for the rollback. Outputs of
//!   one stack feed the parameters of the next (the manifest's `stacks`).
//!
//! Every call goes where the SDK's standard configuration says (`AWS_PROFILE`,
//! `AWS_ENDPOINT_URL` for an emulator, ...), in the environment's region; the caller's account
//! must be the one the settings name.

pub mod changes;
pub mod plan;
pub mod progress;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, StackStatus,
};
use aws_sdk_s3::Client as S3;
use indicatif::ProgressDrawTarget;

use changes::{ResourceDiff, StackDiff, StackState, Summary};
use plan::{ParameterSource, Plan, StackStep};
use progress::{Event, Progress};

/// How long a deploy watches one stack operation at most.
const MAX_WAIT: Duration = Duration::from_secs(3 * 3600);

/// CloudFormation's limit for an inline template body (bytes); larger ones go through S3.
pub const INLINE_TEMPLATE_LIMIT: usize = 51_200;

/// How `synth diff` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Lines per resource and a summary.
    Text,
    /// The same as JSON (for a CI job commenting on a pull request).
    Json,
}

/// Options of `synth diff`.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Only this stack.
    pub stack: Option<String>,
    /// Text or JSON.
    pub output: OutputFormat,
}

/// Options of `synth deploy`.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Only this stack.
    pub stack: Option<String>,
    /// Execute without asking.
    pub yes: bool,
    /// Create the change sets and stop.
    pub no_execute: bool,
    /// Execute this change set (created by `--no-execute`), after checking it still matches.
    pub execute_change_set: Option<String>,
    /// Delete a stack left in `ROLLBACK_COMPLETE` and create it again.
    pub replace_failed: bool,
    /// Run drift detection before executing.
    pub detect_drift: bool,
    /// Where the Lambda zips are (`<dir>/<arch>/<function>/bootstrap.zip`).
    pub lambda_dir: PathBuf,
}

/// How a deploy ended.
#[derive(Debug, PartialEq, Eq)]
pub enum DeployOutcome {
    /// Every stack is deployed (or had no change).
    Deployed,
    /// Change sets were left for `--execute-change-set` (or the user said no).
    NotExecuted,
    /// A stack failed; the message names the first failed resource and its reason.
    Failed(String),
    /// Interrupted (Ctrl-C); CloudFormation goes on, nothing was cancelled.
    Interrupted,
}

/// The clients, configured from the standard chain in `region`.
pub struct Clients {
    cfn: Cfn,
    s3: S3,
    sts: aws_sdk_sts::Client,
}

impl Clients {
    /// Loads the configuration; fails with one line naming how to give credentials.
    pub async fn load(region: &str) -> Result<Clients> {
        let config = crate::aws_config(region).await?;
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            // Emulators (AWS_ENDPOINT_URL) serve buckets by path, not by virtual host.
            .force_path_style(std::env::var_os("AWS_ENDPOINT_URL").is_some())
            .build();
        Ok(Clients {
            cfn: Cfn::new(&config),
            s3: S3::from_conf(s3_config),
            sts: aws_sdk_sts::Client::new(&config),
        })
    }

    /// Refuses credentials of another account than the settings'.
    pub async fn check_account(&self, plan: &Plan) -> Result<()> {
        let who = self.sts.get_caller_identity().send().await.map_err(|e| {
            let why = short(&e);
            if why.starts_with("no usable AWS credentials") {
                anyhow!("{why}")
            } else {
                anyhow!(
                    "cannot reach AWS in {} with these credentials: {why}",
                    plan.region
                )
            }
        })?;
        let account = who.account().unwrap_or_default();
        if account != plan.account_id {
            bail!(
                "the credentials are for account {account}, but {} deploys to account {} (settings account_id): switch profile",
                plan.environment,
                plan.account_id
            );
        }
        Ok(())
    }
}

/// An AWS error in one line: `Code: message` for an error the service returned; for one that
/// never reached it, what to do (credentials) or the first line of the cause.
fn short<E, R>(e: &aws_sdk_cloudformation::error::SdkError<E, R>) -> String
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_cloudformation::error::SdkError;
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("(no message)")
            )
        }
        other => {
            let full = aws_sdk_cloudformation::error::DisplayErrorContext(other).to_string();
            if full.contains("loading credentials") || full.contains("no credentials") {
                "no usable AWS credentials: set AWS_PROFILE (aws configure / aws sso login) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_owned()
            } else {
                full.split(" (").next().unwrap_or(&full).to_owned()
            }
        }
    }
}

/// The change set's description: it names the template's hash, so `--execute-change-set`
/// can refuse a change set that no longer matches what synth writes.
fn description(template: &str) -> String {
    format!(
        "synth template sha256 {}",
        crate::sha256_hex(template.as_bytes())
    )
}

async fn stack_status(cfn: &Cfn, stack: &str) -> Result<Option<StackStatus>> {
    match cfn.describe_stacks().stack_name(stack).send().await {
        // A deleted stack is no stack (an emulator may still list it by name).
        Ok(out) => Ok(out
            .stacks()
            .iter()
            .filter_map(|s| s.stack_status().cloned())
            .find(|s| *s != StackStatus::DeleteComplete)),
        Err(e) => {
            let text = short(&e).to_string();
            if text.contains("does not exist") {
                Ok(None)
            } else {
                Err(anyhow!("DescribeStacks {stack}: {text}"))
            }
        }
    }
}

async fn outputs(cfn: &Cfn, stack: &str) -> Result<BTreeMap<String, String>> {
    let out = cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| anyhow!("DescribeStacks {stack}: {}", short(&e)))?;
    Ok(out
        .stacks()
        .first()
        .map(|s| {
            s.outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
                .collect()
        })
        .unwrap_or_default())
}

/// The parameters of `step`, outputs of earlier stacks read from CloudFormation. For a diff
/// (`placeholder`), an output of a stack not deployed yet becomes a placeholder text: the
/// stack's diff is then all-add anyway.
async fn parameters(cfn: &Cfn, step: &StackStep, placeholder: bool) -> Result<Vec<Parameter>> {
    let mut out = Vec::new();
    let mut cache: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (key, source) in &step.parameters {
        let value = match source {
            ParameterSource::Value(v) => v.clone(),
            ParameterSource::Output { stack, output } => {
                if !cache.contains_key(stack) {
                    let found = if placeholder && stack_status(cfn, stack).await?.is_none() {
                        BTreeMap::new()
                    } else {
                        outputs(cfn, stack).await?
                    };
                    cache.insert(stack.clone(), found);
                }
                let found = cache[stack].get(output).cloned();
                if found.is_none() && placeholder {
                    out.push(
                        Parameter::builder()
                            .parameter_key(key)
                            .parameter_value(format!(
                                "(output {output} of {stack}, not deployed yet)"
                            ))
                            .build(),
                    );
                    continue;
                }
                found.ok_or_else(|| {
                    anyhow!(
                        "stack {} needs output {output} of stack {stack}, which has none by that name (deploy {stack} first)",
                        step.stack
                    )
                })?
            }
        };
        out.push(
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build(),
        );
    }
    Ok(out)
}

/// Where the template goes: inline, or (over the limit) uploaded to the assets bucket.
enum Body {
    Inline(String),
    Url(String),
}

/// A change set needs the template where CloudFormation can read it, for a diff too: the key
/// is content-addressed, so an upload is never repeated.
async fn template_body(c: &Clients, plan: &Plan, step: &StackStep) -> Result<Body> {
    let body = plan.template(step);
    if body.len() <= INLINE_TEMPLATE_LIMIT {
        return Ok(Body::Inline(body.to_owned()));
    }
    let key = format!(
        "templates/{}/{}.json",
        step.stack,
        crate::sha256_hex(body.as_bytes())
    );
    let exists =
        c.s3.head_object()
            .bucket(&plan.assets_bucket)
            .key(&key)
            .send()
            .await
            .is_ok();
    if !exists {
        c.s3.put_object()
            .bucket(&plan.assets_bucket)
            .key(&key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "uploading the {} template ({} bytes, over the {INLINE_TEMPLATE_LIMIT}-byte inline limit) to s3://{}/{key}: {}",
                    step.stack,
                    body.len(),
                    plan.assets_bucket,
                    short(&e)
                )
            })?;
    }
    // The regional virtual-hosted URL (an emulator behind AWS_ENDPOINT_URL resolves it too).
    Ok(Body::Url(format!(
        "https://{}.s3.{}.amazonaws.com/{key}",
        plan.assets_bucket, plan.region
    )))
}

/// A change set made for a step, read back.
struct Made {
    name: String,
    /// The stack's id (CloudFormation's ARN): every later call names the stack by it.
    stack_id: String,
    diff: StackDiff,
}

async fn create_change_set(
    c: &Clients,
    plan: &Plan,
    step: &StackStep,
    for_diff: bool,
) -> Result<Made> {
    let status = stack_status(&c.cfn, &step.stack).await?;
    let kind = match &status {
        None | Some(StackStatus::ReviewInProgress) => ChangeSetType::Create,
        Some(StackStatus::RollbackComplete) => bail!(
            "stack {} is in ROLLBACK_COMPLETE (its creation failed and was rolled back); it cannot be updated. Delete it: synth deploy --replace-failed (or aws cloudformation delete-stack --stack-name {})",
            step.stack,
            step.stack
        ),
        Some(s) if s.as_str().ends_with("_IN_PROGRESS") => bail!(
            "stack {} is busy ({}); wait for it to finish",
            step.stack,
            s.as_str()
        ),
        Some(_) => ChangeSetType::Update,
    };
    let template = plan.template(step);
    let name = format!(
        "synth-{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
        &crate::sha256_hex(template.as_bytes())[..8]
    );
    let mut req = c
        .cfn
        .create_change_set()
        .stack_name(&step.stack)
        .change_set_name(&name)
        .change_set_type(kind.clone())
        .description(description(template))
        .set_parameters(Some(parameters(&c.cfn, step, for_diff).await?))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .capabilities(Capability::CapabilityAutoExpand)
        .include_nested_stacks(false);
    req = match template_body(c, plan, step).await? {
        Body::Inline(b) => req.template_body(b),
        Body::Url(u) => req.template_url(u),
    };
    let created = req
        .send()
        .await
        .map_err(|e| anyhow!("creating a change set for {}: {}", step.stack, short(&e)))?;
    let stack_id = created.stack_id().unwrap_or(&step.stack).to_owned();
    let mut diff = read_change_set(c, &stack_id, &name, kind == ChangeSetType::Create).await?;
    diff.stack = step.stack.clone();
    Ok(Made {
        stack_id,
        name,
        diff,
    })
}

/// Waits for the change set and reads its changes (every page).
async fn read_change_set(c: &Clients, stack: &str, name: &str, new: bool) -> Result<StackDiff> {
    let started = Instant::now();
    loop {
        let out = c
            .cfn
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .send()
            .await
            .map_err(|e| anyhow!("reading change set {name} of {stack}: {}", short(&e)))?;
        match out.status() {
            Some(ChangeSetStatus::CreateComplete) => break,
            Some(ChangeSetStatus::Failed) => {
                let reason = out.status_reason().unwrap_or_default();
                if reason.contains("didn't contain changes") || reason.contains("No updates") {
                    return Ok(StackDiff {
                        stack: stack.to_owned(),
                        state: StackState::Unchanged,
                        changes: vec![],
                    });
                }
                bail!("the change set for {stack} failed: {reason}");
            }
            _ if started.elapsed() > Duration::from_secs(600) => {
                bail!("the change set for {stack} was not ready after 10 minutes")
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    let mut changes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .cfn
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .set_next_token(token.clone())
            .include_property_values(true)
            .send()
            .await
            .map_err(|e| anyhow!("reading change set {name} of {stack}: {}", short(&e)))?;
        changes.extend(
            out.changes()
                .iter()
                .filter_map(|ch| ch.resource_change())
                .map(ResourceDiff::from_sdk),
        );
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let state = if new {
        StackState::New
    } else if changes.is_empty() {
        StackState::Unchanged
    } else {
        StackState::Changed
    };
    Ok(StackDiff {
        stack: stack.to_owned(),
        state,
        changes,
    })
}

/// Deletes a change set made for a diff (and the stack a CREATE change set made).
async fn discard(c: &Clients, stack: &str, made: &Made) -> Result<()> {
    if made.diff.state == StackState::New {
        // A CREATE change set leaves the stack in REVIEW_IN_PROGRESS; deleting the stack
        // deletes its change sets.
        c.cfn
            .delete_stack()
            .stack_name(&made.stack_id)
            .send()
            .await
            .map_err(|e| anyhow!("deleting the review stack {stack}: {}", short(&e)))?;
    } else {
        let _ = c
            .cfn
            .delete_change_set()
            .stack_name(&made.stack_id)
            .change_set_name(&made.name)
            .send()
            .await;
    }
    Ok(())
}

/// `synth diff`: the change set of each stack, printed, then deleted. Returns the summary.
pub async fn diff(plan: &Plan, opts: &DiffOptions) -> Result<Summary> {
    let c = Clients::load(&plan.region).await?;
    c.check_account(plan).await?;
    let mut diffs = Vec::new();
    for step in plan.steps(opts.stack.as_deref())? {
        // A stack that reads an output of a stack not deployed yet (a new account) is new
        // itself: CloudFormation would refuse a change set with a stand-in for the output
        // (a VPC id must exist), so its diff is the template, every resource an add.
        let mut missing = None;
        for source in step.parameters.values() {
            if let ParameterSource::Output { stack, .. } = source
                && stack_status(&c.cfn, stack).await?.is_none()
            {
                missing = Some(stack.clone());
                break;
            }
        }
        if let Some(first) = missing {
            let diff = local_new(plan, step)?;
            if opts.output == OutputFormat::Text {
                println!(
                    "{} is not deployed yet; {} comes after it:",
                    first, step.stack
                );
                print!("{}", changes::render(&diff));
                let _ = std::io::stdout().flush();
            }
            diffs.push(diff);
            continue;
        }
        let made = create_change_set(&c, plan, step, true).await?;
        discard(&c, &step.stack, &made).await?;
        if opts.output == OutputFormat::Text {
            print!("{}", changes::render(&made.diff));
            let _ = std::io::stdout().flush();
        }
        diffs.push(made.diff);
    }
    let summary = Summary::of(&diffs);
    match opts.output {
        OutputFormat::Text => println!("{}", summary.line()),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "environment": plan.environment,
                "stacks": diffs,
                "summary": summary,
            }))?
        ),
    }
    Ok(summary)
}

/// The diff of a stack that does not exist yet, from its template: every resource an add.
fn local_new(plan: &Plan, step: &StackStep) -> Result<StackDiff> {
    let t: serde_json::Value = serde_json::from_str(plan.template(step))
        .with_context(|| format!("{} is not JSON", step.template))?;
    let changes = t["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(id, r)| changes::ResourceDiff {
            action: changes::Action::Add,
            logical_id: id.clone(),
            resource_type: r["Type"].as_str().unwrap_or_default().to_owned(),
            replacement: None,
            details: Vec::new(),
        })
        .collect();
    Ok(StackDiff {
        stack: step.stack.clone(),
        state: StackState::New,
        changes,
    })
}

/// Uploads each Lambda zip under its content-hash key, skipping those already there.
async fn upload_assets(c: &Clients, plan: &Plan, lambda_dir: &Path) -> Result<()> {
    for a in &plan.assets {
        // The manifest's zip path is `target/lambda/<arch>/<function>/bootstrap.zip`.
        let rel = a
            .zip
            .strip_prefix("target/lambda/")
            .unwrap_or(a.zip.as_str());
        let path = lambda_dir.join(rel);
        let exists =
            c.s3.head_object()
                .bucket(&plan.assets_bucket)
                .key(&a.s3_key)
                .send()
                .await
                .is_ok();
        if exists {
            eprintln!(
                "  asset {}: unchanged (s3://{}/{})",
                a.function, plan.assets_bucket, a.s3_key
            );
            continue;
        }
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "the {} zip {} is missing: build it with `lambdas/build.sh --env {}`",
                a.function,
                path.display(),
                plan.environment
            )
        })?;
        c.s3.put_object()
            .bucket(&plan.assets_bucket)
            .key(&a.s3_key)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "uploading {} to s3://{}/{}: {} (does the assets bucket exist?)",
                    path.display(),
                    plan.assets_bucket,
                    a.s3_key,
                    short(&e)
                )
            })?;
        eprintln!(
            "  asset {}: uploaded s3://{}/{}",
            a.function, plan.assets_bucket, a.s3_key
        );
    }
    Ok(())
}

/// Asks on the terminal; refuses when stdin is not one (use `--yes`).
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "{question}: stdin is not a terminal, so synth cannot ask; pass --yes to execute, or --no-execute to leave the change set"
        );
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Every event of the stack, oldest first.
async fn events(cfn: &Cfn, stack: &str) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = cfn
            .describe_stack_events()
            .stack_name(stack)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| anyhow!("DescribeStackEvents {stack}: {}", short(&e)))?;
        out.extend(page.stack_events().iter().map(|e| {
            Event {
                id: e.event_id().unwrap_or_default().to_owned(),
                logical_id: e.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: e.resource_type().unwrap_or_default().to_owned(),
                status: e
                    .resource_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                reason: e.resource_status_reason().map(str::to_owned),
            }
        }));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    out.reverse();
    Ok(out)
}

fn terminal(status: &StackStatus) -> bool {
    !status.as_str().ends_with("_IN_PROGRESS")
}

fn succeeded(status: &StackStatus) -> bool {
    matches!(
        status,
        StackStatus::CreateComplete | StackStatus::UpdateComplete | StackStatus::ImportComplete
    )
}

/// Waits for the stack after `ExecuteChangeSet`, drawing progress; Ctrl-C stops waiting only.
async fn watch(
    c: &Clients,
    stack: &str,
    stack_id: &str,
    total: usize,
    before: &BTreeSet<String>,
) -> Result<Result<(), String>, ()> {
    let interactive = std::io::stderr().is_terminal();
    let target = if interactive {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let mut progress = Progress::new(stack, total, target);
    let mut seen = before.clone();
    let started = Instant::now();
    loop {
        if started.elapsed() > MAX_WAIT {
            return Ok(Err(format!(
                "{stack} is still in progress after {} minutes; synth stopped watching (CloudFormation goes on)",
                MAX_WAIT.as_secs() / 60
            )));
        }
        let step = async {
            let evs = events(&c.cfn, stack_id).await?;
            let status = stack_status(&c.cfn, stack_id).await?;
            Ok::<_, anyhow::Error>((evs, status))
        };
        let (evs, status) = tokio::select! {
            r = step => match r {
                Ok(x) => x,
                Err(e) => return Ok(Err(format!("{e:#}"))),
            },
            _ = tokio::signal::ctrl_c() => return Err(()),
        };
        for e in evs.iter().filter(|e| !seen.contains(&e.id)) {
            progress.apply(e);
            if !interactive {
                let line = if e.resource_type == "AWS::CloudFormation::Stack" {
                    format!(
                        "{stack} {}{}",
                        e.status,
                        e.reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    )
                } else {
                    progress.line()
                };
                eprintln!("  [{:>4}s] {line}", started.elapsed().as_secs());
            }
        }
        seen.extend(evs.into_iter().map(|e| e.id));
        progress.tick();
        if let Some(s) = status
            && terminal(&s)
        {
            if succeeded(&s) {
                progress.finish(&format!(
                    "{} ({} s)",
                    s.as_str(),
                    started.elapsed().as_secs()
                ));
                return Ok(Ok(()));
            }
            progress.finish(s.as_str());
            let reason = match progress.first_failure() {
                Some((id, reason)) => format!("{id}: {reason}"),
                None => format!("stack ended in {}", s.as_str()),
            };
            return Ok(Err(format!("{stack} failed ({}): {reason}", s.as_str())));
        }
        tokio::select! {
            _ = tokio::time::sleep(progress::POLL) => {}
            _ = tokio::signal::ctrl_c() => return Err(()),
        }
    }
}

async fn delete_failed(c: &Clients, stack: &str) -> Result<()> {
    eprintln!("deleting {stack} (ROLLBACK_COMPLETE, --replace-failed)");
    c.cfn
        .delete_stack()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| anyhow!("DeleteStack {stack}: {}", short(&e)))?;
    let started = Instant::now();
    while stack_status(&c.cfn, stack).await?.is_some() {
        if started.elapsed() > Duration::from_secs(1800) {
            bail!("{stack} was not deleted after 30 minutes");
        }
        tokio::time::sleep(progress::POLL).await;
    }
    Ok(())
}

async fn report_drift(c: &Clients, stack: &str) -> Result<()> {
    let id = match c.cfn.detect_stack_drift().stack_name(stack).send().await {
        Ok(out) => out
            .stack_drift_detection_id()
            .unwrap_or_default()
            .to_owned(),
        Err(e) => {
            eprintln!("  drift: not checked ({})", short(&e));
            return Ok(());
        }
    };
    let started = Instant::now();
    loop {
        let out = c
            .cfn
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&id)
            .send()
            .await
            .map_err(|e| anyhow!("drift detection of {stack}: {}", short(&e)))?;
        let status = out
            .detection_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if status != "DETECTION_IN_PROGRESS" {
            let drift = out
                .stack_drift_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            if drift == "DRIFTED" {
                eprintln!(
                    "  drift: {stack} has DRIFTED from its template ({} resources): this deploy overwrites those changes; see `aws cloudformation describe-stack-resource-drifts --stack-name {stack}`",
                    out.drifted_stack_resource_count().unwrap_or_default()
                );
            } else {
                eprintln!("  drift: {stack} is {drift}");
            }
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(300) {
            eprintln!("  drift: detection still running after 5 minutes; not waiting");
            return Ok(());
        }
        tokio::time::sleep(progress::POLL).await;
    }
}

/// `synth deploy`, stack by stack in the manifest's order.
pub async fn deploy(plan: &Plan, opts: &DeployOptions) -> Result<DeployOutcome> {
    if !opts.yes
        && !opts.no_execute
        && opts.execute_change_set.is_none()
        && !std::io::stdin().is_terminal()
    {
        bail!(
            "stdin is not a terminal, so synth cannot ask before executing: pass --yes to execute, or --no-execute to create the change sets only"
        );
    }
    let c = Clients::load(&plan.region).await?;
    c.check_account(plan).await?;
    let steps = plan.steps(opts.stack.as_deref())?;
    if let Some(name) = &opts.execute_change_set {
        let [step] = steps.as_slice() else {
            bail!("--execute-change-set needs --stack: a change set belongs to one stack");
        };
        return execute_existing(&c, plan, step, name, &opts.lambda_dir).await;
    }
    let mut left = Vec::new();
    let mut uploaded = false;
    for step in steps {
        // The code goes up once the stacks before have made the bucket (bootstrap).
        if step.needs_assets && !uploaded && !opts.no_execute && !plan.assets.is_empty() {
            upload_assets(&c, plan, &opts.lambda_dir).await?;
            uploaded = true;
        }
        if opts.replace_failed
            && stack_status(&c.cfn, &step.stack).await? == Some(StackStatus::RollbackComplete)
        {
            delete_failed(&c, &step.stack).await?;
        }
        let made = create_change_set(&c, plan, step, false).await?;
        print!("{}", changes::render(&made.diff));
        let summary = Summary::of(std::slice::from_ref(&made.diff));
        println!("{}", summary.line());
        let _ = std::io::stdout().flush();
        if made.diff.state == StackState::Unchanged {
            discard(&c, &step.stack, &made).await?;
            continue;
        }
        if opts.no_execute {
            println!(
                "change set {} left on {}: run `synth deploy --env {} --stack {} --execute-change-set {}`",
                made.name, step.stack, plan.environment, step.stack, made.name
            );
            left.push(made.name);
            continue;
        }
        if opts.detect_drift && made.diff.state != StackState::New {
            report_drift(&c, &step.stack).await?;
        }
        if !opts.yes
            && !confirm(&format!(
                "execute change set {} on {}?",
                made.name, step.stack
            ))?
        {
            println!(
                "not executed; change set {} is left on {}",
                made.name, step.stack
            );
            return Ok(DeployOutcome::NotExecuted);
        }
        match run_change_set(
            &c,
            plan,
            step,
            &made.stack_id,
            &made.name,
            made.diff.changes.len(),
        )
        .await?
        {
            DeployOutcome::Deployed => {}
            other => return Ok(other),
        }
    }
    Ok(if left.is_empty() {
        DeployOutcome::Deployed
    } else {
        DeployOutcome::NotExecuted
    })
}

async fn run_change_set(
    c: &Clients,
    plan: &Plan,
    step: &StackStep,
    stack_id: &str,
    name: &str,
    total: usize,
) -> Result<DeployOutcome> {
    let before: BTreeSet<String> = match events(&c.cfn, stack_id).await {
        Ok(evs) => evs.into_iter().map(|e| e.id).collect(),
        Err(_) => BTreeSet::new(),
    };
    if let Err(e) = c
        .cfn
        .execute_change_set()
        .stack_name(stack_id)
        .change_set_name(name)
        .send()
        .await
    {
        // Refused at once (an emulator also fails a resource here, synchronously).
        return Ok(DeployOutcome::Failed(format!(
            "executing change set {name} on {}: {}",
            step.stack,
            short(&e)
        )));
    }
    match watch(c, &step.stack, stack_id, total, &before).await {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => return Ok(DeployOutcome::Failed(reason)),
        Err(()) => {
            let status = stack_status(&c.cfn, stack_id)
                .await
                .ok()
                .flatten()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "unknown".into());
            eprintln!(
                "\ninterrupted: {} is {status}. CloudFormation goes on with the operation; nothing was cancelled.\n  watch:  aws cloudformation describe-stacks --stack-name {}\n  cancel: aws cloudformation cancel-update-stack --stack-name {} (an update only; it rolls back)",
                step.stack, step.stack, step.stack
            );
            return Ok(DeployOutcome::Interrupted);
        }
    }
    if plan.prod {
        c.cfn
            .update_termination_protection()
            .stack_name(stack_id)
            .enable_termination_protection(true)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "turning on termination protection of {}: {}",
                    step.stack,
                    short(&e)
                )
            })?;
    }
    Ok(DeployOutcome::Deployed)
}

/// `--execute-change-set NAME`: executes exactly that change set, after checking that it was
/// made from the template synth writes now.
async fn execute_existing(
    c: &Clients,
    plan: &Plan,
    step: &StackStep,
    name: &str,
    lambda_dir: &Path,
) -> Result<DeployOutcome> {
    let out = c
        .cfn
        .describe_change_set()
        .stack_name(&step.stack)
        .change_set_name(name)
        .send()
        .await
        .map_err(|e| anyhow!("change set {name} of {}: {}", step.stack, short(&e)))?;
    let expected = description(plan.template(step));
    if out.description() != Some(expected.as_str()) {
        bail!(
            "change set {name} was made from another template than {} holds now ({:?}, expected {expected:?}): out/ moved since --no-execute; make a new change set",
            step.template,
            out.description().unwrap_or("no description")
        );
    }
    if out.status() != Some(&ChangeSetStatus::CreateComplete) {
        bail!(
            "change set {name} is {}: {}",
            out.status().map(|s| s.as_str()).unwrap_or("unknown"),
            out.status_reason().unwrap_or_default()
        );
    }
    let total = out.changes().len();
    let stack_id = out.stack_id().unwrap_or(&step.stack).to_owned();
    upload_assets(c, plan, lambda_dir).await?;
    run_change_set(c, plan, step, &stack_id, name, total).await
}
