//! alert_ingest's in-process work per alert: parse + validate + normalize + build the events,
//! on a 100-alert Alertmanager payload (the README quotes the figures).
//!
//! `cargo bench -p lambdas --bench ingest` (release profile, one thread).

use std::hint::black_box;
use std::time::{Duration, Instant};

use lambdas::ingest::normalize::{Enrichment, Sender, normalize};
use serde_json::{Value, json};

fn payload(alerts: usize) -> Vec<u8> {
    let text = include_str!("../../platform-model/contract/src/fixtures/alertmanager_firing.json");
    let mut hook: Value = serde_json::from_str(text).unwrap();
    let template = hook["alerts"][0].clone();
    hook["alerts"] = (0..alerts)
        .map(|i| {
            let mut alert = template.clone();
            alert["fingerprint"] = json!(format!("{i:016x}"));
            alert["labels"]["pod"] = json!(format!("checkout-7c9d8f6b5-{i:05}"));
            alert
        })
        .collect();
    serde_json::to_vec(&hook).unwrap()
}

fn main() {
    let body = payload(100);
    let enrichment = Enrichment {
        received_at: "2025-03-14T09:27:01Z".into(),
        received_at_epoch: 1_741_944_421,
        account: "123456789012".into(),
        region: "eu-west-1".into(),
    };
    // Warm up, then 7 runs of ~1 s; report the median.
    for _ in 0..200 {
        black_box(normalize(Sender::Alertmanager, black_box(&body), &enrichment).unwrap());
    }
    let mut rates = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let mut payloads = 0u64;
        while started.elapsed() < Duration::from_secs(1) {
            for _ in 0..50 {
                let events = normalize(Sender::Alertmanager, black_box(&body), &enrichment)
                    .unwrap()
                    .events;
                assert_eq!(events.len(), 100);
                black_box(events);
            }
            payloads += 50;
        }
        rates.push((payloads * 100) as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "alert_ingest normalize: 100-alert payload of {} bytes; median {:.0} alerts/s ({:.2} us/alert), runs: {}",
        body.len(),
        median,
        1e6 / median,
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
