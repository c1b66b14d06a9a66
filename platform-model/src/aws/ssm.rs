//! SSM parameters used as runtime flags.
//!
//! # Example: a feature flag a function may flip
//!
//! ```
//! use platform_model::aws::Tags;
//! use platform_model::aws::iam::ServiceRole;
//! use platform_model::aws::ssm::FlagParameter;
//! use platform_model::cfn::Template;
//! use serde_json::json;
//!
//! let mut t = Template::new("checkout-flags", "Checkout's runtime flags");
//! let flag = FlagParameter::new(
//!     &mut t,
//!     "DegradedMode",
//!     "/checkout/degraded_mode",
//!     false,
//!     "Serve without recommendations while the store is degraded",
//!     &Tags::default(),
//! );
//! let mut role = ServiceRole::new("Runbook", "lambda.amazonaws.com", "Runs remediations");
//! flag.grant_read_write(&mut role);
//! role.finish(&mut t);
//!
//! let json = t.to_json()?;
//! let param = &json["Resources"]["DegradedModeParameter"]["Properties"];
//! assert_eq!(param["Name"], "/checkout/degraded_mode");
//! assert_eq!(param["Type"], "String"); // CloudFormation cannot create SecureString
//! assert_eq!(param["Value"], "false");
//! assert_eq!(param["AllowedPattern"], "^(true|false)$");
//! let grant = &json["Resources"]["RunbookRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0];
//! assert_eq!(grant["Action"], json!(["ssm:GetParameter", "ssm:PutParameter"]));
//! assert_eq!(
//!     grant["Resource"][0],
//!     json!({"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/checkout/degraded_mode"})
//! );
//! # Ok::<(), platform_model::Error>(())
//! ```

use std::collections::BTreeMap;

use crate::aws::Tags;
use crate::cfn::{Expr, Handle, Template};
use crate::resources::ssm::{Parameter, parameter};

/// A boolean flag (`"true"` / `"false"`) in Parameter Store.
#[derive(Debug, Clone)]
pub struct FlagParameter {
    param: Handle<Parameter>,
    name: String,
}

impl FlagParameter {
    /// Adds the parameter `name` with its initial value to `t` as `<id>Parameter`.
    ///
    /// The value is a plain `String` parameter: CloudFormation cannot create `SecureString`
    /// parameters, and the flag is not a secret.
    pub fn new(
        t: &mut Template,
        id: &str,
        name: &str,
        initial: bool,
        description: &str,
        tags: &Tags,
    ) -> Self {
        let tags: BTreeMap<String, crate::cfn::Value<String>> =
            tags.0.iter().map(|(k, v)| (k.clone(), v.into())).collect();
        let param = t.add(
            &format!("{id}Parameter"),
            Parameter::new(
                parameter::Type::String,
                if initial { "true" } else { "false" },
            )
            .name(name)
            .description(description)
            .allowed_pattern("^(true|false)$")
            .tags(tags),
        );
        FlagParameter {
            param,
            name: name.to_owned(),
        }
    }

    /// The parameter's ARN, for grants.
    pub fn arn(&self) -> Expr {
        Expr::sub(format!(
            "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{}",
            self.name
        ))
    }

    /// The parameter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameter's handle.
    pub fn handle(&self) -> &Handle<Parameter> {
        &self.param
    }
}

impl FlagParameter {
    /// Lets `role` read and change the flag.
    pub fn grant_read_write(&self, role: &mut crate::aws::iam::ServiceRole) {
        role.grant(
            crate::aws::iam::Statement::allow(["ssm:GetParameter", "ssm:PutParameter"])
                .on(self.arn()),
        );
    }
}
