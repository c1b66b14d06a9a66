//! The whole loop as a test: runs the `sre-loop` binary against the generated dev files with
//! the real programs (the binaries `cargo test --workspace` has just built, moto from
//! `.tools/venv`, Prometheus and Alertmanager from Debian), and checks its report: every fault
//! of issue #15 with its asserted outcome, and a timeline with MTTR per scenario.
//!
//! Needs target/debug/{synth,alert_ingest,runbook_action,approval,checkout}: `cargo test
//! --workspace` builds them before any test runs; alone, run
//! `cargo build -p synth -p lambdas -p checkout --bins` first.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[test]
fn the_loop_closes_with_every_fault() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let run_dir = root.join("target/loop-test");
    let report_file = run_dir.with_extension("json");
    let out = Command::new(env!("CARGO_BIN_EXE_sre-loop"))
        .current_dir(&root)
        .args(["--no-build", "--root"])
        .arg(&root)
        .arg("--run-dir")
        .arg(&run_dir)
        .arg("--report")
        .arg(&report_file)
        .output()
        .expect("run sre-loop");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the loop failed (process logs in {}):\n{text}",
        run_dir.join("logs").display()
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    let checks = report["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for fault in [
        "bus down: alert_ingest answered 503",
        "two Alertmanager replicas both sent the alert",
        "bus down 30 s + two Alertmanager replicas: exactly one incident",
        "SSM throttled",
        "alert_ingest killed mid-stream",
        "a malformed webhook gets a 400 naming the field",
        "scenario 1: remediated, never escalated",
        "scenario 2: the incident ends escalated, and the escalation is published",
        "events reach the paging topic whole",
        "people read sentences",
        "every platform event is in the audit log group",
        "scenario 3: the request reaches people with links",
        "scenario 3: approved, the runbook runs the action with who approved",
        "scenario 3: the incident resolves",
        "scenario 4: no decision by the deadline",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(fault)),
            "no check {fault:?} in {names:?}"
        );
    }
    assert!(checks.iter().all(|c| c["passed"] == true), "{text}");
    let timelines = report["timelines"].as_array().unwrap();
    assert_eq!(timelines.len(), 4, "{text}");
    for t in timelines {
        let points = t["points"].as_array().unwrap();
        assert!(
            points.iter().all(|p| p["at"].is_number()),
            "every step of {} was seen: {t}",
            t["scenario"]
        );
        let mttr = t["mttr_seconds"].as_f64().unwrap();
        assert!(mttr > 0.0, "{t}");
    }
    // Every change to the generated files was reported, and the emulated hops named.
    let changes: Vec<&str> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        changes
            .iter()
            .any(|c| c.contains("CheckoutHighErrorRate: for 5m -> 10s")),
        "{changes:?}"
    );
    assert!(report["emulated"].as_array().unwrap().len() >= 5);
    let _ = std::fs::remove_dir_all(&run_dir);
}
