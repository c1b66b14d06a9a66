//! The `synth` command line, as a library function: [`main`] runs it on any composition of
//! the platform, so a team's own small binary writes its platform's files the same way
//! (`examples/payments/src/main.rs`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use platform_model::platform::{self, Artifact, Platform};
use platform_model::settings::{Architecture, Environment, Settings};
use serde::Serialize;

/// Synthesizes the SRE platform's files from the typed model in `platform-model`: CloudFormation
/// templates, Kubernetes YAML, Prometheus rule files with their promtool tests, the
/// Alertmanager configuration, Helm values, Grafana dashboards and the operator scripts, for
/// the platform's own parts and every service on it.
///
/// Output is deterministic: the same code and settings always write byte-identical files, so
/// `out/` is committed and every change to generated infrastructure is a reviewable diff.
#[derive(Debug, Parser)]
#[command(version, about, long_about, after_help = EXAMPLES)]
struct Cli {
    /// Environment to synthesize; `all` does dev, staging and prod.
    #[arg(long, value_enum, default_value_t = EnvArg::All)]
    env: EnvArg,

    /// Folder to write into; each environment gets `<DIR>/<env>/`.
    #[arg(long, value_name = "DIR", default_value = "out")]
    out: PathBuf,

    /// Write nothing; exit 1 and list every stale, missing or unexpected file when the folder
    /// differs from what the code produces (CI runs this).
    #[arg(long)]
    check: bool,

    /// Read `<env>.toml` settings from this folder instead of the settings embedded in
    /// platform-model (`platform-model/settings/`).
    #[arg(long, value_name = "DIR")]
    settings_dir: Option<PathBuf>,

    /// Refuse settings that still hold placeholder values (REPLACE_ME, example.com hosts,
    /// sample account ids and ARNs): use it for anything you deploy. Plain synth keeps working
    /// on the embedded example settings.
    #[arg(long)]
    strict: bool,

