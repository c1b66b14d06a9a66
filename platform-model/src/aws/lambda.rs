//! Lambda functions from content-addressed code assets.
//!
//! ```
//! use platform_model::aws::Tags;
//! use platform_model::aws::iam::ServiceRole;
//! use platform_model::aws::kms::{EncryptionKey, KeyProps};
//! use platform_model::aws::lambda::{Architecture, Asset, Function, FunctionProps, FunctionSettings};
//! use platform_model::cfn::{Parameter, Template};
//!
//! let mut t = Template::new("payments-fn", "A function from a content-addressed zip");
//! let key = EncryptionKey::new(&mut t, "Data", KeyProps {
//!     description: "logs and environment".into(), alias: "payments-fn".into(),
//!     pending_window_days: 30, admin_role_names: vec![], service_users: vec![],
//!     allow_logs: true, tags: Tags::default(),
//! });
//! let bucket = t.parameter("AssetsBucket", Parameter::string());
//! let mut role = ServiceRole::new("Worker", "lambda.amazonaws.com", "Works");
//! let asset = Asset { name: "worker".into(), sha256: "ab".repeat(32) };
//! assert_eq!(asset.key(Architecture::Arm64), format!("lambdas/worker/arm64/{}.zip", "ab".repeat(32)));
//! Function::new(&mut t, "Worker", FunctionProps {
//!     name: "payments-worker".into(),
//!     description: "Works".into(),
//!     asset,
//!     size: FunctionSettings { memory_mb: 256, timeout_seconds: 10, reserved_concurrency: 5 },
//!     architecture: Architecture::Arm64,
//!     environment: Default::default(),
//!     vpc: None,
//!     tags: Tags::default(),
//! }, &mut role, &bucket, &key);
//! role.finish(&mut t);
//! let json = t.to_json()?;
//! let f = &json["Resources"]["WorkerFunction"]["Properties"];
//! assert_eq!(f["Architectures"][0], "arm64");
//! assert_eq!(f["Runtime"], "provided.al2023");
//! # Ok::<(), platform_model::Error>(())
//! ```

use std::collections::BTreeMap;

use crate::aws::Tags;
use crate::aws::iam::{ServiceRole, Statement};
use crate::aws::kms::EncryptionKey;
use crate::aws::logs::LogGroup;
use crate::cfn::{Attributes, Expr, Handle, ParamRef, Template, Value};
use crate::resources::lambda::{Function as FunctionResource, Permission, function};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A function's code in S3, addressed by the SHA-256 of its content: an unchanged function has
/// an unchanged key, so its template does not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The function's name in the workspace (`alert_ingest`).
    pub name: String,
    /// Hex SHA-256 of the asset's content.
    pub sha256: String,
}

impl Asset {
    /// The S3 key of the asset built for `architecture`: `lambdas/<name>/<arch>/<sha256>.zip`
    /// (one source hash, one zip per architecture).
    pub fn key(&self, architecture: Architecture) -> String {
        format!(
            "lambdas/{}/{}/{}.zip",
            self.name,
            architecture.name(),
            self.sha256
        )
    }
}

/// What a [`Function`] is made from.
#[derive(Debug, Clone)]
pub struct FunctionProps {
    /// Physical name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its code.
    pub asset: Asset,
    /// Size and concurrency.
    pub size: FunctionSettings,
    /// CPU architecture.
    pub architecture: Architecture,
    /// Environment variables.
    pub environment: BTreeMap<String, Value<String>>,
    /// Subnets and security groups, when it runs in a VPC.
    pub vpc: Option<(SubnetIds, Vec<Expr>)>,
    /// Tags.
    pub tags: Tags,
}

/// Subnet ids: a literal list, or a `List<AWS::EC2::Subnet::Id>` parameter's `Ref`.
pub type SubnetIds = Value<Vec<Value<String>>>;

/// A function, its role and its log group (30 days, KMS).
#[derive(Debug, Clone)]
pub struct Function {
    function: Handle<FunctionResource>,
    name: String,
    logs: LogGroup,
}

