//! Feeds arbitrary headers, bodies, clocks, tolerances and secrets to every scheme of tollgate-verify.
//!
//! Oracles: nothing panics; arbitrary headers never verify under the fixed secrets; and a delivery signed with the
//! crate's own signing functions always verifies (with the id and timestamp it was signed with).

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tollgate_verify::{
    Header, HexHmacHeaders, HexHmacVerifier, StandardWebhooksVerifier, Tolerance, VerifyError, WhopVerifier,
    sign_hex_hmac, sign_standard_webhooks, sign_whop, sign_whop_legacy,
};

const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WHOP_SECRET: &str = "ws_1234567890abcdef";
const AGHANIM_SECRET: &str = "aghanim_test_secret";
/// The hex HMAC scheme's headers as Aghanim names them.
const AGHANIM: HexHmacHeaders = HexHmacHeaders {
    signature: "x-aghanim-signature",
    timestamp: "x-aghanim-signature-timestamp",
};

#[derive(Arbitrary, Debug)]
enum Name {
    WebhookId,
    WebhookTimestamp,
    WebhookSignature,
    WhopSignature,
    AghanimSignature,
    AghanimTimestamp,
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    headers: Vec<(Name, bool, Vec<u8>)>,
    body: Vec<u8>,
    now: i64,
    tolerance: Option<u64>,
    extra_secret: String,
    signed: Option<(String, i64)>,
}

fn header_name(name: &Name, upper: bool) -> String {
    let name = match name {
        Name::WebhookId => Header::WebhookId.name(),
        Name::WebhookTimestamp => Header::WebhookTimestamp.name(),
        Name::WebhookSignature => Header::WebhookSignature.name(),
        Name::WhopSignature => Header::WhopSignature.name(),
        Name::AghanimSignature => AGHANIM.signature,
        Name::AghanimTimestamp => AGHANIM.timestamp,
        Name::Other(other) => other,
    };
    if upper {
        name.to_ascii_uppercase()
    } else {
        name.to_owned()
    }
}

fuzz_target!(|input: Input| {
    let tolerance = input.tolerance.map_or(Tolerance::Unlimited, Tolerance::Seconds);
    let headers: Vec<(String, Vec<u8>)> = input
        .headers
        .iter()
        .map(|(name, upper, value)| (header_name(name, *upper), value.clone()))
        .collect();

    // Arbitrary secrets: construction may refuse them, but must not panic.
    let _ = StandardWebhooksVerifier::new([input.extra_secret.as_str()]);
    let _ = sign_standard_webhooks(&input.extra_secret, "msg", input.now, &input.body);
    let extra_whop = WhopVerifier::new([WHOP_SECRET, input.extra_secret.as_str()]);
    let extra_aghanim = HexHmacVerifier::new(AGHANIM, [input.extra_secret.as_str()], tolerance);

    let standard = StandardWebhooksVerifier::new([STANDARD_SECRET])
        .unwrap()
        .with_tolerance(tolerance);
    let whop = WhopVerifier::new([WHOP_SECRET])
        .unwrap()
        .with_tolerance(tolerance);
    let aghanim = HexHmacVerifier::new(AGHANIM, [AGHANIM_SECRET], tolerance).unwrap();

    // Random headers forge nothing under the fixed secrets.
    assert!(standard.verify(&headers, &input.body, input.now).is_err());
    assert!(whop.verify(&headers, &input.body, input.now).is_err());
    assert!(whop.verify_current(&headers, &input.body, input.now).is_err());
    assert!(whop.verify_legacy(&headers, &input.body, input.now).is_err());
    assert!(aghanim.verify(&headers, &input.body, input.now).is_err());
    if let Ok(v) = &extra_whop {
        let _ = v.verify(&headers, &input.body, input.now);
    }
    if let Ok(v) = &extra_aghanim {
        let _ = v.verify(&headers, &input.body, input.now);
    }

    // Whatever the crate signs, it verifies.
    if let Some((id, timestamp)) = &input.signed {
        let ts = timestamp.to_string();
        let body = &input.body;
        let expected_id = if id.is_empty() {
            Err(VerifyError::MalformedHeader(Header::WebhookId))
        } else {
            Ok(Some(id.as_str()))
        };

        let sig = sign_standard_webhooks(STANDARD_SECRET, id, *timestamp, body).unwrap();
        let h = [
            ("webhook-id", id.as_str()),
            ("webhook-timestamp", &ts),
            ("webhook-signature", &sig),
        ];
        let got = standard.verify(&h, body, *timestamp).map(|ok| ok.webhook_id);
        assert_eq!(got, expected_id);

        let sig = sign_whop(WHOP_SECRET, id, *timestamp, body);
        let h = [
            ("Webhook-Id", id.as_str()),
            ("Webhook-Timestamp", &ts),
            ("Webhook-Signature", &sig),
        ];
        let got = whop.verify(&h, body, *timestamp).map(|ok| ok.webhook_id);
        assert_eq!(got, expected_id);

        let sig = sign_whop_legacy(WHOP_SECRET, *timestamp, body);
        assert_eq!(
            whop.verify(&[("X-Whop-Signature", sig.as_str())], body, *timestamp)
                .map(|ok| ok.timestamp),
            Ok(*timestamp)
        );

        let sig = sign_hex_hmac(AGHANIM_SECRET, *timestamp, body);
        let h = [
            ("X-Aghanim-Signature", sig.as_str()),
            ("X-Aghanim-Signature-Timestamp", &ts),
        ];
        assert_eq!(
            aghanim.verify(&h, body, *timestamp).map(|ok| ok.timestamp),
            Ok(*timestamp)
        );
    }
});
