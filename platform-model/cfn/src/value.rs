//! Values that are either a literal or an intrinsic function, and the intrinsic functions.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// Free-form JSON (policy documents, event patterns, ...). Intrinsic functions inside it are
/// written with [`Expr::to_json`] and are checked by the template like any other reference.
pub type Json = serde_json::Value;

/// A property value: either a literal of type `T` or an intrinsic function resolved by
/// CloudFormation at deploy time.
///
/// ```
/// use platform_cfn::{Expr, Value};
/// let literal: Value<String> = "sre-incidents".into();
/// let computed: Value<String> = Expr::sub("${AWS::StackName}-incidents").into();
/// assert_eq!(serde_json::to_string(&literal).unwrap(), r#""sre-incidents""#);
/// assert_eq!(
///     serde_json::to_string(&computed).unwrap(),
///     r#"{"Fn::Sub":"${AWS::StackName}-incidents"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value<T> {
    /// A literal value, known at synth time.
    Lit(T),
    /// An intrinsic function, resolved at deploy time.
    Expr(Box<Expr>),
}

impl<T> Value<T> {
    /// The literal, when this value is one.
    pub fn as_lit(&self) -> Option<&T> {
        match self {
            Value::Lit(v) => Some(v),
            Value::Expr(_) => None,
        }
    }
}

impl<T: Serialize> Serialize for Value<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Lit(v) => v.serialize(s),
            Value::Expr(e) => e.serialize(s),
        }
    }
}

impl<T> From<Expr> for Value<T> {
    fn from(e: Expr) -> Self {
        Value::Expr(Box::new(e))
    }
}

impl From<&str> for Value<String> {
    fn from(v: &str) -> Self {
        Value::Lit(v.to_owned())
    }
}
impl From<String> for Value<String> {
    fn from(v: String) -> Self {
        Value::Lit(v)
    }
}
impl From<&String> for Value<String> {
    fn from(v: &String) -> Self {
        Value::Lit(v.clone())
    }
}
impl From<bool> for Value<bool> {
    fn from(v: bool) -> Self {
        Value::Lit(v)
    }
}
impl From<i64> for Value<i64> {
    fn from(v: i64) -> Self {
        Value::Lit(v)
    }
}
impl From<i32> for Value<i64> {
    fn from(v: i32) -> Self {
        Value::Lit(i64::from(v))
    }
}
impl From<u32> for Value<i64> {
    fn from(v: u32) -> Self {
        Value::Lit(i64::from(v))
    }
}
impl From<f64> for Value<f64> {
    fn from(v: f64) -> Self {
        Value::Lit(v)
    }
}
impl From<Json> for Value<Json> {
    fn from(v: Json) -> Self {
        Value::Lit(v)
    }
}
impl<T> From<Vec<T>> for Value<Vec<T>> {
    fn from(v: Vec<T>) -> Self {
        Value::Lit(v)
    }
}

/// The pseudo parameters CloudFormation defines in every template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pseudo {
    /// `AWS::AccountId`
    AccountId,
    /// `AWS::NotificationARNs`
    NotificationArns,
    /// `AWS::NoValue`: removes the property where it is used.
    NoValue,
    /// `AWS::Partition`
    Partition,
    /// `AWS::Region`
    Region,
    /// `AWS::StackId`
    StackId,
    /// `AWS::StackName`
    StackName,
    /// `AWS::URLSuffix`
    UrlSuffix,
}

impl Pseudo {
    /// Every pseudo parameter.
    pub const ALL: [Pseudo; 8] = [
        Pseudo::AccountId,
        Pseudo::NotificationArns,
        Pseudo::NoValue,
        Pseudo::Partition,
        Pseudo::Region,
        Pseudo::StackId,
        Pseudo::StackName,
        Pseudo::UrlSuffix,
    ];

    /// The name used in `Ref` and `Fn::Sub`.
    pub const fn name(self) -> &'static str {
        match self {
            Pseudo::AccountId => "AWS::AccountId",
            Pseudo::NotificationArns => "AWS::NotificationARNs",
            Pseudo::NoValue => "AWS::NoValue",
            Pseudo::Partition => "AWS::Partition",
            Pseudo::Region => "AWS::Region",
            Pseudo::StackId => "AWS::StackId",
            Pseudo::StackName => "AWS::StackName",
            Pseudo::UrlSuffix => "AWS::URLSuffix",
        }
    }

    /// The pseudo parameter of that name, if there is one.
    pub fn from_name(name: &str) -> Option<Pseudo> {
        Pseudo::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// An intrinsic function.
///
/// Build references through typed handles ([`crate::Handle`], [`crate::ParamRef`])
/// where you can: the template checks every reference at synth time anyway, and names both ends
/// when one points at nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `{"Ref": name}`: a resource, a parameter or a pseudo parameter.
    Ref(String),
    /// `{"Fn::GetAtt": [resource, attribute]}`.
    GetAtt {
        /// Logical id of the resource.
        resource: String,
        /// Attribute name, e.g. `Arn`.
        attribute: String,
    },
    /// `{"Fn::Sub": template}` or `{"Fn::Sub": [template, {vars}]}`.
    Sub {
        /// The string with `${Name}` / `${Resource.Attribute}` placeholders.
        template: String,
        /// Local variables of the substitution.
        vars: BTreeMap<String, Value<String>>,
    },
    /// `{"Fn::Join": [delimiter, [items]]}`.
    Join {
        /// The delimiter.
        delimiter: String,
        /// The joined values.
        items: Vec<Value<String>>,
    },
    /// `{"Fn::Select": [index, list]}`.
    Select {
        /// Zero-based index.
        index: u32,
        /// The list, a literal list or an expression yielding one.
        list: Box<Value<Vec<Value<String>>>>,
    },
    /// `{"Fn::If": [condition, then, else]}`.
    If {
        /// Name of a condition declared in the template.
        condition: String,
        /// Value when the condition holds.
        then: Box<Json>,
        /// Value otherwise.
        otherwise: Box<Json>,
    },
    /// `{"Fn::ImportValue": name}`: an export of another stack.
    ImportValue(Box<Value<String>>),
    /// `{"Fn::GetAZs": region}` (empty string: the stack's region).
    GetAzs(Box<Value<String>>),
}

