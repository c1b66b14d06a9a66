//! Serving with graceful shutdown: readiness off, a drain delay, in-flight requests finish
//! within a bound; and the chaos control endpoint, on loopback only, until told to stop.

use std::{future::Future, time::Duration};

use tokio::net::TcpListener;

use crate::{AppState, Error, app, control_app};

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every in-flight request finished.
    Drained,
    /// The bound was hit with requests still in flight.
    TimedOut,
}

/// Shutdown timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shutdown {
    /// Keep serving (readiness false) this long after the signal, so load balancers stop
    /// sending before the listener closes.
    pub delay: Duration,
    /// Then wait at most this long for in-flight requests.
    pub timeout: Duration,
}

/// Serves `app(state)` on `listener` until `signal` resolves, then shuts down gracefully.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: Shutdown,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<Outcome, Error> {
    let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
    let flag = state.clone();
    let graceful = async move {
        signal.await;
        flag.set_not_ready();
        tracing::info!(
            delay_ms = shutdown.delay.as_millis() as u64,
            "shutdown signal: readiness false, still serving during the delay"
        );
        tokio::time::sleep(shutdown.delay).await;
        tracing::info!(
            timeout_ms = shutdown.timeout.as_millis() as u64,
            "listener closed, waiting for in-flight requests"
        );
        let _ = draining_tx.send(());
    };
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(graceful);
    let deadline = async move {
        if draining_rx.await.is_ok() {
            tokio::time::sleep(shutdown.timeout).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => {
            result.map_err(|source| Error::Serve { source })?;
            tracing::info!("all in-flight requests finished");
            Ok(Outcome::Drained)
        }
        () = deadline => {
            tracing::warn!("shutdown bound reached with requests in flight");
            Ok(Outcome::TimedOut)
        }
    }
}

/// Serves the chaos control endpoint ([`control_app`]: `GET`/`PUT /chaos`) on `listener` until
/// `stop` resolves, sharing `state` with the main server so a change reaches its next request.
/// The binary stops it once [`serve`] has returned, so it ends with the main server.
///
/// Refuses (before serving anything) a listener that is not on a loopback address: the endpoint
/// changes the service's behaviour and has no authentication.
pub async fn serve_control(
    listener: TcpListener,
    state: AppState,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Serve { source })?;
    if !addr.ip().is_loopback() {
        return Err(Error::ControlNotLoopback { addr });
    }
    axum::serve(listener, control_app(state))
        .with_graceful_shutdown(stop)
        .await
        .map_err(|source| Error::Serve { source })?;
    tracing::info!(%addr, "chaos control endpoint stopped");
    Ok(())
}
