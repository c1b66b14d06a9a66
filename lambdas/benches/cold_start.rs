//! Cold start: process start to first handled event, under a local Lambda Runtime API (a
//! loopback server that serves one event and reads the response), and peak memory (VmHWM).
//!
//! `cargo bench -p lambdas --bench cold_start` (uses the release-profile binaries cargo builds
//! for benches; the shipped `lambda` profile is smaller still). Neither event makes an AWS call:
//! runbook_action gets a dry run, alert_ingest a GET (answered 405 before the token is read),
//! so the figure is runtime + SDK configuration + handler, without network latency.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn serve_one(listener: &TcpListener, event: &str) -> (Instant, String) {
    let mut answered = None;
    loop {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header == "\r\n" || header.is_empty() {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        if line.starts_with("GET") {
            if let Some(answered) = answered {
                return answered; // the second /next: leave it hanging
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: req-1\r\nlambda-runtime-deadline-ms: {}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:eu-west-1:123456789012:function:f\r\ncontent-length: {}\r\n\r\n{event}",
                u64::MAX / 2,
                event.len()
            );
            stream.write_all(response.as_bytes()).unwrap();
        } else {
            answered = Some((Instant::now(), String::from_utf8_lossy(&body).to_string()));
            stream
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}")
                .unwrap();
        }
    }
}

fn peak_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn run(binary: &str, env: &[(&str, &str)], event: &str) -> (Duration, u64, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = listener.local_addr().unwrap().to_string();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (done, response) = serve_one(&listener, event);
    let peak = peak_kb(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    (done - started, peak, response)
}

fn report(name: &str, binary: &str, env: &[(&str, &str)], event: &str) {
    let mut times = Vec::new();
    let mut peaks = Vec::new();
    let mut response = String::new();
    for _ in 0..15 {
        let (time, peak, r) = run(binary, env, event);
        times.push(time);
        peaks.push(peak);
        response = r;
    }
    times.sort();
    peaks.sort();
    println!(
        "{name}: cold start to first response median {:.1} ms (min {:.1}, max {:.1}), peak RSS median {:.1} MB; binary {} bytes; response {}",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        peaks[peaks.len() / 2] as f64 / 1024.0,
        std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0),
        response.chars().take(120).collect::<String>()
    );
}

fn main() {
    report(
        "runbook_action",
        env!("CARGO_BIN_EXE_runbook_action"),
        &[
            ("EKS_CLUSTER_NAME", "sre-platform"),
            ("EKS_CLUSTER_ENDPOINT", "https://127.0.0.1:1"),
            ("INCIDENTS_TABLE", "sre-incidents"),
            ("ALLOWED_NAMESPACES", "apps"),
            ("DRAIN_TIMEOUT_SECONDS", "45"),
            ("DRAIN_NODE_SELECTOR", "sre.platform/drainable=true"),
            ("MAX_CORDONED_NODES", "1"),
        ],
        r#"{"incident_id":"inc-1","action":"restart_deployment","target":{"namespace":"apps","name":"checkout"},"dry_run":true}"#,
    );
    report(
        "alert_ingest",
        env!("CARGO_BIN_EXE_alert_ingest"),
        &[
            ("EVENT_BUS_NAME", "sre-platform-events"),
            (
                "WEBHOOK_TOKEN_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:sre-platform-webhook-token",
            ),
        ],
        r#"{"resource":"/webhook/{source}","path":"/webhook/alertmanager","httpMethod":"GET","headers":{},"multiValueHeaders":{},"queryStringParameters":null,"multiValueQueryStringParameters":null,"pathParameters":{"source":"alertmanager"},"stageVariables":null,"requestContext":{"accountId":"123456789012","resourceId":"r","stage":"prod","requestId":"id","identity":{"sourceIp":"127.0.0.1"},"resourcePath":"/webhook/{source}","httpMethod":"GET","apiId":"api","path":"/prod/webhook/alertmanager"},"body":null,"isBase64Encoded":false}"#,
    );
}
