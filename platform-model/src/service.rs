//! A service on the platform, as one value: its workload, its alerts with their runbooks, its
//! SLOs and dashboards, the runbook actions it allows (with their bounds) and the AWS
//! permissions of its pods.
//!
//! A team declares a [`Service`] in its own crate and hands it to the platform
//! (`platform::Platform::service`); the platform derives everything else from it:
//!
//! | from the service | the platform writes |
//! |---|---|
//! | workload | `k8s/<name>.yaml`: ServiceAccount, Deployment, Service, Ingress (with a public endpoint), autoscaler, disruption budget, network policy |
//! | alerts, SLOs | `monitoring/rules/*.rules.yaml` with their promtool tests, `k8s/<name>-monitoring.yaml` (ServiceMonitor, PrometheusRules) |
//! | dashboards | `dashboards/*.json` and their ConfigMaps |
//! | allowed actions | one remediation Role in the service's namespace with exactly what those actions need; the runbook's branch for this target, with its bounds (`max_replicas`, the degraded-mode parameter) in the `ActionRequest`; the admission policy's replica bound |
//! | degraded mode | the SSM parameter `/<name>/degraded_mode` (pipeline stack), read by the pods' role, written by runbook_action's |
//! | pod permissions | an IAM role bound to the service account by EKS Pod Identity |
//!
//! [`Service::check`] refuses what would not fit together: an alert whose runbook targets
//! another service or uses an action the service does not allow, `enable_degraded_mode`
//! without a degraded-mode flag, bounds below the replicas.
//!
//! # Example: the payments team's service
//!
//! ```
//! use platform_model::contract::{Severity, runbook::Action};
//! use platform_model::monitoring::{Alert, AlertCase, Sli, Slo};
//! use platform_model::service::{Service, Workload};
//!
//! let payments = Service::new(
//!     "payments",
//!     "payments",
//!     Workload::new("111111111111.dkr.ecr.us-east-1.amazonaws.com/payments:1.4.2", 2, 6),
//! )
//! .allow(Action::RestartDeployment);
//! let down = Alert::new("PaymentsDown", r#"up{namespace="payments",job="payments"} == 0"#)
//!     .for_("2m")
//!     .severity(Severity::Critical)
//!     .summary("payments instance {{ $labels.instance }} is down")
//!     .description("The runbook restarts the Deployment.")
//!     .runbook(Action::RestartDeployment, payments.target())
//!     .case(AlertCase::fires("down", "5m",
//!             [("namespace", "payments"), ("job", "payments"), ("instance", "a")])
//!         .series(r#"up{namespace="payments",job="payments",instance="a"}"#, "0x10"))
//!     .case(AlertCase::quiet("up", "5m")
//!         .series(r#"up{namespace="payments",job="payments",instance="a"}"#, "1x10"));
//! let payments = payments.alert(down).slo(Slo::new(
//!     "payments-availability",
//!     "PaymentsAvailability",
//!     0.999,
//!     Sli::BadOverTotal {
//!         bad: r#"payments_errors_total{namespace="payments"}"#.into(),
//!         total: r#"payments_requests_total{namespace="payments"}"#.into(),
//!     },
//! ));
//! payments.check()?;
//! assert_eq!(payments.rule_sets()?.len(), 2); // the alerts, the SLO
//! assert_eq!(payments.bounds(Action::RestartDeployment).unwrap().max_replicas, None);
//!
//! // An alert that scales it is refused until the service allows scaling.
//! let scale = Alert::new("PaymentsSlow", "vector(1)")
//!     .runbook(Action::ScaleDeployment, payments.target());
//! let err = payments.clone().alert(scale).check().unwrap_err().to_string();
//! assert!(err.contains("PaymentsSlow") && err.contains("scale_deployment"), "{err}");
//! # Ok::<(), platform_model::Error>(())
//! ```

use std::collections::BTreeSet;

use crate::Error;
use crate::aws::iam::Statement;
use crate::contract::runbook::{Action, Target};
use crate::monitoring::dashboards::Dashboard;
use crate::monitoring::{Alert, RuleSet, Slo};

