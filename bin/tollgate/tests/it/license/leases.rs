//! Lease tokens from the HTTP answers, checked by an independent JOSE implementation (`jsonwebtoken`, pure-Rust
//! Ed25519) against the JWKS as served at `/.well-known/jwks.json`, through a key rotation.

use actix_web::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tollgate_providers::whop::fake::FakeMembership;
use tollgate_service::lease::{LeaseClaims, REFRESH_EVERY};

use crate::harness::app::{app, get};
use crate::harness::license::{WHOP_KEY, both_with_fakes, license};

/// Verify `token` with `jsonwebtoken` against `jwks` (as served), at the wall clock, leeway 0.
fn jose_verify(jwks: &Value, token: &str) -> Result<LeaseClaims, jsonwebtoken::errors::Error> {
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let kid = jsonwebtoken::decode_header(token)?.kid.unwrap_or_default();
    let Some(jwk) = set.find(&kid) else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
    };
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.leeway = 0;
    validation.validate_nbf = true;
    validation.set_issuer(&["tollgate"]);
    validation.set_audience(&["prod_fake"]);
    jsonwebtoken::decode::<LeaseClaims>(token, &key, &validation).map(|data| data.claims)
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn the_lease_verifies_against_the_served_jwks_and_a_tampered_one_does_not() {
    both_with_fakes(&[], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        let activated = license(&app, "activate", WHOP_KEY, "hw-1").await;
        assert_eq!(activated.status, StatusCode::OK);
        assert_eq!(activated.headers.get("content-type").unwrap(), "application/json");
        let grant = activated.json();
        let token = grant["lease"]["token"].as_str().unwrap();
        // A revalidation signs a new lease (a new device-claim salt); one moments later answers that same lease
        // again, as the same JSON document (lease reuse).
        let validated = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(validated.status, StatusCode::OK);
        assert_eq!(validated.headers.get("content-type").unwrap(), "application/json");
        assert_ne!(validated.json()["lease"]["token"], token);
        let again = license(&app, "validate", WHOP_KEY, "hw-1").await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.json()["lease"]["token"], validated.json()["lease"]["token"]);

        let reply = get(&app, "/.well-known/jwks.json", None).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers.get("content-type").unwrap(), "application/json");
        assert_eq!(reply.headers.get("cache-control").unwrap(), "public, max-age=60");
        let jwks = reply.json();
        assert_eq!(kids(&jwks), ["lease-1"]);
        let key = &jwks["keys"][0];
        assert_eq!(
            (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
            (
                &Value::from("OKP"),
                &Value::from("Ed25519"),
                &Value::from("EdDSA"),
                &Value::from("sig")
            )
        );

        let claims = jose_verify(&jwks, token).unwrap();
        let now = env.now().timestamp();
        assert_eq!(claims.sub, grant["entitlement"]["id"].as_str().unwrap());
        assert_eq!(claims.aud, "prod_fake");
        assert_eq!((claims.iat, claims.nbf), (now, now));
        assert_eq!(claims.exp, now + 72 * 3_600);
        assert_eq!(claims.hwid, env.srv.state.store().hash_hwid("hw-1").as_str());
        assert_eq!(claims.plan.as_deref(), Some("plan_fake"));
        assert_eq!(claims.status, "active");

        // Another `exp` in the payload, the signature kept: rejected.
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["exp"] = Value::from(claims.exp + 365 * 86_400);
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap()),
            parts[2]
        );
        assert_eq!(
            jose_verify(&jwks, &forged).unwrap_err().kind(),
            &jsonwebtoken::errors::ErrorKind::InvalidSignature
        );
    })
    .await;
}

#[actix_web::test]
async fn after_a_rotation_old_and_new_leases_verify_until_the_old_ones_expire() {
    both_with_fakes(&[], async |env| {
        env.whop.add_membership(FakeMembership::new("mem_1", WHOP_KEY));
        let app = app(&env.srv.state).await;
        let old = license(&app, "activate", WHOP_KEY, "hw-1").await.json()["lease"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(kid_of(&old), "lease-1");

        let rotated_at = env.now();
        let leases = env.srv.state.licensing().get().unwrap().leases().clone();
        let new_kid = actix_web::web::block(move || leases.rotate())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(new_kid, "lease-2");
        let new = license(&app, "validate", WHOP_KEY, "hw-1").await.json()["lease"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(kid_of(&new), "lease-2");

        let jwks = get(&app, "/.well-known/jwks.json", None).await.json();
        let mut served = kids(&jwks);
        served.sort();
        assert_eq!(served, ["lease-1", "lease-2"]);
        jose_verify(&jwks, &old).unwrap();
        jose_verify(&jwks, &new).unwrap();

        // The old key stays published until the last lease it signed expires (72 h) plus the reload slack, to
        // the second; then only the new key is served.
        let slack = TimeDelta::from_std(REFRESH_EVERY).unwrap();
        env.srv.clock.set(rotated_at + TimeDelta::hours(72) + slack);
        let mut served = kids(&get(&app, "/.well-known/jwks.json", None).await.json());
        served.sort();
        assert_eq!(served, ["lease-1", "lease-2"]);
        env.srv.clock.advance(TimeDelta::seconds(1));
        assert_eq!(
            kids(&get(&app, "/.well-known/jwks.json", None).await.json()),
            ["lease-2"]
        );
    })
    .await;
}

#[actix_web::test]
async fn a_database_not_ready_at_start_serves_the_keys_once_it_is() {
    let srv = crate::harness::app::TestServer::sqlite(&[]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("later.db").display());
    let store = tollgate_store::Store::open(
        &tollgate_store::StoreConfig::new(url),
        tollgate_store::StoreKeys::generate().unwrap(),
    )
    .unwrap();
    // Not migrated: the server starts anyway, and the lease keys cannot be loaded yet.
    let state = tollgate::app::AppState::new(store.clone(), srv.settings.clone(), srv.clock.clone()).unwrap();
    assert!(state.licensing().get().is_none());
    let app = app(&state).await;
    let reply = get(&app, "/.well-known/jwks.json", None).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "STORAGE_UNAVAILABLE".to_owned())
    );
    assert_eq!(reply.headers.get("retry-after").unwrap(), "5");

    // Once the database is migrated, the first request creates and serves the first key.
    store.migrate().unwrap();
    let reply = get(&app, "/.well-known/jwks.json", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(kids(&reply.json()), ["lease-1"]);
    assert!(state.licensing().get().is_some());
}
