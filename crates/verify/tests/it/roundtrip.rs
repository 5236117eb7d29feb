//! Properties: whatever is signed verifies, and any single-bit change to what was signed is refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use tollgate_verify::{
    Header, HexHmacVerifier, StandardWebhooksVerifier, Tolerance, VerifyError, WhopVerifier, sign_hex_hmac,
    sign_standard_webhooks, sign_whop, sign_whop_legacy,
};

use crate::AGHANIM;

fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut flipped = bytes.to_vec();
    let bit = bit % (flipped.len() * 8);
    flipped[bit / 8] ^= 1 << (bit % 8);
    flipped
}

fn standard_headers<'a>(id: &'a [u8], ts: &'a [u8], sig: &'a [u8]) -> [(&'static str, &'a [u8]); 3] {
    [
        ("webhook-id", id),
        ("webhook-timestamp", ts),
        ("webhook-signature", sig),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..2048)
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_]{1,40}"
}

/// Every error a tampered delivery may legitimately get: never `Ok`, never anything else.
fn tampered(result: Result<i64, VerifyError>, malformed: &[Header]) -> bool {
    match result {
        Err(VerifyError::NoMatchingSignature) => true,
        Err(VerifyError::MalformedHeader(header)) => malformed.contains(&header),
        _ => false,
    }
}

