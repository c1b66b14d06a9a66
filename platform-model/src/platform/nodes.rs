//! The platform's own alerts, on the cluster's nodes (not on a service): `NodeNotReady`, from
//! the kube-state-metrics that kube-prometheus-stack ships, whose runbook drains the node
//! (`drain_node`, the one action that is the platform's and not a service's). The rule's
//! `runbook_target` is the firing node (`{{ $labels.node }}`, rendered by Prometheus).

use crate::Error;
use crate::contract::Severity;
use crate::contract::runbook::{Action, Target};
use crate::monitoring::{Alert, AlertCase, RuleSet};
use crate::settings::Settings;

/// The rule set's name (`monitoring/rules/platform-nodes.rules.yaml`, PrometheusRule
/// `platform-nodes` in the monitoring namespace).
pub const NODE_RULES: &str = "platform-nodes";

/// The node alerts, with their promtool cases.
pub fn node_rules(settings: &Settings) -> Result<RuleSet, Error> {
    let minutes = settings.cluster.node_not_ready_minutes;
    let ready = |node: &str| {
        format!(
            "kube_node_status_condition{{condition=\"Ready\",status=\"true\",node=\"{node}\",job=\"kube-state-metrics\"}}"
        )
    };
    let node = "ip-10-20-1-10.ec2.internal";
    let other = "ip-10-20-2-10.ec2.internal";
    let alert = Alert::new(
        "NodeNotReady",
        "kube_node_status_condition{condition=\"Ready\",status=\"true\",job=\"kube-state-metrics\"} == 0",
    )
    .for_(format!("{minutes}m"))
    .severity(Severity::Warning)
    .summary("node {{ $labels.node }} is NotReady")
    .description(format!(
        "The kubelet of {{{{ $labels.node }}}} has not reported Ready for {minutes} minutes. The runbook drains the node (cordon, then evictions that respect PodDisruptionBudgets), so its pods run elsewhere."
    ))
    .runbook(
        Action::DrainNode,
        Target {
            namespace: String::new(),
            name: "{{ $labels.node }}".into(),
        },
    )
    .case(
        AlertCase::fires(
            format!("a node NotReady for more than {minutes} minutes"),
            format!("{}m", minutes + 5),
            [("node", node), ("condition", "Ready"), ("status", "true"), ("job", "kube-state-metrics")],
        )
        .series(ready(node), format!("0x{}", minutes + 10))
        .series(ready(other), format!("1x{}", minutes + 10)),
    )
    .case(
        AlertCase::quiet(
            format!("a node NotReady for less than {minutes} minutes"),
            format!("{}m", minutes + 5),
        )
        .series(
            ready(node),
            format!("1x{} 0x{}", minutes + 4, minutes.saturating_sub(1)),
        ),
    );
    RuleSet::from_alerts(NODE_RULES, "nodes", vec![alert])
}
