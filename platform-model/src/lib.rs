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
//! | [`k8s`] | Kubernetes objects (`k8s-openapi`) and the Prometheus operator's custom resources; the checkout workload; remediation RBAC |
//! | [`monitoring`] | alerts, SLOs and their burn-rate alerts, rule sets with promtool tests, the alert -> runbook catalog |
//! | [`yaml`] | deterministic YAML rendering |
//! | [`platform`] | the platform itself: every stack of one environment |
//!
//! # Example: another team's stack on the platform's key
//!
//! ```
//! use platform_model::cfn::{Output, Template};
//! use platform_model::platform::data_layer;
//! use platform_model::aws::sqs::DeadLetterQueue;
//! use platform_model::aws::Tags;
//! use platform_model::settings::{Environment, Settings};
//!
//! let settings = Settings::embedded(Environment::Dev)?;
//! let mut t = Template::new("payments-events", "Payments team's queue");
//! let data = data_layer(&mut t, "", &settings);
//! let queue = DeadLetterQueue::new(&mut t, "PaymentsFailed", "dev-payments-failed",
//!                                  &data.key, 7, &Tags::default());
//! t.output("PaymentsFailedQueueArn", Output::new(queue.arn()));
//! let json = t.render()?; // runs the self-check: references, limits, ids
//! assert!(json.contains("\"QueueName\": \"dev-payments-failed\""));
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

#[cfg(feature = "platform")]
pub mod aws;
pub mod k8s;
pub mod monitoring;
#[cfg(feature = "platform")]
pub mod platform;
pub mod settings;
pub mod yaml;

// The layers that are crates of their own (under `platform-model/`), kept at their old paths.
pub use platform_cfn as cfn;
pub use platform_cfn::{Error, Problems};
pub use platform_contract as contract;
pub use platform_resources as resources;
