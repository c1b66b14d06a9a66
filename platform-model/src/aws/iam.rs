//! Typed IAM policy documents (key policies, resource policies, role policies).
//!
//! # Example: a role whose permissions come from wiring
//!
//! A policy document is plain typed data; a [`ServiceRole`] collects the statements the
//! constructs grant (once each) and is added with exactly those:
//!
//! ```
//! use platform_model::aws::iam::{PolicyDocument, Principal, ServiceRole, Statement};
//! use platform_model::cfn::{Expr, Template};
//! use serde_json::json;
//!
//! let deny_deletes = PolicyDocument::new().statement(
//!     Statement::allow(["s3:DeleteObject"])
//!         .deny()
//!         .sid("NoDeletes")
//!         .principal(Principal::Aws(vec!["arn:aws:iam::111111111111:root".into()]))
//!         .on("arn:aws:s3:::payments-audit/*"),
//! );
//! assert_eq!(
//!     deny_deletes.to_json(),
//!     json!({
//!         "Version": "2012-10-17",
//!         "Statement": [{
//!             "Sid": "NoDeletes",
//!             "Effect": "Deny",
//!             "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
//!             "Action": ["s3:DeleteObject"],
//!             "Resource": ["arn:aws:s3:::payments-audit/*"]
//!         }]
//!     })
//! );
//!
//! let mut t = Template::new("payments-worker", "Payments worker's role");
//! let mut role = ServiceRole::new("Worker", "lambda.amazonaws.com", "Sends payment events");
//! let send = Statement::allow(["sqs:SendMessage"]).on(Expr::import_value("payments-QueueArn"));
//! role.grant(send.clone());
//! role.grant(send); // granted twice, written once
//! assert_eq!(role.statements().len(), 1);
//! let arn = role.arn(); // usable before the role is added
//! role.finish(&mut t);
//!
//! let json = t.to_json()?;
//! let props = &json["Resources"]["WorkerRole"]["Properties"];
//! let trust = &props["AssumeRolePolicyDocument"]["Statement"][0];
//! assert_eq!(trust["Principal"], json!({"Service": "lambda.amazonaws.com"}));
//! assert_eq!(trust["Action"], json!(["sts:AssumeRole"]));
//! let policy = &props["Policies"][0];
//! assert_eq!(policy["PolicyName"], "wiring");
//! assert_eq!(
//!     policy["PolicyDocument"]["Statement"],
//!     json!([{"Effect": "Allow", "Action": ["sqs:SendMessage"],
//!             "Resource": [{"Fn::ImportValue": "payments-QueueArn"}]}])
//! );
//! assert_eq!(serde_json::to_value(arn).unwrap(), json!({"Fn::GetAtt": ["WorkerRole", "Arn"]}));
//! # Ok::<(), platform_model::Error>(())
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cfn::{Expr, Json, Value};

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    /// Grants the actions.
    Allow,
    /// Refuses the actions, whatever else allows them.
    Deny,
}

/// Who a resource policy statement applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// IAM principals by ARN (accounts, roles).
    Aws(Vec<Value<String>>),
    /// AWS services, e.g. `events.amazonaws.com`.
    Service(Vec<String>),
    /// One AWS service whose name is an expression, e.g. `logs.${AWS::Region}.amazonaws.com`.
    ServiceExpr(Value<String>),
}

impl Principal {
    /// The account root of the stack's account: delegates to the account's IAM policies.
    pub fn account_root() -> Principal {
        Principal::Aws(vec![
            Expr::sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root").into(),
        ])
    }

    /// One AWS service principal.
    pub fn service(name: impl Into<String>) -> Principal {
        Principal::Service(vec![name.into()])
    }
}

impl Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let json = match self {
            Principal::Aws(arns) if arns.len() == 1 => serde_json::json!({ "AWS": arns[0] }),
            Principal::Aws(arns) => serde_json::json!({ "AWS": arns }),
            Principal::Service(names) if names.len() == 1 => {
                serde_json::json!({ "Service": names[0] })
            }
            Principal::Service(names) => serde_json::json!({ "Service": names }),
            Principal::ServiceExpr(name) => serde_json::json!({ "Service": name }),
        };
        json.serialize(s)
    }
}

