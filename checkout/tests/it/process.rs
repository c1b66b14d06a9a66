//! The real binary: promtool on its metrics, SIGTERM under load, SSM fallback, bad settings.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
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
            "LATENCY_MS",
            "ERROR_RATE",
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
}

#[tokio::test]
async fn no_region_skips_ssm_with_a_warning() {
    let mut service = Service::start(&[]).await;
    service.wait_healthy().await;
    let log = service.log();
    assert!(
        log.lines()
            .any(|l| l.contains("\"WARN\"") && l.contains("no AWS region")),
        "{log}"
    );
}

#[tokio::test]
async fn degraded_mode_environment_wins_and_ssm_is_not_read() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let mut service = Service::start(&[
        ("DEGRADED_MODE", "true"),
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

/// Against a moto server (`moto_server -H 127.0.0.1 -p 5000`, then
/// `MOTO_ENDPOINT=http://127.0.0.1:5000 cargo test -p checkout`). Skipped when unset.
#[tokio::test]
async fn ssm_parameter_turns_degraded_mode_on_with_moto() {
    let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") else {
        eprintln!("MOTO_ENDPOINT unset: skipping the moto SSM test");
        return;
    };
    let parameter = format!("/checkout-test/{}/degraded_mode", uuid::Uuid::new_v4());
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(&parameter)
        .value("true")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .expect("put parameter in moto");
    let aws = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("DEGRADED_MODE_SSM_PARAMETER", parameter.as_str()),
    ];
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
