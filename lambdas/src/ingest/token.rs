//! The webhook bearer token: where it is kept, how it is cached, how it is compared.
//!
//! Rotation without 401s: a Secrets Manager secret is read at both version stages,
//! `AWSCURRENT` and `AWSPREVIOUS` (which exists once the secret has been rotated), and a
//! request presenting either value is accepted. So a sender still configured with the old
//! value keeps working until it is updated, and one already updated works before the cache
//! expires: on a mismatch the values are read again once, when the cached ones are older than
//! [`REFRESH_ON_MISMATCH_AFTER`] (which also bounds how often wrong tokens can make the
//! function call Secrets Manager).

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use tokio::sync::RwLock;

/// How long fetched values are reused before they are read again.
pub const TOKEN_TTL: Duration = Duration::from_secs(300);

/// On a token mismatch, the values are read again at once when the cached ones are at least
/// this old (a newly rotated value is accepted within this bound).
pub const REFRESH_ON_MISMATCH_AFTER: Duration = Duration::from_secs(30);

/// The Secrets Manager stage of the secret's current value.
pub const STAGE_CURRENT: &str = "AWSCURRENT";
/// The Secrets Manager stage of the value before the last rotation (absent before the first).
pub const STAGE_PREVIOUS: &str = "AWSPREVIOUS";

/// Where the expected token is kept.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// A Secrets Manager secret: its string, or the `token` key when it is a JSON object; both
    /// its `AWSCURRENT` and `AWSPREVIOUS` values are accepted.
    Secret {
        /// Client.
        client: aws_sdk_secretsmanager::Client,
        /// Secret ARN or name.
        id: String,
    },
    /// An SSM parameter (`SecureString`), read with decryption (one value: SSM has no stages).
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

/// The accepted values, fetched once and cached for [`TOKEN_TTL`].
#[derive(Debug)]
pub struct TokenProvider {
    source: TokenSource,
    ttl: Duration,
    refresh_after: Duration,
    cached: RwLock<Option<(Vec<String>, Instant)>>,
}

impl TokenProvider {
    /// A provider reading from `source`, with [`TOKEN_TTL`] and [`REFRESH_ON_MISMATCH_AFTER`].
    pub fn new(source: TokenSource) -> Self {
        Self::with_timing(source, TOKEN_TTL, REFRESH_ON_MISMATCH_AFTER)
    }

    /// A provider with its own cache lifetime and refresh-on-mismatch bound (tests).
    pub fn with_timing(source: TokenSource, ttl: Duration, refresh_after: Duration) -> Self {
        TokenProvider {
            source,
            ttl,
            refresh_after,
            cached: RwLock::new(None),
        }
    }

    /// The accepted values (cached): the current one first, then the previous one if any.
    pub async fn tokens(&self) -> Result<Vec<String>, TokenError> {
        Ok(self.cached_tokens().await?.0)
    }

    async fn cached_tokens(&self) -> Result<(Vec<String>, Instant), TokenError> {
        if let Some((tokens, at)) = &*self.cached.read().await
            && at.elapsed() < self.ttl
        {
            return Ok((tokens.clone(), *at));
        }
        self.refresh(None).await
    }

    /// Read the values again, unless another request did since `seen` (the fetch time of the
    /// values that request compared against).
    async fn refresh(&self, seen: Option<Instant>) -> Result<(Vec<String>, Instant), TokenError> {
        let mut cached = self.cached.write().await;
        if let (Some(seen), Some((tokens, at))) = (seen, &*cached)
            && *at > seen
        {
            return Ok((tokens.clone(), *at));
        }
        let tokens = self.fetch().await?;
        let at = Instant::now();
        *cached = Some((tokens.clone(), at));
        Ok((tokens, at))
    }

