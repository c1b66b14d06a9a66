//! Templates: parameters, conditions, resources with their attributes, outputs; the synth-time
//! self-check; deterministic JSON rendering.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Check, Checker, Expr, Handle, Json, LogicalId, Pseudo, Resource, Value};
use crate::{Error, Problems};

/// CloudFormation's quotas on one template, checked at synth time.
pub mod limits {
    /// Resources in one template.
    pub const RESOURCES: usize = 500;
    /// Parameters in one template.
    pub const PARAMETERS: usize = 200;
    /// Outputs in one template.
    pub const OUTPUTS: usize = 200;
    /// Size of a template body uploaded through S3 (`aws cloudformation deploy --s3-bucket`).
    pub const BODY_BYTES: usize = 1_000_000;
    /// Size of a template body passed inline (`aws cloudformation deploy` without a bucket).
    pub const INLINE_BODY_BYTES: usize = 51_200;
    /// Length of an export name.
    pub const EXPORT_NAME: usize = 255;
}

/// What happens to a resource's physical object when the resource is deleted or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Policy {
    /// Delete the object (CloudFormation's default for most types).
    Delete,
    /// Keep the object.
    Retain,
    /// Keep the object if the stack operation rolls back or the stack is deleted.
    RetainExceptOnCreate,
    /// Take a snapshot, then delete (types that support snapshots).
    Snapshot,
}

/// The attributes of a resource besides its properties.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Attributes {
    depends_on: Vec<LogicalId>,
    deletion_policy: Option<Policy>,
    update_replace_policy: Option<Policy>,
    condition: Option<String>,
    metadata: BTreeMap<String, Json>,
    checkov_skips: Vec<(String, String)>,
    cfn_lint_ignores: Vec<(String, String)>,
}

impl Attributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds `DependsOn` on another resource.
    pub fn depends_on<R: Resource>(mut self, other: &Handle<R>) -> Self {
        self.depends_on.push(other.logical_id().clone());
        self
    }
    /// Sets `DeletionPolicy`.
    pub fn deletion_policy(mut self, p: Policy) -> Self {
        self.deletion_policy = Some(p);
        self
    }
    /// Sets `UpdateReplacePolicy`.
    pub fn update_replace_policy(mut self, p: Policy) -> Self {
        self.update_replace_policy = Some(p);
        self
    }
    /// Sets both `DeletionPolicy` and `UpdateReplacePolicy` to `Retain`: for stateful resources.
    pub fn retain(self) -> Self {
        self.deletion_policy(Policy::Retain)
            .update_replace_policy(Policy::Retain)
    }
    /// Creates the resource only when `condition` holds.
    pub fn condition(mut self, condition: &ConditionRef) -> Self {
        self.condition = Some(condition.name().to_owned());
        self
    }
    /// Adds a `Metadata` entry.
    pub fn metadata(mut self, key: impl Into<String>, value: Json) -> Self {
        self.metadata.insert(key.into(), value);
        self
    }
    /// Suppresses one checkov check on this resource, with the reason (shown by checkov).
    pub fn checkov_skip(mut self, id: impl Into<String>, reason: impl Into<String>) -> Self {
        self.checkov_skips.push((id.into(), reason.into()));
        self
    }
    /// Suppresses one cfn-lint rule on this resource; the reason is kept beside it in the
    /// metadata so a reviewer sees why.
    pub fn cfn_lint_ignore(mut self, rule: impl Into<String>, reason: impl Into<String>) -> Self {
        self.cfn_lint_ignores.push((rule.into(), reason.into()));
        self
    }

    fn metadata_json(&self) -> BTreeMap<String, Json> {
        let mut m = self.metadata.clone();
        if !self.checkov_skips.is_empty() {
            let skips: Vec<Json> = self
                .checkov_skips
                .iter()
                .map(|(id, why)| serde_json::json!({"id": id, "comment": why}))
                .collect();
            m.insert("checkov".into(), serde_json::json!({ "skip": skips }));
        }
        if !self.cfn_lint_ignores.is_empty() {
            let rules: Vec<&String> = self.cfn_lint_ignores.iter().map(|(r, _)| r).collect();
            let why: BTreeMap<&String, &String> =
                self.cfn_lint_ignores.iter().map(|(r, w)| (r, w)).collect();
            m.insert(
                "cfn-lint".into(),
                serde_json::json!({ "config": { "ignore_checks": rules } }),
            );
            m.insert(
                "CfnLintIgnoreReasons".into(),
                serde_json::to_value(why).unwrap_or(Json::Null),
            );
        }
        m
    }
}