    /// Print only errors.
    #[arg(long, short)]
    quiet: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the JSON Schema of settings files (commit it as
    /// platform-model/settings/settings.schema.json).
    SettingsSchema,
    /// Show what a deploy would change, from CloudFormation change sets (created, read back,
    /// deleted); replacement as the change set says. Needs AWS credentials.
    Diff {
        /// The environment.
        #[arg(long, value_enum)]
        env: OneEnv,
        /// Only this stack.
        #[arg(long)]
        stack: Option<String>,
        /// Text, or JSON for a CI job.
        #[arg(long, value_enum, default_value_t = crate::deploy::OutputFormat::Text)]
        output: crate::deploy::OutputFormat,
        /// Exit 3 when something would change.
        #[arg(long)]
        exit_code: bool,
        /// Use the files of `<DIR>/<env>/` as written (checked against their manifest) instead
        /// of synthesizing and checking `--out`.
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Deploy the environment's stacks in dependency order: upload the Lambda zips and large
    /// templates, show each change set, execute it once confirmed, with progress. Needs AWS
    /// credentials for the settings' account.
    Deploy {
        /// The environment.
        #[arg(long, value_enum)]
        env: OneEnv,
        /// Only this stack.
        #[arg(long)]
        stack: Option<String>,
        /// Execute without asking (required when stdin is not a terminal).
        #[arg(long, short)]
        yes: bool,
        /// Create the change sets and stop; execute one later with --execute-change-set.
        #[arg(long, conflicts_with = "execute_change_set")]
        no_execute: bool,
        /// Execute exactly this change set (with --stack), after checking it was made from the
        /// template synth writes now.
        #[arg(long, value_name = "NAME", requires = "stack")]
        execute_change_set: Option<String>,
        /// Delete a stack left in ROLLBACK_COMPLETE, then create it again.
        #[arg(long)]
        replace_failed: bool,
        /// Check each existing stack for drift before executing (slow).
        #[arg(long)]
        detect_drift: bool,
        /// Where `lambdas/build.sh` wrote the zips.
        #[arg(long, value_name = "DIR", default_value = "target/lambda")]
        lambda_dir: PathBuf,
        /// Use the files of `<DIR>/<env>/` as written (checked against their manifest) instead
        /// of synthesizing and checking `--out`.
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Recovery commands against an environment's deployed pipeline stack (AWS credentials,
    /// in the settings' region): incidents, one incident's timeline, redrive of the
    /// dead-letter queue, replay of the event archive.
    Ops {
        /// The environment (its settings give the region).
        #[arg(long, value_enum)]
        env: OneEnv,
        #[command(subcommand)]
        op: Op,
    },
}

/// A recovery command.
#[derive(Debug, Subcommand)]
enum Op {
    /// List the open incidents (not resolved), oldest first.
    Incidents {
        /// Every incident, resolved ones too.
        #[arg(long)]
        all: bool,
        /// Text, or JSON.
        #[arg(long, value_enum, default_value_t = crate::deploy::OutputFormat::Text)]
        output: crate::deploy::OutputFormat,
    },
    /// One incident's record and its events in the audit log, in time order.
    Timeline {
        /// The incident id (`inc-...`).
        incident: String,
    },
    /// List the dead-letter queue's events; with --yes put them back on the bus (each deleted
    /// from the queue once the bus accepted it).
    Redrive {
        /// Send them (without it, only list).
        #[arg(long, short)]
        yes: bool,
        /// At most this many messages.
        #[arg(long, default_value_t = 100)]
        max: usize,
    },
    /// Replay the archive's events of a time window onto the bus (StartReplay).
    Replay {
        /// Start of the window (RFC 3339, e.g. 2026-11-27T10:00:00Z).
        #[arg(long)]
        from: String,
        /// End of the window (RFC 3339).
        #[arg(long)]
        to: String,
        /// Start it (without it, only say what would be replayed).
        #[arg(long, short)]
        yes: bool,
    },
}

/// One environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OneEnv {
    Dev,
    Staging,
    Prod,
}

impl OneEnv {
    fn env(self) -> Environment {
        match self {
            OneEnv::Dev => Environment::Dev,
            OneEnv::Staging => Environment::Staging,
            OneEnv::Prod => Environment::Prod,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EnvArg {
    Dev,
    Staging,
    Prod,
    All,
}

const EXAMPLES: &str = "\
Examples:
  synth --env prod              write out/prod/
  synth                         write every environment
  synth --check                 fail if out/ is stale (what CI runs)
  synth --env prod --strict --settings-dir ../our-settings
                                refuse placeholder values before a deploy
  synth --env dev --out /tmp/o  write /tmp/o/dev/
  synth settings-schema > platform-model/settings/settings.schema.json

  synth diff --env prod          what a deploy would change (change sets; needs credentials)
  synth deploy --env prod        deploy out/prod/ stack by stack, asking before each change
  synth deploy --env dev --yes   no questions (CI)
  synth deploy --env prod --no-execute, then
  synth deploy --env prod --stack sre-pipeline --execute-change-set NAME

Exit codes: 0 success, 1 out/ is stale (--check), 2 bad settings, a model or AWS error,
3 diff --exit-code found changes, 4 a deploy failed or was interrupted.";

const MANIFEST: &str = "manifest.json";

#[derive(Serialize)]
struct Manifest<'a> {
    environment: &'a str,
    generator: &'static str,
    /// The account and region the stacks deploy to (`synth deploy` refuses other credentials).
    account_id: &'a str,
    region: &'a str,
    /// Where `synth deploy` uploads the Lambda zips and large templates.
    assets_bucket: &'a str,
    /// Production: stacks get termination protection.
    prod: bool,
    /// The stacks in deploy order, with their dependencies and parameters.
    stacks: &'a [platform::StackStep],
    files: Vec<ManifestFile<'a>>,
    /// The Lambda zips the pipeline template expects in its assets bucket.
    assets: Vec<ManifestAsset<'a>>,
}

/// One function's code: where `lambdas/build.sh` writes it and the key to upload it under.
#[derive(Serialize)]
struct ManifestAsset<'a> {
    function: &'a str,
    /// The function's `Architectures` (Lambda's name): what `lambdas/build.sh` builds.
    architecture: &'static str,
    /// The Rust target of that architecture.
    rust_target: &'static str,
    zip: String,
    s3_key: String,
}

#[derive(Serialize)]
struct ManifestFile<'a> {
    path: &'a str,
    kind: platform::ArtifactKind,
    items: usize,
    bytes: usize,
    sha256: String,
}

/// Every file of one environment's folder (artifacts and the manifest), by relative path.
fn expected_files(
    platform: &Platform,
    artifacts: &[Artifact],
    assets: &platform::Assets,
) -> Result<BTreeMap<String, String>> {
    let settings = platform.settings();
    let env = settings.environment;
    let architecture: Architecture = settings.pipeline.lambda_architecture;
    let region = settings.region.to_string();
    let stacks = platform.deploy_order();
    let manifest = Manifest {
        environment: env.name(),
        generator: concat!("synth ", env!("CARGO_PKG_VERSION")),
        account_id: settings.account_id.as_str(),
        region: &region,
        assets_bucket: settings.bootstrap.assets_bucket.as_str(),
        prod: env == Environment::Prod,
        stacks: &stacks,
        files: artifacts
            .iter()
            .map(|a| ManifestFile {
                path: &a.path,
                kind: a.kind,
                items: a.items,
                bytes: a.contents.len(),
                sha256: crate::sha256_hex(a.contents.as_bytes()),
            })
            .collect(),
        assets: assets
            .all()
            .into_iter()
            .map(|a| ManifestAsset {
                function: &a.name,
                architecture: architecture.name(),
                rust_target: architecture.rust_target(),
                zip: format!(
                    "target/lambda/{}/{}/bootstrap.zip",
                    architecture.name(),
                    a.name
                ),
                s3_key: a.key(architecture),
            })
            .collect(),
    };
    let mut manifest_json = serde_json::to_string_pretty(&manifest)?;
    manifest_json.push('\n');
    let mut files: BTreeMap<String, String> = artifacts
        .iter()
        .map(|a| (a.path.clone(), a.contents.clone()))
        .collect();
    files.insert(MANIFEST.to_owned(), manifest_json);
    Ok(files)
}

fn load_settings(env: Environment, dir: Option<&Path>) -> Result<Settings> {
    match dir {
        None => Ok(Settings::embedded(env)?),
        Some(dir) => {
            let path = dir.join(format!("{}.toml", env.name()));
            let text = fs::read_to_string(&path)
                .with_context(|| format!("reading settings file {}", path.display()))?;
            let label = path.display().to_string();
            let s = Settings::from_toml(&label, &text)?;
            s.expect_environment(&label, env)?;
            Ok(s)
        }
    }
}

/// Files below `dir`, relative, with `/` separators.
fn existing_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {}", d.display())),
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Compares a folder with the expected files; returns one line per difference.
fn check_env(dir: &Path, files: &BTreeMap<String, String>) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for (rel, contents) in files {
        let path = dir.join(rel);
        match fs::read_to_string(&path) {
            Ok(on_disk) if &on_disk == contents => {}
            Ok(_) => problems.push(format!("stale:      {}", path.display())),
            Err(_) => problems.push(format!("missing:    {}", path.display())),
        }
    }
    for rel in existing_files(dir)? {
        if !files.contains_key(&rel) {
            problems.push(format!("unexpected: {}", dir.join(rel).display()));
        }
    }
    Ok(problems)
}

/// Writes the expected files, and removes files the previous run wrote that are no longer
/// produced (only those its manifest lists: synth never deletes a file it did not write).
/// Returns what it did, one line per file, for the caller to print.
fn write_env(dir: &Path, files: &BTreeMap<String, String>) -> Result<Vec<String>> {
    let mut log = Vec::new();
    let old_manifest = dir.join(MANIFEST);
    if let Ok(text) = fs::read_to_string(&old_manifest) {
        let old: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        for f in old["files"].as_array().into_iter().flatten() {
            if let Some(rel) = f["path"].as_str()
                && !files.contains_key(rel)
                && !rel.contains("..")
            {
                let path = dir.join(rel);
                if path.exists() {
                    fs::remove_file(&path)
                        .with_context(|| format!("removing {}", path.display()))?;
                    log.push(format!("  removed {}", path.display()));
                }
            }
        }
    }
    for (rel, contents) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let unchanged = fs::read_to_string(&path).is_ok_and(|old| &old == contents);
        if !unchanged {
            fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
        }
        let state = if unchanged { "unchanged" } else { "wrote" };
        log.push(format!(
            "  {state:9} {} ({} bytes)",
            path.display(),
            contents.len()
        ));
    }
    Ok(log)
}

