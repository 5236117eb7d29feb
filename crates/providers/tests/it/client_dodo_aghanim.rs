//! The Dodo and Aghanim clients against their fakes: every documented status.

use chrono::DateTime;
use tollgate_policy::EventKind;
use tollgate_providers::aghanim::fake::{FakeAghanim, FakeAghanimSubscription};
use tollgate_providers::aghanim::{AghanimApi, AghanimClient, AghanimSubscription, SubscriptionQuery};
use tollgate_providers::dodo::fake::{FakeDodo, FakeGrant, FakeLicenseKey, FakeSubscription};
use tollgate_providers::dodo::{
    DodoActivation, DodoApi, DodoClient, DodoDeactivation, DodoGrantQuery, DodoInstance, DodoInstanceQuery,
    DodoPageQuery, DodoValidation,
};
use tollgate_providers::{ApiError, ApiKey, CallContext, ClientConfig, LicenseKey};
use tollgate_testkit::FakeProvider;

#[expect(
    clippy::unwrap_used,
    reason = "test helper: a client that cannot be built fails the test"
)]
fn dodo_client(dodo: &FakeDodo, key: &str) -> DodoClient {
    DodoClient::new(&ClientConfig::new(dodo.base_url(), Some(ApiKey::new(key)))).unwrap()
}

#[tokio::test]
async fn activation_covers_created_limit_inactive_and_unknown() {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "DODO-KEY-1", Some(1)));
    let api = dodo_client(&dodo, FakeDodo::API_KEY);
    let ctx = CallContext::default();

    let DodoActivation::Activated(instance) = api.activate_license(&ctx, "DODO-KEY-1", "pc-1").await.unwrap()
    else {
        panic!("expected 201");
    };
    assert!(instance.id.starts_with("lki_"), "{}", instance.id);
    assert_eq!(instance.license_key_id.as_deref(), Some("lic_1"));
    assert_eq!(instance.name.as_deref(), Some("pc-1"));
    assert_eq!(instance.customer_id.as_deref(), Some("cus_fake"));

    assert_eq!(
        api.activate_license(&ctx, "DODO-KEY-1", "pc-2").await.unwrap(),
        DodoActivation::LimitReached {
            message: Some("License key activation limit reached".to_owned())
        }
    );
    dodo.update_license_key("DODO-KEY-1", |k| k.expires_at = Some(1));
    assert_eq!(
        api.activate_license(&ctx, "DODO-KEY-1", "pc-2").await.unwrap(),
        DodoActivation::Inactive {
            message: Some("License key is not active".to_owned())
        }
    );
    assert_eq!(
        api.activate_license(&ctx, "NOPE", "pc-1").await.unwrap(),
        DodoActivation::NotFound
    );
}

#[tokio::test]
async fn a_422_is_mapped_by_its_code() {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "DODO-KEY-1", None));
    let api = dodo_client(&dodo, FakeDodo::API_KEY);
    let ctx = CallContext::default();
    dodo.refuse_activations_as_invalid(true);
    assert_eq!(
        api.activate_license(&ctx, "DODO-KEY-1", "pc-1").await.unwrap(),
        DodoActivation::InvalidRequest {
            code: Some("INVALID_REQUEST_BODY".to_owned()),
            message: Some(
                "Your request body is invalid. Please check your request headers and object.".to_owned()
            ),
        }
    );
    dodo.refuse_activations_as_invalid(false);
    dodo.update_license_key("DODO-KEY-1", |k| k.activations_limit = Some(0));
    assert_eq!(
        api.activate_license(&ctx, "DODO-KEY-1", "pc-1").await.unwrap(),
        DodoActivation::LimitReached {
            message: Some("License key activation limit reached".to_owned())
        }
    );
}

