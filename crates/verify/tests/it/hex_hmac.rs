//! Aghanim: the derived vector of providers.md §5.2, the caller-chosen tolerance and malformed headers.

use tollgate_verify::{
    HexHmacVerifier, Scheme, SecretProblem, Tolerance, Verified, VerifyError, sign_hex_hmac,
};

use crate::AGHANIM;

const SECRET: &str = "aghanim_test_secret";
const TS: i64 = 1_725_534_306;
const BODY: &[u8] = br#"{"event_type":"player.verify","event_data":{"player_id":"2D2R-OP3C"},"event_time":1725534306,"event_id":"whevt_eBZXsUEITGeDcILaZFUvPthxkr","idempotency_key":null,"sandbox":false,"trigger":"hub.login","request_id":"d1593e9c-c291-4004-8846-6679c2e5810b","transaction_id":"whtx_eBZXsUEITGeDcILaZFUvPthxkr","context":null,"game_id":"gm_exTAyxPsVwh"}"#;
const SIG: &str = "d3bf5193ebd5b20834ddd4d905294478237bce94226684dc284a65abc8660b7f";

fn headers(ts: &str, sig: &str) -> [(&'static str, String); 2] {
    [
        ("X-Aghanim-Signature", sig.to_owned()),
        ("X-Aghanim-Signature-Timestamp", ts.to_owned()),
    ]
}

#[expect(clippy::unwrap_used, reason = "test helper: the vector's secret is valid")]
fn aghanim(tolerance: Tolerance) -> HexHmacVerifier {
    HexHmacVerifier::new(AGHANIM, [SECRET], tolerance).unwrap()
}

#[test]
fn derived_vector_signs_and_verifies() {
    assert_eq!(sign_hex_hmac(SECRET, TS, BODY), SIG);
    let headers = headers("1725534306", SIG);
    assert_eq!(
        aghanim(Tolerance::DEFAULT).verify(&headers, BODY, TS),
        Ok(Verified {
            scheme: Scheme::HexHmac,
            webhook_id: None,
            timestamp: TS,
            secret_index: 0
        })
    );
}

#[test]
fn tolerance_is_exactly_300_seconds_each_way_when_chosen() {
    let v = aghanim(Tolerance::Seconds(300));
    let h = headers("1725534306", SIG);
    assert_eq!(v.verify(&h, BODY, TS + 300).map(|ok| ok.timestamp), Ok(TS));
    assert_eq!(v.verify(&h, BODY, TS - 300).map(|ok| ok.timestamp), Ok(TS));
    assert_eq!(v.verify(&h, BODY, TS + 301), Err(VerifyError::StaleTimestamp));
    assert_eq!(v.verify(&h, BODY, TS - 301), Err(VerifyError::FutureTimestamp));
}

#[test]
fn unlimited_tolerance_accepts_an_old_event_time() {
    let v = aghanim(Tolerance::Unlimited);
    assert_eq!(v.tolerance(), Tolerance::Unlimited);
    let h = headers("1725534306", SIG);
    assert_eq!(v.verify(&h, BODY, TS + 30 * 86_400).unwrap().timestamp, TS);
    assert_eq!(v.verify(&h, BODY, i64::MIN).unwrap().timestamp, TS);
    // Unlimited time is not unlimited trust: the signature still decides.
    assert_eq!(
        v.verify(&h, &BODY[1..], TS),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn changed_timestamp_body_or_signature_fails() {
    let v = aghanim(Tolerance::Unlimited);
    assert_eq!(
        v.verify(&headers("1725534307", SIG), BODY, TS),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        v.verify(&headers("01725534306", SIG), BODY, TS),
        Err(VerifyError::NoMatchingSignature)
    );
    let wrong = SIG.replace("d3bf", "d3be");
    assert_eq!(
        v.verify(&headers("1725534306", &wrong), BODY, TS),
        Err(VerifyError::NoMatchingSignature)
    );
    let other_secret = HexHmacVerifier::new(AGHANIM, ["aghanim_test_secreT"], Tolerance::Unlimited).unwrap();
    assert_eq!(
        other_secret.verify(&headers("1725534306", SIG), BODY, TS),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn malformed_and_missing_headers_are_named() {
    let v = aghanim(Tolerance::DEFAULT);
    let bad_sig = Err(VerifyError::MalformedHeader(AGHANIM.signature_header()));
    let sha256_prefixed = format!("sha256={SIG}");
    for sig in [
        "",
        &SIG[..63],
        &sig_upper(),
        &format!("{SIG}00"),
        &sha256_prefixed,
        "zz",
    ] {
        assert_eq!(
            v.verify(&headers("1725534306", sig), BODY, TS).map(|_| ()),
            bad_sig,
            "{sig:?}"
        );
    }
    let bad_ts = Err(VerifyError::MalformedHeader(AGHANIM.timestamp_header()));
    for ts in [
        "",
        "abc",
        "1725534306.0",
        "123456789012345678901234567890",
        " 1725534306",
    ] {
        assert_eq!(
            v.verify(&headers(ts, SIG), BODY, TS).map(|_| ()),
            bad_ts,
            "{ts:?}"
        );
    }
    assert_eq!(
        v.verify(&[("x-aghanim-signature-timestamp", "1725534306")], BODY, TS),
        Err(VerifyError::MissingHeader(AGHANIM.signature_header()))
    );
    assert_eq!(
        v.verify(&[("x-aghanim-signature", SIG)], BODY, TS),
        Err(VerifyError::MissingHeader(AGHANIM.timestamp_header()))
    );
}

fn sig_upper() -> String {
    SIG.to_uppercase()
}

#[test]
fn extreme_timestamps_never_panic() {
    let v = aghanim(Tolerance::DEFAULT);
    let max = sign_hex_hmac(SECRET, i64::MAX, BODY);
    assert_eq!(
        v.verify(&headers("9223372036854775807", &max), BODY, i64::MIN),
        Err(VerifyError::FutureTimestamp)
    );
    let min = sign_hex_hmac(SECRET, i64::MIN, BODY);
    assert_eq!(
        v.verify(&headers("-9223372036854775808", &min), BODY, i64::MAX),
        Err(VerifyError::StaleTimestamp)
    );
}

#[test]
fn headers_match_in_any_letter_case_and_bodies_need_not_be_utf8() {
    let body: &[u8] = b"\x80\x81not utf-8\xff";
    let sig = sign_hex_hmac(SECRET, TS, body);
    let v = aghanim(Tolerance::DEFAULT);
    for (a, b) in [
        ("x-aghanim-signature", "x-aghanim-signature-timestamp"),
        ("X-AGHANIM-SIGNATURE", "X-AGHANIM-SIGNATURE-TIMESTAMP"),
    ] {
        let h = [(a, sig.as_str()), (b, "1725534306")];
        assert_eq!(v.verify(&h, body, TS).unwrap().scheme, Scheme::HexHmac);
    }
}

#[test]
fn rotation_and_secret_checks() {
    let v = HexHmacVerifier::new(AGHANIM, ["new_secret", SECRET], Tolerance::DEFAULT).unwrap();
    assert_eq!(
        v.verify(&headers("1725534306", SIG), BODY, TS)
            .unwrap()
            .secret_index,
        1
    );
    assert_eq!(
        HexHmacVerifier::new(AGHANIM, [SECRET, ""], Tolerance::DEFAULT).map(|_| ()),
        Err(VerifyError::BadSecret(SecretProblem::Empty { index: 1 }))
    );
    let debug = format!("{v:?}");
    assert_eq!(
        debug,
        "HexHmacVerifier { secrets: 2, keys: \"[redacted]\", tolerance: Seconds(300) }"
    );
    assert!(!debug.contains("secret_"));
}

#[test]
fn the_provider_names_the_headers_read_and_reported() {
    let other = tollgate_verify::HexHmacHeaders {
        signature: "x-other-signature",
        timestamp: "x-other-timestamp",
    };
    let v = HexHmacVerifier::new(other, [SECRET], Tolerance::DEFAULT).unwrap();
    assert_eq!(v.headers(), other);
    let h = [("X-Other-Signature", SIG), ("X-Other-Timestamp", "1725534306")];
    assert_eq!(v.verify(&h, BODY, TS).unwrap().scheme, Scheme::HexHmac);
    // Another provider's names are not read.
    assert_eq!(
        v.verify(&headers("1725534306", SIG), BODY, TS),
        Err(VerifyError::MissingHeader(
            tollgate_verify::Header::HexHmacSignature("x-other-signature")
        ))
    );
    assert_eq!(
        VerifyError::MalformedHeader(other.timestamp_header()).to_string(),
        "malformed header `x-other-timestamp`"
    );
}
