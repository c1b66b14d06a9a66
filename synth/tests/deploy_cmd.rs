//! `synth diff` and `synth deploy` against a real CloudFormation API: a moto server the test
//! starts on loopback, driven by the synth binary itself (aws-sdk-cloudformation, aws-sdk-s3,
//! aws-sdk-sts), the AWS CLI only reading back what exists.
//!
//! The environment is a folder written here (`--from`): two small stacks, the second taking the
//! first's output as a parameter, a Lambda zip in the manifest's assets. Steps, in order, on one
//! server: a diff of nothing (all add, and nothing left behind), the first deploy (assets
//! uploaded, outputs feed parameters), a second deploy with no change (assets skipped),
//! `diff --exit-code` on no change (exit 0) and on a change (exit 3, JSON), an update that
//! modifies one property and replaces one resource (`--no-execute`, then
//! `--execute-change-set`, refused once the template moved), a failing resource (its reason
//! printed, exit 4), and the refusal to ask without a terminal. Then the platform's own dev
//! stacks, as synth wrote them, diff as all-add in the manifest's order (the pipeline template
//! through the assets bucket).
//!
//! What moto does not emulate (so not asserted here): property-level `Details` with
//! before/after values, drift detection, and replacement for most property changes (it reports
//! what it reports; the assertions below say which).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use platform_model::cfn::{Output as CfnOutput, Parameter, Template};
use platform_model::resources::sqs::Queue;
use platform_model::resources::ssm::Parameter as SsmParameter;
use platform_model::resources::ssm::parameter;
use serde_json::{Value, json};
use synth::sha256_hex as sha256;

mod support;

use support::{Moto, REGION, workspace_root};

const BUCKET: &str = "synth-deploy-test";
/// moto's account.
const ACCOUNT: &str = "123456789012";
const DATA: &str = "synth-test-data";
const CONSUMER: &str = "synth-test-consumer";

