//! Workload identities: the IAM roles the cluster's pods use, bound to their service accounts
//! through EKS Pod Identity.
//!
//! **Why Pod Identity and not IRSA.** A Pod Identity role trusts one service principal
//! (`pods.eks.amazonaws.com`), scoped here to this account and this cluster; the binding to a
//! namespace and service account is an `AWS::EKS::PodIdentityAssociation` in the same template,
//! so neither side types the other's name. IRSA would need the cluster's OIDC provider (its
//! issuer URL is only known once the cluster exists) in every trust policy, and an annotation
//! holding the role's ARN on every ServiceAccount: a value that crosses from a stack into
//! Kubernetes YAML, typed twice. Every chart here (and the AWS SDK for Rust that checkout uses)
//! reads Pod Identity credentials; the cluster needs the `eks-pod-identity-agent` add-on.
//!
//! Each add-on's [`crate::k8s::identity::WorkloadIdentity`] is one owner: the association is
//! made from it, and the Helm values' `serviceAccount.name` reads it. A service's pods get a
//! role (`<Service>PodsRole`) when it declares permissions or a degraded-mode flag (read of
//! its own parameter), bound to its own service account.
//!
//! ```
//! use platform_model::cfn::Template;
//! use platform_model::platform::{Input, checkout, identity::add_workload_identities};
//! use platform_model::settings::{Environment, Settings};
//!
//! let settings = Settings::embedded(Environment::Dev).unwrap();
//! let mut t = Template::new("access", "workload roles");
//! let cluster = Input::ClusterName.declare(&mut t);
//! add_workload_identities(&mut t, &settings, &[checkout(&settings)?], &cluster)?;
//! let json = t.to_json()?;
//! // checkout's pods (its degraded-mode flag) and the three add-ons.
//! let associations = json["Resources"].as_object().unwrap().values()
//!     .filter(|r| r["Type"] == "AWS::EKS::PodIdentityAssociation").count();
//! assert_eq!(associations, 4);
//! assert_eq!(json["Resources"]["CheckoutPodsPodIdentity"]["Properties"]["ServiceAccount"], "checkout");
//! # Ok::<(), platform_model::Error>(())
//! ```

use serde_json::Value as Json;

use crate::aws::iam::{ServiceRole, Statement};
use crate::cfn::{Expr, ParamRef, Template, Value};
use crate::k8s::identity::{ADDONS, AWS_LOAD_BALANCER_CONTROLLER, CERT_MANAGER, EXTERNAL_DNS};
use crate::resources::eks::PodIdentityAssociation;
use crate::service::Service;
use crate::settings::Settings;

/// The AWS Load Balancer Controller's IAM policy as its project publishes it
/// (`docs/install/iam_policy.json` at tag v2.13.2, the app version of chart 1.13.2; Apache-2.0,
/// kubernetes-sigs/aws-load-balancer-controller). Vendored byte for byte; [`alb_controller_policy`]
/// turns it into typed statements.
pub const ALB_CONTROLLER_POLICY_JSON: &str =
    include_str!("vendor/aws-load-balancer-controller-v2.13.2.iam_policy.json");