/// A template parameter.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[must_use]
pub struct Parameter {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<Json>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_echo: Option<bool>,
}

impl Parameter {
    /// A parameter of a CloudFormation parameter type (`String`, `Number`,
    /// `List<AWS::EC2::Subnet::Id>`, ...).
    pub fn of_type(kind: impl Into<String>) -> Self {
        Parameter {
            kind: kind.into(),
            description: None,
            default: None,
            allowed_values: Vec::new(),
            allowed_pattern: None,
            min_length: None,
            max_length: None,
            no_echo: None,
        }
    }
    /// A `String` parameter.
    pub fn string() -> Self {
        Self::of_type("String")
    }
    /// Sets the description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
    /// Sets the default value.
    pub fn default_value(mut self, v: impl Into<Json>) -> Self {
        self.default = Some(v.into());
        self
    }
    /// Restricts the value to a list.
    pub fn allowed_values<S: Into<String>>(mut self, v: impl IntoIterator<Item = S>) -> Self {
        self.allowed_values = v.into_iter().map(Into::into).collect();
        self
    }
    /// Restricts the value to a pattern.
    pub fn allowed_pattern(mut self, p: impl Into<String>) -> Self {
        self.allowed_pattern = Some(p.into());
        self
    }
    /// Bounds the length of the value.
    pub fn length(mut self, min: u32, max: u32) -> Self {
        self.min_length = Some(min);
        self.max_length = Some(max);
        self
    }
    /// Hides the value in the console and API answers.
    pub fn no_echo(mut self) -> Self {
        self.no_echo = Some(true);
        self
    }
}

/// A handle to a template parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamRef(LogicalId);

impl ParamRef {
    /// `{"Ref": parameter}`.
    pub fn reference(&self) -> Expr {
        Expr::Ref(self.0.to_string())
    }
    /// The parameter's logical id.
    pub fn logical_id(&self) -> &LogicalId {
        &self.0
    }
}

/// A condition expression (`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, or another condition).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `{"Fn::Equals": [a, b]}`.
    Equals(Value<String>, Value<String>),
    /// `{"Fn::Not": [c]}`.
    Not(Box<Condition>),
    /// `{"Fn::And": [c...]}` (2 to 10 conditions).
    And(Vec<Condition>),
    /// `{"Fn::Or": [c...]}` (2 to 10 conditions).
    Or(Vec<Condition>),
    /// `{"Condition": name}`: another condition of the template.
    Named(ConditionRef),
}

impl Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let json = match self {
            Condition::Equals(a, b) => serde_json::json!({ "Fn::Equals": [a, b] }),
            Condition::Not(c) => serde_json::json!({ "Fn::Not": [c] }),
            Condition::And(cs) => serde_json::json!({ "Fn::And": cs }),
            Condition::Or(cs) => serde_json::json!({ "Fn::Or": cs }),
            Condition::Named(c) => serde_json::json!({ "Condition": c.name() }),
        };
        json.serialize(s)
    }
}

/// A handle to a condition declared in a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionRef(String);

