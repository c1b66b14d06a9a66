//! The fuzz target's stable-CI half: replay the fuzz corpus and every crash input kept as a
//! regression (`lambdas/fuzz/corpus`, `lambdas/fuzz/regressions`) through the parser, and a
//! property test over arbitrary bytes and mutated fixtures. None may panic; each must give
//! events or a 400 naming a field.

use std::path::PathBuf;

use lambdas::ingest::normalize::{Sender, normalize};
use proptest::prelude::*;

use crate::support::{enrichment, fixture};

fn check(bytes: &[u8]) {
    for sender in [Sender::Alertmanager, Sender::Datadog] {
        if let Err(bad) = normalize(sender, bytes, &enrichment()) {
            assert!(!bad.field.is_empty());
            assert!(!bad.message.is_empty());
        }
    }
}

#[test]
fn fuzz_corpus_and_regressions_replay() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["corpus/normalize", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() {
                check(&std::fs::read(&path).unwrap());
                count += 1;
            }
        }
    }
    assert!(count > 0, "the fuzz corpus is empty");
}

fn mutate(mut text: Vec<u8>, at: usize, byte: u8, cut: usize) -> Vec<u8> {
    if !text.is_empty() {
        let i = at % text.len();
        text[i] = byte;
        text.truncate(text.len() - cut % text.len().max(1));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn mutated_fixtures_never_panic(which in 0..4usize, at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let name = ["alertmanager_firing.json", "alertmanager_resolved.json", "datadog_triggered.json", "datadog_recovered.json"][which];
        check(&mutate(fixture(name).into_bytes(), at, byte, cut % 64));
    }
}
