//! The cluster stack (`sre-cluster`), written when the settings say `[cluster.create]`: the EKS
//! cluster, its managed node group, the Pod Identity agent and the administrators' access
//! entries. It takes the VPC from [`Input`]s (the network stack's outputs, or an existing VPC's
//! ids from the settings).
//!
//! - **API endpoint**: private access always on; public access only when the settings list
//!   CIDRs. The control plane's extra security group admits HTTPS from the VPC's range only.
//! - **Secrets** are envelope-encrypted with the stack's own KMS key (rotation on); all five
//!   control-plane log types go to `/aws/eks/<name>/cluster`, created here with its retention
//!   and the same key.
//! - **Authentication mode `API`**: access entries only (no `aws-auth` ConfigMap); the creator
//!   gets no implicit admin. Administrators come from `cluster.create.admin_role_arns`;
//!   runbook_action's entry is in the identity stack (its role is made by the pipeline stack).
//! - **Nodes**: one managed node group (no fixed name, so a change of instance types or subnets
//!   can replace it; labelled with `pipeline.drain_node_labels`, which drain_node selects by)
//!   through a launch template that requires IMDSv2 with a
//!   **hop limit of 1**: a pod (one network hop further than the node) cannot reach the
//!   instance metadata service, so it cannot take the node role's credentials. Nothing on the
//!   nodes needs it from a pod: workloads get credentials from EKS Pod Identity (the agent runs
//!   on the host network), and the Load Balancer Controller is given its region and finds its
//!   VPC by tag instead of asking the metadata service.
//! - **Workload identity: EKS Pod Identity**, not IRSA (see [`super::identity`]): the
//!   `eks-pod-identity-agent` add-on is installed here; the roles and associations are in the
//!   identity stack, the same whether the cluster is created here or brought.

use super::topology::{CLUSTER_STACK, Input};
use crate::Error;
use crate::aws::Tags;
use crate::aws::iam::{ServiceRole, Statement};
use crate::aws::kms::{EncryptionKey, KeyProps};
use crate::cfn::{Attributes, Expr, Output, Template, Value};
use crate::resources::ec2::{LaunchTemplate, SecurityGroup, launch_template, security_group};
use crate::resources::eks::{
    AccessEntry, Addon, Cluster, Nodegroup, access_entry, cluster, nodegroup,
};
use crate::resources::logs::{LogGroup, log_group};
use crate::settings::{Architecture, ClusterCreate, Settings};

/// The IMDSv2 hop limit of every node (see the module's documentation).
pub const NODE_METADATA_HOP_LIMIT: i64 = 1;

