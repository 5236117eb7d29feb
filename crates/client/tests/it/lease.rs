//! Lease parsing and verification with real Ed25519 signatures.

use crate::common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use proptest::prelude::*;
use serde_json::json;
use tollgate_client::{Audience, DeviceHash, Keys, Lease, LeaseError};

use common::{TestKey, claims, t0};

#[test]
fn a_signed_lease_verifies_and_exposes_its_claims() {
    let key = TestKey::generate("lease-1");
    let token = key.sign(&claims(t0()));
    let lease = Lease::verify(&token, &key.keys(), t0()).unwrap();
    assert_eq!(lease.kid(), "lease-1");
    assert_eq!(lease.claims().sub, "ent_1");
    assert_eq!(lease.claims().aud, Audience::One("prod_demo".into()));
    assert_eq!(lease.claims().plan.as_deref(), Some("plan_pro"));
    assert_eq!(lease.features(), vec!["export".to_string(), "sync".to_string()]);
    assert_eq!(lease.issued_at(), t0());
    assert_eq!(lease.expires_at(), t0() + TimeDelta::hours(72));
    assert_eq!(lease.refresh_after(), t0() + TimeDelta::hours(24));
    assert_eq!(lease.token(), token);
}

#[test]
fn valid_until_exactly_exp_then_expired() {
    let key = TestKey::generate("lease-1");
    let lease = Lease::parse(&key.sign(&claims(t0()))).unwrap();
    let exp = t0() + TimeDelta::hours(72);
    assert_eq!(lease.check_time(exp), Ok(()));
    assert_eq!(
        lease.check_time(exp + TimeDelta::milliseconds(999)),
        Ok(()),
        "whole seconds, like the server"
    );
    assert_eq!(
        lease.check_time(exp + TimeDelta::seconds(1)),
        Err(LeaseError::Expired)
    );
    assert_eq!(lease.check_time(t0()), Ok(()));
    assert_eq!(
        lease.check_time(t0() - TimeDelta::seconds(1)),
        Err(LeaseError::NotYetValid)
    );
    assert!(!lease.refresh_due(t0() + TimeDelta::hours(24) - TimeDelta::seconds(1)));
    assert!(lease.refresh_due(t0() + TimeDelta::hours(24)));
}

#[test]
fn a_tampered_payload_is_rejected() {
    let key = TestKey::generate("lease-1");
    let token = key.sign(&claims(t0()));
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims(t0());
    forged["exp"] = json!((t0() + TimeDelta::days(3650)).timestamp());
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let lease = Lease::parse(&tampered).unwrap();
    assert_eq!(lease.verify_signature(&key.keys()), Err(LeaseError::BadSignature));

    // one flipped signature bit
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(
        Lease::verify(&flipped, &key.keys(), t0()),
        Err(LeaseError::BadSignature)
    );
}

#[test]
fn a_lease_from_another_key_is_rejected() {
    let ours = TestKey::generate("lease-1");
    let foreign = TestKey::generate("lease-1"); // same kid, different key
    let token = foreign.sign(&claims(t0()));
    assert_eq!(
        Lease::verify(&token, &ours.keys(), t0()),
        Err(LeaseError::BadSignature)
    );
}

#[test]
fn an_unknown_kid_is_rejected() {
    let key = TestKey::generate("lease-9");
    let pinned = TestKey::generate("lease-1").keys();
    assert_eq!(
        Lease::verify(&key.sign(&claims(t0())), &pinned, t0()),
        Err(LeaseError::UnknownKid("lease-9".into()))
    );
}

#[test]
fn alg_none_and_other_algorithms_are_rejected() {
    let key = TestKey::generate("lease-1");
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(t0())).unwrap());
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"lease-1"}"#);
    assert_eq!(
        Lease::parse(&format!("{none_header}.{body}.")),
        Err(LeaseError::UnsupportedAlgorithm("none".into()))
    );
    let hs = key.sign_raw(&json!({"alg": "HS256", "kid": "lease-1"}), &claims(t0()));
    assert_eq!(
        Lease::parse(&hs),
        Err(LeaseError::UnsupportedAlgorithm("HS256".into()))
    );
    let no_kid = key.sign_raw(&json!({"alg": "EdDSA"}), &claims(t0()));
    assert_eq!(Lease::parse(&no_kid), Err(LeaseError::MissingKid));
    let crit = key.sign_raw(
        &json!({"alg": "EdDSA", "kid": "lease-1", "crit": ["exp"]}),
        &claims(t0()),
    );
    assert_eq!(
        Lease::parse(&crit),
        Err(LeaseError::Malformed(
            "critical header extensions are not supported"
        ))
    );
}

