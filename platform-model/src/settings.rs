//! Environment settings: what differs between `dev`, `staging` and `prod` is data, not code.
//!
//! Each environment is a TOML file in `platform-model/settings/`, embedded in the crate (synth
//! needs no file to run) and checked against [`Settings`]: an unknown key or a bad value is an
//! error naming the file, the key path and what was expected. `settings.schema.json` beside the
//! files is generated from these types (`cargo run -p synth -- settings-schema`) so editors
//! (taplo / Even Better TOML) validate them while you type.
//!
//! ```
//! use platform_model::settings::{Environment, Settings};
//! let prod = Settings::embedded(Environment::Prod).unwrap();
//! assert_eq!(prod.environment, Environment::Prod);
//!
//! let err = Settings::from_toml("typo.toml", "environment = \"dev\"\nregoin = \"x\"\n").unwrap_err();
//! assert!(err.to_string().contains("regoin"));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The deployment environments.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Development.
    Dev,
    /// Pre-production.
    Staging,
    /// Production.
    Prod,
}

impl Environment {
    /// Every environment, in promotion order.
    pub const ALL: [Environment; 3] = [Environment::Dev, Environment::Staging, Environment::Prod];

    /// The environment's name (`dev`, `staging`, `prod`).
    pub const fn name(self) -> &'static str {
        match self {
            Environment::Dev => "dev",
            Environment::Staging => "staging",
            Environment::Prod => "prod",
        }
    }

    /// The environment of that name.
    pub fn from_name(name: &str) -> Option<Environment> {
        Environment::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The settings of one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Which environment these settings describe; must match the file name.
    pub environment: Environment,
    /// The AWS account the stacks deploy to (12 digits).
    pub account_id: AccountId,
    /// The AWS region the stacks deploy to, e.g. `eu-west-1`.
    pub region: Region,
    /// Prefix of every physical name (table, topic, queue, ...); empty in the environment that
    /// owns the design's plain names. Lowercase letters, digits and `-`, at most 16 characters.
    pub name_prefix: NamePrefix,
    /// Tags applied to every taggable resource.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The customer managed KMS key that encrypts the platform's data.
    pub kms: KmsSettings,
    /// The `sre-incidents` table.
    pub incidents: IncidentSettings,
    /// The `sre-incident-notifications` topic and its subscribers.
    pub notifications: NotificationSettings,
    /// The dead-letter queue of undeliverable events.
    pub dead_letter: DeadLetterSettings,
    /// The checkout service: its runtime flags kept in SSM, its Deployment and its alerts.
    pub checkout: CheckoutSettings,
    /// The event pipeline: webhook API, functions, runbook.
    pub pipeline: PipelineSettings,
    /// The EKS cluster side: add-ons, Alertmanager routing, remediation access.
    pub cluster: ClusterSettings,
    /// The public DNS zone.
    pub dns: DnsSettings,
    /// What the bootstrap stack creates before any other stack: the assets bucket and the
    /// checkout image repository.
    pub bootstrap: BootstrapSettings,
    /// The VPC: created by the network stack (`[network.create]`) or an existing one
    /// (`[network.existing]`).
    pub network: NetworkSettings,
    /// The generated runbook pages (`out/<env>/runbooks/`).
    pub runbooks: RunbookSettings,
}

/// Where people read the runbook pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunbookSettings {
    /// The URL under which `out/<env>/runbooks/` is browsable (the repository's web view of
    /// that folder, or where a docs site publishes it): every rule's `runbook_url` annotation is
    /// `<base_url>/<AlertName>.md`.
    pub base_url: HttpsUrl,
}

/// What the bootstrap stack (`sre-bootstrap`) creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSettings {
    /// Name of the S3 bucket of the Lambda code and of templates over CloudFormation's inline
    /// limit (globally unique: 3-63 lowercase letters, digits, `-`, `.`).
    pub assets_bucket: String,
    /// Days a replaced or deleted object version is kept before it expires (1-3650).
    #[schemars(range(min = 1, max = 3650))]
    pub noncurrent_version_days: u32,
    /// Name of the checkout service's ECR repository (its image is
    /// `<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<checkout.image_tag>`).
    pub checkout_repository: String,
    /// Images the repository keeps: older ones expire (1-1000).
    #[schemars(range(min = 1, max = 1000))]
    pub images_kept: u32,
}

