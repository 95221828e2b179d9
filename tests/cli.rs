//! The command line as an operator uses it.

use std::process::Command;

fn gateway() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_intake-gateway"));
    c.env_remove("INTAKE_CONFIG");
    c
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("intake.toml");
    std::fs::write(&file, "[channels.web.partners.baixing]\nsecret = \"file-secret\"\n[channels.wechat.accounts.yanji]\ntoken = \"wx-token\"\n").unwrap();
    let out = gateway()
        .args(["check-config", "--config"])
        .arg(&file)
        .env("INTAKE__KAFKA__BROKERS", "kafka-1:9092")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains("kafka-1:9092"),
        "environment overrides apply: {printed}"
    );
    assert!(printed.contains("<redacted>"));
    for secret in ["file-secret", "wx-token"] {
        assert!(!printed.contains(secret), "{secret} printed in clear");
    }
}

#[test]
fn check_config_fails_clearly_on_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("intake.toml");
    std::fs::write(
        &file,
        "[channels.web.partners.baixing]\nsecert = \"typo\"\n",
    )
    .unwrap();
    let out = gateway()
        .arg("check-config")
        .env("INTAKE_CONFIG", &file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secert"), "names the bad key: {err}");
    let missing = gateway()
        .args(["check-config", "--config", "/nonexistent/intake.toml"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
}

#[test]
fn the_example_config_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/intake.example.toml");
    let out = gateway()
        .args(["check-config", "--config", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("demo-secret-change-me"));
}
