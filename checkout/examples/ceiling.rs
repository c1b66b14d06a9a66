//! The benchmark's ceiling: a bare axum hello-world on `PORT` (default 8081), answering every
//! method and path with a fixed text, on the same runtime setup as the service.
//! `checkout/bench/run.sh` measures the service against it in the same run.

use axum::Router;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8081);
    let app = Router::new().fallback(|| async { "Hello, World!" });
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    axum::serve(listener, app).await
}
