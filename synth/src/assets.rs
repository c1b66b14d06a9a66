//! Content hashes of the Lambda functions' code, for content-addressed S3 keys.
//!
//! Each function's hash covers the sources its binary is built from: `lambdas/Cargo.toml`, the
//! crate's shared modules (`lib.rs`, `env.rs`), the function's own module and `bin/` file, and
//! the event contract crate it compiles in (`platform-model/contract/`: its `Cargo.toml` and
//! `src/`, without its test fixtures). It is known without building and identical on every machine, so an unchanged
//! function keeps its key and its template: a change to the other function, to tests, benches,
//! docs or the fuzz target leaves it alone. A dependency bump in `Cargo.lock` alone does not
//! change it; rebuild and upload such a change under a new key by touching `lambdas/` (the
//! README says so).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use platform_model::platform::Assets;
use sha2::{Digest, Sha256};

/// The workspace root this binary was built from.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const SKIP_DIRS: [&str; 4] = ["target", "corpus", "artifacts", "fixtures"];

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if !SKIP_DIRS.contains(&name) {
                collect(&path, root, out)?;
            }
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, path));
        }
    }
    Ok(())
}

/// Sources every function is built from (files or directories, relative to the root).
const SHARED: [&str; 5] = [
    "lambdas/Cargo.toml",
    "lambdas/src/lib.rs",
    "lambdas/src/env.rs",
    "platform-model/contract/Cargo.toml",
    "platform-model/contract/src",
];

/// Each function's own sources: its module and its `bin/` file.
const ALERT_INGEST: [&str; 2] = ["lambdas/src/ingest", "lambdas/src/bin/alert_ingest.rs"];
const RUNBOOK_ACTION: [&str; 2] = ["lambdas/src/runbook", "lambdas/src/bin/runbook_action.rs"];
const APPROVAL: [&str; 2] = ["lambdas/src/approval", "lambdas/src/bin/approval.rs"];

/// The SHA-256 over `paths` (files, or directories walked recursively), in path order.
fn hash(root: &Path, paths: &[&str]) -> Result<String> {
    let mut files = Vec::new();
    for rel in paths {
        let path = root.join(rel);
        if path.is_dir() {
            collect(&path, root, &mut files)?;
        } else {
            files.push(((*rel).to_owned(), path));
        }
    }
    files.sort();
    let mut hasher = Sha256::new();
    for (rel, path) in &files {
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Hashes the sources under `root` that each function is built from.
pub fn compute(root: &Path) -> Result<Assets> {
    let of = |own: [&str; 2]| {
        let mut paths = SHARED.to_vec();
        paths.extend(own);
        hash(root, &paths)
    };
    Ok(Assets::new(
        &of(ALERT_INGEST)?,
        &of(RUNBOOK_ACTION)?,
        &of(APPROVAL)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for rel in [
            "lambdas/Cargo.toml",
            "lambdas/src/lib.rs",
            "lambdas/src/env.rs",
            "lambdas/src/ingest/mod.rs",
            "lambdas/src/runbook/mod.rs",
            "lambdas/src/bin/alert_ingest.rs",
            "lambdas/src/bin/runbook_action.rs",
            "lambdas/src/approval/mod.rs",
            "lambdas/src/bin/approval.rs",
            "lambdas/tests/it/main.rs",
            "lambdas/README.md",
            "platform-model/contract/Cargo.toml",
            "platform-model/contract/src/lib.rs",
            "platform-model/contract/src/fixtures/a.json",
        ] {
            write(dir.path(), rel, rel);
        }
        dir
    }

    fn hashes(root: &Path) -> (String, String) {
        let a = compute(root).unwrap();
        (a.alert_ingest.sha256, a.runbook_action.sha256)
    }

    #[test]
    fn each_function_changes_only_with_its_own_sources() {
        let dir = workspace();
        let root = dir.path();
        let (ingest, action) = hashes(root);
        assert_ne!(ingest, action);

        // Tests, docs and contract fixtures are not built into either binary.
        write(root, "lambdas/tests/it/main.rs", "changed");
        write(root, "lambdas/README.md", "changed");
        write(
            root,
            "platform-model/contract/src/fixtures/a.json",
            "changed",
        );
        assert_eq!(hashes(root), (ingest.clone(), action.clone()));

        // One function's module moves only its own hash.
        write(root, "lambdas/src/ingest/mod.rs", "changed");
        let (ingest2, action2) = hashes(root);
        assert_ne!(ingest2, ingest);
        assert_eq!(action2, action);

        // The shared parts move both.
        write(root, "platform-model/contract/src/lib.rs", "changed");
        let (ingest3, action3) = hashes(root);
        assert_ne!(ingest3, ingest2);
        assert_ne!(action3, action2);
    }

    #[test]
    fn a_missing_source_file_is_an_error_naming_it() {
        let dir = workspace();
        fs::remove_file(dir.path().join("lambdas/src/bin/alert_ingest.rs")).unwrap();
        let err = format!("{:#}", compute(dir.path()).unwrap_err());
        assert!(err.contains("alert_ingest.rs"), "{err}");
    }
}
