//! `synth`: writes the SRE platform's generated infrastructure into `out/<env>/`.

use std::process::ExitCode;

fn main() -> ExitCode {
    synth::cli::main(platform_model::platform::Platform::standard)
}