#[tokio::test]
async fn deactivation_and_validation() {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "DODO-KEY-1", None));
    let api = dodo_client(&dodo, FakeDodo::API_KEY);
    let ctx = CallContext::default();
    let DodoActivation::Activated(instance) = api.activate_license(&ctx, "DODO-KEY-1", "pc-1").await.unwrap()
    else {
        panic!("expected 201");
    };
    let validate = |key: &'static str, instance: Option<String>| {
        let api = &api;
        let ctx = &ctx;
        async move { api.validate_license(ctx, key, instance.as_deref()).await.unwrap() }
    };
    assert_eq!(
        validate("DODO-KEY-1", Some(instance.id.clone())).await,
        DodoValidation::Valid
    );
    assert_eq!(validate("DODO-KEY-1", None).await, DodoValidation::Valid);
    assert_eq!(validate("NOPE", None).await, DodoValidation::Invalid);

    assert_eq!(
        api.deactivate_license(&ctx, "DODO-KEY-1", &instance.id)
            .await
            .unwrap(),
        DodoDeactivation::Deactivated
    );
    assert_eq!(
        validate("DODO-KEY-1", Some(instance.id.clone())).await,
        DodoValidation::Invalid
    );
    assert_eq!(
        api.deactivate_license(&ctx, "DODO-KEY-1", &instance.id)
            .await
            .unwrap(),
        DodoDeactivation::InstanceNotFound
    );
    assert_eq!(
        api.deactivate_license(&ctx, "NOPE", &instance.id).await.unwrap(),
        DodoDeactivation::NotFound
    );
    dodo.update_license_key("DODO-KEY-1", |k| k.status = "disabled".to_owned());
    assert_eq!(validate("DODO-KEY-1", None).await, DodoValidation::Invalid);
}

#[tokio::test]
async fn a_validate_404_is_not_found_not_an_outage() {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "DODO-KEY-1", None));
    dodo.validate_unknown_as_404(true);
    let api = dodo_client(&dodo, FakeDodo::API_KEY);
    let ctx = CallContext::default();
    assert_eq!(
        api.validate_license(&ctx, "DODO-KEY-1", None).await.unwrap(),
        DodoValidation::Valid
    );
    assert!(dodo.delete_license_key("DODO-KEY-1"));
    assert_eq!(
        api.validate_license(&ctx, "DODO-KEY-1", None).await.unwrap(),
        DodoValidation::NotFound
    );
    // Another 4xx is still the provider saying something unmodelled, not "not found".
    dodo.fail_next(tollgate_testkit::Fault::Status(409), 1);
    assert!(matches!(
        api.validate_license(&ctx, "DODO-KEY-1", None).await.unwrap_err(),
        ApiError::Rejected { status: 409, .. }
    ));
}

#[tokio::test]
async fn license_key_instances_are_listed_by_key_and_found_by_id() {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "DODO-KEY-1", None));
    dodo.add_license_key(FakeLicenseKey::new("lic_2", "DODO-KEY-2", None));
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(dodo.add_instance("DODO-KEY-1", &format!("pc-{n}")).unwrap());
    }
    let other = dodo.add_instance("DODO-KEY-2", "elsewhere").unwrap();
    let api = dodo_client(&dodo, FakeDodo::API_KEY);
    let ctx = CallContext::default();
    let mut query = DodoInstanceQuery {
        license_key_id: "lic_1".to_owned(),
        page: DodoPageQuery {
            page_number: 0,
            page_size: Some(2),
        },
    };
    let first = api.list_license_key_instances(&ctx, &query).await.unwrap();
    query.page.page_number = 1;
    let second = api.list_license_key_instances(&ctx, &query).await.unwrap();
    assert_eq!(
        first
            .iter()
            .chain(&second)
            .map(|i| i.id.clone())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(
        first[0],
        DodoInstance {
            id: ids[0].clone(),
            license_key_id: Some("lic_1".to_owned()),
            name: Some("pc-0".to_owned()),
            customer_id: None,
            product_id: None,
        }
    );
    assert_eq!(
        dodo.requests()
            .iter()
            .filter(|r| r.path == "/license_key_instances")
            .map(|r| r.query.clone())
            .collect::<Vec<_>>(),
        [
            "license_key_id=lic_1&page_number=0&page_size=2",
            "license_key_id=lic_1&page_number=1&page_size=2"
        ]
    );
    let found = api
        .find_license_key_instance(&ctx, &other)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.license_key_id.as_deref(), Some("lic_2"));
    assert!(dodo.remove_instance(&other));
    assert_eq!(api.find_license_key_instance(&ctx, &other).await.unwrap(), None);
    // The instance endpoints need the API key.
    let anonymous = dodo_client(&dodo, "wrong");
    assert!(matches!(
        anonymous
            .list_license_key_instances(&ctx, &query)
            .await
            .unwrap_err(),
        ApiError::Rejected { status: 401, .. }
    ));
}

