//! What the remediation group may change, enforced by the API server: a
//! `ValidatingAdmissionPolicy` (admissionregistration.k8s.io/v1) and its binding.
//!
//! RBAC ([`super::rbac`]) can only say "patch deployments"; that also allows swapping the image,
//! scaling to zero, lowering an autoscaler's maximum or tainting a node. The policy admits, for
//! requests whose user is in [`REMEDIATION_GROUP`] (a `matchCondition` on
//! `request.userInfo.groups`), only the changes `runbook_action` makes:
//!
//! - Deployment: the pod template's `kubectl.kubernetes.io/restartedAt` annotation (a restart),
//!   or `spec.replicas` raised up to the bound; nothing else in `spec` or in the labels,
//!   annotations, finalizers and owners of the object;
//! - `deployments/scale` (a `Scale`): `spec.replicas` raised, up to the bound;
//! - HorizontalPodAutoscaler: `spec.minReplicas` raised, up to the autoscaler's own
//!   `maxReplicas` and the bound; `maxReplicas`, metrics, behavior and target unchanged;
//! - Node: `spec.unschedulable` false -> true (cordon); taints, labels and the rest unchanged;
//! - no create or delete of any of these.
//!
//! The resources it matches are the ones the actions patch ([`rbac::required_permissions`] with
//! verb `patch`): an action that starts patching a new resource makes [`manifest`] fail until
//! that resource gets its checks here. Evictions (`pods/eviction` create) are not matched: the
//! eviction API itself enforces PodDisruptionBudgets.
//!
//! Each check compares `object` (after the patch) with `oldObject` field by field, with the
//! field lists checked against the k8s-openapi types in the tests below, so a field that
//! Kubernetes adds is noticed. Only the fields a client can set are compared: the API server
//! itself bumps `metadata.generation`, `resourceVersion` and `managedFields` on every update,
//! and resets `status` on a main-resource update, before validating admission runs.
//!
//! The expressions use only standard CEL (macros `has`, `all`; `in`; the ternary operator),
//! none of the Kubernetes CEL libraries, and never `request.subResource`: the API server builds
//! `request` from the AdmissionRequest with `omitempty`, so an empty field is absent, not "".
//! `synth/tests/admission.rs` evaluates them on the exact patches runbook_action sends.
//!
//! ```
//! use platform_model::contract::runbook::Action;
//! use platform_model::k8s::admission::{manifest, replica_bounds};
//! use platform_model::service::{Service, Workload};
//!
//! let payments = Service::new("payments", "payments", Workload::new("registry/p:1", 2, 6))
//!     .allow(Action::ScaleDeployment);
//! let bounds = replica_bounds(&[payments]);
//! assert_eq!(bounds["payments/payments"], 6);
//! let yaml = manifest(&bounds)?.render()?;
//! assert!(yaml.contains("kind: ValidatingAdmissionPolicy"));
//! assert!(yaml.contains("payments/payments"));
//! # Ok::<(), platform_model::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::admissionregistration::v1::{
    MatchCondition, MatchResources, NamedRuleWithOperations, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBindingSpec,
    ValidatingAdmissionPolicySpec, Validation, Variable,
};

use super::rbac::{self, REMEDIATION_GROUP};
use super::{Manifest, meta};
use crate::Error;
use crate::contract::runbook::Action;
use crate::service::Service;

/// The policy's and the binding's name.
pub const POLICY: &str = "sre-remediation-limits";
/// The pod template annotation a restart sets (what `kubectl rollout restart` sets).
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// A resource the actions patch, and how the policy knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guarded {
    /// API group ("" is the core group), as in [`rbac::Permission`].
    pub api_group: &'static str,
    /// The version the checks are written against (other versions are converted to it:
    /// `matchPolicy: Equivalent`).
    pub api_version: &'static str,
    /// Resource (or `resource/subresource`), as in [`rbac::Permission`].
    pub resource: &'static str,
    /// `request.kind.kind` of such a request (a Scale for `deployments/scale`).
    pub kind: &'static str,
}

