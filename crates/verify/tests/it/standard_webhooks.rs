//! Standard Webhooks (Dodo): the published vectors and every negative case of providers.md §0.5.

use tollgate_verify::{
    Header, Scheme, SecretProblem, StandardWebhooksVerifier, Tolerance, Verified, VerifyError,
    sign_standard_webhooks,
};

const A_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const A_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const A_TS: i64 = 1_614_265_330;
const A_BODY: &[u8] = br#"{"test": 2432232314}"#;
const A_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

const B_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const B_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const B_TS: i64 = 1_649_367_553;
const B_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
const B_SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

fn headers(id: &str, ts: &str, sig: &str) -> Vec<(String, String)> {
    vec![
        ("webhook-id".to_owned(), id.to_owned()),
        ("webhook-timestamp".to_owned(), ts.to_owned()),
        ("webhook-signature".to_owned(), sig.to_owned()),
    ]
}

#[expect(clippy::unwrap_used, reason = "test helper: the vectors' secrets are valid")]
fn verifier(secret: &str) -> StandardWebhooksVerifier {
    StandardWebhooksVerifier::new([secret]).unwrap()
}

fn verify_a(sig: &str) -> Result<(), VerifyError> {
    verifier(A_SECRET)
        .verify(&headers(A_ID, &A_TS.to_string(), sig), A_BODY, A_TS)
        .map(|_| ())
}

#[test]
fn vector_a_signs_and_verifies() {
    assert_eq!(
        sign_standard_webhooks(A_SECRET, A_ID, A_TS, A_BODY).unwrap(),
        A_SIG
    );
    let headers = headers(A_ID, "1614265330", A_SIG);
    let verified = verifier(A_SECRET).verify(&headers, A_BODY, A_TS).unwrap();
    assert_eq!(
        verified,
        Verified {
            scheme: Scheme::StandardWebhooks,
            webhook_id: Some(A_ID),
            timestamp: A_TS,
            secret_index: 0
        }
    );
}

#[test]
fn vector_b_signs_and_verifies() {
    assert_eq!(
        sign_standard_webhooks(B_SECRET, B_ID, B_TS, B_BODY).unwrap(),
        B_SIG
    );
    let headers = headers(B_ID, "1649367553", B_SIG);
    let verified = verifier(B_SECRET).verify(&headers, B_BODY, B_TS).unwrap();
    assert_eq!(verified.webhook_id, Some(B_ID));
    assert_eq!(verified.timestamp, B_TS);
}

#[test]
fn bare_base64_secret_is_accepted() {
    let bare = A_SECRET.strip_prefix("whsec_").unwrap();
    assert_eq!(sign_standard_webhooks(bare, A_ID, A_TS, A_BODY).unwrap(), A_SIG);
    let headers = headers(A_ID, "1614265330", A_SIG);
    assert!(verifier(bare).verify(&headers, A_BODY, A_TS).is_ok());
}

