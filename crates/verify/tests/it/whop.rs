//! Whop: the derived vectors of providers.md §5.2 for both wire formats, and the either-format dispatch.

use tollgate_verify::{
    Header, Scheme, SecretProblem, StandardWebhooksVerifier, Tolerance, Verified, VerifyError, WhopVerifier,
    sign_standard_webhooks, sign_whop, sign_whop_legacy,
};

const SECRET: &str = "ws_1234567890abcdef";
const ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
const TS: i64 = 1_727_606_400;
const BODY: &[u8] = br#"{"id":"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W","api_version":"v1","timestamp":"2024-09-29T10:40:00.000Z","type":"membership.activated","data":{"id":"mem_xxxxxxxxxxxxxx"}}"#;
const SIG: &str = "v1,yCJLV8AIxk/7Razw8NAv43v4zNwoiv9S6aYQFDC7wLQ=";

const LEGACY_BODY: &[u8] = br#"{"action":"membership.went_valid","data":{"id":"mem_5l6nvhob7ALjRT"}}"#;
const LEGACY_SIG: &str = "t=1727606400,v1=40d44ad904e8e190187dfbe7d7354b427068d5bf00b737a7a3075e6572c6aacb";

fn current(ts: &str, sig: &str) -> [(&'static str, String); 3] {
    [
        ("webhook-id", ID.to_owned()),
        ("webhook-timestamp", ts.to_owned()),
        ("webhook-signature", sig.to_owned()),
    ]
}

fn legacy(value: &str) -> [(&'static str, String); 1] {
    [("X-Whop-Signature", value.to_owned())]
}

#[expect(clippy::unwrap_used, reason = "test helper: the vector's secret is valid")]
fn whop() -> WhopVerifier {
    WhopVerifier::new([SECRET]).unwrap()
}

#[test]
fn current_vector_signs_and_verifies() {
    assert_eq!(sign_whop(SECRET, ID, TS, BODY), SIG);
    let headers = current("1727606400", SIG);
    let expected = Verified {
        scheme: Scheme::WhopCurrent,
        webhook_id: Some(ID),
        timestamp: TS,
        secret_index: 0,
    };
    assert_eq!(whop().verify_current(&headers, BODY, TS), Ok(expected));
    assert_eq!(whop().verify(&headers, BODY, TS), Ok(expected));
}

#[test]
fn current_key_is_the_raw_secret_not_a_decoded_one() {
    // Standard Webhooks with base64(secret) is the same key; the secret itself as base64 is a different key.
    let equivalent = "whsec_d3NfMTIzNDU2Nzg5MGFiY2RlZg==";
    assert_eq!(sign_standard_webhooks(equivalent, ID, TS, BODY).unwrap(), SIG);
    let standard = StandardWebhooksVerifier::new([equivalent]).unwrap();
    assert_eq!(
        standard
            .verify(&current("1727606400", SIG), BODY, TS)
            .unwrap()
            .scheme,
        Scheme::StandardWebhooks
    );
    let misread = WhopVerifier::new(["d3NfMTIzNDU2Nzg5MGFiY2RlZg=="]).unwrap();
    assert_eq!(
        misread.verify(&current("1727606400", SIG), BODY, TS),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn legacy_vector_signs_and_verifies() {
    assert_eq!(sign_whop_legacy(SECRET, TS, LEGACY_BODY), LEGACY_SIG);
    let headers = legacy(LEGACY_SIG);
    let expected = Verified {
        scheme: Scheme::WhopLegacy,
        webhook_id: None,
        timestamp: TS,
        secret_index: 0,
    };
    assert_eq!(whop().verify_legacy(&headers, LEGACY_BODY, TS), Ok(expected));
    assert_eq!(whop().verify(&headers, LEGACY_BODY, TS), Ok(expected));
}

#[test]
fn legacy_wrong_version_or_wrong_signature_fails() {
    let v = whop();
    let hex = LEGACY_SIG.split_once("v1=").unwrap().1;
    let at = |value: &str| v.verify_legacy(&legacy(value), LEGACY_BODY, TS).map(|_| ());
    assert_eq!(
        at(&format!("t=1727606400,v2={hex}")),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        at(&format!("t=1727606400,v0={hex}")),
        Err(VerifyError::NoMatchingSignature)
    );
    let mut flipped = hex.to_owned();
    flipped.replace_range(63.., "a");
    assert_eq!(
        at(&format!("t=1727606400,v1={flipped}")),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        at(&format!("t=1727606401,v1={hex}")),
        Err(VerifyError::NoMatchingSignature)
    );
    // Whitespace after the comma is tolerated; the signature is unchanged.
    assert_eq!(at(&format!("t=1727606400, v1={hex}")), Ok(()));
}

#[test]
fn legacy_malformed_headers_are_named() {
    let v = whop();
    let hex = LEGACY_SIG.split_once("v1=").unwrap().1;
    let malformed = Err(VerifyError::MalformedHeader(Header::WhopSignature));
    for value in [
        String::new(),
        "t=1727606400".to_owned(),
        format!("v1={hex}"),
        format!("v1={hex},t=1727606400"),
        format!("t=1727606400,v1={hex},v1={hex}"),
        format!("t=,v1={hex}"),
        format!("t=abc,v1={hex}"),
        format!("t=123456789012345678901234567890,v1={hex}"),
        format!("ts=1727606400,v1={hex}"),
        format!("t=1727606400,{hex}"),
        format!("t=1727606400,v1={}", hex.to_uppercase()),
        format!("t=1727606400,v1={}", &hex[..63]),
        format!("t=1727606400,v1={hex}00"),
        "t=1727606400,v1=".to_owned(),
    ] {
        assert_eq!(
            v.verify_legacy(&legacy(&value), LEGACY_BODY, TS).map(|_| ()),
            malformed,
            "{value:?}"
        );
    }
    assert_eq!(
        v.verify_legacy(&[("x-other", "1")], LEGACY_BODY, TS),
        Err(VerifyError::MissingHeader(Header::WhopSignature))
    );
}

#[test]
fn either_format_prefers_current_and_reports_missing_current() {
    let v = whop();
    assert_eq!(
        v.verify(&[("content-type", "application/json")], BODY, TS),
        Err(VerifyError::MissingHeader(Header::WebhookSignature))
    );
    // Both present: the current headers decide, even if the legacy one would have passed.
    let mut both = current("1727606400", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").to_vec();
    both.push(("x-whop-signature", LEGACY_SIG.to_owned()));
    assert_eq!(
        v.verify(&both, LEGACY_BODY, TS),
        Err(VerifyError::NoMatchingSignature)
    );
    // A partial current set is not silently downgraded to legacy.
    let partial = [("webhook-signature", SIG), ("x-whop-signature", LEGACY_SIG)];
    assert_eq!(
        v.verify(&partial, BODY, TS),
        Err(VerifyError::MissingHeader(Header::WebhookId))
    );
}

#[test]
fn tolerance_is_exactly_300_seconds_each_way_in_both_formats() {
    let v = whop();
    let cur = current("1727606400", SIG);
    let leg = legacy(LEGACY_SIG);
    for (now, expected) in [
        (TS + 300, Ok(TS)),
        (TS - 300, Ok(TS)),
        (TS + 301, Err(VerifyError::StaleTimestamp)),
        (TS - 301, Err(VerifyError::FutureTimestamp)),
    ] {
        assert_eq!(
            v.verify(&cur, BODY, now).map(|ok| ok.timestamp),
            expected,
            "current at {now}"
        );
        assert_eq!(
            v.verify(&leg, LEGACY_BODY, now).map(|ok| ok.timestamp),
            expected,
            "legacy at {now}"
        );
    }
    let open = whop().with_tolerance(Tolerance::Unlimited);
    assert_eq!(open.tolerance(), Tolerance::Unlimited);
    assert!(open.verify(&cur, BODY, 0).is_ok());
    assert!(open.verify(&leg, LEGACY_BODY, i64::MAX).is_ok());
}

#[test]
fn extreme_legacy_timestamps_never_panic() {
    let v = whop();
    let max = sign_whop_legacy(SECRET, i64::MAX, LEGACY_BODY);
    assert_eq!(
        v.verify(&legacy(&max), LEGACY_BODY, 0),
        Err(VerifyError::FutureTimestamp)
    );
    let min = sign_whop_legacy(SECRET, i64::MIN, LEGACY_BODY);
    assert_eq!(
        v.verify(&legacy(&min), LEGACY_BODY, i64::MAX),
        Err(VerifyError::StaleTimestamp)
    );
    let open = whop().with_tolerance(Tolerance::Unlimited);
    assert_eq!(
        open.verify(&legacy(&min), LEGACY_BODY, i64::MAX)
            .unwrap()
            .timestamp,
        i64::MIN
    );
}

#[test]
fn headers_match_in_any_letter_case() {
    let v = whop();
    let upper = [
        ("WEBHOOK-ID", ID),
        ("Webhook-Timestamp", "1727606400"),
        ("webhook-SIGNATURE", SIG),
    ];
    assert_eq!(v.verify(&upper, BODY, TS).unwrap().scheme, Scheme::WhopCurrent);
    for name in ["x-whop-signature", "X-WHOP-SIGNATURE", "x-WhOp-SiGnAtUrE"] {
        assert_eq!(
            v.verify(&[(name, LEGACY_SIG)], LEGACY_BODY, TS).unwrap().scheme,
            Scheme::WhopLegacy
        );
    }
}

#[test]
fn non_utf8_bodies_verify_in_both_formats() {
    let body: &[u8] = &[0xff, 0x00, 0xc3, 0x28, b'{', 0x80];
    let v = whop();
    let sig = sign_whop(SECRET, ID, TS, body);
    assert!(v.verify(&current("1727606400", &sig), body, TS).is_ok());
    let leg = sign_whop_legacy(SECRET, TS, body);
    assert!(v.verify(&legacy(&leg), body, TS).is_ok());
    assert_eq!(
        v.verify(&legacy(&leg), &body[1..], TS),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn rotation_accepts_any_secret_in_both_formats() {
    let v = WhopVerifier::new(["ws_new_secret", SECRET]).unwrap();
    assert_eq!(
        v.verify(&current("1727606400", SIG), BODY, TS)
            .unwrap()
            .secret_index,
        1
    );
    assert_eq!(
        v.verify(&legacy(LEGACY_SIG), LEGACY_BODY, TS)
            .unwrap()
            .secret_index,
        1
    );
    let fresh = sign_whop("ws_new_secret", ID, TS, BODY);
    assert_eq!(
        v.verify(&current("1727606400", &fresh), BODY, TS)
            .unwrap()
            .secret_index,
        0
    );
}

#[test]
fn empty_secrets_are_refused() {
    assert_eq!(
        WhopVerifier::new([""]).map(|_| ()),
        Err(VerifyError::BadSecret(SecretProblem::Empty { index: 0 }))
    );
    assert_eq!(
        WhopVerifier::new(Vec::<String>::new()).map(|_| ()),
        Err(VerifyError::BadSecret(SecretProblem::NoSecrets))
    );
}

#[test]
fn debug_output_redacts_keys() {
    let debug = format!("{:?}", WhopVerifier::new([SECRET, "ws_other"]).unwrap());
    assert_eq!(
        debug,
        "WhopVerifier { secrets: 2, keys: \"[redacted]\", tolerance: Seconds(300) }"
    );
    assert!(!debug.contains("ws_"));
}
