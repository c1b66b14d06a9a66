//! Processes the loop starts: each on loopback, its output in a log file of the run folder,
//! stopped by its PID (SIGTERM, then SIGKILL after five seconds). A process still running when
//! the harness ends is killed (`kill_on_drop`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

/// A started process.
#[derive(Debug)]
pub struct Proc {
    /// What it is (`checkout`, `alertmanager-0`, ...).
    pub name: String,
    /// Its PID.
    pub pid: u32,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    child: Child,
}

impl Proc {
    /// Starts `cmd`, its output appended to `<logs>/<name>.log`.
    pub fn spawn(name: &str, cmd: &mut Command, logs: &Path) -> Result<Proc> {
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("open {}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {name}"))?;
        let pid = child.id().context("a started process has a PID")?;
        println!("  started {name} (pid {pid}, log {})", log.display());
        Ok(Proc {
            name: name.to_owned(),
            pid,
            log,
            child,
        })
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGKILL by PID, and waits for the exit (a crash, for fault injection).
    pub async fn kill(&mut self) -> Result<()> {
        signal(self.pid, "KILL")?;
        self.child.wait().await?;
        println!("  killed {} (pid {}, SIGKILL)", self.name, self.pid);
        Ok(())
    }

    /// SIGTERM by PID; SIGKILL when it has not exited five seconds later.
    pub async fn stop(&mut self) -> Result<()> {
        if self.exited() {
            return Ok(());
        }
        signal(self.pid, "TERM")?;
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            signal(self.pid, "KILL")?;
            self.child.wait().await?;
        }
        Ok(())
    }

    /// The last `lines` lines of its log (for error messages).
    pub fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

fn signal(pid: u32, sig: &str) -> Result<()> {
    let status = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .context("run kill")?;
    // A process that already exited is not an error.
    let _ = status;
    Ok(())
}

/// A free loopback port (bound, then released for the process that will listen on it).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits until something accepts connections on `port`, or fails naming `what` and its log.
pub async fn wait_listening(proc: &mut Proc, port: u16, within: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if proc.exited() {
            bail!(
                "{} exited before listening on {port}:\n{}",
                proc.name,
                proc.tail(30)
            );
        }
        if started.elapsed() > within {
            bail!(
                "{} did not listen on {port} within {within:?}:\n{}",
                proc.name,
                proc.tail(30)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A program from the project's venv (`.ci/test.sh` installs it), else from `PATH`.
pub fn tool(root: &Path, name: &str, install: &str) -> Result<PathBuf> {
    let local = root.join(".tools/venv/bin").join(name);
    if local.exists() {
        return Ok(local);
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!("{name} not found: {install}")
}
