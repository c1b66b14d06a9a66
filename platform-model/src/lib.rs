//! A typed Rust model of an event-driven SRE platform on AWS + EKS, closing the loop
//! **Detect -> Alert -> Event -> Runbook automation -> Notify -> Audit**.
//!
//! The model is pure data: no AWS SDK, no async runtime, no file system. The `synth` binary
//! turns it into files (CloudFormation templates today) under `out/<env>/`.
//!
//! # Module map
//!
//! | module | layer |
//! |---|---|
//! | [`cfn`] | (crate `platform-cfn`) CloudFormation core: [`cfn::Template`], parameters, conditions, outputs, intrinsic functions as typed [`cfn::Expr`] / [`cfn::Value`], logical ids, typed [`cfn::Handle`]s, the synth-time self-check |
//! | [`resources`] | (crate `platform-resources`) every resource type of the platform's services, **generated** from AWS's resource provider schemas (one Cargo feature per service) |
//! | [`aws`] | hand-written constructs over the generated types: safe defaults, key policies, grants |
//! | [`contract`] | (crate `platform-contract`) the event contract shared by producers, consumers and routing |
//! | [`settings`] | per-environment settings (`dev`, `staging`, `prod`) and their JSON Schema |
//! | [`service`] | a service as one value: workload, alerts, SLOs, dashboards, allowed runbook actions and their bounds, pod permissions |
//! | [`k8s`] | Kubernetes objects (`k8s-openapi`) and the Prometheus operator's custom resources; a service's workload; remediation RBAC and admission |
//! | [`monitoring`] | alerts, SLOs and their burn-rate alerts, rule sets with promtool tests, the alert -> runbook catalog |
//! | [`yaml`] | deterministic YAML rendering |
//! | [`platform`] | the platform itself: the composition of its parts and the services, every stack and file of one environment; the only layer that reads settings |
//!
//! # A team's journey
//!
//! 1. Declare your service as one value ([`service::Service`]): its workload, its alerts with
//!    their runbook and promtool cases ([`monitoring::Alert`]), its SLOs ([`monitoring::Slo`]),
//!    the runbook actions it allows; and, if you need one, a stack of your own on the platform's
//!    exports ([`platform::Export`], below). Compose: [`platform::Platform::standard`] plus your
//!    service and stack (`examples/payments/` is a whole team crate).
//! 2. Run synth (`cargo run -p synth -- --env prod`, or your own binary calling
//!    `synth::cli::main`): the model checks itself (dangling references, limits, timeouts,
//!    runtime configuration, services that do not fit) and writes `out/<env>/`.
//! 3. Review the diff of `out/` and `snapshots/` in the pull request; CI runs the ecosystem's
//!    validators on every file and the seam check on the joints.
//! 4. Deploy: `synth diff --env prod`, then `synth deploy --env prod` (change sets, in the
//!    manifest's order), or `aws cloudformation deploy` per stack.
//!
//! # Example: another team's stack on the platform's key
//!
//! A team's stack reads the platform's values through the pipeline stack's exports
//! (`<stack>-KeyArn`, `<stack>-EventBusArn`, ...; [`platform::Export`] names them), never
//! through a second copy of the platform's resources:
//!
//! ```
//! use platform_model::cfn::{Expr, Output, Template};
//! use platform_model::resources::sqs::Queue;
//!
//! let mut t = Template::new("payments-events", "Payments team's queue, on the platform's key");
//! let queue = t.add(
//!     "PaymentsFailed",
//!     Queue::new()
//!         .queue_name("payments-failed")
//!         .kms_master_key_id(Expr::import_value("sre-pipeline-KeyArn")),
//! );
//! t.output("PaymentsFailedQueueArn", Output::new(queue.arn()));
//! let json = t.render()?; // runs the self-check: references, limits, ids
//! assert!(json.contains("\"Fn::ImportValue\": \"sre-pipeline-KeyArn\""));
//! # Ok::<(), platform_model::Error>(())
//! ```
//!
//! A reference to something that is not in the template is an error naming both ends:
//!
//! ```
//! use platform_model::cfn::{Expr, Template};
//! use platform_model::resources::sqs::Queue;
//!
//! let mut t = Template::new("broken", "A dangling reference");
//! t.add("Orphan", Queue::new().kms_master_key_id(Expr::Ref("MissingKey".into())));
//! let err = t.render().unwrap_err().to_string();
//! assert!(err.contains("resource `Orphan` (AWS::SQS::Queue) at Properties.KmsMasterKeyId refers to `MissingKey`"));
//! ```

// Without the `platform` feature the crate is its core only: the re-exported crates and YAML
// rendering (`.ci/test.sh` checks that this builds).
#[cfg(feature = "platform")]
pub mod aws;
#[cfg(feature = "platform")]
pub mod k8s;
#[cfg(feature = "platform")]
pub mod monitoring;
#[cfg(feature = "platform")]
pub mod platform;
#[cfg(feature = "platform")]
pub mod service;
#[cfg(feature = "platform")]
pub mod settings;
pub mod yaml;

// The layers that are crates of their own (under `platform-model/`), kept at their old paths.
pub use platform_cfn as cfn;
pub use platform_cfn::{Error, Problems};
pub use platform_contract as contract;
pub use platform_resources as resources;
