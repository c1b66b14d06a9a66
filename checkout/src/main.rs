//! `checkout`: reads the environment, resolves degraded mode, serves until SIGTERM.
//!
//! Exit codes: 0 after a clean shutdown, 1 when the shutdown bound was hit or serving failed,
//! 2 for a bad setting.

use std::process::ExitCode;

use anyhow::Context;
use checkout::{
    AppState, Config, degraded,
    server::{self, Outcome, Shutdown},
};
use tokio::signal::unix::{SignalKind, signal};

fn init_logging(level: tracing::Level) {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_max_level(level)
        .with_writer(std::io::stdout)
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            init_logging(tracing::Level::INFO);
            tracing::error!(error = %error, "bad setting");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_level);
    match run(config).await {
        Ok(Outcome::Drained) => ExitCode::SUCCESS,
        Ok(Outcome::TimedOut) => ExitCode::from(1),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "checkout failed");
            ExitCode::from(1)
        }
    }
}

async fn run(config: Config) -> anyhow::Result<Outcome> {
    let (degraded, source) = degraded::resolve(&config).await;
    let chaos = config.chaos(degraded);
    let state = match config.chaos_seed {
        Some(seed) => AppState::with_seed(chaos, seed),
        None => AppState::new(chaos),
    };
    let addr = std::net::SocketAddr::from(([0, 0, 0, 0], config.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tracing::info!(
        %addr,
        latency_ms = chaos.latency.as_millis() as u64,
        error_rate = chaos.error_rate,
        degraded_mode = chaos.degraded,
        degraded_source = source.as_str(),
        "checkout listening"
    );
    let shutdown = Shutdown {
        delay: config.shutdown_delay,
        timeout: config.shutdown_timeout,
    };
    let signal = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "shutting down"),
        }
    };
    Ok(server::serve(listener, state, shutdown, signal).await?)
}
