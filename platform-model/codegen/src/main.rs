//! `cargo run -p cfn-codegen` regenerates `platform-model/resources/src/` from the vendored
//! schemas; `--check` only reports stale files and exits with 1 when there are any.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

fn run() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args.as_slice() {
        [] => false,
        [a] if a == "--check" => true,
        _ => bail!("usage: cfn-codegen [--check]"),
    };
    let schemas = cfn_codegen::schemas_dir();
    let out = cfn_codegen::output_dir();
    let files = cfn_codegen::generate(&schemas)
        .with_context(|| format!("generating from {}", schemas.display()))?;
    if check {
        let stale = cfn_codegen::stale(&out, &files)?;
        if stale.is_empty() {
            println!("{} generated files are up to date", files.len());
            return Ok(ExitCode::SUCCESS);
        }
        for s in &stale {
            println!("{s}");
        }
        println!(
            "{} stale file(s) in {}: run `cargo run -p cfn-codegen`",
            stale.len(),
            out.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let changes = cfn_codegen::write(&out, &files)?;
    for c in &changes {
        println!("{c}");
    }
    println!(
        "{} files in {} ({} changed)",
        files.len(),
        out.display(),
        changes.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cfn-codegen: {e:#}");
            ExitCode::from(2)
        }
    }
}
