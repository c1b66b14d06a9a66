//! Typed model of an event-driven SRE platform on AWS + EKS.
pub mod cfn;
mod error;
pub mod resources;

pub use error::{Error, Problems};