/// The VPC of the platform: generated, or brought by the team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NetworkSettings {
    /// The network stack (`sre-network`) creates the VPC, its subnets, gateways and endpoints.
    Create(NetworkCreate),
    /// An existing VPC: no network stack; the other stacks take these ids as parameters.
    Existing(NetworkExisting),
}

/// A VPC the network stack creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkCreate {
    /// The VPC's IPv4 range, `/16` to `/24`. It is cut into eight equal blocks: the private
    /// subnets take the first ones, the public subnets the ones from the fifth on.
    pub cidr: Cidr,
    /// The availability zones of the subnets (2-4, in the settings' region), e.g. `us-east-1a`.
    pub availability_zones: Vec<String>,
    /// One NAT gateway per availability zone (each private subnet leaves through its own
    /// zone's); `false`: one NAT gateway for all, cheaper, and a zone's outage cuts the others'
    /// egress.
    pub nat_gateway_per_az: bool,
    /// Days the VPC flow logs are kept.
    #[schemars(range(min = 1, max = 3653))]
    pub flow_log_retention_days: u32,
}

/// A VPC that exists already.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkExisting {
    /// The VPC's id (`vpc-...`).
    pub vpc_id: String,
    /// The VPC's IPv4 range (the cluster API admits HTTPS from it).
    pub cidr: Cidr,
    /// Private subnets (with a route to the EKS API and to AWS's APIs) that runbook_action
    /// and, when the cluster is created, its nodes run in.
    pub private_subnet_ids: Vec<String>,
}

/// Settings of the event pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettings {
    /// CPU architecture of the functions.
    pub lambda_architecture: Architecture,
    /// The alert_ingest function.
    pub ingest: FunctionSettings,
    /// The runbook_action function.
    pub runbook_action: FunctionSettings,
    /// Human approval of gated actions.
    pub approval: ApprovalSettings,
    /// Burst limit of the webhook API's stage (requests); its rate limit is 1000 rps.
    #[schemars(range(min = 1, max = 5000))]
    pub api_burst_limit: u32,
    /// Seconds the runbook waits after an action before checking the incident again.
    #[schemars(range(min = 10, max = 3600))]
    pub stabilization_seconds: u32,
    /// Seconds after the action by which the incident must be resolved, or it is escalated. At
    /// least the time a remedied alert takes to resolve (its longest range window + one rule
    /// evaluation + Alertmanager's group_interval + one stabilization wait): synth refuses less.
    #[schemars(range(min = 10, max = 86400))]
    pub remediation_deadline_seconds: u32,
    /// Seconds `drain_node` keeps evicting; must end before runbook_action's timeout.
    #[schemars(range(min = 1, max = 840))]
    pub drain_timeout_seconds: u32,
    /// Node labels (`key=value`) a node must carry for `drain_node` to touch it, e.g. the
    /// managed node group's `eks.amazonaws.com/nodegroup=<name>`.
    pub drain_node_labels: BTreeMap<String, String>,
    /// `drain_node` refuses while this many nodes are already cordoned (1-100).
    #[schemars(range(min = 1, max = 100))]
    pub max_cordoned_nodes: u32,
    /// The webhook API's custom domain: its URL is known at synth time, so the Alertmanager
    /// configuration and the Datadog webhook name it.
    pub webhook_domain: WebhookDomain,
}

/// Human approval of gated actions (`drain_node`, scaling above a service's bound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSettings {
    /// Seconds a gated action waits for a human's approve / deny before the runbook escalates;
    /// the links expire with it (60-86400).
    #[schemars(range(min = 60, max = 86_400))]
    pub deadline_seconds: u32,
    /// The `approval` function (sends the links, answers them).
    pub function: FunctionSettings,
}

/// The webhook API's custom domain name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookDomain {
    /// Host name of the webhook API, e.g. `alerts.example.com`, in the hosted zone of `[dns]`.
    pub name: String,
    /// ACM certificate (same region) covering `name`: API Gateway terminates TLS with it.
    pub certificate_arn: String,
}

/// The environment's public DNS zone (Route 53).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsSettings {
    /// The zone's name, e.g. `example.com`: the webhook's record and the hosts external-dns manages.
    pub zone_name: String,
    /// The hosted zone's id (`Z...`): external-dns and cert-manager may change records in it only.
    pub hosted_zone_id: String,
}

// The Lambda size and architecture are the Lambda construct's props (`aws::lambda`); the
// settings files hold them under `pipeline.*`.
pub use crate::aws::lambda::{Architecture, FunctionSettings};