impl ConditionRef {
    /// The condition's name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

/// A template output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[must_use]
pub struct Output {
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    value: Value<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export: Option<Export>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Export {
    name: Value<String>,
}

impl Output {
    /// An output of `value`.
    pub fn new(value: impl Into<Value<String>>) -> Self {
        Output {
            description: None,
            value: value.into(),
            export: None,
            condition: None,
        }
    }
    /// Sets the description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
    /// Exports the value under `name` for `Fn::ImportValue` in other stacks.
    pub fn export(mut self, name: impl Into<Value<String>>) -> Self {
        self.export = Some(Export { name: name.into() });
        self
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<LogicalId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_policy: Option<Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_replace_policy: Option<Policy>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, Json>,
    properties: Json,
    #[serde(skip)]
    attributes: &'static [&'static str],
}

impl Serialize for LogicalId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A CloudFormation template: one stack.
///
/// Adding things never fails on the spot: problems (a duplicate logical id, a value over a
/// schema limit) are collected and reported, all together, by [`Template::render`] along with
/// the reference checks.
///
/// ```
/// use platform_cfn::{Template, Output};
/// use platform_resources::sqs::Queue;
///
/// let mut t = Template::new("example", "An example stack");
/// let dlq = t.add("DeadLetterQueue", Queue::new().message_retention_period(1_209_600));
/// t.output("DeadLetterQueueArn", Output::new(dlq.arn()));
/// let json = t.render().unwrap();
/// assert!(json.contains(r#""Type": "AWS::SQS::Queue""#));
/// ```
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    description: String,
    metadata: BTreeMap<String, Json>,
    parameters: BTreeMap<LogicalId, Parameter>,
    conditions: BTreeMap<String, Condition>,
    resources: BTreeMap<LogicalId, Entry>,
    outputs: BTreeMap<LogicalId, Output>,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct Rendered<'a> {
    #[serde(rename = "AWSTemplateFormatVersion")]
    version: &'static str,
    #[serde(rename = "Description")]
    description: &'a str,
    #[serde(rename = "Metadata", skip_serializing_if = "BTreeMap::is_empty")]
    metadata: &'a BTreeMap<String, Json>,
    #[serde(rename = "Parameters", skip_serializing_if = "BTreeMap::is_empty")]
    parameters: &'a BTreeMap<LogicalId, Parameter>,
    #[serde(rename = "Conditions", skip_serializing_if = "BTreeMap::is_empty")]
    conditions: &'a BTreeMap<String, Condition>,
    #[serde(rename = "Resources")]
    resources: &'a BTreeMap<LogicalId, Entry>,
    #[serde(rename = "Outputs", skip_serializing_if = "BTreeMap::is_empty")]
    outputs: &'a BTreeMap<LogicalId, Output>,
}

impl Template {
    /// An empty template. `name` names the stack in messages and file names.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Template {
            name: name.into(),
            description: description.into(),
            metadata: BTreeMap::new(),
            parameters: BTreeMap::new(),
            conditions: BTreeMap::new(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many resources the template holds.
    pub fn resource_count(&self) -> usize {
        self.resources.len()
    }

    /// Adds a template-level `Metadata` entry.
    pub fn metadata(&mut self, key: impl Into<String>, value: Json) {
        self.metadata.insert(key.into(), value);
    }

    fn logical_id(&mut self, id: &str) -> LogicalId {
        match LogicalId::new(id) {
            Ok(id) => id,
            Err(e) => {
                self.problems.push(e.to_string());
                // Keep going so every other problem is reported too; render() fails anyway.
                LogicalId::new("Invalid").unwrap_or_else(|_| unreachable!())
            }
        }
    }

    fn claim(&mut self, id: &LogicalId, what: &str) {
        let taken = if self.resources.contains_key(id) {
            Some(format!("resource {}", self.resources[id].kind))
        } else if self.parameters.contains_key(id) {
            Some("parameter".to_owned())
        } else if self.outputs.contains_key(id) && what == "output" {
            Some("output".to_owned())
        } else {
            None
        };
        if let Some(first) = taken {
            self.problems.push(format!(
                "duplicate logical id `{id}`: the {what} collides with the {first} of the same id"
            ));
        }
    }

    /// Adds a parameter.
    pub fn parameter(&mut self, id: &str, p: Parameter) -> ParamRef {
        let id = self.logical_id(id);
        self.claim(&id, "parameter");
        self.parameters.insert(id.clone(), p);
        ParamRef(id)
    }

    /// Declares a condition.
    pub fn condition(&mut self, name: &str, c: Condition) -> ConditionRef {
        let id = self.logical_id(name);
        if self.conditions.contains_key(id.as_str()) {
            self.problems
                .push(format!("duplicate condition `{id}`: it is declared twice"));
        }
        self.conditions.insert(id.to_string(), c);
        ConditionRef(id.to_string())
    }

    /// Adds a resource with no attributes besides its properties.
    pub fn add<R: Resource>(&mut self, id: &str, resource: R) -> Handle<R> {
        self.add_with(id, resource, Attributes::new())
    }

    /// Adds a resource with attributes (`DependsOn`, policies, `Condition`, metadata).
    pub fn add_with<R: Resource>(&mut self, id: &str, resource: R, attrs: Attributes) -> Handle<R> {
        let id = self.logical_id(id);
        self.claim(&id, &format!("resource {}", R::TYPE));
        let mut checker = Checker::new();
        resource.check(&mut checker);
        for v in checker.into_violations() {
            self.problems.push(format!(
                "resource `{id}` ({}) property {}: {}",
                R::TYPE,
                v.path,
                v.message
            ));
        }
        let properties = match serde_json::to_value(&resource) {
            Ok(p) => p,
            Err(e) => {
                self.problems
                    .push(format!("resource `{id}` ({}): {e}", R::TYPE));
                Json::Null
            }
        };
        let entry = Entry {
            kind: R::TYPE,
            condition: attrs.condition.clone(),
            depends_on: attrs.depends_on.clone(),
            deletion_policy: attrs.deletion_policy,
            update_replace_policy: attrs.update_replace_policy,
            metadata: attrs.metadata_json(),
            properties,
            attributes: R::ATTRIBUTES,
        };
        self.resources.insert(id.clone(), entry);
        Handle::new(id)
    }

    /// Adds an output.
    pub fn output(&mut self, id: &str, o: Output) {
        let id = self.logical_id(id);
        self.claim(&id, "output");
        self.outputs.insert(id, o);
    }

    /// Runs the self-check and returns every problem found (empty when the template is sound).
    pub fn check(&self) -> Vec<String> {
        let mut problems = self.problems.clone();
        let checker = RefCheck { t: self };
        for (id, e) in &self.resources {
            let at = format!("resource `{id}` ({})", e.kind);
            for dep in &e.depends_on {
                if !self.resources.contains_key(dep) {
                    problems.push(format!(
                        "{at} DependsOn `{dep}`, which is not a resource in template `{}`",
                        self.name
                    ));
                }
            }
            if let Some(c) = &e.condition {
                checker.condition(&at, "Condition", c, &mut problems);
            }
            checker.walk(
                &at,
                "Properties",
                &e.properties,
                &BTreeSet::new(),
                &mut problems,
            );
        }
        for (name, c) in &self.conditions {
            let json = serde_json::to_value(c).unwrap_or(Json::Null);
            checker.walk(
                &format!("condition `{name}`"),
                "",
                &json,
                &BTreeSet::new(),
                &mut problems,
            );
        }
        for (id, o) in &self.outputs {
            let json = serde_json::to_value(o).unwrap_or(Json::Null);
            checker.walk(
                &format!("output `{id}`"),
                "",
                &json,
                &BTreeSet::new(),
                &mut problems,
            );
            if let Some(Export {
                name: Value::Lit(n),
            }) = &o.export
                && n.len() > limits::EXPORT_NAME
            {
                problems.push(format!(
                    "output `{id}` export name is {} characters long; the limit is {}",
                    n.len(),
                    limits::EXPORT_NAME
                ));
            }
        }
        for (what, n, max) in [
            ("resources", self.resources.len(), limits::RESOURCES),
            ("parameters", self.parameters.len(), limits::PARAMETERS),
            ("outputs", self.outputs.len(), limits::OUTPUTS),
        ] {
            if n > max {
                problems.push(format!(
                    "the template has {n} {what}; CloudFormation allows {max}"
                ));
            }
        }
        problems
    }

    /// Checks the template and renders it as pretty-printed JSON (two-space indent, sorted
    /// keys, trailing newline): the same model always gives the same bytes.
    pub fn render(&self) -> Result<String, Error> {
        let mut problems = self.check();
        let rendered = Rendered {
            version: "2010-09-09",
            description: &self.description,
            metadata: &self.metadata,
            parameters: &self.parameters,
            conditions: &self.conditions,
            resources: &self.resources,
            outputs: &self.outputs,
        };
        let mut body = serde_json::to_string_pretty(&rendered).unwrap_or_default();
        body.push('\n');
        if body.len() > limits::BODY_BYTES {
            problems.push(format!(
                "the template body is {} bytes; CloudFormation accepts at most {}",
                body.len(),
                limits::BODY_BYTES
            ));
        }
        if problems.is_empty() {
            Ok(body)
        } else {
            Err(Error::Template {
                template: self.name.clone(),
                problems: Problems(problems),
            })
        }
    }

    /// The rendered template as JSON, for property assertions in tests.
    pub fn to_json(&self) -> Result<Json, Error> {
        let body = self.render()?;
        serde_json::from_str(&body).map_err(|e| Error::Template {
            template: self.name.clone(),
            problems: Problems(vec![e.to_string()]),
        })
    }
}

struct RefCheck<'a> {
    t: &'a Template,
}

impl RefCheck<'_> {
    fn condition(&self, at: &str, path: &str, name: &str, problems: &mut Vec<String>) {
        if !self.t.conditions.contains_key(name) {
            problems.push(format!(
                "{at} at {path} uses condition `{name}`, which is not declared in template `{}`",
                self.t.name
            ));
        }
    }

