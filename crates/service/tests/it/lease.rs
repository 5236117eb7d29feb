//! Lease tokens: checked by an independent JOSE implementation (`jsonwebtoken` on its pure-Rust backend) against
//! the served JWKS, tamper rejection, the exact expiry boundary, rotation across instances, and the first-start
//! race. Every body runs on SQLite and PostgreSQL.

#![expect(clippy::unwrap_used, reason = "tests")]

use crate::common::license_harness as harness;

use std::sync::{Arc, Barrier};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tollgate_service::clock::{Clock as _, ManualClock};
use tollgate_service::lease::{LeaseClaims, LeaseError, LeaseSigner, REFRESH_EVERY};

use harness::{TestDb, both_sync, clock_at, now};

const GRACE: TimeDelta = TimeDelta::hours(72);

fn claims(issued: DateTime<Utc>, lifetime: TimeDelta) -> LeaseClaims {
    LeaseClaims {
        iss: "tollgate".to_owned(),
        sub: "ent_0123456789abcdef01234567".to_owned(),
        aud: "prod_1".to_owned(),
        iat: issued.timestamp(),
        nbf: issued.timestamp(),
        exp: (issued + lifetime).timestamp(),
        refresh_after: (issued + TimeDelta::hours(24)).timestamp(),
        hwid: "9f".repeat(32),
        plan: Some("plan_1".to_owned()),
        status: "active".to_owned(),
        features: vec!["pro".to_owned()],
        dev: None,
    }
}

fn signer(db: &TestDb, clock: &Arc<ManualClock>) -> LeaseSigner {
    LeaseSigner::load_or_create(&db.store, "tollgate", GRACE, clock.clone()).unwrap()
}

/// Verify with `jsonwebtoken` against the JWKS as served (JSON), at the wall clock, leeway 0.
fn jose_verify(jwks: &serde_json::Value, token: &str) -> Result<LeaseClaims, jsonwebtoken::errors::Error> {
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.clone().unwrap_or_default();
    let Some(jwk) = set.find(&kid) else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
    };
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.leeway = 0;
    validation.set_issuer(&["tollgate"]);
    validation.set_audience(&["prod_1"]);
    validation.validate_nbf = true;
    jsonwebtoken::decode::<LeaseClaims>(token, &key, &validation).map(|data| data.claims)
}

fn served_jwks(signer: &LeaseSigner) -> serde_json::Value {
    serde_json::to_value(signer.jwks()).unwrap()
}

/// Replace one dot-separated part of a token.
fn with_part(token: &str, index: usize, part: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[index] = part;
    parts.join(".")
}

#[test]
fn an_independent_jose_library_verifies_leases_against_the_served_jwks() {
    both_sync(|db| {
        let clock = clock_at(now());
        let signer = signer(&db, &clock);
        let expected = claims(clock.now(), GRACE);
        let token = signer.sign(&expected).unwrap();

        let jwks = served_jwks(&signer);
        assert_eq!(
            jwks,
            serde_json::json!({"keys": [{
                "kty": "OKP", "crv": "Ed25519", "x": jwks["keys"][0]["x"], "kid": "lease-1",
                "alg": "EdDSA", "use": "sig"
            }]})
        );
        let x = URL_SAFE_NO_PAD
            .decode(jwks["keys"][0]["x"].as_str().unwrap())
            .unwrap();
        assert_eq!(x.len(), 32);

        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap())
                .unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": "lease-1"})
        );
        assert_eq!(jose_verify(&jwks, &token).unwrap(), expected, "{}", db.backend);
        assert_eq!(signer.verify(&token, clock.now()).unwrap(), expected);
    });
}

#[test]
fn a_tampered_header_payload_or_signature_is_rejected_by_both_verifiers() {
    both_sync(|db| {
        let clock = clock_at(now());
        let signer = signer(&db, &clock);
        let token = signer.sign(&claims(clock.now(), GRACE)).unwrap();
        let jwks = served_jwks(&signer);
        let parts: Vec<&str> = token.split('.').collect();

        let mut forged = claims(clock.now(), GRACE);
        forged.exp += 365 * 86_400;
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered_payload = with_part(&token, 1, &payload);
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT","kid":"lease-1","x":1}"#);
        let tampered_header = with_part(&token, 0, &header);
        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[10] ^= 0x01;
        let tampered_signature = with_part(&token, 2, &URL_SAFE_NO_PAD.encode(&signature));

        for bad in [&tampered_payload, &tampered_header, &tampered_signature] {
            assert_eq!(signer.verify(bad, clock.now()), Err(LeaseError::BadSignature));
            assert!(
                jose_verify(&jwks, bad).is_err(),
                "jsonwebtoken accepted a tampered token"
            );
        }
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"lease-1"}"#);
        assert_eq!(
            signer.verify(&with_part(&token, 0, &none), clock.now()),
            Err(LeaseError::UnsupportedAlgorithm)
        );
        let unknown = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","kid":"lease-9"}"#);
        assert_eq!(
            signer.verify(&with_part(&token, 0, &unknown), clock.now()),
            Err(LeaseError::UnknownKey)
        );
        assert!(matches!(
            signer.verify("a.b", clock.now()),
            Err(LeaseError::Malformed(_))
        ));
        assert!(matches!(
            signer.verify(&format!("{token}="), clock.now()),
            Err(LeaseError::Malformed(_))
        ));
        assert!(matches!(
            signer.verify(&"a".repeat(10_000), clock.now()),
            Err(LeaseError::Malformed(_))
        ));
    });
}

