//! The CloudFormation core: templates, intrinsic functions, logical ids, typed handles and the
//! synth-time self-check.

mod id;
mod resource;
mod template;
mod value;

pub use id::{LogicalId, MAX_LOGICAL_ID_LEN};
pub use resource::{Check, Checker, Handle, Resource, Violation};
pub use template::*;
pub use value::{Expr, Json, Pseudo, Value};
