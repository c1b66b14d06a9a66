//! One resource type's schema -> one Rust module.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde_json::{Map, Value as Json};

use crate::docs::comment;
use crate::names::{Names, RESERVED_TYPES, camel, snake, variant};

/// The Rust type of a property.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Str,
    Int,
    Num,
    Bool,
    Json,
    Enum(String),
    Struct(String),
    List(Box<Ty>),
    /// `BTreeMap<String, Value<String>>`.
    Map,
}

struct Field {
    prop: String,
    ident: String,
    ty: Ty,
    required: bool,
    doc: String,
    min_len: Option<u64>,
    max_len: Option<u64>,
    min: Option<f64>,
    max: Option<f64>,
}

struct StructDef {
    name: String,
    doc: String,
    fields: Vec<Field>,
}

struct EnumDef {
    name: String,
    doc: String,
    /// (variant, value)
    variants: Vec<(String, String)>,
}

/// How to name the type a schema node may become.
enum Naming<'a> {
    /// Exactly this (already reserved) name.
    Exact(String),
    /// Named after the property, or parent + property when that is taken.
    Hint { prop: &'a str, parent: &'a str },
}

/// What the generated file uses from outside, so that only those are imported.
#[derive(Default)]
struct Uses {
    map: bool,
    json: bool,
}

/// The generated Rust source of one resource type (not yet formatted).
pub struct Generated {
    /// Module name, e.g. `queue`.
    pub module: String,
    /// Resource struct name, e.g. `Queue`.
    pub name: String,
    /// The source.
    pub source: String,
}

struct Ctx<'a> {
    defs: &'a Map<String, Json>,
    types: Names,
    /// Definition -> its reserved Rust name (definitions that become structs or enums).
    def_names: BTreeMap<String, String>,
    def_ty: BTreeMap<String, Ty>,
    structs: BTreeMap<String, StructDef>,
    enums: BTreeMap<String, EnumDef>,
    uses: Uses,
    /// Shape (JSON without descriptions) of each inline object -> its struct.
    shapes: BTreeMap<String, String>,
    /// Read-only paths below `/properties/`, e.g. `A/B`.
    read_only: BTreeSet<String>,
}