proptest! {
    #[test]
    fn standard_webhooks_round_trip_and_bit_flips_fail(
        key in proptest::collection::vec(any::<u8>(), 1..64),
        id in id(),
        ts in any::<i64>(),
        body in body(),
        bit in any::<usize>(),
    ) {
        let secret = format!("whsec_{}", STANDARD.encode(&key));
        let sig = sign_standard_webhooks(&secret, &id, ts, &body).unwrap();
        let ts_raw = ts.to_string();
        let v = StandardWebhooksVerifier::new([&secret]).unwrap().with_tolerance(Tolerance::Unlimited);
        let check = |id: &[u8], ts: &[u8], sig: &[u8], body: &[u8]| {
            v.verify(&standard_headers(id, ts, sig), body, 0).map(|ok| ok.timestamp)
        };

        let signed = standard_headers(id.as_bytes(), ts_raw.as_bytes(), sig.as_bytes());
        let ok = v.verify(&signed, &body, 0).unwrap();
        prop_assert_eq!(ok.webhook_id, Some(id.as_str()));
        prop_assert_eq!(ok.timestamp, ts);
        // The default window around the signed time also passes.
        let strict = StandardWebhooksVerifier::new([&secret]).unwrap();
        prop_assert!(strict.verify(&signed, &body, ts).is_ok());

        if !body.is_empty() {
            let body = flip(&body, bit);
            prop_assert_eq!(check(id.as_bytes(), ts_raw.as_bytes(), sig.as_bytes(), &body), Err(VerifyError::NoMatchingSignature));
        }
        let bad_id = flip(id.as_bytes(), bit);
        prop_assert!(tampered(check(&bad_id, ts_raw.as_bytes(), sig.as_bytes(), &body), &[Header::WebhookId]));
        let bad_ts = flip(ts_raw.as_bytes(), bit);
        prop_assert!(tampered(check(id.as_bytes(), &bad_ts, sig.as_bytes(), &body), &[Header::WebhookTimestamp]));
        let bad_sig = flip(sig.as_bytes(), bit);
        prop_assert_eq!(check(id.as_bytes(), ts_raw.as_bytes(), &bad_sig, &body), Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn whop_current_round_trip_and_bit_flips_fail(
        secret in "\\PC{1,48}",
        id in id(),
        ts in any::<i64>(),
        body in body(),
        bit in any::<usize>(),
    ) {
        let sig = sign_whop(&secret, &id, ts, &body);
        let ts_raw = ts.to_string();
        let v = WhopVerifier::new([&secret]).unwrap().with_tolerance(Tolerance::Unlimited);
        let check = |id: &[u8], ts: &[u8], sig: &[u8], body: &[u8]| {
            v.verify(&standard_headers(id, ts, sig), body, 0).map(|ok| ok.timestamp)
        };
        prop_assert_eq!(check(id.as_bytes(), ts_raw.as_bytes(), sig.as_bytes(), &body), Ok(ts));
        if !body.is_empty() {
            let body = flip(&body, bit);
            prop_assert_eq!(check(id.as_bytes(), ts_raw.as_bytes(), sig.as_bytes(), &body), Err(VerifyError::NoMatchingSignature));
        }
        let bad_id = flip(id.as_bytes(), bit);
        prop_assert!(tampered(check(&bad_id, ts_raw.as_bytes(), sig.as_bytes(), &body), &[Header::WebhookId]));
        let bad_ts = flip(ts_raw.as_bytes(), bit);
        prop_assert!(tampered(check(id.as_bytes(), &bad_ts, sig.as_bytes(), &body), &[Header::WebhookTimestamp]));
        let bad_sig = flip(sig.as_bytes(), bit);
        prop_assert_eq!(check(id.as_bytes(), ts_raw.as_bytes(), &bad_sig, &body), Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn whop_legacy_round_trip_and_bit_flips_fail(
        secret in "\\PC{1,48}",
        ts in any::<i64>(),
        body in body(),
        bit in any::<usize>(),
    ) {
        let sig = sign_whop_legacy(&secret, ts, &body);
        let v = WhopVerifier::new([&secret]).unwrap().with_tolerance(Tolerance::Unlimited);
        let check = |sig: &[u8], body: &[u8]| v.verify(&[("x-whop-signature", sig)], body, 0).map(|ok| ok.timestamp);
        prop_assert_eq!(check(sig.as_bytes(), &body), Ok(ts));
        if !body.is_empty() {
            prop_assert_eq!(check(sig.as_bytes(), &flip(&body, bit)), Err(VerifyError::NoMatchingSignature));
        }
        // The header carries both the timestamp and the signature: any flip in it fails.
        prop_assert!(tampered(check(&flip(sig.as_bytes(), bit), &body), &[Header::WhopSignature]));
    }

    #[test]
    fn aghanim_round_trip_and_bit_flips_fail(
        secret in "\\PC{1,48}",
        ts in any::<i64>(),
        body in body(),
        bit in any::<usize>(),
    ) {
        let sig = sign_hex_hmac(&secret, ts, &body);
        let ts_raw = ts.to_string();
        let v = HexHmacVerifier::new(AGHANIM, [&secret], Tolerance::Unlimited).unwrap();
        let check = |ts: &[u8], sig: &[u8], body: &[u8]| {
            v.verify(&[("x-aghanim-signature", sig), ("x-aghanim-signature-timestamp", ts)], body, 0)
                .map(|ok| ok.timestamp)
        };
        prop_assert_eq!(check(ts_raw.as_bytes(), sig.as_bytes(), &body), Ok(ts));
        if !body.is_empty() {
            prop_assert_eq!(check(ts_raw.as_bytes(), sig.as_bytes(), &flip(&body, bit)), Err(VerifyError::NoMatchingSignature));
        }
        prop_assert!(tampered(check(&flip(ts_raw.as_bytes(), bit), sig.as_bytes(), &body), &[AGHANIM.timestamp_header()]));
        prop_assert!(tampered(check(ts_raw.as_bytes(), &flip(sig.as_bytes(), bit), &body), &[AGHANIM.signature_header()]));
    }

    #[test]
    fn arbitrary_headers_never_panic(
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..96), 6),
        body in body(),
        now in any::<i64>(),
    ) {
        let names = [
            "webhook-id", "webhook-timestamp", "webhook-signature",
            "x-whop-signature", "x-aghanim-signature", "x-aghanim-signature-timestamp",
        ];
        let headers: Vec<(&str, &[u8])> = names.iter().copied().zip(values.iter().map(Vec::as_slice)).collect();
        let standard = StandardWebhooksVerifier::new(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
        let whop = WhopVerifier::new(["ws_1234567890abcdef"]).unwrap();
        let aghanim = HexHmacVerifier::new(AGHANIM, ["aghanim_test_secret"], Tolerance::DEFAULT).unwrap();
        // Random bytes forge nothing: each verifier answers with an error and does not panic.
        prop_assert!(standard.verify(&headers, &body, now).is_err());
        prop_assert!(whop.verify(&headers, &body, now).is_err());
        prop_assert!(whop.verify_legacy(&headers, &body, now).is_err());
        prop_assert!(aghanim.verify(&headers, &body, now).is_err());
    }
}