    fn reference(&self, at: &str, path: &str, how: &str, target: &str, problems: &mut Vec<String>) {
        let known = Pseudo::from_name(target).is_some()
            || LogicalId::new(target).is_ok_and(|id| {
                self.t.resources.contains_key(&id) || self.t.parameters.contains_key(&id)
            });
        if !known {
            problems.push(format!(
                "{at} at {path} refers to `{target}` ({how}), which is not a resource, parameter or pseudo parameter in template `{}`",
                self.t.name
            ));
        }
    }

    fn get_att(
        &self,
        at: &str,
        path: &str,
        how: &str,
        res: &str,
        attr: &str,
        problems: &mut Vec<String>,
    ) {
        let entry = LogicalId::new(res)
            .ok()
            .and_then(|id| self.t.resources.get(&id));
        match entry {
            None => problems.push(format!(
                "{at} at {path} refers to `{res}.{attr}` ({how}), but `{res}` is not a resource in template `{}`",
                self.t.name
            )),
            Some(e) if !e.attributes.contains(&attr) => problems.push(format!(
                "{at} at {path} asks for attribute `{attr}` of `{res}` ({how}), but {} has no attribute `{attr}` (it has: {})",
                e.kind,
                if e.attributes.is_empty() { "none".to_owned() } else { e.attributes.join(", ") }
            )),
            Some(_) => {}
        }
    }

