//! Progress of a stack operation from its events: resources done out of total, elapsed time,
//! the current resource; and the first failure's reason (not the last rollback line).

use std::collections::BTreeSet;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One stack event, as CloudFormation reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's id.
    pub id: String,
    /// The resource's logical id (the stack's own name for stack-level events).
    pub logical_id: String,
    /// The resource type (`AWS::CloudFormation::Stack` for the stack itself).
    pub resource_type: String,
    /// `CREATE_IN_PROGRESS`, `UPDATE_COMPLETE`, `CREATE_FAILED`, ...
    pub status: String,
    /// The status reason, if any.
    pub reason: Option<String>,
}

impl Event {
    fn is_stack(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }
}

/// The state of one stack operation.
#[derive(Debug)]
pub struct Progress {
    total: usize,
    done: BTreeSet<String>,
    current: Option<String>,
    first_failure: Option<(String, String)>,
    bar: ProgressBar,
}

impl Progress {
    /// Progress of `total` resource changes on `stack`, drawn on `target` (stderr when it is a
    /// terminal; hidden otherwise, and the caller prints event lines instead).
    pub fn new(stack: &str, total: usize, target: ProgressDrawTarget) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total as u64), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} resources, {elapsed} {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(stack.to_owned());
        Progress {
            total,
            done: BTreeSet::new(),
            current: None,
            first_failure: None,
            bar,
        }
    }

    /// Takes one event into account (events in the order they happened).
    pub fn apply(&mut self, e: &Event) {
        if e.is_stack() {
            return;
        }
        let terminal = e.status.ends_with("_COMPLETE") || e.status == "DELETE_SKIPPED";
        if e.status.ends_with("_FAILED") {
            let reason = e.reason.clone().unwrap_or_else(|| e.status.clone());
            let cancelled = reason.contains("cancelled");
            if self.first_failure.is_none() && !cancelled {
                self.first_failure = Some((e.logical_id.clone(), reason));
            }
        }
        if terminal && !e.status.starts_with("ROLLBACK") && !self.done.contains(&e.logical_id) {
            self.done.insert(e.logical_id.clone());
        }
        self.current = Some(format!(
            "{} ({}) {}",
            e.logical_id, e.resource_type, e.status
        ));
        self.bar
            .set_position(self.done.len().min(self.total) as u64);
        if let Some(c) = &self.current {
            self.bar.set_message(c.clone());
        }
    }

    /// Resources done.
    pub fn done(&self) -> usize {
        self.done.len()
    }

    /// The first resource that failed and why.
    pub fn first_failure(&self) -> Option<&(String, String)> {
        self.first_failure.as_ref()
    }

    /// Redraws (the elapsed time moves on between events).
    pub fn tick(&self) {
        self.bar.tick();
    }

    /// Ends the bar, leaving its last line.
    pub fn finish(&self, message: &str) {
        self.bar
            .set_position(self.done.len().min(self.total) as u64);
        self.bar.finish_with_message(message.to_owned());
    }

    /// The bar's current line without drawing (for logs when stderr is not a terminal).
    pub fn line(&self) -> String {
        format!(
            "{}/{} resources, {}",
            self.done.len().min(self.total),
            self.total,
            self.current.as_deref().unwrap_or("waiting")
        )
    }
}

/// How often a deploy polls the stack's events.
pub const POLL: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::InMemoryTerm;

    fn ev(n: usize, id: &str, kind: &str, status: &str, reason: Option<&str>) -> Event {
        Event {
            id: format!("e{n}"),
            logical_id: id.into(),
            resource_type: kind.into(),
            status: status.into(),
            reason: reason.map(str::to_owned),
        }
    }

    /// A recorded create that fails on the third resource and rolls back.
    fn recorded() -> Vec<Event> {
        vec![
            ev(
                1,
                "demo",
                "AWS::CloudFormation::Stack",
                "CREATE_IN_PROGRESS",
                Some("User Initiated"),
            ),
            ev(2, "Key", "AWS::KMS::Key", "CREATE_IN_PROGRESS", None),
            ev(3, "Queue", "AWS::SQS::Queue", "CREATE_IN_PROGRESS", None),
            ev(4, "Key", "AWS::KMS::Key", "CREATE_COMPLETE", None),
            ev(5, "Queue", "AWS::SQS::Queue", "CREATE_COMPLETE", None),
            ev(
                6,
                "Param",
                "AWS::SSM::Parameter",
                "CREATE_IN_PROGRESS",
                None,
            ),
            ev(
                7,
                "Param",
                "AWS::SSM::Parameter",
                "CREATE_FAILED",
                Some("Value 'x' fails AllowedPattern ^(true|false)$"),
            ),
            ev(
                8,
                "Topic",
                "AWS::SNS::Topic",
                "CREATE_FAILED",
                Some("Resource creation cancelled"),
            ),
            ev(
                9,
                "demo",
                "AWS::CloudFormation::Stack",
                "ROLLBACK_IN_PROGRESS",
                Some(
                    "The following resource(s) failed to create: [Param, Topic]. Rollback requested by user.",
                ),
            ),
            ev(10, "Queue", "AWS::SQS::Queue", "DELETE_COMPLETE", None),
            ev(
                11,
                "demo",
                "AWS::CloudFormation::Stack",
                "ROLLBACK_COMPLETE",
                None,
            ),
        ]
    }

    #[test]
    fn the_bar_renders_done_out_of_total_and_the_current_resource() {
        let term = InMemoryTerm::new(4, 160);
        let mut p = Progress::new(
            "demo",
            4,
            ProgressDrawTarget::term_like(Box::new(term.clone())),
        );
        for e in &recorded()[..6] {
            p.apply(e);
        }
        p.tick();
        let screen = term.contents();
        assert!(screen.contains("demo ["), "{screen}");
        assert!(screen.contains("2/4 resources"), "{screen}");
        assert!(
            screen.contains("Param (AWS::SSM::Parameter) CREATE_IN_PROGRESS"),
            "{screen}"
        );
        assert_eq!(
            p.line(),
            "2/4 resources, Param (AWS::SSM::Parameter) CREATE_IN_PROGRESS"
        );
    }

    #[test]
    fn the_first_failure_is_reported_not_the_rollback() {
        let mut p = Progress::new("demo", 4, ProgressDrawTarget::hidden());
        for e in &recorded() {
            p.apply(e);
        }
        let (id, reason) = p.first_failure().unwrap();
        assert_eq!(id, "Param");
        assert!(reason.contains("AllowedPattern"), "{reason}");
        // The rollback's deletes do not count as progress.
        assert_eq!(p.done(), 2);
    }
}
