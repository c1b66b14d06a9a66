//! What the runbook may do in the cluster: one Role per namespace where some service allows a
//! runbook action, granting exactly what those actions need ([`required_permissions`]), and the
//! narrow cluster rights a node drain needs (get/list/patch nodes, list pods, create
//! evictions), all bound to one Kubernetes group. The EKS access entry maps the runbook
//! Lambda's IAM role to that group (no `aws-auth` ConfigMap).
//!
//! ```
//! use platform_model::contract::runbook::Action;
//! use platform_model::k8s::rbac;
//! use platform_model::service::{Service, Workload};
//!
//! let payments = Service::new("payments", "payments", Workload::new("registry/payments:1", 2, 4))
//!     .allow(Action::RestartDeployment);
//! let yaml = rbac::manifest(&[payments])?.render()?;
//! // A Role in `payments` that can restart, not scale.
//! assert!(yaml.contains("namespace: payments"));
//! assert!(!yaml.contains("deployments/scale"));
//! # Ok::<(), platform_model::Error>(())
//! ```

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use std::collections::{BTreeMap, BTreeSet};

use super::{Manifest, meta};
use crate::Error;
use crate::contract::runbook::Action;
use crate::service::Service;

/// One Kubernetes API permission: `verb` on `resource` of `api_group` ("" is the core group),
/// in the target's namespace or cluster-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// API group.
    pub api_group: &'static str,
    /// Resource (or `resource/subresource`).
    pub resource: &'static str,
    /// Verb.
    pub verb: &'static str,
    /// Needed cluster-wide (nodes, pods on a node in any namespace) rather than in `apps`.
    pub cluster_wide: bool,
}

const fn ns(api_group: &'static str, resource: &'static str, verb: &'static str) -> Permission {
    Permission {
        api_group,
        resource,
        verb,
        cluster_wide: false,
    }
}

const fn cluster(
    api_group: &'static str,
    resource: &'static str,
    verb: &'static str,
) -> Permission {
    Permission {
        api_group,
        resource,
        verb,
        cluster_wide: true,
    }
}

/// What `runbook_action` calls for each action, so the RBAC below can be checked against it.
pub fn required_permissions(action: Action) -> Vec<Permission> {
    match action {
        // Find the deployment's autoscaler and raise its minimum; without one, read the
        // current scale and patch it (bounded by the maximum).
        Action::ScaleDeployment => vec![
            ns("autoscaling", "horizontalpodautoscalers", "list"),
            ns("autoscaling", "horizontalpodautoscalers", "patch"),
            ns("apps", "deployments/scale", "get"),
            ns("apps", "deployments/scale", "patch"),
        ],
        // Patch the pod template's restartedAt annotation, watch the rollout's pods.
        Action::RestartDeployment | Action::EnableDegradedMode => vec![
            ns("apps", "deployments", "get"),
            ns("apps", "deployments", "patch"),
            ns("", "pods", "list"),
        ],
        // Cordon, list the node's pods in every namespace, evict them.
        Action::DrainNode => vec![
            cluster("", "nodes", "get"),
            // Counting the nodes already cordoned (MAX_CORDONED_NODES).
            cluster("", "nodes", "list"),
            cluster("", "nodes", "patch"),
            cluster("", "pods", "list"),
            cluster("", "pods/eviction", "create"),
        ],
    }
}

/// Whether `rules` grant `p`.
pub fn grants(rules: &[PolicyRule], p: &Permission) -> bool {
    rules.iter().any(|r| {
        r.api_groups
            .as_ref()
            .is_some_and(|g| g.iter().any(|g| g == p.api_group))
            && r.resources
                .as_ref()
                .is_some_and(|rs| rs.iter().any(|x| x == p.resource))
            && r.verbs.iter().any(|v| v == p.verb)
    })
}

/// The Kubernetes group the runbook Lambda's role is mapped to.
pub const REMEDIATION_GROUP: &str = "sre-remediation";
/// The Role (in each namespace with service actions) and its RoleBinding.
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

