//! `--help`, `migrate`, `doctor`, `inbox`, `entitlements` and configuration errors, through the real binary.

use serde_json::Value;

use crate::cli::cli_support::{Sandbox, sqlite_migrations};

const DODO_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check `{id}` in {report:#}"))
}

#[test]
fn the_help_of_every_command_teaches_with_an_example() {
    let sandbox = Sandbox::new();
    let mut commands: Vec<&[&str]> = vec![
        &[],
        &["serve"],
        &["migrate"],
        &["doctor"],
        &["inbox", "list"],
        &["inbox", "show"],
        &["inbox", "replay"],
        &["inbox", "import"],
        &["entitlements", "show"],
        &["verify-webhook"],
        &["simulate", "webhook"],
        &["openapi"],
    ];
    if cfg!(feature = "dev") {
        commands.push(&["dev"]);
    }
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let run = sandbox.ok(&args);
        assert!(
            run.stdout.contains("Example"),
            "`tollgate {}` has no example:\n{}",
            args.join(" "),
            run.stdout
        );
    }
}

#[test]
fn migrate_creates_and_migrates_a_fresh_sqlite_file_then_has_nothing_to_do() {
    let sandbox = Sandbox::new().with("TOLLGATE_DATABASE__URL", "sqlite://fresh.db");
    let run = sandbox.ok(&["migrate"]);
    let expected = sqlite_migrations();
    assert!(!expected.is_empty());
    assert!(
        run.stdout.starts_with(&format!(
            "applied {} migration(s) to the sqlite database:\n",
            expected.len()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), expected.len() + 1);
    assert!(sandbox.path("fresh.db").is_file());
    let keys = sandbox.path("fresh.db.keys");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(keys.is_file());

    let again = sandbox.ok(&["migrate"]);
    assert_eq!(
        again.stdout,
        "sqlite database is up to date: no migration to apply\n"
    );
}

#[test]
fn doctor_on_a_fresh_setup_lists_pending_items_exits_0_and_creates_nothing() {
    // A free address: doctor connects to it, and finds nothing there before the first start.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let sandbox = Sandbox::new().with("TOLLGATE_LISTEN", &listen);
    let run = sandbox.ok(&["doctor", "--json"]);
    let report = run.json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["broken"], 0);
    for (id, status) in [
        ("configuration", "done"),
        ("database.reachable", "pending"),
        ("database.migrations", "pending"),
        ("database.keys", "pending"),
        ("providers.whop.webhook_secret", "pending"),
        ("providers.whop.api_key", "pending"),
        ("providers.dodo.webhook_secret", "pending"),
        ("providers.aghanim.webhook_secret", "pending"),
        ("admin.token", "pending"),
        ("service.token", "pending"),
        ("policy", "done"),
        ("policy.default.purchase_url", "pending"),
        ("listen", "pending"),
    ] {
        assert_eq!(check(&report, id)["status"], status, "{id}");
    }
    let whop = check(&report, "providers.whop.webhook_secret");
    assert!(
        whop["fix"]
            .as_str()
            .unwrap()
            .contains("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET")
    );
    assert!(whop["fix"].as_str().unwrap().contains("Developer → Webhooks"));
    let notes = whop["notes"].to_string();
    assert!(
        notes.contains(&format!("http://{listen}/api/webhooks/whop")),
        "{notes}"
    );
    assert!(
        notes.contains(
            "membership.activated, membership.deactivated, membership.cancel_at_period_end_changed"
        ),
        "{notes}"
    );
    assert!(
        check(&report, "providers.dodo.webhook_secret")["notes"]
            .to_string()
            .contains("entitlement_grant.*")
    );
    assert!(
        check(&report, "providers.aghanim.webhook_secret")["notes"]
            .to_string()
            .contains("subscription.*")
    );
    assert!(
        check(&report, "admin.token")["fix"]
            .as_str()
            .unwrap()
            .contains("TOLLGATE_ADMIN__TOKEN")
    );
    assert!(
        !sandbox.path("tollgate.db").exists(),
        "doctor must not create the database"
    );
    assert!(
        !sandbox.path("tollgate.db.keys").exists(),
        "doctor must not create the key file"
    );

    let human = sandbox.ok(&["doctor"]);
    assert!(
        human
            .stdout
            .contains("○ webhook secret not set: POST /api/webhooks/whop answers 503")
    );
    assert!(human.stdout.contains("✔ the configuration loads and validates"));
    assert!(human.stdout.contains(" pending, 0 broken. Nothing is broken"));
}