/// The container's port (named `http`); `/metrics` is served there too.
pub const DEFAULT_PORT: i32 = 8080;

/// A path the Ingress routes to the service from the internet, behind TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicEndpoint {
    /// The host name (external-dns creates its record in the platform's zone).
    pub host: String,
    /// The path prefix routed (only the API: `/metrics` and the probes stay inside).
    pub path: String,
    /// The ACM certificate the load balancer terminates TLS with.
    pub certificate_arn: String,
    /// A WAFv2 web ACL to attach, if any.
    pub waf_acl_arn: Option<String>,
}

/// CPU and memory of one container (Kubernetes quantities).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// CPU, e.g. `100m`.
    pub cpu: String,
    /// Memory, e.g. `128Mi`.
    pub memory: String,
}

/// What runs: one container image behind a Service, scaled between `replicas` and
/// `max_replicas` on CPU. The Kubernetes objects are [`crate::k8s::workload`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Image reference (pinned by an immutable tag or a digest).
    pub image: String,
    /// Container port, named `http`.
    pub port: i32,
    /// Replicas at rest (the autoscaler's minimum); at least 2, so a node drain can proceed.
    pub replicas: u32,
    /// The autoscaler's maximum; also the bound of `scale_deployment` and of the admission
    /// policy for this Deployment.
    pub max_replicas: u32,
    /// Replicas `scale_deployment` may set without a human: aiming higher waits for an
    /// approval (`None`: up to `max_replicas` runs alone).
    pub approval_above_replicas: Option<u32>,
    /// Environment variables of the container, in order.
    pub env: Vec<(String, String)>,
    /// Requests.
    pub requests: Resources,
    /// Limits.
    pub limits: Resources,
    /// Path of the liveness and readiness probes (and of the load balancer's health check).
    pub health_path: String,
    /// Path Prometheus scrapes.
    pub metrics_path: String,
    /// The route from the internet, if any.
    pub public: Option<PublicEndpoint>,
    /// The image's repository, when its tags are immutable (an ECR repository with tag
    /// immutability on): a tag then pins the image as a digest would. `None` for an image
    /// pinned by digest, or one whose tags may move (checkov's CKV_K8S_43 then applies).
    pub immutable_tags_in: Option<String>,
}

impl Workload {
    /// A workload with the platform's defaults: port 8080, 100m/128Mi requests, 500m/256Mi
    /// limits, probes on `/healthz`, metrics on `/metrics`, no public route, no environment.
    pub fn new(image: impl Into<String>, replicas: u32, max_replicas: u32) -> Workload {
        Workload {
            image: image.into(),
            port: DEFAULT_PORT,
            replicas,
            max_replicas,
            approval_above_replicas: None,
            env: Vec::new(),
            requests: Resources {
                cpu: "100m".into(),
                memory: "128Mi".into(),
            },
            limits: Resources {
                cpu: "500m".into(),
                memory: "256Mi".into(),
            },
            health_path: "/healthz".into(),
            metrics_path: "/metrics".into(),
            public: None,
            immutable_tags_in: None,
        }
    }

    /// Declares that the image's repository (named for the reader) keeps its tags immutable.
    pub fn immutable_tags_in(mut self, repository: impl Into<String>) -> Workload {
        self.immutable_tags_in = Some(repository.into());
        self
    }

    /// Scaling above `replicas` waits for a human's approval.
    pub fn approval_above_replicas(mut self, replicas: u32) -> Workload {
        self.approval_above_replicas = Some(replicas);
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Workload {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Routes `endpoint` from the internet.
    pub fn public(mut self, endpoint: PublicEndpoint) -> Workload {
        self.public = Some(endpoint);
        self
    }
}

/// A degraded-mode flag: an SSM parameter the service reads and `enable_degraded_mode` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DegradedMode {
    /// The parameter's value when the stack creates it.
    pub initially: bool,
}

/// The bounds the runbook passes with an action on this service (in its `ActionRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionBounds {
    /// `scale_deployment`: the most replicas it may set.
    pub max_replicas: Option<u32>,
    /// `enable_degraded_mode`: the parameter it sets.
    pub degraded_mode_parameter: Option<String>,
    /// `scale_deployment`: replicas it may set without a human's approval (`None`: up to
    /// `max_replicas`).
    pub approval_above_replicas: Option<u32>,
}

