//! The checkout service's objects in namespace `apps`, from the environment's settings.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HTTPGetAction, Namespace,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile,
    SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec, TopologySpreadConstraint,
    Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, IPBlock, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyEgressRule,
    NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
    ServiceBackendPort,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kcr_monitoring_coreos_com::v1::prometheusrules::PrometheusRule;
use kcr_monitoring_coreos_com::v1::servicemonitors::{
    ServiceMonitor, ServiceMonitorEndpoints, ServiceMonitorNamespaceSelector,
    ServiceMonitorSelector, ServiceMonitorSpec,
};

use super::{MONITORING_SELECTOR, Manifest, meta};
use crate::Error;
use crate::contract::runtime::{Binary, EnvBuilder, RuntimeError, checkout as vars};
use crate::monitoring::{APPS_NAMESPACE, CHECKOUT, RuleSet};
use crate::settings::Settings;

/// The container port (named `http`) the service listens on; `/metrics` is served there too.
pub const CHECKOUT_PORT: i32 = 8080;
/// The only path the Ingress routes: the service's API.
pub const PUBLIC_PATH: &str = "/checkout";
/// The path of the liveness and readiness probes and of the load balancer's health check.
pub const HEALTH_PATH: &str = "/healthz";
/// Where the EKS Pod Identity agent listens (IPv4 and IPv6 link-local addresses, port 80), per
/// the EKS user guide ("EKS Pod Identity agent"): the pods must reach it for credentials.
pub const POD_IDENTITY_AGENT_CIDRS: [&str; 2] = ["169.254.170.23/32", "fd00:ec2::23/128"];
/// The user and group id the container runs as (not root, above the host's system range).
pub const RUN_AS: i64 = 10001;

fn app_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("app.kubernetes.io/name".to_owned(), CHECKOUT.to_owned())])
}

fn selector() -> LabelSelector {
    LabelSelector {
        match_labels: Some(app_labels()),
        ..Default::default()
    }
}

fn q(s: &str) -> Quantity {
    Quantity(s.to_owned())
}

/// What the checkout pods need from outside the cluster's files: the degraded-mode parameter's
/// name, from the construct that creates it (the pipeline stack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRuntime {
    /// The SSM parameter holding degraded mode.
    pub degraded_mode_parameter: String,
}

/// The container's environment, written through the runtime contract: only variables the
/// service reads, never one it must not get (`DEGRADED_MODE` is for local runs only).
pub fn container_env(
    settings: &Settings,
    runtime: &CheckoutRuntime,
) -> Result<Vec<EnvVar>, RuntimeError> {
    let c = &settings.checkout;
    let env = EnvBuilder::<String>::new(Binary::Checkout)
        .set(&vars::PORT, CHECKOUT_PORT.to_string())?
        .set(&vars::LATENCY_MS, c.latency_ms.to_string())?
        .set(&vars::ERROR_RATE, c.error_rate.to_string())?
        .set(
            &vars::DEGRADED_MODE_SSM_PARAMETER,
            runtime.degraded_mode_parameter.clone(),
        )?
        .set(
            &vars::DEGRADED_MODE_REFRESH_SECONDS,
            c.degraded_mode_refresh_seconds.to_string(),
        )?
        .set(&vars::AWS_REGION, settings.region.to_string())?
        .build()?;
    Ok(env
        .into_iter()
        .map(|(name, value)| EnvVar {
            name,
            value: Some(value),
            ..Default::default()
        })
        .collect())
}

fn named_meta(name: &str) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    meta(name, APPS_NAMESPACE, [("app.kubernetes.io/name", CHECKOUT)])
}

/// The namespace `apps`.
pub fn namespace() -> Namespace {
    Namespace {
        metadata: meta(
            APPS_NAMESPACE,
            "",
            [("pod-security.kubernetes.io/enforce", "restricted")],
        ),
        ..Default::default()
    }
}

