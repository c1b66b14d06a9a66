//! Settings stop at the platform layer: the generic modules (`aws`, `k8s`, `monitoring`,
//! `service`, `yaml`) take their own props and never name the settings module or its types, so
//! a team with other settings can use them. Only `platform` (and `settings` itself) read them.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn generic_modules_never_see_settings() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for generic in ["aws", "k8s", "monitoring"] {
        rust_files(&src.join(generic), &mut files);
    }
    files.push(src.join("service.rs"));
    files.push(src.join("yaml.rs"));
    assert!(files.len() > 20, "{files:?}");
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            // Doc examples may load settings to build the platform's checkout; code may not.
            if line.trim_start().starts_with("//") {
                continue;
            }
            if line.contains("settings::")
                || line.contains("Settings") && !line.contains("FunctionSettings")
            {
                found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "generic modules read settings:\n{}",
        found.join("\n")
    );
}