/// Settings of the platform's KMS key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KmsSettings {
    /// Days between scheduling the key's deletion and its deletion (7-30).
    #[schemars(range(min = 7, max = 30))]
    pub pending_window_days: u32,
    /// Role names (in the same account) allowed to administer the key besides the account root.
    #[serde(default)]
    pub admin_role_names: Vec<String>,
}

/// Settings of the incidents table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentSettings {
    /// Days an incident record is kept before DynamoDB's TTL removes it (1-3650).
    #[schemars(range(min = 1, max = 3650))]
    pub ttl_days: u32,
    /// Refuse `DeleteTable` (and keep the table when the stack is deleted).
    pub deletion_protection: bool,
}

/// Settings of the notification topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Email addresses that receive every notification.
    #[serde(default)]
    pub emails: Vec<Email>,
    /// The PagerDuty (or other paging) HTTPS endpoint; it receives only `severity=critical`.
    pub pagerduty_url: Option<HttpsUrl>,
    /// An HTTPS endpoint (a Slack relay, ...) that receives every notification.
    pub chat_url: Option<HttpsUrl>,
}

/// Settings of the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterSettings {
    /// Days a message is kept (1-14; SQS's maximum is 14).
    #[schemars(range(min = 1, max = 14))]
    pub retention_days: u32,
}

/// Settings of the checkout service's runtime flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutSettings {
    /// Initial value of the degraded-mode SSM parameter (the runbook's `enable_degraded_mode`
    /// sets it; the pods read it, never an environment variable).
    pub degraded_mode: bool,
    /// Seconds between two reads of the degraded-mode parameter by a running pod (1-3600).
    #[schemars(range(min = 1, max = 3600))]
    pub degraded_mode_refresh_seconds: u32,
    /// The image tag in the bootstrap stack's repository (tags are immutable there: a new
    /// build is a new tag).
    pub image_tag: String,
    /// Replicas of the Deployment; also the autoscaler's minimum (1-100).
    #[schemars(range(min = 1, max = 100))]
    pub replicas: u32,
    /// The autoscaler's maximum, and the bound of the `scale_deployment` runbook (1-100).
    #[schemars(range(min = 1, max = 100))]
    pub max_replicas: u32,
    /// Replicas the `scale_deployment` runbook may set without a human: aiming above them
    /// waits for an approval (from `replicas` to below `max_replicas`; unset: never asks).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub approval_above_replicas: Option<u32>,
    /// Chaos knob: latency added to every request, in milliseconds (`LATENCY_MS`).
    pub latency_ms: u32,
    /// Chaos knob: share of requests answered with 500, 0.0-1.0 (`ERROR_RATE`).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_rate: f64,
    /// The public host name of the service (the Ingress rule and external-dns record).
    pub host: String,
    /// The ACM certificate the load balancer terminates TLS with.
    pub certificate_arn: String,
    /// A WAFv2 web ACL to attach to the load balancer, when the environment has one.
    #[serde(default)]
    pub waf_acl_arn: Option<String>,
    /// Alert threshold: p99 latency in seconds above which `CheckoutHighLatency` fires.
    pub latency_p99_threshold_seconds: f64,
    /// Alert threshold: error ratio (0.0-1.0) above which `CheckoutHighErrorRate` fires.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_ratio_threshold: f64,
    /// Availability objective of the checkout SLO over 30 days, e.g. `0.999`.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub availability_objective: f64,
}

/// Settings of the EKS cluster side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// The EKS cluster's name: the cluster stack creates it under this name, or (without
    /// `[cluster.create]`) the existing cluster of this name is used.
    pub name: String,
    /// Minutes a node may be NotReady before `NodeNotReady` fires and the runbook drains it
    /// (1-120).
    #[schemars(range(min = 1, max = 120))]
    pub node_not_ready_minutes: u32,
    /// Alertmanager grouping and repetition.
    pub alertmanager: AlertmanagerSettings,
    /// The cluster the cluster stack (`sre-cluster`) creates. Absent: bring your own cluster,
    /// named `name`; no cluster stack is written, and its API endpoint must admit HTTPS from the
    /// VPC (runbook_action's security group is the pipeline stack's
    /// `RunbookActionSecurityGroupId` output).
    #[serde(default)]
    pub create: Option<ClusterCreate>,
}

