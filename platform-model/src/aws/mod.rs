//! Hand-written constructs over the generated resource types: defaults that are safe, grants
//! derived from wiring, and typed references between resources.
//!
//! Each construct adds its resources to a [`crate::cfn::Template`] and returns handles.
//!
//! # Example: one set of tags on every construct
//!
//! A team's stack passes its [`Tags`] to each construct, which writes them in the form its
//! resource type wants:
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use platform_model::aws::Tags;
//! use platform_model::aws::kms::{EncryptionKey, KeyProps};
//! use platform_model::aws::sqs::DeadLetterQueue;
//! use platform_model::cfn::Template;
//! use serde_json::json;
//!
//! let tags = Tags(BTreeMap::from([
//!     ("team".to_owned(), "payments".to_owned()),
//!     ("cost-center".to_owned(), "cc-42".to_owned()),
//! ]));
//! let mut t = Template::new("payments", "Payments team's encrypted dead letters");
//! let key = EncryptionKey::new(
//!     &mut t,
//!     "Payments",
//!     KeyProps {
//!         description: "Payments team's data".into(),
//!         alias: "payments".into(),
//!         pending_window_days: 30,
//!         admin_role_names: vec![],
//!         service_users: vec![],
//!         allow_logs: false,
//!         tags: tags.clone(),
//!     },
//! );
//! DeadLetterQueue::new(&mut t, "Failed", "payments-failed", &key, 14, &tags);
//!
//! let json = t.to_json()?;
//! let expected = json!([
//!     {"Key": "cost-center", "Value": "cc-42"},
//!     {"Key": "team", "Value": "payments"}
//! ]);
//! assert_eq!(json["Resources"]["PaymentsKey"]["Properties"]["Tags"], expected);
//! assert_eq!(json["Resources"]["FailedQueue"]["Properties"]["Tags"], expected);
//! # Ok::<(), platform_model::Error>(())
//! ```

pub mod apigateway;
pub mod cloudwatch;
pub mod dynamodb;
pub mod events;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod logs;
pub mod sns;
pub mod sqs;
pub mod ssm;
pub mod stepfunctions;

use std::collections::BTreeMap;

/// Tags applied to every taggable resource of a stack, as `(key, value)` pairs in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(pub BTreeMap<String, String>);

impl Tags {
    /// Converts to a generated type's tag list.
    pub fn to_list<T>(&self, make: impl Fn(&str, &str) -> T) -> Vec<T> {
        self.0.iter().map(|(k, v)| make(k, v)).collect()
    }
}
