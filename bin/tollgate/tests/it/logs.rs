//! With every log record captured (message and key-values, at trace level), ingesting, refusing, replaying and
//! looking up webhooks logs no secret, token, license key, raw body, customer email or signature.
//!
//! The capturing logger is process-wide (`log::set_boxed_logger` once per process, at trace level): installed in
//! this binary's own process it would also capture, and slow, every other test running in parallel, and the
//! "nothing secret is logged" check would read their lines too. So each visible test re-runs this binary with only
//! its `#[ignore]`d child selected (`--exact`, one thread) and [`CHILD`] set; the child installs the logger in that
//! process and runs the test, and the visible test asserts it passed (as `tollgate-store`'s
//! `durability::sigkill_child_writer` does).

#![expect(clippy::unwrap_used, reason = "test helpers fail the test on any setup error")]

use std::fmt::Write as _;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use actix_web::http::StatusCode;
use tollgate_providers::aghanim::fake::FakeAghanim;
use tollgate_testkit::{WebhookBuilder, WebhookFormat};

use crate::harness::app::*;

/// Set in the child process: the `#[ignore]`d tests below return at once without it.
const CHILD: &str = "TOLLGATE_LOGS_TEST_CHILD";

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

struct Pairs(String);

impl<'kvs> log::kv::VisitSource<'kvs> for Pairs {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let mut pairs = Pairs(String::new());
        let _ = record.key_values().visit(&mut pairs);
        let line = format!(
            "{} {} {}{}",
            record.level(),
            record.target(),
            record.args(),
            pairs.0
        );
        LINES.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    fn flush(&self) {}
}

/// Re-run this test binary with only `logs::{child}` selected and [`CHILD`] set, and assert the child test ran and
/// passed (its output is printed on failure).
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

/// True in the child process (see [`run_child`]).
fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        log::set_boxed_logger(Box::new(Capture)).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
}

#[test]
fn nothing_secret_is_logged() {
    run_child("nothing_secret_is_logged_child");
}

