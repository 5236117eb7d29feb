//! The Whop client against the fake Whop, which serves only the Current API: every documented status of each
//! call, both membership shapes, the metadata write and its limits, and the pinned version on every request.

use serde_json::json;
use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_providers::whop::{
    DEFAULT_API_VERSION, MembershipRef, WhopApi, WhopClient, WhopListQuery, WhopOptions,
};
use tollgate_providers::{ApiError, ApiKey, CallContext, ClientConfig, LicenseKey};
use tollgate_testkit::FakeProvider;

#[expect(
    clippy::unwrap_used,
    reason = "test helper: a client that cannot be built fails the test"
)]
fn client_with(whop: &FakeWhop, key: &str, options: WhopOptions) -> WhopClient {
    WhopClient::new(
        &ClientConfig::new(whop.base_url(), Some(ApiKey::new(key))),
        options,
    )
    .unwrap()
}

fn client(whop: &FakeWhop) -> WhopClient {
    client_with(
        whop,
        FakeWhop::API_KEY,
        WhopOptions {
            company_id: Some(FakeWhop::COMPANY_ID.to_owned()),
            ..WhopOptions::default()
        },
    )
}

fn fake_with_member() -> FakeWhop {
    let whop = FakeWhop::start();
    let mut membership = FakeMembership::new("mem_1", "KEY-AAAA-1111");
    membership.renewal_period_end = Some(1_800_000_000);
    whop.add_membership(membership);
    whop
}