#[test]
fn a_lease_verifies_until_exactly_its_exp_and_not_one_second_after() {
    both_sync(|db| {
        let issued = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = clock_at(issued);
        let signer = signer(&db, &clock);
        let lease = claims(issued, GRACE);
        let token = signer.sign(&lease).unwrap();
        let exp = DateTime::from_timestamp(lease.exp, 0).unwrap();
        assert_eq!(
            signer.verify(&token, issued - TimeDelta::seconds(1)),
            Err(LeaseError::NotYetValid)
        );
        assert_eq!(signer.verify(&token, issued).unwrap(), lease);
        assert_eq!(signer.verify(&token, exp).unwrap(), lease);
        assert_eq!(
            signer.verify(&token, exp + TimeDelta::milliseconds(999)).unwrap(),
            lease
        );
        assert_eq!(
            signer.verify(&token, exp + TimeDelta::seconds(1)),
            Err(LeaseError::Expired)
        );
    });
}

#[test]
fn after_a_rotation_old_and_new_leases_verify_until_the_old_ones_expire() {
    both_sync(|db| {
        let t0 = now();
        let clock = clock_at(t0);
        let signer = signer(&db, &clock);
        let other_clock = clock_at(t0);
        let other =
            LeaseSigner::load_or_create(&db.open_again(), "tollgate", GRACE, other_clock.clone()).unwrap();
        let old = signer.sign(&claims(t0, GRACE)).unwrap();

        clock.advance(TimeDelta::hours(1));
        let rotated_at = clock.now();
        assert_eq!(signer.rotate().unwrap(), "lease-2");
        // Issued at t0 too (so the wall-clock verifier sees it as current), living past the old key's publication.
        let new = signer.sign(&claims(t0, GRACE + TimeDelta::hours(2))).unwrap();
        assert!(new.starts_with(&URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT","kid":"lease-2"}"#)));

        // Both keys are served; the independent verifier accepts both tokens now.
        let jwks = served_jwks(&signer);
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, ["lease-1", "lease-2"]);
        jose_verify(&jwks, &old).unwrap();
        jose_verify(&jwks, &new).unwrap();

        // Another instance picks the rotation up when it reloads.
        assert_eq!(other.current_kid().as_deref(), Some("lease-1"));
        other.refresh().unwrap();
        assert_eq!(other.current_kid().as_deref(), Some("lease-2"));
        assert!(!other.refresh_if_stale().unwrap(), "just reloaded");
        other.verify(&old, rotated_at).unwrap();
        other.verify(&new, rotated_at).unwrap();

        // The old key stays published for the longest lease (plus the reload slack) after the rotation.
        let not_after = rotated_at + GRACE + TimeDelta::from_std(REFRESH_EVERY).unwrap();
        let old_exp = t0 + GRACE;
        signer.verify(&old, old_exp).unwrap();
        assert_eq!(
            signer.verify(&old, old_exp + TimeDelta::seconds(1)),
            Err(LeaseError::Expired)
        );
        clock.set(not_after);
        assert_eq!(served_jwks(&signer)["keys"].as_array().unwrap().len(), 2);
        clock.set(not_after + TimeDelta::seconds(1));
        let jwks = served_jwks(&signer);
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        assert_eq!(jwks["keys"][0]["kid"], "lease-2");
        assert_eq!(
            signer.verify(&old, not_after + TimeDelta::seconds(1)),
            Err(LeaseError::UnknownKey)
        );
        signer.verify(&new, not_after + TimeDelta::seconds(1)).unwrap();

        let stored = db.store.list_signing_keys().unwrap();
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[0].retired_at, Some(rotated_at));
        assert_eq!(stored[0].not_after, Some(not_after));
        assert_eq!(stored[1].retired_at, None);
    });
}

#[test]
fn instances_starting_together_end_up_with_one_current_key() {
    both_sync(|db| {
        let clock: Arc<ManualClock> = clock_at(now());
        let barrier = Arc::new(Barrier::new(4));
        let kids: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let store = db.open_again();
                    let clock = clock.clone();
                    let barrier = barrier.clone();
                    scope.spawn(move || {
                        barrier.wait();
                        let signer = LeaseSigner::load_or_create(&store, "tollgate", GRACE, clock).unwrap();
                        signer.current_kid().unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(kids, ["lease-1"; 4]);
        assert_eq!(db.store.list_signing_keys().unwrap().len(), 1);

        // Concurrent rotations add one generation between them.
        let a = signer(&db, &clock);
        let b = LeaseSigner::load_or_create(&db.open_again(), "tollgate", GRACE, clock.clone()).unwrap();
        let (ka, kb) = std::thread::scope(|scope| {
            let ha = scope.spawn(|| a.rotate().unwrap());
            let hb = scope.spawn(|| b.rotate().unwrap());
            (ha.join().unwrap(), hb.join().unwrap())
        });
        let stored = db.store.list_signing_keys().unwrap();
        let unretired: Vec<&str> = stored
            .iter()
            .filter(|k| k.retired_at.is_none())
            .map(|k| k.kid.as_str())
            .collect();
        assert_eq!(unretired.len(), 1, "exactly one current key: {stored:?}");
        assert_eq!([ka.as_str(), kb.as_str()].iter().max(), unretired.first());
    });
}
