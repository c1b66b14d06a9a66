//! `sre-loop`: the whole loop on one machine (see the crate's library docs and the README).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Runs Detect -> Alert -> Event -> Runbook -> Notify -> Audit from synth's output with the
/// real programs on loopback: checkout under load, Prometheus and two Alertmanager replicas
/// with the generated rules and configuration, alert_ingest and runbook_action (the real
/// binaries behind local Lambda Runtime API fronts), the dev pipeline stack deployed to the
/// moto server with `synth deploy`, and its state machine executed by moto's Step Functions.
/// Injects the faults of issue #15, asserts their outcome, and prints a timeline per incident
/// with MTTR. Every address and duration it changes in the generated files is printed.
#[derive(Debug, Parser)]
#[command(name = "sre-loop", version)]
struct Cli {
    /// The environment whose generated files run (out/<env>/).
    #[arg(long, default_value = "dev")]
    env: String,
    /// Every duration the loop's timing depends on (rule `for` and windows, evaluation and
    /// scrape intervals, Alertmanager waits, the runbook's stabilization wait, checkout's SSM
    /// refresh, runbook_action's rate limit) is divided by this factor (at least 1 s each).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=120))]
    time_scale: u32,
    /// The repository root (out/, .tools/ and target/ are found there).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Where the run's files and process logs go (emptied first).
    #[arg(long, default_value = "target/loop")]
    run_dir: PathBuf,
    /// Also write the report as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Use the binaries already in target/debug instead of running `cargo build` first.
    #[arg(long)]
    no_build: bool,
    /// Give up after this many seconds (every process is stopped).
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = sre_loop::Options {
        env: cli.env,
        time_scale: cli.time_scale,
        run_dir: if cli.run_dir.is_absolute() {
            cli.run_dir
        } else {
            cli.root.join(&cli.run_dir)
        },
        root: cli.root,
        build: !cli.no_build,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Ctrl-C or SIGTERM drops the run, and with it every process it started (kill on drop).
    let result = runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::time::timeout(std::time::Duration::from_secs(cli.timeout), sre_loop::run(&options)) => {
                r.unwrap_or_else(|_| Err(anyhow::anyhow!("gave up after {} s (--timeout): every process stopped", cli.timeout)))
            }
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted: every process stopped")),
            _ = term.recv() => Err(anyhow::anyhow!("terminated: every process stopped")),
        }
    });
    match result {
        Ok(report) => {
            print!("{}", report.render());
            if let Some(path) = &cli.report
                && let Err(e) = std::fs::write(path, report.json().to_string())
            {
                eprintln!("error: write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            if report.passed() {
                println!("loop: PASSED");
                ExitCode::SUCCESS
            } else {
                println!("loop: FAILED ({} check(s) failed)", report.failures());
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
