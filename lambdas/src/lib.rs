//! The platform's Lambda handlers.
//!
//! | module | function | does |
//! |---|---|---|
//! | [`ingest`] | `alert_ingest` | Alertmanager / Datadog webhooks -> `incident.created` / `incident.resolved` on the bus |
//! | [`runbook`] | `runbook_action` | an [`ActionRequest`](platform_contract::runbook::ActionRequest) from the state machine -> a change in the EKS cluster |
//! | [`approval`] | `approval` | the runbook's approval request -> links to people; a link -> `SendTaskSuccess` / `SendTaskFailure` |
//! | [`mod@env`] | all | configuration from environment variables |
//!
//! Handlers are plain async functions taking the event and their dependencies; the binaries in
//! `src/bin/` only wire them to the Lambda runtime. The wire types are the shared contract in
//! [`platform_contract`].

/// mimalloc: the allocator of every binary linking this crate (both functions, the benches):
/// fewer cycles per small allocation than glibc's, and alert_ingest allocates a string per
/// label.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod approval;
pub mod env;
pub mod ingest;
pub mod runbook;

/// JSON logs (CloudWatch Logs Insights reads the fields), with `filter` (the function's
/// `RUST_LOG`, read through the runtime contract; `info` when it does not parse).
pub fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .init();
}
