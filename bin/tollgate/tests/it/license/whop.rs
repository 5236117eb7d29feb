//! Whop on its Current API, over HTTP, on SQLite and PostgreSQL: the binding mirrored at Whop, a reset pressed in
//! Whop's dashboard, keys bound by an older integration, Whop refusing the key, webhooks of pinned and unpinned
//! versions, a payment re-reading its membership, and reconciliation with the company id.

use actix_web::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_testkit::{FakeProvider as _, Fault, WebhookFormat};

use crate::harness::app::{ADMIN_TOKEN, admin_entitlement, app, deliver, post};
use crate::harness::license::{WHOP_KEY, both_with_fakes, bound_tags, license, rfc3339, tag_of};

/// The audit rows of `mem_1`, as the admin API shows them.
async fn audit_actions<S, B>(app: &S) -> Vec<(String, String)>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    admin_entitlement(app, "whop", "mem_1").await.json()["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_owned(),
                a["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn activation_mirrors_a_hashed_binding_and_each_answer_has_its_code() {
    both_with_fakes(&[], async |env| {
        let app = app(&env.srv.state).await;
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let reply = license(&app, "activate", WHOP_KEY, "hw-1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(
            bound_tags(&env, "mem_1"),
            Some(vec![tag_of(&env, "mem_1", "hw-1")])
        );
        let metadata = Value::Object(env.whop.membership("mem_1").unwrap().metadata).to_string();
        assert!(!metadata.contains("hw-1"));
        // Every Whop request was pinned to the default version.
        assert!(env.whop.requests().iter().all(|r| r.path.starts_with("/api/v1/")));

        // Node-locked: a second device is refused.
        let reply = license(&app, "activate", WHOP_KEY, "hw-2").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::CONFLICT, "DEVICE_MISMATCH".to_owned())
        );
        // A canceled membership, and a key Whop does not know.
        let mut canceled = FakeMembership::new("mem_2", "CANCELED-1111-2222-3333");
        canceled.status = "canceled".to_owned();
        env.whop.add_membership(canceled);
        let reply = license(&app, "activate", "CANCELED-1111-2222-3333", "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "LICENSE_INACTIVE".to_owned())
        );
        let reply = license(&app, "activate", "UNKNOWN-1111-2222-3333", "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "LICENSE_NOT_FOUND".to_owned())
        );
        // A dot key never reaches a provider.
        let calls = env.whop.request_count();
        let reply = license(&app, "activate", "..", "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST".to_owned())
        );
        assert_eq!(env.whop.request_count(), calls);
    })
    .await;
}

#[actix_web::test]
async fn a_reset_pressed_in_whop_frees_the_old_device_for_the_new_one() {
    both_with_fakes(&[], async |env| {
        let app = app(&env.srv.state).await;
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "old-pc").await.status,
            StatusCode::OK
        );
        assert!(env.whop.dashboard_reset("mem_1"));
        env.srv.clock.advance(TimeDelta::seconds(30));

        let reply = license(&app, "activate", WHOP_KEY, "new-pc").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(
            bound_tags(&env, "mem_1"),
            Some(vec![tag_of(&env, "mem_1", "new-pc")])
        );
        let reply = license(&app, "validate", WHOP_KEY, "old-pc").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "DEVICE_NOT_ACTIVATED".to_owned())
        );
        let actions = audit_actions(&app).await;
        assert!(
            actions
                .iter()
                .any(|(action, detail)| action == "device.reset" && detail.starts_with("reset at Whop")),
            "{actions:?}"
        );
    })
    .await;
}

#[actix_web::test]
async fn keys_bound_by_an_older_integration_adopt_the_same_device_and_refuse_another() {
    both_with_fakes(&[], async |env| {
        let app = app(&env.srv.state).await;
        env.whop.add_membership(
            FakeMembership::new("mem_1", WHOP_KEY).with_metadata(json!({"HWID": "machine-a"})),
        );
        let reply = license(&app, "activate", WHOP_KEY, "machine-b").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::CONFLICT, "DEVICE_MISMATCH".to_owned())
        );
        assert!(
            reply.json()["message"]
                .as_str()
                .unwrap()
                .contains("Reset the key in your Whop account")
        );
        let reply = license(&app, "activate", WHOP_KEY, "machine-a").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let metadata = env.whop.membership("mem_1").unwrap().metadata;
        assert_eq!(metadata["HWID"], "machine-a", "the old key is left alone");
        assert_eq!(
            bound_tags(&env, "mem_1"),
            Some(vec![tag_of(&env, "mem_1", "machine-a")])
        );
    })
    .await;
}

#[actix_web::test]
async fn whop_down_or_refusing_the_key_is_unavailable_and_an_activated_device_is_never_not_found() {
    both_with_fakes(&[], async |env| {
        let app = app(&env.srv.state).await;
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        env.whop.fail_always(Fault::Status(503));
        let reply = license(&app, "activate", WHOP_KEY, "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "PROVIDER_UNAVAILABLE".to_owned())
        );
        env.whop.clear_faults();
        env.whop.set_permissions(&[]);
        let reply = license(&app, "activate", WHOP_KEY, "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "PROVIDER_UNAVAILABLE".to_owned())
        );
        assert!(!reply.json()["message"].as_str().unwrap().contains("not found"));

        // Activated, then Whop forgets the key: a stale revalidation answers from local state.
        env.whop.set_permissions(&["member:basic:read", "member:manage"]);
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "hw-1").await.status,
            StatusCode::OK
        );
        env.whop
            .update_membership("mem_1", |m| m.license_key = "ROTATED-KEY".to_owned());
        env.srv.clock.advance(TimeDelta::hours(25));
        let reply = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let reply = license(&app, "activate", WHOP_KEY, "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "PROVIDER_UNAVAILABLE".to_owned())
        );
    })
    .await;
}

