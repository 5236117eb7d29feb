//! The configuration loader's tests: defaults, files, environment variables and every validation message.

use super::*;

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    Settings::load_from(ConfigFile::Default, env(vars))
}

#[test]
fn defaults_need_nothing() {
    let s = Settings::defaults().unwrap();
    assert_eq!(s.listen, "127.0.0.1:8080");
    assert_eq!(s.database.url.expose(), "sqlite://tollgate.db");
    assert_eq!(s.webhooks.max_body_bytes, 1_048_576);
    assert_eq!(s.providers.whop.api_base, "https://api.whop.com");
    assert_eq!(s.providers.dodo.api_base, "https://live.dodopayments.com");
    assert_eq!(
        s.providers.whop.signature_tolerance,
        SignatureTolerance::Within(HumanDuration::from_secs(300))
    );
    assert!(!s.providers.whop.webhooks_enabled());
    assert!(s.rate_limit.enabled);
    assert_eq!(s.reconcile.every, HumanDuration::from_secs(900));
    assert_eq!(s.policy.default.max_devices, 1);
}

#[test]
fn fixed_environment_names_override_the_defaults() {
    let s = load(&[
        ("TOLLGATE_LISTEN", "0.0.0.0:9000"),
        (
            "TOLLGATE_DATABASE__URL",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
        ("TOLLGATE_ADMIN__TOKEN", "admin-token-0123456789"),
        ("TOLLGATE_SERVICE__TOKEN", "service-token-0123456789"),
        ("TOLLGATE_PROVIDERS__WHOP__API_KEY", "whop-key"),
        ("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", "ws_secret"),
        ("TOLLGATE_PROVIDERS__WHOP__API_BASE", "http://127.0.0.1:4010"),
        ("TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET", "whsec_abc"),
        (
            "TOLLGATE_PROVIDERS__DODO__PREVIOUS_WEBHOOK_SECRETS",
            "whsec_old1,whsec_old2",
        ),
        ("TOLLGATE_POLICY__DEFAULT__MAX_DEVICES", "3"),
        ("TOLLGATE_POLICY__DEFAULT__OFFLINE_GRACE", "7d"),
        ("TOLLGATE_RATE_LIMIT__ENABLED", "false"),
    ])
    .unwrap();
    assert_eq!(s.listen_addr().unwrap().port(), 9000);
    assert_eq!(s.database.url.expose(), "postgres://postgres@127.0.0.1:5432/test");
    assert_eq!(s.admin.token.expose(), "admin-token-0123456789");
    assert_eq!(s.service.token.expose(), "service-token-0123456789");
    assert_eq!(s.providers.whop.api_key.expose(), "whop-key");
    assert!(s.providers.whop.webhooks_enabled());
    assert_eq!(s.providers.whop.api_base, "http://127.0.0.1:4010");
    let dodo: Vec<&str> = s
        .providers
        .dodo
        .webhook_secrets()
        .iter()
        .map(|s| s.expose())
        .collect();
    assert_eq!(dodo, ["whsec_abc", "whsec_old1", "whsec_old2"]);
    assert_eq!(s.policy.default.max_devices, 3);
    assert_eq!(
        s.policy.default.offline_grace,
        HumanDuration::from_secs(7 * 86_400)
    );
    assert!(!s.rate_limit.enabled);
}

#[test]
fn rate_limit_lease_and_timeout_keys() {
    let s = Settings::defaults().unwrap();
    assert_eq!(
        (
            s.rate_limit.per_ip_per_minute,
            s.rate_limit.burst,
            s.rate_limit.per_key_per_hour
        ),
        (10, 10, 20)
    );
    assert!(!s.rate_limit.trust_forwarded_for);
    assert_eq!(s.lease.issuer, "tollgate");
    assert_eq!(s.lease.whop_binding, WhopBinding::Mirror);
    assert_eq!(s.providers.whop.api_version, "2026-09-15");
    assert_eq!(s.providers.whop.company_id, "");
    assert_eq!(s.providers.whop.legacy_binding_keys, ["HWID", "hwid"]);
    assert_eq!(s.providers.dodo.connect_timeout, HumanDuration::from_secs(3));
    assert_eq!(s.providers.dodo.request_timeout, HumanDuration::from_secs(10));
    let s = load(&[
        ("TOLLGATE_RATE_LIMIT__BURST", "3"),
        ("TOLLGATE_RATE_LIMIT__TRUST_FORWARDED_FOR", "true"),
        ("TOLLGATE_LEASE__ISSUER", "https://licenses.example.com"),
        ("TOLLGATE_LEASE__WHOP_BINDING", "at_whop"),
        ("TOLLGATE_PROVIDERS__WHOP__REQUEST_TIMEOUT", "2s"),
    ])
    .unwrap();
    assert_eq!(s.rate_limit.burst, 3);
    assert!(s.rate_limit.trust_forwarded_for);
    assert_eq!(s.lease.issuer, "https://licenses.example.com");
    assert_eq!(
        s.lease.whop_binding,
        WhopBinding::Mirror,
        "the v2-era name still loads"
    );
    assert_eq!(s.providers.whop.request_timeout, HumanDuration::from_secs(2));
    let s = load(&[
        ("TOLLGATE_LEASE__WHOP_BINDING", "local"),
        ("TOLLGATE_PROVIDERS__WHOP__COMPANY_ID", "biz_abc123"),
        ("TOLLGATE_PROVIDERS__WHOP__API_VERSION", "2026-09-02-2"),
        (
            "TOLLGATE_PROVIDERS__WHOP__LEGACY_BINDING_KEYS",
            "machine_id, HWID",
        ),
    ])
    .unwrap();
    assert_eq!(s.lease.whop_binding, WhopBinding::Local);
    assert_eq!(s.providers.whop.company_id, "biz_abc123");
    assert_eq!(s.providers.whop.api_version, "2026-09-02-2");
    assert_eq!(s.providers.whop.legacy_binding_keys, ["machine_id", "HWID"]);
    for (var, value, key) in [
        (
            "TOLLGATE_PROVIDERS__WHOP__API_VERSION",
            "v1",
            "providers.whop.api_version",
        ),
        (
            "TOLLGATE_PROVIDERS__WHOP__COMPANY_ID",
            "mycompany",
            "providers.whop.company_id",
        ),
        (
            "TOLLGATE_PROVIDERS__DODO__COMPANY_ID",
            "biz_x",
            "providers.dodo.company_id",
        ),
    ] {
        assert_eq!(load(&[(var, value)]).unwrap_err().key, key, "{var}={value}");
    }
    for (var, value, key) in [
        ("TOLLGATE_RATE_LIMIT__BURST", "0", "rate_limit.burst"),
        ("TOLLGATE_LEASE__ISSUER", " ", "lease.issuer"),
        (
            "TOLLGATE_PROVIDERS__DODO__CONNECT_TIMEOUT",
            "0s",
            "providers.dodo.connect_timeout",
        ),
    ] {
        assert_eq!(load(&[(var, value)]).unwrap_err().key, key, "{var}");
    }
    assert!(load(&[("TOLLGATE_LEASE__WHOP_BINDING", "sometimes")]).is_err());
}

#[test]
fn test_suite_variables_are_not_configuration() {
    let s = load(&[
        ("TOLLGATE_TEST_DATABASE_URL", "postgres://x"),
        ("TOLLGATE_REQUIRE_PG", "1"),
    ])
    .unwrap();
    assert_eq!(s.database.url.expose(), "sqlite://tollgate.db");
}

#[test]
fn an_unknown_key_in_a_known_section_is_named() {
    let err = load(&[("TOLLGATE_DATABASE__URLL", "sqlite://x.db")]).unwrap_err();
    assert!(err.to_string().contains("urll"), "{err}");
}

#[test]
fn a_bad_value_names_its_key() {
    let err = load(&[("TOLLGATE_LISTEN", "localhost")]).unwrap_err();
    assert_eq!(err.key, "listen");

    let err = load(&[("TOLLGATE_DATABASE__URL", "mysql://db")]).unwrap_err();
    assert_eq!(err.key, "database.url");

    let err = load(&[(
        "TOLLGATE_PROVIDERS__DODO__API_BASE",
        "https://live.dodopayments.com/v1",
    )])
    .unwrap_err();
    assert_eq!(err.key, "providers.dodo.api_base");

    let err = load(&[("TOLLGATE_ADMIN__TOKEN", "short")]).unwrap_err();
    assert_eq!(err.key, "admin.token");

    let err = load(&[("TOLLGATE_RECONCILE__EVERY", "10s")]).unwrap_err();
    assert_eq!(err.key, "reconcile.every");

    let err = load(&[("TOLLGATE_POLICY__DEFAULT__MAX_DEVICES", "0")]).unwrap_err();
    assert!(err.message.contains("policy.default.max_devices"), "{err}");

    let err = load(&[("TOLLGATE_PROVIDERS__WHOP__SIGNATURE_TOLERANCE", "soon")]).unwrap_err();
    assert!(err.to_string().contains("signature_tolerance"), "{err}");
}

#[test]
fn a_token_the_check_would_not_compare_as_written_is_refused_at_start() {
    let padded = format!("a{}", " ".repeat(15));
    for (var, value, key) in [
        ("TOLLGATE_ADMIN__TOKEN", padded.as_str(), "admin.token"),
        ("TOLLGATE_ADMIN__TOKEN", "éééééééé", "admin.token"),
        (
            "TOLLGATE_SERVICE__TOKEN",
            " service-token-0123456789",
            "service.token",
        ),
        (
            "TOLLGATE_SERVICE__TOKEN",
            "service token 0123456789",
            "service.token",
        ),
    ] {
        let err = load(&[(var, value)]).unwrap_err();
        assert_eq!(err.key, key, "{value:?}");
        assert!(err.message.starts_with(&format!("({var}) contains")), "{err}");
    }
    // Blank is "not set": the API stays disabled, as before.
    assert!(
        !load(&[("TOLLGATE_ADMIN__TOKEN", "   ")])
            .unwrap()
            .admin
            .token
            .is_set()
    );
}

#[test]
fn a_numeric_looking_secret_stays_exactly_as_written() {
    let s = load(&[("TOLLGATE_ADMIN__TOKEN", "0012345678901234e5")]).unwrap();
    assert_eq!(s.admin.token.expose(), "0012345678901234e5");
}

#[test]
fn an_unknown_key_in_the_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(&file, "lisen = \"127.0.0.1:8080\"\n").unwrap();
    let err = Settings::load_from(ConfigFile::Explicit(&file), env(&[])).unwrap_err();
    assert_eq!(err.key, "lisen", "{err}");

    std::fs::write(&file, "[database]\nurll = \"sqlite://x.db\"\n").unwrap();
    let err = Settings::load_from(ConfigFile::Explicit(&file), env(&[])).unwrap_err();
    assert_eq!(err.key, "database.urll", "{err}");
}

#[test]
fn an_explicit_config_file_must_exist() {
    let err = Settings::load_from(
        ConfigFile::Explicit(Path::new("/nonexistent/tollgate.toml")),
        env(&[]),
    )
    .unwrap_err();
    assert_eq!(err.key, "/nonexistent/tollgate.toml");
}

#[test]
fn secrets_never_print() {
    let s = load(&[
        ("TOLLGATE_ADMIN__TOKEN", "admin-token-0123456789"),
        ("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", "ws_supersecret"),
        ("TOLLGATE_PROVIDERS__WHOP__API_KEY", "apikey_supersecret"),
    ])
    .unwrap();
    let printed = format!("{s:?}");
    assert!(!printed.contains("admin-token-0123456789"));
    assert!(!printed.contains("supersecret"));
    assert!(printed.contains("[redacted]"));
    assert_eq!(Secret::new("x").to_string(), "[redacted]");
    assert_eq!(Secret::default().to_string(), "[not set]");
}
