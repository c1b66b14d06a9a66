//! Fuzz alert_ingest's parser and normalizer: any bytes, either sender, never a panic; a
//! rejection always names a field.
#![no_main]

use lambdas::ingest::normalize::{Enrichment, Sender, normalize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let enrichment = Enrichment {
        received_at: "2025-03-14T09:27:01Z".into(),
        received_at_epoch: 1_741_944_421,
        account: "123456789012".into(),
        region: "eu-west-1".into(),
    };
    for sender in [Sender::Alertmanager, Sender::Datadog] {
        if let Err(bad) = normalize(sender, data, &enrichment) {
            assert!(!bad.field.is_empty() && !bad.message.is_empty());
        }
    }
});
