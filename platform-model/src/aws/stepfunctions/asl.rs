//! A typed Amazon States Language builder (JSONPath).
//!
//! States are named by [`StateId`] handles that only the builder hands out, so a transition
//! always names a declared state; [`Builder::build`] then refuses a declared state that was never
//! defined, a state no path reaches, a machine without a reachable terminal state, and names
//! over the 80-character limit — each error names the state.
//!
//! JSONPath rather than JSONata: cfn-lint validates JSONPath definitions (rule E3601), the
//! moto emulator executes them, and the platform's payloads need no transformation JSONPath's
//! intrinsic functions cannot do.
//!
//! ```
//! use platform_model::aws::stepfunctions::asl::{Builder, State, Pass, Cond, Choice};
//! let mut b = Builder::new("demo");
//! let check = b.declare("Check");
//! let done = b.declare("Done");
//! b.define(&check, State::Choice(Choice::new().when(Cond::is_present("$.x", true), &done).otherwise(&done)));
//! b.define(&done, State::Succeed);
//! let definition = b.build(&check).unwrap();
//! assert_eq!(definition.to_json()["StartAt"], "Check");
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Map, json};

use crate::Error;
use crate::cfn::Json;

/// The longest state name Step Functions accepts.
pub const MAX_STATE_NAME: usize = 80;

/// A handle to a declared state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StateId(String);

impl StateId {
    /// The state's name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

/// Where a state goes next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// To another state.
    To(StateId),
    /// The execution ends here.
    End,
}

/// A retry policy of a Task.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// Error names it applies to.
    pub errors: Vec<String>,
    /// Seconds before the first retry.
    pub interval_seconds: u32,
    /// Retries after the first attempt.
    pub max_attempts: u32,
    /// Multiplier of the interval per retry.
    pub backoff_rate: f64,
}

/// A catcher of a Task: on these errors, go to `next` with the error at `result_path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Catch {
    /// Error names it applies to (`States.ALL` for all).
    pub errors: Vec<String>,
    /// Where the error output goes in the state's input.
    pub result_path: Option<String>,
    /// The state to go to.
    pub next: StateId,
}

/// The error name matching every error: Step Functions requires it alone in its `ErrorEquals`
/// and in the last retrier or catcher.
pub const STATES_ALL: &str = "States.ALL";

/// A Task state.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Task {
    resource: String,
    parameters: Json,
    result_selector: Option<Json>,
    result_path: ResultPath,
    retry: Vec<Retry>,
    catch: Vec<Catch>,
    timeout_seconds: Option<u32>,
    next: Next,
    comment: Option<String>,
}

/// Where a state's result goes.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultPath {
    /// Replace the input with the result (the default).
    Replace,
    /// Discard the result, keep the input.
    Discard,
    /// Put the result at this path of the input.
    At(String),
}

impl Task {
    /// A task calling `resource` (an optimized integration ARN such as
    /// `arn:aws:states:::dynamodb:putItem`) with `parameters`.
    pub fn new(resource: impl Into<String>, parameters: Json, next: Next) -> Self {
        Task {
            resource: resource.into(),
            parameters,
            result_selector: None,
            result_path: ResultPath::Replace,
            retry: Vec::new(),
            catch: Vec::new(),
            timeout_seconds: None,
            next,
            comment: None,
        }
    }
    /// Sets `ResultSelector`.
    pub fn result_selector(mut self, s: Json) -> Self {
        self.result_selector = Some(s);
        self
    }
    /// Sets `ResultPath`.
    pub fn result_path(mut self, p: ResultPath) -> Self {
        self.result_path = p;
        self
    }
    /// Adds a retry policy.
    pub fn retry(mut self, r: Retry) -> Self {
        self.retry.push(r);
        self
    }
    /// Adds a catcher.
    pub fn catch(mut self, c: Catch) -> Self {
        self.catch.push(c);
        self
    }
    /// Sets `TimeoutSeconds`.
    pub fn timeout_seconds(mut self, s: u32) -> Self {
        self.timeout_seconds = Some(s);
        self
    }
    /// Sets the comment.
    pub fn comment(mut self, c: impl Into<String>) -> Self {
        self.comment = Some(c.into());
        self
    }
}

