//! YAML rendering of the model's files (Kubernetes objects, rule files, Helm values).
//!
//! serde_norway (the maintained fork of serde_yaml) writes struct fields in declaration order
//! and maps in key order (the model uses `BTreeMap`s), so output is deterministic.

use serde::Serialize;

use crate::Error;

/// One YAML document.
pub fn to_string<T: Serialize + ?Sized>(what: &str, value: &T) -> Result<String, Error> {
    serde_norway::to_string(value).map_err(|e| Error::Construct {
        construct: what.to_owned(),
        message: format!("cannot render as YAML: {e}"),
    })
}

/// Several documents in one stream, separated by `---`.
pub fn documents<T: Serialize>(what: &str, values: &[T]) -> Result<String, Error> {
    let mut out = String::new();
    for v in values {
        out.push_str("---\n");
        out.push_str(&to_string(what, v)?);
    }
    Ok(out)
}

/// A YAML file with a leading comment block (each line prefixed with `# `).
pub fn with_header(header: &str, body: &str) -> String {
    let mut out = String::new();
    for line in header.lines() {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(body);
    out
}
