//! `checkout`: reads the environment, resolves degraded mode, serves until SIGTERM while
//! following the SSM degraded-mode flag; with `CHAOS_CONTROL_PORT` (local runs only) it also
//! serves the chaos control endpoint on loopback, stopped with the main server.
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
    let resolved = degraded::resolve(&config).await;
    let chaos = config.chaos(resolved.degraded);
    let state = match config.chaos_seed {
        Some(seed) => AppState::with_seed(chaos, seed),
        None => AppState::new(chaos),
    };
    let addr = std::net::SocketAddr::from(([0, 0, 0, 0], config.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    // Loopback only, never all interfaces: the endpoint changes the service's behaviour.
    let control = match config.chaos_control_port {
        Some(port) => {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the chaos control endpoint {addr}"))?;
            Some(listener)
        }
        None => None,
    };
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tracing::info!(
        %addr,
        latency_ms = chaos.latency.as_millis() as u64,
        error_rate = chaos.error_rate,
        core_error_rate = chaos.core_error_rate,
        degraded_mode = chaos.degraded,
        degraded_source = resolved.source.as_str(),
        degraded_refresh_seconds = resolved
            .follow
            .as_ref()
            .map(|_| config.degraded_refresh.as_secs()),
        "checkout listening"
    );
    // The control endpoint runs while serving; dropping `stop_control` ends it.
    let (stop_control, control_stopped) = tokio::sync::oneshot::channel::<()>();
    let control = control.map(|listener| {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "chaos control listening (loopback only): GET/PUT /chaos");
        }
        let state = state.clone();
        tokio::spawn(async move {
            let stop = async {
                let _ = control_stopped.await;
            };
            if let Err(error) = server::serve_control(listener, state, stop).await {
                tracing::error!(
                    error = format!("{error:#}"),
                    "chaos control endpoint failed"
                );
            }
        })
    });
    // The SSM refresh runs while serving; dropping `stop_refresh` ends it.
    let (stop_refresh, refresh_stopped) = tokio::sync::oneshot::channel::<()>();
    let refresh = resolved.follow.map(|flag| {
        let state = state.clone();
        let every = config.degraded_refresh;
        tokio::spawn(async move {
            let stop = async {
                let _ = refresh_stopped.await;
            };
            degraded::follow(&state, &flag, every, stop).await;
        })
    });
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
    let outcome = server::serve(listener, state, shutdown, signal).await;
    drop(stop_refresh);
    drop(stop_control);
    if let Some(task) = control {
        // Its requests are instant and idle connections close at once; the bound only guards
        // against a client holding a request open.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), task).await;
    }
    if let Some(task) = refresh {
        // Ends at once: the loop drops a read in progress when told to stop.
        let _ = task.await;
    }
    Ok(outcome?)
}