#[actix_web::test]
#[ignore = "child process of nothing_secret_is_logged"]
async fn nothing_secret_is_logged_child() {
    if !is_child() {
        return;
    }
    install();
    let srv = TestServer::sqlite(&[]);
    let app = app(&srv.state).await;
    let mut signatures = Vec::new();
    let mut send_hook = async |format: WebhookFormat, hook: tollgate_testkit::SignedWebhook| {
        for name in ["webhook-signature", "X-Whop-Signature", "X-Aghanim-Signature"] {
            if let Some(sig) = hook.header(name) {
                signatures.push(sig.split(',').next_back().unwrap().to_owned());
            }
        }
        deliver(&app, format, &hook).await.status
    };
    let whop = fixture("whop/membership.activated.json");
    // Applied, duplicate, each provider.
    let hook = srv.sign(WebhookFormat::WhopCurrent, whop.clone());
    assert_eq!(
        send_hook(WebhookFormat::WhopCurrent, hook.clone()).await,
        StatusCode::OK
    );
    assert_eq!(
        send_hook(WebhookFormat::WhopCurrent, hook.clone()).await,
        StatusCode::OK
    );
    let legacy = srv.sign(
        WebhookFormat::WhopLegacy,
        fixture("whop/legacy.membership.went_valid.json"),
    );
    assert_eq!(send_hook(WebhookFormat::WhopLegacy, legacy).await, StatusCode::OK);
    let dodo = srv.sign(
        WebhookFormat::Dodo,
        fixture("dodo/entitlement_grant.delivered.license_key.json"),
    );
    assert_eq!(send_hook(WebhookFormat::Dodo, dodo).await, StatusCode::OK);
    let aghanim = srv.sign(
        FakeAghanim::WEBHOOK_FORMAT,
        fixture("aghanim/subscription.activated.json"),
    );
    assert_eq!(
        send_hook(FakeAghanim::WEBHOOK_FORMAT, aghanim).await,
        StatusCode::OK
    );
    // Refused: wrong secret, tampered, not JSON; stored failed.
    let wrong = WebhookBuilder::new(WebhookFormat::WhopCurrent, "ws_wrong_secret_value", whop.clone())
        .timestamp(srv.now().timestamp())
        .sign();
    assert_eq!(
        send_hook(WebhookFormat::WhopCurrent, wrong).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send_hook(WebhookFormat::WhopCurrent, hook.with_body(b"{}".to_vec())).await,
        StatusCode::UNAUTHORIZED
    );
    let not_json = srv.sign(
        WebhookFormat::Dodo,
        b"license TGL-4F7K2-9QXM3-PLR8D-77ZAB mira@example.com".to_vec(),
    );
    assert_eq!(
        send_hook(WebhookFormat::Dodo, not_json).await,
        StatusCode::BAD_REQUEST
    );
    let broken = srv.sign(
        WebhookFormat::WhopCurrent,
        fixture("malformed/whop_cancel_flag_string.json"),
    );
    assert_eq!(
        send_hook(WebhookFormat::WhopCurrent, broken).await,
        StatusCode::OK
    );
    // Admin: lookups (including the decrypted body), replay; a wrong token.
    let failed = inbox(&app, "status=failed").await;
    let id = failed[0]["id"].as_i64().unwrap();
    assert_eq!(
        get(&app, &format!("/admin/inbox/{id}"), Some(ADMIN_TOKEN))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        post(&app, "/admin/inbox/replay-failed", Some(ADMIN_TOKEN))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        admin_entitlement(&app, "whop", "mem_7Hq2LwZp0aXkR1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, "/admin/inbox", Some("admin-token-guess-0000"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(entitlements(&app, "whop", "user_Zx9Yw8Vu7").await.len(), 2);

    let lines = LINES.lock().unwrap().clone();
    let all = lines.join("\n");
    // The capture works: request ids and webhook outcomes are there, with their key-values.
    assert!(all.contains("request_id="), "{all}");
    assert!(
        all.contains("provider=whop") && all.contains("event_type=membership.activated"),
        "{all}"
    );
    assert!(
        all.contains("status=applied") && all.contains("status=duplicate"),
        "{all}"
    );
    assert!(all.contains("webhook refused: INVALID_SIGNATURE"), "{all}");

    let mut forbidden = vec![
        WHOP_SECRET.to_owned(),
        DODO_SECRET.to_owned(),
        DODO_SECRET.trim_start_matches("whsec_").to_owned(),
        AGHANIM_SECRET.to_owned(),
        "ws_wrong_secret_value".to_owned(),
        ADMIN_TOKEN.to_owned(),
        SERVICE_TOKEN.to_owned(),
        "admin-token-guess-0000".to_owned(),
        "TGL-4F7K2-9QXM3-PLR8D-77ZAB".to_owned(),
        "U-A09280-647203B0-2C0A9EW".to_owned(),
        "2b1f8e2d-c41e-4e8f-b2d3-d9fd61c38f43".to_owned(),
        "mira@example.com".to_owned(),
        "Deskpad Pro".to_owned(),
        "\"renewal_period_end\"".to_owned(),
    ];
    forbidden.extend(signatures);
    for secret in &forbidden {
        assert!(!all.contains(secret.as_str()), "`{secret}` was logged:\n{all}");
    }
}

#[test]
fn a_whop_key_without_a_permission_is_an_error_that_names_it() {
    run_child("a_whop_key_without_a_permission_is_an_error_that_names_it_child");
}

#[actix_web::test]
#[ignore = "child process of a_whop_key_without_a_permission_is_an_error_that_names_it"]
async fn a_whop_key_without_a_permission_is_an_error_that_names_it_child() {
    if !is_child() {
        return;
    }
    install();
    let whop = tollgate_providers::whop::fake::FakeWhop::start();
    whop.add_membership(tollgate_providers::whop::fake::FakeMembership::new(
        "mem_perm",
        "PERM-KEY-1111-2222",
    ));
    whop.set_permissions(&[]);
    let base = tollgate_testkit::FakeProvider::base_url(&whop);
    let srv = TestServer::sqlite(&[
        ("TOLLGATE_PROVIDERS__WHOP__API_BASE", base.as_str()),
        (
            "TOLLGATE_PROVIDERS__WHOP__API_KEY",
            tollgate_providers::whop::fake::FakeWhop::API_KEY,
        ),
        ("TOLLGATE_RATE_LIMIT__ENABLED", "false"),
    ]);
    let app = app(&srv.state).await;
    let activate = |hwid: &'static str| {
        actix_web::test::TestRequest::post()
            .uri("/api/license/activate")
            .set_json(serde_json::json!({"license_key": "PERM-KEY-1111-2222", "hwid": hwid}))
    };
    let reply = send(&app, activate("hw-perm-1")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text());
    // Read allowed, manage refused: the activation goes through and the binding write names its permission.
    whop.set_permissions(&["member:basic:read"]);
    let reply = send(&app, activate("hw-perm-1")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let lines = LINES.lock().unwrap().clone();
    let refusals: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("ERROR") && l.contains("Whop refused Tollgate's API key"))
        .collect();
    assert!(
        refusals.iter().any(|l| l.contains("permission=member:basic:read")
            && l.contains("`member:basic:read` permission")
            && l.contains("providers.whop.api_key")),
        "{refusals:#?}"
    );
    assert!(
        refusals.iter().any(|l| l.contains("permission=member:manage")),
        "{refusals:#?}"
    );
    assert!(!lines.join("\n").contains("PERM-KEY-1111-2222"));
}
