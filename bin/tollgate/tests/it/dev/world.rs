//! The dev world through its `--json` line: the agreed interface, each demo key's documented answer, the outage
//! switch, `/healthz`, and what `tollgate dev` refuses.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::harness::dev::{Dev, call, code, license};

/// Upper-case letters and digits in groups joined by dashes, like a real key.
fn looks_real(key: &str) -> bool {
    let groups: Vec<&str> = key.split('-').collect();
    groups.len() >= 3
        && groups
            .iter()
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

#[test]
fn the_json_line_is_the_agreed_interface_and_every_demo_key_answers_as_documented() {
    let (mut dev, info) = Dev::json(&[], &[]);
    let names = |value: &Value| -> BTreeSet<String> { value.as_object().unwrap().keys().cloned().collect() };
    let set = |names: &[&str]| -> BTreeSet<String> { names.iter().map(ToString::to_string).collect() };
    assert_eq!(
        names(&info),
        set(&[
            "server_url",
            "admin_token",
            "service_token",
            "jwks",
            "keys",
            "providers"
        ])
    );
    assert_eq!(names(&info["providers"]), set(&["whop", "dodo", "aghanim"]));
    // Nothing else was printed on stdout: one line, then logs on stderr.
    assert_eq!(dev.more_stdout(), Vec::<String>::new());
    let server = info["server_url"].as_str().unwrap();
    assert!(server.starts_with("http://127.0.0.1:"), "{server}");
    let keys = &info["keys"];
    assert_eq!(names(keys), set(&["active", "canceled", "node_locked", "dodo"]));
    for (name, key) in keys.as_object().unwrap() {
        assert!(looks_real(key.as_str().unwrap()), "{name}: {key}");
    }
    for provider in ["whop", "dodo", "aghanim"] {
        let fake = &info["providers"][provider];
        assert!(
            fake["api_base"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:"),
            "{provider}: {fake}"
        );
        assert!(!fake["webhook_secret"].as_str().unwrap().is_empty());
        assert_eq!(names(fake), set(&["api_base", "webhook_secret"]));
    }
    assert!(info["admin_token"].as_str().unwrap().len() >= 32);
    assert_ne!(info["admin_token"], info["service_token"]);

    assert_eq!(
        call("GET", &format!("{server}/healthz"), None, None),
        (200, json!({"status": "ok", "mode": "dev"}))
    );
    // The JWKS printed is the one served, and it signs the leases handed out.
    let (status, served) = call("GET", &format!("{server}/.well-known/jwks.json"), None, None);
    assert_eq!((status, &served), (200, &info["jwks"]));
    let kid = served["keys"][0]["kid"].as_str().unwrap().to_owned();

    let key = |name: &str| keys[name].as_str().unwrap().to_owned();
    // active: a Whop membership under the default policy, 2 devices.
    let first = license(server, "activate", &key("active"), "laptop-1");
    assert_eq!(code(&first), (200, "VALID"));
    let token = first.1["lease"]["token"].as_str().unwrap();
    let header = token.split('.').next().unwrap();
    use base64::Engine as _;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("EdDSA"), Some(kid.as_str()))
    );
    assert_eq!(
        code(&license(server, "validate", &key("active"), "laptop-1")),
        (200, "VALID")
    );
    assert_eq!(
        code(&license(server, "activate", &key("active"), "laptop-2")),
        (200, "VALID")
    );
    assert_eq!(
        code(&license(server, "activate", &key("active"), "laptop-3")),
        (409, "DEVICE_LIMIT_REACHED")
    );
    assert_eq!(
        code(&license(server, "deactivate", &key("active"), "laptop-2")),
        (200, "DEACTIVATED")
    );
    // canceled: 403 LICENSE_INACTIVE.
    assert_eq!(
        code(&license(server, "activate", &key("canceled"), "laptop-1")),
        (403, "LICENSE_INACTIVE")
    );
    // node_locked: one device; a second gets 409 DEVICE_MISMATCH.
    assert_eq!(
        code(&license(server, "activate", &key("node_locked"), "laptop-1")),
        (200, "VALID")
    );
    assert_eq!(
        code(&license(server, "activate", &key("node_locked"), "laptop-2")),
        (409, "DEVICE_MISMATCH")
    );
    // dodo: an active Dodo key, activations limit 3.
    for hwid in ["pc-1", "pc-2", "pc-3"] {
        let answer = license(server, "activate", &key("dodo"), hwid);
        assert_eq!(code(&answer), (200, "VALID"), "{hwid}");
        assert_eq!(answer.1["entitlement"]["provider"], "dodo");
    }
    assert_eq!(
        code(&license(server, "activate", &key("dodo"), "pc-4")),
        (409, "DEVICE_LIMIT_REACHED")
    );
    // The Aghanim player was seeded through a signed webhook: the service API answers for it.
    let service = info["service_token"].as_str().unwrap();
    let (status, found) = call(
        "GET",
        &format!("{server}/api/entitlements?provider=aghanim&subject=TGDEV-PLYR-4W7C"),
        Some(service),
        None,
    );
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["entitlements"][0]["access"]["code"], "VALID");

    let status = dev.stop();
    assert_eq!(status.code(), Some(0), "{}", dev.logs());
    let logs = dev.logs();
    assert!(
        logs.contains("WARN  tollgate::cli::dev] DEV: tollgate dev runs with fake"),
        "{logs}"
    );
    assert!(logs.contains("tollgate stopped"), "{logs}");
}