#[tokio::test]
async fn grants_and_subscriptions_are_listed_page_by_page() {
    let dodo = FakeDodo::start();
    dodo.add_grant(FakeGrant::pending("entg_1", "ent_1", "cus_1"));
    dodo.add_grant(FakeGrant::pending("entg_2", "ent_1", "cus_2"));
    dodo.add_grant(FakeGrant::pending("entg_3", "ent_other", "cus_1"));
    dodo.fulfill_grant("entg_2", "DODO-KEY-2", Some(3)).unwrap();
    dodo.revoke_grant("entg_1", "manual");
    for n in 0..3 {
        dodo.add_subscription(FakeSubscription::active(format!("sub_{n}"), "cus_1", "pdt_1"));
    }
    let api = dodo_client(&dodo, FakeDodo::API_KEY);
    let ctx = CallContext::default();

    let all = api
        .list_grants(&ctx, "ent_1", &DodoGrantQuery::default())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        ["entg_1", "entg_2"]
    );
    assert_eq!(all[0].status.as_deref(), Some("Revoked"));
    assert_eq!(all[0].revocation_reason.as_deref(), Some("manual"));
    assert_eq!(
        all[0]
            .snapshot_event(DateTime::from_timestamp(1, 0).unwrap())
            .unwrap()
            .kind,
        EventKind::Revoked {
            reason: Some("manual".to_owned())
        }
    );
    assert_eq!(all[1].license_key, Some(LicenseKey::new("DODO-KEY-2")));
    let delivered = DodoGrantQuery {
        status: Some("Delivered".to_owned()),
        ..DodoGrantQuery::default()
    };
    let delivered = api.list_grants(&ctx, "ent_1", &delivered).await.unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].id, "entg_2");

    let mut ids = Vec::new();
    let mut page = DodoPageQuery {
        page_number: 0,
        page_size: Some(2),
    };
    loop {
        let items = api.list_subscriptions(&ctx, page).await.unwrap();
        if items.is_empty() {
            break;
        }
        ids.extend(items.into_iter().map(|s| s.subscription_id));
        page.page_number += 1;
    }
    assert_eq!(ids, ["sub_0", "sub_1", "sub_2"]);
}

#[tokio::test]
async fn authenticated_dodo_endpoints_reject_a_wrong_key() {
    let dodo = FakeDodo::start();
    let api = dodo_client(&dodo, "wrong");
    assert_eq!(
        api.list_subscriptions(&CallContext::default(), DodoPageQuery::default())
            .await
            .unwrap_err(),
        ApiError::Rejected {
            status: 401,
            code: Some("UNAUTHORIZED".to_owned()),
            message: Some("Invalid API key".to_owned()),
        }
    );
}

