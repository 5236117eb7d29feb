//! Structured logs carry the documented fields, and never a license key or API key.
//!
//! The capturing logger is process-wide (`log::set_logger` once per process): installed in this binary's own process
//! it would also capture the other tests' provider calls, running in parallel. So the visible test re-runs this
//! binary with only its `#[ignore]`d child selected (`--exact`, one thread) and [`CHILD`] set; the child installs the
//! logger in that process and runs the test, and the visible test asserts it passed (as `tollgate-store`'s
//! `durability::sigkill_child_writer` does).

use std::process::Command;
use std::sync::Mutex;

use log::kv::{Key, Value, VisitSource};
use serde_json::json;
use tollgate_providers::dodo::fake::{FakeDodo, FakeLicenseKey};
use tollgate_providers::dodo::{DodoApi, DodoClient};
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_providers::whop::{MembershipRef, WhopApi, WhopClient, WhopOptions};
use tollgate_providers::{ApiKey, CallContext, ClientConfig, RetryPolicy};
use tollgate_testkit::{FakeProvider, Fault};

/// Set in the child process: the `#[ignore]`d test below returns at once without it.
const CHILD: &str = "TOLLGATE_PROVIDERS_LOGS_TEST_CHILD";

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

struct Pairs(String);

impl<'kvs> VisitSource<'kvs> for Pairs {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        self.0.push_str(&format!(" {key}={value}"));
        Ok(())
    }
}

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        if !record.target().starts_with("tollgate_providers") {
            return;
        }
        let mut pairs = Pairs(format!("{} {}", record.level(), record.args()));
        let _ = record.key_values().visit(&mut pairs);
        LINES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(pairs.0);
    }

    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

const WHOP_KEY: &str = "KEY-SECRET-WHOP-9Z8Y";
const DODO_KEY: &str = "dodo-secret-license-7X6W";

/// Re-run this test binary with only `logs::{child}` selected and [`CHILD`] set, and assert the child test ran and
/// passed (its output is printed on failure).
#[expect(
    clippy::unwrap_used,
    reason = "a test helper fails the test on any setup error"
)]
fn run_child(child: &str) {
    let name = format!("logs::{child}");
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            name.as_str(),
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the child test `{name}` failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
}

#[test]
fn logs_have_fields_and_no_secrets() {
    run_child("logs_have_fields_and_no_secrets_child");
}

#[tokio::test]
#[ignore = "child process of logs_have_fields_and_no_secrets"]
async fn logs_have_fields_and_no_secrets_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
    // Announce the route's retirement on every answer, as Whop's v2 answers did.
    whop.add_response_header("Deprecation", "@1791417600");
    whop.add_response_header("Sunset", "Fri, 13 Nov 2026 00:00:00 GMT");
    let mut config = ClientConfig::new(whop.base_url(), Some(ApiKey::new(FakeWhop::API_KEY)));
    config.retry = RetryPolicy {
        initial_backoff: std::time::Duration::from_millis(1),
        ..RetryPolicy::default()
    };
    let api = WhopClient::new(&config, WhopOptions::default()).unwrap();
    let ctx = CallContext::with_request_id("req-42");
    let found = api
        .retrieve_membership(&ctx, MembershipRef::LicenseKey(WHOP_KEY))
        .await
        .unwrap()
        .unwrap();
    // A refused write (a key value over Whop's 500-character limit), then a 503 retried.
    let mut too_long = found.metadata.clone();
    too_long.insert("note".to_owned(), json!("x".repeat(501)));
    api.update_metadata(&ctx, "mem_1", &too_long).await.unwrap_err();
    whop.fail_next(Fault::Status(503), 1);
    api.retrieve_membership(&ctx, MembershipRef::Id("mem_1"))
        .await
        .unwrap()
        .unwrap();

    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", DODO_KEY, Some(0)));
    let dodo_api = DodoClient::new(&ClientConfig::new(
        dodo.base_url(),
        Some(ApiKey::new(FakeDodo::API_KEY)),
    ))
    .unwrap();
    dodo_api.activate_license(&ctx, DODO_KEY, "pc").await.unwrap();

    let lines = LINES.lock().unwrap().clone();
    assert!(lines.len() >= 6, "{lines:#?}");
    for line in &lines {
        for secret in [WHOP_KEY, DODO_KEY, FakeWhop::API_KEY, FakeDodo::API_KEY] {
            assert!(!line.contains(secret), "secret in log line: {line}");
        }
        if !line.contains("notice=") {
            assert!(line.contains("request_id=req-42"), "{line}");
            assert!(line.contains("duration_ms="), "{line}");
        }
    }
    let refused = lines
        .iter()
        .find(|l| l.contains("status=422"))
        .expect("the 422 is logged");
    assert!(refused.starts_with("WARN provider call failed"), "{refused}");
    assert!(refused.contains("provider=whop"), "{refused}");
    assert!(refused.contains("membership_id=mem_1"), "{refused}");
    assert!(
        refused.contains("method=PATCH route=/api/v1/memberships/{id}"),
        "{refused}"
    );
    assert!(
        refused.contains("at most 500 characters"),
        "the provider's error body: {refused}"
    );
    let retried = lines
        .iter()
        .find(|l| l.contains("status=503"))
        .expect("the 503 is logged");
    assert!(retried.contains("retrying=true"), "{retried}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("key_last4=9Z8Y") && l.contains("route=/api/v1/memberships/{id}")),
        "{lines:#?}"
    );
    // The deprecation notice: one WARN for the route today, however many answers carried it.
    let notices: Vec<&String> = lines.iter().filter(|l| l.contains("notice=")).collect();
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert!(
        notices[0].starts_with("WARN the provider announced"),
        "{}",
        notices[0]
    );
    assert!(
        notices[0].contains("notice=Deprecation: @1791417600; Sunset: Fri, 13 Nov 2026 00:00:00 GMT"),
        "{}",
        notices[0]
    );
    let limit = lines
        .iter()
        .find(|l| l.contains("provider=dodo") && l.contains("status=422"))
        .expect("the 422 is logged");
    assert!(limit.contains("LICENSE_KEY_LIMIT_REACHED"), "{limit}");
    assert!(limit.contains("key_last4=7X6W"), "{limit}");
}
