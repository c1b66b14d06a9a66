//! `synth --strict` refuses placeholder values (what a deploy must never ship), while plain
//! `synth` keeps working on the embedded example settings.

use std::process::Command;

fn synth(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synth"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn strict_refuses_the_example_settings_naming_each_key() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = synth(&[
        "--env",
        "prod",
        "--strict",
        "--quiet",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "account_id",
        "notifications.pagerduty_url",
        "checkout.host",
        "dns.hosted_zone_id",
        "pipeline.webhook_domain.certificate_arn",
    ] {
        assert!(err.contains(key), "{key} not named: {err}");
    }
    // Nothing was written.
    assert!(!out_dir.path().join("prod").exists());
    // Without --strict the same settings synthesize.
    let out = synth(&[
        "--env",
        "prod",
        "--quiet",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn strict_accepts_real_looking_settings() {
    let text = include_str!("../../platform-model/settings/prod.toml");
    let real = text
        .replace("example.com", "shop.acme-payments.io")
        .replace("REPLACE_ME", "8f3e2a9c41d84b7e")
        .replace(
            "00000000-0000-0000-0000-000000000000",
            "5c1f7b2e-9a4d-4e8b-b3c6-71d2e0f9a845",
        )
        .replace(
            "11111111-1111-1111-1111-111111111111",
            "a7e3c9d1-2b5f-4c8a-9e6d-3f1b8a2c7e40",
        )
        .replace("111111111111", "480912376510")
        .replace(
            "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
            "6b2d9e4f-1c7a-4f3e-8d5b-2a9c6e1f7b38",
        )
        .replace("Z0PROD00000000000001", "Z04871923KXQ5TLM2VB")
        .replace("vpc-0a1b2c3d4e5f60000", "vpc-07c4e9a1b2d3f5e68")
        .replace("subnet-0a1b2c3d4e5f60001", "subnet-0d2f4a6c8e1b3d5f7")
        .replace("subnet-0a1b2c3d4e5f60002", "subnet-09e7c5a3b1d2f4e6a")
        .replace("subnet-0a1b2c3d4e5f60003", "subnet-0b8d6f4e2c1a3e5d9");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prod.toml"), real).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = synth(&[
        "--env",
        "prod",
        "--strict",
        "--quiet",
        "--settings-dir",
        dir.path().to_str().unwrap(),
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out_dir
            .path()
            .join("prod/sre-pipeline.template.json")
            .exists()
    );
}