#[tokio::test]
async fn aghanim_player_subscriptions() {
    let aghanim = FakeAghanim::start();
    let mut sub = FakeAghanimSubscription::active("sub_1", "battle_pass");
    sub.effective_until = Some(1_800_000_000);
    sub.status = "canceled".to_owned();
    aghanim.add_subscription("2D2R-OP3C", sub);
    let config = ClientConfig::new(aghanim.base_url(), Some(ApiKey::new(FakeAghanim::API_KEY)));
    let api = AghanimClient::new(&config).unwrap();
    let ctx = CallContext::default();
    let page = SubscriptionQuery::first(10);
    let subs = api
        .list_player_subscriptions(&ctx, "2D2R-OP3C", page)
        .await
        .unwrap();
    assert_eq!(
        subs,
        vec![AghanimSubscription {
            id: "sub_1".to_owned(),
            sku: Some("battle_pass".to_owned()),
            status: Some("canceled".to_owned()),
            effective_until: DateTime::from_timestamp(1_800_000_000, 0),
            plan_key: Some("plan_fake_monthly".to_owned()),
        }]
    );
    assert_eq!(aghanim.count("GET", "/s2s/v1/players/2D2R-OP3C/subscriptions"), 1);
    assert_eq!(aghanim.requests()[0].query, "limit=10&offset=0");
    assert!(
        api.list_player_subscriptions(&ctx, "nobody", page)
            .await
            .unwrap()
            .is_empty()
    );

    let wrong = AghanimClient::new(&ClientConfig::new(aghanim.base_url(), Some(ApiKey::new("x")))).unwrap();
    assert_eq!(
        wrong
            .list_player_subscriptions(&ctx, "2D2R-OP3C", page)
            .await
            .unwrap_err(),
        ApiError::Rejected {
            status: 401,
            code: None,
            message: Some("Invalid API key".to_owned()),
        }
    );
}

#[tokio::test]
async fn aghanim_subscriptions_page_with_limit_and_offset() {
    let aghanim = FakeAghanim::start();
    for n in 0..25 {
        aghanim.add_subscription(
            "P1",
            FakeAghanimSubscription::active(format!("sub_{n:02}"), "pass"),
        );
    }
    let mut ended = FakeAghanimSubscription::active("sub_ended", "pass");
    ended.effective_until = Some(1);
    ended.status = "expired".to_owned();
    aghanim.add_subscription("P1", ended);
    let config = ClientConfig::new(aghanim.base_url(), Some(ApiKey::new(FakeAghanim::API_KEY)));
    let api = AghanimClient::new(&config).unwrap();
    let ctx = CallContext::default();
    let mut query = SubscriptionQuery::first(10);
    let mut seen = Vec::new();
    loop {
        let page = api.list_player_subscriptions(&ctx, "P1", query).await.unwrap();
        let last = page.len() < query.limit as usize;
        seen.extend(page.into_iter().map(|s| s.id));
        if last {
            break;
        }
        query = query.next();
    }
    assert_eq!(seen.len(), 26);
    assert_eq!(seen.first().map(String::as_str), Some("sub_00"));
    assert_eq!(seen.last().map(String::as_str), Some("sub_ended"));
    assert_eq!(
        aghanim
            .requests()
            .iter()
            .map(|r| r.query.clone())
            .collect::<Vec<_>>(),
        ["limit=10&offset=0", "limit=10&offset=10", "limit=10&offset=20"]
    );
    let effective = SubscriptionQuery {
        effective: Some(false),
        ..SubscriptionQuery::first(50)
    };
    let over = api
        .list_player_subscriptions(&ctx, "P1", effective)
        .await
        .unwrap();
    assert_eq!(
        over.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["sub_ended"]
    );
    assert_eq!(
        aghanim.requests().last().unwrap().query,
        "limit=50&offset=0&effective=false"
    );
}

#[test]
fn a_base_url_that_is_not_http_is_a_config_error() {
    let error = DodoClient::new(&ClientConfig::new("not a url", None)).unwrap_err();
    assert!(matches!(error, ApiError::Config(_)), "{error:?}");
    let error = DodoClient::new(&ClientConfig::new("ftp://example.com", None)).unwrap_err();
    assert!(matches!(error, ApiError::Config(_)), "{error:?}");
}