/// Every resource the policy has checks for.
pub const GUARDED: [Guarded; 4] = [
    Guarded {
        api_group: "apps",
        api_version: "v1",
        resource: "deployments",
        kind: "Deployment",
    },
    Guarded {
        api_group: "apps",
        api_version: "v1",
        resource: "deployments/scale",
        kind: "Scale",
    },
    Guarded {
        api_group: "autoscaling",
        api_version: "v2",
        resource: "horizontalpodautoscalers",
        kind: "HorizontalPodAutoscaler",
    },
    Guarded {
        api_group: "",
        api_version: "v1",
        resource: "nodes",
        kind: "Node",
    },
];

/// Object metadata a client can change on update and the policy keeps fixed. The other
/// `ObjectMeta` fields are immutable or written by the API server ([`SERVER_MANAGED_METADATA`]).
pub const FIXED_METADATA: [&str; 4] = ["labels", "annotations", "finalizers", "ownerReferences"];
/// Object metadata the API server writes or keeps immutable itself.
pub const SERVER_MANAGED_METADATA: [&str; 11] = [
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "generateName",
    "generation",
    "managedFields",
    "name",
    "namespace",
    "resourceVersion",
    "selfLink",
    "uid",
];
/// DeploymentSpec fields that stay fixed (`replicas` and `template` have their own checks).
pub const FIXED_DEPLOYMENT_SPEC: [&str; 6] = [
    "minReadySeconds",
    "paused",
    "progressDeadlineSeconds",
    "revisionHistoryLimit",
    "selector",
    "strategy",
];
/// Pod template metadata that stays fixed: what the ReplicaSet controller copies to the pods
/// besides the annotations (which have their own check).
pub const FIXED_TEMPLATE_METADATA: [&str; 2] = ["finalizers", "labels"];
/// Pod template metadata that never reaches a pod (the controller names the pods and sets
/// their owners itself): changing it only rolls the pods, as a restart does.
pub const INERT_TEMPLATE_METADATA: [&str; 12] = [
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "generateName",
    "generation",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];
/// HorizontalPodAutoscalerSpec (autoscaling/v2) fields that stay fixed (`minReplicas` has its
/// own check).
pub const FIXED_AUTOSCALER_SPEC: [&str; 4] =
    ["behavior", "maxReplicas", "metrics", "scaleTargetRef"];
/// NodeSpec fields that stay fixed (`unschedulable` has its own check).
pub const FIXED_NODE_SPEC: [&str; 6] = [
    "configSource",
    "externalID",
    "podCIDR",
    "podCIDRs",
    "providerID",
    "taints",
];

/// `object.<path>` and `oldObject.<path>` are both absent, or both present and equal.
fn unchanged(path: &str) -> String {
    let (new, old) = (format!("object.{path}"), format!("oldObject.{path}"));
    format!("(has({new}) == has({old}) && (!has({new}) || {new} == {old}))")
}

/// `root.path`, or `default` when absent.
fn or_default(root: &str, path: &str, default: &str) -> String {
    format!("(has({root}.{path}) ? {root}.{path} : {default})")
}

/// A validation that applies to updates of `kind` only (anything else passes it).
fn on(kind: &str, expression: &str, message: String) -> Validation {
    Validation {
        expression: format!(
            "request.operation != 'UPDATE' || request.kind.kind != '{kind}' || ({expression})"
        ),
        message: Some(message),
        reason: Some("Forbidden".to_owned()),
        ..Default::default()
    }
}

fn who() -> String {
    format!("group {REMEDIATION_GROUP}")
}

/// The most replicas the group may set on each Deployment, by `namespace/name`: the
/// `max_replicas` of every service that allows `scale_deployment`. A Deployment not listed has
/// bound 0: the group cannot raise its replicas at all.
pub type ReplicaBounds = BTreeMap<String, u32>;

