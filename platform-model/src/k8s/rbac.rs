//! What the runbook may do in the cluster: a Role in `apps` (deployments and their scale, list
//! pods) and the narrow cluster rights a node drain needs (get/patch nodes, list pods, create
//! evictions), both bound to one Kubernetes group. The EKS access entry maps the runbook
//! Lambda's IAM role to that group (no `aws-auth` ConfigMap).

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::{Manifest, meta};
use crate::Error;
use crate::monitoring::APPS_NAMESPACE;

/// The Kubernetes group the runbook Lambda's role is mapped to.
pub const REMEDIATION_GROUP: &str = "sre-remediation";
/// The Role (in `apps`) and its RoleBinding.
pub const REMEDIATION_ROLE: &str = "sre-runbook-remediation";
/// The ClusterRole for node drains and its ClusterRoleBinding.
pub const DRAIN_CLUSTER_ROLE: &str = "sre-runbook-node-drain";

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let v = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(v(groups)),
        resources: Some(v(resources)),
        verbs: v(verbs),
        ..Default::default()
    }
}

fn group_subject() -> Subject {
    Subject {
        kind: "Group".to_owned(),
        name: REMEDIATION_GROUP.to_owned(),
        api_group: Some("rbac.authorization.k8s.io".to_owned()),
        ..Default::default()
    }
}

/// The namespaced Role: scale, restart (patch) and read deployments; list pods.
pub fn remediation_role() -> Role {
    Role {
        metadata: meta(REMEDIATION_ROLE, APPS_NAMESPACE, []),
        rules: Some(vec![
            rule(&["apps"], &["deployments"], &["get", "list", "patch"]),
            rule(&["apps"], &["deployments/scale"], &["get", "patch"]),
            rule(&[""], &["pods"], &["list"]),
        ]),
    }
}

/// The cluster rights of a node drain: cordon (get/patch nodes), find the node's pods, evict
/// them (the eviction API respects PodDisruptionBudgets).
pub fn drain_cluster_role() -> ClusterRole {
    ClusterRole {
        metadata: meta(DRAIN_CLUSTER_ROLE, "", []),
        rules: Some(vec![
            rule(&[""], &["nodes"], &["get", "patch"]),
            rule(&[""], &["pods"], &["list"]),
            rule(&[""], &["pods/eviction"], &["create"]),
        ]),
        ..Default::default()
    }
}

/// The RBAC objects, bound to [`REMEDIATION_GROUP`].
pub fn manifest() -> Result<Manifest, Error> {
    let mut m = Manifest::new("k8s/rbac.yaml");
    m.push(&remediation_role())?;
    m.push(&RoleBinding {
        metadata: meta(REMEDIATION_ROLE, APPS_NAMESPACE, []),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: REMEDIATION_ROLE.to_owned(),
        },
        subjects: Some(vec![group_subject()]),
    })?;
    m.push(&drain_cluster_role())?;
    m.push(&ClusterRoleBinding {
        metadata: meta(DRAIN_CLUSTER_ROLE, "", []),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: DRAIN_CLUSTER_ROLE.to_owned(),
        },
        subjects: Some(vec![group_subject()]),
    })?;
    Ok(m)
}
