//! The network stack (`sre-network`), written when the settings say `[network.create]`: a VPC
//! with public and private subnets across the settings' availability zones, an internet
//! gateway, NAT gateways (one per zone, or one), route tables, VPC flow logs, a gateway
//! endpoint for S3 and DynamoDB and interface endpoints for what the private workloads call.
//!
//! Subnets: the VPC's range is cut into eight equal blocks (a `/16` into `/19`s); private
//! subnet *i* is block *i*, public subnet *i* block *4 + i* (so at most four zones). Public
//! subnets carry `kubernetes.io/role/elb`, private ones `kubernetes.io/role/internal-elb`: the
//! AWS Load Balancer Controller discovers them by these tags. The VPC's `Name` tag
//! ([`vpc_name`]) is how the controller finds the VPC without the instance metadata service
//! (the nodes' hop limit keeps pods away from it).
//!
//! ```
//! use platform_model::platform::network_stack;
//! use platform_model::settings::{Environment, NetworkSettings, Settings};
//!
//! let settings = Settings::embedded(Environment::Prod).unwrap();
//! let NetworkSettings::Create(network) = &settings.network else { unreachable!() };
//! let json = network_stack(&settings, network)?.to_json()?;
//! let subnets = json["Resources"].as_object().unwrap().values()
//!     .filter(|r| r["Type"] == "AWS::EC2::Subnet").count();
//! assert_eq!(subnets, 2 * network.availability_zones.len());
//! # Ok::<(), platform_model::Error>(())
//! ```

use super::topology::{Input, NETWORK_STACK};
use crate::Error;
use crate::aws::Tags;
use crate::aws::iam::{ServiceRole, Statement};
use crate::aws::kms::{EncryptionKey, KeyProps};
use crate::aws::logs::LogGroup;
use crate::cfn::{Attributes, Expr, Output, Template, Value};
use crate::resources::ec2::{
    EIP as Eip, FlowLog, InternetGateway, NatGateway, Route, RouteTable, SecurityGroup, Subnet,
    SubnetRouteTableAssociation, VPC as Vpc, VPCEndpoint as VpcEndpoint,
    VPCGatewayAttachment as VpcGatewayAttachment, eip, flow_log, internet_gateway, nat_gateway,
    route_table, security_group, subnet, vpc, vpc_endpoint,
};
use crate::settings::{NetworkCreate, Settings};

/// The services the private subnets reach through interface endpoints (`com.amazonaws.<region>.<name>`):
/// credentials (STS, and EKS Pod Identity's `eks-auth`), parameters (SSM), images (ECR's API
/// and registry), logs, and the pipeline's EventBridge and Step Functions.
pub const INTERFACE_ENDPOINTS: [&str; 8] = [
    "sts", "eks-auth", "ssm", "ecr.api", "ecr.dkr", "logs", "events", "states",
];

/// The services reached through gateway endpoints (free; routes in the private tables): image
/// layers (S3) and the incidents table (DynamoDB).
pub const GATEWAY_ENDPOINTS: [&str; 2] = ["s3", "dynamodb"];

/// The subnet tag the AWS Load Balancer Controller reads for internet-facing load balancers.
pub const PUBLIC_ELB_TAG: &str = "kubernetes.io/role/elb";
/// The subnet tag the AWS Load Balancer Controller reads for internal load balancers.
pub const INTERNAL_ELB_TAG: &str = "kubernetes.io/role/internal-elb";

/// The VPC's `Name` tag; the Load Balancer Controller's values find the VPC by it.
pub fn vpc_name(settings: &Settings) -> String {
    settings.name("sre-platform")
}

/// The private and public subnet ranges of each zone, in the settings' order.
pub fn subnet_cidrs(network: &NetworkCreate) -> Vec<(String, String)> {
    let net = network.cidr.net();
    let blocks: Vec<ipnet::Ipv4Net> = net
        .subnets(net.prefix_len() + 3)
        .map(Iterator::collect)
        .unwrap_or_default();
    (0..network.availability_zones.len())
        .filter_map(|i| Some((blocks.get(i)?.to_string(), blocks.get(4 + i)?.to_string())))
        .collect()
}