/// The vendored policy as typed statements; `arn:aws:` resources become partition-aware.
pub fn alb_controller_policy() -> Result<Vec<Statement>, crate::Error> {
    let err = |message: String| crate::Error::Construct {
        construct: "aws-load-balancer-controller IAM policy".into(),
        message,
    };
    let doc: Json =
        serde_json::from_str(ALB_CONTROLLER_POLICY_JSON).map_err(|e| err(e.to_string()))?;
    let strings = |v: &Json| -> Vec<String> {
        match v {
            Json::String(s) => vec![s.clone()],
            Json::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    for (i, s) in doc["Statement"]
        .as_array()
        .ok_or_else(|| err("no Statement list".into()))?
        .iter()
        .enumerate()
    {
        if s["Effect"] != "Allow" {
            return Err(err(format!("statement {i} is not an Allow")));
        }
        let mut st = Statement::allow(strings(&s["Action"]));
        for r in strings(&s["Resource"]) {
            st = match r.strip_prefix("arn:aws:") {
                Some(rest) => st.on(Expr::sub(format!("arn:${{AWS::Partition}}:{rest}"))),
                None => st.on(r),
            };
        }
        if let Some(cond) = s["Condition"].as_object() {
            for (op, keys) in cond {
                for (key, value) in keys.as_object().into_iter().flatten() {
                    st = st.when(op, key, value.clone());
                }
            }
        }
        out.push(st);
    }
    Ok(out)
}

/// The workload roles and their Pod Identity associations, added to `t`.
pub fn add_workload_identities(
    t: &mut Template,
    settings: &Settings,
    services: &[Service],
    cluster_name: &ParamRef,
) -> Result<(), crate::Error> {
    let cluster = settings.cluster.name.as_str();
    let cluster_ref = cluster_name.reference();
    let cluster_arn = Expr::sub(format!(
        "arn:${{AWS::Partition}}:eks:${{AWS::Region}}:${{AWS::AccountId}}:cluster/${{{}}}",
        cluster_name.logical_id().as_str()
    ));
    let zone = Expr::sub(format!(
        "arn:${{AWS::Partition}}:route53:::hostedzone/{}",
        settings.dns.hosted_zone_id
    ));
    for svc in services {
        let mut statements = Vec::new();
        if let Some(parameter) = svc.degraded_mode_parameter() {
            statements.push(Statement::allow(["ssm:GetParameter"]).on(Expr::sub(format!(
                "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{parameter}"
            ))));
        }
        statements.extend(svc.pod_permissions().iter().cloned());
        if statements.is_empty() {
            continue;
        }
        let id = format!("{}Pods", svc.construct_id());
        let mut role = ServiceRole::for_pod_identity(
            &id,
            &format!(
                "Pods of service account {}/{} (EKS Pod Identity, cluster {cluster})",
                svc.namespace(),
                svc.name()
            ),
            cluster_arn.clone(),
            svc.namespace(),
            svc.name(),
        );
        for st in statements {
            role.grant(st);
        }
        let arn = role.arn();
        role.finish(t);
        t.add(
            &format!("{id}PodIdentity"),
            PodIdentityAssociation::new(
                cluster_ref.clone(),
                svc.namespace(),
                Value::from(arn),
                svc.name(),
            ),
        );
    }
    for identity in ADDONS {
        let mut role = ServiceRole::for_pod_identity(
            identity.id,
            &format!(
                "Pods of service account {}/{} (EKS Pod Identity, cluster {cluster})",
                identity.namespace, identity.service_account
            ),
            cluster_arn.clone(),
            identity.namespace,
            identity.service_account,
        );
        match identity {
            AWS_LOAD_BALANCER_CONTROLLER => {
                for s in alb_controller_policy()? {
                    role.grant(s);
                }
                role.checkov_skip(
                    "CKV_AWS_111",
                    "The AWS Load Balancer Controller's published policy: it creates load balancers, target groups and security groups whose ids are not known in advance; writes are conditioned on its cluster tags",
                );
                role.checkov_skip(
                    "CKV_AWS_290",
                    "The AWS Load Balancer Controller's published policy (see CKV_AWS_111)",
                );
                role.checkov_skip(
                    "CKV_AWS_355",
                    "The AWS Load Balancer Controller's published policy: Describe* and WAF/Shield calls accept no narrower resource",
                );
            }
            EXTERNAL_DNS => {
                role.grant(
                    Statement::allow([
                        "route53:ChangeResourceRecordSets",
                        "route53:ListResourceRecordSets",
                        "route53:ListTagsForResource",
                    ])
                    .on(zone.clone()),
                );
                role.grant(Statement::allow(["route53:ListHostedZones"]).on("*"));
                role.checkov_skip(
                    "CKV_AWS_355",
                    "route53:ListHostedZones accepts no resource narrower than *; changes are limited to the environment's zone",
                );
            }
            CERT_MANAGER => {
                role.grant(
                    Statement::allow([
                        "route53:ChangeResourceRecordSets",
                        "route53:ListResourceRecordSets",
                    ])
                    .on(zone.clone()),
                );
                role.grant(
                    Statement::allow(["route53:GetChange"])
                        .on(Expr::sub("arn:${AWS::Partition}:route53:::change/*")),
                );
                role.grant(Statement::allow(["route53:ListHostedZonesByName"]).on("*"));
                role.checkov_skip(
                    "CKV_AWS_355",
                    "route53:ListHostedZonesByName accepts no resource narrower than *; DNS-01 records are limited to the environment's zone",
                );
            }
            other => {
                return Err(crate::Error::Construct {
                    construct: format!("workload identity {}", other.id),
                    message: "no permissions declared".into(),
                });
            }
        }
        let arn = role.arn();
        role.finish(t);
        t.add(
            &format!("{}PodIdentity", identity.id),
            PodIdentityAssociation::new(
                cluster_ref.clone(),
                identity.namespace,
                Value::from(arn),
                identity.service_account,
            ),
        );
    }
    Ok(())
}
