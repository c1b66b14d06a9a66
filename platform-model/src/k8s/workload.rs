//! A service's objects in its namespace, from its [`Service`] value: ServiceAccount,
//! Deployment, Service, Ingress (when it has a public endpoint), autoscaler, disruption budget,
//! network policy, and its ServiceMonitor and PrometheusRules. Generic: nothing here knows a
//! particular service.
//!
//! ```
//! use platform_model::k8s::workload;
//! use platform_model::service::{Service, Workload};
//!
//! let svc = Service::new("payments", "payments", Workload::new("registry/payments:1.0", 2, 6));
//! let m = workload::manifest(&svc)?;
//! let yaml = m.render()?;
//! assert!(yaml.contains("kind: Deployment") && yaml.contains("maxReplicas: 6"));
//! assert!(!yaml.contains("kind: Ingress")); // no public endpoint declared
//! # Ok::<(), platform_model::Error>(())
//! ```

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
    SecurityContext, Service as ServiceObject, ServiceAccount, ServicePort, ServiceSpec,
    TopologySpreadConstraint, Volume, VolumeMount,
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
use crate::monitoring::RuleSet;
use crate::service::Service;

/// Where the EKS Pod Identity agent listens (IPv4 and IPv6 link-local addresses, port 80), per
/// the EKS user guide ("EKS Pod Identity agent"): the pods must reach it for credentials.
pub const POD_IDENTITY_AGENT_CIDRS: [&str; 2] = ["169.254.170.23/32", "fd00:ec2::23/128"];
/// The user and group id the container runs as (not root, above the host's system range).
pub const RUN_AS: i64 = 10001;

fn app_labels(svc: &Service) -> BTreeMap<String, String> {
    BTreeMap::from([("app.kubernetes.io/name".to_owned(), svc.name().to_owned())])
}

fn selector(svc: &Service) -> LabelSelector {
    LabelSelector {
        match_labels: Some(app_labels(svc)),
        ..Default::default()
    }
}

fn q(s: &str) -> Quantity {
    Quantity(s.to_owned())
}

fn named_meta(svc: &Service) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    meta(
        svc.name(),
        svc.namespace(),
        [("app.kubernetes.io/name", svc.name())],
    )
}

/// A namespace for services, enforcing the `restricted` Pod Security Standard.
pub fn namespace(name: &str) -> Namespace {
    Namespace {
        metadata: meta(
            name,
            "",
            [("pod-security.kubernetes.io/enforce", "restricted")],
        ),
        ..Default::default()
    }
}