/// Checks the network settings.
pub fn check(settings: &Settings, network: &NetworkCreate) -> Result<(), Error> {
    let mut problems = Vec::new();
    let prefix = network.cidr.net().prefix_len();
    if !(16..=24).contains(&prefix) {
        problems.push(format!(
            "network.create.cidr ({}) must be a /16 to /24: it is cut into eight subnets of at least 16 addresses",
            network.cidr
        ));
    }
    let zones = &network.availability_zones;
    if !(2..=4).contains(&zones.len()) {
        problems.push(format!(
            "network.create.availability_zones has {} zones; 2 to 4 are needed (EKS needs subnets in two zones; the range holds four pairs)",
            zones.len()
        ));
    }
    for z in zones {
        let suffix = z.strip_prefix(settings.region.as_str());
        if !suffix.is_some_and(|s| s.len() == 1 && s.bytes().all(|b| b.is_ascii_lowercase())) {
            problems.push(format!(
                "network.create.availability_zones: {z:?} is not a zone of {} (e.g. {}a)",
                settings.region, settings.region
            ));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for z in zones {
        if !seen.insert(z) {
            problems.push(format!("network.create.availability_zones names {z} twice"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Construct {
            construct: NETWORK_STACK.into(),
            message: problems.join("; "),
        })
    }
}

/// The network stack.
#[allow(clippy::too_many_lines)]
pub fn network_stack(settings: &Settings, network: &NetworkCreate) -> Result<Template, Error> {
    check(settings, network)?;
    let tags = Tags(settings.tags.clone());
    let name = vpc_name(settings);
    let mut t = Template::new(
        NETWORK_STACK,
        "Network: the VPC, its public and private subnets, NAT, flow logs and the private endpoints",
    );
    let with_name = |extra: &str| {
        let mut all = tags.clone();
        all.0.insert("Name".into(), format!("{name}{extra}"));
        all
    };
    let vpc = t.add_with(
        "Vpc",
        Vpc::new()
            .cidr_block(network.cidr.as_str())
            .enable_dns_hostnames(true)
            .enable_dns_support(true)
            .tags(with_name("").to_list(|k, v| vpc::Tag::new(k, v))),
        Attributes::new(),
    );
    let vpc_id = vpc.reference();

    // Flow logs, encrypted with the stack's own key (the platform's key is made later).
    let key = EncryptionKey::new(
        &mut t,
        "FlowLogs",
        KeyProps {
            description: format!("{name}: VPC flow logs"),
            alias: settings.name("sre-platform-flow-logs"),
            pending_window_days: settings.kms.pending_window_days,
            admin_role_names: settings.kms.admin_role_names.clone(),
            service_users: vec![],
            allow_logs: true,
            tags: tags.clone(),
        },
    );
    let group = LogGroup::new(
        &mut t,
        "FlowLogs",
        &format!("/aws/vpc/{name}/flow-logs"),
        &key,
        i64::from(network.flow_log_retention_days),
        &tags,
    );
    let mut role = ServiceRole::new(
        "FlowLogs",
        "vpc-flow-logs.amazonaws.com",
        "VPC flow logs: writes the VPC's flow records to its log group",
    );
    role.grant(
        Statement::allow([
            "logs:CreateLogStream",
            "logs:DescribeLogGroups",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
        ])
        .on(group.arn()),
    );
    let role_arn = role.arn();
    role.finish(&mut t);
    t.add(
        "VpcFlowLog",
        FlowLog::new(vpc_id.clone(), flow_log::FlowLogResourceType::Vpc)
            .traffic_type(flow_log::TrafficType::All)
            .log_destination_type(flow_log::LogDestinationType::CloudWatchLogs)
            .log_group_name(group.name())
            .deliver_logs_permission_arn(role_arn)
            .tags(tags.to_list(|k, v| flow_log::Tag::new(k, v))),
    );

    let igw = t.add(
        "InternetGateway",
        InternetGateway::new().tags(with_name("").to_list(|k, v| internet_gateway::Tag::new(k, v))),
    );
    let attachment = t.add(
        "InternetGatewayAttachment",
        VpcGatewayAttachment::new(vpc_id.clone()).internet_gateway_id(igw.reference()),
    );
    let public_table = t.add(
        "PublicRouteTable",
        RouteTable::new(vpc_id.clone())
            .tags(with_name("-public").to_list(|k, v| route_table::Tag::new(k, v))),
    );
    t.add_with(
        "PublicDefaultRoute",
        Route::new(public_table.reference())
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(igw.reference()),
        Attributes::new().depends_on(&attachment),
    );

    let mut private_subnets = Vec::new();
    let mut public_subnets = Vec::new();
    let mut private_tables = Vec::new();
    let mut nats = Vec::new();
    for (i, ((private_cidr, public_cidr), zone)) in subnet_cidrs(network)
        .into_iter()
        .zip(&network.availability_zones)
        .enumerate()
    {
        let n = i + 1;
        let mut public_tags = with_name(&format!("-public-{zone}"));
        public_tags.0.insert(PUBLIC_ELB_TAG.into(), "1".into());
        let zone_note = "The settings name the zones: Fn::GetAZs lists an account's zones in an order that can change when AWS adds one, which would move subnets";
        let public = t.add_with(
            &format!("PublicSubnet{n}"),
            Subnet::new(vpc_id.clone())
                .availability_zone(zone.as_str())
                .cidr_block(public_cidr)
                .map_public_ip_on_launch(false)
                .tags(public_tags.to_list(|k, v| subnet::Tag::new(k, v))),
            Attributes::new().cfn_lint_ignore("W3010", zone_note),
        );
        t.add(
            &format!("PublicSubnet{n}RouteTable"),
            SubnetRouteTableAssociation::new(public_table.reference(), public.reference()),
        );
        let mut private_tags = with_name(&format!("-private-{zone}"));
        private_tags.0.insert(INTERNAL_ELB_TAG.into(), "1".into());
        let private = t.add_with(
            &format!("PrivateSubnet{n}"),
            Subnet::new(vpc_id.clone())
                .availability_zone(zone.as_str())
                .cidr_block(private_cidr)
                .map_public_ip_on_launch(false)
                .tags(private_tags.to_list(|k, v| subnet::Tag::new(k, v))),
            Attributes::new().cfn_lint_ignore("W3010", zone_note),
        );
        if network.nat_gateway_per_az || i == 0 {
            let ip = t.add_with(
                &format!("NatAddress{n}"),
                Eip::new()
                    .domain("vpc")
                    .tags(with_name(&format!("-nat-{zone}")).to_list(|k, v| eip::Tag::new(k, v))),
                Attributes::new().depends_on(&attachment),
            );
            nats.push(
                t.add(
                    &format!("NatGateway{n}"),
                    NatGateway::new()
                        .allocation_id(ip.allocation_id())
                        .subnet_id(public.reference())
                        .tags(
                            with_name(&format!("-nat-{zone}"))
                                .to_list(|k, v| nat_gateway::Tag::new(k, v)),
                        ),
                ),
            );
        }
        let nat = nats
            .last()
            .map(|h| h.reference())
            .unwrap_or(Expr::no_value());
        let table = t.add(
            &format!("PrivateRouteTable{n}"),
            RouteTable::new(vpc_id.clone()).tags(
                with_name(&format!("-private-{zone}")).to_list(|k, v| route_table::Tag::new(k, v)),
            ),
        );
        t.add(
            &format!("PrivateDefaultRoute{n}"),
            Route::new(table.reference())
                .destination_cidr_block("0.0.0.0/0")
                .nat_gateway_id(nat),
        );
        t.add(
            &format!("PrivateSubnet{n}RouteTable"),
            SubnetRouteTableAssociation::new(table.reference(), private.reference()),
        );
        private_subnets.push(private.reference());
        public_subnets.push(public.reference());
        private_tables.push(table.reference());
    }

    let endpoints_sg = t.add(
        "EndpointsSecurityGroup",
        SecurityGroup::new("Interface endpoints: HTTPS from the VPC only")
            .vpc_id(vpc_id.clone())
            .security_group_ingress(vec![
                security_group::Ingress::new("tcp")
                    .cidr_ip(network.cidr.as_str())
                    .from_port(443)
                    .to_port(443)
                    .description("HTTPS from the VPC"),
            ])
            .security_group_egress(vec![
                security_group::Egress::new("tcp")
                    .cidr_ip(network.cidr.as_str())
                    .from_port(443)
                    .to_port(443)
                    .description("Replies stay in the VPC"),
            ])
            .tags(with_name("-endpoints").to_list(|k, v| security_group::Tag::new(k, v))),
    );
    let service = |svc: &str| Expr::sub(format!("com.amazonaws.${{AWS::Region}}.{svc}"));
    for svc in GATEWAY_ENDPOINTS {
        t.add(
            &format!("{}GatewayEndpoint", endpoint_id(svc)),
            VpcEndpoint::new(vpc_id.clone())
                .service_name(service(svc))
                .vpc_endpoint_type(vpc_endpoint::VpcEndpointType::Gateway)
                .route_table_ids(
                    private_tables
                        .iter()
                        .cloned()
                        .map(Value::from)
                        .collect::<Vec<_>>(),
                ),
        );
    }
    for svc in INTERFACE_ENDPOINTS {
        t.add(
            &format!("{}Endpoint", endpoint_id(svc)),
            VpcEndpoint::new(vpc_id.clone())
                .service_name(service(svc))
                .vpc_endpoint_type(vpc_endpoint::VpcEndpointType::Interface)
                .private_dns_enabled(true)
                .subnet_ids(
                    private_subnets
                        .iter()
                        .cloned()
                        .map(Value::from)
                        .collect::<Vec<_>>(),
                )
                .security_group_ids(vec![Value::from(endpoints_sg.group_id())]),
        );
    }

    t.output(
        Input::VpcId.output_key(),
        Output::new(vpc_id).description("The VPC"),
    );
    t.output(
        Input::VpcCidr.output_key(),
        Output::new(network.cidr.to_string()).description("The VPC's IPv4 range"),
    );
    t.output(
        Input::PrivateSubnetIds.output_key(),
        Output::new(Expr::join(",", private_subnets))
            .description("The private subnets, comma-separated (runbook_action, the nodes)"),
    );
    t.output(
        "PublicSubnetIds",
        Output::new(Expr::join(",", public_subnets))
            .description("The public subnets, comma-separated (internet-facing load balancers)"),
    );
    t.output(
        "EndpointsSecurityGroupId",
        Output::new(endpoints_sg.group_id()).description("The interface endpoints' group"),
    );
    Ok(t)
}

/// `ecr.dkr` -> `EcrDkr`.
fn endpoint_id(svc: &str) -> String {
    svc.split(['.', '-'])
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}
