//! Rust names for schema names: keywords, digits, collisions.

use std::collections::BTreeSet;

use heck::{ToSnakeCase, ToUpperCamelCase};

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self",
    "static", "struct", "super", "trait", "true", "try", "type", "typeof", "union", "unsafe",
    "unsized", "use", "virtual", "where", "while", "yield",
];

/// Type names a generated type must not take: the core types and prelude items the generated
/// code refers to by their short name.
pub const RESERVED_TYPES: &[&str] = &[
    "BTreeMap",
    "Box",
    "Check",
    "Checker",
    "Clone",
    "Copy",
    "Debug",
    "Default",
    "Eq",
    "Err",
    "Expr",
    "GetAtts",
    "Handle",
    "Hash",
    "Into",
    "IntoIterator",
    "Json",
    "LogicalId",
    "NoGetAtts",
    "None",
    "Ok",
    "Option",
    "PartialEq",
    "Resource",
    "Result",
    "Self",
    "Serialize",
    "Some",
    "String",
    "Value",
    "Vec",
];

/// A snake_case identifier for a property (fields, builder methods, attribute methods).
pub fn snake(name: &str) -> String {
    let mut s = name.to_snake_case();
    if s.is_empty() {
        s = "value".to_owned();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s = format!("n{s}");
    }
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// An UpperCamelCase type name; names that already are (`SSESpecification`) are kept as AWS
/// spells them.
pub fn camel(name: &str) -> String {
    let keep = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    let mut s = if keep {
        name.to_owned()
    } else {
        name.to_upper_camel_case()
    };
    if s.is_empty() {
        s = "Value".to_owned();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s = format!("V{s}");
    }
    s
}

/// An enum variant for a value: PascalCase (`PAY_PER_REQUEST` -> `PayPerRequest`, `KMS` ->
/// `Kms`), `V` before a leading digit.
pub fn variant(value: &str) -> String {
    if value == "*" {
        return "Wildcard".to_owned();
    }
    let s = value.to_upper_camel_case();
    match s.chars().next() {
        None => "Empty".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("V{s}"),
        Some(_) => s,
    }
}

/// Hands out unique names within one namespace.
#[derive(Default, Clone)]
pub struct Names {
    taken: BTreeSet<String>,
}

impl Names {
    /// A namespace where `reserved` are already taken.
    pub fn with(reserved: &[&str]) -> Self {
        Names {
            taken: reserved.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Takes `name`, or the first of `fallbacks`, or `name` with a number, whichever is free.
    pub fn take(&mut self, name: &str, fallbacks: &[String]) -> String {
        let free = std::iter::once(name.to_owned())
            .chain(fallbacks.iter().cloned())
            .find(|n| !self.taken.contains(n))
            .unwrap_or_else(|| {
                (2..)
                    .map(|i| format!("{name}{i}"))
                    .find(|n| !self.taken.contains(n))
                    .unwrap_or_default()
            });
        self.taken.insert(free.clone());
        free
    }
}