/// One policy statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
#[must_use]
pub struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<Principal>,
    action: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resource: Vec<Value<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    condition: BTreeMap<String, BTreeMap<String, Json>>,
}

impl Statement {
    /// An `Allow` statement of `actions` on nothing yet.
    pub fn allow<S: Into<String>>(actions: impl IntoIterator<Item = S>) -> Self {
        Statement {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            action: actions.into_iter().map(Into::into).collect(),
            resource: Vec::new(),
            condition: BTreeMap::new(),
        }
    }
    /// Turns the statement into a `Deny`.
    pub fn deny(mut self) -> Self {
        self.effect = Effect::Deny;
        self
    }
    /// Names the statement.
    pub fn sid(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }
    /// Sets the principal (resource policies only).
    pub fn principal(mut self, p: Principal) -> Self {
        self.principal = Some(p);
        self
    }
    /// Adds a resource.
    pub fn on(mut self, resource: impl Into<Value<String>>) -> Self {
        self.resource.push(resource.into());
        self
    }
    /// Adds a condition, e.g. `("StringEquals", "aws:SourceAccount", account)`.
    pub fn when(mut self, operator: &str, key: &str, value: impl Serialize) -> Self {
        self.condition
            .entry(operator.to_owned())
            .or_default()
            .insert(
                key.to_owned(),
                serde_json::to_value(value).unwrap_or(Json::Null),
            );
        self
    }
    /// The actions of the statement.
    pub fn actions(&self) -> &[String] {
        &self.action
    }
    /// The resources of the statement.
    pub fn resources(&self) -> &[Value<String>] {
        &self.resource
    }
}

/// A policy document.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    version: PolicyVersion,
    statement: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
enum PolicyVersion {
    #[default]
    #[serde(rename = "2012-10-17")]
    V2012,
}

impl PolicyDocument {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a statement.
    #[must_use]
    pub fn statement(mut self, s: Statement) -> Self {
        self.statement.push(s);
        self
    }
    /// The statements.
    pub fn statements(&self) -> &[Statement] {
        &self.statement
    }
    /// The document as JSON, for a resource's policy property.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }
}

/// An IAM role assumed by an AWS service, whose permissions are granted by wiring.
///
/// Constructs add statements through their `grant_*` methods (`table.grant_write(&mut role)`);
/// [`ServiceRole::finish`] adds the role with one inline policy holding exactly those
/// statements. Its ARN can be used before that: the template checks that the role was added.
#[derive(Debug, Clone)]
pub struct ServiceRole {
    id: String,
    service: String,
    description: String,
    statements: Vec<Statement>,
    managed: Vec<Value<String>>,
    checkov_skips: Vec<(String, String)>,
    name: Option<String>,
    trust_actions: Vec<String>,
    trust_conditions: Vec<(String, String, Json)>,
    retain: bool,
}

impl ServiceRole {
    /// A role that `service` (e.g. `lambda.amazonaws.com`) assumes, added as `<id>Role`.
    pub fn new(id: &str, service: &str, description: &str) -> Self {
        ServiceRole {
            id: format!("{id}Role"),
            service: service.to_owned(),
            description: description.to_owned(),
            statements: Vec::new(),
            managed: Vec::new(),
            checkov_skips: Vec::new(),
            name: None,
            trust_actions: vec!["sts:AssumeRole".to_owned()],
            trust_conditions: Vec::new(),
            retain: false,
        }
    }

    /// Keeps the role when the stack is deleted or the role replaced (for a role an
    /// account-wide setting points at).
    #[must_use]
    pub fn retained(mut self) -> Self {
        self.retain = true;
        self
    }