    /// Whether the `Authorization` header carries an accepted token. On a mismatch against
    /// values older than the refresh bound, the values are read once more first (a rotation
    /// is then accepted at once). An error only when no value could be read at all.
    pub async fn check(&self, header: Option<&[u8]>) -> Result<bool, TokenError> {
        let (tokens, at) = self.cached_tokens().await?;
        if authorized(header, &tokens) {
            return Ok(true);
        }
        if presented(header).is_empty() || at.elapsed() < self.refresh_after {
            return Ok(false);
        }
        match self.refresh(Some(at)).await {
            Ok((tokens, _)) => Ok(authorized(header, &tokens)),
            Err(e) => {
                tracing::warn!(error = %e, "webhook token: re-reading after a mismatch failed");
                Ok(false)
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<String>, TokenError> {
        match &self.source {
            TokenSource::Fixed(token) => Ok(vec![token.clone()]),
            TokenSource::Secret { client, id } => {
                let (current, previous) = tokio::join!(
                    secret_value(client, id, STAGE_CURRENT),
                    secret_value(client, id, STAGE_PREVIOUS)
                );
                let mut tokens = vec![current?.ok_or_else(|| TokenError {
                    source_name: id.clone(),
                    message: format!("the secret has no {STAGE_CURRENT} value"),
                })?];
                match previous {
                    Ok(Some(previous)) if previous != tokens[0] => tokens.push(previous),
                    Ok(_) => {}
                    // The current value still works: log, do not fail.
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook token: previous value unreadable")
                    }
                }
                Ok(tokens)
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
                non_empty(token)
                    .map(|t| vec![t])
                    .ok_or_else(|| error("the token is empty".into()))
            }
        }
    }
}

/// The secret's value at `stage`; `None` when the secret has no version at that stage
/// (`AWSPREVIOUS` before the first rotation).
async fn secret_value(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    stage: &str,
) -> Result<Option<String>, TokenError> {
    let error = |message: String| TokenError {
        source_name: format!("{id} ({stage})"),
        message,
    };
    let out = match client
        .get_secret_value()
        .secret_id(id)
        .version_stage(stage)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e)
            if stage != STAGE_CURRENT
                && e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(error(format!(
                "{}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )));
        }
    };
    let text = out
        .secret_string()
        .ok_or_else(|| error("the secret has no string value".into()))?;
    let token = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => map
            .get("token")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| error("the JSON secret has no string key \"token\"".into()))?,
        _ => text.trim().to_string(),
    };
    non_empty(token)
        .map(Some)
        .ok_or_else(|| error("the token is empty".into()))
}

fn non_empty(token: String) -> Option<String> {
    (!token.is_empty()).then_some(token)
}

/// The token of a `Bearer <token>` header (empty when there is none).
fn presented(header: Option<&[u8]>) -> &[u8] {
    header
        .and_then(|h| {
            let h = h.trim_ascii();
            (h.len() > 7 && h[..7].eq_ignore_ascii_case(b"bearer ")).then(|| h[7..].trim_ascii())
        })
        .unwrap_or_default()
}

/// Whether the `Authorization` header carries `Bearer <one of expected>`. Constant time in the
/// tokens' content and length: every side is hashed first, then each expected value is
/// compared with `subtle`, all of them, whatever matched.
pub fn authorized<S: AsRef<str>>(header: Option<&[u8]>, expected: &[S]) -> bool {
    let presented = presented(header);
    let a = Sha256::digest(presented);
    let mut equal = Choice::from(0u8);
    for token in expected {
        let b = Sha256::digest(token.as_ref().as_bytes());
        equal |= a.ct_eq(&b);
    }
    bool::from(equal) && !presented.is_empty()
}

#[cfg(test)]
mod tests {
    use super::authorized;

    #[test]
    fn bearer_tokens() {
        assert!(authorized(Some(b"Bearer s3cret"), &["s3cret"]));
        assert!(authorized(Some(b"bearer s3cret "), &["s3cret"]));
        assert!(!authorized(Some(b"Bearer s3cre"), &["s3cret"]));
        assert!(!authorized(Some(b"Basic s3cret"), &["s3cret"]));
        assert!(!authorized(Some(b"Bearer "), &[""]));
        assert!(!authorized(None, &["s3cret"]));
        // Current and previous values.
        assert!(authorized(Some(b"Bearer old"), &["new", "old"]));
        assert!(authorized(Some(b"Bearer new"), &["new", "old"]));
        assert!(!authorized(Some(b"Bearer other"), &["new", "old"]));
        assert!(!authorized::<&str>(Some(b"Bearer new"), &[]));
    }
}