/// The namespaced Role of `actions`: the union of their namespaced permissions, one rule per
/// resource.
pub fn remediation_role(namespace: &str, actions: &BTreeSet<Action>) -> Role {
    let mut by_resource: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for p in actions
        .iter()
        .flat_map(|a| required_permissions(*a))
        .filter(|p| !p.cluster_wide)
    {
        by_resource
            .entry((p.api_group, p.resource))
            .or_default()
            .insert(p.verb);
    }
    Role {
        metadata: meta(REMEDIATION_ROLE, namespace, []),
        rules: Some(
            by_resource
                .into_iter()
                .map(|((group, resource), verbs)| {
                    rule(
                        &[group],
                        &[resource],
                        &verbs.into_iter().collect::<Vec<_>>(),
                    )
                })
                .collect(),
        ),
    }
}

/// The actions services allow, by namespace (namespaces with none are left out).
pub fn actions_by_namespace(services: &[Service]) -> BTreeMap<String, BTreeSet<Action>> {
    let mut out: BTreeMap<String, BTreeSet<Action>> = BTreeMap::new();
    for svc in services.iter().filter(|s| !s.actions().is_empty()) {
        out.entry(svc.namespace().to_owned())
            .or_default()
            .extend(svc.actions().iter().copied());
    }
    out
}

/// The cluster rights of a node drain: read and cordon the node (get/patch nodes), count the
/// nodes already cordoned (list nodes), find the node's pods, evict them (the eviction API
/// respects PodDisruptionBudgets).
pub fn drain_cluster_role() -> ClusterRole {
    ClusterRole {
        metadata: meta(DRAIN_CLUSTER_ROLE, "", []),
        rules: Some(vec![
            rule(&[""], &["nodes"], &["get", "list", "patch"]),
            rule(&[""], &["pods"], &["list"]),
            rule(&[""], &["pods/eviction"], &["create"]),
        ]),
        ..Default::default()
    }
}

/// The RBAC objects, bound to [`REMEDIATION_GROUP`]: a Role and RoleBinding per namespace of
/// [`actions_by_namespace`], and the drain ClusterRole and its binding.
pub fn manifest(services: &[Service]) -> Result<Manifest, Error> {
    let mut m = Manifest::new("k8s/rbac.yaml");
    for (namespace, actions) in actions_by_namespace(services) {
        m.push(&remediation_role(&namespace, &actions))?;
        m.push(&RoleBinding {
            metadata: meta(REMEDIATION_ROLE, &namespace, []),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".to_owned(),
                kind: "Role".to_owned(),
                name: REMEDIATION_ROLE.to_owned(),
            },
            subjects: Some(vec![group_subject()]),
        })?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn all_service_actions() -> BTreeSet<Action> {
        Action::ALL
            .into_iter()
            .filter(|a| *a != Action::DrainNode)
            .collect()
    }

    #[test]
    fn every_action_is_granted_what_it_needs_and_in_the_right_scope() {
        let cluster_role = drain_cluster_role().rules.unwrap();
        for action in Action::ALL {
            let role = remediation_role("apps", &BTreeSet::from([action]))
                .rules
                .unwrap();
            for p in required_permissions(action) {
                let rules = if p.cluster_wide { &cluster_role } else { &role };
                assert!(grants(rules, &p), "{action:?} needs {p:?}");
            }
        }
    }

    #[test]
    fn nothing_is_granted_that_no_allowed_action_needs() {
        for actions in [
            all_service_actions(),
            BTreeSet::from([Action::RestartDeployment]),
        ] {
            let needed: Vec<Permission> = actions
                .iter()
                .copied()
                .chain([Action::DrainNode])
                .flat_map(required_permissions)
                .collect();
            for (rules, cluster_wide) in [
                (remediation_role("apps", &actions).rules.unwrap(), false),
                (drain_cluster_role().rules.unwrap(), true),
            ] {
                for r in &rules {
                    for g in r.api_groups.as_ref().unwrap() {
                        for res in r.resources.as_ref().unwrap() {
                            for v in &r.verbs {
                                let listed = needed.iter().any(|p| {
                                    p.api_group == g
                                        && p.resource == res
                                        && p.verb == v
                                        && p.cluster_wide == cluster_wide
                                });
                                assert!(listed, "{g}/{res} {v} is granted but not needed");
                            }
                        }
                    }
                }
            }
        }
    }
}
