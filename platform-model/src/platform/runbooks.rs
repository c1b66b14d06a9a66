//! The runbook pages of the environment (`out/<env>/runbooks/<AlertName>.md`): one per alert
//! of every service, from the same `Alert` its rule comes from, with what the platform does
//! about it as the environment's settings configure it (guards, verification, undo).

use std::collections::BTreeSet;

use super::{Artifact, ArtifactKind};
use crate::Error;
use crate::contract::runbook::Action;
use crate::contract::runtime::runbook_action as action_env;
use crate::k8s::rbac::actions_by_namespace;
use crate::monitoring::runbook_page::{Automation, Page, page_path};
use crate::monitoring::target_label;
use crate::service::Service;
use crate::settings::Settings;

/// Every alert's page.
pub fn runbook_pages(settings: &Settings, services: &[Service]) -> Result<Vec<Artifact>, Error> {
    let p = &settings.pipeline;
    let namespaces: Vec<String> = actions_by_namespace(services).into_keys().collect();
    let rate_limit = action_env::RATE_LIMIT_SECONDS.default.unwrap_or("600");
    let table = super::pipeline::incidents_table_name(settings);
    let machine = super::pipeline::runbook_machine_name(settings);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    // The platform's node alerts: drain_node, guarded by labels and the cordon budget.
    let nodes = super::cluster::node_rule_set(settings)?;
    for alert in &nodes.alerts {
        seen.insert(alert.name().to_owned());
        let mut page = Page::new(alert, "nodes", "cluster", &nodes.rule_file_path())
            .dashboard("dashboards/sre-incidents.json")
            .check("Which node, and is it the node or what runs on it? `kubectl describe node <node>` (conditions, pressure, events).")
            .check("Is the node group replacing it (the Auto Scaling group's activity), or is a whole zone affected?")
            .check(format!(
                "The runbook's execution: Step Functions, state machine `{machine}`, the execution named after the incident."
            ));
        if let Some(rb) = alert.runbook_ref() {
            let (does, undo) = drain_text(settings);
            page = page.automation(Automation {
                action: rb.action.as_str().to_owned(),
                target: "[node]".to_owned(),
                does,
                guards: vec![
                    format!(
                        "The node must carry {} (`DRAIN_NODE_SELECTOR`; the cluster stack labels its node group so), and the drain is refused while {} node(s) are already cordoned.",
                        labels_text(settings),
                        p.max_cordoned_nodes
                    ),
                    format!(
                        "The rate limit: one action per target every {rate_limit} s across incidents (a conditional write on `{table}`); a refused action is escalated."
                    ),
                    "Evictions respect PodDisruptionBudgets; a pod that cannot be evicted in time leaves the drain incomplete, and the incident is escalated.".to_owned(),
                    approval_text(settings, rb.action, None),
                ],
                verify: verify_text(settings),
                undo,
            });
        }
        out.push(Artifact {
            path: page_path(alert.name()),
            kind: ArtifactKind::RunbookPage,
            items: 1,
            contents: page.render()?,
        });
    }
    for svc in services {
        let mut dashboards: Vec<String> = svc
            .dashboards()
            .iter()
            .map(|d| format!("dashboards/{}.json", d.name))
            .collect();
        dashboards.push("dashboards/sre-incidents.json".into());
        for set in svc.rule_sets()? {
            // One page per alert name: an SLO's burn-rate alert has a rule per window pair.
            let mut names: Vec<&str> = Vec::new();
            for a in &set.alerts {
                if !names.contains(&a.name()) {
                    names.push(a.name());
                }
            }
            for name in names {
                let mut same = set.alerts.iter().filter(|a| a.name() == name);
                let Some(alert) = same.next() else { continue };
                if !seen.insert(alert.name().to_owned()) {
                    return Err(Error::Construct {
                        construct: page_path(alert.name()),
                        message: format!(
                            "two services or rule sets have alerts named {}: each alert name has one runbook page",
                            alert.name()
                        ),
                    });
                }
                let mut page = Page::new(alert, svc.name(), svc.namespace(), &set.rule_file_path());
                for other in same {
                    page = page.rule(other);
                }
                for d in &dashboards {
                    page = page.dashboard(d.clone());
                }
                if let Some(rb) = alert.runbook_ref() {
                    page = page.check(action_text(settings, svc, rb.action).2);
                }
                page = page
                    .check(format!(
                        "The service's dashboard: is it this service, or something it calls? `kubectl -n {} get pods,events` and the pods' logs.",
                        svc.namespace()
                    ))
                    .check(format!(
                        "The incident's record: `aws dynamodb query --table-name {table} --key-condition-expression 'incident_id = :i' --expression-attribute-values '{{\":i\":{{\"S\":\"<incident id>\"}}}}'` (status, actions taken, who acted)."
                    ))
                    .check(format!(
                        "The runbook's execution: Step Functions, state machine `{machine}`, the execution named after the incident."
                    ));
                if let Some(rb) = alert.runbook_ref() {
                    let target = target_label(&rb.target);
                    let (does, undo, _) = action_text(settings, svc, rb.action);
                    let mut guards = vec![
                        format!(
                            "The namespace allow-list: runbook_action acts only in {} (`ALLOWED_NAMESPACES`, the same namespaces as the Roles of `k8s/rbac.yaml`).",
                            namespaces.join(", ")
                        ),
                        format!(
                            "The rate limit: one action per target every {rate_limit} s across incidents (a conditional write on `{table}`); a refused action is escalated."
                        ),
                        approval_text(
                            settings,
                            rb.action,
                            svc.bounds(rb.action)
                                .and_then(|b| b.approval_above_replicas),
                        ),
                    ];
                    if let Some(bound) = svc.bounds(rb.action).and_then(|b| b.max_replicas) {
                        guards.push(format!(
                            "The replica bound: at most {bound} replicas (the request's `max_replicas`; the admission policy `k8s/admission.yaml` refuses more from the remediation group)."
                        ));
                    }
                    page = page.automation(Automation {
                        action: rb.action.as_str().to_owned(),
                        target,
                        does,
                        guards,
                        verify: verify_text(settings),
                        undo,
                    });
                }
                out.push(Artifact {
                    path: page_path(alert.name()),
                    kind: ArtifactKind::RunbookPage,
                    items: 1,
                    contents: page.render()?,
                });
            }
        }
    }
    Ok(out)
}

