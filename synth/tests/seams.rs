//! The seam check: the joints between the generated parts, read from the files a deploy uses
//! (`out/<env>/`), against the binaries' declared runtime configuration
//! (`platform_model::contract::runtime`). Each part passing its own validator is not enough;
//! these properties say the parts fit:
//!
//! | joint | test |
//! |---|---|
//! | Lambda architecture = what the build makes | `lambda_architecture_is_what_the_build_makes` |
//! | access entry principal = runbook_action's role | `the_access_entry_maps_runbook_action_s_own_role` |
//! | senders pass every auth layer of the API | `senders_reach_the_api_with_what_it_requires` (and the lambdas' `seams` test, through the real handler) |
//! | environments = what the binaries read | `every_environment_is_what_its_binary_reads` |
//! | degraded mode reaches the running service | `degraded_mode_reaches_the_service` |
//! | timeouts nest | `timeouts_nest_along_the_loop` |
//! | the seeds' demo fires in dev | `the_seeds_demo_fires_in_dev` |
//! | every named role or identity is made | `every_workload_identity_is_made` |
//! | every alert links to its runbook page | `every_alert_links_to_its_runbook_page` |
//! | every cross-stack value has one owner (parameters fed from outputs or settings) | `every_cross_stack_value_comes_from_its_owner` |
//!
//! `SEAMS_OUT_DIR` points the test at another output tree (for example an older commit's
//! `out/`, to show which defects it had).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use platform_model::contract::checkout as demo;
use platform_model::contract::runtime::{Binary, Setter};
use serde_json::Value;

const ENVS: [&str; 3] = ["dev", "staging", "prod"];

fn out_dir() -> PathBuf {
    std::env::var_os("SEAMS_OUT_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../out"),
        PathBuf::from,
    )
}

/// One environment's generated files, parsed.
struct Env {
    name: &'static str,
    dir: PathBuf,
    pipeline: Value,
    access: Value,
    manifest: Value,
}

impl Env {
    fn load(name: &'static str) -> Env {
        let dir = out_dir().join(name);
        Env {
            name,
            pipeline: json(&dir.join("sre-pipeline.template.json")),
            access: json(&dir.join("sre-cluster-access.template.json")),
            manifest: json(&dir.join("manifest.json")),
            dir,
        }
    }

    fn all() -> Vec<Env> {
        ENVS.into_iter().map(Env::load).collect()
    }

