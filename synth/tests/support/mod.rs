//! What the tests that talk to the moto server share: finding the project's tools, starting the
//! server on a free loopback port (stopped when dropped), the AWS CLI against it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use platform_model::platform;
use platform_model::settings::Settings;
use serde_json::Value;

/// The region the tests use.
pub const REGION: &str = "eu-west-1";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A tool from the project's venv (`.ci/test.sh` installs it), else from `PATH`.
pub fn tool(name: &str) -> PathBuf {
    let local = workspace_root().join(".tools/venv/bin").join(name);
    if local.exists() {
        return local;
    }
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()
        .filter(|o| o.status.success());
    match found {
        Some(out) => String::from_utf8_lossy(&out.stdout).trim().into(),
        None => panic!(
            "{name} not found: this test needs moto server and the AWS CLI. Install them with \
             `python3 -m venv .tools/venv && .tools/venv/bin/pip install -r .ci/requirements.txt` \
             (or run .ci/test.sh)"
        ),
    }
}

/// A moto server on a free loopback port, stopped when dropped.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(tool("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Points `cmd` at the server, with dummy credentials and the tests' region.
    pub fn env(&self, cmd: &mut Command) {
        cmd.env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", REGION)
            .env_remove("AWS_PROFILE");
    }

    /// `aws <args>` against the server: the parsed JSON answer (`null` when empty), or the
    /// CLI's error text.
    pub fn try_aws(&self, args: &[&str]) -> Result<Value, String> {
        let mut cmd = Command::new(tool("aws"));
        // awscli 1.x's SQS commands ignore AWS_ENDPOINT_URL: the flag reaches every service.
        cmd.args(args)
            .args(["--output", "json", "--endpoint-url", &self.url]);
        self.env(&mut cmd);
        let out = cmd.output().expect("run the AWS CLI");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("aws {args:?}: {e}: {text}"))
        })
    }

    /// [`Moto::try_aws`], failing the test on an error.
    pub fn aws(&self, args: &[&str]) -> Value {
        self.try_aws(args)
            .unwrap_or_else(|e| panic!("aws {}: {e}", args.join(" ")))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(unused_imports)]
pub use synth::emulator::for_moto;

/// The `--parameters` JSON of `stack`, each value from where the manifest says: the settings,
/// or an output of a stack deployed before (`outputs`, by stack). `bucket` replaces the assets
/// bucket when the test made its own.
pub fn parameters(
    settings: &Settings,
    stack: &str,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
    bucket: Option<&str>,
) -> String {
    let order = platform::Platform::standard(settings.clone())
        .unwrap()
        .deploy_order();
    let step = order.iter().find(|s| s.stack == stack).unwrap();
    let list: Vec<Value> = step
        .parameters
        .iter()
        .map(|(key, source)| {
            let value = match (source, bucket) {
                (_, Some(b)) if key == "AssetsBucket" => b.to_owned(),
                (platform::ParameterSource::Value(v), _) => v.clone(),
                (platform::ParameterSource::Output { stack, output }, _) => outputs
                    .get(stack)
                    .and_then(|o| o.get(output))
                    .unwrap_or_else(|| panic!("{stack} has no output {output} yet"))
                    .clone(),
            };
            serde_json::json!({"ParameterKey": key, "ParameterValue": value})
        })
        .collect();
    serde_json::to_string(&list).unwrap()
}

/// Creates the pipeline stack from `sent` (the template moto gets) with the AWS CLI, as the
/// README's deploy steps do: `bucket` made, a placeholder zip under each function's asset key
/// (moto does not run Lambda code), the template uploaded (it is over CloudFormation's
/// 51,200-byte inline limit), `create-stack` from the bucket. Returns the stack as
/// `describe-stacks` shows it, after checking `CREATE_COMPLETE`.
pub fn create_pipeline_stack(
    moto: &Moto,
    settings: &Settings,
    assets: &platform::Assets,
    sent: &Value,
    bucket: &str,
) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let template_file = dir.path().join("sre-pipeline.template.json");
    std::fs::write(&template_file, serde_json::to_string(sent).unwrap()).unwrap();
    let zip = dir.path().join("bootstrap.zip");
    std::fs::write(&zip, b"placeholder: moto does not run functions").unwrap();
    moto.aws(&[
        "s3api",
        "create-bucket",
        "--bucket",
        bucket,
        "--create-bucket-configuration",
        &format!("LocationConstraint={REGION}"),
    ]);
    let put = |file: &Path, key: &str| {
        moto.aws(&[
            "s3api",
            "put-object",
            "--bucket",
            bucket,
            "--key",
            key,
            "--body",
            file.to_str().unwrap(),
        ]);
    };
    for asset in [&assets.alert_ingest, &assets.runbook_action] {
        put(&zip, &asset.key(settings.pipeline.lambda_architecture));
    }
    put(&template_file, "templates/sre-pipeline.template.json");
    moto.aws(&[
        "cloudformation",
        "create-stack",
        "--stack-name",
        "sre-pipeline",
        "--template-url",
        &format!("https://{bucket}.s3.amazonaws.com/templates/sre-pipeline.template.json"),
        "--capabilities",
        "CAPABILITY_NAMED_IAM",
        "--parameters",
        &parameters(settings, "sre-pipeline", &BTreeMap::new(), Some(bucket)),
    ]);
    let stack = moto.aws(&[
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        "sre-pipeline",
    ])["Stacks"][0]
        .clone();
    assert_eq!(stack["StackStatus"], "CREATE_COMPLETE", "{stack:#}");
    stack
}