    /// A role for the pods of one service account through EKS Pod Identity: trusted by
    /// `pods.eks.amazonaws.com` (`sts:AssumeRole` and `sts:TagSession`), only for this account
    /// (`aws:SourceAccount`) and only for the session tags Pod Identity sets for this cluster,
    /// namespace and service account (`aws:RequestTag/eks-cluster-arn`,
    /// `kubernetes-namespace`, `kubernetes-service-account`; the EKS user guide's "Create IAM
    /// role with trust policy required by EKS Pod Identity"). The association that binds it is
    /// made by the caller, for the same namespace and service account.
    pub fn for_pod_identity(
        id: &str,
        description: &str,
        cluster_arn: Expr,
        namespace: &str,
        service_account: &str,
    ) -> Self {
        let mut role = ServiceRole::new(id, "pods.eks.amazonaws.com", description);
        role.trust_actions.push("sts:TagSession".to_owned());
        role.trust_conditions.push((
            "StringEquals".to_owned(),
            "aws:SourceAccount".to_owned(),
            serde_json::to_value(Value::<String>::from(Expr::account_id())).unwrap_or(Json::Null),
        ));
        for (tag, value) in [
            (
                "aws:RequestTag/eks-cluster-arn",
                serde_json::to_value(Value::<String>::from(cluster_arn)).unwrap_or(Json::Null),
            ),
            ("aws:RequestTag/kubernetes-namespace", Json::from(namespace)),
            (
                "aws:RequestTag/kubernetes-service-account",
                Json::from(service_account),
            ),
        ] {
            role.trust_conditions
                .push(("StringEquals".to_owned(), tag.to_owned(), value));
        }
        role
    }

    /// Gives the role a fixed physical name (for references that cannot take an ARN, such as
    /// an EKS access entry of another stack). Unnamed roles get generated names.
    #[must_use]
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// The role's logical id (checked when the role is added).
    pub fn logical_id(&self) -> &str {
        &self.id
    }

    /// The role's ARN.
    pub fn arn(&self) -> Expr {
        Expr::GetAtt {
            resource: self.id.clone(),
            attribute: "Arn".into(),
        }
    }

    /// Grants a statement (the grant methods of constructs call this).
    pub fn grant(&mut self, s: Statement) {
        if !self.statements.contains(&s) {
            self.statements.push(s);
        }
    }

    /// Attaches an AWS managed policy by ARN, for permissions AWS defines on `*` only.
    pub fn attach_managed(&mut self, arn: Expr) {
        self.managed.push(arn.into());
    }

    /// Suppresses a checkov check on the role, with the reason.
    pub fn checkov_skip(&mut self, id: &str, reason: &str) {
        self.checkov_skips.push((id.to_owned(), reason.to_owned()));
    }

    /// Every statement granted so far.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Adds the role to `t`.
    pub fn finish(
        self,
        t: &mut crate::cfn::Template,
    ) -> crate::cfn::Handle<crate::resources::iam::Role> {
        use crate::resources::iam::{Role, role};
        let mut trusted =
            Statement::allow(self.trust_actions).principal(Principal::service(&self.service));
        for (operator, key, value) in self.trust_conditions {
            trusted = trusted.when(&operator, &key, value);
        }
        let trust = PolicyDocument::new().statement(trusted);
        let mut role = Role::new(trust.to_json()).description(self.description.as_str());
        if let Some(name) = &self.name {
            role = role.role_name(name.as_str());
        }
        if !self.statements.is_empty() {
            let mut doc = PolicyDocument::new();
            for s in self.statements {
                doc = doc.statement(s);
            }
            role = role.policies(vec![role::Policy::new(doc.to_json(), "wiring")]);
        }
        if !self.managed.is_empty() {
            role = role.managed_policy_arns(self.managed);
        }
        let mut attrs = crate::cfn::Attributes::new();
        if self.retain {
            attrs = attrs.retain();
        }
        for (id, why) in self.checkov_skips {
            attrs = attrs.checkov_skip(id, why);
        }
        t.add_with(&self.id, role, attrs)
    }
}