/// An EKS cluster the cluster stack creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterCreate {
    /// Kubernetes version, e.g. `1.33`.
    pub version: String,
    /// CIDRs allowed to reach the public API endpoint. Empty: the public endpoint is off and
    /// the API is reached from the VPC only (the private endpoint is always on).
    #[serde(default)]
    pub public_access_cidrs: Vec<Cidr>,
    /// IAM role ARNs given cluster-admin access entries (`AmazonEKSClusterAdminPolicy`).
    #[serde(default)]
    pub admin_role_arns: Vec<String>,
    /// Days the control-plane logs are kept.
    #[schemars(range(min = 1, max = 3653))]
    pub log_retention_days: u32,
    /// EKS refuses to delete the cluster (and so does a stack deletion) until this is off.
    /// It also stops a failed first create from rolling back (the cluster is active by then):
    /// deploy a new cluster with it off, and turn it on once the stack is complete.
    pub deletion_protection: bool,
    /// The managed node group (labelled with `pipeline.drain_node_labels`).
    pub nodes: NodeGroupSettings,
}

/// The cluster's managed node group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeGroupSettings {
    /// Instance types, of the one CPU architecture below (e.g. `m7g.large` for arm64).
    pub instance_types: Vec<String>,
    /// CPU architecture of the nodes (and so of the images they run, checkout's included).
    pub architecture: Architecture,
    /// Nodes at least (1-100).
    #[schemars(range(min = 1, max = 100))]
    pub min_size: u32,
    /// Nodes at most (1-100).
    #[schemars(range(min = 1, max = 100))]
    pub max_size: u32,
    /// Nodes at creation (between the two).
    #[schemars(range(min = 1, max = 100))]
    pub desired_size: u32,
    /// Root volume size of each node, GiB (20-1000).
    #[schemars(range(min = 20, max = 1000))]
    pub disk_gib: u32,
}

/// Alertmanager's route timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSettings {
    /// How long to wait to buffer alerts of a new group before the first notification.
    pub group_wait: PromDuration,
    /// How long to wait before notifying about new alerts of a group already notified.
    pub group_interval: PromDuration,
    /// How long to wait before repeating a notification that was already sent.
    pub repeat_interval: PromDuration,
}

macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $pattern:literal, $check:expr, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": concat!("Expected: ", $expected, "."),
                })
            }
        }

        impl $name {
            /// The value as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                let check: fn(&str) -> bool = $check;
                if check(&s) {
                    Ok($name(s))
                } else {
                    Err(format!(concat!("expected ", $expected, ", got {:?}"), s))
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

checked_string!(
    /// An IPv4 range such as `10.20.0.0/16` (the network address, no host bits).
    Cidr,
    "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$",
    |s| s.parse::<ipnet::Ipv4Net>().is_ok_and(|n| n.trunc() == n),
    "an IPv4 CIDR such as \"10.20.0.0/16\" (no host bits)"
);

impl Cidr {
    /// The range.
    pub fn net(&self) -> ipnet::Ipv4Net {
        // Checked when read.
        self.0.parse().unwrap_or_default()
    }
}

checked_string!(
    /// A 12-digit AWS account id.
    AccountId,
    "^[0-9]{12}$",
    |s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()),
    "a 12-digit AWS account id"
);

checked_string!(
    /// An AWS region name such as `us-east-1`.
    Region,
    "^[a-z]{2}(-[a-z]+)+-[0-9]$",
    |s| {
        let parts: Vec<&str> = s.split('-').collect();
        parts.len() >= 3
            && parts[0].len() == 2
            && parts.iter().all(|p| !p.is_empty())
            && parts[..parts.len() - 1].iter().all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts[parts.len() - 1].len() == 1
            && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
    },
    "an AWS region name such as \"us-east-1\""
);

checked_string!(
    /// A prefix of physical names: lowercase letters, digits and `-`, at most 16 characters.
    NamePrefix,
    "^[a-z0-9-]{0,16}$",
    |s| s.len() <= 16 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
    "at most 16 lowercase letters, digits or '-'"
);

checked_string!(
    /// An email address (a subscriber of the notification topic).
    Email,
    "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
    |s| match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    },
    "an email address such as \"oncall@example.com\""
);

checked_string!(
    /// An `https://` URL.
    HttpsUrl,
    "^https://[^\\s/]+(/\\S*)?$",
    |s| s
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/') && !s.chars().any(char::is_whitespace)),
    "an https:// URL"
);