#[test]
fn the_outage_switch_makes_a_fake_answer_503_until_it_is_switched_back() {
    let (mut dev, info) = Dev::json(&[], &[]);
    let server = info["server_url"].as_str().unwrap();
    let admin = info["admin_token"].as_str().unwrap();
    let whop = info["providers"]["whop"]["api_base"].as_str().unwrap();
    let active = info["keys"]["active"].as_str().unwrap();
    let dodo = info["keys"]["dodo"].as_str().unwrap();
    let switch = |provider: &str, token: Option<&str>, body: Value| {
        call(
            "POST",
            &format!("{server}/dev/providers/{provider}/outage"),
            token,
            Some(body),
        )
    };

    assert_eq!(
        code(&switch("whop", None, json!({"down": true}))),
        (401, "UNAUTHORIZED")
    );
    assert_eq!(
        code(&switch(
            "whop",
            Some("not-the-admin-token-000"),
            json!({"down": true})
        )),
        (401, "UNAUTHORIZED")
    );
    assert_eq!(
        code(&switch("stripe", Some(admin), json!({"down": true}))),
        (404, "NOT_FOUND")
    );
    assert_eq!(
        code(&switch("whop", Some(admin), json!({"down": "yes"}))),
        (400, "INVALID_REQUEST")
    );

    assert_eq!(
        switch("whop", Some(admin), json!({"down": true})),
        (204, Value::Null)
    );
    // The fake itself answers 503 to every request...
    let (status, _) = call("GET", &format!("{whop}/api/v1/memberships/anything"), None, None);
    assert_eq!(status, 503);
    // ...so an activation that must ask Whop is PROVIDER_UNAVAILABLE, while Dodo is untouched.
    assert_eq!(
        code(&license(server, "activate", active, "laptop-1")),
        (503, "PROVIDER_UNAVAILABLE")
    );
    assert_eq!(code(&license(server, "activate", dodo, "pc-1")), (200, "VALID"));
    assert_eq!(
        switch("whop", Some(admin), json!({"down": false})),
        (204, Value::Null)
    );
    assert_eq!(
        code(&license(server, "activate", active, "laptop-1")),
        (200, "VALID")
    );

    assert_eq!(
        switch("dodo", Some(admin), json!({"down": true})),
        (204, Value::Null)
    );
    assert_eq!(
        code(&license(server, "activate", dodo, "pc-2")),
        (503, "PROVIDER_UNAVAILABLE")
    );
    assert_eq!(
        switch("dodo", Some(admin), json!({"down": false})),
        (204, Value::Null)
    );
    assert_eq!(code(&license(server, "activate", dodo, "pc-2")), (200, "VALID"));

    // Aghanim's switch reaches its fake too: a reconciliation run reports the failed listing.
    assert_eq!(
        switch("aghanim", Some(admin), json!({"down": true})),
        (204, Value::Null)
    );
    let (status, report) = call(
        "POST",
        &format!("{server}/admin/reconcile?provider=aghanim"),
        Some(admin),
        None,
    );
    assert_eq!(status, 200, "{report}");
    let errors = report["providers"][0]["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{report}");
    assert_eq!(
        switch("aghanim", Some(admin), json!({"down": false})),
        (204, Value::Null)
    );
    let (_, report) = call(
        "POST",
        &format!("{server}/admin/reconcile?provider=aghanim"),
        Some(admin),
        None,
    );
    assert_eq!(report["providers"][0]["errors"], json!([]), "{report}");

    assert_eq!(dev.stop().code(), Some(0));
    assert!(
        dev.logs().contains("DEV: the fake whop is down"),
        "{}",
        dev.logs()
    );
}

#[test]
fn dev_refuses_a_non_loopback_listen_address_and_a_directory_it_did_not_make() {
    let cwd = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        crate::harness::dev::tollgate(cwd.path())
            .arg("dev")
            .args(args)
            .output()
            .unwrap()
    };

    let refused = run(&["--listen", "0.0.0.0:0"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("error: --listen 0.0.0.0:0 is not a loopback address"),
        "{stderr}"
    );
    let refused = run(&["--listen", "localhost:8080"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not an address: write IP:PORT"));

    let foreign = cwd.path().join("data");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("tollgate.db"), b"a real database").unwrap();
    let refused = run(&["--listen", "127.0.0.1:0", "--dir", "data"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("holds files that tollgate dev did not make"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(foreign.join("tollgate.db")).unwrap(),
        b"a real database"
    );
}

#[test]
fn each_start_is_a_new_world_in_the_same_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let dir = cwd.path().join("world").display().to_string();
    let args = ["--listen", "127.0.0.1:0", "--dir", dir.as_str(), "--json"];
    let start = || {
        let mut dev = Dev::spawn(&args, &[], &[]);
        let info: Value = serde_json::from_str(&dev.line()).unwrap();
        (dev, info)
    };
    let (mut dev, info) = start();
    let server = info["server_url"].as_str().unwrap().to_owned();
    let key = info["keys"]["node_locked"].as_str().unwrap().to_owned();
    assert_eq!(
        code(&license(&server, "activate", &key, "laptop-1")),
        (200, "VALID")
    );
    let config = std::path::Path::new(&dir).join("tollgate.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the config holds this run's secrets");
    }
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains(&format!("listen = \"{}\"", server.trim_start_matches("http://")))
    );
    assert_eq!(dev.stop().code(), Some(0));

    let (mut again, info) = start();
    let server = info["server_url"].as_str().unwrap();
    // The node-locked key is free again: the old database is gone, and so is its device.
    assert_eq!(
        code(&license(server, "activate", &key, "laptop-2")),
        (200, "VALID")
    );
    assert_eq!(again.stop().code(), Some(0));
}