/// The log group Lambda writes a function's logs to.
fn log_group_name(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// Days the functions' logs are kept.
pub const LOG_RETENTION_DAYS: i64 = 30;

impl Function {
    /// Adds the function as `<id>Function` with its log group `<id>LogGroup`. The role is
    /// finished by the caller once every grant is made.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        t: &mut Template,
        id: &str,
        props: FunctionProps,
        role: &mut ServiceRole,
        bucket: &ParamRef,
        key: &EncryptionKey,
    ) -> Self {
        let logs = LogGroup::new(
            t,
            id,
            &log_group_name(&props.name),
            key,
            LOG_RETENTION_DAYS,
            &props.tags,
        );
        logs.grant_write(role);
        key.grant_encrypt_decrypt(role);
        let arch = match props.architecture {
            Architecture::X86_64 => function::Architectures::X8664,
            Architecture::Arm64 => function::Architectures::Arm64,
        };
        let mut f = FunctionResource::new(
            function::Code::new()
                .s3_bucket(bucket.reference())
                .s3_key(props.asset.key(props.architecture)),
            role.arn(),
        )
        .function_name(props.name.as_str())
        .description(props.description.as_str())
        .runtime(function::Runtime::ProvidedAl2023)
        .handler("bootstrap")
        .architectures(vec![Value::from(arch)])
        .memory_size(i64::from(props.size.memory_mb))
        .timeout(i64::from(props.size.timeout_seconds))
        .reserved_concurrent_executions(i64::from(props.size.reserved_concurrency))
        .kms_key_arn(key.arn())
        .environment(function::Environment::new().variables(props.environment))
        .logging_config(
            function::LoggingConfig::new()
                .log_group(logs.name())
                .log_format(function::LogFormat::Json),
        )
        .tracing_config(function::TracingConfig::new().mode(function::Mode::Active))
        .tags(props.tags.to_list(|k, v| function::Tag::new(k).value(v)));
        let mut attrs = Attributes::new()
            .depends_on(logs.handle())
            .checkov_skip(
                "CKV_AWS_116",
                "Invoked synchronously (API Gateway, Step Functions): the caller gets the error and retries; an async DLQ would never receive anything",
            );
        if let Some((subnets, groups)) = props.vpc {
            // The network-interface part of AWSLambdaVPCAccessExecutionRole, inline: the managed
            // policy also grants logs:* on every log group (the audit log included). Lambda
            // checks these on "*" when it creates the function's interfaces.
            role.grant(
                Statement::allow([
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:UnassignPrivateIpAddresses",
                ])
                .sid("VpcNetworkInterfaces")
                .on("*"),
            );
            role.checkov_skip(
                "CKV_AWS_111",
                "The network-interface actions Lambda needs for a function in a VPC, as AWSLambdaVPCAccessExecutionRole grants them: Lambda checks them on \"*\" when it creates the function's interfaces",
            );
            f = f.vpc_config(
                function::VpcConfig::new()
                    .subnet_ids(subnets)
                    .security_group_ids(groups.into_iter().map(Value::from).collect::<Vec<_>>()),
            );
        } else {
            attrs = attrs.checkov_skip(
                "CKV_AWS_117",
                "Talks only to AWS APIs over TLS; a VPC would add NAT cost and cold-start time for no isolation gain",
            );
        }
        role.grant(
            Statement::allow(["xray:PutTelemetryRecords", "xray:PutTraceSegments"])
                .sid("XRayTracing")
                .on("*"),
        );
        let function = t.add_with(&format!("{id}Function"), f, attrs);
        Function {
            function,
            name: props.name,
            logs,
        }
    }

    /// The function's ARN.
    pub fn arn(&self) -> Expr {
        self.function.arn()
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The log group of its logs (`/aws/lambda/<name>`, made by [`Function::new`]).
    pub fn logs(&self) -> &LogGroup {
        &self.logs
    }

    /// The function's handle.
    pub fn handle(&self) -> &Handle<FunctionResource> {
        &self.function
    }

    /// Lets `role` invoke the function.
    pub fn grant_invoke(&self, role: &mut ServiceRole) {
        role.grant(Statement::allow(["lambda:InvokeFunction"]).on(self.arn()));
    }

    /// Lets an AWS service invoke the function from `source_arn` (a resource permission), as
    /// `<id>`.
    pub fn allow_invoke_from(
        &self,
        t: &mut Template,
        id: &str,
        service: &str,
        source_arn: Expr,
    ) -> Handle<Permission> {
        t.add(
            id,
            Permission::new("lambda:InvokeFunction", self.arn(), service)
                .source_arn(source_arn)
                .source_account(Expr::account_id()),
        )
    }
}

/// A Lambda function's size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionSettings {
    /// Memory in MB (128-10240).
    #[schemars(range(min = 128, max = 10240))]
    pub memory_mb: u32,
    /// Timeout in seconds (1-900).
    #[schemars(range(min = 1, max = 900))]
    pub timeout_seconds: u32,
    /// Reserved concurrency.
    #[schemars(range(min = 1, max = 1000))]
    pub reserved_concurrency: u32,
}

/// A Lambda CPU architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// Intel / AMD.
    X86_64,
    /// Graviton.
    Arm64,
}

impl Architecture {
    /// The name Lambda uses (`x86_64`, `arm64`), also the asset key's folder.
    pub const fn name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// The Rust target `lambdas/build.sh` builds for it (glibc, as `provided.al2023`).
    pub const fn rust_target(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-linux-gnu",
            Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The ELF `e_machine` of a binary built for it (`EM_X86_64` = 62, `EM_AARCH64` = 183).
    pub const fn elf_machine(self) -> u16 {
        match self {
            Architecture::X86_64 => 62,
            Architecture::Arm64 => 183,
        }
    }
}