checked_string!(
    /// A Prometheus duration such as `30s`, `5m`, `4h` (one unit: ms, s, m, h, d, w, y).
    PromDuration,
    "^[0-9]+(ms|s|m|h|d|w|y)$",
    |s| crate::monitoring::is_duration(s),
    "a Prometheus duration such as \"30s\", \"5m\" or \"4h\""
);

impl Settings {
    /// Every value that is still a placeholder, as `key.path: value (why)`: `REPLACE_ME`,
    /// hosts and addresses under the reserved example domains (RFC 2606: `example.com`,
    /// `example.org`, `example.net`, `.invalid`), an account id of one repeated digit, and ids
    /// or ARNs made of a long run of one character (`00000000-0000-...`). The embedded settings
    /// are examples and hold many; `synth --strict` refuses them.
    pub fn placeholders(&self) -> Vec<String> {
        fn walk(path: &str, v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        let p = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        walk(&p, v, out);
                    }
                }
                serde_json::Value::Array(a) => {
                    for (i, v) in a.iter().enumerate() {
                        walk(&format!("{path}[{i}]"), v, out);
                    }
                }
                serde_json::Value::String(s) => {
                    if let Some(why) = placeholder(s) {
                        out.push(format!("{path}: {s:?} ({why})"));
                    }
                }
                _ => {}
            }
        }
        fn placeholder(s: &str) -> Option<&'static str> {
            let lower = s.to_ascii_lowercase();
            if lower.contains("replace_me") || lower.contains("replaceme") {
                return Some("REPLACE_ME");
            }
            let host_like = lower
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .any(|part| {
                    ["example.com", "example.org", "example.net"]
                        .iter()
                        .any(|d| part == *d || part.ends_with(&format!(".{d}")))
                        || part.ends_with(".invalid")
                });
            if host_like {
                return Some("a reserved example domain");
            }
            if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
                let first = s.as_bytes()[0];
                if s.bytes().all(|b| b == first) {
                    return Some("a sample account id");
                }
            }
            let mut run = 1;
            let bytes = s.as_bytes();
            for i in 1..bytes.len() {
                if bytes[i] == bytes[i - 1] && bytes[i].is_ascii_alphanumeric() {
                    run += 1;
                    if run >= 8 {
                        return Some("a sample id");
                    }
                } else {
                    run = 1;
                }
            }
            if lower.contains("0a1b2c3d4e5f6")
                || lower.contains("0b1b2c3d4e5f6")
                || lower.contains("0c1b2c3d4e5f6")
            {
                return Some("a sample id");
            }
            None
        }
        let mut out = Vec::new();
        if let Ok(json) = serde_json::to_value(self) {
            walk("", &json, &mut out);
        }
        if let Some(why) = placeholder(self.account_id.as_str()) {
            let key = format!("account_id: {:?} ({why})", self.account_id.as_str());
            if !out.contains(&key) {
                out.push(key);
            }
        }
        out
    }
}

const EMBEDDED: [(Environment, &str, &str); 3] = [
    (
        Environment::Dev,
        "platform-model/settings/dev.toml",
        include_str!("../settings/dev.toml"),
    ),
    (
        Environment::Staging,
        "platform-model/settings/staging.toml",
        include_str!("../settings/staging.toml"),
    ),
    (
        Environment::Prod,
        "platform-model/settings/prod.toml",
        include_str!("../settings/prod.toml"),
    ),
];

impl Settings {
    /// The settings of `env` shipped with the crate.
    pub fn embedded(env: Environment) -> Result<Settings, Error> {
        let (_, file, text) =
            EMBEDDED
                .iter()
                .find(|(e, _, _)| *e == env)
                .ok_or_else(|| Error::Settings {
                    file: env.name().to_owned(),
                    message: "no embedded settings".to_owned(),
                })?;
        let s = Settings::from_toml(file, text)?;
        s.expect_environment(file, env)?;
        Ok(s)
    }

