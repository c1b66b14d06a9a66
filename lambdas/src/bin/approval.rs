//! The `approval` Lambda: wires [`lambdas::approval::handle`] to the runtime.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use lambdas::approval::{Approvals, ERROR_REQUEST_FAILED, KeySource, Settings, handle, system_now};
use lambdas::env;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let settings = Settings::read(&env::process());
    lambdas::init_logging(settings.as_ref().map_or("info", |s| s.log_filter.as_str()));
    let settings = settings.inspect_err(|e| tracing::error!(error = %e, "configuration"))?;
    let config = aws_config::from_env().load().await;
    let app = Approvals {
        settings,
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        sns: aws_sdk_sns::Client::new(&config),
        events: aws_sdk_eventbridge::Client::new(&config),
        sfn: aws_sdk_sfn::Client::new(&config),
        key: KeySource::Secret(aws_sdk_secretsmanager::Client::new(&config)),
        cached_key: tokio::sync::OnceCell::new(),
        now: system_now,
    };
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            handle(app, event.payload).await.map_err(|e| {
                tracing::error!(error = %e, "approval request failed");
                Diagnostic {
                    error_type: ERROR_REQUEST_FAILED.to_owned(),
                    error_message: e.to_string(),
                }
            })
        },
    ))
    .await
}
