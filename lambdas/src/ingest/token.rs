//! The webhook bearer token: where it is kept, how it is cached, how it is compared.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::RwLock;

/// How long a fetched token is reused before it is read again (a rotated token takes at most
/// this long to be accepted).
pub const TOKEN_TTL: Duration = Duration::from_secs(300);

/// Where the expected token is kept.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// A Secrets Manager secret: its string, or the `token` key when it is a JSON object.
    Secret {
        /// Client.
        client: aws_sdk_secretsmanager::Client,
        /// Secret ARN or name.
        id: String,
    },
    /// An SSM parameter (`SecureString`), read with decryption.
    Parameter {
        /// Client.
        client: aws_sdk_ssm::Client,
        /// Parameter name.
        name: String,
    },
    /// A fixed token (tests, local runs).
    Fixed(String),
}

/// Could not read the expected token.
#[derive(Debug, thiserror::Error)]
#[error("could not read the webhook token from {source_name}: {message}")]
pub struct TokenError {
    /// The secret or parameter.
    pub source_name: String,
    /// Why.
    pub message: String,
}

/// The expected token, fetched once and cached for [`TOKEN_TTL`].
#[derive(Debug)]
pub struct TokenProvider {
    source: TokenSource,
    cached: RwLock<Option<(String, Instant)>>,
}

impl TokenProvider {
    /// A provider reading from `source`.
    pub fn new(source: TokenSource) -> Self {
        TokenProvider {
            source,
            cached: RwLock::new(None),
        }
    }

    /// The expected token (cached).
    pub async fn token(&self) -> Result<String, TokenError> {
        if let Some((token, at)) = &*self.cached.read().await
            && at.elapsed() < TOKEN_TTL
        {
            return Ok(token.clone());
        }
        let token = self.fetch().await?;
        *self.cached.write().await = Some((token.clone(), Instant::now()));
        Ok(token)
    }

    async fn fetch(&self) -> Result<String, TokenError> {
        match &self.source {
            TokenSource::Fixed(token) => Ok(token.clone()),
            TokenSource::Secret { client, id } => {
                let error = |message: String| TokenError {
                    source_name: id.clone(),
                    message,
                };
                let out = client
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| {
                        error(format!(
                            "{}",
                            aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                        ))
                    })?;
                let text = out
                    .secret_string()
                    .ok_or_else(|| error("the secret has no string value".into()))?;
                let token = match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(serde_json::Value::Object(map)) => map
                        .get("token")
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                        .ok_or_else(|| {
                            error("the JSON secret has no string key \"token\"".into())
                        })?,
                    _ => text.trim().to_string(),
                };
                non_empty(token).ok_or_else(|| error("the token is empty".into()))
            }
            TokenSource::Parameter { client, name } => {
                let error = |message: String| TokenError {
                    source_name: name.clone(),
                    message,
                };
                let out = client
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| {
                        error(format!("{}", aws_sdk_ssm::error::DisplayErrorContext(e)))
                    })?;
                let token = out
                    .parameter()
                    .and_then(|p| p.value())
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                non_empty(token).ok_or_else(|| error("the token is empty".into()))
            }
        }
    }
}

fn non_empty(token: String) -> Option<String> {
    (!token.is_empty()).then_some(token)
}

/// Whether the `Authorization` header carries `Bearer <expected>`. Constant time in the
/// token's content and length: both sides are hashed first, then compared with `subtle`.
pub fn authorized(header: Option<&[u8]>, expected: &str) -> bool {
    let presented = header
        .and_then(|h| {
            let h = h.trim_ascii();
            (h.len() > 7 && h[..7].eq_ignore_ascii_case(b"bearer ")).then(|| h[7..].trim_ascii())
        })
        .unwrap_or_default();
    let a = Sha256::digest(presented);
    let b = Sha256::digest(expected.as_bytes());
    let equal: bool = a.ct_eq(&b).into();
    equal && !presented.is_empty()
}

#[cfg(test)]
mod tests {
    use super::authorized;

    #[test]
    fn bearer_tokens() {
        assert!(authorized(Some(b"Bearer s3cret"), "s3cret"));
        assert!(authorized(Some(b"bearer s3cret "), "s3cret"));
        assert!(!authorized(Some(b"Bearer s3cre"), "s3cret"));
        assert!(!authorized(Some(b"Basic s3cret"), "s3cret"));
        assert!(!authorized(Some(b"Bearer "), ""));
        assert!(!authorized(None, "s3cret"));
    }
}
