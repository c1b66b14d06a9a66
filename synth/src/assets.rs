//! Content hashes of the Lambda functions' code, for content-addressed S3 keys.
//!
//! The hash covers the function sources (`lambdas/`, without build output) and the event
//! contract they compile in (`platform-model/src/contract/`), so it is known without building
//! and identical on every machine: an unchanged function keeps its key and its template. A
//! dependency bump in `Cargo.lock` alone does not change it; rebuild and upload such a change
//! under a new key by touching `lambdas/` (the README says so).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use platform_model::platform::Assets;
use sha2::{Digest, Sha256};

/// The workspace root this binary was built from.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const SKIP_DIRS: [&str; 3] = ["target", "corpus", "artifacts"];

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

/// Hashes the sources under `root` that the functions are built from.
pub fn compute(root: &Path) -> Result<Assets> {
    let mut files = Vec::new();
    for dir in ["lambdas", "platform-model/src/contract"] {
        collect(&root.join(dir), root, &mut files)?;
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
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Assets::new(&hex, &hex))
}
