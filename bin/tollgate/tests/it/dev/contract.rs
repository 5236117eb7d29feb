//! The served OpenAPI document is the contract: against a real `tollgate dev`, every documented operation is
//! exercised and each answer is held to the document (`schema.rs`). Every operation must be covered by a successful
//! exchange, and every operation with a security scheme must refuse a request without its token.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use tollgate_providers::aghanim::fake::FakeAghanim;
use tollgate_providers::aghanim::sample::AghanimSubscription;
use tollgate_providers::dodo::sample::DodoGrant;
use tollgate_providers::whop::sample::WhopMembership;
use tollgate_testkit::{WebhookBuilder, WebhookFormat};

use crate::dev::schema::{Contract, closed_components};
use crate::harness::dev::{Dev, PATIENCE};

/// Deliver `body` to the provider's webhook route, signed as that provider signs it.
fn deliver(c: &mut Contract, provider: &str, format: WebhookFormat, secret: &str, body: &Value) -> Vec<u8> {
    let hook = WebhookBuilder::json(format, secret, body).sign();
    let mut headers = hook.headers.clone();
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    let path = format!("/api/webhooks/{provider}");
    c.exchange("POST", &path, &path, None, &headers, Some(hook.body.clone()), 200);
    hook.body
}

#[test]
fn every_answer_matches_the_served_document() {
    let (mut dev, info) = Dev::json(&[], &[]);
    let server = info["server_url"].as_str().unwrap().to_owned();
    let admin = info["admin_token"].as_str().unwrap().to_owned();
    let service = info["service_token"].as_str().unwrap().to_owned();
    let key = |name: &str| info["keys"][name].as_str().unwrap().to_owned();
    let secret = |provider: &str| {
        info["providers"][provider]["webhook_secret"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(PATIENCE)
        .no_proxy()
        .build()
        .unwrap();

    // The served document is the generated one (and so docs/openapi.json, which tests/it/openapi.rs compares).
    let served = client
        .get(format!("{server}/openapi.json"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        served == tollgate::http::openapi::document_json(),
        "the served document differs"
    );
    let doc: Value = serde_json::from_str(&served).unwrap();
    let mut c = Contract {
        components: closed_components(&doc),
        doc,
        server: server.clone(),
        seen: BTreeMap::new(),
        client,
    };
    let (adm, svc) = (Some(admin.as_str()), Some(service.as_str()));

    // The check is strict: an undocumented field, a wrong type or a malformed date fails it.
    let grant = json!({"$ref": "#/components/schemas/LicenseGrant"});
    let health = json!({"$ref": "#/components/schemas/Health"});
    assert_eq!(
        c.violations(&health, &json!({"status": "ok", "mode": "dev"})),
        Vec::<String>::new()
    );
    assert_eq!(
        c.violations(&health, &json!({"status": "ok", "mode": "dev", "extra": 1}))
            .len(),
        1
    );
    assert_eq!(
        c.violations(&health, &json!({"status": "ok", "mode": "prod"}))
            .len(),
        1
    );
    assert!(
        !c.violations(&grant, &json!({"code": "VALID", "lease": {"expires_at": "soon"}}))
            .is_empty()
    );

    // Operations.
    c.get("/healthz", "/healthz", None, 200);
    c.get("/readyz", "/readyz", None, 200);
    c.get("/metrics", "/metrics", None, 200);
    c.get("/openapi.json", "/openapi.json", None, 200);
    c.get("/.well-known/jwks.json", "/.well-known/jwks.json", None, 200);

    // The app-facing license API.
    let activate = "/api/license/activate";
    let granted = c.json(
        "POST",
        activate,
        activate,
        None,
        json!({"license_key": key("active"), "hwid": "c-1", "device_name": "Contract"}),
        200,
    );
    let entitlement = granted["entitlement"]["id"].as_str().unwrap().to_owned();
    let device = granted["device"]["id"].as_str().unwrap().to_owned();
    c.json(
        "POST",
        activate,
        activate,
        None,
        json!({"license_key": key("active"), "hwid": "c-2"}),
        200,
    );
    c.json(
        "POST",
        activate,
        activate,
        None,
        json!({"license_key": key("active"), "hwid": "c-3"}),
        409,
    );
    c.json(
        "POST",
        activate,
        activate,
        None,
        json!({"license_key": key("canceled"), "hwid": "c-1"}),
        403,
    );
    c.json(
        "POST",
        activate,
        activate,
        None,
        json!({"license_key": key("node_locked"), "hwid": "c-1"}),
        200,
    );
    c.json(
        "POST",
        activate,
        activate,
        None,
        json!({"license_key": key("node_locked"), "hwid": "c-2"}),
        409,
    );
    c.json(
        "POST",
        activate,
        activate,
        None,
        json!({"license_key": "TGDEV-NONE-0000-0000", "hwid": "c-1"}),
        404,
    );
    c.json(
        "POST",
        activate,
        activate,
        None,
        json!({"license_key": "", "hwid": "c-1"}),
        400,
    );
    c.exchange("POST", activate, activate, None, &[], Some(b"{}".to_vec()), 400);
    let validate = "/api/license/validate";
    c.json(
        "POST",
        validate,
        validate,
        None,
        json!({"license_key": key("active"), "hwid": "c-1"}),
        200,
    );
    c.json(
        "POST",
        validate,
        validate,
        None,
        json!({"license_key": key("active"), "hwid": "c-9"}),
        403,
    );
    let deactivate = "/api/license/deactivate";
    c.json(
        "POST",
        deactivate,
        deactivate,
        None,
        json!({"license_key": key("active"), "hwid": "c-2"}),
        200,
    );
    c.json(
        "POST",
        deactivate,
        deactivate,
        None,
        json!({"license_key": key("active"), "hwid": "c-9"}),
        403,
    );

    // The provider-facing webhooks, signed as each provider signs.
    let now = Utc::now();
    let whop = WhopMembership {
        webhook_id: "msg_contract_1",
        event_type: "membership.activated",
        membership_id: "mem_contract_1",
        user_id: "user_contract",
        member_id: "mber_contract",
        license_key: "TGDEV-CNTR-1111-2222",
        status: "active",
        cancel_at_period_end: false,
        canceled_at: None,
        cancellation_reason: None,
        start: now - TimeDelta::days(1),
        period_end: now + TimeDelta::days(30),
        at: now,
    }
    .body();
    let body = deliver(&mut c, "whop", WebhookFormat::WhopCurrent, &secret("whop"), &whop);
    let unsigned = [("content-type".to_owned(), "application/json".to_owned())];
    c.exchange(
        "POST",
        "/api/webhooks/whop",
        "/api/webhooks/whop",
        None,
        &unsigned,
        Some(body),
        401,
    );
    let dodo = DodoGrant {
        grant_id: "entg_contract_1",
        customer_id: "cus_contract",
        subscription_id: "sub_contract",
        license_key: "0c7a1e3b-5d2f-4e8a-9b6c-1d2e3f4a5b6c",
        revoked: false,
        created: now - TimeDelta::days(1),
        at: now,
    }
    .body();
    deliver(&mut c, "dodo", WebhookFormat::Dodo, &secret("dodo"), &dodo);
    // Authentic JSON that no parser understands is stored as failed (and answered 200): replay-failed has work.
    deliver(
        &mut c,
        "dodo",
        WebhookFormat::Dodo,
        &secret("dodo"),
        &json!({"type": "entitlement_grant.delivered", "business_id": "bus_1", "timestamp": now.to_rfc3339(), "data": "not an object"}),
    );
    let aghanim = AghanimSubscription {
        subscription_id: "sub_contract_1",
        order_id: "ord_contract",
        user_id: "usr_contract",
        player_id: "PLAYER-CONTRACT",
        ended: false,
        unique: "contract1",
        created: now - TimeDelta::days(1),
        at: now,
    }
    .body();
    deliver(
        &mut c,
        "aghanim",
        FakeAghanim::WEBHOOK_FORMAT,
        &secret("aghanim"),
        &aghanim,
    );

    // The service API.
    let list = "/api/entitlements";
    let found = c.get(
        list,
        "/api/entitlements?provider=aghanim&subject=PLAYER-CONTRACT",
        svc,
        200,
    );
    assert_eq!(found["entitlements"][0]["subject"], "PLAYER-CONTRACT");
    c.get(list, "/api/entitlements?subject=PLAYER-CONTRACT", svc, 400);

    // The admin API.
    c.get(
        "/admin/entitlements",
        "/admin/entitlements?provider=whop&subject=user_tgdev_active",
        adm,
        200,
    );
    let one = "/admin/entitlements/{provider}/{external_id}";
    c.get(one, "/admin/entitlements/whop/mem_tgdev_active", adm, 200);
    c.get(one, "/admin/entitlements/whop/mem_nope", adm, 404);
    c.get(one, "/admin/entitlements/stripe/x", adm, 400);
    let inbox = c.get("/admin/inbox", "/admin/inbox?limit=50", adm, 200);
    let first = inbox["events"][0]["id"].as_i64().unwrap();
    c.get("/admin/inbox", "/admin/inbox?status=lost", adm, 400);
    c.get("/admin/inbox/{id}", &format!("/admin/inbox/{first}"), adm, 200);
    c.get("/admin/inbox/{id}", "/admin/inbox/999999", adm, 404);
    c.get("/admin/inbox/{id}", "/admin/inbox/x", adm, 400);
    let replay = "/admin/inbox/{id}/replay";
    c.exchange(
        "POST",
        replay,
        &format!("/admin/inbox/{first}/replay"),
        adm,
        &[],
        None,
        200,
    );
    c.exchange("POST", replay, "/admin/inbox/999999/replay", adm, &[], None, 404);
    let failed = c.exchange(
        "POST",
        "/admin/inbox/replay-failed",
        "/admin/inbox/replay-failed",
        adm,
        &[],
        None,
        200,
    );
    assert!(failed["replayed"].as_u64().unwrap() >= 1, "{failed}");
    c.get("/admin/policy", "/admin/policy", adm, 200);
    let denials = "/admin/licenses/denials";
    let denied = c.get(
        denials,
        &format!("{denials}?license_key={}", key("canceled")),
        adm,
        200,
    );
    assert_eq!(denied["denials"][0]["code"], "LICENSE_INACTIVE");
    c.get(denials, &format!("{denials}?license_key="), adm, 400);
    let reset = "/admin/entitlements/{id}/devices/{device_id}/reset";
    c.exchange(
        "POST",
        reset,
        &format!("/admin/entitlements/{entitlement}/devices/{device}/reset"),
        adm,
        &[],
        None,
        200,
    );
    c.exchange(
        "POST",
        reset,
        &format!("/admin/entitlements/{entitlement}/devices/{device}/reset"),
        adm,
        &[],
        None,
        404,
    );
    c.json(
        "POST",
        reset,
        "/admin/entitlements/ent_nope/devices/dev_nope/reset",
        adm,
        json!({"license_key": 7}),
        400,
    );
    c.exchange(
        "POST",
        "/admin/reconcile",
        "/admin/reconcile",
        adm,
        &[],
        None,
        200,
    );
    c.exchange(
        "POST",
        "/admin/reconcile",
        "/admin/reconcile?provider=stripe",
        adm,
        &[],
        None,
        400,
    );

    // Every operation with a security scheme refuses a request without its token, as documented.
    let secured: Vec<(String, String)> = c.doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .filter(|(_, op)| op["security"].is_array())
                .map(|(method, _)| (method.to_ascii_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(secured.len() >= 11, "{secured:?}");
    for (method, template) in secured {
        let path = template
            .replace("{provider}", "whop")
            .replace("{external_id}", "mem_tgdev_active")
            .replace("{id}", "1")
            .replace("{device_id}", "dev_x");
        let refused = c.exchange(&method, &template, &path, None, &[], None, 401);
        assert_eq!(refused["code"], "UNAUTHORIZED");
    }

    // Every documented operation was exercised and answered with success at least once.
    let documented: BTreeSet<String> = c.doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| {
            item.as_object()
                .unwrap()
                .values()
                .map(|op| op["operationId"].as_str().unwrap().to_owned())
        })
        .collect();
    for id in &documented {
        let statuses = c.seen.get(id).cloned().unwrap_or_default();
        assert!(
            statuses.iter().any(|s| (200..300).contains(s)),
            "the operation {id} was never answered with success here (seen: {statuses:?}): add an exchange"
        );
    }
    assert_eq!(dev.stop().code(), Some(0));
}
