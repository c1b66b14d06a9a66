//! A customer managed KMS key with rotation, a key policy and an alias.
//!
//! # Example: a key EventBridge may use, administered by a role
//!
//! ```
//! use platform_model::aws::Tags;
//! use platform_model::aws::iam::ServiceRole;
//! use platform_model::aws::kms::{EncryptionKey, KeyProps, SERVICE_USE_ACTIONS};
//! use platform_model::cfn::Template;
//! use serde_json::json;
//!
//! let mut t = Template::new("payments-key", "Payments team's key");
//! let key = EncryptionKey::new(
//!     &mut t,
//!     "Payments",
//!     KeyProps {
//!         description: "Payments team's events and queues".into(),
//!         alias: "payments".into(), // becomes alias/payments
//!         pending_window_days: 30,
//!         admin_role_names: vec!["payments-admin".into()],
//!         service_users: vec!["events.amazonaws.com".into()],
//!         allow_logs: false,
//!         tags: Tags::default(),
//!     },
//! );
//! let mut role = ServiceRole::new("Worker", "lambda.amazonaws.com", "Reads the queues");
//! key.grant_encrypt_decrypt(&mut role);
//! role.finish(&mut t);
//!
//! let json = t.to_json()?;
//! let props = &json["Resources"]["PaymentsKey"]["Properties"];
//! assert_eq!(props["EnableKeyRotation"], true);
//! assert_eq!(props["PendingWindowInDays"], 30);
//! let statements = props["KeyPolicy"]["Statement"].as_array().unwrap();
//! let sids: Vec<_> = statements.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
//! assert_eq!(
//!     sids,
//!     ["AccountRootAdministersThroughIam", "KeyAdministrators", "ServicesEncryptOnBehalfOfTheAccount"]
//! );
//! // The service may only use the key, and only for this account's resources.
//! let services = &statements[2];
//! assert_eq!(services["Principal"], json!({"Service": "events.amazonaws.com"}));
//! assert_eq!(services["Action"], json!(SERVICE_USE_ACTIONS));
//! assert_eq!(
//!     services["Condition"]["StringEquals"]["aws:SourceAccount"],
//!     json!({"Ref": "AWS::AccountId"})
//! );
//! let alias = &json["Resources"]["PaymentsAlias"]["Properties"];
//! assert_eq!(alias["AliasName"], "alias/payments");
//! assert_eq!(alias["TargetKeyId"], json!({"Ref": "PaymentsKey"}));
//! // The worker's grant names this key's ARN.
//! let grant = &json["Resources"]["WorkerRole"]["Properties"]["Policies"][0]["PolicyDocument"];
//! assert_eq!(grant["Statement"][0]["Resource"], json!([{"Fn::GetAtt": ["PaymentsKey", "Arn"]}]));
//! # Ok::<(), platform_model::Error>(())
//! ```

use crate::aws::Tags;
use crate::aws::iam::{PolicyDocument, Principal, Statement};
use crate::cfn::{Expr, Handle, Template};
use crate::resources::kms::{Alias, Key, key};

/// A symmetric encryption key and its alias.
#[derive(Debug, Clone)]
pub struct EncryptionKey {
    key: Handle<Key>,
    alias: Handle<Alias>,
}

/// What an [`EncryptionKey`] is made from.
#[derive(Debug, Clone)]
pub struct KeyProps {
    /// What the key protects.
    pub description: String,
    /// The alias, with or without the `alias/` prefix.
    pub alias: String,
    /// Days between `ScheduleKeyDeletion` and deletion (7-30).
    pub pending_window_days: u32,
    /// Roles of the account that administer the key (besides the account root).
    pub admin_role_names: Vec<String>,
    /// AWS service principals that encrypt or decrypt with the key on the account's behalf
    /// (for example `events.amazonaws.com` delivering to an encrypted queue).
    pub service_users: Vec<String>,
    /// Let CloudWatch Logs of the stack's region (`logs.${AWS::Region}.amazonaws.com`) encrypt
    /// this account's log groups with the key.
    pub allow_logs: bool,
    /// Tags.
    pub tags: Tags,
}