#[test]
fn doctor_reports_an_invalid_dodo_secret_as_broken_and_exits_1() {
    let sandbox = Sandbox::new().with("TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET", "whsec_not*base64!");
    let run = sandbox.run(&["doctor", "--json"]);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        (report["ok"].clone(), report["broken"].clone()),
        (Value::Bool(false), Value::from(1))
    );
    let dodo = check(&report, "providers.dodo.webhook_secret");
    assert_eq!(dodo["status"], "broken");
    assert_eq!(
        dodo["summary"],
        "webhook secret unusable: providers.dodo.webhook_secret is not valid base64 after its whsec_ prefix"
    );
    assert!(dodo["fix"].as_str().unwrap().contains("Signing secret"));
    assert_eq!(
        run.stderr.trim_end(),
        "error: 1 item is broken (marked ✘ above); fix it and run `tollgate doctor` again"
    );
}

#[test]
fn doctor_on_a_configured_setup_marks_items_done() {
    let mut sandbox = Sandbox::new()
        .with("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", "ws_0123456789abcdef")
        .with("TOLLGATE_PROVIDERS__WHOP__API_KEY", "whop-api-key")
        .with("TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET", DODO_SECRET)
        .with(
            "TOLLGATE_PROVIDERS__DODO__PREVIOUS_WEBHOOK_SECRETS",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .with("TOLLGATE_PROVIDERS__AGHANIM__WEBHOOK_SECRET", "aghanim_secret")
        .with("TOLLGATE_ADMIN__TOKEN", "admin-token-0123456789")
        .with("TOLLGATE_SERVICE__TOKEN", "service-token-0123456789")
        .with(
            "TOLLGATE_POLICY__DEFAULT__PURCHASE_URL",
            "https://example.com/buy",
        );
    sandbox.ok(&["migrate"]);
    let report = sandbox.ok(&["doctor", "--json"]).json();
    for id in [
        "database.reachable",
        "database.migrations",
        "database.keys",
        "providers.whop.webhook_secret",
        "providers.whop.api_key",
        "providers.dodo.webhook_secret",
        "providers.aghanim.webhook_secret",
        "admin.token",
        "service.token",
    ] {
        assert_eq!(check(&report, id)["status"], "done", "{id}: {report:#}");
    }
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != "policy.default.purchase_url")
    );
    assert_eq!(
        check(&report, "providers.dodo.webhook_secret")["summary"],
        "webhook secret set (whsec_…), plus 1 previous secret(s) accepted during a rotation"
    );

    // A Whop secret of the wrong shape (an API key pasted by mistake) is pending, not done.
    sandbox.set("TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET", "apik_wrong_thing");
    let report = sandbox.ok(&["doctor", "--json"]).json();
    let whop = check(&report, "providers.whop.webhook_secret");
    assert_eq!(whop["status"], "pending");
    assert!(
        whop["summary"]
            .as_str()
            .unwrap()
            .contains("does not start with ws_")
    );
}

#[test]
fn doctor_flags_a_product_rule_without_purchase_url() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "tollgate.toml",
        "[[policy.products]]\nprovider = \"whop\"\nproduct = \"prod_1\"\nmax_devices = 2\n\n\
         [[policy.products]]\nprovider = \"dodo\"\nproduct = \"ent_1\"\npurchase_url = \"https://example.com/dodo\"\n",
    );
    let report = sandbox.ok(&["doctor", "--json"]).json();
    assert_eq!(
        check(&report, "policy")["summary"],
        "the policy is valid: the default and 2 product rule(s)"
    );
    let rule = check(&report, "policy.products[0].purchase_url");
    assert_eq!(rule["status"], "pending");
    assert_eq!(
        rule["summary"],
        "the product rule policy.products[0] (whop prod_1) has no purchase_url"
    );
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != "policy.products[1].purchase_url")
    );
}

