//! The database becomes unavailable mid-run: the webhook gets `503 STORAGE_UNAVAILABLE` with nothing stored, and
//! the provider's redelivery after recovery is applied exactly once.
//!
//! SQLite: another connection holds the write lock (`BEGIN IMMEDIATE`) past the store's busy timeout. PostgreSQL:
//! the test's own role is made `NOLOGIN` and its backends are terminated, so the pool cannot reconnect.

use std::time::Duration;

use actix_web::http::StatusCode;
use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, SqliteConnection};
use serde_json::json;
use tollgate_testkit::WebhookFormat;

use crate::harness::app::*;

/// Makes the database unavailable until dropped.
enum Outage {
    Sqlite(SqliteConnection),
    Postgres(diesel::PgConnection, String),
}

impl Outage {
    fn start(srv: &TestServer) -> Outage {
        match srv.backend {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(srv.sqlite_path().to_str().unwrap()).unwrap();
                conn.batch_execute("BEGIN IMMEDIATE").unwrap();
                Outage::Sqlite(conn)
            }
            Backend::Postgres => {
                let role = srv.pg_role().unwrap().to_owned();
                let mut admin = srv.pg_admin();
                admin
                    .batch_execute(&format!(
                        "ALTER ROLE {role} NOLOGIN;
                         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}';"
                    ))
                    .unwrap();
                Outage::Postgres(admin, role)
            }
        }
    }

    fn end(self) {
        match self {
            Outage::Sqlite(mut conn) => conn.batch_execute("ROLLBACK").unwrap(),
            Outage::Postgres(mut admin, role) => {
                admin.batch_execute(&format!("ALTER ROLE {role} LOGIN")).unwrap()
            }
        }
    }
}

#[actix_web::test]
async fn storage_unavailable_is_503_and_the_redelivery_applies_once() {
    both(&[], async |srv| {
        let state = srv.impatient_state(Duration::from_millis(200), Duration::from_millis(500));
        let app = app(&state).await;
        let hook = srv.sign(
            WebhookFormat::WhopCurrent,
            fixture("whop/membership.activated.json"),
        );

        let outage = Outage::start(&srv);
        let reply = deliver(&app, WebhookFormat::WhopCurrent, &hook).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text());
        assert_eq!(reply.code(), "STORAGE_UNAVAILABLE");
        assert_eq!(reply.headers.get("retry-after").unwrap(), "5");
        assert!(
            !reply.text().contains("locked") && !reply.text().contains("role"),
            "no internal cause: {}",
            reply.text()
        );
        // A SQLite write lock leaves reads (and so readiness) alone; a PostgreSQL that refuses us is not ready.
        let ready = get(&app, "/readyz", None).await;
        match srv.backend {
            Backend::Sqlite => assert_eq!(ready.status, StatusCode::OK),
            Backend::Postgres => {
                assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
                assert_eq!(ready.code(), "NOT_READY");
            }
        }
        outage.end();

        assert_eq!(get(&app, "/readyz", None).await.status, StatusCode::OK);
        assert_eq!(
            inbox(&app, "").await.len(),
            0,
            "nothing was stored during the outage"
        );
        for _ in 0..2 {
            let reply = deliver(&app, WebhookFormat::WhopCurrent, &hook).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            assert_eq!(reply.json(), json!({"status": "ok"}));
        }
        assert_eq!(inbox(&app, "").await.len(), 1);
        let entitlement = admin_entitlement(&app, "whop", "mem_7Hq2LwZp0aXkR1").await.json();
        assert_eq!(entitlement["version"], 1);
        assert_eq!(entitlement["audit"].as_array().unwrap().len(), 1);
        assert_eq!(entitlement["access"]["allowed"], true);
    })
    .await;
}