/// A Choice rule's condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `StringEquals`.
    StringEquals(String, String),
    /// `NumericGreaterThanEquals`.
    NumericGreaterThanEquals(String, i64),
    /// `BooleanEquals`.
    BooleanEquals(String, bool),
    /// `IsPresent`.
    IsPresent(String, bool),
    /// `And`.
    And(Vec<Cond>),
    /// `Or`.
    Or(Vec<Cond>),
    /// `Not`.
    Not(Box<Cond>),
}

impl Cond {
    /// `Variable` equals the string.
    pub fn string_equals(path: &str, value: impl Into<String>) -> Cond {
        Cond::StringEquals(path.to_owned(), value.into())
    }
    /// `Variable` is (or is not) present.
    pub fn is_present(path: &str, present: bool) -> Cond {
        Cond::IsPresent(path.to_owned(), present)
    }
    /// `Variable` >= the number.
    pub fn at_least(path: &str, n: i64) -> Cond {
        Cond::NumericGreaterThanEquals(path.to_owned(), n)
    }

    fn to_json(&self) -> Json {
        match self {
            Cond::StringEquals(p, v) => json!({"Variable": p, "StringEquals": v}),
            Cond::NumericGreaterThanEquals(p, v) => {
                json!({"Variable": p, "NumericGreaterThanEquals": v})
            }
            Cond::BooleanEquals(p, v) => json!({"Variable": p, "BooleanEquals": v}),
            Cond::IsPresent(p, v) => json!({"Variable": p, "IsPresent": v}),
            Cond::And(cs) => json!({"And": cs.iter().map(Cond::to_json).collect::<Vec<_>>()}),
            Cond::Or(cs) => json!({"Or": cs.iter().map(Cond::to_json).collect::<Vec<_>>()}),
            Cond::Not(c) => json!({"Not": c.to_json()}),
        }
    }

    /// Every JSONPath the condition reads.
    fn paths<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Cond::StringEquals(p, _)
            | Cond::NumericGreaterThanEquals(p, _)
            | Cond::BooleanEquals(p, _)
            | Cond::IsPresent(p, _) => out.push(p),
            Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(|c| c.paths(out)),
            Cond::Not(c) => c.paths(out),
        }
    }
}

/// A Choice state.
#[derive(Debug, Clone, PartialEq, Default)]
#[must_use]
pub struct Choice {
    rules: Vec<(Cond, StateId)>,
    default: Option<StateId>,
}

impl Choice {
    /// A choice with no rules yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// Goes to `next` when `cond` holds (rules are tried in order).
    pub fn when(mut self, cond: Cond, next: &StateId) -> Self {
        self.rules.push((cond, next.clone()));
        self
    }
    /// Goes to `next` when no rule holds.
    pub fn otherwise(mut self, next: &StateId) -> Self {
        self.default = Some(next.clone());
        self
    }
}

/// A Pass state.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Pass {
    parameters: Option<Json>,
    result: Option<Json>,
    result_path: ResultPath,
    next: Next,
}

impl Pass {
    /// A Pass that reshapes its input with `parameters`.
    pub fn parameters(parameters: Json, next: Next) -> Self {
        Pass {
            parameters: Some(parameters),
            result: None,
            result_path: ResultPath::Replace,
            next,
        }
    }
    /// A Pass that injects a fixed `result`.
    pub fn result(result: Json, next: Next) -> Self {
        Pass {
            parameters: None,
            result: Some(result),
            result_path: ResultPath::Replace,
            next,
        }
    }
    /// Sets `ResultPath`.
    pub fn result_path(mut self, p: ResultPath) -> Self {
        self.result_path = p;
        self
    }
}

/// A state.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Does work through an integration.
    Task(Task),
    /// Branches on the input.
    Choice(Choice),
    /// Waits a fixed number of seconds.
    Wait {
        /// Seconds to wait.
        seconds: u32,
        /// Where to go after.
        next: Next,
    },
    /// Reshapes or injects data.
    Pass(Pass),
    /// Ends the execution successfully.
    Succeed,
    /// Ends the execution as failed.
    Fail {
        /// Error name.
        error: String,
        /// Human-readable cause.
        cause: String,
    },
}