/// The bounds of `services` ([`ReplicaBounds`]).
pub fn replica_bounds(services: &[Service]) -> ReplicaBounds {
    services
        .iter()
        .filter_map(|s| {
            let bound = s.bounds(Action::ScaleDeployment)?.max_replicas?;
            Some((format!("{}/{}", s.namespace(), s.name()), bound))
        })
        .collect()
}

/// The bounds as a CEL map literal.
fn bounds_literal(bounds: &ReplicaBounds) -> String {
    let entries: Vec<String> = bounds.iter().map(|(k, v)| format!("'{k}': {v}")).collect();
    format!("{{{}}}", entries.join(", "))
}

/// How the bounds read in a message.
fn bounds_text(bounds: &ReplicaBounds) -> String {
    if bounds.is_empty() {
        "0 (no service allows scale_deployment)".to_owned()
    } else {
        let entries: Vec<String> = bounds.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("its service's max_replicas ({})", entries.join(", "))
    }
}

/// The validations, in the order the API server evaluates them. `bounds` bounds every replica
/// count the group may set, per Deployment.
pub fn validations(bounds: &ReplicaBounds) -> Vec<Validation> {
    let who = who();
    let bound = bounds_text(bounds);
    let mut v = vec![Validation {
        expression: "request.operation == 'UPDATE'".to_owned(),
        message: Some(format!(
            "{who} may only patch Deployments, their scale, HorizontalPodAutoscalers and Nodes, never create or delete them"
        )),
        reason: Some("Forbidden".to_owned()),
        ..Default::default()
    }];
    // The object's own metadata, for every kind.
    for field in FIXED_METADATA {
        v.push(Validation {
            expression: format!(
                "request.operation != 'UPDATE' || {}",
                unchanged(&format!("metadata.{field}"))
            ),
            message: Some(format!(
                "{who} may not change metadata.{field} (of a Deployment, Scale, HorizontalPodAutoscaler or Node)"
            )),
            reason: Some("Forbidden".to_owned()),
            ..Default::default()
        });
    }

    // Deployment: restart (the template annotation) or more replicas, nothing else.
    for field in FIXED_DEPLOYMENT_SPEC {
        v.push(on(
            "Deployment",
            &unchanged(&format!("spec.{field}")),
            format!("{who} may not change a Deployment's spec.{field}"),
        ));
    }
    v.push(on(
        "Deployment",
        &unchanged("spec.template.spec"),
        format!(
            "{who} may not change a Deployment's pod spec (spec.template.spec: containers, images, volumes, service account, ...)"
        ),
    ));
    v.push(on(
        "Deployment",
        &FIXED_TEMPLATE_METADATA
            .iter()
            .map(|f| unchanged(&format!("spec.template.metadata.{f}")))
            .collect::<Vec<_>>()
            .join(" && "),
        format!(
            "{who} may not change a Deployment's pod template labels or finalizers (spec.template.metadata)"
        ),
    ));
    v.push(on(
        "Deployment",
        &format!(
            "variables.templateAnnotations.all(k, k == '{RESTARTED_AT}' || (k in variables.oldTemplateAnnotations && variables.oldTemplateAnnotations[k] == variables.templateAnnotations[k])) \
             && variables.oldTemplateAnnotations.all(k, k in variables.templateAnnotations)"
        ),
        format!(
            "{who} may change only the {RESTARTED_AT} annotation of a Deployment's pod template (spec.template.metadata.annotations)"
        ),
    ));
    let (new, old) = (
        or_default("object", "spec.replicas", "1"),
        or_default("oldObject", "spec.replicas", "1"),
    );
    v.push(on(
        "Deployment",
        &format!("{new} >= {old}"),
        format!("{who} may not lower a Deployment's spec.replicas (scale down or to zero)"),
    ));
    v.push(on(
        "Deployment",
        &format!("{new} == {old} || {new} <= variables.maxReplicas"),
        format!("{who} may not raise a Deployment's spec.replicas above {bound}"),
    ));

    // Scale (deployments/scale): more replicas, up to the bound. `replicas` is omitted at 0.
    let (new, old) = (
        or_default("object", "spec.replicas", "0"),
        or_default("oldObject", "spec.replicas", "0"),
    );
    v.push(on(
        "Scale",
        &format!("{new} >= {old}"),
        format!("{who} may not lower spec.replicas of deployments/scale (scale down or to zero)"),
    ));
    v.push(on(
        "Scale",
        &format!("{new} == {old} || {new} <= variables.maxReplicas"),
        format!("{who} may not raise spec.replicas of deployments/scale above {bound}"),
    ));

    // HorizontalPodAutoscaler: a higher minimum, within its own maximum and the bound.
    for field in FIXED_AUTOSCALER_SPEC {
        v.push(on(
            "HorizontalPodAutoscaler",
            &unchanged(&format!("spec.{field}")),
            format!("{who} may not change a HorizontalPodAutoscaler's spec.{field}"),
        ));
    }
    let (new, old) = (
        or_default("object", "spec.minReplicas", "1"),
        or_default("oldObject", "spec.minReplicas", "1"),
    );
    v.push(on(
        "HorizontalPodAutoscaler",
        &format!("{new} >= {old}"),
        format!("{who} may not lower a HorizontalPodAutoscaler's spec.minReplicas"),
    ));
    v.push(on(
        "HorizontalPodAutoscaler",
        &format!(
            "{new} == {old} || ({new} <= object.spec.maxReplicas && {new} <= variables.maxReplicas)"
        ),
        format!(
            "{who} may not raise a HorizontalPodAutoscaler's spec.minReplicas above its spec.maxReplicas or {bound}"
        ),
    ));

    // Node: cordon only.
    for field in FIXED_NODE_SPEC {
        v.push(on(
            "Node",
            &unchanged(&format!("spec.{field}")),
            format!("{who} may not change a Node's spec.{field}"),
        ));
    }
    v.push(on(
        "Node",
        "(has(object.spec.unschedulable) && object.spec.unschedulable) || !(has(oldObject.spec.unschedulable) && oldObject.spec.unschedulable)",
        format!("{who} may not uncordon a Node (spec.unschedulable true -> false)"),
    ));
    v
}