/// One service on the platform. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Service {
    name: String,
    namespace: String,
    workload: Workload,
    alerts: Vec<Alert>,
    slos: Vec<Slo>,
    dashboards: Vec<Dashboard>,
    actions: BTreeSet<Action>,
    degraded_mode: Option<DegradedMode>,
    pod_permissions: Vec<Statement>,
    runbook_base: Option<String>,
}

impl Service {
    /// A service `name` (Deployment, Service, service account, `job` label) in `namespace`.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>, workload: Workload) -> Self {
        Service {
            name: name.into(),
            namespace: namespace.into(),
            workload,
            alerts: Vec::new(),
            slos: Vec::new(),
            dashboards: Vec::new(),
            actions: BTreeSet::new(),
            degraded_mode: None,
            pod_permissions: Vec::new(),
            runbook_base: None,
        }
    }

    /// Links each alert's rule to its runbook page at `<base>/<AlertName>.md` (the
    /// `runbook_url` annotation; [`crate::monitoring::runbook_page`]). The platform sets this
    /// from its settings for every service it runs.
    #[must_use]
    pub fn runbook_pages_at(mut self, base: impl Into<String>) -> Self {
        self.runbook_base = Some(base.into());
        self
    }

    /// Adds an alert (its runbook, if any, must target this service with an allowed action).
    pub fn alert(mut self, alert: Alert) -> Self {
        self.alerts.push(alert);
        self
    }

    /// Adds alerts.
    pub fn alerts(mut self, alerts: impl IntoIterator<Item = Alert>) -> Self {
        self.alerts.extend(alerts);
        self
    }

    /// Adds an SLO (its recording rules and burn-rate alerts).
    pub fn slo(mut self, slo: Slo) -> Self {
        self.slos.push(slo);
        self
    }

    /// Adds a Grafana dashboard.
    pub fn dashboard(mut self, dashboard: Dashboard) -> Self {
        self.dashboards.push(dashboard);
        self
    }

    /// Allows a runbook action on this service's Deployment (`drain_node` is the platform's,
    /// on nodes, and is refused by [`Service::check`]).
    pub fn allow(mut self, action: Action) -> Self {
        self.actions.insert(action);
        self
    }

    /// Gives the service a degraded-mode flag, and allows `enable_degraded_mode` on it.
    pub fn degraded_mode(mut self, initially: bool) -> Self {
        self.degraded_mode = Some(DegradedMode { initially });
        self.actions.insert(Action::EnableDegradedMode);
        self
    }

    /// Grants the pods an AWS permission (through their Pod Identity role).
    pub fn pod_permission(mut self, statement: Statement) -> Self {
        self.pod_permissions.push(statement);
        self
    }

    /// Sets the workload (for declarations that need the service's own names in it, such as
    /// [`Service::degraded_mode_parameter`] in an environment variable).
    pub fn with_workload(mut self, workload: Workload) -> Self {
        self.workload = workload;
        self
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Its workload.
    pub fn workload(&self) -> &Workload {
        &self.workload
    }

    /// Its alerts.
    pub fn alert_list(&self) -> &[Alert] {
        &self.alerts
    }

    /// Its SLOs.
    pub fn slos(&self) -> &[Slo] {
        &self.slos
    }

    /// Its dashboards.
    pub fn dashboards(&self) -> &[Dashboard] {
        &self.dashboards
    }

    /// The runbook actions it allows.
    pub fn actions(&self) -> &BTreeSet<Action> {
        &self.actions
    }

    /// Its degraded-mode flag, if any.
    pub fn degraded_mode_flag(&self) -> Option<DegradedMode> {
        self.degraded_mode
    }

    /// The AWS permissions of its pods.
    pub fn pod_permissions(&self) -> &[Statement] {
        &self.pod_permissions
    }

    /// The runbook target naming this service's Deployment.
    pub fn target(&self) -> Target {
        Target {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// The degraded-mode parameter's name, `/<name>/degraded_mode` (this function is its one
    /// owner: the pipeline stack creates it, the pods' role reads it, runbook_action's writes
    /// it, the runbook passes it in the `ActionRequest`).
    pub fn degraded_mode_parameter(&self) -> Option<String> {
        self.degraded_mode
            .map(|_| format!("/{}/degraded_mode", self.name))
    }

    /// Construct id of things made for this service (`payments-api` -> `PaymentsApi`).
    pub fn construct_id(&self) -> String {
        crate::cfn::LogicalId::from_path(&[&self.name])
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default()
    }

    /// What the runbook passes with `action` on this service; `None` if it is not allowed.
    pub fn bounds(&self, action: Action) -> Option<ActionBounds> {
        if !self.actions.contains(&action) {
            return None;
        }
        Some(ActionBounds {
            max_replicas: (action == Action::ScaleDeployment).then_some(self.workload.max_replicas),
            degraded_mode_parameter: (action == Action::EnableDegradedMode)
                .then(|| self.degraded_mode_parameter())
                .flatten(),
            approval_above_replicas: (action == Action::ScaleDeployment)
                .then_some(self.workload.approval_above_replicas)
                .flatten(),
        })
    }

    /// The rule sets: the alerts (one file named after the service) and one per SLO.
    pub fn rule_sets(&self) -> Result<Vec<RuleSet>, Error> {
        let mut out = Vec::new();
        if !self.alerts.is_empty() {
            out.push(RuleSet::from_alerts(
                &self.name,
                &self.name,
                self.alerts.clone(),
            )?);
        }
        for slo in &self.slos {
            out.push(slo.rule_set()?);
        }
        if let Some(base) = &self.runbook_base {
            let url = |alert: &str| crate::monitoring::runbook_page::page_url(base, alert);
            for set in &mut out {
                set.link_runbooks(&url);
            }
        }
        Ok(out)
    }

    /// Checks that the parts fit, naming the service, the field and the problem.
    pub fn check(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        for (field, value) in [("name", &self.name), ("namespace", &self.namespace)] {
            if !is_dns_label(value) {
                problems.push(format!(
                    "{field} ({value:?}) must be a DNS label (lowercase letters, digits, '-', at most 63)"
                ));
            }
        }
        let w = &self.workload;
        if w.replicas < 2 {
            problems.push(format!(
                "workload.replicas ({}) must be at least 2: the PodDisruptionBudget allows one pod down, so a single replica would stop node drains",
                w.replicas
            ));
        }
        if w.max_replicas < w.replicas {
            problems.push(format!(
                "workload.max_replicas ({}) is below workload.replicas ({})",
                w.max_replicas, w.replicas
            ));
        }
        if let Some(bound) = w.approval_above_replicas
            && !(w.replicas..w.max_replicas).contains(&bound)
        {
            problems.push(format!(
                "workload.approval_above_replicas ({bound}) must be from workload.replicas ({}) to below workload.max_replicas ({}): scaling up to it runs alone, above it waits for a human",
                w.replicas, w.max_replicas
            ));
        }
        if w.image.trim().is_empty() || w.image.contains(char::is_whitespace) {
            problems.push(format!(
                "workload.image ({:?}) must be an image reference",
                w.image
            ));
        }
        if !(1..=65535).contains(&w.port) {
            problems.push(format!("workload.port ({}) must be 1-65535", w.port));
        }
        if let Some(p) = &w.public {
            if !is_dns_name(&p.host) {
                problems.push(format!(
                    "workload.public.host ({:?}) must be a lowercase DNS name",
                    p.host
                ));
            }
            if !p.path.starts_with('/') {
                problems.push(format!(
                    "workload.public.path ({:?}) must start with /",
                    p.path
                ));
            }
            if !p.certificate_arn.starts_with("arn:aws:acm:") {
                problems.push(format!(
                    "workload.public.certificate_arn ({:?}) must be an ACM certificate ARN (arn:aws:acm:...)",
                    p.certificate_arn
                ));
            }
            if let Some(acl) = &p.waf_acl_arn
                && !acl.starts_with("arn:aws:wafv2:")
            {
                problems.push(format!(
                    "workload.public.waf_acl_arn ({acl:?}) must be a WAFv2 web ACL ARN (arn:aws:wafv2:...)"
                ));
            }
        }
        if self.actions.contains(&Action::DrainNode) {
            problems.push(
                "drain_node acts on nodes, not on a service: the platform runs it, a service cannot allow it"
                    .into(),
            );
        }
        if self.actions.contains(&Action::EnableDegradedMode) && self.degraded_mode.is_none() {
            problems.push(
                "enable_degraded_mode is allowed but the service has no degraded-mode flag (Service::degraded_mode)"
                    .into(),
            );
        }
        let target = self.target();
        for a in &self.alerts {
            if let Some(r) = a.runbook_ref() {
                if r.target != target {
                    problems.push(format!(
                        "alert {} runs {} on {}/{}, not on this service ({}/{})",
                        a.name(),
                        r.action.as_str(),
                        r.target.namespace,
                        r.target.name,
                        target.namespace,
                        target.name
                    ));
                } else if !self.actions.contains(&r.action) {
                    problems.push(format!(
                        "alert {} runs {} but the service does not allow it (Service::allow)",
                        a.name(),
                        r.action.as_str()
                    ));
                }
            }
        }
        let mut boards = BTreeSet::new();
        for d in &self.dashboards {
            if !boards.insert(&d.name) {
                problems.push(format!("dashboard {} is declared twice", d.name));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Construct {
                construct: format!("service {}/{}", self.namespace, self.name),
                message: problems.join("; "),
            })
        }
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_dns_name(s: &str) -> bool {
    s.len() <= 253 && s.split('.').count() >= 2 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc() -> Service {
        Service::new("pay-api", "payments", Workload::new("img:1", 2, 4))
    }

    #[test]
    fn bounds_follow_the_declaration() {
        let s = svc().allow(Action::ScaleDeployment).degraded_mode(false);
        assert_eq!(s.construct_id(), "PayApi");
        assert_eq!(
            s.bounds(Action::ScaleDeployment).unwrap().max_replicas,
            Some(4)
        );
        assert_eq!(
            s.bounds(Action::EnableDegradedMode)
                .unwrap()
                .degraded_mode_parameter
                .as_deref(),
            Some("/pay-api/degraded_mode")
        );
        assert_eq!(s.bounds(Action::RestartDeployment), None);
        s.check().unwrap();
    }

    #[test]
    fn what_does_not_fit_is_refused_naming_the_field() {
        let mut w = Workload::new("", 1, 0);
        w.public = Some(PublicEndpoint {
            host: "Bad".into(),
            path: "x".into(),
            certificate_arn: "c".into(),
            waf_acl_arn: Some("w".into()),
        });
        let e = Service::new("Pay", "p", w)
            .allow(Action::DrainNode)
            .allow(Action::EnableDegradedMode)
            .check()
            .unwrap_err()
            .to_string();
        for needle in [
            "name (\"Pay\")",
            "workload.replicas",
            "workload.max_replicas",
            "workload.image",
            "workload.public.host",
            "workload.public.path",
            "workload.public.certificate_arn",
            "workload.public.waf_acl_arn",
            "drain_node",
            "no degraded-mode flag",
        ] {
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn an_alert_on_another_target_is_refused() {
        let other = Target {
            namespace: "apps".into(),
            name: "checkout".into(),
        };
        let e = svc()
            .allow(Action::RestartDeployment)
            .alert(Alert::new("X", "vector(1)").runbook(Action::RestartDeployment, other))
            .check()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("alert X runs restart_deployment on apps/checkout"),
            "{e}"
        );
    }
}
