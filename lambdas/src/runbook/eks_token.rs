//! EKS bearer tokens, built as aws-iam-authenticator builds them: a presigned STS
//! `GetCallerIdentity` URL that signs the `x-k8s-aws-id: <cluster>` header, base64url-encoded
//! (no padding) after the prefix `k8s-aws-v1.`. The API server presents the URL to STS to learn
//! the caller's IAM identity, then maps it with the cluster's access entries.

use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use tokio::sync::Mutex;

/// The token prefix aws-iam-authenticator uses.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The header that binds a token to one cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// Presigned URL lifetime (aws-iam-authenticator's; the server accepts 15 minutes from signing).
pub const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);
/// Reuse a token for this long (well inside the server's 15 minutes).
pub const TOKEN_REUSE: Duration = Duration::from_secs(600);

/// Could not build a token.
#[derive(Debug, thiserror::Error)]
#[error("EKS token: {0}")]
pub struct TokenError(pub String);

/// Build the token for `cluster` from `credentials` at `time`.
pub fn token(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    time: SystemTime,
) -> Result<String, TokenError> {
    let url = presigned_url(credentials, region, cluster, time)?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
    ))
}

/// The presigned `GetCallerIdentity` URL inside the token.
pub fn presigned_url(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    time: SystemTime,
) -> Result<String, TokenError> {
    let url =
        format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRES);
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| TokenError(e.to_string()))?
        .into();
    let headers = [(CLUSTER_ID_HEADER, cluster)];
    let signable = SignableRequest::new("GET", &url, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| TokenError(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| TokenError(e.to_string()))?
        .into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(&url)
        .body(())
        .map_err(|e| TokenError(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request.uri().to_string())
}

/// Tokens for one cluster, from the function's credentials, reused for [`TOKEN_REUSE`].
#[derive(Debug)]
pub struct TokenSigner {
    credentials: SharedCredentialsProvider,
    region: String,
    cluster: String,
    cached: Mutex<Option<(String, Instant)>>,
}

impl TokenSigner {
    /// A signer for `cluster` in `region`.
    pub fn new(
        credentials: SharedCredentialsProvider,
        region: impl Into<String>,
        cluster: impl Into<String>,
    ) -> Self {
        TokenSigner {
            credentials,
            region: region.into(),
            cluster: cluster.into(),
            cached: Mutex::new(None),
        }
    }

    /// A valid token.
    pub async fn token(&self) -> Result<String, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, at)) = &*cached
            && at.elapsed() < TOKEN_REUSE
        {
            return Ok(token.clone());
        }
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| TokenError(format!("no AWS credentials: {e}")))?;
        let token = token(&credentials, &self.region, &self.cluster, SystemTime::now())?;
        *cached = Some((token.clone(), Instant::now()));
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn token_is_a_presigned_get_caller_identity() {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session".into()),
            None,
            "test",
        );
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_741_944_413);
        let token = token(&credentials, "eu-west-1", "sre-platform", time).unwrap();
        let encoded = token.strip_prefix(TOKEN_PREFIX).expect("prefix");
        assert!(!encoded.contains('=') && !encoded.contains('+') && !encoded.contains('/'));
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .unwrap(),
        )
        .unwrap();
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, "https://sts.eu-west-1.amazonaws.com/");
        let params: BTreeMap<&str, &str> = query
            .split('&')
            .map(|kv| kv.split_once('=').unwrap())
            .collect();
        assert_eq!(params["Action"], "GetCallerIdentity");
        assert_eq!(params["Version"], "2011-06-15");
        assert_eq!(params["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(
            params["X-Amz-Credential"],
            "AKIDEXAMPLE%2F20250314%2Feu-west-1%2Fsts%2Faws4_request"
        );
        assert_eq!(params["X-Amz-Date"], "20250314T092653Z");
        assert_eq!(params["X-Amz-Expires"], "60");
        assert_eq!(params["X-Amz-SignedHeaders"], "host%3Bx-k8s-aws-id");
        assert_eq!(params["X-Amz-Security-Token"], "session");
        let signature = params["X-Amz-Signature"];
        assert_eq!(signature.len(), 64);
        assert!(signature.bytes().all(|b| b.is_ascii_hexdigit()));
        // Deterministic for the same inputs; bound to the cluster.
        assert_eq!(
            token,
            super::token(&credentials, "eu-west-1", "sre-platform", time).unwrap()
        );
        assert_ne!(
            token,
            super::token(&credentials, "eu-west-1", "other", time).unwrap()
        );
    }
}
