//! The CloudFormation core of the SRE platform's model: templates, parameters, conditions and
//! outputs, intrinsic functions as typed [`Expr`] / [`Value`], logical ids, typed [`Handle`]s
//! and the synth-time self-check, plus the model's [`Error`] type.
//!
//! It is hand-written and small. The resource types built on it are generated into the
//! `platform-resources` crate (by `cfn-codegen`); `platform-model` re-exports this crate as
//! `platform_model::cfn` and its error type as `platform_model::Error`.

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
