//! What people read: one sentence per platform event, made by EventBridge input transformers
//! on the way to the notifications topic (email, chat). The pager keeps the machine-readable
//! event (the paging topic gets it whole).
//!
//! A sentence's placeholders are paths of the event and its contract detail type; the severity
//! is a word of the template (`CRITICAL`), so each (detail type, severity) pair has its own rule
//! filtering on `detail.severity`. `approval.requested` has no sentence here: the approval
//! function publishes its own message, with the links.
//!
//! ```
//! use platform_model::contract::Severity;
//! use platform_model::contract::events::DetailType;
//! use platform_model::platform::messages::{render, sentence};
//! use serde_json::json;
//!
//! let s = sentence(DetailType::ActionCompleted, Severity::Critical).unwrap();
//! let event = json!({
//!     "detail": {
//!         "incident_id": "am-3f2a9c", "alert_name": "CheckoutHighErrorRate",
//!         "severity": "critical", "action": "enable_degraded_mode",
//!         "target": {"namespace": "apps", "name": "checkout"}, "outcome": "applied",
//!         "message": "degraded mode enabled: /checkout/degraded_mode set to true",
//!         "completed_at": "2026-01-05T10:02:11Z"
//!     }
//! });
//! assert_eq!(
//!     render(&s, &event),
//!     "CRITICAL CheckoutHighErrorRate on apps/checkout: enable_degraded_mode applied: degraded \
//!      mode enabled: /checkout/degraded_mode set to true (incident am-3f2a9c, runbook at 2026-01-05T10:02:11Z)"
//! );
//! assert!(sentence(DetailType::ApprovalRequested, Severity::Critical).is_none());
//! ```

use std::collections::BTreeMap;

use crate::contract::Severity;
use crate::contract::events::DetailType;

/// An input transformer: placeholder -> event path, and the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// `InputPathsMap`.
    pub paths: BTreeMap<String, String>,
    /// `InputTemplate` (plain text: EventBridge delivers it as the message).
    pub template: String,
}

/// The detail types people get a sentence for (in this order).
pub const SENTENCES: [DetailType; 5] = [
    DetailType::IncidentCreated,
    DetailType::ActionCompleted,
    DetailType::ApprovalDecided,
    DetailType::IncidentEscalated,
    DetailType::IncidentResolved,
];

/// The sentence of `detail_type` for incidents of `severity`, or `None` when people get
/// another message (`approval.requested`: the approval function's, with the links).
pub fn sentence(detail_type: DetailType, severity: Severity) -> Option<Sentence> {
    let sev = severity.as_str().to_ascii_uppercase();
    let (fields, template): (&[&str], String) = match detail_type {
        DetailType::IncidentCreated => (
            &["alert_name", "summary", "incident_id", "starts_at"],
            format!(
                "{sev} <alert_name> firing: <summary> (incident <incident_id>, since <starts_at>)"
            ),
        ),
        DetailType::ActionCompleted => (
            &[
                "alert_name",
                "action",
                "outcome",
                "message",
                "incident_id",
                "completed_at",
            ],
            format!(
                "{sev} <alert_name> on <namespace>/<name>: <action> <outcome>: <message> (incident <incident_id>, runbook at <completed_at>)"
            ),
        ),
        DetailType::ApprovalDecided => (
            &[
                "alert_name",
                "action",
                "decision",
                "decided_by",
                "decided_at",
                "incident_id",
            ],
            format!(
                "{sev} <alert_name>: <action> on <namespace>/<name> <decision> by <decided_by> at <decided_at> (incident <incident_id>)"
            ),
        ),
        DetailType::IncidentEscalated => (
            &["alert_name", "summary", "incident_id", "escalated_at"],
            format!(
                "{sev} <alert_name> ESCALATED to the on-call engineer: <summary> (incident <incident_id>, escalated <escalated_at>)"
            ),
        ),
        DetailType::IncidentResolved => (
            &["alert_name", "incident_id", "starts_at", "resolved_at"],
            format!(
                "RESOLVED {sev} <alert_name> (incident <incident_id>, started <starts_at>, resolved <resolved_at>)"
            ),
        ),
        DetailType::ApprovalRequested => return None,
    };
    let mut paths: BTreeMap<String, String> = fields
        .iter()
        .map(|f| ((*f).to_owned(), format!("$.detail.{f}")))
        .collect();
    if template.contains("<namespace>") {
        paths.insert("namespace".into(), "$.detail.target.namespace".into());
        paths.insert("name".into(), "$.detail.target.name".into());
    }
    Some(Sentence { paths, template })
}

/// The message EventBridge makes of `event` with `sentence` (what the tests compare with the
/// emulator's): each `<placeholder>` replaced by the text at its path.
pub fn render(sentence: &Sentence, event: &serde_json::Value) -> String {
    let mut out = sentence.template.clone();
    for (name, path) in &sentence.paths {
        let mut v = event;
        for part in path.trim_start_matches("$.").split('.') {
            v = &v[part];
        }
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        out = out.replace(&format!("<{name}>"), &text);
    }
    out
}
