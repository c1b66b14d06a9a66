//! `payments-synth`: the platform with the payments service and the payments team's stack,
//! written by the same command line as `synth` (`--env`, `--out`, `--check`, `--strict`, ...).
//!
//! ```text
//! cargo run -p payments-platform -- --env prod     # writes examples/payments/out/prod/
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    // Run from the workspace root; `--out` writes elsewhere.
    synth::cli::main_in(payments_platform::compose, "examples/payments/out")
}
