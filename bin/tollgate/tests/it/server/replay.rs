//! Replay after a fix. The realistic case: release N could not parse an event the provider really sends (here,
//! `membership.cancel_at_period_end_changed`); the delivery was authentic, so it was stored `failed` and answered
//! 200. "After a fix" means after upgrading to a release whose parser handles it: the operator restarts Tollgate
//! on the same database and replays the stored event through the admin API, and it is applied.

use std::sync::Arc;

use actix_web::http::StatusCode;
use serde_json::{Value, json};
use tollgate_policy::Provider;
use tollgate_providers::{DeliveryMeta, ParseError, ParsedWebhook, parse_webhook};
use tollgate_service::ingest::WebhookParser;
use tollgate_testkit::WebhookFormat;

use crate::harness::app::*;

/// Release N's parser: it does not understand the cancel-at-period-end event.
#[derive(Debug)]
struct ReleaseN;

impl WebhookParser for ReleaseN {
    fn parse(
        &self,
        provider: Provider,
        meta: &DeliveryMeta,
        body: &[u8],
    ) -> Result<ParsedWebhook, ParseError> {
        let parsed = parse_webhook(provider, meta, body)?;
        if parsed.event_type == "membership.cancel_at_period_end_changed" {
            return Err(ParseError::WrongType {
                field: "data.cancel_at_period_end".to_owned(),
                expected: "string",
            });
        }
        Ok(parsed)
    }
}

#[actix_web::test]
async fn a_failed_event_is_applied_by_a_replay_after_the_fix() {
    both(&[], async |srv| {
        let old_ingest = srv.state.ingest().clone().with_parser(Arc::new(ReleaseN));
        let old_state = srv.state.clone().with_ingest(old_ingest);
        let old = app(&old_state).await;
        for name in [
            "whop/membership.activated.json",
            "whop/membership.cancel_at_period_end_changed.json",
        ] {
            let reply = deliver(
                &old,
                WebhookFormat::WhopCurrent,
                &srv.sign(WebhookFormat::WhopCurrent, fixture(name)),
            )
            .await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{name}: stored and acknowledged either way"
            );
        }
        let failed = inbox(&old, "status=failed").await;
        assert_eq!(failed.len(), 1);
        let id = failed[0]["id"].as_i64().unwrap();
        assert_eq!(failed[0]["event_type"], "membership.cancel_at_period_end_changed");
        assert_eq!(failed[0]["attempts"], 1);
        assert_eq!(
            failed[0]["last_error"],
            "field `data.cancel_at_period_end` has the wrong type: expected string"
        );
        assert!(failed[0].get("body").is_none(), "listings carry no bodies");
        let before = admin_entitlement(&old, "whop", "mem_7Hq2LwZp0aXkR1").await.json();
        assert_eq!(before["cancel_at_period_end"], false);

        // Replaying on the unfixed release fails again and says so.
        let reply = post(&old, &format!("/admin/inbox/{id}/replay"), Some(ADMIN_TOKEN)).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json()["outcome"], "failed");

        // The upgrade: the same database, this release's parser.
        let restarted = srv.restart();
        let fixed = app(&restarted).await;
        let reply = post(&fixed, &format!("/admin/inbox/{id}/replay"), Some(ADMIN_TOKEN)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let replayed = reply.json();
        assert_eq!(replayed["outcome"], "applied");
        assert_eq!(replayed["event_type"], "membership.cancel_at_period_end_changed");
        assert_eq!(replayed["entitlement_id"], before["id"]);

        let after = admin_entitlement(&fixed, "whop", "mem_7Hq2LwZp0aXkR1")
            .await
            .json();
        assert_eq!(after["cancel_at_period_end"], true);
        assert_eq!(after["status"], "active");
        let actors: Vec<&str> = after["audit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["actor"].as_str().unwrap())
            .collect();
        assert_eq!(actors, ["replay", "webhook"], "newest first");

        let event = get(&fixed, &format!("/admin/inbox/{id}"), Some(ADMIN_TOKEN))
            .await
            .json();
        assert_eq!(event["status"], "processed");
        assert_eq!(event["attempts"], 3);
        assert_eq!(event["last_error"], Value::Null);
        let original: Value =
            serde_json::from_slice(&fixture("whop/membership.cancel_at_period_end_changed.json")).unwrap();
        assert_eq!(
            event["body"], original,
            "the admin's single-event lookup decrypts the body"
        );
        assert_eq!(inbox(&fixed, "status=failed").await.len(), 0);
    })
    .await;
}

#[actix_web::test]
async fn replay_failed_retries_every_failed_event_and_reports_each() {
    both(&[], async |srv| {
        let app = app(&srv.state).await;
        // Genuinely malformed for every release: `cancel_at_period_end` is a string.
        let broken = srv.sign(
            WebhookFormat::WhopCurrent,
            fixture("malformed/whop_cancel_flag_string.json"),
        );
        assert_eq!(
            deliver(&app, WebhookFormat::WhopCurrent, &broken).await.status,
            StatusCode::OK
        );
        // A redelivery of a failed event is a duplicate, not a second row.
        assert_eq!(
            deliver(&app, WebhookFormat::WhopCurrent, &broken).await.status,
            StatusCode::OK
        );
        let failed = inbox(&app, "status=failed&provider=whop").await;
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0]["webhook_id"], broken.header("webhook-id").unwrap());

        let reply = post(
            &app,
            "/admin/inbox/replay-failed?provider=whop",
            Some(ADMIN_TOKEN),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let body = reply.json();
        assert_eq!(body["replayed"], 1);
        assert_eq!(body["applied"], 0);
        assert_eq!(body["results"][0]["id"], failed[0]["id"]);
        assert_eq!(body["results"][0]["outcome"], "failed");
        let reply = post(
            &app,
            "/admin/inbox/replay-failed?provider=dodo",
            Some(ADMIN_TOKEN),
        )
        .await;
        assert_eq!(reply.json(), json!({"replayed": 0, "applied": 0, "results": []}));
        assert_eq!(inbox(&app, "status=failed").await[0]["attempts"], 2);

        let reply = post(&app, "/admin/inbox/999999/replay", Some(ADMIN_TOKEN)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.code(), "NOT_FOUND");
    })
    .await;
}
