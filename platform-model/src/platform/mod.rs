//! The platform itself: every stack and file of one environment, a composition of the
//! platform's own parts (event pipeline, cluster access, add-ons, monitoring) and a list of
//! [`Service`]s, assembled from the environment's settings. The settings stop here: this layer
//! turns them into the props of each construct.
//!
//! # Example: a second service and a team's own stack
//!
//! ```
//! use platform_model::cfn::{Output, Template};
//! use platform_model::contract::runbook::Action;
//! use platform_model::platform::{Assets, Export, Platform};
//! use platform_model::resources::sqs::Queue;
//! use platform_model::service::{Service, Workload};
//! use platform_model::settings::{Environment, Settings};
//!
//! let settings = Settings::embedded(Environment::Prod).unwrap();
//! let payments = Service::new("payments", "payments", Workload::new("registry/payments:1.4.2", 2, 6))
//!     .allow(Action::RestartDeployment);
//! let mut stack = Template::new("payments-events", "The payments team's queue, on the platform's key");
//! let q = stack.add("Failed", Queue::new().kms_master_key_id(Export::KeyArn.import()));
//! stack.output("FailedQueueArn", Output::new(q.arn()));
//!
//! let platform = Platform::standard(settings)?.service(payments).stack(stack);
//! let files = platform.synthesize(&Assets::new(&"a".repeat(64), &"b".repeat(64), &"c".repeat(64)))?;
//! for path in ["k8s/payments.yaml", "k8s/checkout.yaml", "payments-events.template.json"] {
//!     assert!(files.iter().any(|f| f.path == path), "{path}");
//! }
//! let rbac = files.iter().find(|f| f.path == "k8s/rbac.yaml").unwrap();
//! assert!(rbac.contents.contains("namespace: payments"));
//! # Ok::<(), platform_model::Error>(())
//! ```

mod bootstrap;
mod checkout;
mod cluster;
pub mod delivery;
mod eks;
pub mod identity;
pub mod messages;
mod network;
mod nodes;
mod pipeline;
pub mod runbook;
mod runbooks;
mod topology;
mod wiring;

pub use bootstrap::{
    CHECKOUT_REPOSITORY_URI, bootstrap_stack, checkout_image, checkout_repository_uri,
};
pub use eks::{NODE_METADATA_HOP_LIMIT, cluster_stack};
pub use network::{
    GATEWAY_ENDPOINTS, INTERFACE_ENDPOINTS, INTERNAL_ELB_TAG, PUBLIC_ELB_TAG, network_stack,
    subnet_cidrs, vpc_name,
};
pub use nodes::{NODE_RULES, node_rules};
pub use topology::{BOOTSTRAP_STACK, CLUSTER_STACK, Input, NETWORK_STACK};

pub use checkout::{APPS_NAMESPACE, CHECKOUT, CHECKOUT_PORT, PUBLIC_PATH, checkout};
pub use cluster::{ACCESS_STACK, access_stack, cluster_artifacts};

pub use pipeline::{
    Assets, Export, Pipeline, PipelineData, PipelineExports, STACK as PIPELINE_STACK, ServiceFlag,
    data_layer, pipeline_stack, service_flags,
};
pub use wiring::{check_timeouts, prom_seconds};

use std::collections::BTreeSet;

use crate::Error;
use crate::cfn::Template;
use crate::service::Service;
use crate::settings::Settings;

/// What kind of file an [`Artifact`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// A CloudFormation template (JSON), one per stack.
    CloudformationTemplate,
    /// Kubernetes objects (YAML, one or more documents).
    KubernetesYaml,
    /// A Prometheus rule file (`groups:`), also deployed as a PrometheusRule.
    PrometheusRules,
    /// A promtool unit-test file for a rule file.
    PromtoolTest,
    /// An Alertmanager configuration file.
    AlertmanagerConfig,
    /// Values for a Helm chart.
    HelmValues,
    /// A Grafana dashboard (JSON).
    GrafanaDashboard,
    /// A Datadog webhook definition (JSON, Datadog's API format).
    DatadogWebhook,
    /// A Datadog monitor (JSON, the monitor API's format).
    DatadogMonitor,
    /// A shell script an operator runs (bash).
    Script,
    /// A runbook page people read (Markdown), linked from its alert's `runbook_url`.
    RunbookPage,
}

