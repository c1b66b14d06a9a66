//! A change set as a diff a reviewer can trust: what CloudFormation itself says it will do,
//! per resource, with replacement taken from the change set (`Replacement`: True, Conditional,
//! False), never guessed from templates.

use std::fmt::Write;

use aws_sdk_cloudformation::types::{ChangeAction, ResourceChange};
use serde::Serialize;

/// What happens to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Created.
    Add,
    /// Updated in place, or replaced (see `replacement`).
    Modify,
    /// Deleted.
    Remove,
    /// Imported.
    Import,
    /// Decided at execution (dynamic references).
    Dynamic,
}

impl Action {
    fn sign(self) -> char {
        match self {
            Action::Add => '+',
            Action::Modify => '~',
            Action::Remove => '-',
            Action::Import => '<',
            Action::Dynamic => '?',
        }
    }
}

/// One changed property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyDiff {
    /// `Properties.<name>` (or the path the change set gives).
    pub path: String,
    /// `Never`, `Conditionally` or `Always`, as the change set says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_recreation: Option<String>,
    /// The value before, when the change set gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The value after, when the change set gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// One resource of the change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceDiff {
    /// What happens.
    pub action: Action,
    /// The logical id.
    pub logical_id: String,
    /// The resource type.
    pub resource_type: String,
    /// `True`, `Conditional` or `False` for a modify, from the change set; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// The changed properties.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<PropertyDiff>,
}

impl ResourceDiff {
    /// From the SDK's `ResourceChange`.
    pub fn from_sdk(c: &ResourceChange) -> ResourceDiff {
        let action = match c.action() {
            Some(ChangeAction::Add) => Action::Add,
            Some(ChangeAction::Remove) => Action::Remove,
            Some(ChangeAction::Import) => Action::Import,
            Some(ChangeAction::Dynamic) => Action::Dynamic,
            _ => Action::Modify,
        };
        let details = c
            .details()
            .iter()
            .filter_map(|d| {
                let t = d.target()?;
                let attribute = t.attribute().map(|a| a.as_str().to_owned());
                let name = t.path().or(t.name()).map(str::to_owned);
                let path = match (attribute, name) {
                    (Some(a), Some(n)) if !n.starts_with('/') => format!("{a}.{n}"),
                    (_, Some(n)) => n,
                    (Some(a), None) => a,
                    (None, None) => return None,
                };
                Some(PropertyDiff {
                    path,
                    requires_recreation: t.requires_recreation().map(|r| r.as_str().to_owned()),
                    before: t.before_value().map(str::to_owned),
                    after: t.after_value().map(str::to_owned),
                })
            })
            .collect();
        ResourceDiff {
            action,
            logical_id: c.logical_resource_id().unwrap_or_default().to_owned(),
            resource_type: c.resource_type().unwrap_or_default().to_owned(),
            replacement: (action == Action::Modify)
                .then(|| c.replacement().map(|r| r.as_str().to_owned()))
                .flatten(),
            details,
        }
    }

    /// Whether the change set says the resource is (or may be) replaced.
    pub fn replaces(&self) -> bool {
        matches!(self.replacement.as_deref(), Some("True" | "Conditional"))
    }
}

/// Whether a stack is new, changed or unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackState {
    /// Does not exist yet: everything is an add.
    New,
    /// Exists and the change set has changes.
    Changed,
    /// Exists and nothing would change.
    Unchanged,
}

/// One stack's diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackDiff {
    /// The stack.
    pub stack: String,
    /// New, changed or unchanged.
    pub state: StackState,
    /// The resources, in the change set's order.
    pub changes: Vec<ResourceDiff>,
}

/// Counts over one or more stacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources created.
    pub add: usize,
    /// Resources updated in place.
    pub change: usize,
    /// Resources replaced (True or Conditional).
    pub replace: usize,
    /// Resources deleted.
    pub remove: usize,
}

impl Summary {
    /// The counts of `diffs`.
    pub fn of(diffs: &[StackDiff]) -> Summary {
        let mut s = Summary::default();
        for c in diffs.iter().flat_map(|d| &d.changes) {
            match c.action {
                Action::Add | Action::Import => s.add += 1,
                Action::Remove => s.remove += 1,
                Action::Modify | Action::Dynamic if c.replaces() => s.replace += 1,
                Action::Modify | Action::Dynamic => s.change += 1,
            }
        }
        s
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == Summary::default()
    }

    /// `N to add, N to change, N to replace, N to remove`.
    pub fn line(&self) -> String {
        format!(
            "{} to add, {} to change, {} to replace, {} to remove",
            self.add, self.change, self.replace, self.remove
        )
    }
}

/// The diff as text: a header per stack, a line per resource (`+`, `~`, `-`), its replacement
/// as the change set says, the changed property paths with old and new values where given.
pub fn render(diff: &StackDiff) -> String {
    let mut out = String::new();
    let state = match diff.state {
        StackState::New => "new stack",
        StackState::Changed => "changes",
        StackState::Unchanged => "no changes",
    };
    let _ = writeln!(out, "Stack {} ({state})", diff.stack);
    let width = diff
        .changes
        .iter()
        .map(|c| c.logical_id.len())
        .max()
        .unwrap_or(0);
    for c in &diff.changes {
        let replacement = match c.replacement.as_deref() {
            Some("True") => "  REPLACEMENT",
            Some("Conditional") => "  REPLACEMENT (conditional)",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  {} {:width$}  {}{replacement}",
            c.action.sign(),
            c.logical_id,
            c.resource_type
        );
        for d in &c.details {
            let values = match (&d.before, &d.after) {
                (Some(b), Some(a)) => format!(": {b} -> {a}"),
                (None, Some(a)) => format!(": -> {a}"),
                (Some(b), None) => format!(": {b} ->"),
                (None, None) => String::new(),
            };
            let recreation = match d.requires_recreation.as_deref() {
                Some("Always") => " (requires replacement)",
                Some("Conditionally") => " (may require replacement)",
                _ => "",
            };
            let _ = writeln!(out, "      {}{values}{recreation}", d.path);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: Action, id: &str, replacement: Option<&str>) -> ResourceDiff {
        ResourceDiff {
            action,
            logical_id: id.into(),
            resource_type: "AWS::SQS::Queue".into(),
            replacement: replacement.map(str::to_owned),
            details: vec![],
        }
    }

    #[test]
    fn the_summary_counts_replacement_from_the_change_set() {
        let d = StackDiff {
            stack: "s".into(),
            state: StackState::Changed,
            changes: vec![
                change(Action::Add, "A", None),
                change(Action::Modify, "B", Some("False")),
                change(Action::Modify, "C", Some("True")),
                change(Action::Modify, "D", Some("Conditional")),
                change(Action::Remove, "E", None),
            ],
        };
        let s = Summary::of(std::slice::from_ref(&d));
        assert_eq!(s.line(), "1 to add, 1 to change, 2 to replace, 1 to remove");
        let text = render(&d);
        assert!(
            text.contains("  ~ C  AWS::SQS::Queue  REPLACEMENT\n"),
            "{text}"
        );
        assert!(text.contains("  ~ B  AWS::SQS::Queue\n"), "{text}");
        assert!(text.contains("REPLACEMENT (conditional)"), "{text}");
    }
}
