//! The `alert_ingest` Lambda: wires [`lambdas::ingest::handle`] to the runtime.

use lambdas::env;
use lambdas::ingest::publish::{Publisher, RetryPolicy};
use lambdas::ingest::token::{TokenProvider, TokenSource};
use lambdas::ingest::{DEFAULT_MAX_BODY_BYTES, Ingest, handle};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambdas::init_logging();
    let config = aws_config::load_from_env().await;
    let token = match (
        env::optional(env::WEBHOOK_TOKEN_SECRET_ARN),
        env::optional(env::WEBHOOK_TOKEN_PARAMETER),
    ) {
        (Some(id), _) => TokenSource::Secret {
            client: aws_sdk_secretsmanager::Client::new(&config),
            id,
        },
        (None, Some(name)) => TokenSource::Parameter {
            client: aws_sdk_ssm::Client::new(&config),
            name,
        },
        (None, None) => {
            return Err(format!(
                "set {} or {}",
                env::WEBHOOK_TOKEN_SECRET_ARN,
                env::WEBHOOK_TOKEN_PARAMETER
            )
            .into());
        }
    };
    let ingest = Ingest {
        token: TokenProvider::new(token),
        publisher: Publisher::new(
            aws_sdk_eventbridge::Client::new(&config),
            env::required(env::EVENT_BUS_NAME)?,
            RetryPolicy::default(),
        ),
        account: env::optional(env::AWS_ACCOUNT_ID).unwrap_or_default(),
        region: config.region().map(|r| r.to_string()).unwrap_or_default(),
        max_body_bytes: env::number(env::MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES)?,
    };
    let ingest = &ingest;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(handle(ingest, request).await)
    }))
    .await
}