/// What an action does, how to undo it, and what to check first, for `svc`.
fn action_text(
    settings: &Settings,
    svc: &Service,
    action: Action,
) -> (String, Vec<String>, String) {
    let ns = svc.namespace();
    let name = svc.name();
    let w = svc.workload();
    match action {
        Action::ScaleDeployment => (
            format!(
                "scales Deployment `{ns}/{name}` up, never past {} replicas.",
                w.max_replicas
            ),
            vec![format!(
                "Once the cause is fixed the autoscaler brings it back down (its minimum is {}); to do it at once: `kubectl -n {ns} scale deployment {name} --replicas={}`.",
                w.replicas, w.replicas
            )],
            "Is the load real (traffic on the dashboard) or a slowdown upstream that more replicas will not fix?".to_owned(),
        ),
        Action::RestartDeployment => (
            format!(
                "restarts Deployment `{ns}/{name}` the way `kubectl rollout restart` does (a rolling restart; the PodDisruptionBudget keeps one pod down at most)."
            ),
            vec!["Nothing to undo: the pods were replaced with the same spec. If the restart did not help, look for the cause in the old pods' logs (`kubectl logs --previous`).".to_owned()],
            format!("Did the new pods become ready (`kubectl -n {ns} rollout status deployment {name}`)?"),
        ),
        Action::EnableDegradedMode => {
            let parameter = svc
                .degraded_mode_parameter()
                .unwrap_or_else(|| format!("/{name}/degraded_mode"));
            (
                format!(
                    "sets the SSM parameter `{parameter}` to `true`; the running pods read it again within seconds and skip their optional work (no restart)."
                ),
                vec![
                    format!(
                        "Once the cause is fixed, turn it off by hand (nothing does it automatically): `aws ssm put-parameter --region {} --name {parameter} --value false --overwrite`.",
                        settings.region
                    ),
                    "The degraded-mode alert notifies at every Alertmanager repeat while the flag stays on.".to_owned(),
                ],
                format!("Is `{parameter}` `true`, and has the error rate dropped on the dashboard since?"),
            )
        }
        Action::DrainNode => {
            let (does, undo) = drain_text(settings);
            (
                does,
                undo,
                "Which node, and is it the node or its workloads (`kubectl describe node`)?".to_owned(),
            )
        }
    }
}

/// drain_node's labels as `` `k=v` `` items.
fn labels_text(settings: &Settings) -> String {
    settings
        .pipeline
        .drain_node_labels
        .iter()
        .map(|(k, v)| format!("`{k}={v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What drain_node does, and how to undo it.
fn drain_text(settings: &Settings) -> (String, Vec<String>) {
    (
        format!(
            "cordons the node and evicts its pods for at most {} s.",
            settings.pipeline.drain_timeout_seconds
        ),
        vec!["Once the node is healthy again: `kubectl uncordon <node>` (or let the node group replace it).".to_owned()],
    )
}

/// How the runbook verifies an action, with the environment's stabilization and deadline.
fn verify_text(settings: &Settings) -> String {
    format!(
        "after {} s it reads the incident again; resolved means remediated, and if it is not resolved {} s after the action the incident is escalated (status `escalated`; `incident.escalated` pages the on-call engineer and reads as a sentence on the notifications topic).",
        settings.pipeline.stabilization_seconds, settings.pipeline.remediation_deadline_seconds
    )
}

/// The approval guard of an action: its [`Gate`](crate::contract::runbook::Gate), the bound
/// and the deadline from settings, and where the decision is recorded.
fn approval_text(settings: &Settings, action: Action, bound: Option<u32>) -> String {
    use crate::contract::runbook::Gate;
    let deadline = settings.pipeline.approval.deadline_seconds;
    let how = format!(
        "The runbook sends approve / deny links to the notification topic and waits {deadline} s (`pipeline.approval.deadline_seconds`); no decision by then escalates. Each decision, with who made it, is on the incident's record (`{status}`, `{by}`) and in the audit log (`{decided}`).",
        status = crate::contract::approval::record::STATUS,
        by = crate::contract::approval::record::DECIDED_BY,
        decided = crate::contract::events::DetailType::ApprovalDecided.as_str(),
    );
    match (action.gate(), bound) {
        (Gate::Never, _) | (Gate::AboveReplicas, None) => Gate::Never.describe().to_owned(),
        (Gate::AboveReplicas, Some(bound)) => format!(
            "Approval: setting more than {bound} replicas (`approval_above_replicas`) waits for a human; up to {bound} it runs alone. {how}"
        ),
        (Gate::Always, _) => {
            format!("Approval: a human approves every run before it starts. {how}")
        }
    }
}
