//! `tollgate keys rotate` and `tollgate reconcile` through the CLI's own `run`, against a server's SQLite database
//! (configured by a `--config` file, as an operator would).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::http::StatusCode;
use chrono::{SubsecRound as _, TimeDelta, Utc};
use clap::Parser as _;
use tollgate::app::{AppState, build_state};
use tollgate::cli::{Cli, run};
use tollgate::settings::{ConfigFile, Settings};
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_service::clock::ManualClock;
use tollgate_store::{Actor, EntitlementId};
use tollgate_testkit::FakeProvider as _;

use crate::harness::app::app;
use crate::harness::license::{WHOP_KEY, license};

/// A `tollgate.toml` for a SQLite database in `dir`, with the fake Whop as the provider.
fn config_file(dir: &Path, whop: &FakeWhop) -> PathBuf {
    let db = dir.join("tollgate.db");
    let path = dir.join("tollgate.toml");
    let text = format!(
        "[database]\nurl = \"sqlite://{}\"\n\n[providers.whop]\napi_key = \"{}\"\napi_base = \"{}\"\n\
         company_id = \"{}\"\n\n[rate_limit]\nenabled = false\n",
        db.display(),
        FakeWhop::API_KEY,
        whop.base_url(),
        FakeWhop::COMPANY_ID
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn server(config: &Path, clock: Arc<ManualClock>) -> AppState {
    let settings = Settings::load_from(ConfigFile::Explicit(config), std::iter::empty()).unwrap();
    build_state(Arc::new(settings), clock).unwrap()
}

fn cli(config: &Path, args: &[&str]) -> Result<(), tollgate::cli::CliError> {
    let mut argv = vec!["tollgate", "--config", config.to_str().unwrap()];
    argv.extend_from_slice(args);
    run(Cli::try_parse_from(argv).unwrap())
}

#[test]
fn keys_rotate_signs_with_a_new_key_and_keeps_the_old_one_published() {
    let whop = FakeWhop::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &whop);
    let state = server(&config, Arc::new(ManualClock::new(Utc::now().trunc_subsecs(0))));
    let leases = state.licensing().get().unwrap().leases().clone();
    assert_eq!(leases.current_kid().as_deref(), Some("lease-1"));

    cli(&config, &["keys", "rotate"]).unwrap();

    // The running server picks it up on its next reload (within 30 s; here at once).
    leases.refresh().unwrap();
    assert_eq!(leases.current_kid().as_deref(), Some("lease-2"));
    let mut kids: Vec<String> = leases.jwks().keys.into_iter().map(|k| k.kid).collect();
    kids.sort();
    assert_eq!(kids, ["lease-1", "lease-2"]);
    cli(&config, &["keys", "rotate"]).unwrap();
    leases.refresh().unwrap();
    assert_eq!(leases.current_kid().as_deref(), Some("lease-3"));
}

#[test]
fn reconcile_repairs_a_cancellation_the_webhook_never_reported() {
    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &whop);
    // The server's clock a minute behind the wall clock the CLI uses, so the CLI's observation is the newer one.
    let clock = Arc::new(ManualClock::new(
        Utc::now().trunc_subsecs(0) - TimeDelta::minutes(1),
    ));
    let state = server(&config, clock.clone());
    let system = actix_web::rt::System::new();
    let entitlement = system.block_on(async {
        let app = app(&state).await;
        let reply = license(&app, "activate", WHOP_KEY, "hw-1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()["entitlement"]["id"].as_str().unwrap().to_owned()
    });

    assert!(whop.set_status("mem_1", "canceled"));
    cli(&config, &["reconcile", "--provider", "whop"]).unwrap();

    let audit = state
        .store()
        .list_audit(&EntitlementId::new(entitlement), 10)
        .unwrap();
    let reasons: Vec<&str> = audit
        .iter()
        .filter(|a| a.actor == Actor::Reconcile)
        .filter_map(|a| a.detail.as_deref())
        .collect();
    assert_eq!(reasons.len(), 1, "{audit:?}");
    assert!(
        reasons[0].starts_with("reconcile: whop membership mem_1: status active -> canceled"),
        "{}",
        reasons[0]
    );
    clock.advance(TimeDelta::minutes(2));
    system.block_on(async {
        let app = app(&state).await;
        assert_eq!(
            license(&app, "validate", WHOP_KEY, "hw-1").await.code(),
            "LICENSE_INACTIVE"
        );
    });

    // Asking for a provider without an API key is a usage error.
    let err = cli(&config, &["reconcile", "--provider", "aghanim"]).unwrap_err();
    assert!(err.to_string().contains("providers.aghanim.api_key"), "{err}");
}