/// The pod template annotations before and after, `{}` when absent (evaluated only when a
/// Deployment validation refers to them); the Deployment a request is about
/// (`namespace/name`; an autoscaler's is its scale target) and its replica bound (evaluated
/// only by the Deployment, Scale and autoscaler validations).
fn variables(bounds: &ReplicaBounds) -> Vec<Variable> {
    let annotations = |root: &str| {
        format!(
            "has({root}.spec.template.metadata) && has({root}.spec.template.metadata.annotations) ? {root}.spec.template.metadata.annotations : {{}}"
        )
    };
    vec![
        Variable {
            name: "templateAnnotations".to_owned(),
            expression: annotations("object"),
        },
        Variable {
            name: "oldTemplateAnnotations".to_owned(),
            expression: annotations("oldObject"),
        },
        Variable {
            name: "target".to_owned(),
            expression: "request.namespace + '/' + (request.kind.kind == 'HorizontalPodAutoscaler' ? object.spec.scaleTargetRef.name : request.name)".to_owned(),
        },
        Variable {
            name: "maxReplicas".to_owned(),
            expression: format!(
                "variables.target in {m} ? {m}[variables.target] : 0",
                m = bounds_literal(bounds)
            ),
        },
    ]
}

/// The `(api group, resource)` pairs some action patches, from [`rbac::required_permissions`].
pub fn patched_resources() -> BTreeSet<(&'static str, &'static str)> {
    Action::ALL
        .into_iter()
        .flat_map(rbac::required_permissions)
        .filter(|p| p.verb == "patch")
        .map(|p| (p.api_group, p.resource))
        .collect()
}

/// The resources the policy matches: every resource an action patches, each with its checks
/// in [`GUARDED`]. Fails naming a patched resource that has no checks.
pub fn matched() -> Result<Vec<Guarded>, Error> {
    patched_resources()
        .into_iter()
        .map(|(group, resource)| {
            GUARDED
                .iter()
                .find(|g| g.api_group == group && g.resource == resource)
                .copied()
                .ok_or_else(|| Error::Construct {
                    construct: "k8s/admission.yaml".to_owned(),
                    message: format!(
                        "an action patches {group}/{resource} but the admission policy has no checks for it (add it to k8s::admission::GUARDED and its validations)"
                    ),
                })
        })
        .collect()
}

