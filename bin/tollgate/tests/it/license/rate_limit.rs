//! Rate limits over HTTP: a burst of wrong keys from one IP is cut off after exactly the configured burst, while a
//! legitimate launch from another IP, and validation even from the same IP, still passes.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::json;
use tollgate_providers::whop::fake::FakeMembership;
use tollgate_testkit::FakeProvider as _;

use crate::harness::app::{Reply, app, send};
use crate::harness::license::{WHOP_KEY, both_with_fakes, license_from, post_json, retry_after};

const BURST: usize = 5;
/// One attempt a minute refills the allowance, so no test run is long enough to see a refill.
const LIMITS: [(&str, &str); 4] = [
    ("TOLLGATE_RATE_LIMIT__ENABLED", "true"),
    ("TOLLGATE_RATE_LIMIT__PER_IP_PER_MINUTE", "1"),
    ("TOLLGATE_RATE_LIMIT__BURST", "5"),
    ("TOLLGATE_RATE_LIMIT__PER_KEY_PER_HOUR", "1000"),
];

const ATTACKER: &str = "198.51.100.7:50000";
const HONEST: &str = "203.0.113.20:50000";

fn assert_limited(reply: &Reply) {
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED".to_owned()),
        "{}",
        reply.text()
    );
    // One attempt a minute refills the per-IP allowance: the next is at most 60 s away.
    assert!((1..=60).contains(&retry_after(reply)), "{:?}", reply.headers);
}

#[actix_web::test]
async fn a_burst_of_wrong_keys_is_cut_off_after_the_burst_and_launches_still_pass() {
    both_with_fakes(&LIMITS, async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;

        let mut not_found = 0;
        for i in 0..100 {
            let reply = license_from(
                &app,
                "activate",
                &format!("GUESS-{i:04}-AAAA-BBBB"),
                "hw-x",
                ATTACKER,
            )
            .await;
            match reply.status {
                StatusCode::NOT_FOUND => not_found += 1,
                _ => assert_limited(&reply),
            }
        }
        assert_eq!(not_found, BURST);
        // Only the attempts that got through reached the providers.
        assert_eq!(env.whop.request_count(), BURST);

        // A launch from another IP: activate once, then validate.
        let reply = license_from(&app, "activate", WHOP_KEY, "hw-1", HONEST).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let reply = license_from(&app, "validate", WHOP_KEY, "hw-1", HONEST).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        // Validation from the limited IP is not limited: only failed validations count, and it has none.
        let reply = license_from(&app, "validate", WHOP_KEY, "hw-1", ATTACKER).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        // Activation from it still is.
        assert_limited(&license_from(&app, "activate", WHOP_KEY, "hw-1", ATTACKER).await);
    })
    .await;
}

#[actix_web::test]
async fn only_failed_validations_count_and_a_success_is_never_limited() {
    both_with_fakes(&LIMITS, async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        assert_eq!(
            license_from(&app, "activate", WHOP_KEY, "hw-1", HONEST)
                .await
                .status,
            StatusCode::OK
        );

        // Many launches from one NAT address: never limited.
        for _ in 0..(3 * BURST) {
            let reply = license_from(&app, "validate", WHOP_KEY, "hw-1", ATTACKER).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        }
        // Failed validations from it: the burst is answered with its code, then 429 hides the answer.
        let mut answered = 0;
        for i in 0..30 {
            let reply = license_from(
                &app,
                "validate",
                &format!("GUESS-{i:04}-AAAA-BBBB"),
                "hw-x",
                ATTACKER,
            )
            .await;
            match reply.status {
                StatusCode::NOT_FOUND => answered += 1,
                _ => assert_limited(&reply),
            }
        }
        assert_eq!(answered, BURST);
        // The known key with an unknown device is a failure too, now limited; the activated device still passes.
        assert_limited(&license_from(&app, "validate", WHOP_KEY, "hw-other", ATTACKER).await);
        let reply = license_from(&app, "validate", WHOP_KEY, "hw-1", ATTACKER).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    })
    .await;
}

#[actix_web::test]
async fn one_key_is_limited_across_ips_and_ipv6_counts_per_64() {
    let limits = [
        ("TOLLGATE_RATE_LIMIT__ENABLED", "true"),
        ("TOLLGATE_RATE_LIMIT__PER_IP_PER_MINUTE", "1"),
        ("TOLLGATE_RATE_LIMIT__BURST", "2"),
        ("TOLLGATE_RATE_LIMIT__PER_KEY_PER_HOUR", "3"),
    ];
    both_with_fakes(&limits, async |env| {
        let app = app(&env.srv.state).await;
        // Per key: three attempts from three addresses, the fourth refused whatever the address.
        for peer in ["192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1"] {
            let reply = license_from(&app, "deactivate", WHOP_KEY, "hw-1", peer).await;
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::NOT_FOUND, "LICENSE_NOT_FOUND".to_owned())
            );
        }
        let reply = license_from(&app, "deactivate", WHOP_KEY, "hw-1", "192.0.2.4:1").await;
        assert_eq!(reply.code(), "RATE_LIMITED");
        // Three an hour: the next one in 20 minutes.
        assert_eq!(retry_after(&reply), 1_200);

        // Per IP: two addresses in one IPv6 /64 share the allowance (2); another /64 has its own.
        let body = json!({"license_key": "OTHER-1111-2222-3333", "hwid": "hw-1"});
        for peer in ["[2001:db8:1:2::1]:1", "[2001:db8:1:2::ffff]:1"] {
            let reply = post_json(&app, "/api/license/activate", &body, peer).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());
        }
        assert_limited(&post_json(&app, "/api/license/activate", &body, "[2001:db8:1:2::2]:1").await);
        let reply = post_json(&app, "/api/license/activate", &body, "[2001:db8:1:3::1]:1").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());
    })
    .await;
}

#[actix_web::test]
async fn forwarded_for_counts_only_when_trusted_and_disabled_limits_count_nothing() {
    let trusted = [
        ("TOLLGATE_RATE_LIMIT__ENABLED", "true"),
        ("TOLLGATE_RATE_LIMIT__PER_IP_PER_MINUTE", "1"),
        ("TOLLGATE_RATE_LIMIT__BURST", "1"),
        ("TOLLGATE_RATE_LIMIT__TRUST_FORWARDED_FOR", "true"),
    ];
    both_with_fakes(&trusted, async |env| {
        let app = app(&env.srv.state).await;
        let from = |client: &str| {
            TestRequest::post()
                .uri("/api/license/activate")
                .peer_addr("10.0.0.1:443".parse().unwrap())
                .insert_header(("X-Forwarded-For", format!("6.6.6.6, {client}")))
                .set_json(json!({"license_key": format!("KEY-{client}-XYZ"), "hwid": "hw-1"}))
        };
        // Behind the proxy (one peer), two clients each get their own allowance of one.
        assert_eq!(
            send(&app, from("203.0.113.1")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            send(&app, from("203.0.113.2")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_limited(&send(&app, from("203.0.113.1")).await);
    })
    .await;

    // The harness default: limits off. 30 wrong keys from one address are all answered.
    both_with_fakes(&[], async |env| {
        let app = app(&env.srv.state).await;
        for i in 0..30 {
            let reply = license_from(
                &app,
                "activate",
                &format!("GUESS-{i:04}-AAAA-BBBB"),
                "hw-x",
                ATTACKER,
            )
            .await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{i}");
        }
    })
    .await;
}
