//! The client's lease-token parser and verifier (`tollgate_client::Lease`) and its JWKS loader on arbitrary input.
//!
//! Oracles, besides "never panics":
//! - an arbitrary string never verifies against the pinned key (it may parse);
//! - a token built and signed here from arbitrary claims and header values gets exactly the expected answer
//!   (`UnsupportedAlgorithm`, `Malformed`, `MissingKid`, `UnknownKid`, or a lease with the same claims whose time
//!   check follows `nbf <= now <= exp`);
//! - the same token with any one byte changed never verifies.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};
use tollgate_client::{Audience, Keys, Lease, LeaseClaims, LeaseError, MAX_TOKEN_LEN};

const KID: &str = "fuzz-key-1";
const SEED: [u8; 32] = [7; 32];

#[derive(Arbitrary, Debug)]
enum Aud {
    One(String),
    Many(Vec<String>),
}

#[derive(Arbitrary, Debug)]
struct Claims {
    iss: Option<String>,
    sub: String,
    aud: Aud,
    iat: i64,
    nbf: Option<i64>,
    exp: i64,
    refresh_after: i64,
    hwid: String,
    plan: Option<String>,
    status: Option<String>,
    features: Vec<String>,
}

#[derive(Arbitrary, Debug)]
struct Signed {
    /// `None` is `EdDSA`.
    alg: Option<String>,
    /// `None` is no `kid`; `Some(true)` the pinned one; `Some(false)` `other_kid`.
    kid: Option<bool>,
    other_kid: String,
    crit: bool,
    claims: Claims,
    /// Change the byte at this index (modulo the length) by XOR with this non-zero value.
    flip: (usize, u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    raw: String,
    now: i64,
    jwks: String,
    signed: Option<Signed>,
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// What `Lease::parse` must answer for a token built from `s` (before the claims are compared).
fn expected_parse_error(s: &Signed, kid: Option<&str>, token_len: usize) -> Option<LeaseError> {
    let alg = s.alg.as_deref().unwrap_or("EdDSA");
    let c = &s.claims;
    let in_range = |secs: i64| DateTime::from_timestamp(secs, 0).is_some();
    if token_len > MAX_TOKEN_LEN {
        Some(LeaseError::Malformed("token too long"))
    } else if alg != "EdDSA" {
        Some(LeaseError::UnsupportedAlgorithm(alg.to_owned()))
    } else if s.crit {
        Some(LeaseError::Malformed(
            "critical header extensions are not supported",
        ))
    } else if kid.is_none() {
        Some(LeaseError::MissingKid)
    } else if !in_range(c.iat) {
        Some(LeaseError::Malformed("iat out of range"))
    } else if !in_range(c.nbf.unwrap_or(c.iat)) {
        Some(LeaseError::Malformed("nbf out of range"))
    } else if !in_range(c.exp) {
        Some(LeaseError::Malformed("exp out of range"))
    } else if !in_range(c.refresh_after) {
        Some(LeaseError::Malformed("refresh_after out of range"))
    } else {
        None
    }
}

fn check_signed(s: &Signed, keys: &Keys, now: i64) {
    let pair = Ed25519KeyPair::from_seed_unchecked(&SEED).unwrap();
    let kid = s
        .kid
        .map(|pinned| if pinned { KID } else { s.other_kid.as_str() });
    let mut header = json!({"alg": s.alg.as_deref().unwrap_or("EdDSA"), "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    if s.crit {
        header["crit"] = json!(["exp"]);
    }
    let c = &s.claims;
    let aud = match &c.aud {
        Aud::One(one) => json!(one),
        Aud::Many(many) => json!(many),
    };
    let mut claims = json!({
        "sub": c.sub, "aud": aud, "iat": c.iat, "exp": c.exp, "refresh_after": c.refresh_after,
        "hwid": c.hwid, "features": c.features,
    });
    for (name, value) in [("iss", &c.iss), ("plan", &c.plan), ("status", &c.status)] {
        if let Some(value) = value {
            claims[name] = json!(value);
        }
    }
    if let Some(nbf) = c.nbf {
        claims["nbf"] = json!(nbf);
    }
    let signing_input = format!("{}.{}", b64(&header), b64(&claims));
    let signature = URL_SAFE_NO_PAD.encode(pair.sign(signing_input.as_bytes()).as_ref());
    let token = format!("{signing_input}.{signature}");

    let parsed = Lease::parse(&token);
    match (expected_parse_error(s, kid, token.len()), &parsed) {
        (Some(expected), Err(got)) => assert_eq!(got, &expected),
        (Some(expected), Ok(lease)) => panic!("expected {expected:?}, parsed {lease:?}"),
        (None, Err(got)) => panic!("a well-formed lease was refused: {got:?}"),
        (None, Ok(lease)) => {
            let want = LeaseClaims {
                iss: c.iss.clone(),
                sub: c.sub.clone(),
                aud: match &c.aud {
                    Aud::One(one) => Audience::One(one.clone()),
                    Aud::Many(many) => Audience::Many(many.clone()),
                },
                iat: c.iat,
                nbf: c.nbf,
                exp: c.exp,
                refresh_after: c.refresh_after,
                hwid: c.hwid.clone(),
                plan: c.plan.clone(),
                status: c.status.clone(),
                features: json!(c.features),
                dev: None,
            };
            assert_eq!(lease.claims(), &want);
            assert_eq!(lease.features(), c.features);
            assert_eq!(lease.token(), token);
            let kid = kid.unwrap();
            if kid == KID {
                assert_eq!(lease.verify_signature(keys), Ok(()));
            } else {
                assert_eq!(
                    lease.verify_signature(keys),
                    Err(LeaseError::UnknownKid(kid.to_owned()))
                );
            }
            if let Some(at) = DateTime::from_timestamp(now, 0) {
                let nbf = c.nbf.unwrap_or(c.iat);
                let want = if now < nbf {
                    Err(LeaseError::NotYetValid)
                } else if now > c.exp {
                    Err(LeaseError::Expired)
                } else {
                    Ok(())
                };
                assert_eq!(lease.check_time(at), want);
                assert_eq!(lease.refresh_due(at), now >= c.refresh_after);
                if kid == KID {
                    assert_eq!(
                        Lease::verify(&token, keys, at).map(|l| l.claims().clone()),
                        want.map(|()| lease.claims().clone())
                    );
                }
            }
        }
    }

    // One changed byte: never a valid lease.
    let mut bytes = token.clone().into_bytes();
    let (index, xor) = s.flip;
    if xor != 0 && !bytes.is_empty() {
        let i = index % bytes.len();
        bytes[i] ^= xor;
        if let Ok(mutated) = String::from_utf8(bytes) {
            let verified = Lease::parse(&mutated).and_then(|l| l.verify_signature(keys).map(|()| l));
            assert!(verified.is_err(), "a token with byte {i} changed still verifies");
        }
    }
}

fuzz_target!(|input: Input| {
    let pair = Ed25519KeyPair::from_seed_unchecked(&SEED).unwrap();
    let public: [u8; 32] = pair.public_key().as_ref().try_into().unwrap();
    let keys = Keys::pinned([(KID, public)]);

    // Arbitrary text: may parse, never verifies, and no accessor panics.
    if let Ok(lease) = Lease::parse(&input.raw) {
        assert!(lease.verify_signature(&keys).is_err());
        let _ = (lease.features(), lease.claims().aud.first(), format!("{lease:?}"));
        if let Some(at) = DateTime::from_timestamp(input.now, 0) {
            let _ = (lease.check_time(at), lease.refresh_due(at));
        }
    }
    if let Some(at) = DateTime::from_timestamp(input.now, 0) {
        assert!(Lease::verify(&input.raw, &keys, at).is_err());
    }

    // A JWKS document from anywhere: an error or at least one key.
    if let Ok(loaded) = Keys::from_jwks_json(&input.jwks) {
        assert!(!loaded.is_empty());
        assert_eq!(
            loaded.kids().count(),
            loaded.kids().filter(|kid| loaded.get(kid).is_some()).count()
        );
    }

    if let Some(signed) = &input.signed {
        check_signed(signed, &keys, input.now);
    }
});
