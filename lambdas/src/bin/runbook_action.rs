//! The `runbook_action` Lambda: wires [`lambdas::runbook::handle`] to the runtime.

use std::collections::BTreeSet;
use std::time::Duration;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use lambdas::env;
use lambdas::runbook::eks_token::TokenSigner;
use lambdas::runbook::kube::{ClusterSource, KubeClient, decode_ca};
use lambdas::runbook::{Guards, Runbook, handle};
use platform_model::contract::DEGRADED_MODE_PARAMETER;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambdas::init_logging();
    let config = aws_config::load_from_env().await;
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let cluster = env::required(env::EKS_CLUSTER_NAME)?;
    let source = match env::optional(env::EKS_CLUSTER_ENDPOINT) {
        Some(endpoint) => ClusterSource::Fixed {
            endpoint,
            ca_pem: env::optional(env::EKS_CLUSTER_CA)
                .map(|ca| decode_ca(&ca))
                .transpose()?,
        },
        None => ClusterSource::Describe {
            client: aws_sdk_eks::Client::new(&config),
            name: cluster.clone(),
        },
    };
    let credentials = config
        .credentials_provider()
        .ok_or("no AWS credentials provider")?;
    let runbook = Runbook {
        kube: KubeClient::new(source, TokenSigner::new(credentials, region, cluster)),
        ssm: aws_sdk_ssm::Client::new(&config),
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        guards: Guards {
            allowed_namespaces: env::optional(env::ALLOWED_NAMESPACES)
                .unwrap_or_else(|| "apps".into())
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<BTreeSet<_>>(),
            rate_limit: env::seconds(env::RATE_LIMIT_SECONDS, 600)?,
            table: env::required(env::INCIDENTS_TABLE)?,
        },
        degraded_mode_parameter: env::optional(env::DEGRADED_MODE_PARAMETER)
            .unwrap_or_else(|| DEGRADED_MODE_PARAMETER.to_string()),
        drain_timeout: env::seconds(env::DRAIN_TIMEOUT_SECONDS, 120)?,
        drain_interval: Duration::from_secs(5),
    };
    let runbook = &runbook;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            handle(runbook, event.payload)
                .await
                .map_err(Diagnostic::from)
        },
    ))
    .await
}
