//! SSM parameters used as runtime flags.

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
