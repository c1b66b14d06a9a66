//! The cluster side of one environment: Kubernetes objects, Prometheus rule files and their
//! promtool tests, the Alertmanager configuration, Helm values, Grafana dashboards, and the
//! CloudFormation template of the remediation access entry.

use super::{Artifact, ArtifactKind};
use crate::Error;
use crate::monitoring;
use crate::settings::Settings;

/// Every cluster-side file of the environment.
pub fn cluster_artifacts(settings: &Settings) -> Result<Vec<Artifact>, Error> {
    let mut out = Vec::new();
    for set in monitoring::rule_sets(settings)? {
        let rules: usize = set
            .groups
            .iter()
            .map(|g| g.rules.as_ref().map_or(0, Vec::len))
            .sum();
        out.push(Artifact {
            path: set.rule_file_path(),
            kind: ArtifactKind::PrometheusRules,
            items: rules,
            contents: set.rule_file()?,
        });
        out.push(Artifact {
            path: set.test_file_path(),
            kind: ArtifactKind::PromtoolTest,
            items: set.tests.len(),
            contents: set.test_file()?,
        });
    }
    Ok(out)
}