/// Runs the synth binary with `args` against the server.
fn synth(moto: &Moto, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_synth"));
    cmd.args(args).stdin(Stdio::null());
    moto.env(&mut cmd);
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The test's environment: what it declares, and how it writes it like synth does.
struct Env {
    visibility_timeout: i64,
    archive_name: &'static str,
    /// Makes the archive a FIFO queue without the `.fifo` suffix: SQS (and moto) refuse it.
    broken: bool,
}

impl Env {
    fn data(&self) -> Template {
        let mut t = Template::new(DATA, "synth deploy test: two queues");
        let events = t.add(
            "Events",
            Queue::new()
                .queue_name("synth-test-events")
                .visibility_timeout(self.visibility_timeout),
        );
        let mut archive = Queue::new().queue_name(self.archive_name);
        if self.broken {
            archive = archive.fifo_queue(true);
        }
        t.add("Archive", archive);
        // Tagged queues that take the template over CloudFormation's 51,200-byte inline
        // limit, so the deploy goes through the assets bucket (as the pipeline stack does).
        for i in 0..4 {
            let tags = (0..50)
                .map(|k| {
                    platform_model::resources::sqs::queue::Tag::new(
                        format!("pad-{k}"),
                        "x".repeat(250),
                    )
                })
                .collect::<Vec<_>>();
            t.add(
                &format!("Pad{i}"),
                Queue::new()
                    .queue_name(format!("synth-test-pad-{i}"))
                    .tags(tags),
            );
        }
        t.output("EventsQueueArn", CfnOutput::new(events.arn()));
        t
    }

    fn consumer(&self) -> Template {
        let mut t = Template::new(
            CONSUMER,
            "synth deploy test: a parameter from the data stack's output",
        );
        let arn = t.parameter(
            "EventsQueueArn",
            Parameter::string().description("the data stack's queue"),
        );
        t.add(
            "QueueParameter",
            SsmParameter::new(parameter::Type::String, arn.reference())
                .name("/synth-test/events-queue"),
        );
        t
    }

    /// Writes `<dir>/dev/` as synth would: templates, manifest with hashes, assets, stacks.
    fn write(&self, dir: &Path) {
        let env_dir = dir.join("dev");
        std::fs::create_dir_all(&env_dir).unwrap();
        let mut files = Vec::new();
        for t in [self.data(), self.consumer()] {
            let path = format!("{}.template.json", t.name());
            let body = t.render().unwrap();
            std::fs::write(env_dir.join(&path), &body).unwrap();
            files.push(json!({"path": path, "kind": "cloudformation-template", "items": 1, "bytes": body.len(), "sha256": sha256(body.as_bytes())}));
        }
        let manifest = json!({
            "environment": "dev",
            "generator": "deploy_cmd test",
            "account_id": ACCOUNT,
            "region": REGION,
            "assets_bucket": BUCKET,
            "prod": false,
            "stacks": [
                {"stack": DATA, "template": format!("{DATA}.template.json"), "depends_on": [], "parameters": {}, "needs_assets": true},
                {"stack": CONSUMER, "template": format!("{CONSUMER}.template.json"), "depends_on": [DATA],
                 "parameters": {"EventsQueueArn": {"output": {"stack": DATA, "output": "EventsQueueArn"}}}},
            ],
            "files": files,
            "assets": [{"function": "probe", "architecture": "arm64", "rust_target": "aarch64-unknown-linux-gnu",
                        "zip": "target/lambda/arm64/probe/bootstrap.zip", "s3_key": "lambdas/probe/arm64/0123abcd.zip"}],
        });
        std::fs::write(
            env_dir.join("manifest.json"),
            serde_json::to_string_pretty(&manifest).unwrap(),
        )
        .unwrap();
    }
}

fn stack_status(moto: &Moto, stack: &str) -> Option<String> {
    moto.try_aws(&["cloudformation", "describe-stacks", "--stack-name", stack])
        .ok()
        .and_then(|v| v["Stacks"][0]["StackStatus"].as_str().map(str::to_owned))
}

fn setup() -> (Moto, tempfile::TempDir, tempfile::TempDir) {
    let moto = Moto::start();
    moto.try_aws(&[
        "s3api",
        "create-bucket",
        "--bucket",
        BUCKET,
        "--create-bucket-configuration",
        &format!("LocationConstraint={REGION}"),
    ])
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let lambda = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(lambda.path().join("arm64/probe")).unwrap();
    std::fs::write(
        lambda.path().join("arm64/probe/bootstrap.zip"),
        b"PK\x05\x06zip",
    )
    .unwrap();
    (moto, out, lambda)
}

fn initial() -> Env {
    Env {
        visibility_timeout: 30,
        archive_name: "synth-test-archive",
        broken: false,
    }
}

/// Runs synth `args` plus `--from` and `--lambda-dir` for the test's folders.
fn run(moto: &Moto, out: &Path, lambda: &Path, args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--env", "dev", "--from", out.to_str().unwrap()]);
    if args[0] == "deploy" {
        all.extend(["--lambda-dir", lambda.to_str().unwrap()]);
    }
    synth(moto, &all)
}

#[test]
fn diff_and_deploy_against_cloudformation() {
    let (moto, out, lambda) = setup();
    let run = |args: &[&str]| run(&moto, out.path(), lambda.path(), args);
    let mut env = initial();
    env.write(out.path());

    // 1. A diff of stacks that do not exist: all add (the consumer's parameter, an output of a
    //    stack not deployed yet, is a placeholder), and no review stack is left behind.
    let o = run(&["diff"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains(&format!("Stack {DATA} (new stack)")), "{t}");
    assert!(t.contains("+ Events") && t.contains("+ Archive"), "{t}");
    assert!(t.contains(&format!("Stack {CONSUMER} (new stack)")), "{t}");
    assert!(
        t.contains("7 to add, 0 to change, 0 to replace, 0 to remove"),
        "{t}"
    );
    assert_eq!(
        stack_status(&moto, DATA),
        None,
        "the diff left a stack behind"
    );

    // 2. Without a terminal and without --yes, synth cannot ask: nothing is created.
    let o = run(&["deploy"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("pass --yes"), "{t}");
    assert_eq!(stack_status(&moto, DATA), None);

    // 3. The first deploy: the zip uploaded, the stack created.
    let o = run(&["deploy", "--stack", DATA, "--yes"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("asset probe: uploaded"), "{t}");
    assert!(t.contains(&format!("{DATA} CREATE_COMPLETE")), "{t}");
    assert_eq!(
        stack_status(&moto, DATA).as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert!(
        moto.try_aws(&[
            "s3api",
            "head-object",
            "--bucket",
            BUCKET,
            "--key",
            "lambdas/probe/arm64/0123abcd.zip"
        ])
        .is_ok()
    );
    let body = std::fs::read(out.path().join("dev").join(format!("{DATA}.template.json"))).unwrap();
    assert!(
        body.len() > 51_200,
        "the test template must exceed the inline limit"
    );
    let key = format!("templates/{DATA}/{}.json", sha256(&body));
    assert!(
        moto.try_aws(&["s3api", "head-object", "--bucket", BUCKET, "--key", &key])
            .is_ok(),
        "the template was not uploaded to s3://{BUCKET}/{key}"
    );

    // 4. Again, with no change: nothing to do, the zip not uploaded again; diff --exit-code 0.
    let o = run(&["deploy", "--stack", DATA, "--yes"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("asset probe: unchanged"), "{t}");
    assert!(t.contains(&format!("Stack {DATA} (no changes)")), "{t}");
    let o = run(&["diff", "--stack", DATA, "--exit-code"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("0 to add, 0 to change, 0 to replace, 0 to remove"));

    // 5. An update: one property modified in place, one queue renamed (on AWS: replaced).
    env.visibility_timeout = 60;
    env.archive_name = "synth-test-archive-2";
    env.write(out.path());
    let o = run(&["diff", "--stack", DATA, "--exit-code", "--output", "json"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let changes = report["stacks"][0]["changes"].as_array().unwrap();
    let by_id: BTreeMap<&str, &Value> = changes
        .iter()
        .map(|c| (c["logical_id"].as_str().unwrap(), c))
        .collect();
    assert_eq!(by_id.len(), 2, "{report}");
    assert_eq!(by_id["Events"]["action"], "modify", "{report}");
    assert_eq!(by_id["Archive"]["action"], "modify", "{report}");
    // The replacement column is the change set's `Replacement`. moto 5.2 leaves it (and the
    // property details) out of every change, so both read as in-place changes here; on AWS a
    // QueueName change reads `"replacement": "True"` and counts in `replace`.
    assert!(by_id["Archive"].get("replacement").is_none(), "{report}");
    assert_eq!(report["summary"]["change"], 2, "{report}");
    assert_eq!(report["summary"]["replace"], 0, "{report}");

    // 6. --no-execute leaves the change set; executing it later is refused once out/ moved,
    //    and runs once it matches again.
    let o = run(&["deploy", "--stack", DATA, "--no-execute"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let name = t
        .lines()
        .find_map(|l| l.strip_prefix("change set "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no change set named: {t}"))
        .to_owned();
    env.visibility_timeout = 90;
    env.write(out.path());
    let o = run(&["deploy", "--stack", DATA, "--execute-change-set", &name]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("made from another template"), "{t}");
    env.visibility_timeout = 60;
    env.write(out.path());
    let o = run(&["deploy", "--stack", DATA, "--execute-change-set", &name]);
    assert!(o.status.success(), "{}", text(&o));
    let url = moto
        .try_aws(&["sqs", "get-queue-url", "--queue-name", "synth-test-events"])
        .unwrap();
    let attrs = moto
        .try_aws(&[
            "sqs",
            "get-queue-attributes",
            "--queue-url",
            url["QueueUrl"].as_str().unwrap(),
            "--attribute-names",
            "VisibilityTimeout",
        ])
        .unwrap();
    assert_eq!(attrs["Attributes"]["VisibilityTimeout"], "60");
    // (moto renames nothing: it keeps the queue of the old name, where AWS replaces it.)

    // 7. A resource SQS refuses (a FIFO queue without the .fifo suffix): its reason, exit 4.
    //    (On a new stack: moto updates a queue in place without checking.)
    moto.try_aws(&["cloudformation", "delete-stack", "--stack-name", DATA])
        .unwrap();
    env.broken = true;
    env.write(out.path());
    let o = run(&["deploy", "--stack", DATA, "--yes"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(4), "{t}");
    assert!(t.contains("deploy failed"), "{t}");
    assert!(t.contains("must end in .fifo"), "{t}");
}

#[test]
fn outputs_of_one_stack_feed_the_parameters_of_the_next() {
    // moto fills a stack's Outputs after CreateStack but not after a change set, so the data
    // stack is created here with the AWS CLI; synth deploy then reads its output for the
    // consumer's parameter, as it does on AWS after deploying the data stack itself.
    let (moto, out, lambda) = setup();
    let env = initial();
    env.write(out.path());
    let body =
        std::fs::read_to_string(out.path().join("dev").join(format!("{DATA}.template.json")))
            .unwrap();
    moto.try_aws(&[
        "cloudformation",
        "create-stack",
        "--stack-name",
        DATA,
        "--template-body",
        &body,
    ])
    .unwrap();
    let o = run(
        &moto,
        out.path(),
        lambda.path(),
        &["deploy", "--stack", CONSUMER, "--yes"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let param = moto
        .try_aws(&["ssm", "get-parameter", "--name", "/synth-test/events-queue"])
        .unwrap();
    assert_eq!(
        param["Parameter"]["Value"],
        format!("arn:aws:sqs:{REGION}:{ACCOUNT}:synth-test-events").as_str()
    );
}

/// Runs synth under a pseudo-terminal (Python's `pty`), answers `answer` to its question, and
/// returns what the terminal showed and the exit code.
fn on_terminal(moto: &Moto, args: &[&str], answer: &str) -> (String, i32) {
    const DRIVER: &str = r#"
import os, pty, sys, time
answer, argv = sys.argv[1].encode(), sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
seen, answered = b"", False
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if not answered and b"[y/N]" in seen:
        os.write(fd, answer + b"\n")
        answered = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(DRIVER)
        .arg(answer)
        .arg(env!("CARGO_BIN_EXE_synth"))
        .args(args);
    moto.env(&mut cmd);
    let o = cmd.output().unwrap();
    (
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn on_a_terminal_it_asks_before_executing() {
    let (moto, out, lambda) = setup();
    initial().write(out.path());
    let from = out.path().to_str().unwrap();
    let lambda_dir = lambda.path().to_str().unwrap();
    let args = [
        "deploy",
        "--env",
        "dev",
        "--from",
        from,
        "--lambda-dir",
        lambda_dir,
        "--stack",
        DATA,
    ];
    let (screen, code) = on_terminal(&moto, &args, "n");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("execute change set synth-"), "{screen}");
    assert!(screen.contains("not executed"), "{screen}");
    assert_ne!(
        stack_status(&moto, DATA).as_deref(),
        Some("CREATE_COMPLETE")
    );
    let (screen, code) = on_terminal(&moto, &args, "y");
    assert_eq!(code, 0, "{screen}");
    // On a terminal the progress bar draws: the stack, the count of resources, elapsed time.
    assert!(screen.contains(&format!("{DATA} [")), "{screen}");
    assert!(screen.contains("resources,"), "{screen}");
    // moto makes a second stack for a second CREATE change set of a name in review (AWS adds
    // the change set to the stack in review): look for the created one among them.
    let stacks = moto.try_aws(&["cloudformation", "list-stacks"]).unwrap();
    assert!(
        stacks["StackSummaries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["StackName"] == DATA && s["StackStatus"] == "CREATE_COMPLETE"),
        "{stacks}"
    );
}

#[test]
fn the_platform_s_own_stacks_diff_against_cloudformation() {
    // The generated dev folder as it is, only the manifest's account, region and bucket pointed
    // at the emulator's (the files' hashes are checked, so the templates are synth's own).
    let (moto, out, lambda) = setup();
    let src = workspace_root().join("out/dev");
    let dst = out.path().join("dev");
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(&src).unwrap();
            if path.is_dir() {
                std::fs::create_dir_all(dst.join(rel)).unwrap();
                stack.push(path);
            } else {
                std::fs::create_dir_all(dst.join(rel).parent().unwrap()).unwrap();
                std::fs::copy(&path, dst.join(rel)).unwrap();
            }
        }
    }
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dst.join("manifest.json")).unwrap()).unwrap();
    manifest["account_id"] = json!(ACCOUNT);
    manifest["region"] = json!(REGION);
    std::fs::write(dst.join("manifest.json"), manifest.to_string()).unwrap();
    // A new account: nothing deployed. The pipeline stack reads the bootstrap stack's bucket,
    // so its diff is its template (no change set: CloudFormation would refuse a stand-in).
    let o = run(
        &moto,
        out.path(),
        lambda.path(),
        &["diff", "--output", "json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let stacks = report["stacks"].as_array().unwrap();
    let names: Vec<&str> = stacks
        .iter()
        .map(|s| s["stack"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["sre-bootstrap", "sre-pipeline", "sre-cluster-access"],
        "the manifest's order"
    );
    for s in stacks {
        let name = s["stack"].as_str().unwrap();
        let template: Value = serde_json::from_str(
            &std::fs::read_to_string(dst.join(format!("{name}.template.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(s["state"], "new", "{name}");
        let adds = s["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["action"] == "add")
            .count();
        assert_eq!(
            adds,
            template["Resources"].as_object().unwrap().len(),
            "{name}: every resource of the template is an add"
        );
    }
    let text_out = run(&moto, out.path(), lambda.path(), &["diff"]);
    assert!(
        text(&text_out).contains("sre-bootstrap is not deployed yet; sre-pipeline comes after it"),
        "{}",
        text(&text_out)
    );
    // Once the bootstrap stack is there (created here with the AWS CLI, which moto gives
    // outputs), the pipeline's diff is a change set, and its template, over the inline limit,
    // goes through the bucket that stack made.
    let bucket = manifest["assets_bucket"].as_str().unwrap().to_owned();
    moto.try_aws(&[
        "cloudformation",
        "create-stack",
        "--stack-name",
        "sre-bootstrap",
        "--template-body",
        &format!(
            "file://{}",
            dst.join("sre-bootstrap.template.json").display()
        ),
    ])
    .unwrap();
    let o = run(
        &moto,
        out.path(),
        lambda.path(),
        &["diff", "--stack", "sre-pipeline", "--output", "json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["stacks"][0]["state"], "new", "{report}");
    let listed = moto
        .try_aws(&[
            "s3api",
            "list-objects-v2",
            "--bucket",
            &bucket,
            "--prefix",
            "templates/sre-pipeline/",
        ])
        .unwrap();
    assert_eq!(
        listed["Contents"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(
        stack_status(&moto, "sre-pipeline"),
        None,
        "the diff left a stack behind"
    );
}
