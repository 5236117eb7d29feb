//! Group commit through HTTP: a full commit queue answers `503 STORAGE_UNAVAILABLE` with `Retry-After` at once,
//! the deliveries already queued are answered `200` once committed, and the provider's resend is then applied.
//! (Concurrent deliveries with resends through the committer: `crates/service/tests/it/ingest_commit.rs`, and at
//! scale `tests/it/scale/`.)

use actix_web::http::StatusCode;
use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, SqliteConnection};
use tollgate_providers::whop::sample::WhopMembership;
use tollgate_testkit::WebhookFormat;

use crate::harness::app::*;

/// A Whop activation of `mem_http_{n}`, delivered as `msg_http_{n}`.
fn activation(srv: &TestServer, n: usize) -> tollgate_testkit::SignedWebhook {
    let at = srv.now() - chrono::TimeDelta::hours(1);
    let body = WhopMembership {
        webhook_id: &format!("msg_http_{n}"),
        event_type: "membership.activated",
        membership_id: &format!("mem_http_{n}"),
        user_id: "user_http",
        member_id: &format!("mber_http_{n}"),
        license_key: &format!("LIC-HTTP-{n:04}"),
        status: "active",
        cancel_at_period_end: false,
        canceled_at: None,
        cancellation_reason: None,
        start: at,
        period_end: at + chrono::TimeDelta::days(30),
        at,
    }
    .body();
    srv.sign(WebhookFormat::WhopCurrent, body.to_string().into_bytes())
}

/// Wait, without sleeping, until `ready` holds (the committer's writer runs on its own thread).
async fn until(ready: impl Fn() -> bool) {
    while !ready() {
        tokio::task::yield_now().await;
    }
}

#[actix_web::test]
async fn a_full_commit_queue_is_503_at_once_and_the_resend_applies() {
    // SQLite: another connection's write lock holds the one writer up, deterministically.
    let srv = TestServer::sqlite(&[
        ("TOLLGATE_WEBHOOKS__COMMIT_QUEUE", "1"),
        ("TOLLGATE_WEBHOOKS__COMMIT_WRITERS", "1"),
        ("TOLLGATE_DATABASE__CONNECT_TIMEOUT", "60s"),
    ]);
    let app = app(&srv.state).await;
    let committer = srv.state.committer();
    let hooks: Vec<_> = (0..3).map(|n| activation(&srv, n)).collect();
    let mut lock = SqliteConnection::establish(srv.sqlite_path().to_str().unwrap()).unwrap();
    lock.batch_execute("BEGIN IMMEDIATE").unwrap();

    let first = deliver(&app, WebhookFormat::WhopCurrent, &hooks[0]);
    let rest = async {
        // The writer has taken the first delivery and waits for the write lock: the queue is empty.
        until(|| committer.committing() == 1).await;
        let second = deliver(&app, WebhookFormat::WhopCurrent, &hooks[1]);
        let third = async {
            until(|| committer.queued() == 1).await;
            let refused = deliver(&app, WebhookFormat::WhopCurrent, &hooks[2]).await;
            lock.batch_execute("ROLLBACK").unwrap();
            refused
        };
        tokio::join!(second, third)
    };
    let (first, (second, refused)) = tokio::join!(first, rest);
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text()
    );
    assert_eq!(refused.code(), "STORAGE_UNAVAILABLE");
    assert_eq!(refused.headers.get("retry-after").unwrap(), "5");
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    assert_eq!(inbox(&app, "limit=10").await.len(), 2);
    // The provider redelivers the refused one.
    let resent = deliver(&app, WebhookFormat::WhopCurrent, &hooks[2]).await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text());
    assert_eq!(entitlements(&app, "whop", "user_http").await.len(), 3);
}