/// An inline object's structure, for recognizing repeats: its JSON without descriptions.
fn shape_key(node: &Json) -> String {
    fn strip(v: &Json) -> Json {
        match v {
            Json::Object(m) => Json::Object(
                m.iter()
                    .filter(|(k, _)| *k != "description")
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Json::Array(a) => Json::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    let mut sorted = BTreeMap::new();
    if let Json::Object(m) = strip(node) {
        sorted.extend(m);
    }
    serde_json::to_string(&sorted).unwrap_or_default()
}

fn ty_name(node: &Json) -> Option<&str> {
    match node.get("type") {
        Some(Json::String(s)) => Some(s),
        Some(Json::Array(a)) if a.len() == 1 => a[0].as_str(),
        _ => None,
    }
}

fn is_string_enum(node: &Json) -> bool {
    ty_name(node) == Some("string")
        && node
            .get("enum")
            .and_then(Json::as_array)
            .is_some_and(|v| !v.is_empty() && v.iter().all(Json::is_string))
}

fn has_properties(node: &Json) -> bool {
    node.get("properties")
        .and_then(Json::as_object)
        .is_some_and(|p| !p.is_empty())
        && matches!(ty_name(node), None | Some("object"))
}

fn def_ref(node: &Json) -> Option<&str> {
    node.get("$ref")?.as_str()?.strip_prefix("#/definitions/")
}

fn description(node: &Json) -> Option<&str> {
    node.get("description")
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|d| !d.is_empty())
}

/// Alternatives of `oneOf`/`anyOf` that describe a type, not just a constraint (`required`,
/// `format`) on the node's own type. cfn-lint's escape hatch (`format: json`) is dropped.
fn type_alternatives(alts: &[Json]) -> Vec<&Json> {
    alts.iter()
        .filter(|a| a.get("format").and_then(Json::as_str) != Some("json"))
        .filter(|a| {
            ["type", "$ref", "properties", "items", "enum"]
                .iter()
                .any(|k| a.get(*k).is_some())
        })
        .collect()
}

impl Ctx<'_> {
    fn def(&self, name: &str) -> Result<&Json> {
        self.defs
            .get(name)
            .with_context(|| format!("$ref to missing definition {name}"))
    }

    /// Follows `$ref`s to the node that carries the limits and the description.
    fn resolved<'n>(&'n self, node: &'n Json) -> &'n Json {
        let mut n = node;
        for _ in 0..8 {
            match def_ref(n).and_then(|d| self.defs.get(d)) {
                Some(d) => n = d,
                None => break,
            }
        }
        n
    }

    fn limit<'n>(&'n self, node: &'n Json, key: &str) -> Option<&'n Json> {
        node.get(key).or_else(|| {
            let r = self.resolved(node);
            if std::ptr::eq(r, node) {
                None
            } else {
                r.get(key)
            }
        })
    }

    fn ty_of(&mut self, node: &Json, naming: Naming<'_>, path: Option<&str>) -> Result<Ty> {
        if let Some(d) = def_ref(node) {
            return self.def_ty(d);
        }
        match ty_name(node) {
            Some("string") if is_string_enum(node) => Ok(Ty::Enum(self.make_enum(node, naming))),
            Some("string") => Ok(Ty::Str),
            Some("integer") => Ok(Ty::Int),
            Some("number") => Ok(Ty::Num),
            Some("boolean") => Ok(Ty::Bool),
            Some("array") => self.list_of(node, naming, path),
            Some("object") => self.object(node, naming, path),
            Some(_) => {
                self.uses.json = true;
                Ok(Ty::Json)
            }
            None if node.get("type").is_some() => {
                // A list of types, e.g. ["object", "string"]: a policy document as JSON or text.
                self.uses.json = true;
                Ok(Ty::Json)
            }
            None if has_properties(node) => self.object(node, naming, path),
            None if node.get("items").is_some() => self.list_of(node, naming, path),
            None => self.untyped(node, naming, path),
        }
    }

    /// A node without `type`: alternatives, or an untyped enum.
    fn untyped(&mut self, node: &Json, naming: Naming<'_>, path: Option<&str>) -> Result<Ty> {
        let alts: Vec<Json> = ["oneOf", "anyOf"]
            .iter()
            .filter_map(|k| node.get(*k).and_then(Json::as_array))
            .flatten()
            .cloned()
            .collect();
        if !alts.is_empty() {
            if alts.iter().all(|a| a.get("relationshipRef").is_some()) {
                return Ok(Ty::Str);
            }
            let typed = type_alternatives(&alts);
            if typed.len() == 1 {
                return self.ty_of(typed[0], naming, path);
            }
            let scalars: Vec<Option<Ty>> = typed.iter().map(|a| self.scalar(a)).collect();
            if let Some(Some(first)) = scalars.first()
                && scalars.iter().all(|s| s.as_ref() == Some(first))
            {
                return Ok(first.clone());
            }
        }
        if node
            .get("enum")
            .and_then(Json::as_array)
            .is_some_and(|v| v.iter().all(Json::is_string))
        {
            return Ok(Ty::Str);
        }
        self.uses.json = true;
        Ok(Ty::Json)
    }

    /// The scalar a node is (following `$ref`), if it is one.
    fn scalar(&self, node: &Json) -> Option<Ty> {
        let n = self.resolved(node);
        if is_string_enum(n) {
            return None;
        }
        match ty_name(n)? {
            "string" => Some(Ty::Str),
            "integer" => Some(Ty::Int),
            "number" => Some(Ty::Num),
            "boolean" => Some(Ty::Bool),
            _ => None,
        }
    }

    fn list_of(&mut self, node: &Json, naming: Naming<'_>, path: Option<&str>) -> Result<Ty> {
        let item = match node.get("items") {
            Some(items @ Json::Object(_)) => {
                let path = path.map(|p| format!("{p}/*"));
                self.ty_of(items, naming, path.as_deref())?
            }
            _ => {
                self.uses.json = true;
                Ty::Json
            }
        };
        Ok(Ty::List(Box::new(item)))
    }

    fn object(&mut self, node: &Json, naming: Naming<'_>, path: Option<&str>) -> Result<Ty> {
        if has_properties(node) {
            // An inline object identical to one already generated (cfn-lint repeats definitions
            // inline, e.g. DynamoDB's key schemas) reuses its struct.
            let touches_read_only = path.is_some_and(|p| {
                let prefix = format!("{p}/");
                self.read_only
                    .iter()
                    .any(|r| p.is_empty() || r.starts_with(&prefix))
            });
            let shape = (!touches_read_only).then(|| shape_key(node));
            if let Naming::Hint { .. } = naming
                && let Some(existing) = shape.as_ref().and_then(|k| self.shapes.get(k))
            {
                return Ok(Ty::Struct(existing.clone()));
            }
            let name = self.type_name(naming);
            if let Some(k) = shape {
                self.shapes.insert(k, name.clone());
            }
            self.build_struct(&name, node, description(node), path, false)?;
            return Ok(Ty::Struct(name));
        }
        let mut values: Vec<&Json> = node
            .get("patternProperties")
            .and_then(Json::as_object)
            .map(|p| p.values().collect())
            .unwrap_or_default();
        if let Some(a @ Json::Object(_)) = node.get("additionalProperties") {
            values.push(a);
        }
        // Values that may be strings make a string map: strings are always accepted, and
        // CloudFormation passes map values on as strings anyway (Lambda's environment
        // variables, which cfn-lint widens to any JSON type).
        let stringly = |v: &Json| match v.get("type") {
            Some(Json::String(t)) => t == "string" && !is_string_enum(v),
            Some(Json::Array(ts)) => ts.iter().any(|t| t == "string"),
            _ => false,
        };
        if !values.is_empty() && values.iter().all(|v| stringly(self.resolved(v))) {
            self.uses.map = true;
            return Ok(Ty::Map);
        }
        self.uses.json = true;
        Ok(Ty::Json)
    }

    fn type_name(&mut self, naming: Naming<'_>) -> String {
        match naming {
            Naming::Exact(n) => n,
            Naming::Hint { prop, parent } => {
                let base = camel(prop);
                let fallback = format!("{parent}{base}");
                self.types.take(&base, &[fallback])
            }
        }
    }

    fn def_ty(&mut self, d: &str) -> Result<Ty> {
        if let Some(t) = self.def_ty.get(d) {
            return Ok(t.clone());
        }
        let def = self.def(d)?.clone();
        let exact = self.def_names.get(d).cloned();
        let naming = || match &exact {
            Some(n) => Naming::Exact(n.clone()),
            None => Naming::Hint {
                prop: d,
                parent: "",
            },
        };
        if has_properties(&def) && ty_name(&def) != Some("array") {
            let name = exact.clone().unwrap_or_else(|| camel(d));
            // Registered before the fields, so that a definition may contain itself (in a list).
            self.def_ty.insert(d.to_owned(), Ty::Struct(name.clone()));
            self.build_struct(&name, &def, description(&def), None, false)?;
            return Ok(Ty::Struct(name));
        }
        let ty = self.ty_of(&def, naming(), None)?;
        self.def_ty.insert(d.to_owned(), ty.clone());
        Ok(ty)
    }

    fn make_enum(&mut self, node: &Json, naming: Naming<'_>) -> String {
        let name = self.type_name(naming);
        let mut variants = Names::with(&["Self"]);
        let values: Vec<String> = node["enum"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .map(str::to_owned)
            .collect();
        let mut seen = BTreeSet::new();
        let variants = values
            .into_iter()
            .filter(|v| seen.insert(v.clone()))
            .map(|v| (variants.take(&variant(&v), &[]), v))
            .collect();
        let doc = description(node).map_or_else(|| format!("Values of `{name}`."), str::to_owned);
        self.enums.insert(
            name.clone(),
            EnumDef {
                name: name.clone(),
                doc,
                variants,
            },
        );
        name
    }

    fn build_struct(
        &mut self,
        name: &str,
        node: &Json,
        doc: Option<&str>,
        path: Option<&str>,
        is_resource: bool,
    ) -> Result<()> {
        let props: BTreeMap<String, Json> = node
            .get("properties")
            .and_then(Json::as_object)
            .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let required: BTreeSet<&str> = node
            .get("required")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .collect();
        let mut idents = Names::with(&["new"]);
        let mut fields = Vec::new();
        for (prop, schema) in &props {
            let prop_path = match path {
                Some(p) if !p.is_empty() => Some(format!("{p}/{prop}")),
                Some(_) => Some(prop.clone()),
                None => None,
            };
            if prop_path
                .as_ref()
                .is_some_and(|p| self.read_only.contains(p))
            {
                continue;
            }
            let ty = self
                .ty_of(
                    schema,
                    Naming::Hint { prop, parent: name },
                    prop_path.as_deref(),
                )
                .with_context(|| format!("property {prop} of {name}"))?;
            let r = self.resolved(schema);
            let doc = description(schema)
                .or_else(|| description(r))
                .map_or_else(|| format!("The `{prop}` property."), str::to_owned);
            let num = |k: &str| self.limit(schema, k).and_then(Json::as_f64);
            let len = |k: &str| self.limit(schema, k).and_then(Json::as_u64);
            fields.push(Field {
                prop: prop.clone(),
                ident: idents.take(&snake(prop), &[]),
                required: required.contains(prop.as_str()),
                doc,
                min_len: len("minLength").filter(|&n| n > 0),
                max_len: len("maxLength"),
                min: num("minimum"),
                max: num("maximum"),
                ty,
            });
        }
        let doc = doc.map_or_else(
            || {
                if is_resource {
                    "The properties of the resource.".to_owned()
                } else {
                    format!("The `{name}` property type.")
                }
            },
            str::to_owned,
        );
        self.structs.insert(
            name.to_owned(),
            StructDef {
                name: name.to_owned(),
                doc,
                fields,
            },
        );
        Ok(())
    }
}

/// Rust type of a field.
fn field_ty(t: &Ty) -> String {
    match t {
        Ty::Struct(n) => n.clone(),
        Ty::Map => "BTreeMap<String, Value<String>>".to_owned(),
        other => format!("Value<{}>", inner_ty(other)),
    }
}

/// What a `Value` holds for this type.
fn inner_ty(t: &Ty) -> String {
    match t {
        Ty::Str => "String".to_owned(),
        Ty::Int => "i64".to_owned(),
        Ty::Num => "f64".to_owned(),
        Ty::Bool => "bool".to_owned(),
        Ty::Json => "Json".to_owned(),
        Ty::Enum(n) | Ty::Struct(n) => n.clone(),
        Ty::List(i) => format!("Vec<{}>", field_ty(i)),
        Ty::Map => "BTreeMap<String, Value<String>>".to_owned(),
    }
}

/// (parameter type, expression converting parameter `v` to the field type)
fn param(t: &Ty, v: &str) -> (String, String) {
    match t {
        Ty::Struct(n) => (n.clone(), v.to_owned()),
        Ty::Map => (
            "impl IntoIterator<Item = (impl Into<String>, impl Into<Value<String>>)>".to_owned(),
            format!("{v}.into_iter().map(|(k, v)| (k.into(), v.into())).collect()"),
        ),
        other => (
            format!("impl Into<{}>", field_ty(other)),
            format!("{v}.into()"),
        ),
    }
}

fn opt_u(v: Option<u64>) -> String {
    v.map_or_else(|| "None".to_owned(), |n| format!("Some({n})"))
}

fn opt_f(v: Option<f64>) -> String {
    v.map_or_else(|| "None".to_owned(), |n| format!("Some({n:?})"))
}

/// The `Check` calls of a struct's fields; `with_checks` are the struct types that have any.
fn checks(s: &StructDef, with_checks: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for f in &s.fields {
        let arg = if f.required {
            format!("Some(&self.{})", f.ident)
        } else {
            format!("self.{}.as_ref()", f.ident)
        };
        let p = format!("{:?}", f.prop);
        match &f.ty {
            Ty::Str if f.min_len.is_some() || f.max_len.is_some() => out.push(format!(
                "c.len({p}, {arg}, {}, {});",
                opt_u(f.min_len),
                opt_u(f.max_len)
            )),
            Ty::Int if f.min.is_some() || f.max.is_some() => out.push(format!(
                "c.int_range({p}, {arg}, {}, {});",
                opt_f(f.min),
                opt_f(f.max)
            )),
            Ty::Num if f.min.is_some() || f.max.is_some() => out.push(format!(
                "c.range({p}, {arg}, {}, {});",
                opt_f(f.min),
                opt_f(f.max)
            )),
            Ty::Struct(n) if with_checks.contains(n) => out.push(format!("c.nested({p}, {arg});")),
            Ty::List(i) if matches!(&**i, Ty::Struct(n) if with_checks.contains(n)) => {
                out.push(format!("c.list({p}, {arg});"));
            }
            _ => {}
        }
    }
    out
}

fn emit_struct(out: &mut String, s: &StructDef, check_calls: &[String], is_resource: bool) {
    let all_optional = s.fields.iter().all(|f| !f.required);
    out.push_str(&comment(&s.doc, false));
    let default = if all_optional { ", Default" } else { "" };
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq{default}, serde::Serialize)]\npub struct {} {{",
        s.name
    );
    for f in &s.fields {
        out.push_str(&comment(&f.doc, false));
        if f.required {
            let _ = writeln!(out, "#[serde(rename = {:?})]", f.prop);
            let _ = writeln!(out, "pub {}: {},", f.ident, field_ty(&f.ty));
        } else {
            let _ = writeln!(
                out,
                "#[serde(rename = {:?}, skip_serializing_if = \"Option::is_none\")]",
                f.prop
            );
            let _ = writeln!(out, "pub {}: Option<{}>,", f.ident, field_ty(&f.ty));
        }
    }
    out.push_str("}\n\n");

    let _ = writeln!(out, "impl {} {{", s.name);
    let required: Vec<&Field> = s.fields.iter().filter(|f| f.required).collect();
    if all_optional {
        let _ = writeln!(
            out,
            "/// An empty `{}`; set properties with the builder methods.\npub fn new() -> Self {{ Self::default() }}",
            s.name
        );
    } else {
        let names: Vec<String> = required.iter().map(|f| format!("`{}`", f.prop)).collect();
        let params: Vec<String> = required
            .iter()
            .map(|f| format!("{}: {}", f.ident, param(&f.ty, &f.ident).0))
            .collect();
        let inits: Vec<String> = s
            .fields
            .iter()
            .map(|f| {
                if f.required {
                    let conv = param(&f.ty, &f.ident).1;
                    if conv == f.ident {
                        f.ident.clone()
                    } else {
                        format!("{}: {conv}", f.ident)
                    }
                } else {
                    format!("{}: None", f.ident)
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "/// A `{}` with its required properties ({}).\npub fn new({}) -> Self {{ Self {{ {} }} }}",
            s.name,
            names.join(", "),
            params.join(", "),
            inits.join(", ")
        );
    }
    for f in s.fields.iter().filter(|f| !f.required) {
        let (p, conv) = param(&f.ty, "value");
        let _ = writeln!(out, "/// Sets [`Self::{}`] (`{}`).", f.ident, f.prop);
        let _ = writeln!(
            out,
            "#[must_use]\npub fn {}(mut self, value: {p}) -> Self {{ self.{} = Some({conv}); self }}",
            f.ident, f.ident
        );
    }
    out.push_str("}\n\n");

    if is_resource || !check_calls.is_empty() {
        let c = if check_calls.is_empty() { "_c" } else { "c" };
        let _ = writeln!(
            out,
            "impl Check for {} {{ fn check(&self, {c}: &mut Checker) {{ {} }} }}\n",
            s.name,
            check_calls.join(" ")
        );
    }
}

fn emit_enum(out: &mut String, e: &EnumDef) {
    out.push_str(&comment(&e.doc, false));
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]\npub enum {} {{",
        e.name
    );
    for (variant, value) in &e.variants {
        let _ = writeln!(
            out,
            "/// `{}`\n#[serde(rename = {value:?})]\n{variant},",
            value.replace('`', "'")
        );
    }
    let _ = writeln!(
        out,
        "}}\n\nimpl From<{0}> for Value<{0}> {{ fn from(v: {0}) -> Self {{ Value::Lit(v) }} }}\n",
        e.name
    );
}

/// Generates the module of one resource type from its (fixed-up) schema.
///
/// # Errors
/// When the schema refers to a definition it does not have.
pub fn generate(type_name: &str, schema: &Json, header: &str) -> Result<Generated> {
    let empty = Map::new();
    let defs = schema
        .get("definitions")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    let short = type_name.rsplit("::").next().unwrap_or(type_name);
    let name = camel(short);
    let mut types = Names::with(RESERVED_TYPES);
    let name = types.take(&name, &[format!("{name}Resource")]);

    // Definitions that become named types keep their names; inline types take what is left.
    let mut def_names = BTreeMap::new();
    let mut def_keys: Vec<&String> = defs.keys().collect();
    def_keys.sort();
    for d in def_keys {
        let def = &defs[d];
        let items = def.get("items").unwrap_or(&Json::Null);
        let named = (has_properties(def) && ty_name(def) != Some("array"))
            || is_string_enum(def)
            || (ty_name(def) == Some("array")
                && def_ref(items).is_none()
                && (has_properties(items) || is_string_enum(items)));
        if named {
            let n = camel(d);
            let fallback = format!("{n}Property");
            def_names.insert(d.clone(), types.take(&n, &[fallback]));
        }
    }

    let read_only_paths: Vec<String> = schema
        .get("readOnlyProperties")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .filter_map(|p| p.strip_prefix("/properties/"))
        .map(str::to_owned)
        .collect();

    let doc = format!(
        "{}\n\nThe properties of a `{type_name}` resource.",
        description(schema).unwrap_or("")
    );
    let run = |eager: &[String]| -> Result<Ctx<'_>> {
        let mut ctx = Ctx {
            defs,
            types: types.clone(),
            def_names: def_names.clone(),
            def_ty: BTreeMap::new(),
            structs: BTreeMap::new(),
            enums: BTreeMap::new(),
            uses: Uses::default(),
            shapes: BTreeMap::new(),
            read_only: read_only_paths.iter().cloned().collect(),
        };
        for d in eager {
            let def = &defs[d];
            let node = if has_properties(def) {
                def
            } else {
                &def["items"]
            };
            if has_properties(node) {
                ctx.shapes.insert(shape_key(node), def_names[d].clone());
            }
        }
        for d in eager {
            ctx.def_ty(d)
                .with_context(|| format!("{type_name} definition {d}"))?;
        }
        ctx.build_struct(&name, schema, Some(doc.trim()), Some(""), true)
            .with_context(|| type_name.to_owned())?;
        Ok(ctx)
    };
    // Two passes: the first finds the definitions the properties reach; the second generates
    // the named ones first, so that an inline repeat of a definition takes the definition's
    // name rather than the other way round.
    let reached: Vec<String> = run(&[])?
        .def_ty
        .into_keys()
        .filter(|d| def_names.contains_key(d))
        .collect();
    let ctx = run(&reached)?;

    // Which struct types have anything to check, directly or below (to a fixed point).
    let mut with_checks = BTreeSet::new();
    loop {
        let before = with_checks.len();
        for s in ctx.structs.values() {
            if !checks(s, &with_checks).is_empty() {
                with_checks.insert(s.name.clone());
            }
        }
        if with_checks.len() == before {
            break;
        }
    }

    // Attributes: readOnlyProperties GetAtt can address (no list items).
    let mut attributes: Vec<(String, String)> = read_only_paths
        .iter()
        .filter(|p| !p.contains('*'))
        .map(|p| {
            let leaf = p.split('/').try_fold(schema, |n, seg| {
                ctx.resolved(n).get("properties").and_then(|ps| ps.get(seg))
            });
            let doc = leaf
                .and_then(|l| description(l).or_else(|| description(ctx.resolved(l))))
                .unwrap_or("")
                .to_owned();
            (p.replace('/', "."), doc)
        })
        .collect();
    attributes.sort();
    attributes.dedup_by(|a, b| a.0 == b.0);

    let mut body = String::new();
    let resource = &ctx.structs[&name];
    emit_struct(&mut body, resource, &checks(resource, &with_checks), true);
    let attr_list: Vec<String> = attributes.iter().map(|(a, _)| format!("{a:?}")).collect();
    // The `Fn::GetAtt` methods are those of a type of this module that `Handle<{name}>`
    // dereferences to: `Handle` is in another crate, so it cannot have them itself.
    let attributes_type = if attributes.is_empty() {
        "NoGetAtts"
    } else {
        "GetAtts"
    };
    let _ = writeln!(
        body,
        "impl Resource for {name} {{ const TYPE: &'static str = {type_name:?}; const ATTRIBUTES: &'static [&'static str] = &[{}]; type GetAtts = {attributes_type}; }}\n",
        attr_list.join(", ")
    );
    if !attributes.is_empty() {
        body.push_str(&comment(
            &format!("The `Fn::GetAtt` methods of a `Handle<{name}>`, which dereferences to them."),
            false,
        ));
        let _ = writeln!(
            body,
            "#[derive(Debug, Clone)]\npub struct GetAtts(LogicalId);\n\n\
             impl From<LogicalId> for GetAtts {{ fn from(id: LogicalId) -> Self {{ GetAtts(id) }} }}\n"
        );
        let _ = writeln!(body, "impl GetAtts {{");
        let mut methods =
            Names::with(&["clone", "fmt", "get_att", "logical_id", "new", "reference"]);
        for (attr, doc) in &attributes {
            let text = if doc.is_empty() {
                format!("`Fn::GetAtt` of the `{attr}` attribute.")
            } else {
                format!("`Fn::GetAtt` of the `{attr}` attribute: {doc}")
            };
            body.push_str(&comment(&text, false));
            let m = methods.take(&snake(&attr.replace('.', "_")), &[]);
            let _ = writeln!(
                body,
                "pub fn {m}(&self) -> Expr {{ self.0.get_att({attr:?}) }}"
            );
        }
        body.push_str("}\n\n");
    }
    for s in ctx.structs.values().filter(|s| s.name != name) {
        emit_struct(&mut body, s, &checks(s, &with_checks), false);
    }
    for e in ctx.enums.values() {
        emit_enum(&mut body, e);
    }

    let mut out = String::new();
    out.push_str(header);
    out.push_str(&comment(
        &format!("The `{type_name}` resource type and its property types."),
        true,
    ));
    out.push('\n');
    if ctx.uses.map {
        out.push_str("use std::collections::BTreeMap;\n\n");
    }
    let mut core = vec!["Check", "Checker", "Resource"];
    if attributes.is_empty() {
        core.push("NoGetAtts");
    } else {
        core.extend(["Expr", "LogicalId"]);
    }
    if ctx.uses.json {
        core.push("Json");
    }
    if body.contains("Value<") {
        core.push("Value");
    }
    core.sort_unstable();
    let _ = writeln!(out, "use platform_cfn::{{{}}};\n", core.join(", "));
    out.push_str(&body);
    Ok(Generated {
        module: module_name(short),
        name,
        source: out,
    })
}

/// The module (file) name of a resource type, e.g. `DHCPOptions` -> `dhcp_options`.
pub fn module_name(short: &str) -> String {
    snake(short)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn source() -> String {
        let schema = json!({
            "typeName": "AWS::Demo::Thing",
            "description": "A demo thing.",
            "properties": {
                "Name": {"type": "string", "maxLength": 10, "description": "Its name."},
                "Mode": {"type": "string", "enum": ["FAST", "slow-ish", "2x"]},
                "Config": {"$ref": "#/definitions/Config"},
                "Items": {"type": "array", "items": {"$ref": "#/definitions/Config"}},
                "Labels": {"type": "object", "patternProperties": {".*": {"type": "string"}}},
                "Policy": {"type": ["object", "string"]},
                "Type": {"type": "integer", "minimum": 1},
                "Arn": {"type": "string"}
            },
            "definitions": {
                "Config": {
                    "type": "object",
                    "properties": {"Size": {"type": "integer", "maximum": 5}},
                    "required": ["Size"]
                }
            },
            "required": ["Type", "Name"],
            "readOnlyProperties": ["/properties/Arn"]
        });
        super::generate("AWS::Demo::Thing", &schema, "")
            .expect("generates")
            .source
    }

    #[test]
    fn maps_the_schema_to_rust() {
        let s = source();
        for expected in [
            "pub struct Thing {",
            "pub fn new(name: impl Into<Value<String>>, type_: impl Into<Value<i64>>) -> Self",
            "pub mode: Option<Value<Mode>>,",
            "#[serde(rename = \"slow-ish\")]\nSlowIsh,",
            "V2x,",
            "pub config: Option<Config>,",
            "pub items: Option<Value<Vec<Config>>>,",
            "pub labels: Option<BTreeMap<String, Value<String>>>,",
            "pub policy: Option<Value<Json>>,",
            "c.len(\"Name\", Some(&self.name), None, Some(10));",
            "c.nested(\"Config\", self.config.as_ref());",
            "c.list(\"Items\", self.items.as_ref());",
            "c.int_range(\"Size\", Some(&self.size), None, Some(5.0));",
            "const ATTRIBUTES: &'static [&'static str] = &[\"Arn\"];",
            "pub fn arn(&self) -> Expr { self.0.get_att(\"Arn\") }",
        ] {
            assert!(s.contains(expected), "missing {expected:?} in\n{s}");
        }
        assert!(
            !s.contains("pub arn:"),
            "read-only properties are not fields"
        );
    }
}
