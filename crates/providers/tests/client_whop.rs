//! The Whop client against the fake Whop: every documented status of each call.

use serde_json::json;
use tollgate_providers::whop::{WhopApi, WhopClient, WhopListQuery, WhopValidation};
use tollgate_providers::{ApiError, ApiKey, CallContext, ClientConfig, LicenseKey};
use tollgate_testkit::{FakeMembership, FakeProvider, FakeWhop};

#[expect(
    clippy::unwrap_used,
    reason = "test helper: a client that cannot be built fails the test"
)]
fn client(whop: &FakeWhop, key: &str) -> WhopClient {
    WhopClient::new(&ClientConfig::new(whop.base_url(), Some(ApiKey::new(key)))).unwrap()
}

fn fake_with_member() -> FakeWhop {
    let whop = FakeWhop::start();
    let mut membership = FakeMembership::new("mem_1", "KEY-AAAA-1111");
    membership.renewal_period_end = Some(1_800_000_000);
    whop.add_membership(membership);
    whop
}

#[tokio::test]
async fn validate_binds_then_matches_then_reports_mismatch_and_not_found() {
    let whop = fake_with_member();
    let api = client(&whop, FakeWhop::API_KEY);
    let ctx = CallContext::default();

    let WhopValidation::Matched(first) = api
        .validate_license(&ctx, "KEY-AAAA-1111", json!({"HWID": "pc-1"}))
        .await
        .unwrap()
    else {
        panic!("expected 201");
    };
    assert_eq!(first.id, "mem_1");
    assert_eq!(first.valid, Some(true));
    assert_eq!(first.status.as_deref(), Some("active"));
    assert_eq!(first.metadata, json!({"HWID": "pc-1"}));
    assert_eq!(first.license_key, Some(LicenseKey::new("KEY-AAAA-1111")));
    assert_eq!(first.product_id.as_deref(), Some("prod_fake"));
    assert_eq!(
        first.renewal_period_end,
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
    );

    let again = api
        .validate_license(&ctx, "KEY-AAAA-1111", json!({"HWID": "pc-1"}))
        .await
        .unwrap();
    assert!(matches!(again, WhopValidation::Matched(_)));
    assert_eq!(
        api.validate_license(&ctx, "KEY-AAAA-1111", json!({"HWID": "pc-2"}))
            .await
            .unwrap(),
        WhopValidation::MetadataMismatch {
            message: Some("Please reset your key to use on a new machine".to_owned())
        }
    );
    assert_eq!(
        api.validate_license(&ctx, "NO-SUCH-KEY", json!({}))
            .await
            .unwrap(),
        WhopValidation::NotFound
    );
    assert_eq!(
        whop.count("POST", "/api/v2/memberships/KEY-AAAA-1111/validate_license"),
        3
    );
}

#[tokio::test]
async fn a_201_can_carry_valid_false() {
    let whop = fake_with_member();
    whop.set_status("mem_1", "canceled");
    let api = client(&whop, FakeWhop::API_KEY);
    let WhopValidation::Matched(membership) = api
        .validate_license(&CallContext::default(), "KEY-AAAA-1111", json!({}))
        .await
        .unwrap()
    else {
        panic!("expected 201");
    };
    assert_eq!(membership.valid, Some(false));
    assert_eq!(membership.status.as_deref(), Some("canceled"));
}

#[tokio::test]
async fn a_wrong_api_key_is_rejected_with_whops_message() {
    let whop = fake_with_member();
    let api = client(&whop, "not-the-key");
    let error = api
        .validate_license(&CallContext::default(), "KEY-AAAA-1111", json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ApiError::Rejected {
            status: 401,
            code: Some("401".to_owned()),
            message: Some(
                "Your access token is invalid. Please make sure you are passing an access token, and that it is correctly formatted."
                    .to_owned()
            ),
        }
    );
    assert!(!error.is_unavailable());
}

#[tokio::test]
async fn reset_resolves_the_key_then_clears_metadata_on_the_membership_id() {
    let whop = fake_with_member();
    let api = client(&whop, FakeWhop::API_KEY);
    let ctx = CallContext::with_request_id("req-1");
    api.validate_license(&ctx, "KEY-AAAA-1111", json!({"HWID": "pc-1"}))
        .await
        .unwrap();

    let reset = api.reset_metadata(&ctx, "KEY-AAAA-1111").await.unwrap().unwrap();
    assert_eq!(reset.id, "mem_1");
    assert_eq!(reset.metadata, json!({}));
    assert_eq!(whop.membership("mem_1").unwrap().metadata, json!({}));
    assert_eq!(whop.count("GET", "/api/v2/memberships/KEY-AAAA-1111"), 1);
    assert_eq!(whop.count("POST", "/api/v2/memberships/mem_1"), 1);
    assert_eq!(whop.count("POST", "/api/v2/memberships/KEY-AAAA-1111"), 0);

    let rebound = api
        .validate_license(&ctx, "KEY-AAAA-1111", json!({"HWID": "pc-2"}))
        .await
        .unwrap();
    assert!(matches!(rebound, WhopValidation::Matched(m) if m.metadata == json!({"HWID": "pc-2"})));
    assert_eq!(api.reset_metadata(&ctx, "NO-SUCH-KEY").await.unwrap(), None);
}

#[tokio::test]
async fn find_membership_reads_the_v1_object() {
    let whop = fake_with_member();
    whop.update_membership("mem_1", |m| {
        m.status = "canceling".to_owned();
        m.cancel_at_period_end = true;
    });
    let api = client(&whop, FakeWhop::API_KEY);
    let ctx = CallContext::default();
    let found = api.find_membership(&ctx, "mem_1").await.unwrap().unwrap();
    assert_eq!(found.status.as_deref(), Some("canceling"));
    assert_eq!(found.cancel_at_period_end, Some(true));
    assert_eq!(found.user_id.as_deref(), Some("user_fake"));
    assert_eq!(found.plan_id.as_deref(), Some("plan_fake"));
    assert_eq!(found.valid, None, "v1 has no valid flag");
    assert_eq!(
        found.renewal_period_end,
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
    );
    assert_eq!(api.find_membership(&ctx, "mem_missing").await.unwrap(), None);

    let event = found
        .snapshot_event(chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap())
        .unwrap();
    assert_eq!(
        event.kind,
        tollgate_policy::EventKind::Updated {
            status: "canceling".to_owned(),
            paid_through: chrono::DateTime::from_timestamp(1_800_000_000, 0),
            cancel_at_period_end: Some(true),
        }
    );
}

#[tokio::test]
async fn list_follows_cursors_to_the_last_page() {
    let whop = FakeWhop::start();
    for n in 0..5 {
        whop.add_membership(FakeMembership::new(format!("mem_{n}"), format!("KEY-{n}")));
    }
    let api = client(&whop, FakeWhop::API_KEY);
    let ctx = CallContext::default();
    let mut query = WhopListQuery {
        first: Some(2),
        ..WhopListQuery::default()
    };
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let page = api.list_memberships(&ctx, &query).await.unwrap();
        pages += 1;
        ids.extend(page.memberships.into_iter().map(|m| m.id));
        match page.next_cursor {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(ids, ["mem_0", "mem_1", "mem_2", "mem_3", "mem_4"]);
    assert_eq!(pages, 3);
    assert_eq!(whop.count("GET", "/api/v1/memberships"), 3);
}
