//! What every resource type provides, typed handles to resources, and the limit checker the
//! generated types use.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::Serialize;

use super::{Expr, LogicalId, Value};

/// A CloudFormation resource type: its properties serialize to the `Properties` object.
///
/// Implemented by every generated type of the `platform-resources` crate
/// (`platform_model::resources`).
pub trait Resource: Serialize + Check {
    /// The CloudFormation type name, e.g. `AWS::DynamoDB::Table`.
    const TYPE: &'static str;
    /// The attributes `Fn::GetAtt` accepts on this type (the schema's `readOnlyProperties`).
    const ATTRIBUTES: &'static [&'static str];
    /// The type's typed `Fn::GetAtt` methods, generated with it: a [`Handle`] to the resource
    /// dereferences to them, so `queue.arn()` exists only where the type has an `Arn`
    /// attribute. [`NoGetAtts`] for a type without attributes.
    ///
    /// (They cannot be inherent methods of `Handle<T>`: the generated types live in another
    /// crate than [`Handle`].)
    type GetAtts: From<LogicalId> + Clone;
}

/// The [`Resource::GetAtts`] of a type that has no attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoGetAtts;

impl From<LogicalId> for NoGetAtts {
    fn from(_: LogicalId) -> Self {
        NoGetAtts
    }
}

/// Checks the schema's limits (lengths, ranges) on the literal values of a property type.
pub trait Check {
    /// Reports every literal value that breaks a limit of the schema to `c`.
    fn check(&self, c: &mut Checker);
}

/// One literal value that breaks a limit of the resource schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path of the property below `Properties`, e.g. `SSESpecification.KMSMasterKeyId`.
    pub path: String,
    /// What is wrong, with the value and the limit.
    pub message: String,
}

/// Collects [`Violation`]s while walking a resource's properties.
#[derive(Debug, Default)]
pub struct Checker {
    path: Vec<String>,
    found: Vec<Violation>,
}

impl Checker {
    /// A checker with nothing found yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// What was found.
    pub fn into_violations(self) -> Vec<Violation> {
        self.found
    }

    fn report(&mut self, prop: &str, message: String) {
        let mut path = self.path.join(".");
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(prop);
        self.found.push(Violation { path, message });
    }

    /// Checks the length in characters of a literal string against the schema's bounds.
    pub fn len(
        &mut self,
        prop: &str,
        value: Option<&Value<String>>,
        min: Option<usize>,
        max: Option<usize>,
    ) {
        let Some(Value::Lit(s)) = value else { return };
        let n = s.chars().count();
        if let Some(max) = max.filter(|&m| n > m) {
            self.report(
                prop,
                format!("\"{s}\" is {n} characters long; the limit is {max}"),
            );
        }
        if let Some(min) = min.filter(|&m| n < m) {
            self.report(
                prop,
                format!("\"{s}\" is {n} characters long; at least {min} are required"),
            );
        }
    }

    /// Checks a literal number against the schema's bounds.
    pub fn range<N: Copy + Into<f64> + fmt::Display>(
        &mut self,
        prop: &str,
        value: Option<&Value<N>>,
        min: Option<f64>,
        max: Option<f64>,
    ) {
        let Some(Value::Lit(v)) = value else { return };
        let x: f64 = (*v).into();
        if let Some(max) = max.filter(|&m| x > m) {
            self.report(prop, format!("{v} is above the maximum {max}"));
        }
        if let Some(min) = min.filter(|&m| x < m) {
            self.report(prop, format!("{v} is below the minimum {min}"));
        }
    }

    /// Checks a literal integer against the schema's bounds.
    pub fn int_range(
        &mut self,
        prop: &str,
        value: Option<&Value<i64>>,
        min: Option<f64>,
        max: Option<f64>,
    ) {
        let Some(Value::Lit(v)) = value else { return };
        // Integers in CloudFormation schemas stay far below 2^53, so the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        let lit = Value::Lit(*v as f64);
        self.range(prop, Some(&lit), min, max);
    }

    /// Checks a nested property type.
    pub fn nested<T: Check>(&mut self, prop: &str, value: Option<&T>) {
        let Some(v) = value else { return };
        self.path.push(prop.to_owned());
        v.check(self);
        self.path.pop();
    }

    /// Checks each item of a literal list of property types.
    pub fn list<T: Check>(&mut self, prop: &str, value: Option<&Value<Vec<T>>>) {
        let Some(Value::Lit(items)) = value else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            self.path.push(format!("{prop}[{i}]"));
            item.check(self);
            self.path.pop();
        }
    }
}

/// A typed handle to a resource added to a [`crate::Template`].
///
/// Handles are how constructs refer to each other: `Fn::GetAtt` methods are generated per type
/// from the schema (the type's [`Resource::GetAtts`], which a handle dereferences to), so
/// `queue.arn()` exists only where the type has an `Arn` attribute.
pub struct Handle<R: Resource> {
    id: LogicalId,
    get_atts: R::GetAtts,
    _type: PhantomData<fn() -> R>,
}

impl<R: Resource> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Handle {
            id: self.id.clone(),
            get_atts: self.get_atts.clone(),
            _type: PhantomData,
        }
    }
}

impl<R: Resource> Deref for Handle<R> {
    type Target = R::GetAtts;

    /// The type's generated `Fn::GetAtt` methods.
    fn deref(&self) -> &R::GetAtts {
        &self.get_atts
    }
}

impl<R: Resource> fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle<{}>({})", R::TYPE, self.id)
    }
}

impl<R: Resource> Handle<R> {
    pub(crate) fn new(id: LogicalId) -> Self {
        Handle {
            get_atts: R::GetAtts::from(id.clone()),
            id,
            _type: PhantomData,
        }
    }

    /// The resource's logical id.
    pub fn logical_id(&self) -> &LogicalId {
        &self.id
    }

    /// `{"Ref": logical-id}`: what the type documents as its `Ref` value.
    pub fn reference(&self) -> Expr {
        Expr::Ref(self.id.to_string())
    }

    /// `{"Fn::GetAtt": [logical-id, attribute]}`. Prefer the generated attribute methods; an
    /// attribute the type does not have is reported when the template is synthesized.
    pub fn get_att(&self, attribute: &str) -> Expr {
        self.id.get_att(attribute)
    }
}
