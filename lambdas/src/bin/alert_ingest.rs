//! The `alert_ingest` Lambda: wires [`lambdas::ingest::handle`] to the runtime.

use lambdas::env;
use lambdas::ingest::metrics::Sink;
use lambdas::ingest::publish::{Publisher, RetryPolicy};
use lambdas::ingest::token::{TokenProvider, TokenSource};
use lambdas::ingest::{Ingest, Settings, handle};

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
    let token = TokenSource::Secret {
        client: aws_sdk_secretsmanager::Client::new(&config),
        id: settings.token_secret_arn.clone(),
    };
    let ingest = Ingest {
        token: TokenProvider::new(token),
        // One retry layer: the publisher's policy (5 attempts, ~3.1 s of waiting). With the
        // SDK's own 3 attempts under each, an outage took ~9 s, past the function's 10 s
        // timeout before the 503 was answered (found by the loop harness, loop/).
        publisher: Publisher::new(
            aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(&config)
                    .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
                    .build(),
            ),
            settings.event_bus_name.clone(),
            RetryPolicy::default(),
        ),
        account: settings.account.clone(),
        region: config.region().map(|r| r.to_string()).unwrap_or_default(),
        max_body_bytes: settings.max_body_bytes,
        metrics: Sink::Stdout,
    };
    let ingest = &ingest;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(handle(ingest, request).await)
    }))
    .await
}