#[test]
fn doctor_reports_a_configuration_that_does_not_load_as_broken() {
    let sandbox = Sandbox::new().with("TOLLGATE_LISTEN", "localhost");
    let run = sandbox.run(&["doctor"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout
            .contains("✘ the configuration does not load: configuration key `listen`"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_invalid_configuration_key_is_named_with_exit_code_2() {
    let sandbox = Sandbox::new().with("TOLLGATE_DATABASE__URLL", "sqlite://x.db");
    let run = sandbox.run(&["migrate"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.starts_with("error: configuration key `database.urll`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("unknown field `urll`"), "{}", run.stderr);
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "one clean error line: {}",
        run.stderr
    );

    let sandbox = Sandbox::new().with("TOLLGATE_RECONCILE__EVERY", "10s");
    let run = sandbox.run(&["inbox", "list"]);
    assert_eq!(run.code, Some(2));
    assert_eq!(
        run.stderr.trim_end(),
        "error: configuration key `reconcile.every`: must be at least 60s; providers rate-limit their APIs"
    );

    let sandbox = Sandbox::new();
    sandbox.write("tollgate.toml", "[webhooks]\nmax_body_bytez = 5\n");
    let run = sandbox.run(&["serve"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("max_body_bytez"), "{}", run.stderr);

    let run = sandbox.run(&["--config", "missing.toml", "doctor"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout.contains("the --config file does not exist"),
        "{}",
        run.stdout
    );

    let run = sandbox.run(&["--config", "missing.toml", "migrate"]);
    assert_eq!(run.code, Some(2));
    assert_eq!(
        run.stderr.trim_end(),
        "error: configuration key `missing.toml`: the --config file does not exist or is not a file"
    );
}

#[test]
fn read_commands_need_an_existing_migrated_database() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["inbox", "list"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .starts_with("error: the database tollgate.db does not exist yet: run `tollgate migrate`")
    );
    assert!(!sandbox.path("tollgate.db").exists());
}

#[test]
fn inbox_and_entitlements_on_an_empty_database() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["migrate"]);
    assert_eq!(
        sandbox.ok(&["inbox", "list"]).stdout,
        "no stored webhook deliveries match\n"
    );
    assert_eq!(
        sandbox
            .ok(&["inbox", "list", "--status", "failed", "--json"])
            .json(),
        serde_json::json!({"events": []})
    );
    assert_eq!(
        sandbox.ok(&["inbox", "replay", "--failed"]).stdout,
        "no failed deliveries to replay\n"
    );

    let run = sandbox.run(&["inbox", "list", "--status", "broken"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("unknown inbox status `broken`"));

    let run = sandbox.run(&["inbox", "show", "7"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr.trim_end(),
        "error: no stored webhook delivery with id 7: `tollgate inbox list` shows the ids"
    );
    let run = sandbox.run(&["inbox", "replay", "7"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("no stored webhook delivery with id 7"));

    let run = sandbox.run(&["entitlements", "show", "whop", "mem_nobody"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .starts_with("error: no whop entitlement has the id or subject `mem_nobody`")
    );

    let run = sandbox.run(&["entitlements", "show", "paypal", "x"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("unknown provider `paypal`"), "{}", run.stderr);
}

#[test]
fn simulate_needs_a_secret_and_a_known_event() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&[
        "simulate",
        "webhook",
        "--provider",
        "whop",
        "--event",
        "membership.activated",
    ]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("set TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET"),
        "{}",
        run.stderr
    );

    let run = sandbox.run(&[
        "simulate",
        "webhook",
        "--provider",
        "dodo",
        "--event",
        "membership.activated",
    ]);
    assert_eq!(run.code, Some(2));
    assert_eq!(
        run.stderr.trim_end(),
        "error: no dodo template for `membership.activated`: choose one of entitlement_grant.delivered, \
         entitlement_grant.revoked"
    );
}