    fn text(&self, path: &str) -> String {
        let p = self.dir.join(path);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn yaml_docs(&self, path: &str) -> Vec<Value> {
        let text = self.text(path);
        serde_norway::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .filter(|v: &Value| !v.is_null())
            .collect()
    }

    fn yaml(&self, path: &str) -> Value {
        serde_norway::from_str(&self.text(path)).unwrap()
    }

    /// Every resource of either template, by logical id (ids are unique across both here).
    fn resources(&self) -> BTreeMap<String, Value> {
        let mut all = BTreeMap::new();
        for t in [&self.pipeline, &self.access] {
            for (id, r) in t["Resources"].as_object().unwrap() {
                all.insert(id.clone(), r.clone());
            }
        }
        all
    }

    fn of_type(&self, kind: &str) -> Vec<(String, Value)> {
        self.resources()
            .into_iter()
            .filter(|(_, r)| r["Type"] == kind)
            .collect()
    }

    /// The function built from the asset of `binary` (by its `Code.S3Key`).
    fn function(&self, binary: Binary) -> (String, Value) {
        let key = self.asset(binary)["s3_key"].as_str().unwrap().to_owned();
        self.of_type("AWS::Lambda::Function")
            .into_iter()
            .find(|(_, f)| f["Properties"]["Code"]["S3Key"] == key.as_str())
            .unwrap_or_else(|| panic!("{}: no function runs {key}", self.name))
    }

    fn asset(&self, binary: Binary) -> Value {
        self.manifest["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["function"] == binary.name())
            .unwrap_or_else(|| panic!("{}: no asset for {binary}", self.name))
            .clone()
    }

    fn lambda_env(&self, binary: Binary) -> BTreeMap<String, Value> {
        let (_, f) = self.function(binary);
        f["Properties"]["Environment"]["Variables"]
            .as_object()
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default()
    }

    /// The template of `stack`.
    fn template(&self, stack: &str) -> Value {
        json(&self.dir.join(format!("{stack}.template.json")))
    }

    /// The manifest's step of `stack`.
    fn step(&self, stack: &str) -> Value {
        self.manifest["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stack"] == stack)
            .unwrap_or_else(|| panic!("{}: no step {stack} in manifest.json", self.name))
            .clone()
    }

    /// What `v`, a value in the template of `stack`, is once deployed: a parameter is followed
    /// through the manifest to its source (a value from the settings, or the owning stack's
    /// output, followed in turn); a resource's `Ref` is its physical name when the template
    /// sets one, else `<stack>/<logical id>`; `Fn::GetAtt` is `<stack>/<id>.<attribute>`;
    /// `Fn::Join` joins what its parts are. Anything else stays as it is.
    fn deployed(&self, stack: &str, v: &Value) -> Value {
        let t = self.template(stack);
        if let Some(id) = v.get("Ref").and_then(Value::as_str) {
            if t["Parameters"].get(id).is_some() {
                let source = &self.step(stack)["parameters"][id];
                if let Some(value) = source.get("value") {
                    return value.clone();
                }
                let owner = source["output"]["stack"].as_str().unwrap_or_else(|| {
                    panic!("{}: {stack}'s parameter {id} has no source", self.name)
                });
                let output = source["output"]["output"].as_str().unwrap();
                let out = &self.template(owner)["Outputs"][output]["Value"];
                assert!(
                    !out.is_null(),
                    "{}: {stack}'s parameter {id} reads output {output} of {owner}, which has none",
                    self.name
                );
                return self.deployed(owner, out);
            }
            let r = &t["Resources"][id];
            assert!(
                !r.is_null(),
                "{}: {stack} refers to {id}, which it lacks",
                self.name
            );
            for key in ["Name", "BucketName", "RepositoryName", "RoleName"] {
                if let Some(name) = r["Properties"][key].as_str() {
                    return Value::String(name.to_owned());
                }
            }
            return Value::String(format!("{stack}/{id}"));
        }
        if let Some([id, attr]) = v
            .get("Fn::GetAtt")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            return Value::String(format!(
                "{stack}/{}.{}",
                id.as_str().unwrap(),
                attr.as_str().unwrap()
            ));
        }
        if let Some([sep, parts]) = v
            .get("Fn::Join")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            let parts: Vec<String> = parts
                .as_array()
                .unwrap()
                .iter()
                .map(|p| match self.deployed(stack, p) {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect();
            return Value::String(parts.join(sep.as_str().unwrap()));
        }
        v.clone()
    }

    /// The checkout Deployment and its container.
    fn checkout(&self) -> (Value, Value) {
        let d = self
            .yaml_docs("k8s/checkout.yaml")
            .into_iter()
            .find(|d| d["kind"] == "Deployment")
            .unwrap();
        let c = d["spec"]["template"]["spec"]["containers"][0].clone();
        (d, c)
    }
}

fn json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The logical id a `Fn::GetAtt [X, Arn]` or `Ref X` points at.
fn target_of(v: &Value) -> Option<String> {
    v["Fn::GetAtt"][0]
        .as_str()
        .or_else(|| v["Ref"].as_str())
        .map(str::to_owned)
}

fn literal(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

#[test]
fn lambda_architecture_is_what_the_build_makes() {
    for env in Env::all() {
        for binary in [Binary::AlertIngest, Binary::RunbookAction, Binary::Approval] {
            let asset = env.asset(binary);
            let (id, f) = env.function(binary);
            let declared = f["Properties"]["Architectures"][0]
                .as_str()
                .unwrap_or("x86_64");
            let built = asset["architecture"].as_str().unwrap_or_else(|| {
                panic!(
                    "{}: the manifest's asset of {binary} names no architecture, so lambdas/build.sh cannot build what {id} declares ({declared})",
                    env.name
                )
            });
            assert_eq!(built, declared, "{}: {id}", env.name);
            let target = asset["rust_target"].as_str().unwrap_or_default();
            let expected_prefix = if declared == "arm64" {
                "aarch64-"
            } else {
                "x86_64-"
            };
            assert!(
                target.starts_with(expected_prefix),
                "{}: {id} declares {declared} but the build targets {target}",
                env.name
            );
            // One zip per architecture: the key names it, so two architectures never share one.
            let key = asset["s3_key"].as_str().unwrap();
            assert!(
                key.contains(&format!("/{declared}/")),
                "{}: {key} does not name {declared}",
                env.name
            );
        }
    }
}

#[test]
fn the_access_entry_maps_runbook_action_s_own_role() {
    for env in Env::all() {
        let (_, entry) = env
            .of_type("AWS::EKS::AccessEntry")
            .into_iter()
            .next()
            .expect("an access entry");
        // The principal is the pipeline stack's RunbookActionRoleArn output, fed through the
        // manifest: the role of the function that runs runbook_action.
        let mapped = env.deployed("sre-cluster-access", &entry["Properties"]["PrincipalArn"]);
        let (fid, f) = env.function(Binary::RunbookAction);
        let role_id = target_of(&f["Properties"]["Role"]).unwrap();
        assert_eq!(
            mapped,
            Value::String(format!("sre-pipeline/{role_id}.Arn")),
            "{}: the access entry maps the role of {fid}",
            env.name
        );

        // The group it maps to is the one the RBAC bindings bind.
        let groups: BTreeSet<String> = entry["Properties"]["KubernetesGroups"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|g| g.as_str().map(str::to_owned))
            .collect();
        let bound: BTreeSet<String> = env
            .yaml_docs("k8s/rbac.yaml")
            .iter()
            .filter(|d| d["kind"] == "RoleBinding" || d["kind"] == "ClusterRoleBinding")
            .flat_map(|d| d["subjects"].as_array().cloned().unwrap_or_default())
            .filter(|s| s["kind"] == "Group")
            .filter_map(|s| s["name"].as_str().map(str::to_owned))
            .collect();
        assert!(!bound.is_empty(), "{}: no group bound", env.name);
        assert_eq!(groups, bound, "{}: access entry groups vs RBAC", env.name);

        // And the cluster it is made in is the one runbook_action talks to.
        let cluster = env.lambda_env(Binary::RunbookAction)["EKS_CLUSTER_NAME"].clone();
        assert_eq!(entry["Properties"]["ClusterName"], cluster, "{}", env.name);
    }
}

/// The path of each `AWS::ApiGateway::Method` (`/webhook/alertmanager`), with the method.
fn api_routes(env: &Env) -> BTreeMap<String, Value> {
    let resources = env.resources();
    let path_of = |mut id: String| {
        let mut parts = Vec::new();
        while let Some(r) = resources.get(&id) {
            if r["Type"] != "AWS::ApiGateway::Resource" {
                break;
            }
            parts.push(r["Properties"]["PathPart"].as_str().unwrap().to_owned());
            match target_of(&r["Properties"]["ParentId"]) {
                Some(parent) => id = parent,
                None => break,
            }
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    };
    env.of_type("AWS::ApiGateway::Method")
        .into_iter()
        .map(|(_, m)| {
            let parent = target_of(&m["Properties"]["ResourceId"]).unwrap();
            (path_of(parent), m)
        })
        .collect()
}

/// What API Gateway requires of a request to `route`, checked against the headers a sender
/// sends: the API key (`x-api-key`) when the method requires one, and no authorizer a webhook
/// sender could not satisfy.
fn api_admits(env: &Env, route: &Value, headers: &BTreeSet<String>, sender: &str) {
    let p = &route["Properties"];
    assert_eq!(
        p["AuthorizationType"], "NONE",
        "{}: {sender} cannot sign requests or present a Cognito token",
        env.name
    );
    if p["ApiKeyRequired"] == true {
        assert!(
            headers.contains("x-api-key"),
            "{}: the API requires an API key but {sender} sends only {headers:?}: every alert would get 403",
            env.name
        );
    }
}

/// The API route a sender's URL reaches: its host must be a domain the stack serves, its path
/// a route of the API.
fn served_route<'a>(
    env: &Env,
    hosts: &BTreeSet<String>,
    routes: &'a BTreeMap<String, Value>,
    url: &str,
    sender: &str,
) -> &'a Value {
    let (host, path) = url
        .strip_prefix("https://")
        .and_then(|r| r.split_once('/'))
        .unwrap_or_else(|| panic!("{}: {sender} posts to {url}, not an https URL", env.name));
    assert!(
        hosts.contains(host),
        "{}: {sender} posts to {host}, which the pipeline stack does not serve (its domains: {hosts:?})",
        env.name
    );
    routes
        .get(&format!("/{path}"))
        .unwrap_or_else(|| panic!("{}: no API route /{path}", env.name))
}

#[test]
fn senders_reach_the_api_with_what_it_requires() {
    for env in Env::all() {
        let routes = api_routes(&env);
        let domains = env.of_type("AWS::ApiGateway::DomainName");
        let hosts: BTreeSet<String> = domains
            .iter()
            .filter_map(|(_, d)| literal(&d["Properties"]["DomainName"]))
            .collect();
        // The custom domain serves the stage at its root.
        for (id, m) in env.of_type("AWS::ApiGateway::BasePathMapping") {
            let base = m["Properties"]["BasePath"].as_str().unwrap_or("");
            assert!(base.is_empty() || base == "(none)", "{}: {id}", env.name);
        }

        // Alertmanager: the generated receiver, its token file and the Secret behind it.
        let am = env.yaml("monitoring/alertmanager.yaml");
        let hook = &am["receivers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["webhook_configs"].is_array())
            .expect("a webhook receiver")["webhook_configs"][0];
        let route = served_route(
            &env,
            &hosts,
            &routes,
            hook["url"].as_str().unwrap(),
            "Alertmanager",
        );
        let auth = &hook["http_config"]["authorization"];
        assert_eq!(auth["type"], "Bearer", "{}", env.name);
        let file = auth["credentials_file"].as_str().unwrap();
        let mut headers: BTreeSet<String> = ["authorization", "content-type", "user-agent"]
            .map(String::from)
            .into();
        for (k, _) in hook["http_config"]["http_headers"]
            .as_object()
            .into_iter()
            .flatten()
        {
            headers.insert(k.to_ascii_lowercase());
        }
        api_admits(&env, route, &headers, "Alertmanager");

        // The token file is the mounted Secret the sync script writes.
        let values = env.yaml("helm/kube-prometheus-stack.values.yaml");
        let secrets: Vec<&str> = values["alertmanager"]["alertmanagerSpec"]["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let rest = file.strip_prefix("/etc/alertmanager/secrets/").unwrap();
        let (secret, key) = rest.split_once('/').unwrap();
        assert!(
            secrets.contains(&secret),
            "{}: {secret} not mounted",
            env.name
        );
        let script = env.text("scripts/sync-webhook-token.sh");
        assert!(
            script.contains(&format!("create secret generic {secret}"))
                && script.contains(&format!("--from-literal={key}=")),
            "{}: the sync script does not write {secret}/{key}",
            env.name
        );

        // The token: generated by the pipeline stack, read by alert_ingest, synced by the
        // script.
        let ingest_env = env.lambda_env(Binary::AlertIngest);
        let secret_ref = ingest_env
            .get("WEBHOOK_TOKEN_SECRET_ARN")
            .unwrap_or_else(|| {
                panic!("{}: alert_ingest is not given the token's secret", env.name)
            });
        let secret_id = target_of(secret_ref)
            .unwrap_or_else(|| panic!("{}: the token secret is not made by the stack", env.name));
        let made = &env.resources()[&secret_id];
        assert_eq!(made["Type"], "AWS::SecretsManager::Secret", "{}", env.name);
        assert!(made["Properties"]["GenerateSecretString"].is_object());
        let name = made["Properties"]["Name"].as_str().unwrap();
        assert!(
            script.contains(&format!("--secret-id {name} ")),
            "{}: the sync script reads another secret than {name}",
            env.name
        );

        // Datadog: the generated webhook definition.
        let dd: Value = serde_json::from_str(&env.text("datadog/webhook.json")).unwrap();
        let route = served_route(
            &env,
            &hosts,
            &routes,
            dd["url"].as_str().unwrap(),
            "Datadog",
        );
        let custom: Value = serde_json::from_str(dd["custom_headers"].as_str().unwrap()).unwrap();
        assert!(
            custom["Authorization"]
                .as_str()
                .unwrap()
                .starts_with("Bearer "),
            "{}",
            env.name
        );
        let mut headers: BTreeSet<String> = custom
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.to_ascii_lowercase())
            .collect();
        headers.insert("content-type".into());
        api_admits(&env, route, &headers, "Datadog");
    }
}

/// Checks an environment's variables against what `binary` declares.
fn check_env(env: &str, binary: Binary, names: &BTreeSet<String>) {
    for name in names {
        let var = binary
            .var(name)
            .unwrap_or_else(|| panic!("{env}: {binary} is given {name}, which it does not read"));
        assert!(
            matches!(var.setter, Setter::Deploy { .. }),
            "{env}: {binary} is given {name}, which a deployment must not set ({:?}: {})",
            var.setter,
            var.doc
        );
    }
    for var in binary.vars() {
        if var.setter == (Setter::Deploy { required: true }) {
            assert!(
                names.contains(var.name),
                "{env}: {binary} needs {} ({}) and is not given it",
                var.name,
                var.doc
            );
        }
    }
}

#[test]
fn every_environment_is_what_its_binary_reads() {
    for env in Env::all() {
        for binary in [Binary::AlertIngest, Binary::RunbookAction, Binary::Approval] {
            let names = env.lambda_env(binary).into_keys().collect();
            check_env(env.name, binary, &names);
        }
        let (_, c) = env.checkout();
        let names = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect();
        check_env(env.name, Binary::Checkout, &names);
    }
}

#[test]
fn degraded_mode_reaches_the_service() {
    for env in Env::all() {
        let (d, c) = env.checkout();
        let get = |n: &str| {
            c["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == n)
                .and_then(|e| e["value"].as_str().map(str::to_owned))
        };
        assert_eq!(
            get("DEGRADED_MODE"),
            None,
            "{}: DEGRADED_MODE wins over SSM: the runbook's flag would change nothing",
            env.name
        );
        let read = get("DEGRADED_MODE_SSM_PARAMETER").unwrap_or_else(|| {
            panic!(
                "{}: checkout is not told which SSM parameter holds degraded mode",
                env.name
            )
        });
        // The runbook passes the same parameter when it runs enable_degraded_mode on this
        // Deployment (the request's degraded_mode_parameter), runbook_action's role may write
        // it, and the pipeline stack makes it.
        let (ns, name) = (
            d["metadata"]["namespace"].as_str().unwrap(),
            d["metadata"]["name"].as_str().unwrap(),
        );
        let states = env.of_type("AWS::StepFunctions::StateMachine")[0].1["Properties"]
            ["Definition"]["States"]
            .clone();
        let chooser = &states["ChooseEnableDegradedModeTarget"];
        let prepare = chooser["Choices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                let conds = c["And"].as_array().cloned().unwrap_or_default();
                conds.iter().any(|x| {
                    x["Variable"] == "$.detail.runbook.target.namespace" && x["StringEquals"] == ns
                }) && conds.iter().any(|x| {
                    x["Variable"] == "$.detail.runbook.target.name" && x["StringEquals"] == name
                })
            })
            .and_then(|c| c["Next"].as_str())
            .unwrap_or_else(|| {
                panic!(
                    "{}: the runbook has no degraded-mode branch for {ns}/{name}",
                    env.name
                )
            });
        let written = states[prepare]["Parameters"]["degraded_mode_parameter"].as_str();
        assert_eq!(Some(read.as_str()), written, "{}", env.name);
        let (action_id, _) = env.function(Binary::RunbookAction);
        let action_role = env.resources()[&action_id]["Properties"]["Role"].clone();
        let role_id = target_of(&action_role).unwrap();
        let role = &env.resources()[&role_id];
        let may_write = role["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| {
                p["PolicyDocument"]["Statement"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .any(|st| {
                actions(&st).contains(&"ssm:PutParameter".to_owned())
                    && serde_json::to_string(&st["Resource"])
                        .unwrap()
                        .contains(&format!(":parameter{read}"))
            });
        assert!(
            may_write,
            "{}: runbook_action's role cannot write {read}",
            env.name
        );
        assert!(
            env.of_type("AWS::SSM::Parameter")
                .iter()
                .any(|(_, p)| p["Properties"]["Name"] == read.as_str()),
            "{}: no stack makes {read}",
            env.name
        );
        // The pods' identity may read it.
        let ns = d["metadata"]["namespace"].as_str().unwrap();
        let sa = d["spec"]["template"]["spec"]["serviceAccountName"]
            .as_str()
            .unwrap();
        let policy = identity_policy(&env, ns, sa);
        let arn_suffix = format!(":parameter{read}");
        assert!(
            policy.iter().any(|s| {
                actions(s).contains(&"ssm:GetParameter".to_owned())
                    && s["Resource"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .chain(std::iter::once(&s["Resource"]))
                        .any(|r| {
                            r["Fn::Sub"]
                                .as_str()
                                .or(r.as_str())
                                .is_some_and(|a| a.ends_with(&arn_suffix))
                        })
            }),
            "{}: {ns}/{sa}'s role cannot read {read}",
            env.name
        );
        // A running pod follows the flag.
        assert!(
            get("DEGRADED_MODE_REFRESH_SECONDS")
                .and_then(|s| s.parse::<u64>().ok())
                .is_some_and(|s| s > 0),
            "{}: no refresh interval",
            env.name
        );
        // ... and may reach the Pod Identity agent for credentials.
        let policy_doc = env
            .yaml_docs("k8s/checkout.yaml")
            .into_iter()
            .find(|d| d["kind"] == "NetworkPolicy");
        if let Some(np) = policy_doc {
            let egress = np["spec"]["egress"].as_array().cloned().unwrap_or_default();
            assert!(
                egress.iter().any(|r| {
                    r["to"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|p| p["ipBlock"]["cidr"] == "169.254.170.23/32")
                        && r["ports"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|p| p["port"] == 80)
                }),
                "{}: the NetworkPolicy blocks the Pod Identity agent",
                env.name
            );
        }
    }
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The statements of the role the pods of `namespace/service_account` get: through an EKS Pod
/// Identity association, or the IRSA annotation of the ServiceAccount.
fn identity_policy(env: &Env, namespace: &str, service_account: &str) -> Vec<Value> {
    let resources = env.resources();
    let role_id = env
        .of_type("AWS::EKS::PodIdentityAssociation")
        .into_iter()
        .find(|(_, a)| {
            a["Properties"]["Namespace"] == namespace
                && a["Properties"]["ServiceAccount"] == service_account
        })
        .and_then(|(_, a)| target_of(&a["Properties"]["RoleArn"]))
        .or_else(|| {
            // IRSA: the ServiceAccount names a role; it must be one a stack makes.
            let sa = env.yaml_docs("k8s/checkout.yaml").into_iter().find(|d| {
                d["kind"] == "ServiceAccount" && d["metadata"]["name"] == service_account
            })?;
            let arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].as_str()?;
            let name = arn.split(":role/").nth(1)?;
            resources
                .iter()
                .find(|(_, r)| r["Properties"]["RoleName"] == name)
                .map(|(id, _)| id.clone())
        })
        .unwrap_or_else(|| {
            panic!(
                "{}: no stack makes a role for {namespace}/{service_account}",
                env.name
            )
        });
    let role = &resources[&role_id];
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    let service = &trust["Principal"]["Service"];
    assert!(
        service == "pods.eks.amazonaws.com"
            || service[0] == "pods.eks.amazonaws.com"
            || trust["Principal"]["Federated"].is_object(),
        "{}: {role_id} is not assumable by the pods (trust: {trust})",
        env.name
    );
    role["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn every_workload_identity_is_made() {
    for env in Env::all() {
        // Every ServiceAccount of the chart values and of the workloads that call AWS.
        let mut accounts = vec![];
        for (release, chart_ns) in [
            ("aws-load-balancer-controller", "kube-system"),
            ("external-dns", "kube-system"),
            ("cert-manager", "cert-manager"),
        ] {
            let v = env.yaml(&format!("helm/{release}.values.yaml"));
            let sa = &v["serviceAccount"];
            assert!(
                sa["annotations"]["eks.amazonaws.com/role-arn"].is_null(),
                "{}: {release} names an IRSA role no stack makes",
                env.name
            );
            accounts.push((chart_ns.to_owned(), sa["name"].as_str().unwrap().to_owned()));
        }
        let (d, _) = env.checkout();
        accounts.push((
            d["metadata"]["namespace"].as_str().unwrap().to_owned(),
            d["spec"]["template"]["spec"]["serviceAccountName"]
                .as_str()
                .unwrap()
                .to_owned(),
        ));
        for (ns, sa) in accounts {
            assert!(
                !identity_policy(&env, &ns, &sa).is_empty(),
                "{}: {ns}/{sa} has a role without permissions",
                env.name
            );
        }
        // Associations are made in the cluster runbook_action and the charts use.
        let cluster = env.deployed(
            "sre-pipeline",
            &env.lambda_env(Binary::RunbookAction)["EKS_CLUSTER_NAME"],
        );
        assert!(cluster.is_string(), "{}: {cluster}", env.name);
        for (id, a) in env.of_type("AWS::EKS::PodIdentityAssociation") {
            assert_eq!(
                env.deployed("sre-cluster-access", &a["Properties"]["ClusterName"]),
                cluster,
                "{}: {id}",
                env.name
            );
        }
        let alb = env.yaml("helm/aws-load-balancer-controller.values.yaml");
        assert_eq!(alb["clusterName"], cluster, "{}", env.name);
    }
}

/// Seconds of a one-unit Prometheus duration.
fn prom_seconds(d: &str) -> i64 {
    platform_model::platform::prom_seconds(d).unwrap_or_else(|| panic!("bad duration {d}"))
}

#[test]
fn timeouts_nest_along_the_loop() {
    for env in Env::all() {
        let (action_id, action) = env.function(Binary::RunbookAction);
        let action_timeout = action["Properties"]["Timeout"].as_i64().unwrap_or(3);
        let drain_var = Binary::RunbookAction.var("DRAIN_TIMEOUT_SECONDS").unwrap();
        let drain: i64 = literal(
            env.lambda_env(Binary::RunbookAction)
                .get("DRAIN_TIMEOUT_SECONDS")
                .unwrap_or(&Value::Null),
        )
        .or(drain_var.default.map(str::to_owned))
        .unwrap_or_else(|| {
            panic!(
                "{}: DRAIN_TIMEOUT_SECONDS is not set: runbook_action falls back to its own default, which nothing checks against its {action_timeout} s timeout",
                env.name
            )
        })
        .parse()
        .unwrap();
        assert!(
            drain < action_timeout,
            "{}: drain_node evicts for {drain} s inside a function of {action_timeout} s",
            env.name
        );
        // The runbook's task that invokes the function waits longer than the function.
        let machine = &env.of_type("AWS::StepFunctions::StateMachine")[0].1["Properties"];
        let subs = &machine["DefinitionSubstitutions"];
        let invoking: Vec<&Value> = machine["Definition"]["States"]
            .as_object()
            .unwrap()
            .values()
            .filter(|s| {
                s["Parameters"]["FunctionName"]
                    .as_str()
                    .and_then(|n| n.strip_prefix("${")?.strip_suffix('}'))
                    .and_then(|v| target_of(&subs[v]))
                    .is_some_and(|t| t == action_id)
            })
            .collect();
        assert!(
            !invoking.is_empty(),
            "{}: no task invokes {action_id}",
            env.name
        );
        for s in invoking {
            let task = s["TimeoutSeconds"].as_i64().unwrap_or(i64::MAX);
            assert!(
                task > action_timeout && task != i64::MAX,
                "{}: the runbook's task waits {} for a function of {action_timeout} s",
                env.name,
                s["TimeoutSeconds"]
            );
        }

        // alert_ingest < API Gateway's integration timeout (<= 29 s) < Alertmanager's.
        let (_, ingest) = env.function(Binary::AlertIngest);
        let ingest_timeout = ingest["Properties"]["Timeout"].as_i64().unwrap_or(3);
        let am = env.yaml("monitoring/alertmanager.yaml");
        let notify = prom_seconds(am["route"]["group_interval"].as_str().unwrap());
        for (path, m) in api_routes(&env) {
            let integration = m["Properties"]["Integration"]["TimeoutInMillis"]
                .as_i64()
                .unwrap_or(29_000)
                / 1000;
            assert!(integration <= 29, "{}: {path}", env.name);
            assert!(
                ingest_timeout < integration,
                "{}: alert_ingest may run {ingest_timeout} s behind a {integration} s integration on {path}",
                env.name
            );
            assert!(
                notify > integration,
                "{}: Alertmanager gives up after {notify} s, before the API's {integration} s",
                env.name
            );
        }
    }
}

/// The number a rule's expression compares with (`... > 0.3`).
fn threshold(expr: &str) -> f64 {
    expr.rsplit_once('>')
        .and_then(|(_, t)| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no threshold in {expr}"))
}

#[test]
fn the_seeds_demo_fires_in_dev() {
    let env = Env::load("dev");
    let rules = env.yaml("monitoring/rules/checkout.rules.yaml");
    let rule = |name: &str| {
        rules["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .find(|r| r["alert"] == name)
            .unwrap_or_else(|| panic!("no rule {name}"))
    };
    let latency = rule("CheckoutHighLatency");
    let expr = latency["expr"].as_str().unwrap();
    let p99 = demo::estimated_quantile(0.99, demo::DEMO_LATENCY_MS);
    assert!(
        p99 > threshold(expr),
        "dev: LATENCY_MS={} gives a p99 of {p99:.3} s, below the rule's threshold {}: the seeds' demo fires nothing",
        demo::DEMO_LATENCY_MS,
        threshold(expr)
    );
    let errors = rule("CheckoutHighErrorRate");
    assert!(
        demo::DEMO_ERROR_RATE > threshold(errors["expr"].as_str().unwrap()),
        "dev: ERROR_RATE={} stays below the error threshold",
        demo::DEMO_ERROR_RATE
    );
    // promtool proves both: the dev tests hold a firing case of each demo (run by cluster.rs).
    let tests = env.text("monitoring/tests/checkout.test.yaml");
    for knob in [
        format!("LATENCY_MS={}", demo::DEMO_LATENCY_MS),
        format!("ERROR_RATE={}", demo::DEMO_ERROR_RATE),
    ] {
        assert!(tests.contains(&knob), "dev: no promtool case for {knob}");
    }
}

/// The binaries read their environment in one place each, through the contract's declarations
/// (`Var::read` and its typed readers): no `std::env::var` elsewhere can read a variable synth
/// does not know.
#[test]
fn binaries_read_their_environment_only_through_the_contract() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let allowed = ["lambdas/src/env.rs", "checkout/src/config.rs"];
    let mut stack = vec![root.join("lambdas/src"), root.join("checkout/src")];
    let mut readers = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                for (i, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    if code.contains("env::var") || code.contains("var_os(") {
                        readers.push((rel.clone(), i + 1));
                    }
                }
            }
        }
    }
    for (file, line) in &readers {
        assert!(
            allowed.contains(&file.as_str()),
            "{file}:{line} reads the environment outside the runtime contract"
        );
    }
    assert_eq!(readers.len(), allowed.len(), "{readers:?}");
    // And each allowed reader only hands the raw lookup to the contract's `Var`s.
    for file in allowed {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(text.contains("contract::runtime"), "{file}");
    }
}

#[test]
fn the_runbook_acts_only_where_rbac_lets_it() {
    // Three readers of the services' allowed actions: runbook_action's ALLOWED_NAMESPACES, the
    // Roles of k8s/rbac.yaml, and the targets the runbook's branches choose.
    for env in Env::all() {
        let allowed: BTreeSet<String> =
            literal(&env.lambda_env(Binary::RunbookAction)["ALLOWED_NAMESPACES"])
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        let roles: BTreeSet<String> = env
            .yaml_docs("k8s/rbac.yaml")
            .iter()
            .filter(|d| d["kind"] == "Role")
            .filter_map(|d| d["metadata"]["namespace"].as_str().map(str::to_owned))
            .collect();
        assert!(!allowed.is_empty(), "{}: no namespace allowed", env.name);
        assert_eq!(
            allowed, roles,
            "{}: ALLOWED_NAMESPACES vs the Roles",
            env.name
        );
        let states = env.of_type("AWS::StepFunctions::StateMachine")[0].1["Properties"]
            ["Definition"]["States"]
            .clone();
        let mut targets = 0;
        for (name, state) in states.as_object().unwrap() {
            if !(name.starts_with("Choose") && name.ends_with("Target")) {
                continue;
            }
            for choice in state["Choices"].as_array().unwrap() {
                for cond in choice["And"].as_array().unwrap() {
                    if cond["Variable"] == "$.detail.runbook.target.namespace" {
                        let ns = cond["StringEquals"].as_str().unwrap();
                        assert!(
                            allowed.contains(ns),
                            "{}: {name} acts in {ns}, which runbook_action refuses",
                            env.name
                        );
                        targets += 1;
                    }
                }
            }
        }
        assert!(targets > 0, "{}: the runbook chooses no target", env.name);
    }
}

/// Every parameter of every stack has a source in the manifest, and what it resolves to is
/// the owner's value: the assets bucket the deploy uploads to is the bootstrap stack's; the
/// subnets and VPC runbook_action runs in are the network stack's (or the settings' existing
/// ones); the cluster it acts on, the identities' cluster and the charts' `clusterName` are
/// one; the checkout image is in the bootstrap stack's repository; the Load Balancer
/// Controller finds the VPC the network stack tags.
#[test]
fn every_cross_stack_value_comes_from_its_owner() {
    for env in Env::all() {
        let steps = env.manifest["stacks"].as_array().unwrap().clone();
        let order: Vec<&str> = steps.iter().map(|s| s["stack"].as_str().unwrap()).collect();
        for step in &steps {
            let stack = step["stack"].as_str().unwrap();
            let t = env.template(stack);
            let declared: BTreeSet<String> = t["Parameters"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            let sourced: BTreeSet<String> = step["parameters"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            assert_eq!(
                declared, sourced,
                "{}: {stack}'s parameters and their sources",
                env.name
            );
            for (key, source) in step["parameters"].as_object().unwrap() {
                if let Some(owner) = source["output"]["stack"].as_str() {
                    let at = |s: &str| order.iter().position(|x| *x == s).unwrap();
                    assert!(
                        at(owner) < at(stack),
                        "{}: {owner} deploys after {stack}",
                        env.name
                    );
                    assert!(
                        step["depends_on"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|d| d == owner),
                        "{}: {stack} reads {owner} but does not depend on it",
                        env.name
                    );
                }
                let value = env.deployed(stack, &json_ref(key));
                assert!(value.is_string(), "{}: {stack}.{key} = {value}", env.name);
            }
        }
        // The bucket the deploy uploads to is the one the bootstrap stack makes, and the one
        // the functions' code is read from.
        let bootstrap = env.template("sre-bootstrap");
        let (_, f) = env.function(Binary::AlertIngest);
        assert_eq!(
            env.deployed("sre-pipeline", &f["Properties"]["Code"]["S3Bucket"]),
            env.manifest["assets_bucket"],
            "{}",
            env.name
        );
        assert_eq!(
            env.deployed(
                "sre-bootstrap",
                &bootstrap["Outputs"]["AssetsBucket"]["Value"]
            ),
            env.manifest["assets_bucket"],
            "{}",
            env.name
        );
        // runbook_action's subnets and security group's VPC.
        let (_, action) = env.function(Binary::RunbookAction);
        let subnets = env.deployed(
            "sre-pipeline",
            &action["Properties"]["VpcConfig"]["SubnetIds"],
        );
        let sg = &env.pipeline["Resources"]["RunbookActionSecurityGroup"]["Properties"];
        let vpc = env.deployed("sre-pipeline", &sg["VpcId"]);
        let network = order.contains(&"sre-network");
        if network {
            let n = env.template("sre-network");
            let private: Vec<String> = n["Resources"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, r)| {
                    r["Type"] == "AWS::EC2::Subnet"
                        && r["Properties"]["Tags"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|t| t["Key"] == "kubernetes.io/role/internal-elb")
                })
                .map(|(id, _)| format!("sre-network/{id}"))
                .collect();
            assert_eq!(subnets, Value::String(private.join(",")), "{}", env.name);
            assert_eq!(vpc, Value::String("sre-network/Vpc".into()), "{}", env.name);
            let name_tag = n["Resources"]["Vpc"]["Properties"]["Tags"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["Key"] == "Name")
                .unwrap()["Value"]
                .clone();
            let alb = env.yaml("helm/aws-load-balancer-controller.values.yaml");
            assert_eq!(alb["vpcTags"]["Name"], name_tag, "{}", env.name);
            assert!(alb.get("vpcId").is_none(), "{}", env.name);
        } else {
            assert!(
                subnets.as_str().unwrap().starts_with("subnet-"),
                "{}",
                env.name
            );
            let alb = env.yaml("helm/aws-load-balancer-controller.values.yaml");
            assert_eq!(alb["vpcId"], vpc, "{}", env.name);
        }
        // One cluster: the one runbook_action calls, the identities', the charts'.
        let cluster = env.deployed(
            "sre-pipeline",
            &env.lambda_env(Binary::RunbookAction)["EKS_CLUSTER_NAME"],
        );
        let entry = &env.access["Resources"]["RunbookAccessEntry"]["Properties"];
        assert_eq!(
            env.deployed("sre-cluster-access", &entry["ClusterName"]),
            cluster,
            "{}",
            env.name
        );
        for chart in ["aws-load-balancer-controller", "kube-prometheus-stack"] {
            let v = env.yaml(&format!("helm/{chart}.values.yaml"));
            let name = if chart == "kube-prometheus-stack" {
                v["prometheus"]["prometheusSpec"]["externalLabels"]["cluster"].clone()
            } else {
                v["clusterName"].clone()
            };
            assert_eq!(name, cluster, "{}: {chart}", env.name);
        }
        if order.contains(&"sre-cluster") {
            let c = env.template("sre-cluster");
            // drain_node's selector picks the nodes of the node group the stack makes.
            let labels = c["Resources"]["Nodes"]["Properties"]["Labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                .collect::<Vec<_>>()
                .join(",");
            let selector = env.lambda_env(Binary::RunbookAction)["DRAIN_NODE_SELECTOR"].clone();
            assert_eq!(selector, Value::String(labels), "{}", env.name);
        }
        // The checkout image is in the bootstrap stack's repository.
        let repo = bootstrap["Resources"]["CheckoutRepository"]["Properties"]["RepositoryName"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, container) = env.checkout();
        let image = container["image"].as_str().unwrap();
        assert!(
            image.contains(&format!(".amazonaws.com/{repo}:")),
            "{}: {image} is not in {repo}",
            env.name
        );
    }
}

fn json_ref(id: &str) -> Value {
    serde_json::json!({ "Ref": id })
}

/// Every alerting rule links to its runbook page: the `runbook_url` annotation of the rule
/// file and of the PrometheusRule is the settings' base URL and the page synth wrote, and the
/// promtool tests expect the same annotation (promtool checks the rule against it).
#[test]
fn every_alert_links_to_its_runbook_page() {
    for env in Env::all() {
        let settings = platform_model::settings::Settings::embedded(
            platform_model::settings::Environment::from_name(env.name).unwrap(),
        )
        .unwrap();
        let base = settings
            .runbooks
            .base_url
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let mut linked = BTreeSet::new();
        let rules_dir = env.dir.join("monitoring/rules");
        for entry in std::fs::read_dir(&rules_dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = format!(
                "monitoring/rules/{}",
                path.file_name().unwrap().to_str().unwrap()
            );
            let file = env.yaml(&rel);
            for group in file["groups"].as_array().unwrap() {
                for rule in group["rules"].as_array().unwrap() {
                    let Some(alert) = rule["alert"].as_str() else {
                        continue;
                    };
                    let url = rule["annotations"]["runbook_url"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{}: {alert} has no runbook_url", env.name));
                    assert_eq!(url, format!("{base}/{alert}.md"), "{}", env.name);
                    let page = env.text(&format!("runbooks/{alert}.md"));
                    assert!(
                        page.contains(&format!("# {alert}\n")),
                        "{}: {alert}",
                        env.name
                    );
                    linked.insert(alert.to_owned());
                }
            }
        }
        assert!(!linked.is_empty());
        // The PrometheusRules carry the same links.
        for doc in env.yaml_docs("k8s/checkout-monitoring.yaml") {
            if doc["kind"] != "PrometheusRule" {
                continue;
            }
            for group in doc["spec"]["groups"].as_array().unwrap() {
                for rule in group["rules"].as_array().unwrap() {
                    if let Some(alert) = rule["alert"].as_str() {
                        assert_eq!(
                            rule["annotations"]["runbook_url"],
                            Value::String(format!("{base}/{alert}.md")),
                            "{}",
                            env.name
                        );
                    }
                }
            }
        }
        // No page without an alert.
        let pages: BTreeSet<String> = std::fs::read_dir(env.dir.join("runbooks"))
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .file_name()
                    .to_str()
                    .unwrap()
                    .trim_end_matches(".md")
                    .to_owned()
            })
            .collect();
        assert_eq!(pages, linked, "{}", env.name);
        // The promtool tests expect the link on every instance they expect to fire.
        for entry in std::fs::read_dir(env.dir.join("monitoring/tests")).unwrap() {
            let path = entry.unwrap().path();
            let rel = format!(
                "monitoring/tests/{}",
                path.file_name().unwrap().to_str().unwrap()
            );
            for test in env.yaml(&rel)["tests"].as_array().unwrap() {
                for t in test["alert_rule_test"].as_array().into_iter().flatten() {
                    let alert = t["alertname"].as_str().unwrap();
                    for e in t["exp_alerts"].as_array().into_iter().flatten() {
                        assert_eq!(
                            e["exp_annotations"]["runbook_url"],
                            Value::String(format!("{base}/{alert}.md")),
                            "{}: {rel}",
                            env.name
                        );
                    }
                }
            }
        }
    }
}

/// The approval loop's parts fit: the runbook invokes the approval function and waits the
/// settings' deadline; the function's links point at the API's public URL and a route the API
/// has, proxied to it; it records on the runbook's table, publishes to the topic people read,
/// puts its events on the bus the audit rule reads, may answer only this runbook's task tokens,
/// and may publish on the bus.
#[test]
fn the_approval_path_fits_end_to_end() {
    use platform_model::contract::approval::ROUTE;
    for env in Env::all() {
        let settings = platform_model::settings::Settings::embedded(
            platform_model::settings::Environment::from_name(env.name).unwrap(),
        )
        .unwrap();
        let resources = env.resources();
        let (fid, _) = env.function(Binary::Approval);
        let vars = env.lambda_env(Binary::Approval);
        let machine = &resources["RunbookStateMachine"]["Properties"];
        let ask = &machine["Definition"]["States"]["RequestApproval"];
        let placeholder = ask["Parameters"]["FunctionName"]
            .as_str()
            .unwrap()
            .trim_start_matches("${")
            .trim_end_matches('}');
        assert_eq!(
            target_of(&machine["DefinitionSubstitutions"][placeholder]).as_deref(),
            Some(fid.as_str()),
            "{}: RequestApproval invokes the approval function",
            env.name
        );
        assert_eq!(
            ask["TimeoutSeconds"], settings.pipeline.approval.deadline_seconds,
            "{}",
            env.name
        );
        // The links: the API's public URL (its custom domain), on a route the API has.
        let public = format!("https://{}", settings.pipeline.webhook_domain.name);
        assert_eq!(literal(&vars["PUBLIC_URL"]), Some(public), "{}", env.name);
        let parts: Vec<String> = env
            .of_type("AWS::ApiGateway::Resource")
            .iter()
            .map(|(_, r)| r["Properties"]["PathPart"].as_str().unwrap().to_owned())
            .collect();
        for part in ROUTE {
            assert!(
                parts.contains(&part.to_owned()),
                "{}: no {part} resource",
                env.name
            );
        }
        for (id, m) in env.of_type("AWS::ApiGateway::Method") {
            if id.contains("Approvals") {
                assert!(
                    m["Properties"]["Integration"]["Uri"]
                        .to_string()
                        .contains(&format!("\"{fid}\"")),
                    "{}: {id} goes to {fid}",
                    env.name
                );
            }
        }
        // Same table, topic and bus as the runbook and the rules.
        let (_, action) = env.function(Binary::RunbookAction);
        assert_eq!(
            vars["INCIDENTS_TABLE"],
            action["Properties"]["Environment"]["Variables"]["INCIDENTS_TABLE"],
            "{}",
            env.name
        );
        assert_eq!(
            target_of(&vars["NOTIFICATIONS_TOPIC_ARN"]).as_deref(),
            Some("NotificationsTopic"),
            "{}",
            env.name
        );
        let (_, ingest) = env.function(Binary::AlertIngest);
        assert_eq!(
            vars["EVENT_BUS_NAME"],
            ingest["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"],
            "{}",
            env.name
        );
        // It answers task tokens of this runbook only, and may put events on the bus.
        let role = target_of(&resources[&fid]["Properties"]["Role"]).unwrap();
        let policies = resources[&role]["Properties"]["Policies"].to_string();
        let machine_name = machine["StateMachineName"].as_str().unwrap();
        assert!(
            policies.contains(&format!(":stateMachine:{machine_name}")),
            "{}: {policies}",
            env.name
        );
        let bus_policy = env.of_type("AWS::Events::EventBusPolicy");
        assert!(
            bus_policy[0].1.to_string().contains(&role),
            "{}: the bus refuses {role}",
            env.name
        );
    }
}