/// Checks the cluster settings.
pub fn check(settings: &Settings, c: &ClusterCreate) -> Result<(), Error> {
    let mut problems = Vec::new();
    let v = c.version.split_once('.');
    if !v.is_some_and(|(major, minor)| {
        major == "1" && !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())
    }) {
        problems.push(format!(
            "cluster.create.version ({:?}) must be a Kubernetes minor version such as \"1.33\"",
            c.version
        ));
    }
    let n = &c.nodes;
    if !(n.min_size <= n.desired_size && n.desired_size <= n.max_size) {
        problems.push(format!(
            "cluster.create.nodes: min_size ({}) <= desired_size ({}) <= max_size ({}) does not hold",
            n.min_size, n.desired_size, n.max_size
        ));
    }
    if n.instance_types.is_empty() {
        problems.push("cluster.create.nodes.instance_types is empty".into());
    }
    for arn in &c.admin_role_arns {
        if !(arn.starts_with("arn:aws:iam::") && arn.contains(":role/")) {
            problems.push(format!(
                "cluster.create.admin_role_arns: {arn:?} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
            ));
        }
    }
    for cidr in &c.public_access_cidrs {
        if cidr.net().prefix_len() == 0 {
            problems.push(format!(
                "cluster.create.public_access_cidrs: {cidr} opens the API to the whole internet; list the operators' ranges, or none for a private API"
            ));
        }
    }
    // The node group carries drain_node's labels, so its selector picks exactly these nodes.
    // The group has no fixed name (a change of instance types or subnets replaces it, which
    // CloudFormation refuses for a named resource), so the selector cannot use EKS's
    // `eks.amazonaws.com/nodegroup` label; EKS reserves that prefix for itself.
    let labels = &settings.pipeline.drain_node_labels;
    if labels.is_empty() {
        problems.push(
            "pipeline.drain_node_labels is empty: the cluster stack labels its nodes with it, and drain_node needs it to select them".into(),
        );
    }
    for key in labels.keys() {
        if key.starts_with("eks.amazonaws.com/")
            || key.contains("kubernetes.io/")
            || key.contains("k8s.io/")
        {
            problems.push(format!(
                "pipeline.drain_node_labels: {key:?} is a label prefix EKS or Kubernetes reserves; the cluster stack puts these labels on its nodes, so use your own (e.g. \"sre-platform/pool\")"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Construct {
            construct: CLUSTER_STACK.into(),
            message: problems.join("; "),
        })
    }
}

/// The cluster stack.
#[allow(clippy::too_many_lines)]
pub fn cluster_stack(settings: &Settings, c: &ClusterCreate) -> Result<Template, Error> {
    check(settings, c)?;
    let tags = Tags(settings.tags.clone());
    let name = settings.cluster.name.as_str();
    let mut t = Template::new(
        CLUSTER_STACK,
        "EKS cluster: private API, encrypted secrets, control-plane logs, a managed node group (IMDSv2), Pod Identity agent, admin access entries",
    );
    let vpc_id = Input::VpcId.declare(&mut t);
    let vpc_cidr = Input::VpcCidr.declare(&mut t);
    let subnets = Input::PrivateSubnetIds.declare(&mut t);

    let key = EncryptionKey::new(
        &mut t,
        "Cluster",
        KeyProps {
            description: format!("EKS cluster {name}: Kubernetes secrets and control-plane logs"),
            alias: settings.name("sre-platform-cluster"),
            pending_window_days: settings.kms.pending_window_days,
            admin_role_names: settings.kms.admin_role_names.clone(),
            service_users: vec![],
            allow_logs: true,
            tags: tags.clone(),
        },
    );
    let logs = t.add(
        "ControlPlaneLogGroup",
        LogGroup::new()
            .log_group_name(format!("/aws/eks/{name}/cluster"))
            .retention_in_days(i64::from(c.log_retention_days))
            .kms_key_id(key.arn())
            .tags(tags.to_list(|k, v| log_group::Tag::new(k, v))),
    );

    let mut cluster_role = ServiceRole::new(
        "Cluster",
        "eks.amazonaws.com",
        "EKS control plane: manages the cluster's network interfaces and load balancers; encrypts secrets with the cluster key",
    );
    cluster_role.attach_managed(Expr::sub(
        "arn:${AWS::Partition}:iam::aws:policy/AmazonEKSClusterPolicy",
    ));
    cluster_role.grant(
        Statement::allow([
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:CreateGrant",
        ])
        .on(key.arn()),
    );
    let cluster_role_arn = cluster_role.arn();
    cluster_role.finish(&mut t);

    let api_sg = t.add(
        "ApiSecurityGroup",
        SecurityGroup::new("EKS API: HTTPS from the VPC only (runbook_action, nodes, endpoints)")
            .vpc_id(vpc_id.reference())
            .security_group_ingress(vec![
                security_group::Ingress::new("tcp")
                    .cidr_ip(vpc_cidr.reference())
                    .from_port(443)
                    .to_port(443)
                    .description("HTTPS to the Kubernetes API from the VPC"),
            ])
            .security_group_egress(vec![
                security_group::Egress::new("tcp")
                    .cidr_ip(vpc_cidr.reference())
                    .from_port(443)
                    .to_port(443)
                    .description("Replies and webhooks stay in the VPC"),
            ])
            .tags(tags.to_list(|k, v| security_group::Tag::new(k, v))),
    );

    let public = !c.public_access_cidrs.is_empty();
    let mut vpc_config = cluster::ResourcesVpcConfig::new(subnets.reference())
        .security_group_ids(vec![Value::from(api_sg.group_id())])
        .endpoint_private_access(true)
        .endpoint_public_access(public);
    if public {
        vpc_config = vpc_config.public_access_cidrs(
            c.public_access_cidrs
                .iter()
                .map(|x| Value::from(x.to_string()))
                .collect::<Vec<_>>(),
        );
    }
    let eks = t.add_with(
        "Cluster",
        Cluster::new(vpc_config, cluster_role_arn)
            .name(name)
            .version(c.version.as_str())
            .encryption_config(vec![
                cluster::EncryptionConfig::new()
                    .provider(cluster::Provider::new().key_arn(key.arn()))
                    .resources(vec![Value::from("secrets".to_owned())]),
            ])
            .logging(
                cluster::Logging::new().cluster_logging(
                    cluster::ClusterLogging::new().enabled_types(
                        [
                            cluster::Type::Api,
                            cluster::Type::Audit,
                            cluster::Type::Authenticator,
                            cluster::Type::ControllerManager,
                            cluster::Type::Scheduler,
                        ]
                        .into_iter()
                        .map(|ty| cluster::LoggingTypeConfig::new().type_(ty))
                        .collect::<Vec<_>>(),
                    ),
                ),
            )
            .access_config(
                cluster::AccessConfig::new()
                    .authentication_mode(cluster::AuthenticationMode::Api)
                    .bootstrap_cluster_creator_admin_permissions(false),
            )
            .deletion_protection(c.deletion_protection)
            // Standard support only: when a version leaves it, EKS upgrades the control plane
            // instead of billing extended support (6x the hourly price).
            .upgrade_policy(
                cluster::UpgradePolicy::new().support_type(cluster::SupportType::Standard),
            )
            .tags(tags.to_list(|k, v| cluster::Tag::new(k, v))),
        Attributes::new().depends_on(&logs),
    );

    t.add(
        "PodIdentityAgent",
        Addon::new("eks-pod-identity-agent", eks.reference()),
    );

    let mut node_role = ServiceRole::new(
        "Nodes",
        "ec2.amazonaws.com",
        "EKS nodes: join the cluster, pull images, run the VPC CNI",
    );
    for policy in [
        "AmazonEKSWorkerNodePolicy",
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonEKS_CNI_Policy",
    ] {
        node_role.attach_managed(Expr::sub(format!(
            "arn:${{AWS::Partition}}:iam::aws:policy/{policy}"
        )));
    }
    let node_role_arn = node_role.arn();
    node_role.finish(&mut t);

    let lt = t.add(
        "NodeLaunchTemplate",
        LaunchTemplate::new(
            launch_template::LaunchTemplateData::new()
                .metadata_options(
                    launch_template::MetadataOptions::new()
                        .http_endpoint(launch_template::HttpEndpoint::Enabled)
                        .http_tokens(launch_template::HttpTokens::Required)
                        .http_put_response_hop_limit(NODE_METADATA_HOP_LIMIT),
                )
                .block_device_mappings(vec![
                    launch_template::BlockDeviceMapping::new()
                        .device_name("/dev/xvda")
                        .ebs(
                            launch_template::Ebs::new()
                                .volume_size(i64::from(c.nodes.disk_gib))
                                .volume_type(launch_template::VolumeType::Gp3)
                                .encrypted(true)
                                .delete_on_termination(true),
                        ),
                ]),
        )
        .launch_template_name(format!("{name}-nodes")),
    );
    let ami = match c.nodes.architecture {
        Architecture::Arm64 => nodegroup::AmiType::Al2023Arm64Standard,
        Architecture::X86_64 => nodegroup::AmiType::Al2023X8664Standard,
    };
    t.add(
        "Nodes",
        Nodegroup::new(eks.reference(), node_role_arn, subnets.reference())
            .labels(settings.pipeline.drain_node_labels.clone())
            .ami_type(ami)
            .instance_types(
                c.nodes
                    .instance_types
                    .iter()
                    .map(|i| Value::from(i.clone()))
                    .collect::<Vec<_>>(),
            )
            .scaling_config(
                nodegroup::ScalingConfig::new()
                    .min_size(i64::from(c.nodes.min_size))
                    .max_size(i64::from(c.nodes.max_size))
                    .desired_size(i64::from(c.nodes.desired_size)),
            )
            .update_config(nodegroup::UpdateConfig::new().max_unavailable(1.0))
            .launch_template(
                nodegroup::LaunchTemplateSpecification::new()
                    .id(lt.reference())
                    .version(lt.latest_version_number()),
            )
            .tags(settings.tags.clone()),
    );

    for (i, arn) in c.admin_role_arns.iter().enumerate() {
        t.add(
            &format!("Admin{}AccessEntry", i + 1),
            AccessEntry::new(eks.reference(), arn.as_str())
                .type_("STANDARD")
                .access_policies(vec![access_entry::AccessPolicy::new(
                    access_entry::AccessScope::new(access_entry::Type::Cluster),
                    Expr::sub(
                        "arn:${AWS::Partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                    ),
                )])
                .tags(tags.to_list(|k, v| access_entry::Tag::new(k, v))),
        );
    }

    t.output(
        Input::ClusterName.output_key(),
        Output::new(eks.reference()).description("The cluster's name"),
    );
    t.output(
        "ClusterArn",
        Output::new(eks.arn()).description("The cluster's ARN"),
    );
    t.output(
        "ClusterSecurityGroupId",
        Output::new(eks.cluster_security_group_id())
            .description("The group EKS made for the control plane and the managed nodes"),
    );
    Ok(t)
}
