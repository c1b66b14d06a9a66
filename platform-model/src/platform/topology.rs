//! The stacks of an environment and the values that cross between them.
//!
//! Every value one stack takes from another is an [`Input`]: the consuming template declares it
//! as a parameter ([`Input::declare`]), the owning stack writes it as an output of the same
//! key ([`Input::output_key`]), and [`Input::source`] says where `synth deploy` reads it:
//! the owning stack's output, or, when the environment brings its own VPC or cluster, the value
//! in the settings. No template copies another stack's value as a string.
//!
//! ```
//! use platform_model::platform::{Input, ParameterSource, NETWORK_STACK};
//! use platform_model::settings::{Environment, Settings};
//!
//! let prod = Settings::embedded(Environment::Prod).unwrap();   // [network.create]
//! assert_eq!(
//!     Input::VpcId.source(&prod),
//!     ParameterSource::Output { stack: NETWORK_STACK.into(), output: "VpcId".into() }
//! );
//! let dev = Settings::embedded(Environment::Dev).unwrap();     // [network.existing]
//! assert!(matches!(Input::VpcId.source(&dev), ParameterSource::Value(id) if id.starts_with("vpc-")));
//! ```

use super::ParameterSource;
use crate::cfn::{ParamRef, Parameter, Template};
use crate::settings::{NetworkSettings, Settings};

/// The bootstrap stack: assets bucket and image repository.
pub const BOOTSTRAP_STACK: &str = "sre-bootstrap";
/// The network stack: VPC, subnets, gateways, endpoints (only with `[network.create]`).
pub const NETWORK_STACK: &str = "sre-network";
/// The cluster stack: EKS cluster, node group, admin access (only with `[cluster.create]`).
pub const CLUSTER_STACK: &str = "sre-cluster";

/// A value that crosses from one stack to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Input {
    /// The assets bucket's name (bootstrap stack).
    AssetsBucket,
    /// The VPC's id (network stack, or `network.existing.vpc_id`).
    VpcId,
    /// The VPC's IPv4 range (network stack, or `network.existing.cidr`).
    VpcCidr,
    /// The private subnets' ids, comma-separated (network stack, or
    /// `network.existing.private_subnet_ids`).
    PrivateSubnetIds,
    /// The EKS cluster's name (cluster stack, or `cluster.name` of an existing cluster).
    ClusterName,
    /// runbook_action's role (pipeline stack): the identity stack's access entry maps it.
    RunbookActionRoleArn,
}

impl Input {
    /// Every input.
    pub const ALL: [Input; 6] = [
        Input::AssetsBucket,
        Input::VpcId,
        Input::VpcCidr,
        Input::PrivateSubnetIds,
        Input::ClusterName,
        Input::RunbookActionRoleArn,
    ];

    /// The parameter's logical id in the consuming template, which is also the output's key in
    /// the owning stack.
    pub const fn output_key(self) -> &'static str {
        match self {
            Input::AssetsBucket => "AssetsBucket",
            Input::VpcId => "VpcId",
            Input::VpcCidr => "VpcCidr",
            Input::PrivateSubnetIds => "PrivateSubnetIds",
            Input::ClusterName => "ClusterName",
            Input::RunbookActionRoleArn => "RunbookActionRoleArn",
        }
    }

    /// The input of that parameter id.
    pub fn from_key(key: &str) -> Option<Input> {
        Input::ALL.into_iter().find(|i| i.output_key() == key)
    }

    /// The stack that creates the value: always for the bucket; for the VPC and the cluster,
    /// only when the settings create them.
    pub fn owner(self, settings: &Settings) -> Option<&'static str> {
        match self {
            Input::AssetsBucket => Some(BOOTSTRAP_STACK),
            Input::VpcId | Input::VpcCidr | Input::PrivateSubnetIds => match settings.network {
                NetworkSettings::Create(_) => Some(NETWORK_STACK),
                NetworkSettings::Existing(_) => None,
            },
            Input::ClusterName => settings.cluster.create.as_ref().map(|_| CLUSTER_STACK),
            Input::RunbookActionRoleArn => Some(super::pipeline::STACK),
        }
    }

    /// Where `synth deploy` takes the value from.
    pub fn source(self, settings: &Settings) -> ParameterSource {
        if let Some(stack) = self.owner(settings) {
            return ParameterSource::Output {
                stack: stack.to_owned(),
                output: self.output_key().to_owned(),
            };
        }
        let value = match (&settings.network, self) {
            (NetworkSettings::Existing(n), Input::VpcId) => n.vpc_id.clone(),
            (NetworkSettings::Existing(n), Input::VpcCidr) => n.cidr.to_string(),
            (NetworkSettings::Existing(n), Input::PrivateSubnetIds) => {
                n.private_subnet_ids.join(",")
            }
            _ => settings.cluster.name.clone(),
        };
        ParameterSource::Value(value)
    }

    /// Declares the parameter in a consuming template.
    pub fn declare(self, t: &mut Template) -> ParamRef {
        let p = match self {
            Input::AssetsBucket => Parameter::string()
                .description(format!("The assets bucket (output AssetsBucket of {BOOTSTRAP_STACK}): the functions' code, lambdas/<name>/<sha256>.zip"))
                .length(3, 63),
            Input::VpcId => Parameter::of_type("AWS::EC2::VPC::Id")
                .description(format!("The VPC (output VpcId of {NETWORK_STACK}, or network.existing.vpc_id)")),
            Input::VpcCidr => Parameter::string()
                .description(format!("The VPC's IPv4 range (output VpcCidr of {NETWORK_STACK}, or network.existing.cidr)"))
                .allowed_pattern("^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$"),
            Input::PrivateSubnetIds => Parameter::of_type("List<AWS::EC2::Subnet::Id>")
                .description(format!("The private subnets (output PrivateSubnetIds of {NETWORK_STACK}, or network.existing.private_subnet_ids)")),
            Input::ClusterName => Parameter::string()
                .description(format!("The EKS cluster (output ClusterName of {CLUSTER_STACK}, or cluster.name of an existing cluster)"))
                .length(1, 100),
            Input::RunbookActionRoleArn => Parameter::string()
                .description(format!("runbook_action's role (output RunbookActionRoleArn of {})", super::pipeline::STACK))
                .allowed_pattern("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"),
        };
        t.parameter(self.output_key(), p)
    }
}