    fn walk(
        &self,
        at: &str,
        path: &str,
        v: &Json,
        locals: &BTreeSet<String>,
        problems: &mut Vec<String>,
    ) {
        match v {
            Json::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(at, &format!("{path}[{i}]"), item, locals, problems);
                }
            }
            Json::Object(map) if map.len() == 1 => {
                let (k, arg) = map.iter().next().unwrap_or_else(|| unreachable!());
                match (k.as_str(), arg) {
                    ("Ref", Json::String(target)) => {
                        self.reference(at, path, "Ref", target, problems);
                    }
                    ("Fn::GetAtt", Json::Array(parts)) => {
                        if let [Json::String(res), Json::String(attr)] = parts.as_slice() {
                            self.get_att(at, path, "Fn::GetAtt", res, attr, problems);
                        } else {
                            problems.push(format!(
                                "{at} at {path}: Fn::GetAtt takes [resource, attribute]"
                            ));
                        }
                    }
                    ("Fn::Sub", Json::String(s)) => self.sub(at, path, s, locals, problems),
                    ("Fn::Sub", Json::Array(parts)) => {
                        if let [Json::String(s), Json::Object(vars)] = parts.as_slice() {
                            let mut inner = locals.clone();
                            inner.extend(vars.keys().cloned());
                            self.sub(at, path, s, &inner, problems);
                            for (name, value) in vars {
                                self.walk(
                                    at,
                                    &format!("{path}.Fn::Sub.{name}"),
                                    value,
                                    locals,
                                    problems,
                                );
                            }
                        }
                    }
                    ("Fn::If", Json::Array(parts)) => {
                        if let Some(Json::String(c)) = parts.first() {
                            self.condition(at, path, c, problems);
                        }
                        for (i, p) in parts.iter().enumerate().skip(1) {
                            self.walk(at, &format!("{path}.Fn::If[{i}]"), p, locals, problems);
                        }
                    }
                    ("Condition", Json::String(c)) => self.condition(at, path, c, problems),
                    (k, arg) => {
                        let child = if path.is_empty() {
                            k.to_owned()
                        } else {
                            format!("{path}.{k}")
                        };
                        self.walk(at, &child, arg, locals, problems);
                    }
                }
            }
            Json::Object(map) => {
                for (k, item) in map {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    self.walk(at, &child, item, locals, problems);
                }
            }
            _ => {}
        }
    }

    fn sub(
        &self,
        at: &str,
        path: &str,
        s: &str,
        locals: &BTreeSet<String>,
        problems: &mut Vec<String>,
    ) {
        for var in sub_variables(s) {
            if locals.contains(var) {
                continue;
            }
            match var.split_once('.') {
                Some((res, attr)) if Pseudo::from_name(var).is_none() => {
                    self.get_att(at, path, "Fn::Sub", res, attr, problems);
                }
                _ => self.reference(at, path, "Fn::Sub", var, problems),
            }
        }
    }
}

