//! The real binary: promtool on its metrics, SIGTERM under load, SSM fallback, bad settings,
//! the chaos control endpoint on loopback, and degraded mode following an SSM parameter in a
//! moto server without a restart.

use std::{
    future::Future,
    io::{BufRead, Read, Write},
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
};

use crate::exposition::Exposition;

const ORDER: &str = r#"{"currency":"USD","items":[{"sku":"SKU-1002","quantity":1}]}"#;
const PROMTOOL_INSTALL: &str = "apt-get install -y --no-install-recommends prometheus";
const MOTO_INSTALL: &str = "python3 -m venv .tools/venv && .tools/venv/bin/pip install -r .ci/requirements.txt (or run .ci/test.sh)";

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Service {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Service {
    /// Starts the binary with a clean AWS environment plus `env`; waits for `/healthz` when
    /// `wait` is set.
    async fn start(env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_checkout"));
        for var in [
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "DEGRADED_MODE",
            "DEGRADED_MODE_SSM_PARAMETER",
            "DEGRADED_MODE_REFRESH_SECONDS",
            "LATENCY_MS",
            "ERROR_RATE",
            "CORE_ERROR_RATE",
            "CHAOS_CONTROL_PORT",
            "CHAOS_SEED",
        ] {
            command.env_remove(var);
        }
        command
            .env("PORT", port.to_string())
            .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/aws-credentials",
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn checkout");
        let log = Arc::new(Mutex::new(String::new()));
        for reader in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(reader).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        Self { child, port, log }
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok((200, _)) = http(self.port, "GET", "/healthz", "").await {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("checkout exited with {status}:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("checkout did not become healthy:\n{}", self.log());
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The log's JSON lines.
    fn log_lines(&self) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Polls `check` every 100 ms until it holds; fails after `bound`.
    async fn wait_until<F, Fut>(&self, what: &str, bound: Duration, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what}: not within {bound:?}\n{}", self.log());
    }

    /// The gauge, and a `POST /checkout` answer: `(gauge, degraded, recommendations)`.
    async fn degraded_now(&self) -> (f64, bool, usize) {
        let m = Exposition::parse(&self.metrics().await);
        let gauge = m.value("checkout_degraded_mode_enabled", &[]).unwrap();
        let (status, body) = http(self.port, "POST", "/checkout", ORDER).await.unwrap();
        assert_eq!(status, 200, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        let degraded = body["degraded"].as_bool().unwrap();
        (
            gauge,
            degraded,
            body["recommendations"].as_array().unwrap().len(),
        )
    }

    fn sigterm(&self) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    async fn metrics(&self) -> String {
        let (status, body) = http(self.port, "GET", "/metrics", "").await.unwrap();
        assert_eq!(status, 200);
        body
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`): status and body.
async fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no response head: {text:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
    Ok((status, body.to_owned()))
}

/// `promtool` from Debian's `prometheus` package; a missing tool fails the test.
fn promtool() -> std::path::PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("promtool"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("promtool not found on PATH; install it: {PROMTOOL_INSTALL}"))
}

#[tokio::test]
async fn promtool_accepts_the_scraped_metrics() {
    let promtool = promtool();
    let mut service = Service::start(&[("DEGRADED_MODE_SSM_PARAMETER", "")]).await;
    service.wait_healthy().await;
    assert_eq!(
        http(service.port, "POST", "/checkout", ORDER)
            .await
            .unwrap()
            .0,
        200
    );
    assert_eq!(
        http(service.port, "POST", "/checkout", "{}")
            .await
            .unwrap()
            .0,
        400
    );
    assert_eq!(http(service.port, "GET", "/nope", "").await.unwrap().0, 404);
    let text = service.metrics().await;

    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .await
        .unwrap();
    let out = check.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let m = Exposition::parse(&text);
    assert_eq!(
        m.value(
            "checkout_requests_total",
            &[
                ("method", "POST"),
                ("route", "/checkout"),
                ("status", "200")
            ]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn sigterm_under_load_loses_no_in_flight_request() {
    let mut service = Service::start(&[
        ("DEGRADED_MODE_SSM_PARAMETER", ""),
        ("LATENCY_MS", "1000"),
        ("SHUTDOWN_DELAY_MS", "300"),
        ("SHUTDOWN_TIMEOUT_MS", "5000"),
    ])
    .await;
    service.wait_healthy().await;
    let port = service.port;
    let in_flight: Vec<_> = (0..24)
        .map(|_| tokio::spawn(async move { http(port, "POST", "/checkout", ORDER).await }))
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    service.sigterm();

    // During the delay the listener still answers, and readiness is false.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (ready, _) = http(port, "GET", "/readyz", "")
        .await
        .expect("served during the delay");
    assert_eq!(ready, 503, "readiness goes false on SIGTERM");

    for (i, request) in in_flight.into_iter().enumerate() {
        let answer = request.await.unwrap();
        assert!(
            matches!(answer, Ok((200, _))),
            "in-flight request {i}: {answer:?}\n{}",
            service.log()
        );
    }
    let status = tokio::time::timeout(Duration::from_secs(8), service.child.wait())
        .await
        .expect("exits within the bound")
        .unwrap();
    assert!(status.success(), "exit {status}\n{}", service.log());
    assert!(signalled.elapsed() < Duration::from_secs(6));
    assert!(
        http(port, "GET", "/healthz", "").await.is_err(),
        "nothing listens after exit"
    );
}

#[tokio::test]
async fn unreachable_ssm_falls_back_to_the_environment_with_a_warning() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let mut service = Service::start(&[
        ("AWS_ENDPOINT_URL", &closed),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("SSM_TIMEOUT_MS", "2000"),
        ("DEGRADED_MODE_SSM_PARAMETER", "/checkout/degraded_mode"),
        ("DEGRADED_MODE_REFRESH_SECONDS", "1"),
    ])
    .await;
    let started = Instant::now();
    service.wait_healthy().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let m = Exposition::parse(&service.metrics().await);
    assert_eq!(m.value("checkout_degraded_mode_enabled", &[]), Some(0.0));
    let log = service.log();
    let warning = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["level"] == "WARN" && l["parameter"] == "/checkout/degraded_mode")
        .unwrap_or_else(|| panic!("no SSM warning in:\n{log}"));
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("falling back")
    );
    assert_eq!(warning["source"], "default");
    let error = warning["error"].as_str().unwrap();
    assert!(
        error.contains("dispatch failure"),
        "the endpoint was tried: {error}"
    );

    // The refresh keeps trying, warns, and leaves the mode as it was.
    service
        .wait_until("a failed refresh", Duration::from_secs(8), || async {
            service.log_lines().iter().any(|l| {
                l["level"] == "WARN"
                    && l["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("SSM refresh failed"))
            })
        })
        .await;
    let m = Exposition::parse(&service.metrics().await);
    assert_eq!(m.value("checkout_degraded_mode_enabled", &[]), Some(0.0));
}

#[tokio::test]
async fn no_parameter_turns_the_ssm_read_off() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let mut service = Service::start(&[
        ("AWS_ENDPOINT_URL", &closed),
        ("AWS_REGION", "us-east-1"),
        ("DEGRADED_MODE_REFRESH_SECONDS", "1"),
    ])
    .await;
    service.wait_healthy().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = Exposition::parse(&service.metrics().await);
    assert_eq!(m.value("checkout_degraded_mode_enabled", &[]), Some(0.0));
    let log = service.log();
    assert!(!log.contains("\"WARN\""), "no SSM read, no refresh:\n{log}");
    assert!(
        log.contains("DEGRADED_MODE_SSM_PARAMETER unset: SSM read off"),
        "{log}"
    );
}

#[tokio::test]
async fn no_region_skips_ssm_with_a_warning() {
    let mut service =
        Service::start(&[("DEGRADED_MODE_SSM_PARAMETER", "/checkout/degraded_mode")]).await;
    service.wait_healthy().await;
    let log = service.log();
    assert!(
        log.lines().any(|l| l.contains("\"WARN\"")
            && l.contains("no AWS region")
            && l.contains("no refresh without a region")),
        "{log}"
    );
}

#[tokio::test]
async fn degraded_mode_environment_wins_and_ssm_is_not_read() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let mut service = Service::start(&[
        ("DEGRADED_MODE", "true"),
        ("DEGRADED_MODE_SSM_PARAMETER", "/checkout/degraded_mode"),
        ("DEGRADED_MODE_REFRESH_SECONDS", "1"),
        ("AWS_ENDPOINT_URL", &closed),
        ("AWS_REGION", "us-east-1"),
    ])
    .await;
    service.wait_healthy().await;
    let m = Exposition::parse(&service.metrics().await);
    assert_eq!(m.value("checkout_degraded_mode_enabled", &[]), Some(1.0));
    let log = service.log();
    assert!(!log.contains("\"WARN\""), "{log}");
    assert!(log.contains("\"source\":\"environment\""), "{log}");
    // No refresh runs: a read of the closed endpoint would warn within a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = service.log();
    assert!(!log.contains("\"WARN\""), "{log}");
    let m = Exposition::parse(&service.metrics().await);
    assert_eq!(m.value("checkout_degraded_mode_enabled", &[]), Some(1.0));
}

#[tokio::test]
async fn a_bad_knob_stops_the_start_with_a_clear_error() {
    let mut service = Service::start(&[("ERROR_RATE", "1.5")]).await;
    let status = tokio::time::timeout(Duration::from_secs(10), service.child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert_eq!(status.code(), Some(2));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let log = service.log();
    assert!(
        log.contains("ERROR_RATE=\\\"1.5\\\": expected a number from 0.0 to 1.0"),
        "{log}"
    );
}

/// `PUT /chaos` over loopback changes the knobs of the running binary for its next requests,
/// without a restart; the control endpoint stops with the service.
#[tokio::test]
async fn chaos_control_changes_the_knobs_of_the_running_binary() {
    let control = free_port();
    let mut service = Service::start(&[
        ("DEGRADED_MODE_SSM_PARAMETER", ""),
        ("CHAOS_CONTROL_PORT", &control.to_string()),
        ("SHUTDOWN_DELAY_MS", "0"),
    ])
    .await;
    service.wait_healthy().await;
    let pid = service.child.id().expect("running");
    let listening = service
        .log_lines()
        .into_iter()
        .find(|l| l["message"] == "chaos control listening (loopback only): GET/PUT /chaos")
        .unwrap_or_else(|| panic!("no control line:\n{}", service.log()));
    assert_eq!(listening["addr"], format!("127.0.0.1:{control}"));

    let (status, body) = http(control, "GET", "/chaos", "").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        body,
        r#"{"latency_ms":0,"error_rate":0.0,"core_error_rate":0.0}"#
    );
    let checkout = || async {
        http(service.port, "POST", "/checkout", ORDER)
            .await
            .unwrap()
    };
    assert_eq!(checkout().await.0, 200);

    let (status, body) = http(control, "PUT", "/chaos", r#"{"error_rate":1.0}"#)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    for _ in 0..3 {
        let (status, body) = checkout().await;
        assert_eq!(status, 500, "{body}");
        assert!(body.contains("ERROR_RATE"), "{body}");
    }

    let (status, body) = http(control, "PUT", "/chaos", r#"{"error_rate":1.5}"#)
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    let refused: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refused["field"], "error_rate", "{body}");
    assert_eq!(
        checkout().await.0,
        500,
        "the refused change changed nothing"
    );

    let (status, body) = http(control, "PUT", "/chaos", r#"{"error_rate":0}"#)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(checkout().await.0, 200);
    assert_eq!(
        http(service.port, "GET", "/chaos", "").await.unwrap().0,
        404,
        "the main port never serves the control endpoint"
    );
    let m = Exposition::parse(&service.metrics().await);
    assert_eq!(
        m.value("checkout_errors_total", &[("route", "/checkout")]),
        Some(4.0)
    );

    let changes: Vec<(f64, f64)> = service
        .log_lines()
        .iter()
        .filter(|l| l["level"] == "INFO" && l["message"] == "chaos knobs changed")
        .map(|l| {
            (
                l["previous_error_rate"].as_f64().unwrap(),
                l["error_rate"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(changes, [(0.0, 1.0), (1.0, 0.0)], "one line per change");
    assert_eq!(service.child.id(), Some(pid), "same process");

    // The control endpoint stops with the service.
    service.sigterm();
    let status = tokio::time::timeout(Duration::from_secs(10), service.child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "exit {status}\n{}", service.log());
    assert!(
        http(control, "GET", "/chaos", "").await.is_err(),
        "nothing listens on the control port after exit"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        service.log().contains("chaos control endpoint stopped"),
        "{}",
        service.log()
    );
}

/// Without `CHAOS_CONTROL_PORT` there is no control endpoint.
#[tokio::test]
async fn no_control_endpoint_unless_asked() {
    let mut service = Service::start(&[("DEGRADED_MODE_SSM_PARAMETER", "")]).await;
    service.wait_healthy().await;
    assert!(
        !service.log().contains("chaos control"),
        "{}",
        service.log()
    );
}

/// `moto_server`: `MOTO_SERVER`, else the project's `.tools/venv`, else `PATH`; a missing
/// server fails the test (naming the install command).
fn moto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return path.into();
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/moto_server");
    if local.is_file() {
        return local;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("moto_server not found; install it: {MOTO_INSTALL}"))
}

/// The URL of a moto server: `MOTO_ENDPOINT` when set, else one started for this test binary
/// on a free loopback port (shared by its tests, which use unique parameter names; a shell
/// watchdog stops it when the test process exits and our end of its stdin closes).
fn moto_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") {
            return endpoint;
        }
        let port = free_port();
        let script = format!(
            "\"$0\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; echo started; read _; kill $pid"
        );
        let mut child = std::process::Command::new("sh")
            .args(["-c", &script])
            .arg(moto_binary())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // Keep stdin open for the life of the test process.
        std::mem::forget(child.stdin.take());
        std::mem::forget(child);
        let started = Instant::now();
        while !moto_answers(port) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        format!("http://127.0.0.1:{port}")
    })
}

/// Whether moto answers `GET /moto-api/` with 200 (Flask is up).
fn moto_answers(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /moto-api/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let mut head = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.ends_with(b" 200")
}

/// An SSM client on `endpoint` with dummy credentials.
async fn ssm(endpoint: &str) -> aws_sdk_ssm::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    aws_sdk_ssm::Client::new(&sdk)
}

/// What the runbook (and a human, to turn it off) does: `put-parameter --overwrite`.
async fn put_flag(ssm: &aws_sdk_ssm::Client, parameter: &str, value: &str) {
    ssm.put_parameter()
        .name(parameter)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .expect("put parameter in moto");
}

/// The service's environment for SSM in moto.
fn moto_env<'a>(endpoint: &'a str, parameter: &'a str) -> [(&'static str, &'a str); 5] {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("DEGRADED_MODE_SSM_PARAMETER", parameter),
    ]
}

#[tokio::test]
async fn ssm_parameter_turns_degraded_mode_on_with_moto() {
    let endpoint = moto_url();
    let parameter = format!("/checkout-test/{}/degraded_mode", uuid::Uuid::new_v4());
    put_flag(&ssm(endpoint).await, &parameter, "true").await;
    let aws = moto_env(endpoint, &parameter);
    let mut from_ssm = Service::start(&aws).await;
    from_ssm.wait_healthy().await;
    let m = Exposition::parse(&from_ssm.metrics().await);
    assert_eq!(
        m.value("checkout_degraded_mode_enabled", &[]),
        Some(1.0),
        "{}",
        from_ssm.log()
    );
    assert!(from_ssm.log().contains("\"source\":\"ssm\""));

    let mut env_wins =
        Service::start(&[aws.as_slice(), &[("DEGRADED_MODE", "false")]].concat()).await;
    env_wins.wait_healthy().await;
    let m = Exposition::parse(&env_wins.metrics().await);
    assert_eq!(m.value("checkout_degraded_mode_enabled", &[]), Some(0.0));
}

/// The runbook's flip reaches a running pod: same process, no restart, within the refresh
/// interval; an SSM error keeps the mode; a human's `false` turns it off the same way.
#[tokio::test]
async fn degraded_mode_follows_the_ssm_parameter_without_a_restart() {
    let endpoint = moto_url();
    let ssm = ssm(endpoint).await;
    let parameter = format!("/checkout-test/{}/degraded_mode", uuid::Uuid::new_v4());
    put_flag(&ssm, &parameter, "false").await;
    let env = [
        moto_env(endpoint, &parameter).as_slice(),
        &[
            ("DEGRADED_MODE_REFRESH_SECONDS", "1"),
            ("SHUTDOWN_DELAY_MS", "0"),
        ],
    ]
    .concat();
    let mut service = Service::start(&env).await;
    service.wait_healthy().await;
    let pid = service.child.id().expect("running");

    let (gauge, degraded, recommendations) = service.degraded_now().await;
    assert_eq!((gauge, degraded), (0.0, false), "{}", service.log());
    assert!(recommendations > 0);

    put_flag(&ssm, &parameter, "true").await;
    service
        .wait_until("degraded mode on", Duration::from_secs(10), || async {
            service.degraded_now().await == (1.0, true, 0)
        })
        .await;

    // SSM fails (the parameter is gone): a warning, and the mode stays on.
    ssm.delete_parameter()
        .name(&parameter)
        .send()
        .await
        .expect("delete parameter in moto");
    service
        .wait_until("a failed refresh", Duration::from_secs(10), || async {
            service.log_lines().iter().any(|l| {
                l["level"] == "WARN"
                    && l["parameter"] == parameter.as_str()
                    && l["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("SSM refresh failed"))
            })
        })
        .await;
    assert_eq!(service.degraded_now().await, (1.0, true, 0), "kept on");

    put_flag(&ssm, &parameter, "false").await;
    service
        .wait_until("degraded mode off", Duration::from_secs(10), || async {
            let (gauge, degraded, recommendations) = service.degraded_now().await;
            (gauge, degraded) == (0.0, false) && recommendations > 0
        })
        .await;

    assert_eq!(service.child.id(), Some(pid), "same process");
    assert!(service.child.try_wait().unwrap().is_none(), "still running");
    let changes: Vec<String> = service
        .log_lines()
        .iter()
        .filter(|l| l["level"] == "INFO" && l["source"] == "ssm" && l["previous"].is_boolean())
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        changes,
        [
            "degraded mode changed: off -> on",
            "degraded mode changed: on -> off"
        ],
        "one line per change"
    );

    // The refresh stops with the service.
    service.sigterm();
    let status = tokio::time::timeout(Duration::from_secs(10), service.child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "exit {status}\n{}", service.log());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        service.log().contains("degraded-mode refresh stopped"),
        "{}",
        service.log()
    );
}