/// The pods' ServiceAccount. Its IAM role (read of the degraded-mode parameter) is bound to it
/// by an EKS Pod Identity association in the cluster access stack, so it carries no annotation.
pub fn service_account() -> ServiceAccount {
    ServiceAccount {
        metadata: named_meta(CHECKOUT),
        // The Pod Identity agent hands out credentials; the pods never call the Kubernetes API.
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}

/// The Deployment: replicas from settings, requests and limits, probes on `/healthz`, non-root,
/// read-only root filesystem, every capability dropped, spread over zones and nodes, the chaos
/// knobs and the degraded-mode parameter as environment variables ([`container_env`]).
pub fn deployment(settings: &Settings, env: Vec<EnvVar>) -> Deployment {
    let c = &settings.checkout;
    let probe = |initial: i32, period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(HEALTH_PATH.to_owned()),
            port: IntOrString::String("http".to_owned()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(initial),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(failures),
        ..Default::default()
    };
    let spread = |key: &str, skew: i32, when: &str| TopologySpreadConstraint {
        label_selector: Some(selector()),
        max_skew: skew,
        topology_key: key.to_owned(),
        when_unsatisfiable: when.to_owned(),
        ..Default::default()
    };
    let mut pod_meta = named_meta(CHECKOUT);
    pod_meta.name = None;
    pod_meta.namespace = None;
    let container = Container {
        name: CHECKOUT.to_owned(),
        image: Some(c.image.clone()),
        image_pull_policy: Some("Always".to_owned()),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_owned()),
            container_port: CHECKOUT_PORT,
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        env: Some(env),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_owned(), q("100m")),
                ("memory".to_owned(), q("128Mi")),
            ])),
            limits: Some(BTreeMap::from([
                ("cpu".to_owned(), q("500m")),
                ("memory".to_owned(), q("256Mi")),
            ])),
            ..Default::default()
        }),
        liveness_probe: Some(probe(10, 10, 3)),
        readiness_probe: Some(probe(2, 5, 2)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Default::default()
            }),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".to_owned(),
            mount_path: "/tmp".to_owned(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let mut m = named_meta(CHECKOUT);
    m.annotations = Some(BTreeMap::from([(
        "checkov.io/skip1".to_owned(),
        "CKV_K8S_43=The image is pinned by an immutable tag of the ECR repository (tag immutability on); the digest is not known at synth time".to_owned(),
    )]));
    Deployment {
        metadata: m,
        spec: Some(DeploymentSpec {
            replicas: Some(c.replicas as i32),
            revision_history_limit: Some(5),
            selector: selector(),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::String("25%".to_owned())),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(pod_meta),
                spec: Some(PodSpec {
                    service_account_name: Some(CHECKOUT.to_owned()),
                    automount_service_account_token: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(RUN_AS),
                        run_as_group: Some(RUN_AS),
                        fs_group: Some(RUN_AS),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".to_owned(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    containers: vec![container],
                    volumes: Some(vec![Volume {
                        name: "tmp".to_owned(),
                        empty_dir: Some(EmptyDirVolumeSource {
                            size_limit: Some(q("64Mi")),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }]),
                    termination_grace_period_seconds: Some(30),
                    topology_spread_constraints: Some(vec![
                        spread("topology.kubernetes.io/zone", 1, "ScheduleAnyway"),
                        spread("kubernetes.io/hostname", 1, "ScheduleAnyway"),
                    ]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Service (port 80 to the pods' `http` port); the ServiceMonitor scrapes it.
pub fn service() -> Service {
    Service {
        metadata: named_meta(CHECKOUT),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(app_labels()),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: 80,
                target_port: Some(IntOrString::String("http".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Ingress for the AWS Load Balancer Controller: an internet-facing ALB that terminates TLS
/// with the settings' certificate, redirects HTTP to HTTPS, health-checks `/healthz`, and
/// attaches the WAF web ACL where the settings give one.
pub fn ingress(settings: &Settings) -> Ingress {
    let c = &settings.checkout;
    let mut annotations = BTreeMap::from([
        (
            "alb.ingress.kubernetes.io/scheme",
            "internet-facing".to_owned(),
        ),
        ("alb.ingress.kubernetes.io/target-type", "ip".to_owned()),
        (
            "alb.ingress.kubernetes.io/listen-ports",
            r#"[{"HTTP": 80}, {"HTTPS": 443}]"#.to_owned(),
        ),
        ("alb.ingress.kubernetes.io/ssl-redirect", "443".to_owned()),
        (
            "alb.ingress.kubernetes.io/certificate-arn",
            c.certificate_arn.clone(),
        ),
        (
            "alb.ingress.kubernetes.io/ssl-policy",
            "ELBSecurityPolicy-TLS13-1-2-2021-06".to_owned(),
        ),
        (
            "alb.ingress.kubernetes.io/healthcheck-path",
            HEALTH_PATH.to_owned(),
        ),
        ("alb.ingress.kubernetes.io/success-codes", "200".to_owned()),
        ("external-dns.alpha.kubernetes.io/hostname", c.host.clone()),
    ]);
    if let Some(acl) = &c.waf_acl_arn {
        annotations.insert("alb.ingress.kubernetes.io/wafv2-acl-arn", acl.clone());
    }
    let mut m = named_meta(CHECKOUT);
    m.annotations = Some(
        annotations
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    );
    Ingress {
        metadata: m,
        spec: Some(IngressSpec {
            ingress_class_name: Some("alb".to_owned()),
            tls: Some(vec![IngressTLS {
                hosts: Some(vec![c.host.clone()]),
                ..Default::default()
            }]),
            rules: Some(vec![IngressRule {
                host: Some(c.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    // Only the API: `/metrics`, `/readyz` and `/healthz` stay inside the cluster
                    // (the load balancer's health check reaches the pods directly).
                    paths: vec![HTTPIngressPath {
                        path: Some(PUBLIC_PATH.to_owned()),
                        path_type: "Prefix".to_owned(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: CHECKOUT.to_owned(),
                                port: Some(ServiceBackendPort {
                                    name: Some("http".to_owned()),
                                    ..Default::default()
                                }),
                            }),
                            ..Default::default()
                        },
                    }],
                }),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The autoscaler (autoscaling/v2): from the settings' replicas to their maximum on CPU.
pub fn autoscaler(settings: &Settings) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: named_meta(CHECKOUT),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: CHECKOUT.to_owned(),
            },
            min_replicas: Some(settings.checkout.replicas as i32),
            max_replicas: settings.checkout.max_replicas as i32,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(70),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The disruption budget: at most one pod down at a time (node drains wait for it).
pub fn disruption_budget() -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: named_meta(CHECKOUT),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(selector()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The network policy: the pods accept traffic only on their `http` port (from the load
/// balancer, which targets pod IPs, and from Prometheus) and reach only DNS, the Pod Identity
/// agent (credentials) and HTTPS (SSM through the VPC endpoints).
pub fn network_policy() -> NetworkPolicy {
    let port = |protocol: &str, port: IntOrString| NetworkPolicyPort {
        protocol: Some(protocol.to_owned()),
        port: Some(port),
        ..Default::default()
    };
    NetworkPolicy {
        metadata: named_meta(CHECKOUT),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector()),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                ports: Some(vec![port("TCP", IntOrString::String("http".to_owned()))]),
                ..Default::default()
            }]),
            egress: Some(vec![
                NetworkPolicyEgressRule {
                    to: Some(vec![NetworkPolicyPeer {
                        namespace_selector: Some(LabelSelector {
                            match_labels: Some(BTreeMap::from([(
                                "kubernetes.io/metadata.name".to_owned(),
                                "kube-system".to_owned(),
                            )])),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }]),
                    ports: Some(vec![
                        port("UDP", IntOrString::Int(53)),
                        port("TCP", IntOrString::Int(53)),
                    ]),
                },
                // The EKS Pod Identity agent (a host-network DaemonSet on the node's link-local
                // address) hands out the pods' AWS credentials over plain HTTP on port 80.
                NetworkPolicyEgressRule {
                    to: Some(
                        POD_IDENTITY_AGENT_CIDRS
                            .iter()
                            .map(|cidr| NetworkPolicyPeer {
                                ip_block: Some(IPBlock {
                                    cidr: (*cidr).to_owned(),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    ports: Some(vec![port("TCP", IntOrString::Int(80))]),
                },
                NetworkPolicyEgressRule {
                    ports: Some(vec![port("TCP", IntOrString::Int(443))]),
                    ..Default::default()
                },
            ]),
        }),
    }
}

fn monitoring_meta(name: &str) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    meta(
        name,
        APPS_NAMESPACE,
        [
            ("app.kubernetes.io/name", CHECKOUT),
            (MONITORING_SELECTOR.0, MONITORING_SELECTOR.1),
        ],
    )
}

/// The ServiceMonitor: Prometheus scrapes `/metrics` on the Service's `http` port.
pub fn service_monitor() -> ServiceMonitor {
    let mut sm = ServiceMonitor::new(
        CHECKOUT,
        ServiceMonitorSpec {
            selector: ServiceMonitorSelector {
                match_labels: Some(app_labels()),
                ..Default::default()
            },
            namespace_selector: Some(ServiceMonitorNamespaceSelector {
                match_names: Some(vec![APPS_NAMESPACE.to_owned()]),
                ..Default::default()
            }),
            endpoints: vec![ServiceMonitorEndpoints {
                port: Some("http".to_owned()),
                path: Some("/metrics".to_owned()),
                interval: Some("30s".to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    sm.metadata = monitoring_meta(CHECKOUT);
    sm
}

/// The PrometheusRule of a rule set: the same groups as its rule file.
pub fn prometheus_rule(set: &RuleSet) -> PrometheusRule {
    let mut r = PrometheusRule::new(&set.name, set.spec());
    r.metadata = monitoring_meta(&set.name);
    r
}

/// Checks the settings the checkout objects are built from, naming the key and what was
/// expected.
pub fn check_settings(settings: &Settings) -> Result<(), Error> {
    let c = &settings.checkout;
    let mut problems = Vec::new();
    if c.max_replicas < c.replicas {
        problems.push(format!(
            "checkout.max_replicas ({}) is below checkout.replicas ({})",
            c.max_replicas, c.replicas
        ));
    }
    if c.replicas < 2 {
        problems.push(format!(
            "checkout.replicas ({}) must be at least 2: the PodDisruptionBudget allows one pod down, so a single replica would stop node drains",
            c.replicas
        ));
    }
    if !(0.0..=1.0).contains(&c.error_rate) {
        problems.push(format!(
            "checkout.error_rate ({}) must be within 0.0-1.0",
            c.error_rate
        ));
    }
    if c.image.trim().is_empty() || c.image.contains(char::is_whitespace) {
        problems.push(format!(
            "checkout.image ({:?}) must be an image reference",
            c.image
        ));
    }
    if !c.certificate_arn.starts_with("arn:aws:acm:") {
        problems.push(format!(
            "checkout.certificate_arn ({:?}) must be an ACM certificate ARN (arn:aws:acm:...)",
            c.certificate_arn
        ));
    }
    if let Some(acl) = &c.waf_acl_arn
        && !acl.starts_with("arn:aws:wafv2:")
    {
        problems.push(format!(
            "checkout.waf_acl_arn ({acl:?}) must be a WAFv2 web ACL ARN (arn:aws:wafv2:...)"
        ));
    }
    let host_ok = c.host.len() <= 253
        && c.host.split('.').count() >= 2
        && c.host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !host_ok {
        problems.push(format!(
            "checkout.host ({:?}) must be a lowercase DNS name",
            c.host
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Construct {
            construct: format!("checkout settings of {}", settings.environment),
            message: problems.join("; "),
        })
    }
}

/// The checkout service's core objects (validated by kubernetes-validate).
pub fn checkout_manifest(
    settings: &Settings,
    runtime: &CheckoutRuntime,
) -> Result<Manifest, Error> {
    check_settings(settings)?;
    let env = container_env(settings, runtime).map_err(|e| Error::Construct {
        construct: "k8s/checkout.yaml Deployment environment".into(),
        message: e.to_string(),
    })?;
    let mut m = Manifest::new("k8s/checkout.yaml");
    m.push(&namespace())?;
    m.push(&service_account())?;
    m.push(&deployment(settings, env))?;
    m.push(&service())?;
    m.push(&ingress(settings))?;
    m.push(&autoscaler(settings))?;
    m.push(&disruption_budget())?;
    m.push(&network_policy())?;
    Ok(m)
}

/// The checkout service's Prometheus operator resources: its ServiceMonitor and one
/// PrometheusRule per rule set.
pub fn monitoring_manifest(rule_sets: &[RuleSet]) -> Result<Manifest, Error> {
    let mut m = Manifest::new("k8s/checkout-monitoring.yaml");
    m.push(&service_monitor())?;
    for set in rule_sets {
        m.push(&prometheus_rule(set))?;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Environment;

    #[test]
    fn inconsistent_settings_are_refused_naming_the_keys() {
        let mut s = Settings::embedded(Environment::Prod).unwrap();
        s.checkout.max_replicas = 1;
        s.checkout.certificate_arn = "cert".into();
        s.checkout.host = "Checkout".into();
        let runtime = CheckoutRuntime {
            degraded_mode_parameter: "/checkout/degraded_mode".into(),
        };
        let e = checkout_manifest(&s, &runtime).unwrap_err().to_string();
        for key in [
            "checkout.max_replicas",
            "checkout.certificate_arn",
            "checkout.host",
        ] {
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn the_container_gets_the_flag_s_parameter_and_never_degraded_mode_itself() {
        let s = Settings::embedded(Environment::Dev).unwrap();
        let runtime = CheckoutRuntime {
            degraded_mode_parameter: "/x/flag".into(),
        };
        let env = container_env(&s, &runtime).unwrap();
        let get = |n: &str| {
            env.iter()
                .find(|e| e.name == n)
                .and_then(|e| e.value.clone())
        };
        assert_eq!(
            get("DEGRADED_MODE_SSM_PARAMETER").as_deref(),
            Some("/x/flag")
        );
        assert_eq!(get("DEGRADED_MODE"), None);
        assert_eq!(get("DEGRADED_MODE_REFRESH_SECONDS").as_deref(), Some("15"));
    }
}