/// The policy: applies to create, update and delete of the patched resources by
/// [`REMEDIATION_GROUP`], and fails closed.
pub fn policy(bounds: &ReplicaBounds) -> Result<ValidatingAdmissionPolicy, Error> {
    let rules = matched()?
        .into_iter()
        .map(|g| NamedRuleWithOperations {
            api_groups: Some(vec![g.api_group.to_owned()]),
            api_versions: Some(vec![g.api_version.to_owned()]),
            resources: Some(vec![g.resource.to_owned()]),
            operations: Some(["CREATE", "UPDATE", "DELETE"].map(str::to_owned).to_vec()),
            ..Default::default()
        })
        .collect();
    Ok(ValidatingAdmissionPolicy {
        metadata: meta(POLICY, "", []),
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".to_owned()),
            match_constraints: Some(MatchResources {
                match_policy: Some("Equivalent".to_owned()),
                resource_rules: Some(rules),
                ..Default::default()
            }),
            // `groups` is omitted from the request when empty.
            match_conditions: Some(vec![MatchCondition {
                name: "remediation-group".to_owned(),
                expression: format!(
                    "has(request.userInfo.groups) && '{REMEDIATION_GROUP}' in request.userInfo.groups"
                ),
            }]),
            variables: Some(variables(bounds)),
            validations: Some(validations(bounds)),
            ..Default::default()
        }),
        status: None,
    })
}

/// The binding: the policy everywhere it matches, denying what it refuses.
pub fn binding() -> ValidatingAdmissionPolicyBinding {
    ValidatingAdmissionPolicyBinding {
        metadata: meta(POLICY, "", []),
        spec: Some(ValidatingAdmissionPolicyBindingSpec {
            policy_name: Some(POLICY.to_owned()),
            validation_actions: Some(vec!["Deny".to_owned()]),
            ..Default::default()
        }),
    }
}

