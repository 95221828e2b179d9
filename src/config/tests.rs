use super::*;

#[test]
fn defaults_are_the_documented_ones() {
    let c = Config::from_toml("").unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.ops.listen.to_string(), "127.0.0.1:9090");
    assert_eq!(c.storage.data_dir, PathBuf::from("./data"));
    assert_eq!(c.kafka.topic, "intake.requests.v1");
    assert_eq!(c.kafka.bootstrap_servers(), None);
    assert_eq!(c.server.max_body_bytes, 262_144);
    assert_eq!(c.storage.dedup_window, Duration::from_secs(259_200));
}

#[test]
fn unknown_keys_are_rejected() {
    let err = Config::from_toml("[channels.web.partners.baixing]\nsecert = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("secert"), "{err}");
    assert!(Config::from_toml("[servr]\nlisten = \"127.0.0.1:1\"\n").is_err());
}

#[test]
fn partner_without_secret_is_disabled() {
    let c =
        Config::from_toml("[channels.web.partners.a]\n[channels.web.partners.b]\nsecret = \"k\"\n")
            .unwrap();
    assert!(c.channels.web.partner("a").is_none());
    assert!(c.channels.web.partner("b").is_some());
    assert!(c.channels.web.partner("c").is_none());
}

#[test]
fn secrets_never_print() {
    let c = Config::from_toml("[channels.web.partners.b]\nsecret = \"hunter2\"\n").unwrap();
    let printed = c.redacted_toml();
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("<redacted>"));
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn brokers_as_string_or_list() {
    let c = Config::from_toml("[kafka]\nbrokers = \"a:1, b:2\"\n").unwrap();
    assert_eq!(c.kafka.bootstrap_servers().as_deref(), Some("a:1,b:2"));
    let c = Config::from_toml("[kafka]\nbrokers = [\"a:1\"]\n").unwrap();
    assert_eq!(c.kafka.bootstrap_servers().as_deref(), Some("a:1"));
    let c = Config::from_toml("[kafka]\nbrokers = \"\"\n").unwrap();
    assert_eq!(c.kafka.bootstrap_servers(), None);
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's closure type, not ours
fn environment_overrides_with_double_underscores() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("intake.toml", "[server]\nlisten = \"127.0.0.1:1000\"\n")?;
        jail.set_env("INTAKE__SERVER__LISTEN", "127.0.0.1:2000");
        jail.set_env("INTAKE__KAFKA__BROKERS", "127.0.0.1:9092");
        jail.set_env("INTAKE__CHANNELS__WEB__PARTNERS__BAIXING__SECRET", "123456");
        let c = Config::load(Some(Path::new("intake.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(c.server.listen.port(), 2000);
        assert_eq!(
            c.kafka.bootstrap_servers().as_deref(),
            Some("127.0.0.1:9092")
        );
        assert_eq!(
            c.channels.web.partner("baixing").map(|p| p.secret),
            Some("123456".to_string())
        );
        jail.set_env("INTAKE__SERVER__LISTN", "x");
        assert!(Config::load(Some(Path::new("intake.toml"))).is_err());
        Ok(())
    });
}

#[test]
fn worker_threads_default_to_one_per_core_and_zero_is_refused() {
    assert_eq!(Config::from_toml("").unwrap().server.worker_threads, None);
    let c = Config::from_toml("[server]\nworker_threads = 1\n").unwrap();
    assert_eq!(c.server.worker_threads, Some(1));
    let err = Config::from_toml("[server]\nworker_threads = 0\n").unwrap_err();
    assert!(err.to_string().contains("server.worker_threads"), "{err}");
}