/// The pods' ServiceAccount. Its IAM role (if the service has one) is bound to it by an EKS Pod
/// Identity association in the cluster access stack, so it carries no annotation.
pub fn service_account(svc: &Service) -> ServiceAccount {
    ServiceAccount {
        metadata: named_meta(svc),
        // The Pod Identity agent hands out credentials; the pods never call the Kubernetes API.
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}

/// The Deployment: the workload's replicas, requests and limits, probes on its health path, non-root,
/// read-only root filesystem, every capability dropped, spread over zones and nodes, the chaos
/// the workload's environment variables.
pub fn deployment(svc: &Service) -> Deployment {
    let w = svc.workload();
    let env: Vec<EnvVar> = w
        .env
        .iter()
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: Some(value.clone()),
            ..Default::default()
        })
        .collect();
    let probe = |initial: i32, period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(w.health_path.clone()),
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
        label_selector: Some(selector(svc)),
        max_skew: skew,
        topology_key: key.to_owned(),
        when_unsatisfiable: when.to_owned(),
        ..Default::default()
    };
    let mut pod_meta = named_meta(svc);
    pod_meta.name = None;
    pod_meta.namespace = None;
    let container = Container {
        name: svc.name().to_owned(),
        image: Some(w.image.clone()),
        image_pull_policy: Some("Always".to_owned()),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_owned()),
            container_port: w.port,
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        env: Some(env),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_owned(), q(&w.requests.cpu)),
                ("memory".to_owned(), q(&w.requests.memory)),
            ])),
            limits: Some(BTreeMap::from([
                ("cpu".to_owned(), q(&w.limits.cpu)),
                ("memory".to_owned(), q(&w.limits.memory)),
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
    let mut m = named_meta(svc);
    m.annotations = w
        .immutable_tags_in
        .as_ref()
        .filter(|_| !w.image.contains("@sha256:"))
        .map(|repo| {
            BTreeMap::from([(
                "checkov.io/skip1".to_owned(),
                format!("CKV_K8S_43=The image is pinned by an immutable tag of {repo} (tag immutability on); the digest is not known at synth time"),
            )])
        });
    Deployment {
        metadata: m,
        spec: Some(DeploymentSpec {
            replicas: Some(w.replicas as i32),
            revision_history_limit: Some(5),
            selector: selector(svc),
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
                    service_account_name: Some(svc.name().to_owned()),
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
pub fn service(svc: &Service) -> ServiceObject {
    ServiceObject {
        metadata: named_meta(svc),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(app_labels(svc)),
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

/// The Ingress for the AWS Load Balancer Controller, when the workload has a public endpoint:
/// an internet-facing ALB that terminates TLS with the endpoint's certificate, redirects HTTP to
/// HTTPS, health-checks the health path, and attaches the WAF web ACL where one is given.
pub fn ingress(svc: &Service) -> Option<Ingress> {
    let w = svc.workload();
    let c = w.public.as_ref()?;
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
            w.health_path.clone(),
        ),
        ("alb.ingress.kubernetes.io/success-codes", "200".to_owned()),
        ("external-dns.alpha.kubernetes.io/hostname", c.host.clone()),
    ]);
    if let Some(acl) = &c.waf_acl_arn {
        annotations.insert("alb.ingress.kubernetes.io/wafv2-acl-arn", acl.clone());
    }
    let mut m = named_meta(svc);
    m.annotations = Some(
        annotations
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    );
    Some(Ingress {
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
                        path: Some(c.path.clone()),
                        path_type: "Prefix".to_owned(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: svc.name().to_owned(),
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
    })
}

/// The autoscaler (autoscaling/v2): from the workload's replicas to its maximum on CPU.
pub fn autoscaler(svc: &Service) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: named_meta(svc),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: svc.name().to_owned(),
            },
            min_replicas: Some(svc.workload().replicas as i32),
            max_replicas: svc.workload().max_replicas as i32,
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
pub fn disruption_budget(svc: &Service) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: named_meta(svc),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(selector(svc)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The network policy: the pods accept traffic only on their `http` port (from the load
/// balancer, which targets pod IPs, and from Prometheus) and reach only DNS, the Pod Identity
/// agent (credentials) and HTTPS (SSM through the VPC endpoints).
pub fn network_policy(svc: &Service) -> NetworkPolicy {
    let port = |protocol: &str, port: IntOrString| NetworkPolicyPort {
        protocol: Some(protocol.to_owned()),
        port: Some(port),
        ..Default::default()
    };
    NetworkPolicy {
        metadata: named_meta(svc),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(svc)),
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

fn monitoring_meta(
    svc: &Service,
    name: &str,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    meta(
        name,
        svc.namespace(),
        [
            ("app.kubernetes.io/name", svc.name()),
            (MONITORING_SELECTOR.0, MONITORING_SELECTOR.1),
        ],
    )
}

/// The ServiceMonitor: Prometheus scrapes the metrics path on the Service's `http` port.
pub fn service_monitor(svc: &Service) -> ServiceMonitor {
    let mut sm = ServiceMonitor::new(
        svc.name(),
        ServiceMonitorSpec {
            selector: ServiceMonitorSelector {
                match_labels: Some(app_labels(svc)),
                ..Default::default()
            },
            namespace_selector: Some(ServiceMonitorNamespaceSelector {
                match_names: Some(vec![svc.namespace().to_owned()]),
                ..Default::default()
            }),
            endpoints: vec![ServiceMonitorEndpoints {
                port: Some("http".to_owned()),
                path: Some(svc.workload().metrics_path.clone()),
                interval: Some("30s".to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    sm.metadata = monitoring_meta(svc, svc.name());
    sm
}

/// The PrometheusRule of one of the service's rule sets: the same groups as its rule file.
pub fn prometheus_rule(svc: &Service, set: &RuleSet) -> PrometheusRule {
    let mut r = PrometheusRule::new(&set.name, set.spec());
    r.metadata = monitoring_meta(svc, &set.name);
    r
}

/// A PrometheusRule of the platform's own (not a service's), in the monitoring namespace where
/// Prometheus loads it.
pub fn platform_prometheus_rule(set: &RuleSet) -> PrometheusRule {
    let mut r = PrometheusRule::new(&set.name, set.spec());
    r.metadata = meta(
        &set.name,
        crate::monitoring::helm::MONITORING_NAMESPACE,
        [
            ("app.kubernetes.io/name", set.name.as_str()),
            (MONITORING_SELECTOR.0, MONITORING_SELECTOR.1),
        ],
    );
    r
}

/// The service's core objects (validated by kubernetes-validate), after [`Service::check`].
/// Its namespace is [`namespace`]'s, written once for all the services in it.
pub fn manifest(svc: &Service) -> Result<Manifest, Error> {
    svc.check()?;
    let mut m = Manifest::new(&format!("k8s/{}.yaml", svc.name()));
    m.push(&service_account(svc))?;
    m.push(&deployment(svc))?;
    m.push(&service(svc))?;
    if let Some(ingress) = ingress(svc) {
        m.push(&ingress)?;
    }
    m.push(&autoscaler(svc))?;
    m.push(&disruption_budget(svc))?;
    m.push(&network_policy(svc))?;
    Ok(m)
}

/// The service's Prometheus operator resources: its ServiceMonitor and one PrometheusRule per
/// rule set.
pub fn monitoring_manifest(svc: &Service) -> Result<Manifest, Error> {
    let mut m = Manifest::new(&format!("k8s/{}-monitoring.yaml", svc.name()));
    m.push(&service_monitor(svc))?;
    for set in svc.rule_sets()? {
        m.push(&prometheus_rule(svc, &set))?;
    }
    Ok(m)
}

/// The namespaces of `services`, each once, in the order first declared.
pub fn namespaces_manifest(services: &[Service]) -> Result<Manifest, Error> {
    let mut m = Manifest::new("k8s/namespaces.yaml");
    let mut seen = std::collections::BTreeSet::new();
    for svc in services {
        if seen.insert(svc.namespace()) {
            m.push(&namespace(svc.namespace()))?;
        }
    }
    Ok(m)
}