enum Outcome {
    Clean,
    Stale,
    /// `diff --exit-code` found changes.
    Changes,
    /// A deploy failed or was interrupted.
    DeployFailed,
}

/// Builds one environment's platform from its settings: the platform's own parts and the
/// services on it ([`Platform::standard`] for this repository's).
pub type Compose = fn(Settings) -> Result<Platform, platform_model::Error>;

/// The folder a diff or deploy reads: `<from>/<env>/` as written, or `--out`'s after checking
/// that it is what the code produces now (what was reviewed is what is deployed).
fn deploy_dir(
    cli: &Cli,
    compose: Compose,
    env: Environment,
    from: Option<&Path>,
) -> Result<PathBuf> {
    if let Some(dir) = from {
        return Ok(dir.join(env.name()));
    }
    let settings = load_settings(env, cli.settings_dir.as_deref())?;
    let found = settings.placeholders();
    if !found.is_empty() {
        anyhow::bail!(
            "settings of {env} hold placeholder values; a deploy needs real ones (see synth --strict):\n  {}",
            found.join("\n  ")
        );
    }
    let assets = crate::assets::compute(&crate::assets::workspace_root())?;
    let platform = compose(settings).with_context(|| format!("composing environment {env}"))?;
    let artifacts = platform
        .synthesize(&assets)
        .with_context(|| format!("synthesizing environment {env}"))?;
    let files = expected_files(&platform, &artifacts, &assets)?;
    let dir = cli.out.join(env.name());
    let problems = check_env(&dir, &files)?;
    if !problems.is_empty() {
        anyhow::bail!(
            "{} is not what the code produces; run synth, review and commit, then deploy:\n  {}",
            dir.display(),
            problems.join("\n  ")
        );
    }
    Ok(dir)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn run(cli: &Cli, compose: Compose, package: Option<&str>) -> Result<Outcome> {
    match &cli.command {
        Some(Command::SettingsSchema) => {
            print!("{}", Settings::json_schema());
            return Ok(Outcome::Clean);
        }
        Some(Command::Ops { env, op }) => {
            let settings = load_settings(env.env(), cli.settings_dir.as_deref())?;
            let region = settings.region.to_string();
            runtime()?.block_on(async {
                let c = crate::ops::Clients::load(&region).await?;
                match op {
                    Op::Incidents { all, output } => crate::ops::incidents(
                        &c,
                        *all,
                        *output == crate::deploy::OutputFormat::Json,
                    )
                    .await
                    .map(|_| ()),
                    Op::Timeline { incident } => {
                        crate::ops::timeline(&c, incident).await.map(|_| ())
                    }
                    Op::Redrive { yes, max } => {
                        crate::ops::redrive(&c, *yes, *max).await.map(|_| ())
                    }
                    Op::Replay { from, to, yes } => {
                        crate::ops::replay(&c, from, to, *yes).await.map(|_| ())
                    }
                }
            })?;
            return Ok(Outcome::Clean);
        }
        Some(Command::Diff {
            env,
            stack,
            output,
            exit_code,
            from,
        }) => {
            let dir = deploy_dir(cli, compose, env.env(), from.as_deref())?;
            let plan = crate::deploy::plan::Plan::read(&dir)?;
            let opts = crate::deploy::DiffOptions {
                stack: stack.clone(),
                output: *output,
            };
            let summary = runtime()?.block_on(crate::deploy::diff(&plan, &opts))?;
            return Ok(if *exit_code && !summary.is_empty() {
                Outcome::Changes
            } else {
                Outcome::Clean
            });
        }
        Some(Command::Deploy {
            env,
            stack,
            yes,
            no_execute,
            execute_change_set,
            replace_failed,
            detect_drift,
            lambda_dir,
            from,
        }) => {
            let dir = deploy_dir(cli, compose, env.env(), from.as_deref())?;
            let plan = crate::deploy::plan::Plan::read(&dir)?;
            let opts = crate::deploy::DeployOptions {
                stack: stack.clone(),
                yes: *yes,
                no_execute: *no_execute,
                execute_change_set: execute_change_set.clone(),
                replace_failed: *replace_failed,
                detect_drift: *detect_drift,
                lambda_dir: lambda_dir.clone(),
            };
            use crate::deploy::DeployOutcome;
            return match runtime()?.block_on(crate::deploy::deploy(&plan, &opts))? {
                DeployOutcome::Deployed => {
                    eprintln!("{}: deployed", plan.environment);
                    Ok(Outcome::Clean)
                }
                DeployOutcome::NotExecuted => Ok(Outcome::Clean),
                DeployOutcome::Failed(reason) => {
                    eprintln!("error: deploy failed: {reason}");
                    Ok(Outcome::DeployFailed)
                }
                DeployOutcome::Interrupted => Ok(Outcome::DeployFailed),
            };
        }
        None => {}
    }
    let envs: Vec<Environment> = match cli.env {
        EnvArg::Dev => vec![Environment::Dev],
        EnvArg::Staging => vec![Environment::Staging],
        EnvArg::Prod => vec![Environment::Prod],
        EnvArg::All => Environment::ALL.to_vec(),
    };
    let assets = crate::assets::compute(&crate::assets::workspace_root())?;
    // The environments are independent: one thread each (the machine's cores work side by
    // side); the messages are printed afterwards, in environment order.
    let results: Vec<Result<(Vec<String>, Vec<String>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = envs
            .iter()
            .map(|&env| {
                let assets = &assets;
                scope.spawn(move || synth_env(cli, compose, env, assets))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("synthesizing panicked")))
            })
            .collect()
    });
    let mut stale = Vec::new();
    for result in results {
        let (log, problems) = result?;
        if !cli.quiet {
            for line in log {
                eprintln!("{line}");
            }
        }
        stale.extend(problems);
    }
    // The delivery pipeline spans every environment: written with `--env all` only.
    if let (EnvArg::All, Some(package)) = (cli.env, package) {
        let all = envs
            .iter()
            .map(|&env| load_settings(env, cli.settings_dir.as_deref()))
            .collect::<Result<Vec<_>>>()?;
        let files: BTreeMap<String, String> = platform::delivery::files(&all, package)
            .context("generating the delivery pipeline")?
            .into_iter()
            .collect();
        let dir = cli.out.join("ci");
        if cli.check {
            stale.extend(check_env(&dir, &files)?);
        } else {
            let log = write_env(&dir, &files)?;
            if !cli.quiet {
                eprintln!("ci: the delivery pipeline into {}", dir.display());
                for line in log {
                    eprintln!("{line}");
                }
            }
        }
    }
    if stale.is_empty() {
        Ok(Outcome::Clean)
    } else {
        eprintln!("out/ differs from what the code produces:");
        for p in &stale {
            eprintln!("  {p}");
        }
        eprintln!("run `cargo run -p synth` to regenerate, then review and commit the diff");
        Ok(Outcome::Stale)
    }
}

