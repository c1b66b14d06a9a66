//! The parts of `synth` that tests, benchmarks and other teams' binaries share with the binary:
//! the command line ([`cli::main`]) and the Lambda assets' hashes ([`assets`]).

pub mod assets;
pub mod cli;
pub mod deploy;
pub mod emulator;
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

/// The AWS configuration from the standard chain (`AWS_PROFILE`, SSO, `AWS_ENDPOINT_URL` for an
/// emulator, ...) in `region`; fails with one line naming how to give credentials.
pub async fn aws_config(region: &str) -> anyhow::Result<aws_config::SdkConfig> {
    let config = aws_config::from_env()
        .region(aws_config::Region::new(region.to_owned()))
        .load()
        .await;
    if config.credentials_provider().is_none() {
        anyhow::bail!(
            "no AWS credentials: set AWS_PROFILE (aws configure / aws sso login) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        );
    }
    Ok(config)
}