#[tokio::test]
async fn retrieve_by_key_or_id_reads_the_pinned_shape_and_404_is_none() {
    let whop = fake_with_member();
    whop.update_membership("mem_1", |m| {
        m.status = "canceling".to_owned();
        m.cancel_at_period_end = true;
    });
    let api = client(&whop);
    let ctx = CallContext::default();
    let by_key = api
        .retrieve_membership(&ctx, MembershipRef::LicenseKey("KEY-AAAA-1111"))
        .await
        .unwrap()
        .unwrap();
    let by_id = api
        .retrieve_membership(&ctx, MembershipRef::Id("mem_1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_key, by_id);
    assert_eq!(by_key.id, "mem_1");
    assert_eq!(by_key.status.as_deref(), Some("canceling"));
    assert_eq!(by_key.cancel_at_period_end, Some(true));
    assert_eq!(by_key.user_id.as_deref(), Some("user_fake"));
    assert_eq!(by_key.product_id.as_deref(), Some("prod_fake"));
    assert_eq!(by_key.plan_id.as_deref(), Some("plan_fake"));
    assert_eq!(by_key.account_id.as_deref(), Some(FakeWhop::COMPANY_ID));
    assert_eq!(by_key.license_key, Some(LicenseKey::new("KEY-AAAA-1111")));
    assert_eq!(
        by_key.paid_through,
        chrono::DateTime::from_timestamp(1_800_000_000, 0),
        "current_period_end"
    );
    assert_eq!(
        api.retrieve_membership(&ctx, MembershipRef::LicenseKey("NO-SUCH-KEY"))
            .await
            .unwrap(),
        None
    );
    // Every request carries the pinned version; the fake answered the pinned shape.
    for request in whop.requests() {
        assert!(
            request.path.starts_with("/api/v1/memberships/"),
            "{}",
            request.path
        );
    }
    let event = by_key
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
async fn an_older_pinned_version_reads_the_nested_shape_and_an_unknown_one_is_refused() {
    let whop = fake_with_member();
    let ctx = CallContext::default();
    let older = client_with(
        &whop,
        FakeWhop::API_KEY,
        WhopOptions {
            api_version: "2026-06-09".to_owned(),
            company_id: None,
        },
    );
    let found = older
        .retrieve_membership(&ctx, MembershipRef::Id("mem_1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.plan_id.as_deref(), Some("plan_fake"));
    assert_eq!(found.account_id.as_deref(), Some(FakeWhop::COMPANY_ID));
    assert_eq!(
        found.paid_through,
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
    );

    let unknown = client_with(
        &whop,
        FakeWhop::API_KEY,
        WhopOptions {
            api_version: "2030-01-01".to_owned(),
            company_id: None,
        },
    );
    let ApiError::Rejected { status, message, .. } = unknown
        .retrieve_membership(&ctx, MembershipRef::Id("mem_1"))
        .await
        .unwrap_err()
    else {
        panic!("an unknown version is a 400");
    };
    assert_eq!(status, 400);
    assert!(message.unwrap().contains(DEFAULT_API_VERSION));
    assert!(
        WhopClient::new(
            &ClientConfig::new(whop.base_url(), None),
            WhopOptions {
                api_version: "v1".to_owned(),
                company_id: None
            }
        )
        .is_err()
    );
}

#[tokio::test]
async fn update_writes_the_whole_metadata_within_whops_limits() {
    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_1", "KEY-AAAA-1111").with_metadata(json!({"a": "1"})));
    let api = client(&whop);
    let ctx = CallContext::default();
    let mut metadata = serde_json::Map::new();
    metadata.insert("a".to_owned(), json!("1"));
    metadata.insert("tollgate_devices".to_owned(), json!("0123456789abcdef"));
    let updated = api.update_metadata(&ctx, "mem_1", &metadata).await.unwrap();
    assert_eq!(updated.metadata, metadata);
    assert_eq!(whop.membership("mem_1").unwrap().metadata, metadata);
    assert_eq!(whop.count("PATCH", "/api/v1/memberships/mem_1"), 1);

    // Over a limit: refused, nothing changed.
    let mut too_many = metadata.clone();
    for n in 0..50 {
        too_many.insert(format!("k{n}"), json!("v"));
    }
    let error = api.update_metadata(&ctx, "mem_1", &too_many).await.unwrap_err();
    assert!(matches!(error, ApiError::Rejected { status: 422, .. }), "{error}");
    assert_eq!(whop.membership("mem_1").unwrap().metadata, metadata);
}

#[tokio::test]
async fn a_wrong_api_key_or_a_missing_permission_is_rejected_with_whops_message() {
    let whop = fake_with_member();
    let wrong = client_with(&whop, "not-the-key", WhopOptions::default());
    let error = wrong
        .retrieve_membership(&CallContext::default(), MembershipRef::Id("mem_1"))
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

    whop.set_permissions(&["member:basic:read"]);
    let api = client(&whop);
    let error = api
        .update_metadata(&CallContext::default(), "mem_1", &serde_json::Map::new())
        .await
        .unwrap_err();
    let ApiError::Rejected { status, message, .. } = error else {
        panic!("a 403 is a refusal");
    };
    assert_eq!(status, 403);
    assert!(message.unwrap().contains("member:manage"));
}

#[tokio::test]
async fn list_names_the_company_and_follows_cursors_to_the_last_page() {
    let whop = FakeWhop::start();
    for n in 0..5 {
        whop.add_membership(FakeMembership::new(format!("mem_{n}"), format!("KEY-{n}")));
    }
    let api = client(&whop);
    assert_eq!(api.company_id(), Some(FakeWhop::COMPANY_ID));
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
    let lists: Vec<String> = whop
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/memberships")
        .map(|r| r.query)
        .collect();
    assert_eq!(lists.len(), 3);
    // The pinned version (2026-09-15) names the company `account_id`; an older one `company_id`.
    assert!(
        lists[0].starts_with("account_id=biz_fake&first=2"),
        "{}",
        lists[0]
    );

    let older = client_with(
        &whop,
        FakeWhop::API_KEY,
        WhopOptions {
            api_version: "2026-07-20".to_owned(),
            company_id: Some(FakeWhop::COMPANY_ID.to_owned()),
        },
    );
    older
        .list_memberships(&ctx, &WhopListQuery::default())
        .await
        .unwrap();
    let last = whop.requests().pop().unwrap();
    assert!(last.query.starts_with("company_id=biz_fake"), "{}", last.query);

    // Without the company, Whop refuses the list (an API key must name it).
    let unnamed = client_with(&whop, FakeWhop::API_KEY, WhopOptions::default());
    let error = unnamed
        .list_memberships(&ctx, &WhopListQuery::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ApiError::Rejected { status: 400, .. }), "{error}");
}

#[tokio::test]
async fn the_probe_reports_the_version_and_any_deprecation_notice() {
    let whop = fake_with_member();
    let api = client(&whop);
    let ctx = CallContext::default();
    let probe = api.probe(&ctx).await.unwrap();
    assert_eq!(probe.api_version, DEFAULT_API_VERSION);
    assert_eq!(probe.notice, None);
    whop.add_response_header("Deprecation", "@1791417600");
    let probe = api.probe(&ctx).await.unwrap();
    assert_eq!(probe.notice.unwrap().deprecation.as_deref(), Some("@1791417600"));
}

#[tokio::test]
async fn a_dot_segment_is_never_sent() {
    let whop = fake_with_member();
    let api = client(&whop);
    for key in [".", "..", ""] {
        let error = api
            .retrieve_membership(&CallContext::default(), MembershipRef::LicenseKey(key))
            .await
            .unwrap_err();
        assert!(matches!(error, ApiError::UnsafeInput(_)), "{key:?}: {error}");
    }
    // Encoded as one segment, never a separator.
    assert_eq!(
        api.retrieve_membership(&CallContext::default(), MembershipRef::LicenseKey("a/../b"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(whop.requests()[0].path, "/api/v1/memberships/a/../b");
    assert_eq!(whop.request_count(), 1);
}