impl State {
    fn successors(&self) -> Vec<&StateId> {
        match self {
            State::Task(t) => {
                let mut v: Vec<&StateId> = t.catch.iter().map(|c| &c.next).collect();
                if let Next::To(s) = &t.next {
                    v.push(s);
                }
                v
            }
            State::Choice(c) => c
                .rules
                .iter()
                .map(|(_, s)| s)
                .chain(c.default.iter())
                .collect(),
            State::Wait { next, .. } | State::Pass(Pass { next, .. }) => match next {
                Next::To(s) => vec![s],
                Next::End => vec![],
            },
            State::Succeed | State::Fail { .. } => vec![],
        }
    }

    fn is_terminal(&self) -> bool {
        match self {
            State::Succeed | State::Fail { .. } => true,
            State::Task(Task { next, .. })
            | State::Wait { next, .. }
            | State::Pass(Pass { next, .. }) => *next == Next::End,
            State::Choice(_) => false,
        }
    }

    fn to_json(&self) -> Json {
        let mut m = Map::new();
        let transition = |m: &mut Map<String, Json>, next: &Next| match next {
            Next::To(s) => {
                m.insert("Next".into(), json!(s.0));
            }
            Next::End => {
                m.insert("End".into(), json!(true));
            }
        };
        let result_path = |m: &mut Map<String, Json>, p: &ResultPath| match p {
            ResultPath::Replace => {}
            ResultPath::Discard => {
                m.insert("ResultPath".into(), Json::Null);
            }
            ResultPath::At(p) => {
                m.insert("ResultPath".into(), json!(p));
            }
        };
        match self {
            State::Task(t) => {
                m.insert("Type".into(), json!("Task"));
                if let Some(c) = &t.comment {
                    m.insert("Comment".into(), json!(c));
                }
                m.insert("Resource".into(), json!(t.resource));
                m.insert("Parameters".into(), t.parameters.clone());
                if let Some(s) = &t.result_selector {
                    m.insert("ResultSelector".into(), s.clone());
                }
                result_path(&mut m, &t.result_path);
                if let Some(s) = t.timeout_seconds {
                    m.insert("TimeoutSeconds".into(), json!(s));
                }
                if !t.retry.is_empty() {
                    let r: Vec<Json> = t
                        .retry
                        .iter()
                        .map(|r| {
                            json!({
                                "ErrorEquals": r.errors,
                                "IntervalSeconds": r.interval_seconds,
                                "MaxAttempts": r.max_attempts,
                                "BackoffRate": r.backoff_rate,
                            })
                        })
                        .collect();
                    m.insert("Retry".into(), json!(r));
                }
                if !t.catch.is_empty() {
                    let c: Vec<Json> = t
                        .catch
                        .iter()
                        .map(|c| {
                            let mut o = json!({"ErrorEquals": c.errors, "Next": c.next.0});
                            if let Some(p) = &c.result_path {
                                o["ResultPath"] = json!(p);
                            }
                            o
                        })
                        .collect();
                    m.insert("Catch".into(), json!(c));
                }
                transition(&mut m, &t.next);
            }
            State::Choice(c) => {
                m.insert("Type".into(), json!("Choice"));
                let rules: Vec<Json> = c
                    .rules
                    .iter()
                    .map(|(cond, next)| {
                        let mut r = cond.to_json();
                        r["Next"] = json!(next.0);
                        r
                    })
                    .collect();
                m.insert("Choices".into(), json!(rules));
                if let Some(d) = &c.default {
                    m.insert("Default".into(), json!(d.0));
                }
            }
            State::Wait { seconds, next } => {
                m.insert("Type".into(), json!("Wait"));
                m.insert("Seconds".into(), json!(seconds));
                transition(&mut m, next);
            }
            State::Pass(p) => {
                m.insert("Type".into(), json!("Pass"));
                if let Some(x) = &p.parameters {
                    m.insert("Parameters".into(), x.clone());
                }
                if let Some(x) = &p.result {
                    m.insert("Result".into(), x.clone());
                }
                result_path(&mut m, &p.result_path);
                transition(&mut m, &p.next);
            }
            State::Succeed => {
                m.insert("Type".into(), json!("Succeed"));
            }
            State::Fail { error, cause } => {
                m.insert("Type".into(), json!("Fail"));
                m.insert("Error".into(), json!(error));
                m.insert("Cause".into(), json!(cause));
            }
        }
        Json::Object(m)
    }
}

/// Builds a state machine definition; see the module docs.
#[derive(Debug, Clone)]
pub struct Builder {
    comment: String,
    declared: Vec<StateId>,
    states: BTreeMap<StateId, State>,
    problems: Vec<String>,
}