#[actix_web::test]
async fn a_stale_revalidation_reads_the_pinned_period_end_and_repairs_a_binding_write_that_failed() {
    both_with_fakes(&[], async |env| {
        let app = app(&env.srv.state).await;
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        // The look-up answers, the binding write fails (with its two retries): the activation still succeeds.
        env.whop.fail_next(Fault::Answer, 1);
        env.whop.fail_next(Fault::Status(503), 3);
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "hw-1").await.status,
            StatusCode::OK
        );
        assert_eq!(bound_tags(&env, "mem_1"), None);

        // Renewed at Whop without a webhook.
        let renewed_to = env.now() + TimeDelta::days(60);
        env.whop
            .update_membership("mem_1", |m| m.renewal_period_end = Some(renewed_to.timestamp()));
        env.srv.clock.advance(TimeDelta::hours(25));
        let reply = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(
            reply.json()["entitlement"]["current_period_end"],
            rfc3339(renewed_to)
        );
        assert_eq!(
            bound_tags(&env, "mem_1"),
            Some(vec![tag_of(&env, "mem_1", "hw-1")])
        );
    })
    .await;
}

/// Deliver a signed Whop webhook and check it was taken.
async fn deliver_ok<S, B>(app: &S, hook: &tollgate_testkit::SignedWebhook)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let reply = deliver(app, WebhookFormat::WhopCurrent, hook).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

fn period_end(detail: &Value) -> DateTime<Utc> {
    detail["current_period_end"].as_str().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn membership_updated_is_folded_in_the_pinned_and_the_unpinned_shape() {
    for version in [None, Some("2026-09-15")] {
        both_with_fakes(&[], async |env| {
            let app = app(&env.srv.state).await;
            env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
            let end = env.now() + TimeDelta::days(30);
            env.whop
                .update_membership("mem_1", |m| m.renewal_period_end = Some(end.timestamp()));
            let hook = env
                .whop
                .webhook_pinned("mem_1", "membership.updated", version)
                .unwrap();
            let body: Value = serde_json::from_slice(&hook.body).unwrap();
            assert_eq!(
                body["data"].get("current_period_end").is_some(),
                version.is_some()
            );
            deliver_ok(&app, &hook).await;
            let detail = admin_entitlement(&app, "whop", "mem_1").await.json();
            assert_eq!(detail["status"], "active", "{version:?}");
            assert_eq!(period_end(&detail), end, "{version:?}");

            // Canceled through the same event type.
            env.srv.clock.advance(TimeDelta::seconds(2));
            env.whop.set_status("mem_1", "canceled");
            let hook = env
                .whop
                .webhook_pinned("mem_1", "membership.updated", version)
                .unwrap();
            deliver_ok(&app, &hook).await;
            let detail = admin_entitlement(&app, "whop", "mem_1").await.json();
            assert_eq!(detail["status"], "canceled", "{version:?}");
            assert_eq!(detail["access"]["allowed"], false);
        })
        .await;
    }
}

#[actix_web::test]
async fn a_payment_re_reads_its_membership_so_a_renewal_moves_the_period_end() {
    both_with_fakes(&[], async |env| {
        let app = app(&env.srv.state).await;
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "hw-1").await.status,
            StatusCode::OK
        );
        let before = period_end(&admin_entitlement(&app, "whop", "mem_1").await.json());

        // Renewed: Whop moves the period and sends payment.succeeded, with no membership event.
        let renewed_to = before + TimeDelta::days(30);
        env.whop
            .update_membership("mem_1", |m| m.renewal_period_end = Some(renewed_to.timestamp()));
        env.srv.clock.advance(TimeDelta::seconds(5));
        deliver_ok(&app, &env.whop.payment_webhook("mem_1").unwrap()).await;
        let detail = admin_entitlement(&app, "whop", "mem_1").await.json();
        assert_eq!(period_end(&detail), renewed_to);
        let reply = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(
            reply.json()["entitlement"]["current_period_end"],
            rfc3339(renewed_to)
        );

        // A payment for a membership Tollgate does not know changes nothing and calls nothing.
        env.whop
            .add_membership(FakeMembership::new("mem_other", "OTHER-KEY-1234"));
        let calls = env.whop.request_count();
        deliver_ok(&app, &env.whop.payment_webhook("mem_other").unwrap()).await;
        assert_eq!(env.whop.request_count(), calls);
    })
    .await;
}

#[actix_web::test]
async fn reconciliation_lists_the_configured_company_and_is_skipped_without_it() {
    both_with_fakes(&[], async |env| {
        let app = app(&env.srv.state).await;
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let reply = post(&app, "/admin/reconcile?provider=whop", Some(ADMIN_TOKEN)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["providers"][0]["created"], 1);
        let list = env
            .whop
            .requests()
            .into_iter()
            .find(|r| r.path == "/api/v1/memberships")
            .unwrap();
        assert!(
            list.query
                .contains(&format!("account_id={}", FakeWhop::COMPANY_ID)),
            "{}",
            list.query
        );
    })
    .await;
    both_with_fakes(&[("TOLLGATE_PROVIDERS__WHOP__COMPANY_ID", "")], async |env| {
        let app = app(&env.srv.state).await;
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let reply = post(&app, "/admin/reconcile?provider=whop", Some(ADMIN_TOKEN)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["providers"][0]["examined"], 0);
        assert_eq!(
            env.whop.request_count(),
            0,
            "no failing call without the company id"
        );
    })
    .await;
}
