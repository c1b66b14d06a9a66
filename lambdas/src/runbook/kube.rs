//! The few Kubernetes API calls the actions make, over HTTPS with the EKS token. Request and
//! response bodies are `k8s-openapi` types.

use std::time::Duration;

use base64::Engine;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use super::ActionError;
use super::eks_token::TokenSigner;

/// Merge patch (RFC 7386).
pub const MERGE_PATCH: &str = "application/merge-patch+json";
/// Kubernetes strategic merge patch (what kubectl sends for `rollout restart` and `cordon`).
pub const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";

/// Where the API server is.
#[derive(Debug, Clone)]
pub enum ClusterSource {
    /// Given in settings: URL and the CA (PEM; `None` for a plain-HTTP test listener).
    Fixed {
        /// API server URL.
        endpoint: String,
        /// CA certificate, PEM.
        ca_pem: Option<Vec<u8>>,
    },
    /// Read once with `eks:DescribeCluster`.
    Describe {
        /// Client.
        client: aws_sdk_eks::Client,
        /// Cluster name.
        name: String,
    },
}

/// An HTTP answer of the API server.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
}

impl Answer {
    /// 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as `T`.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, ActionError> {
        serde_json::from_slice(&self.body).map_err(|e| ActionError::Kube {
            what: what.to_string(),
            status: self.status,
            message: format!("unexpected response body: {e}"),
        })
    }

    /// An error for a failed call: the server's `Status.message` when it sent one.
    pub fn error(&self, what: &str) -> ActionError {
        let message = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(300)
                    .collect()
            });
        ActionError::Kube {
            what: what.to_string(),
            status: self.status,
            message,
        }
    }
}

struct Connection {
    http: reqwest::Client,
    endpoint: String,
}

/// A client of one cluster's API server; the endpoint and CA are resolved on first use.
pub struct KubeClient {
    source: ClusterSource,
    signer: TokenSigner,
    connection: OnceCell<Connection>,
}

impl std::fmt::Debug for KubeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClient")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl KubeClient {
    /// A client of the cluster `source` names, authenticated by `signer`.
    pub fn new(source: ClusterSource, signer: TokenSigner) -> Self {
        KubeClient {
            source,
            signer,
            connection: OnceCell::new(),
        }
    }

    async fn connection(&self) -> Result<&Connection, ActionError> {
        self.connection
            .get_or_try_init(|| async {
                let (endpoint, ca_pem) = match &self.source {
                    ClusterSource::Fixed { endpoint, ca_pem } => (endpoint.clone(), ca_pem.clone()),
                    ClusterSource::Describe { client, name } => describe(client, name).await?,
                };
                let mut builder = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .connect_timeout(Duration::from_secs(3));
                if let Some(pem) = ca_pem {
                    let ca =
                        reqwest::Certificate::from_pem(&pem).map_err(|e| ActionError::Config {
                            message: format!("cluster CA is not a PEM certificate: {e}"),
                        })?;
                    builder = builder.tls_certs_only([ca]);
                }
                let http = builder.build().map_err(|e| ActionError::Config {
                    message: format!("HTTP client: {e}"),
                })?;
                Ok(Connection {
                    http,
                    endpoint: endpoint.trim_end_matches('/').to_string(),
                })
            })
            .await
    }

    /// Send one request: `method path` with an optional body of `content_type`.
    pub async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Answer, ActionError> {
        let connection = self.connection().await?;
        let token = self.signer.token().await.map_err(|e| ActionError::Aws {
            what: "EKS token".into(),
            message: e.to_string(),
            retryable: true,
        })?;
        let mut request = connection
            .http
            .request(method.clone(), format!("{}{path}", connection.endpoint))
            .bearer_auth(token)
            .header(http::header::ACCEPT, "application/json");
        if let Some((content_type, bytes)) = body {
            request = request
                .header(http::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let what = format!("{method} {path}");
        let response = request.send().await.map_err(|e| ActionError::Transport {
            what: what.clone(),
            message: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| ActionError::Transport {
            what,
            message: e.to_string(),
        })?;
        Ok(Answer {
            status,
            body: body.to_vec(),
        })
    }
}

async fn describe(
    client: &aws_sdk_eks::Client,
    name: &str,
) -> Result<(String, Option<Vec<u8>>), ActionError> {
    let out = client
        .describe_cluster()
        .name(name)
        .send()
        .await
        .map_err(|e| ActionError::Aws {
            what: format!("DescribeCluster {name}"),
            message: aws_sdk_eks::error::DisplayErrorContext(&e).to_string(),
            retryable: true,
        })?;
    let cluster = out.cluster().ok_or_else(|| ActionError::Config {
        message: format!("DescribeCluster {name} returned no cluster"),
    })?;
    let endpoint = cluster.endpoint().unwrap_or_default().to_string();
    let ca = cluster
        .certificate_authority()
        .and_then(|c| c.data())
        .map(decode_ca)
        .transpose()?;
    Ok((endpoint, ca))
}

/// The cluster CA as DescribeCluster (and `EKS_CLUSTER_CA`) gives it: base64 of the PEM.
pub fn decode_ca(data: &str) -> Result<Vec<u8>, ActionError> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ActionError::Config {
            message: format!("cluster CA is not base64: {e}"),
        })
}