/// Synthesizes one environment and writes (or, with `--check`, compares) its folder. Returns
/// the lines to print and the differences `--check` found.
fn synth_env(
    cli: &Cli,
    compose: Compose,
    env: Environment,
    assets: &platform::Assets,
) -> Result<(Vec<String>, Vec<String>)> {
    let settings = load_settings(env, cli.settings_dir.as_deref())?;
    if cli.strict {
        let found = settings.placeholders();
        if !found.is_empty() {
            anyhow::bail!(
                "settings of {env} hold placeholder values (--strict):\n  {}",
                found.join("\n  ")
            );
        }
    }
    let platform = compose(settings).with_context(|| format!("composing environment {env}"))?;
    let artifacts = platform
        .synthesize(assets)
        .with_context(|| format!("synthesizing environment {env}"))?;
    let files = expected_files(&platform, &artifacts, assets)?;
    let dir = cli.out.join(env.name());
    if cli.check {
        let problems = check_env(&dir, &files)?;
        let log = if problems.is_empty() {
            vec![format!(
                "{env}: {} files up to date in {}",
                files.len(),
                dir.display()
            )]
        } else {
            Vec::new()
        };
        Ok((log, problems))
    } else {
        let mut log = vec![format!("{env}: synthesizing into {}", dir.display())];
        log.extend(write_env(&dir, &files)?);
        Ok((log, Vec::new()))
    }
}

