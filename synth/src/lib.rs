//! The parts of `synth` that tests, benchmarks and other teams' binaries share with the binary:
//! the command line ([`cli::main`]) and the Lambda assets' hashes ([`assets`]).

pub mod assets;
pub mod cli;
pub mod deploy;
