//! The platform itself: every stack and file of one environment, assembled from its settings.

mod cluster;
pub mod identity;
mod pipeline;
pub mod runbook;
mod wiring;

pub use cluster::{ACCESS_STACK, access_stack, cluster_artifacts};

pub use pipeline::{
    Assets, Pipeline, PipelineData, PipelineExports, STACK as PIPELINE_STACK, data_layer,
    pipeline_stack,
};
pub use wiring::{check_timeouts, prom_seconds};

use crate::Error;
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
    /// A shell script an operator runs (bash).
    Script,
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

/// Synthesizes every file of one environment. Pure: the caller writes the files.
///
/// ```
/// use platform_model::settings::{Environment, Settings};
/// let settings = Settings::embedded(Environment::Prod).unwrap();
/// let assets = platform_model::platform::Assets::new(&"a".repeat(64), &"b".repeat(64));
/// let files = platform_model::platform::synthesize(&settings, &assets).unwrap();
/// assert!(files.iter().any(|f| f.path == "sre-pipeline.template.json"));
/// ```
pub fn synthesize(settings: &Settings, assets: &Assets) -> Result<Vec<Artifact>, Error> {
    let mut out = Vec::new();
    let Pipeline {
        template, exports, ..
    } = pipeline_stack(settings, assets)?;
    out.push(Artifact {
        path: format!("{}.template.json", template.name()),
        kind: ArtifactKind::CloudformationTemplate,
        items: template.resource_count(),
        contents: template.render()?,
    });
    out.extend(cluster_artifacts(settings, &exports)?);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
