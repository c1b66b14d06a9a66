//! The CloudFormation core of the SRE platform's model: templates, parameters, conditions and
//! outputs, intrinsic functions as typed [`Expr`] / [`Value`], logical ids, typed [`Handle`]s
//! and the synth-time self-check, plus the model's [`Error`] type.
//!
//! It is hand-written and small. The resource types built on it are generated into the
//! `platform-resources` crate (by `cfn-codegen`); `platform-model` re-exports this crate as
//! `platform_model::cfn` and its error type as `platform_model::Error`.
//!
//! # Example: a parameter, a resource and an exported output
//!
//! A stack declares what it takes (parameters), what it makes (resources, typed by the generated
//! `platform-resources` crate) and what it offers other stacks (exported outputs); rendering
//! checks every reference and writes the JSON CloudFormation deploys:
//!
//! ```
//! use platform_cfn::{Expr, Output, Parameter, Template};
//! use platform_resources::sqs::Queue;
//! use serde_json::json;
//!
//! let mut t = Template::new("orders-queue", "The orders team's queue");
//! let key = t.parameter(
//!     "KeyArn",
//!     Parameter::string()
//!         .description("The KMS key that encrypts the queue")
//!         .allowed_pattern("^arn:aws[a-z-]*:kms:.+$"),
//! );
//! let queue = t.add(
//!     "OrdersQueue",
//!     Queue::new()
//!         .queue_name("orders")
//!         .kms_master_key_id(key.reference())
//!         .message_retention_period(4 * 86_400),
//! );
//! t.output(
//!     "OrdersQueueArn",
//!     Output::new(queue.arn())
//!         .description("Where producers send orders")
//!         .export(Expr::sub("${AWS::StackName}-OrdersQueueArn")),
//! );
//!
//! let body = t.render()?; // the self-check runs here: references, limits, ids
//! assert!(body.contains("\"AWSTemplateFormatVersion\": \"2010-09-09\""));
//! let json: serde_json::Value = serde_json::from_str(&body).expect("render writes JSON");
//! assert_eq!(json["Parameters"]["KeyArn"]["Type"], "String");
//! let queue = &json["Resources"]["OrdersQueue"];
//! assert_eq!(queue["Type"], "AWS::SQS::Queue");
//! assert_eq!(queue["Properties"]["KmsMasterKeyId"], json!({"Ref": "KeyArn"}));
//! assert_eq!(queue["Properties"]["MessageRetentionPeriod"], 345_600);
//! let output = &json["Outputs"]["OrdersQueueArn"];
//! assert_eq!(output["Value"], json!({"Fn::GetAtt": ["OrdersQueue", "Arn"]}));
//! assert_eq!(output["Export"]["Name"], json!({"Fn::Sub": "${AWS::StackName}-OrdersQueueArn"}));
//! # Ok::<(), platform_cfn::Error>(())
//! ```

mod error;
mod id;
mod resource;
mod template;
mod value;

pub use id::{LogicalId, MAX_LOGICAL_ID_LEN};
pub use resource::{Check, Checker, Handle, NoGetAtts, Resource, Violation};
pub use template::*;
pub use value::{Expr, Json, Pseudo, Value};

pub use error::{Error, Problems};