/// The `${...}` placeholders of an `Fn::Sub` string, without the `${!...}` literals.
pub fn sub_variables(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let var = after[..end].trim();
        if !var.starts_with('!') {
            out.push(var);
        }
        rest = &after[end + 1..];
    }
    out
}

/// Checks a property type on its own (for constructs that validate before adding).
pub fn check_value<T: Check>(value: &T) -> Vec<super::Violation> {
    let mut c = Checker::new();
    value.check(&mut c);
    c.into_violations()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal resource type for testing the core on its own.
    #[derive(Debug, Clone, Serialize)]
    struct Thing {
        #[serde(rename = "Name", skip_serializing_if = "Option::is_none")]
        name: Option<Value<String>>,
        #[serde(rename = "Target", skip_serializing_if = "Option::is_none")]
        target: Option<Value<String>>,
    }
    impl Check for Thing {
        fn check(&self, c: &mut Checker) {
            c.len("Name", self.name.as_ref(), Some(1), Some(10));
        }
    }
    impl Resource for Thing {
        const TYPE: &'static str = "Test::Thing";
        const ATTRIBUTES: &'static [&'static str] = &["Arn"];
        type GetAtts = crate::NoGetAtts;
    }
    fn thing(target: Option<Expr>) -> Thing {
        Thing {
            name: None,
            target: target.map(Into::into),
        }
    }
    fn problems(t: &Template) -> String {
        match t.render() {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_sound_template_renders_with_sorted_keys_and_a_trailing_newline() {
        let mut t = Template::new("demo", "Demo");
        let b = t.add("B", thing(None));
        t.add("A", thing(Some(b.get_att("Arn"))));
        let body = t.render().unwrap();
        assert!(body.ends_with("}\n"));
        let a = body.find("\"A\"").unwrap();
        assert!(
            a < body.find("\"B\"").unwrap(),
            "resources are sorted by id"
        );
        assert!(body.starts_with("{\n  \"AWSTemplateFormatVersion\": \"2010-09-09\""));
        assert_eq!(body, t.render().unwrap(), "rendering is deterministic");
    }

    #[test]
    fn a_dangling_ref_names_both_ends() {
        let mut t = Template::new("demo", "Demo");
        t.add("Source", thing(Some(Expr::Ref("Missing".into()))));
        let msg = problems(&t);
        assert!(
            msg.contains(
                "resource `Source` (Test::Thing) at Properties.Target refers to `Missing` (Ref)"
            ),
            "{msg}"
        );
        assert!(msg.contains("template `demo`"), "{msg}");
    }

    #[test]
    fn a_dangling_get_att_and_an_unknown_attribute_are_errors() {
        let mut t = Template::new("demo", "Demo");
        let other = t.add("Other", thing(None));
        t.add(
            "Source",
            thing(Some(Expr::GetAtt {
                resource: "Gone".into(),
                attribute: "Arn".into(),
            })),
        );
        t.add("Source2", thing(Some(other.get_att("Url"))));
        let msg = problems(&t);
        assert!(
            msg.contains("`Gone.Arn` (Fn::GetAtt), but `Gone` is not a resource"),
            "{msg}"
        );
        assert!(msg.contains("resource `Source2` (Test::Thing) at Properties.Target asks for attribute `Url` of `Other`"), "{msg}");
        assert!(
            msg.contains("Test::Thing has no attribute `Url` (it has: Arn)"),
            "{msg}"
        );
    }

    #[test]
    fn sub_placeholders_are_checked_and_locals_and_literals_are_not() {
        let mut t = Template::new("demo", "Demo");
        t.add("Real", thing(None));
        let p = t.parameter("Stage", Parameter::string());
        t.add(
            "Ok",
            thing(Some(Expr::sub_with(
                "${Real.Arn}/${AWS::Region}/${Stage}/${Local}/${!NotAVar}",
                [("Local", p.reference())],
            ))),
        );
        assert_eq!(problems(&t), "");
        t.add("Bad", thing(Some(Expr::sub("${Nope}-${Real.Name}"))));
        let msg = problems(&t);
        assert!(msg.contains("refers to `Nope` (Fn::Sub)"), "{msg}");
        assert!(
            msg.contains("asks for attribute `Name` of `Real` (Fn::Sub)"),
            "{msg}"
        );
    }

    #[test]
    fn duplicate_and_invalid_logical_ids_are_errors() {
        let mut t = Template::new("demo", "Demo");
        t.add("Same", thing(None));
        t.add("Same", thing(None));
        t.add("not-valid", thing(None));
        let msg = problems(&t);
        assert!(msg.contains("duplicate logical id `Same`"), "{msg}");
        assert!(
            msg.contains("invalid logical id `not-valid`: '-' is not an ASCII letter or digit"),
            "{msg}"
        );
    }

    #[test]
    fn schema_limits_name_the_resource_property_and_limit() {
        let mut t = Template::new("demo", "Demo");
        t.add(
            "Long",
            Thing {
                name: Some("eleven-char".into()),
                target: None,
            },
        );
        let msg = problems(&t);
        assert!(msg.contains("resource `Long` (Test::Thing) property Name: \"eleven-char\" is 11 characters long; the limit is 10"), "{msg}");
    }

    #[test]
    fn conditions_depends_on_and_outputs_are_checked() {
        let mut t = Template::new("demo", "Demo");
        let a = t.add("A", thing(None));
        let cond = t.condition(
            "IsProd",
            Condition::Equals(Expr::Ref("Env".into()).into(), "prod".into()),
        );
        t.add_with(
            "B",
            thing(Some(Expr::if_(&cond, "x", Expr::no_value()))),
            Attributes::new().depends_on(&a).condition(&cond).retain(),
        );
        t.output(
            "Out",
            Output::new(a.get_att("Arn")).export(Expr::sub("${AWS::StackName}-A")),
        );
        let msg = problems(&t);
        // `Env` is not a parameter: the condition's own reference is reported.
        assert!(
            msg.contains("condition `IsProd`") && msg.contains("refers to `Env`"),
            "{msg}"
        );
        assert_eq!(msg.matches("  - ").count(), 1, "only that problem: {msg}");
        t.parameter("Env", Parameter::string().allowed_values(["dev", "prod"]));
        let json = t.to_json().unwrap();
        assert_eq!(
            json["Resources"]["B"]["DependsOn"],
            serde_json::json!(["A"])
        );
        assert_eq!(json["Resources"]["B"]["DeletionPolicy"], "Retain");
        assert_eq!(json["Resources"]["B"]["Condition"], "IsProd");
        assert_eq!(
            json["Resources"]["B"]["Properties"]["Target"]["Fn::If"][2],
            serde_json::json!({"Ref": "AWS::NoValue"})
        );
        assert_eq!(
            json["Outputs"]["Out"]["Export"]["Name"]["Fn::Sub"],
            "${AWS::StackName}-A"
        );
    }

    #[test]
    fn intrinsics_render_as_cloudformation_expects() {
        let j = |e: Expr| serde_json::to_value(e).unwrap();
        assert_eq!(
            j(Expr::join(",", ["a", "b"])),
            serde_json::json!({"Fn::Join": [",", ["a", "b"]]})
        );
        assert_eq!(
            j(Expr::select(1, Value::from(Expr::azs()))),
            serde_json::json!({"Fn::Select": ["1", {"Fn::GetAZs": ""}]})
        );
        assert_eq!(
            j(Expr::import_value("net-VpcId")),
            serde_json::json!({"Fn::ImportValue": "net-VpcId"})
        );
        assert_eq!(
            j(Expr::sub_with("${X}", [("X", "y")])),
            serde_json::json!({"Fn::Sub": ["${X}", {"X": "y"}]})
        );
        assert_eq!(
            j(Expr::account_id()),
            serde_json::json!({"Ref": "AWS::AccountId"})
        );
    }

    #[test]
    fn logical_ids_from_paths_are_stable() {
        assert_eq!(
            LogicalId::from_path(&["incidents", "table"])
                .unwrap()
                .as_str(),
            "IncidentsTable"
        );
        assert_eq!(
            LogicalId::from_path(&["sre-incident", "notifications"])
                .unwrap()
                .as_str(),
            "SreIncidentNotifications"
        );
        assert!(LogicalId::new("x".repeat(256)).is_err());
    }
}