/// The policy and its binding; `bounds` bound the replicas and autoscaler minimum the
/// remediation group may set on each Deployment ([`replica_bounds`] of the platform's
/// services: each one's autoscaler maximum).
pub fn manifest(bounds: &ReplicaBounds) -> Result<Manifest, Error> {
    let mut m = Manifest::new("k8s/admission.yaml");
    m.push(&policy(bounds)?)?;
    m.push(&binding())?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentSpec;
    use k8s_openapi::api::autoscaling::v1::ScaleSpec;
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec;
    use k8s_openapi::api::core::v1::NodeSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use serde::Serialize;

    fn keys<T: Serialize>(value: &T) -> BTreeSet<String> {
        serde_json::to_value(value)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    fn set(lists: &[&[&str]]) -> BTreeSet<String> {
        lists
            .iter()
            .flat_map(|l| l.iter().map(|s| (*s).to_owned()))
            .collect()
    }

    // Each struct is written out without `..Default::default()`: a field that a newer
    // k8s-openapi adds stops the build here, and the field lists must say what to do with it.
    #[test]
    fn the_field_lists_cover_every_field_of_the_kubernetes_types() {
        let t = || Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        let meta = ObjectMeta {
            annotations: Some(Default::default()),
            creation_timestamp: t(),
            deletion_grace_period_seconds: Some(1),
            deletion_timestamp: t(),
            finalizers: Some(vec![]),
            generate_name: Some(String::new()),
            generation: Some(1),
            labels: Some(Default::default()),
            managed_fields: Some(vec![]),
            name: Some(String::new()),
            namespace: Some(String::new()),
            owner_references: Some(vec![]),
            resource_version: Some(String::new()),
            self_link: Some(String::new()),
            uid: Some(String::new()),
        };
        assert_eq!(
            keys(&meta),
            set(&[&FIXED_METADATA, &SERVER_MANAGED_METADATA])
        );
        assert_eq!(
            keys(&meta),
            set(&[
                &FIXED_TEMPLATE_METADATA,
                &INERT_TEMPLATE_METADATA,
                &["annotations"]
            ])
        );
        let deployment = DeploymentSpec {
            min_ready_seconds: Some(1),
            paused: Some(false),
            progress_deadline_seconds: Some(1),
            replicas: Some(1),
            revision_history_limit: Some(1),
            selector: Default::default(),
            strategy: Some(Default::default()),
            template: Default::default(),
        };
        assert_eq!(
            keys(&deployment),
            set(&[&FIXED_DEPLOYMENT_SPEC, &["replicas", "template"]])
        );
        let autoscaler = HorizontalPodAutoscalerSpec {
            behavior: Some(Default::default()),
            max_replicas: 1,
            metrics: Some(vec![]),
            min_replicas: Some(1),
            scale_target_ref: Default::default(),
        };
        assert_eq!(
            keys(&autoscaler),
            set(&[&FIXED_AUTOSCALER_SPEC, &["minReplicas"]])
        );
        let node = NodeSpec {
            config_source: Some(Default::default()),
            external_id: Some(String::new()),
            pod_cidr: Some(String::new()),
            pod_cidrs: Some(vec![]),
            provider_id: Some(String::new()),
            taints: Some(vec![]),
            unschedulable: Some(true),
        };
        assert_eq!(keys(&node), set(&[&FIXED_NODE_SPEC, &["unschedulable"]]));
        let scale = ScaleSpec { replicas: Some(1) };
        assert_eq!(keys(&scale), set(&[&["replicas"]]));
    }

    #[test]
    fn every_patched_resource_is_matched_and_nothing_else() {
        let p = policy(&ReplicaBounds::from([("apps/checkout".into(), 10)])).unwrap();
        let rules = p
            .spec
            .unwrap()
            .match_constraints
            .unwrap()
            .resource_rules
            .unwrap();
        let matched: BTreeSet<(String, String)> = rules
            .iter()
            .map(|r| {
                (
                    r.api_groups.as_ref().unwrap()[0].clone(),
                    r.resources.as_ref().unwrap()[0].clone(),
                )
            })
            .collect();
        let patched: BTreeSet<(String, String)> = patched_resources()
            .into_iter()
            .map(|(g, r)| (g.to_owned(), r.to_owned()))
            .collect();
        assert_eq!(matched, patched);
        assert_eq!(
            patched.len(),
            GUARDED.len(),
            "every guarded resource is patched"
        );
        for r in &rules {
            assert!(
                r.operations
                    .as_ref()
                    .unwrap()
                    .contains(&"UPDATE".to_owned())
            );
        }
    }

    #[test]
    fn messages_are_distinct_and_name_the_bound() {
        let v = validations(&ReplicaBounds::from([("apps/checkout".into(), 7)]));
        let messages: BTreeSet<&str> = v.iter().map(|v| v.message.as_deref().unwrap()).collect();
        assert_eq!(
            messages.len(),
            v.len(),
            "each refusal says which check refused"
        );
        assert!(
            messages
                .iter()
                .filter(|m| m.contains("max_replicas (apps/checkout: 7)"))
                .count()
                >= 3
        );
        for m in messages {
            assert!(m.contains(REMEDIATION_GROUP), "{m}");
        }
    }

    #[test]
    fn the_policy_fails_closed_and_the_binding_denies() {
        let spec = policy(&ReplicaBounds::new()).unwrap().spec.unwrap();
        assert_eq!(spec.failure_policy.as_deref(), Some("Fail"));
        let condition = &spec.match_conditions.unwrap()[0].expression;
        assert!(condition.contains(REMEDIATION_GROUP), "{condition}");
        let b = binding().spec.unwrap();
        assert_eq!(b.policy_name.as_deref(), Some(POLICY));
        assert_eq!(b.validation_actions.unwrap(), ["Deny"]);
    }
}
