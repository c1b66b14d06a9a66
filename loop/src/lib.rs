//! The whole loop on one machine: Detect -> Alert -> Event -> Runbook -> Notify -> Audit, run
//! from the files synth writes, with the real programs, faults injected and MTTR measured.
//!
//! What runs, and from what (nothing is hand-configured where a generated file exists; the
//! harness changes addresses and durations only, and prints each change):
//! - the AWS side: the environment's bootstrap and pipeline stacks on the moto server, the
//!   pipeline deployed by `synth deploy` (the project's deploy path);
//! - checkout, with the environment of the generated Deployment;
//! - Prometheus 2.42 with the generated rule files and a scrape job equivalent to the
//!   generated ServiceMonitor; two Alertmanager 0.25 replicas with the generated configuration;
//! - alert_ingest and runbook_action, the real binaries, behind local Lambda Runtime APIs
//!   ([`fronts`]), configured with the environment CloudFormation gave the deployed functions;
//! - the runbook: the generated definition executed by moto's Step Functions.
//!
//! The hops nothing here can run are done by the harness and named in its output:
//! API Gateway -> Lambda, EventBridge -> Step Functions and EventBridge -> SNS (moto answers
//! 500 for those targets: the rules' targets become SQS queues the harness pumps),
//! Step Functions -> Lambda (moto needs Docker: the harness answers `Invoke` on the address
//! moto's Step Functions calls), and the Kubernetes API (a recording stand-in).

pub mod fronts;
pub mod procs;
pub mod report;
pub mod scale;
mod scenario;
mod world;

pub use report::Report;

use std::path::PathBuf;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The environment (`out/<env>/`).
    pub env: String,
    /// The factor durations are divided by.
    pub time_scale: u32,
    /// The repository root.
    pub root: PathBuf,
    /// The run's folder (emptied first).
    pub run_dir: PathBuf,
    /// Run `cargo build` for the binaries first.
    pub build: bool,
}

/// Sets the loop up, runs its scenarios and faults, stops every process, and reports.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let mut world = world::World::start(options).await?;
    let outcome = scenario::run(&mut world).await;
    world.stop().await;
    let report = outcome?;
    Ok(report)
}
