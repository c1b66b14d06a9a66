//! The `runbook_action` Lambda: wires [`lambdas::runbook::handle`] to the runtime.

use std::time::Duration;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use lambdas::env;
use lambdas::runbook::eks_token::TokenSigner;
use lambdas::runbook::kube::{ClusterSource, KubeClient, decode_ca};
use lambdas::runbook::{Runbook, Settings, handle};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let settings = Settings::read(&env::process());
    lambdas::init_logging(settings.as_ref().map_or("info", |s| s.log_filter.as_str()));
    let settings = settings.inspect_err(|e| tracing::error!(error = %e, "configuration"))?;
    let mut loader = aws_config::from_env();
    if let Some(region) = &settings.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    let config = loader.load().await;
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let source = match &settings.cluster_endpoint {
        Some(endpoint) => ClusterSource::Fixed {
            endpoint: endpoint.clone(),
            ca_pem: settings.cluster_ca.as_deref().map(decode_ca).transpose()?,
        },
        None => ClusterSource::Describe {
            client: aws_sdk_eks::Client::new(&config),
            name: settings.cluster_name.clone(),
        },
    };
    let credentials = config
        .credentials_provider()
        .ok_or("no AWS credentials provider")?;
    let runbook = Runbook {
        kube: KubeClient::new(
            source,
            TokenSigner::new(credentials, region, settings.cluster_name.clone()),
        ),
        ssm: aws_sdk_ssm::Client::new(&config),
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        guards: settings.guards.clone(),
        drain_timeout: settings.drain_timeout,
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