    /// Reads settings from TOML text; `file` names the source in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Settings, Error> {
        let err = |message: String| Error::Settings {
            file: file.to_owned(),
            message,
        };
        let de = toml::Deserializer::parse(text).map_err(|e| err(e.to_string()))?;
        let settings: Settings = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            // toml's message carries the line and a caret; keep only its first line (the
            // problem) after the key path, then the location lines.
            let msg = inner.message().to_owned();
            let at = inner
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].lines().count().max(1);
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            if path == "." {
                err(format!("{msg}{at}"))
            } else {
                err(format!("key `{path}`: {msg}{at}"))
            }
        })?;
        Ok(settings)
    }

    /// Fails unless these settings are for `env`.
    pub fn expect_environment(&self, file: &str, env: Environment) -> Result<(), Error> {
        if self.environment == env {
            Ok(())
        } else {
            Err(Error::Settings {
                file: file.to_owned(),
                message: format!(
                    "key `environment`: expected \"{env}\" (the file's environment), got \"{}\"",
                    self.environment
                ),
            })
        }
    }

    /// A physical name: the environment's prefix and `base`.
    pub fn name(&self, base: &str) -> String {
        if self.name_prefix.as_str().is_empty() {
            base.to_owned()
        } else {
            format!("{}-{base}", self.name_prefix.as_str().trim_end_matches('-'))
        }
    }

    /// The JSON Schema of a settings file, pretty-printed with a trailing newline.
    pub fn json_schema() -> String {
        let schema = schemars::schema_for!(Settings);
        let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// The committed JSON Schema of settings files (`platform-model/settings/settings.schema.json`).
pub const COMMITTED_SCHEMA: &str = include_str!("../settings/settings.schema.json");

#[cfg(test)]
mod tests {
    use super::*;

    fn prod_text() -> &'static str {
        EMBEDDED[2].2
    }

    #[test]
    fn every_embedded_environment_loads() {
        for env in Environment::ALL {
            let s = Settings::embedded(env).unwrap();
            assert_eq!(s.environment, env);
        }
    }

    #[test]
    fn an_unknown_key_names_the_file_the_key_path_and_what_is_expected() {
        let text = prod_text().replace("ttl_days = 90", "ttl_days = 90\nttl_dayz = 3");
        let err = Settings::from_toml("prod.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("settings file prod.toml: key `incidents.ttl_dayz`"),
            "{err}"
        );
        assert!(
            err.contains("unknown field `ttl_dayz`, expected `ttl_days` or `deletion_protection`"),
            "{err}"
        );
        assert!(err.contains("(line "), "{err}");
    }

    #[test]
    fn a_bad_value_names_the_key_and_what_was_expected() {
        let cases = [
            (
                "account_id = \"111111111111\"",
                "account_id = \"1234\"",
                "key `account_id`: expected a 12-digit AWS account id, got \"1234\"",
            ),
            (
                "region = \"us-east-1\"",
                "region = \"Mars\"",
                "key `region`: expected an AWS region name",
            ),
            (
                "pagerduty_url = \"https://",
                "pagerduty_url = \"http://",
                "key `notifications.pagerduty_url`: expected an https:// URL",
            ),
            (
                "emails = [\"sre-oncall@example.com\"]",
                "emails = [\"nobody\"]",
                "key `notifications.emails[0]`: expected an email address",
            ),
            (
                "ttl_days = 90",
                "ttl_days = \"90\"",
                "key `incidents.ttl_days`: invalid type: string \"90\", expected u32",
            ),
        ];
        for (from, to, expected) in cases {
            let text = prod_text().replacen(from, to, 1);
            assert_ne!(text, prod_text(), "fixture {from:?} not found");
            let err = Settings::from_toml("prod.toml", &text)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(expected),
                "{err}\n  expected to contain: {expected}"
            );
        }
    }

    #[test]
    fn a_missing_key_is_named() {
        let text = prod_text().replace("region = \"us-east-1\"\n", "");
        let err = Settings::from_toml("prod.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `region`"), "{err}");
    }

    #[test]
    fn the_file_must_describe_its_own_environment() {
        let s = Settings::from_toml("dev.toml", prod_text()).unwrap();
        let err = s
            .expect_environment("dev.toml", Environment::Dev)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "settings file dev.toml: key `environment`: expected \"dev\" (the file's environment), got \"prod\""
        );
    }

    #[test]
    fn names_carry_the_prefix() {
        let prod = Settings::embedded(Environment::Prod).unwrap();
        let dev = Settings::embedded(Environment::Dev).unwrap();
        assert_eq!(prod.name("sre-incidents"), "sre-incidents");
        assert_eq!(dev.name("sre-incidents"), "dev-sre-incidents");
    }

    #[test]
    fn the_committed_json_schema_is_current() {
        assert!(
            COMMITTED_SCHEMA == Settings::json_schema(),
            "platform-model/settings/settings.schema.json is stale: run \
             `cargo run -p synth -- settings-schema > platform-model/settings/settings.schema.json`"
        );
    }
}