#[test]
fn vector_b_wrong_signature_at_current_time_fails() {
    let now = 1_900_000_000;
    let headers = headers(
        B_ID,
        &now.to_string(),
        "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=",
    );
    assert_eq!(
        verifier(B_SECRET).verify(&headers, B_BODY, now),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn last_character_changed_fails() {
    assert_eq!(
        verify_a("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn empty_truncated_and_prefix_signatures_fail() {
    assert_eq!(verify_a("v1,"), Err(VerifyError::NoMatchingSignature));
    assert_eq!(verify_a(""), Err(VerifyError::NoMatchingSignature));
    assert_eq!(
        verify_a(&A_SIG[..A_SIG.len() - 1]),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        verify_a(&A_SIG[..A_SIG.len() - 5]),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(verify_a(&A_SIG[..8]), Err(VerifyError::NoMatchingSignature));
    assert_eq!(
        verify_a(A_SIG.strip_prefix("v1,").unwrap()),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn other_versions_are_ignored() {
    let sig = A_SIG.strip_prefix("v1,").unwrap();
    assert_eq!(
        verify_a(&format!("v1a,{sig}")),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        verify_a(&format!("v2,{sig}")),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        verify_a(&format!("V1,{sig}")),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(verify_a(&format!("v1a,{sig} {A_SIG}")), Ok(()));
}

#[test]
fn three_wrong_and_one_right_passes_and_without_the_right_one_fails() {
    let wrong = [
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        "v1,Bz2P6KvJ1y3vMTr7wYdxa93dGpS6tJXy0D0mGXUf2wY=",
        "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=",
    ];
    let with_right = format!("{} {} {A_SIG} {}", wrong[0], wrong[1], wrong[2]);
    assert_eq!(verify_a(&with_right), Ok(()));
    assert_eq!(verify_a(&wrong.join(" ")), Err(VerifyError::NoMatchingSignature));
}

#[test]
fn unpadded_secrets_all_work() {
    // Python's test_webhooks.py padding cases: none, one `=` missing, two `=` missing.
    for secret in [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr",
    ] {
        let sig = sign_standard_webhooks(secret, A_ID, A_TS, A_BODY).unwrap();
        let headers = headers(A_ID, "1614265330", &sig);
        assert!(
            verifier(secret).verify(&headers, A_BODY, A_TS).is_ok(),
            "{secret}"
        );
        assert!(
            verifier(&format!("whsec_{secret}"))
                .verify(&headers, A_BODY, A_TS)
                .is_ok(),
            "{secret}"
        );
    }
    // The one-`=`-missing secret is the 23-byte key whose canonical padded form ends in `Q=`: a signature made
    // with the canonical form verifies under the unpadded one.
    let canonical =
        sign_standard_webhooks("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaQ=", A_ID, A_TS, A_BODY).unwrap();
    let headers = headers(A_ID, "1614265330", &canonical);
    assert!(
        verifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS")
            .verify(&headers, A_BODY, A_TS)
            .is_ok()
    );
    assert_ne!(canonical, A_SIG);
}

#[test]
fn bad_secrets_are_refused() {
    let refused = |secrets: &[&str]| StandardWebhooksVerifier::new(secrets).map(|_| ()).unwrap_err();
    assert_eq!(
        refused(&["whsec_"]),
        VerifyError::BadSecret(SecretProblem::Empty { index: 0 })
    );
    assert_eq!(
        refused(&[""]),
        VerifyError::BadSecret(SecretProblem::Empty { index: 0 })
    );
    assert_eq!(
        refused(&[A_SECRET, "whsec_%%%"]),
        VerifyError::BadSecret(SecretProblem::NotBase64 { index: 1 })
    );
    assert_eq!(refused(&[]), VerifyError::BadSecret(SecretProblem::NoSecrets));
    assert_eq!(
        sign_standard_webhooks("whsec_", A_ID, A_TS, A_BODY),
        Err(VerifyError::BadSecret(SecretProblem::Empty { index: 0 }))
    );
}

#[test]
fn each_missing_header_is_named() {
    let full = headers(A_ID, "1614265330", A_SIG);
    for (missing, header) in [
        (0, Header::WebhookId),
        (1, Header::WebhookTimestamp),
        (2, Header::WebhookSignature),
    ] {
        let mut partial = full.clone();
        partial.remove(missing);
        assert_eq!(
            verifier(A_SECRET).verify(&partial, A_BODY, A_TS),
            Err(VerifyError::MissingHeader(header))
        );
    }
}

#[test]
fn header_names_match_in_any_letter_case() {
    let sig = A_SIG;
    for names in [
        ["Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"],
        ["WEBHOOK-ID", "WEBHOOK-TIMESTAMP", "WEBHOOK-SIGNATURE"],
        ["wEbHoOk-iD", "webhook-TIMESTAMP", "Webhook-signature"],
    ] {
        let headers = [(names[0], A_ID), (names[1], "1614265330"), (names[2], sig)];
        assert!(
            verifier(A_SECRET).verify(&headers, A_BODY, A_TS).is_ok(),
            "{names:?}"
        );
    }
}

#[test]
fn tolerance_is_exactly_300_seconds_each_way() {
    let v = verifier(A_SECRET);
    let check = |now: i64| {
        v.verify(&headers(A_ID, "1614265330", A_SIG), A_BODY, now)
            .map(|ok| ok.timestamp)
    };
    assert_eq!(check(A_TS + 300), Ok(A_TS));
    assert_eq!(check(A_TS - 300), Ok(A_TS));
    assert_eq!(check(A_TS + 301), Err(VerifyError::StaleTimestamp));
    assert_eq!(check(A_TS - 301), Err(VerifyError::FutureTimestamp));
}

#[test]
fn tolerance_is_configurable() {
    let headers = headers(A_ID, "1614265330", A_SIG);
    let narrow = verifier(A_SECRET).with_tolerance(Tolerance::Seconds(10));
    assert_eq!(narrow.tolerance(), Tolerance::Seconds(10));
    assert!(narrow.verify(&headers, A_BODY, A_TS + 10).is_ok());
    assert_eq!(
        narrow.verify(&headers, A_BODY, A_TS + 11),
        Err(VerifyError::StaleTimestamp)
    );
    let open = verifier(A_SECRET).with_tolerance(Tolerance::Unlimited);
    assert!(open.verify(&headers, A_BODY, i64::MAX).is_ok());
    assert!(open.verify(&headers, A_BODY, i64::MIN).is_ok());
}

#[test]
fn extreme_and_malformed_timestamps_never_panic() {
    let v = verifier(A_SECRET);
    let at = |ts: &str, now: i64| v.verify(&headers(A_ID, ts, A_SIG), A_BODY, now).map(|_| ());
    assert_eq!(
        at("9223372036854775807", i64::MIN),
        Err(VerifyError::FutureTimestamp)
    );
    assert_eq!(
        at("-9223372036854775808", i64::MAX),
        Err(VerifyError::StaleTimestamp)
    );
    assert_eq!(at("9223372036854775807", 0), Err(VerifyError::FutureTimestamp));
    let malformed = Err(VerifyError::MalformedHeader(Header::WebhookTimestamp));
    for ts in [
        "123456789012345678901234567890",
        "9223372036854775808",
        "",
        " 1614265330",
        "+1614265330",
        "1.5e9",
    ] {
        assert_eq!(at(ts, A_TS), malformed, "{ts:?}");
    }
}

#[test]
fn empty_or_non_utf8_id_is_malformed() {
    let v = verifier(A_SECRET);
    assert_eq!(
        v.verify(&headers("", "1614265330", A_SIG), A_BODY, A_TS),
        Err(VerifyError::MalformedHeader(Header::WebhookId))
    );
    let raw: [(&str, &[u8]); 3] = [
        ("webhook-id", b"msg_\xff"),
        ("webhook-timestamp", b"1614265330"),
        ("webhook-signature", A_SIG.as_bytes()),
    ];
    assert_eq!(
        v.verify(&raw, A_BODY, A_TS),
        Err(VerifyError::MalformedHeader(Header::WebhookId))
    );
}

#[test]
fn non_utf8_body_is_verified_as_raw_bytes() {
    let body: &[u8] = b"\xff\xfe\x00binary\x80payload";
    let sig = sign_standard_webhooks(A_SECRET, A_ID, A_TS, body).unwrap();
    let v = verifier(A_SECRET);
    assert!(v.verify(&headers(A_ID, "1614265330", &sig), body, A_TS).is_ok());
    assert_eq!(
        v.verify(
            &headers(A_ID, "1614265330", &sig),
            b"\xff\xfe\x00binary\x80payloaD",
            A_TS
        ),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn changed_id_timestamp_or_body_fails() {
    let v = verifier(A_SECRET);
    let fails = |id: &str, ts: &str, body: &[u8]| v.verify(&headers(id, ts, A_SIG), body, A_TS).map(|_| ());
    assert_eq!(
        fails("msg_p5jXN8AQM9LWM0D4loKWxJeK", "1614265330", A_BODY),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        fails(A_ID, "1614265331", A_BODY),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        fails(A_ID, "01614265330", A_BODY),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        fails(A_ID, "1614265330", br#"{"test":2432232314}"#),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn any_rotated_secret_matches_and_reports_its_position() {
    let v = StandardWebhooksVerifier::new([B_SECRET, A_SECRET]).unwrap();
    let only_a = headers(A_ID, "1614265330", A_SIG);
    assert_eq!(v.verify(&only_a, A_BODY, A_TS).unwrap().secret_index, 1);
    let both = format!("{B_SIG} {A_SIG}");
    assert_eq!(
        v.verify(&headers(A_ID, "1614265330", &both), A_BODY, A_TS)
            .unwrap()
            .secret_index,
        1
    );
    let only_b = StandardWebhooksVerifier::new([B_SECRET]).unwrap();
    assert_eq!(
        only_b.verify(&headers(A_ID, "1614265330", A_SIG), A_BODY, A_TS),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn debug_output_redacts_keys() {
    let v = StandardWebhooksVerifier::new([A_SECRET, B_SECRET]).unwrap();
    let debug = format!("{v:?}");
    assert!(debug.contains("[redacted]"), "{debug}");
    for needle in ["MfKQ9r8G", "C2FVsBQI", "whsec_", "31f290f6", "0b6155b0"] {
        assert!(!debug.contains(needle), "{debug} contains {needle}");
    }
    assert_eq!(
        debug,
        "StandardWebhooksVerifier { secrets: 2, keys: \"[redacted]\", tolerance: Seconds(300) }"
    );
}

#[test]
fn errors_display_without_secrets() {
    assert_eq!(
        VerifyError::MissingHeader(Header::WebhookId).to_string(),
        "missing header `webhook-id`"
    );
    assert_eq!(
        VerifyError::MalformedHeader(crate::AGHANIM.timestamp_header()).to_string(),
        "malformed header `x-aghanim-signature-timestamp`"
    );
    assert_eq!(
        VerifyError::BadSecret(SecretProblem::NotBase64 { index: 1 }).to_string(),
        "bad webhook secret: secret #1 is not valid standard base64"
    );
    assert_eq!(
        VerifyError::StaleTimestamp.to_string(),
        "webhook timestamp is too old"
    );
    assert_eq!(
        VerifyError::FutureTimestamp.to_string(),
        "webhook timestamp is too far in the future"
    );
    assert_eq!(
        VerifyError::NoMatchingSignature.to_string(),
        "no matching webhook signature"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(VerifyError::StaleTimestamp);
    assert!(boxed.source().is_none());
}
