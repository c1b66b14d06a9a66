//! The `runbook_action` Lambda: wires [`lambdas::runbook::handle`] to the runtime.

use std::collections::BTreeSet;
use std::time::Duration;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use lambdas::env::{self, runbook_action as vars};
use lambdas::runbook::eks_token::TokenSigner;
use lambdas::runbook::kube::{ClusterSource, KubeClient, decode_ca};
use lambdas::runbook::{Guards, Runbook, handle};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambdas::init_logging();
    let config = aws_config::load_from_env().await;
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let cluster = env::required(&vars::EKS_CLUSTER_NAME)?;
    let source = match env::optional(&vars::EKS_CLUSTER_ENDPOINT) {
        Some(endpoint) => ClusterSource::Fixed {
            endpoint,
            ca_pem: env::optional(&vars::EKS_CLUSTER_CA)
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
            allowed_namespaces: env::list(&vars::ALLOWED_NAMESPACES)?
                .into_iter()
                .collect::<BTreeSet<_>>(),
            rate_limit: env::seconds(&vars::RATE_LIMIT_SECONDS)?,
            table: env::required(&vars::INCIDENTS_TABLE)?,
        },
        degraded_mode_parameter: env::required(&vars::DEGRADED_MODE_PARAMETER)?,
        drain_timeout: env::seconds(&vars::DRAIN_TIMEOUT_SECONDS)?,
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
