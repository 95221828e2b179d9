//! The command line as an operator uses it.

use std::process::Command;

fn gateway() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_intake-gateway"));
    c.env_remove("INTAKE_CONFIG");
    c
}

/// Writes `text` to `file` and runs `check-config` on it.
fn check_config(file: &std::path::Path, text: &str) -> std::process::Output {
    std::fs::write(file, text).unwrap();
    gateway()
        .args(["check-config", "--config"])
        .arg(file)
        .output()
        .unwrap()
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

#[test]
fn check_config_names_an_unreadable_tls_file_and_redacts_the_sasl_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("intake.toml");
    let out = check_config(
        &file,
        "[kafka]\nbrokers = \"kafka-1:9093\"\n[kafka.tls]\nca_file = \"/nonexistent/kafka-ca.pem\"\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kafka.tls.ca_file")
            && err.contains("/nonexistent/kafka-ca.pem")
            && err.contains("cannot read"),
        "{err}"
    );

    let ca = dir.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    std::fs::write(
        &file,
        format!(
            "[kafka]\nbrokers = \"kafka-1:9093\"\n[kafka.tls]\nca_file = {:?}\n[kafka.sasl]\nmechanism = \"SCRAM-SHA-512\"\nusername = \"intake\"\npassword = \"from-the-file\"\n",
            ca.display()
        ),
    )
    .unwrap();
    let out = gateway()
        .args(["check-config", "--config"])
        .arg(&file)
        .env("INTAKE__KAFKA__SASL__PASSWORD", "from-the-environment")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains("SCRAM-SHA-512") && printed.contains("<redacted>"),
        "{printed}"
    );
    assert!(!printed.contains("from-the-file") && !printed.contains("from-the-environment"));

    // A raw property that a typed key owns is an error, not a silent override.
    let out = check_config(
        &file,
        &format!(
            "[kafka]\nbrokers = \"kafka-1:9093\"\n[kafka.tls]\nca_file = {:?}\n[kafka.properties]\n\"security.protocol\" = \"PLAINTEXT\"\n",
            ca.display()
        ),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("conflicts"));
}

#[test]
fn check_config_validates_and_redacts_the_cluster_section() {
    let out = gateway()
        .arg("check-config")
        .env(
            "INTAKE__CLUSTER__REDIS_URL",
            "rediss://:s3cret-pw@redis.internal:6380/0",
        )
        .env("INTAKE__CLUSTER__INSTANCE_ID", "gw-1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("[cluster]"), "{printed}");
    assert!(printed.contains("instance_id = \"gw-1\""), "{printed}");
    assert!(
        !printed.contains("s3cret-pw"),
        "the Redis password printed: {printed}"
    );
    // Without a URL, or with another scheme, the section is refused with a reason.
    let out = gateway()
        .arg("check-config")
        .env("INTAKE__CLUSTER__REDIS_URL", "http://:s3cret-pw@redis:6379")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("redis://"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    // No [cluster] at all: a single instance, and nothing about a cluster printed.
    let out = gateway().arg("check-config").output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("[cluster]"));
}

#[test]
fn check_config_refuses_properties_that_would_weaken_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("intake.toml");
    let with = |properties: &str| {
        check_config(
            &file,
            &format!("[kafka]\nbrokers = \"127.0.0.1:9092\"\n[kafka.properties]\n{properties}"),
        )
    };
    for (key, value) in [("acks", "1"), ("enable.idempotence", "false")] {
        let out = with(&format!("\"{key}\" = \"{value}\"\n"));
        assert_eq!(out.status.code(), Some(2), "{key} = {value} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key) && err.contains("refused"), "{err}");
    }
    // The producer's pacing stays the operator's to choose.
    let out = with("\"linger.ms\" = \"5\"\n\"max.in.flight.requests.per.connection\" = \"5\"\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_shows_the_merged_line_registry_and_warns_about_the_old_maps() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("intake.toml");
    let out = check_config(
        &file,
        "[lines.12343]\nname = \"州长公开电话\"\nnumbers = [\"043312343\"]\n\
         [channels.call.lines]\n\"12328\" = [\"043312328\"]\n\
         [channels.sms.lines]\n\"12343\" = [\"1069012343\"]\n",
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("# merged line registry"), "{stdout}");
    assert!(
        stdout.contains("# line 12343: name=\"州长公开电话\"") && stdout.contains("\"1069012343\""),
        "{stdout}"
    );
    assert!(stdout.contains("# line 12328: name=\"12328\""), "{stdout}");
    assert!(
        stderr.contains("channels.call.lines is deprecated")
            && stderr.contains("`numbers` of [lines.<id>]")
            && stderr.contains("channels.sms.lines is deprecated"),
        "{stderr}"
    );
}

#[test]
fn a_rule_that_sets_nothing_or_a_bad_ivr_key_is_refused() {
    for bad in [
        "[[rules.match]]\nany = [\"x\"]\n",
        "[[rules.match]]\ntags = [\"t\"]\n",
        "[desks.ivr.\"two\"]\ndesk = \"korean\"\n",
        "[desks.ivr.\"2\"]\ndesk = \"korean\"\nlanguage = \"jp\"\n",
        "[lines.x]\nname = \"\"\n",
        "[ops]\ntimezone = \"Mars/Olympus\"\n",
    ] {
        assert!(
            intake_gateway::Config::from_toml(bad).is_err(),
            "accepted: {bad}"
        );
    }
}
