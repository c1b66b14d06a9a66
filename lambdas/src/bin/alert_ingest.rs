//! The `alert_ingest` Lambda: wires [`lambdas::ingest::handle`] to the runtime.

use lambdas::env::{self, alert_ingest as vars};
use lambdas::ingest::publish::{Publisher, RetryPolicy};
use lambdas::ingest::token::{TokenProvider, TokenSource};
use lambdas::ingest::{Ingest, handle};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambdas::init_logging();
    let config = aws_config::load_from_env().await;
    let token = TokenSource::Secret {
        client: aws_sdk_secretsmanager::Client::new(&config),
        id: env::required(&vars::WEBHOOK_TOKEN_SECRET_ARN)?,
    };
    let ingest = Ingest {
        token: TokenProvider::new(token),
        publisher: Publisher::new(
            aws_sdk_eventbridge::Client::new(&config),
            env::required(&vars::EVENT_BUS_NAME)?,
            RetryPolicy::default(),
        ),
        account: env::optional(&vars::AWS_ACCOUNT_ID).unwrap_or_default(),
        region: config.region().map(|r| r.to_string()).unwrap_or_default(),
        max_body_bytes: usize::try_from(env::integer(&vars::MAX_BODY_BYTES)?)?,
    };
    let ingest = &ingest;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(handle(ingest, request).await)
    }))
    .await
}
