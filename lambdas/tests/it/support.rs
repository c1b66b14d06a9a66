//! Test harness: a moto server on loopback, a fault-injecting TCP proxy in front of it, and a
//! recording HTTP listener standing in for the Kubernetes API server.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const REGION: &str = "us-east-1";
/// moto's default account.
pub const ACCOUNT: &str = "123456789012";

/// The enrichment the normalization tests use (a fixed receipt time).
pub fn enrichment() -> lambdas::ingest::normalize::Enrichment {
    lambdas::ingest::normalize::Enrichment {
        received_at: "2025-03-14T09:27:01Z".into(),
        received_at_epoch: 1_741_944_421,
        account: "111122223333".into(),
        region: "eu-west-1".into(),
    }
}

pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../platform-model/contract/src/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn moto_binary() -> PathBuf {
    if let Ok(path) = std::env::var("MOTO_SERVER") {
        return path.into();
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/moto_server");
    if local.exists() {
        return local;
    }
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v moto_server"])
        .output()
        && out.status.success()
    {
        return String::from_utf8_lossy(&out.stdout).trim().into();
    }
    panic!(
        "moto_server not found: these tests need the AWS API emulator. Install it with \
         `python3 -m venv .tools/venv && .tools/venv/bin/pip install -r .ci/requirements.txt` \
         (or run .ci/test.sh), or set MOTO_SERVER to its path"
    );
}

/// The URL of a moto server shared by this test binary (started on first use, stopped when the
/// test process exits: a shell watchdog kills it when our end of its stdin closes).
pub fn moto_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = format!(
            "\"$0\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; echo started; read _; kill $pid"
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .arg(moto_binary())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // Keep stdin open for the life of the process.
        std::mem::forget(child.stdin.take());
        std::mem::forget(child);
        let url = format!("http://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // moto answers once Flask is up.
                if let Ok(out) = Command::new("python3")
                    .args(["-c", &format!("import urllib.request;urllib.request.urlopen('{url}/moto-api/')")])
                    .output()
                    && out.status.success()
                {
                    break;
                }
            }
            assert!(
                started.elapsed().as_secs() < 30,
                "moto_server did not start on port {port} within 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        url
    })
}

/// SDK configuration pointing at `endpoint`, with dummy credentials.
pub async fn aws(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

/// A unique name per test (tests share one moto server).
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// One HTTP request read off a connection.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

async fn read_request(stream: &mut TcpStream) -> Option<(Captured, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&raw[head_end..head_end + length]).to_string();
    Some((
        Captured {
            method,
            path,
            headers,
            body,
        },
        raw,
    ))
}

type Responder = dyn Fn(&Captured) -> (u16, String) + Send + Sync;

/// A loopback HTTP/1.1 listener that records every request and answers with `responder`.
pub struct Listener {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Captured>>>,
}

impl Listener {
    pub async fn start(
        responder: impl Fn(&Captured) -> (u16, String) + Send + Sync + 'static,
    ) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let responder: Arc<Responder> = Arc::new(responder);
        let log = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let responder = responder.clone();
                tokio::spawn(async move {
                    while let Some((request, _)) = read_request(&mut stream).await {
                        let (status, body) = responder(&request);
                        log.lock().unwrap().push(request);
                        let response = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Listener { url, requests }
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }
}

/// A TCP proxy to `upstream` whose first `fail_first` connections get an HTTP 500
/// (`InternalException`) instead of being forwarded: a forced `PutEvents` failure in front of
/// the real emulator.
pub struct FaultProxy {
    pub url: String,
    pub connections: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub async fn start(upstream: &str, fail_first: usize) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let n = count.fetch_add(1, Ordering::SeqCst);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if n < fail_first {
                        if read_request(&mut client).await.is_some() {
                            let body =
                                r#"{"__type":"InternalException","message":"injected failure"}"#;
                            let response = format!(
                                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/x-amz-json-1.1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            let _ = client.write_all(response.as_bytes()).await;
                        }
                        return;
                    }
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        FaultProxy { url, connections }
    }
}
