//! The service accounts whose pods get an IAM role through EKS Pod Identity. Each constant is
//! the one owner of its namespace and name: the cluster access stack's association is made from
//! it (`platform::identity`), and the Helm values read it.
//!
//! ```
//! use platform_model::k8s::identity::{ADDONS, EXTERNAL_DNS};
//!
//! assert_eq!(EXTERNAL_DNS.namespace, "kube-system");
//! assert!(ADDONS.iter().all(|a| !a.service_account.is_empty()));
//! // The Helm values name the same service account.
//! let v = platform_model::monitoring::helm::external_dns("example.com", "Z1", "us-east-1", "c");
//! assert_eq!(v.values["serviceAccount"]["name"], EXTERNAL_DNS.service_account);
//! ```

/// A service account whose pods get an IAM role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadIdentity {
    /// Construct id (the role is `<id>Role`, the association `<id>PodIdentity`).
    pub id: &'static str,
    /// The service account's namespace.
    pub namespace: &'static str,
    /// The service account's name.
    pub service_account: &'static str,
}

/// The AWS Load Balancer Controller.
pub const AWS_LOAD_BALANCER_CONTROLLER: WorkloadIdentity = WorkloadIdentity {
    id: "AwsLoadBalancerController",
    namespace: "kube-system",
    service_account: "aws-load-balancer-controller",
};
/// external-dns.
pub const EXTERNAL_DNS: WorkloadIdentity = WorkloadIdentity {
    id: "ExternalDns",
    namespace: "kube-system",
    service_account: "external-dns",
};
/// cert-manager (DNS-01 through Route 53).
pub const CERT_MANAGER: WorkloadIdentity = WorkloadIdentity {
    id: "CertManager",
    namespace: "cert-manager",
    service_account: "cert-manager",
};

/// The platform's add-ons with an IAM role (a service's pods get theirs from its
/// [`crate::service::Service`]: `<Name>Pods`, its own service account).
pub const ADDONS: [WorkloadIdentity; 3] =
    [AWS_LOAD_BALANCER_CONTROLLER, EXTERNAL_DNS, CERT_MANAGER];
