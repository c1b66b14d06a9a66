//! What the tests that talk to the moto server share: finding the project's tools, starting the
//! server on a free loopback port (stopped when dropped), the AWS CLI against it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::collections::{BTreeMap, BTreeSet};

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

/// The copy of `template` sent to moto, and what was changed for it. Each change works around a
/// moto 5.2 defect; on AWS the original is what CloudFormation expects:
/// - `AWS::KMS::Key` `Tags`: moto reads them as KMS API tags (`TagKey`) and fails;
/// - `AWS::SSM::Parameter` `Tags`: CloudFormation's map of strings, moto expects a list;
/// - `Ref` to an `AWS::Events::EventBus` yields moto's bus object, not its name: replaced by the
///   name the bus is created with (the value `Ref` has on AWS);
/// - `AWS::ApiGateway::DomainName` is not implemented, so the `Fn::GetAtt` of the webhook
///   domain's alias record fails validation: the custom domain (domain, base path mapping,
///   record) is removed from the copy. The seam test checks what the domain serves instead.
pub fn for_moto(template: &Value) -> (Value, Vec<String>) {
    let mut t = template.clone();
    let mut changes = Vec::new();
    let domain: Vec<String> = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| {
            matches!(
                r["Type"].as_str(),
                Some(
                    "AWS::ApiGateway::DomainName"
                        | "AWS::ApiGateway::BasePathMapping"
                        | "AWS::Route53::RecordSet"
                )
            )
        })
        .map(|(id, _)| id.clone())
        .collect();
    if !domain.is_empty() {
        for id in &domain {
            t["Resources"].as_object_mut().unwrap().remove(id);
        }
        changes.push(format!("custom domain removed: {}", domain.join(", ")));
    }
    let mut buses = BTreeMap::new();
    for (id, r) in t["Resources"].as_object_mut().unwrap() {
        let kind = r["Type"].as_str().unwrap().to_owned();
        if matches!(kind.as_str(), "AWS::KMS::Key" | "AWS::SSM::Parameter")
            && r["Properties"]
                .as_object_mut()
                .unwrap()
                .remove("Tags")
                .is_some()
        {
            changes.push(format!("{id}: Tags removed"));
        }
        if kind == "AWS::Events::EventBus" {
            buses.insert(id.clone(), r["Properties"]["Name"].clone());
        }
    }
    fn unref(v: &mut Value, buses: &BTreeMap<String, Value>, n: &mut usize) {
        match v {
            Value::Object(map) => {
                if map.len() == 1
                    && let Some(name) = map
                        .get("Ref")
                        .and_then(Value::as_str)
                        .and_then(|r| buses.get(r))
                {
                    *v = name.clone();
                    *n += 1;
                    return;
                }
                map.values_mut().for_each(|x| unref(x, buses, n));
            }
            Value::Array(items) => items.iter_mut().for_each(|x| unref(x, buses, n)),
            _ => {}
        }
    }
    let mut n = 0;
    unref(&mut t, &buses, &mut n);
    if n > 0 {
        changes.push(format!("{n} Ref(s) to the event bus replaced by its name"));
    }
    // moto models no EKS resource, and refuses a template whose output reads an attribute of
    // one (`Fn::GetAtt` of an unknown type fails validation): those outputs are removed.
    let eks: BTreeSet<String> = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| {
            r["Type"]
                .as_str()
                .is_some_and(|k| k.starts_with("AWS::EKS::"))
        })
        .map(|(id, _)| id.clone())
        .collect();
    if let Some(outputs) = t.get_mut("Outputs").and_then(Value::as_object_mut) {
        let gone: Vec<String> = outputs
            .iter()
            .filter(|(_, o)| {
                o["Value"]["Fn::GetAtt"][0]
                    .as_str()
                    .is_some_and(|id| eks.contains(id))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            outputs.remove(k);
        }
        if !gone.is_empty() {
            changes.push(format!(
                "outputs reading EKS attributes removed: {}",
                gone.join(", ")
            ));
        }
    }
    (t, changes)
}

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
