//! The parts of `synth` that tests, benchmarks and other teams' binaries share with the binary:
//! the command line ([`cli::main`]) and the Lambda assets' hashes ([`assets`]).

pub mod assets;
pub mod cli;
pub mod deploy;
pub mod ops;

/// The SHA-256 of `bytes`, lowercase hex (file hashes in the manifest, template hashes of
/// deploys, content-addressed keys).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