#[test]
fn malformed_tokens_are_rejected_with_the_reason() {
    let key = TestKey::generate("lease-1");
    let good = key.sign(&claims(t0()));
    let parts: Vec<&str> = good.split('.').collect();
    let mut no_exp = claims(t0());
    no_exp.as_object_mut().unwrap().remove("exp");
    let huge_exp = {
        let mut c = claims(t0());
        c["exp"] = json!(i64::MAX);
        c
    };
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "not three dot-separated segments"),
        ("a.b".into(), "not three dot-separated segments"),
        (format!("{good}.x"), "not three dot-separated segments"),
        (format!(".{}.{}", parts[1], parts[2]), "header is not base64url"),
        (
            format!("{}.{}.{}", "!!", parts[1], parts[2]),
            "header is not base64url",
        ),
        (
            format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(b"[1]"), parts[1], parts[2]),
            "header is not a JSON object",
        ),
        (
            format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(b"{}"), parts[2]),
            "claims are not a lease",
        ),
        (key.sign(&no_exp), "claims are not a lease"),
        (key.sign(&huge_exp), "exp out of range"),
        (
            format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode([0u8; 63])),
            "signature is not 64 bytes",
        ),
        (
            format!("{}.{}.", parts[0], parts[1]),
            "signature is not base64url",
        ),
        ("x".repeat(tollgate_client::MAX_TOKEN_LEN + 1), "token too long"),
    ];
    for (token, why) in cases {
        assert_eq!(
            Lease::parse(&token),
            Err(LeaseError::Malformed(why)),
            "{token:.60}"
        );
    }
}

#[test]
fn a_jwks_document_pins_the_same_key() {
    let key = TestKey::generate("lease-2");
    let doc = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.public()),
        "kid": "lease-2", "alg": "EdDSA", "use": "sig"}]});
    let keys = Keys::from_jwks_json(&doc.to_string()).unwrap();
    assert!(Lease::verify(&key.sign(&claims(t0())), &keys, t0()).is_ok());
}

proptest! {
    #[test]
    fn parse_never_panics_on_any_string(input in ".{0,400}") {
        let _ = Lease::parse(&input);
    }

    #[test]
    fn parse_never_panics_on_dotted_base64ish(a in "[A-Za-z0-9_-]{0,120}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,100}") {
        let _ = Lease::parse(&format!("{a}.{b}.{c}"));
    }

    #[test]
    fn any_single_byte_change_fails_verification(index in 0usize..400, replacement in prop::sample::select(b"ABCxyz019-_.".to_vec())) {
        let key = TestKey::generate("lease-1");
        let token = key.sign(&claims(t0()));
        let mut bytes = token.clone().into_bytes();
        let index = index % bytes.len();
        prop_assume!(bytes[index] != replacement);
        bytes[index] = replacement;
        let mutated = String::from_utf8(bytes).unwrap();
        prop_assert!(Lease::verify(&mutated, &key.keys(), t0()).is_err());
    }
}

/// `dev = {salt, sha256: SHA-256(salt ‖ device hash)}` (docs/clients.md, "The device claim").
fn device_claim(salt: &[u8], device: &DeviceHash) -> serde_json::Value {
    let mut input = salt.to_vec();
    input.extend_from_slice(device.as_str().as_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA256, &input);
    json!({"salt": URL_SAFE_NO_PAD.encode(salt), "sha256": URL_SAFE_NO_PAD.encode(digest.as_ref())})
}

#[test]
fn the_device_claim_matches_only_the_device_it_was_made_for() {
    let key = TestKey::generate("lease-1");
    let here = DeviceHash::of("com.example.demo", "machine-a");
    let there = DeviceHash::of("com.example.demo", "machine-b");
    let mut bound = claims(t0());
    bound["dev"] = device_claim(&[9; 16], &here);
    let lease = Lease::verify(&key.sign(&bound), &key.keys(), t0()).unwrap();
    assert_eq!(lease.check_device(&here), Ok(()));
    assert_eq!(lease.check_device(&there), Err(LeaseError::WrongDevice));
    assert_eq!(
        lease.check_device(&DeviceHash::of("com.example.other", "machine-a")),
        Err(LeaseError::WrongDevice),
        "another app id is another device hash"
    );

    // a lease signed before the claim existed passes (the state file's device hash is then the binding)
    let legacy = Lease::parse(&key.sign(&claims(t0()))).unwrap();
    assert_eq!(legacy.claims().dev, None);
    assert_eq!(legacy.check_device(&there), Ok(()));

    // a claim that is not base64url, or a digest of the wrong size, is malformed; a non-object does not parse
    for (dev, why) in [
        (
            json!({"salt": "%%", "sha256": "AAAA"}),
            "dev.salt is not base64url",
        ),
        (
            json!({"salt": "AAAA", "sha256": "AAAA"}),
            "dev.sha256 is not 32 bytes",
        ),
    ] {
        let mut odd = claims(t0());
        odd["dev"] = dev;
        let lease = Lease::parse(&key.sign(&odd)).unwrap();
        assert_eq!(lease.check_device(&here), Err(LeaseError::Malformed(why)));
    }
    let mut odd = claims(t0());
    odd["dev"] = json!("a string");
    assert_eq!(
        Lease::parse(&key.sign(&odd)),
        Err(LeaseError::Malformed("claims are not a lease"))
    );
}
