//! Devices over HTTP: the device limit, deactivation freeing a slot, and the transfer cooldown's
//! `429 TRANSFER_COOLDOWN` with `Retry-After`.

use actix_web::http::StatusCode;
use chrono::TimeDelta;
use serde_json::json;
use tollgate_providers::whop::fake::FakeMembership;

use crate::harness::app::app;
use crate::harness::license::{WHOP_KEY, both_with_fakes, license, retry_after, rfc3339};

#[actix_web::test]
async fn a_third_device_is_refused_a_deactivation_frees_a_slot_and_a_second_one_waits_for_the_cooldown() {
    both_with_fakes(&[("TOLLGATE_POLICY__DEFAULT__MAX_DEVICES", "2")], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        let start = env.now();

        let first = license(&app, "activate", WHOP_KEY, "hw-1").await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text());
        env.srv.clock.advance(TimeDelta::minutes(1));
        let second = license(&app, "activate", WHOP_KEY, "hw-2").await;
        assert_eq!(second.status, StatusCode::OK, "{}", second.text());
        let reply = license(&app, "activate", WHOP_KEY, "hw-3").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::CONFLICT, "DEVICE_LIMIT_REACHED".to_owned())
        );
        assert!(!reply.headers.contains_key("retry-after"));

        // Deactivating hw-1 answers the devices that remain, and frees the slot for hw-3.
        let reply = license(&app, "deactivate", WHOP_KEY, "hw-1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let second_device = second.json()["device"]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            reply.json(),
            json!({
                "code": "DEACTIVATED",
                "max_devices": 2,
                "devices": [{
                    "id": second_device,
                    "name": "Work laptop",
                    "activated_at": rfc3339(start + TimeDelta::minutes(1)),
                    "last_seen_at": rfc3339(start + TimeDelta::minutes(1)),
                }],
            })
        );
        let third = license(&app, "activate", WHOP_KEY, "hw-3").await;
        assert_eq!(third.status, StatusCode::OK, "{}", third.text());
        let reply = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "DEVICE_NOT_ACTIVATED".to_owned())
        );

        // A second self-service move inside the 24 h cooldown: 429 with the exact wait.
        env.srv.clock.advance(TimeDelta::hours(1));
        let reply = license(&app, "deactivate", WHOP_KEY, "hw-2").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::TOO_MANY_REQUESTS, "TRANSFER_COOLDOWN".to_owned())
        );
        assert_eq!(retry_after(&reply), 23 * 3_600);
        // Still active: the refusal changed nothing.
        assert_eq!(
            license(&app, "validate", WHOP_KEY, "hw-2").await.status,
            StatusCode::OK
        );

        // A minute before the cooldown ends, then at its end, when the move is allowed.
        env.srv
            .clock
            .advance(TimeDelta::hours(23) - TimeDelta::minutes(1));
        let reply = license(&app, "deactivate", WHOP_KEY, "hw-2").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::TOO_MANY_REQUESTS, "TRANSFER_COOLDOWN".to_owned())
        );
        assert_eq!(retry_after(&reply), 60);
        env.srv.clock.advance(TimeDelta::minutes(1));
        let reply = license(&app, "deactivate", WHOP_KEY, "hw-2").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    })
    .await;
}

#[actix_web::test]
async fn a_manual_transfer_policy_refuses_self_service_deactivation() {
    both_with_fakes(&[("TOLLGATE_POLICY__DEFAULT__TRANSFER", "manual")], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        assert_eq!(
            license(&app, "activate", WHOP_KEY, "hw-1").await.status,
            StatusCode::OK
        );
        let reply = license(&app, "deactivate", WHOP_KEY, "hw-1").await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "TRANSFER_NOT_ALLOWED".to_owned())
        );
    })
    .await;
}