/// Parses the command line and runs synth on the platform `compose` builds for each
/// environment. Exit codes: 0 success, 1 stale (`--check`), 2 bad settings, a model or AWS
/// error, 3 `diff --exit-code` found changes, 4 a deploy failed or was interrupted.
///
/// ```no_run
/// // A team's binary: the standard platform plus its own service.
/// use platform_model::platform::Platform;
/// use platform_model::settings::Settings;
///
/// fn compose(settings: Settings) -> Result<Platform, platform_model::Error> {
///     Platform::standard(settings) // .service(payments(...)?).stack(...)
/// }
///
/// fn main() -> std::process::ExitCode {
///     synth::cli::main(compose)
/// }
/// ```
pub fn main(compose: Compose) -> ExitCode {
    main_with(compose, "out", Some("synth"))
}

/// [`main`], writing into `default_out` unless `--out` says otherwise (a team keeps its files
/// apart from the platform repository's `out/`).
pub fn main_in(compose: Compose, default_out: &'static str) -> ExitCode {
    main_with(compose, default_out, None)
}

/// [`main_in`], also writing the delivery pipeline (`<out>/ci/`: a Jenkinsfile and a GitHub
/// Actions workflow, [`platform::delivery`]) with `--env all`, its steps running
/// `cargo run -p <package>` (the cargo package of this binary).
pub fn main_with(
    compose: Compose,
    default_out: &'static str,
    package: Option<&'static str>,
) -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command()
        .mut_arg("out", |a| a.default_value(default_out))
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run(&cli, compose, package) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Stale) => ExitCode::from(1),
        Ok(Outcome::Changes) => ExitCode::from(3),
        Ok(Outcome::DeployFailed) => ExitCode::from(4),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn check_lists_stale_missing_and_unexpected_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = BTreeMap::new();
        files.insert("a.json".to_owned(), "A\n".to_owned());
        files.insert("b.json".to_owned(), "B\n".to_owned());
        fs::write(dir.path().join("a.json"), "old\n").unwrap();
        fs::write(dir.path().join("extra.json"), "x\n").unwrap();
        let problems = check_env(dir.path(), &files).unwrap();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("stale:") && problems[0].ends_with("a.json"));
        assert!(problems[1].starts_with("missing:") && problems[1].ends_with("b.json"));
        assert!(problems[2].starts_with("unexpected:") && problems[2].ends_with("extra.json"));
    }

    #[test]
    fn write_removes_only_files_the_previous_manifest_listed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(MANIFEST),
            r#"{"files":[{"path":"gone.json"}]}"#,
        )
        .unwrap();
        fs::write(dir.path().join("gone.json"), "x").unwrap();
        fs::write(dir.path().join("mine.txt"), "user file").unwrap();
        let mut files = BTreeMap::new();
        files.insert("kept.json".to_owned(), "K\n".to_owned());
        let log = write_env(dir.path(), &files).unwrap();
        assert!(!dir.path().join("gone.json").exists());
        assert!(
            log.iter()
                .any(|l| l.contains("removed") && l.contains("gone.json")),
            "{log:?}"
        );
        assert!(
            log.iter()
                .any(|l| l.contains("wrote") && l.contains("kept.json")),
            "{log:?}"
        );
        assert!(dir.path().join("mine.txt").exists());
        assert_eq!(
            fs::read_to_string(dir.path().join("kept.json")).unwrap(),
            "K\n"
        );
    }
}