/// One generated file of an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Path relative to the environment's output folder, with `/` separators.
    pub path: String,
    /// What the file is.
    pub kind: ArtifactKind,
    /// The file's contents.
    pub contents: String,
    /// Number of resources (templates) or objects the file holds.
    pub items: usize,
}

/// One environment's platform: its settings, the services on it and the stacks other teams
/// add. [`Platform::synthesize`] writes nothing; it returns every file.
#[derive(Debug)]
pub struct Platform {
    settings: Settings,
    services: Vec<Service>,
    stacks: Vec<Template>,
}

impl Platform {
    /// The platform's own parts, with no service yet.
    pub fn new(settings: Settings) -> Platform {
        Platform {
            settings,
            services: Vec::new(),
            stacks: Vec::new(),
        }
    }

    /// The platform as this repository deploys it: its own parts and the checkout service
    /// ([`checkout`]).
    pub fn standard(settings: Settings) -> Result<Platform, Error> {
        let checkout = checkout(&settings)?;
        Ok(Platform::new(settings).service(checkout))
    }

    /// Adds a service.
    pub fn service(mut self, service: Service) -> Platform {
        self.services.push(service);
        self
    }

    /// Adds a stack of another team's (written as `<name>.template.json`); its imports must
    /// name the pipeline stack's exports ([`Export`]).
    pub fn stack(mut self, template: Template) -> Platform {
        self.stacks.push(template);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The services, in the order added.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// Checks that the services fit together: each one's own check, and names, namespaces of
    /// rule sets and dashboards that do not collide.
    pub fn check(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        let mut names = BTreeSet::new();
        let mut files = BTreeSet::new();
        for svc in &self.services {
            if let Err(e) = svc.check() {
                problems.push(e.to_string());
            }
            if !names.insert(svc.name()) {
                problems.push(format!(
                    "two services are named {} (the name is the Deployment's, the files' and the degraded-mode parameter's)",
                    svc.name()
                ));
            }
            for set in svc.rule_sets().unwrap_or_default() {
                if !files.insert(set.rule_file_path()) {
                    problems.push(format!(
                        "{} is written by two services (rule set {})",
                        set.rule_file_path(),
                        set.name
                    ));
                }
            }
            for d in svc.dashboards() {
                if !files.insert(format!("dashboards/{}.json", d.name)) {
                    problems.push(format!("dashboard {} is declared by two services", d.name));
                }
            }
        }
        problems.extend(self.deadline_problems());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Construct {
                construct: format!("platform of {}", self.settings.environment),
                message: problems.join("; "),
            })
        }
    }

    /// The runbook escalates an incident whose record is not resolved by
    /// `pipeline.remediation_deadline_seconds` after its action. A remedied alert resolves only
    /// once its longest range window has no bad samples left, the rule is evaluated again and
    /// Alertmanager's next `group_interval` sends the resolution; a deadline shorter than that
    /// escalates incidents the action fixed (the loop harness found dev's 300 s against 690 s).
    fn deadline_problems(&self) -> Vec<String> {
        use crate::monitoring::{EVALUATION_INTERVAL, duration_seconds, longest_range_seconds};
        let settings = &self.settings;
        let deadline = u64::from(settings.pipeline.remediation_deadline_seconds);
        let evaluation = duration_seconds(EVALUATION_INTERVAL).unwrap_or(60);
        let group_interval =
            duration_seconds(settings.cluster.alertmanager.group_interval.as_str()).unwrap_or(0);
        let wait = u64::from(settings.pipeline.stabilization_seconds);
        let mut problems = Vec::new();
        for svc in &self.services {
            for set in svc.rule_sets().unwrap_or_default() {
                for alert in set.alerts.iter().filter(|a| a.runbook_ref().is_some()) {
                    let window = longest_range_seconds(alert.expr());
                    let needed = window + evaluation + group_interval + wait;
                    if needed > deadline {
                        problems.push(format!(
                            "pipeline.remediation_deadline_seconds ({deadline}) is shorter than the time {} needs to resolve once its runbook fixed it: its longest window {window} s + rule evaluation {evaluation} s + Alertmanager group_interval {group_interval} s + one stabilization wait {wait} s = {needed} s; the runbook would escalate incidents it remedied (set it to at least {needed})",
                            alert.name()
                        ));
                    }
                }
            }
        }
        problems
    }

    /// Synthesizes every file of the environment. Pure: the caller writes the files.
    pub fn synthesize(&self, assets: &Assets) -> Result<Vec<Artifact>, Error> {
        self.check()?;
        let settings = &self.settings;
        let mut out = Vec::new();
        // Every service's alerts link to their pages.
        let services: Vec<Service> = self
            .services
            .iter()
            .map(|s| {
                s.clone()
                    .runbook_pages_at(settings.runbooks.base_url.as_str())
            })
            .collect();
        let Pipeline {
            template, exports, ..
        } = pipeline_stack(settings, &services, assets)?;
        let exported: BTreeSet<String> = Export::ALL.iter().map(|e| e.export_name()).collect();
        let mut stacks = vec![bootstrap_stack(settings)?];
        if let crate::settings::NetworkSettings::Create(network) = &settings.network {
            stacks.push(network_stack(settings, network)?);
        }
        if let Some(cluster) = &settings.cluster.create {
            stacks.push(cluster_stack(settings, cluster)?);
        }
        stacks.push(template);
        for t in stacks {
            out.push(Artifact {
                path: format!("{}.template.json", t.name()),
                kind: ArtifactKind::CloudformationTemplate,
                items: t.resource_count(),
                contents: t.render()?,
            });
        }
        out.extend(cluster_artifacts(settings, &services, &exports)?);
        out.extend(runbooks::runbook_pages(settings, &services)?);
        for t in &self.stacks {
            let path = format!("{}.template.json", t.name());
            if out.iter().any(|a| a.path == path) {
                return Err(Error::Construct {
                    construct: format!("stack {}", t.name()),
                    message: format!(
                        "{path} is already written by the platform; name the stack otherwise"
                    ),
                });
            }
            let contents = t.render()?;
            let json: serde_json::Value =
                serde_json::from_str(&contents).map_err(|e| Error::Construct {
                    construct: format!("stack {}", t.name()),
                    message: e.to_string(),
                })?;
            let mut imports = Vec::new();
            collect_imports(&json, &mut imports);
            for name in imports {
                if !exported.contains(&name) {
                    return Err(Error::Construct {
                        construct: format!("stack {}", t.name()),
                        message: format!(
                            "Fn::ImportValue {name:?} is not an export of the pipeline stack (use platform::Export: {})",
                            exported.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    });
                }
            }
            out.push(Artifact {
                path,
                kind: ArtifactKind::CloudformationTemplate,
                items: t.resource_count(),
                contents,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

/// Where a stack parameter's value comes from when the stack is deployed. synth writes it into
/// `manifest.json`; `synth deploy` reads it back with the same type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterSource {
    /// A value known at synth time (from the settings).
    Value(String),
    /// An output of a stack deployed before.
    Output {
        /// The stack.
        stack: String,
        /// Its output's key.
        output: String,
    },
}

/// One stack of the deploy order, as `manifest.json` lists it (`synth deploy` reads it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StackStep {
    /// The stack's name.
    pub stack: String,
    /// Its template's path in the environment's folder.
    pub template: String,
    /// Stacks deployed before it: the ones it imports from or names resources of.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Its parameters and where their values come from.
    #[serde(default)]
    pub parameters: std::collections::BTreeMap<String, ParameterSource>,
    /// The Lambda code must be in the assets bucket before this stack deploys (`synth deploy`
    /// uploads it after the stacks before, so the bucket exists).
    #[serde(default)]
    pub needs_assets: bool,
}

impl Platform {
    /// The stacks in deploy order, a dependency graph written into `manifest.json`: bootstrap
    /// (the assets bucket), then the network and the cluster when the settings create them,
    /// the pipeline stack (its code in the bucket; the VPC and the cluster as [`Input`]s), the
    /// identity stack `sre-cluster-access` (it maps runbook_action's role, which the pipeline
    /// stack makes) and the teams' stacks (they import the pipeline stack's exports). Each
    /// [`Input`] a stack takes is a parameter whose source is the owning stack's output, or the
    /// settings' value when the environment brings its own VPC or cluster.
    pub fn deploy_order(&self) -> Vec<StackStep> {
        let settings = &self.settings;
        let step = |stack: &str, inputs: &[Input], after: &[&str], needs_assets: bool| {
            let mut depends_on: BTreeSet<String> = after.iter().map(|s| (*s).to_owned()).collect();
            let mut parameters = std::collections::BTreeMap::new();
            for input in inputs {
                let source = input.source(settings);
                if let ParameterSource::Output { stack, .. } = &source {
                    depends_on.insert(stack.clone());
                }
                parameters.insert(input.output_key().to_owned(), source);
            }
            StackStep {
                stack: stack.to_owned(),
                template: format!("{stack}.template.json"),
                depends_on: depends_on.into_iter().collect(),
                parameters,
                needs_assets,
            }
        };
        let mut out = vec![step(BOOTSTRAP_STACK, &[], &[], false)];
        if matches!(
            settings.network,
            crate::settings::NetworkSettings::Create(_)
        ) {
            out.push(step(NETWORK_STACK, &[], &[], false));
        }
        if settings.cluster.create.is_some() {
            out.push(step(
                CLUSTER_STACK,
                &[Input::VpcId, Input::VpcCidr, Input::PrivateSubnetIds],
                &[],
                false,
            ));
        }
        out.push(step(
            pipeline::STACK,
            &[
                Input::AssetsBucket,
                Input::VpcId,
                Input::PrivateSubnetIds,
                Input::ClusterName,
            ],
            &[],
            true,
        ));
        out.push(step(
            ACCESS_STACK,
            &[Input::ClusterName, Input::RunbookActionRoleArn],
            &[],
            false,
        ));
        for t in &self.stacks {
            out.push(step(t.name(), &[], &[pipeline::STACK], false));
        }
        out
    }
}

/// Every literal `Fn::ImportValue` name in a rendered template.
fn collect_imports(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("Fn::ImportValue", serde_json::Value::String(name)) => out.push(name.clone()),
                    _ => collect_imports(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_imports(x, out)),
        _ => {}
    }
}

/// Synthesizes every file of one environment of the standard platform ([`Platform::standard`]).
/// Pure: the caller writes the files.
///
/// ```
/// use platform_model::settings::{Environment, Settings};
/// let settings = Settings::embedded(Environment::Prod).unwrap();
/// let assets = platform_model::platform::Assets::new(&"a".repeat(64), &"b".repeat(64), &"c".repeat(64));
/// let files = platform_model::platform::synthesize(&settings, &assets).unwrap();
/// assert!(files.iter().any(|f| f.path == "sre-pipeline.template.json"));
/// ```
pub fn synthesize(settings: &Settings, assets: &Assets) -> Result<Vec<Artifact>, Error> {
    Platform::standard(settings.clone())?.synthesize(assets)
}