impl Expr {
    /// `Ref` to a pseudo parameter.
    pub fn pseudo(p: Pseudo) -> Expr {
        Expr::Ref(p.name().to_owned())
    }
    /// `{"Ref": "AWS::AccountId"}`.
    pub fn account_id() -> Expr {
        Expr::pseudo(Pseudo::AccountId)
    }
    /// `{"Ref": "AWS::Region"}`.
    pub fn region() -> Expr {
        Expr::pseudo(Pseudo::Region)
    }
    /// `{"Ref": "AWS::Partition"}`.
    pub fn partition() -> Expr {
        Expr::pseudo(Pseudo::Partition)
    }
    /// `{"Ref": "AWS::StackName"}`.
    pub fn stack_name() -> Expr {
        Expr::pseudo(Pseudo::StackName)
    }
    /// `{"Ref": "AWS::NoValue"}`.
    pub fn no_value() -> Expr {
        Expr::pseudo(Pseudo::NoValue)
    }
    /// `Fn::Sub` without local variables.
    pub fn sub(template: impl Into<String>) -> Expr {
        Expr::Sub {
            template: template.into(),
            vars: BTreeMap::new(),
        }
    }
    /// `Fn::Sub` with local variables.
    pub fn sub_with<K: Into<String>, V: Into<Value<String>>>(
        template: impl Into<String>,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Expr {
        Expr::Sub {
            template: template.into(),
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
    /// `Fn::Join`.
    pub fn join<V: Into<Value<String>>>(
        delimiter: impl Into<String>,
        items: impl IntoIterator<Item = V>,
    ) -> Expr {
        Expr::Join {
            delimiter: delimiter.into(),
            items: items.into_iter().map(Into::into).collect(),
        }
    }
    /// `Fn::Select`.
    pub fn select(index: u32, list: impl Into<Value<Vec<Value<String>>>>) -> Expr {
        Expr::Select {
            index,
            list: Box::new(list.into()),
        }
    }
    /// `Fn::If` on a condition declared in the template.
    pub fn if_(
        condition: &crate::ConditionRef,
        then: impl Serialize,
        otherwise: impl Serialize,
    ) -> Expr {
        Expr::If {
            condition: condition.name().to_owned(),
            then: Box::new(to_json(&then)),
            otherwise: Box::new(to_json(&otherwise)),
        }
    }
    /// `Fn::ImportValue`.
    pub fn import_value(name: impl Into<Value<String>>) -> Expr {
        Expr::ImportValue(Box::new(name.into()))
    }
    /// `Fn::GetAZs` of the stack's region.
    pub fn azs() -> Expr {
        Expr::GetAzs(Box::new(Value::Lit(String::new())))
    }
    /// This expression as free-form JSON, to place inside a policy document or pattern.
    pub fn to_json(&self) -> Json {
        to_json(self)
    }
}

fn to_json(v: &impl Serialize) -> Json {
    // Serializing our own types into a `serde_json::Value` cannot fail: every map key is a string.
    serde_json::to_value(v).unwrap_or(Json::Null)
}

struct One<'a, V: Serialize + ?Sized>(&'a str, &'a V);
impl<V: Serialize + ?Sized> Serialize for One<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, self.1)?;
        m.end()
    }
}

struct Seq<'a>(&'a [&'a dyn erased::Ser]);
impl Serialize for Seq<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut q = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            q.serialize_element(&erased::Wrap(*item))?;
        }
        q.end()
    }
}

mod erased {
    //! Just enough type erasure to put differently typed items in one JSON array.
    use serde::{Serialize, Serializer};
    pub(super) trait Ser {
        fn json(&self) -> super::Json;
    }
    impl<T: Serialize> Ser for T {
        fn json(&self) -> super::Json {
            super::to_json(self)
        }
    }
    pub(super) struct Wrap<'a>(pub &'a dyn Ser);
    impl Serialize for Wrap<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            self.0.json().serialize(s)
        }
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Expr::Ref(name) => One("Ref", name).serialize(s),
            Expr::GetAtt {
                resource,
                attribute,
            } => One("Fn::GetAtt", &[resource, attribute]).serialize(s),
            Expr::Sub { template, vars } if vars.is_empty() => {
                One("Fn::Sub", template).serialize(s)
            }
            Expr::Sub { template, vars } => One("Fn::Sub", &Seq(&[template, vars])).serialize(s),
            Expr::Join { delimiter, items } => {
                One("Fn::Join", &Seq(&[delimiter, items])).serialize(s)
            }
            Expr::Select { index, list } => {
                One("Fn::Select", &Seq(&[&index.to_string(), list])).serialize(s)
            }
            Expr::If {
                condition,
                then,
                otherwise,
            } => One("Fn::If", &Seq(&[condition, then, otherwise])).serialize(s),
            Expr::ImportValue(name) => One("Fn::ImportValue", name).serialize(s),
            Expr::GetAzs(region) => One("Fn::GetAZs", region).serialize(s),
        }
    }
}