/// What a service principal needs to write to and read from resources encrypted with the key.
pub const SERVICE_USE_ACTIONS: [&str; 3] =
    ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"];

const ADMIN_ACTIONS: [&str; 14] = [
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
];

impl EncryptionKey {
    /// Adds the key (rotation on) and its alias to `t` under logical ids derived from `id`.
    pub fn new(t: &mut Template, id: &str, props: KeyProps) -> Self {
        let policy = key_policy(&props);
        let key = t.add(
            &format!("{id}Key"),
            Key::new()
                .description(props.description.as_str())
                .enable_key_rotation(true)
                .key_policy(policy.to_json())
                .pending_window_in_days(i64::from(props.pending_window_days))
                .tags(props.tags.to_list(|k, v| key::Tag::new(k, v))),
        );
        let alias_name = if props.alias.starts_with("alias/") {
            props.alias.clone()
        } else {
            format!("alias/{}", props.alias)
        };
        let alias = t.add(
            &format!("{id}Alias"),
            Alias::new(alias_name.as_str(), key.reference()),
        );
        EncryptionKey { key, alias }
    }

    /// The key's ARN.
    pub fn arn(&self) -> Expr {
        self.key.arn()
    }

    /// The key's handle.
    pub fn key(&self) -> &Handle<Key> {
        &self.key
    }

    /// The alias's handle.
    pub fn alias(&self) -> &Handle<Alias> {
        &self.alias
    }
}

/// The key policy: the account root administers the key through IAM (AWS's default, without
/// which the key becomes unmanageable), named admin roles manage but cannot use it, and the
/// listed service principals may only encrypt and decrypt.
fn key_policy(props: &KeyProps) -> PolicyDocument {
    // A key policy's resource is always "*": the key itself.
    let mut doc = PolicyDocument::new().statement(
        Statement::allow(["kms:*"])
            .sid("AccountRootAdministersThroughIam")
            .principal(Principal::account_root())
            .on("*"),
    );
    if !props.admin_role_names.is_empty() {
        doc = doc.statement(
            Statement::allow(ADMIN_ACTIONS)
                .sid("KeyAdministrators")
                .principal(Principal::Aws(
                    props
                        .admin_role_names
                        .iter()
                        .map(|r| {
                            Expr::sub(format!(
                                "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{r}"
                            ))
                            .into()
                        })
                        .collect(),
                ))
                .on("*"),
        );
    }
    if !props.service_users.is_empty() {
        doc = doc.statement(
            Statement::allow(SERVICE_USE_ACTIONS)
                .sid("ServicesEncryptOnBehalfOfTheAccount")
                .principal(Principal::Service(props.service_users.clone()))
                .on("*")
                // Confused deputy: only on behalf of this account's resources.
                .when("StringEquals", "aws:SourceAccount", Expr::account_id()),
        );
    }
    if props.allow_logs {
        doc = doc.statement(
            Statement::allow([
                "kms:Decrypt*",
                "kms:Describe*",
                "kms:Encrypt*",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
            ])
            .sid("CloudWatchLogsEncryptsThisAccountsLogGroups")
            // The stack's own region, whatever region the settings name.
            .principal(Principal::ServiceExpr(
                Expr::sub("logs.${AWS::Region}.amazonaws.com").into(),
            ))
            .on("*")
            .when(
                "ArnLike",
                "kms:EncryptionContext:aws:logs:arn",
                Expr::sub(
                    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*",
                ),
            ),
        );
    }
    doc
}

impl EncryptionKey {
    /// Lets `role` encrypt and decrypt with the key (reading and writing encrypted resources).
    pub fn grant_encrypt_decrypt(&self, role: &mut crate::aws::iam::ServiceRole) {
        role.grant(Statement::allow(["kms:Decrypt", "kms:GenerateDataKey"]).on(self.arn()));
    }
}