/// A checked state machine definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    json: Json,
    states: BTreeMap<String, State>,
}

impl Definition {
    /// The definition as ASL JSON.
    pub fn to_json(&self) -> Json {
        self.json.clone()
    }

    /// The names of the states.
    pub fn state_names(&self) -> impl Iterator<Item = &str> {
        self.states.keys().map(String::as_str)
    }

    /// Every JSONPath a Choice rule reads (to check them against the input's schema).
    pub fn choice_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in self.states.values() {
            if let State::Choice(c) = s {
                let mut paths = Vec::new();
                for (cond, _) in &c.rules {
                    cond.paths(&mut paths);
                }
                out.extend(paths.into_iter().map(str::to_owned));
            }
        }
        out
    }
}

impl Builder {
    /// A builder for a machine described by `comment`.
    pub fn new(comment: impl Into<String>) -> Self {
        Builder {
            comment: comment.into(),
            declared: Vec::new(),
            states: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    /// Declares a state name and returns its handle (define it with [`Builder::define`]).
    pub fn declare(&mut self, name: &str) -> StateId {
        let id = StateId(name.to_owned());
        if self.declared.contains(&id) {
            self.problems
                .push(format!("state `{name}` is declared twice"));
        } else if name.is_empty() || name.chars().count() > MAX_STATE_NAME {
            self.problems.push(format!(
                "state name `{name}` must be 1 to {MAX_STATE_NAME} characters long"
            ));
        }
        self.declared.push(id.clone());
        id
    }

    /// Defines a declared state.
    pub fn define(&mut self, id: &StateId, state: State) {
        if self.states.insert(id.clone(), state).is_some() {
            self.problems
                .push(format!("state `{}` is defined twice", id.0));
        }
    }

    /// Checks the machine and renders it, starting at `start`.
    pub fn build(self, start: &StateId) -> Result<Definition, Error> {
        let mut problems = self.problems.clone();
        for id in &self.declared {
            if !self.states.contains_key(id) {
                problems.push(format!("state `{}` is declared but never defined", id.0));
            }
        }
        // Reachability from the start state.
        let mut reached = BTreeSet::new();
        let mut queue = VecDeque::from([start.clone()]);
        while let Some(id) = queue.pop_front() {
            if !reached.insert(id.clone()) {
                continue;
            }
            if let Some(s) = self.states.get(&id) {
                for next in s.successors() {
                    if !self.states.contains_key(next) {
                        problems.push(format!(
                            "state `{}` goes to `{}`, which is not defined",
                            id.0, next.0
                        ));
                    }
                    queue.push_back(next.clone());
                }
            }
        }
        for (id, s) in &self.states {
            if !reached.contains(id) {
                problems.push(format!(
                    "state `{}` is unreachable from the start state `{}`",
                    id.0, start.0
                ));
            }
            if let State::Choice(c) = s
                && c.rules.is_empty()
            {
                problems.push(format!("choice state `{}` has no rules", id.0));
            }
            if let State::Task(t) = s {
                let retriers = t.retry.iter().map(|r| &r.errors);
                let catchers = t.catch.iter().map(|c| &c.errors);
                for (kind, lists) in [
                    ("Retry", retriers.collect::<Vec<_>>()),
                    ("Catch", catchers.collect()),
                ] {
                    for (i, errors) in lists.iter().enumerate() {
                        if errors.iter().any(|e| e == STATES_ALL) {
                            if errors.len() > 1 {
                                problems.push(format!(
                                    "state `{}`: {kind}[{i}] lists {STATES_ALL} with other errors; it must appear alone",
                                    id.0
                                ));
                            }
                            if i + 1 != lists.len() {
                                problems.push(format!(
                                    "state `{}`: {kind}[{i}] has {STATES_ALL} but is not the last {kind}",
                                    id.0
                                ));
                            }
                        }
                    }
                }
            }
        }
        let terminal = reached
            .iter()
            .filter_map(|id| self.states.get(id))
            .any(State::is_terminal);
        if !terminal {
            problems.push(format!(
                "no terminal state (Succeed, Fail or End) is reachable from `{}`",
                start.0
            ));
        }
        if !problems.is_empty() {
            return Err(Error::Construct {
                construct: format!("state machine `{}`", self.comment),
                message: problems.join("; "),
            });
        }
        let states: Map<String, Json> = self
            .states
            .iter()
            .map(|(id, s)| (id.0.clone(), s.to_json()))
            .collect();
        let json = json!({
            "Comment": self.comment,
            "StartAt": start.0,
            "States": states,
        });
        Ok(Definition {
            json,
            states: self.states.into_iter().map(|(id, s)| (id.0, s)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_declared_but_never_defined_is_a_dangling_next() {
        let mut b = Builder::new("t");
        let a = b.declare("A");
        let missing = b.declare("Missing");
        b.define(
            &a,
            State::Pass(Pass::result(json!(1), Next::To(missing.clone()))),
        );
        let err = b.build(&a).unwrap_err().to_string();
        assert!(
            err.contains("state `Missing` is declared but never defined"),
            "{err}"
        );
        assert!(
            err.contains("state `A` goes to `Missing`, which is not defined"),
            "{err}"
        );
    }

    #[test]
    fn unreachable_states_and_missing_terminals_are_named() {
        let mut b = Builder::new("t");
        let a = b.declare("A");
        let island = b.declare("Island");
        b.define(&a, State::Pass(Pass::result(json!(1), Next::To(a.clone()))));
        b.define(&island, State::Succeed);
        let err = b.build(&a).unwrap_err().to_string();
        assert!(
            err.contains("state `Island` is unreachable from the start state `A`"),
            "{err}"
        );
        assert!(
            err.contains("no terminal state (Succeed, Fail or End) is reachable from `A`"),
            "{err}"
        );
    }

    #[test]
    fn states_all_must_be_alone_and_last() {
        let mut b = Builder::new("t");
        let t = b.declare("Work");
        let end = b.declare("End");
        let catch = |errors: &[&str]| Catch {
            errors: errors.iter().map(|e| (*e).to_owned()).collect(),
            result_path: None,
            next: end.clone(),
        };
        b.define(
            &t,
            State::Task(
                Task::new(
                    "arn:aws:states:::sns:publish",
                    json!({}),
                    Next::To(end.clone()),
                )
                .catch(catch(&["Custom.Error", "States.ALL"]))
                .catch(catch(&["Other.Error"])),
            ),
        );
        b.define(&end, State::Succeed);
        let err = b.build(&t).unwrap_err().to_string();
        assert!(
            err.contains(
                "state `Work`: Catch[0] lists States.ALL with other errors; it must appear alone"
            ),
            "{err}"
        );
        assert!(
            err.contains("state `Work`: Catch[0] has States.ALL but is not the last Catch"),
            "{err}"
        );
    }

    #[test]
    fn names_are_checked() {
        let mut b = Builder::new("t");
        let a = b.declare(&"x".repeat(81));
        b.declare("Dup");
        b.declare("Dup");
        b.define(&a, State::Succeed);
        let err = b.build(&a).unwrap_err().to_string();
        assert!(err.contains("must be 1 to 80 characters long"), "{err}");
        assert!(err.contains("state `Dup` is declared twice"), "{err}");
    }

    #[test]
    fn a_sound_machine_renders_asl() {
        let mut b = Builder::new("t");
        let t = b.declare("Work");
        let ok = b.declare("Ok");
        let bad = b.declare("Bad");
        b.define(
            &t,
            State::Task(
                Task::new(
                    "arn:aws:states:::sns:publish",
                    json!({"Message": "x"}),
                    Next::To(ok.clone()),
                )
                .result_path(ResultPath::Discard)
                .retry(Retry {
                    errors: vec!["States.TaskFailed".into()],
                    interval_seconds: 2,
                    max_attempts: 3,
                    backoff_rate: 2.0,
                })
                .catch(Catch {
                    errors: vec!["States.ALL".into()],
                    result_path: Some("$.error".into()),
                    next: bad.clone(),
                }),
            ),
        );
        b.define(&ok, State::Succeed);
        b.define(
            &bad,
            State::Fail {
                error: "E".into(),
                cause: "c".into(),
            },
        );
        let d = b.build(&t).unwrap().to_json();
        assert_eq!(d["States"]["Work"]["ResultPath"], Json::Null);
        assert_eq!(d["States"]["Work"]["Catch"][0]["Next"], "Bad");
        assert_eq!(d["States"]["Work"]["Retry"][0]["MaxAttempts"], 3);
        assert_eq!(d["States"]["Ok"], json!({"Type": "Succeed"}));
    }
}
