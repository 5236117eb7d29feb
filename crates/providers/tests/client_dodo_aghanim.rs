//! The Dodo and Aghanim clients against their fakes: every documented status.

use chrono::DateTime;
use tollgate_policy::EventKind;
use tollgate_providers::aghanim::{AghanimApi, AghanimClient, AghanimSubscription};
use tollgate_providers::dodo::{
    DodoActivation, DodoApi, DodoClient, DodoDeactivation, DodoGrantQuery, DodoPageQuery,
};
use tollgate_providers::{ApiError, ApiKey, CallContext, ClientConfig, LicenseKey};
use tollgate_testkit::{
    FakeAghanim, FakeAghanimSubscription, FakeDodo, FakeGrant, FakeLicenseKey, FakeProvider, FakeSubscription,
};

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
async fn deactivation_and_validation() {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "DODO-KEY-1", None));
    let api = dodo_client(&dodo, FakeDodo::API_KEY);
    let ctx = CallContext::default();
    let DodoActivation::Activated(instance) = api.activate_license(&ctx, "DODO-KEY-1", "pc-1").await.unwrap()
    else {
        panic!("expected 201");
    };
    assert!(
        api.validate_license(&ctx, "DODO-KEY-1", Some(&instance.id))
            .await
            .unwrap()
    );
    assert!(api.validate_license(&ctx, "DODO-KEY-1", None).await.unwrap());
    assert!(!api.validate_license(&ctx, "NOPE", None).await.unwrap());

    assert_eq!(
        api.deactivate_license(&ctx, "DODO-KEY-1", &instance.id)
            .await
            .unwrap(),
        DodoDeactivation::Deactivated
    );
    assert!(
        !api.validate_license(&ctx, "DODO-KEY-1", Some(&instance.id))
            .await
            .unwrap()
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
    assert!(!api.validate_license(&ctx, "DODO-KEY-1", None).await.unwrap());
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
    let subs = api.list_player_subscriptions(&ctx, "2D2R-OP3C").await.unwrap();
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
    assert!(
        api.list_player_subscriptions(&ctx, "nobody")
            .await
            .unwrap()
            .is_empty()
    );

    let wrong = AghanimClient::new(&ClientConfig::new(aghanim.base_url(), Some(ApiKey::new("x")))).unwrap();
    assert_eq!(
        wrong
            .list_player_subscriptions(&ctx, "2D2R-OP3C")
            .await
            .unwrap_err(),
        ApiError::Rejected {
            status: 401,
            code: None,
            message: Some("Invalid API key".to_owned()),
        }
    );
}

#[test]
fn a_base_url_that_is_not_http_is_a_config_error() {
    let error = DodoClient::new(&ClientConfig::new("not a url", None)).unwrap_err();
    assert!(matches!(error, ApiError::Config(_)), "{error:?}");
    let error = DodoClient::new(&ClientConfig::new("ftp://example.com", None)).unwrap_err();
    assert!(matches!(error, ApiError::Config(_)), "{error:?}");
}
