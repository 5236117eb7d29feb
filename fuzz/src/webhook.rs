//! `tollgate_providers::parse_webhook` on arbitrary bodies and delivery metadata.
//!
//! Input layout: the body, then optionally a NUL byte and the metadata bytes. A JSON body never holds a raw NUL, so a
//! fixture copied as is into the corpus is a meaningful input (it runs with [`default_meta`]), and the fuzzer finds
//! the metadata tail by itself.
//!
//! Oracles, besides "never panics": the answer is `NotJson` exactly when the body is not JSON; parsing is
//! deterministic; an accepted event has a dedupe key and an event type, both non-empty, whenever the delivery's
//! `webhook-id` (if any) is non-empty.

use arbitrary::{Arbitrary, Unstructured};
use chrono::DateTime;
use tollgate_policy::Provider;
use tollgate_providers::{DeliveryMeta, parse_webhook};

/// The metadata a fixture copied as is runs with: a Standard Webhooks id and a signature time in 2026.
pub fn default_meta() -> DeliveryMeta {
    DeliveryMeta::standard("msg_fuzz_0001", DateTime::from_timestamp(1_790_000_000, 0))
}

#[derive(Arbitrary, Debug)]
enum MetaShape {
    None,
    Standard(String, Option<i64>),
    TimestampOnly(Option<i64>),
    Verified(Option<String>, i64),
}

fn meta_from(bytes: &[u8]) -> DeliveryMeta {
    let shape = MetaShape::arbitrary_take_rest(Unstructured::new(bytes)).unwrap_or(MetaShape::None);
    let at = |secs: Option<i64>| secs.and_then(|s| DateTime::from_timestamp(s, 0));
    match shape {
        MetaShape::None => DeliveryMeta::default(),
        MetaShape::Standard(id, secs) => DeliveryMeta::standard(id, at(secs)),
        MetaShape::TimestampOnly(secs) => DeliveryMeta::timestamp_only(at(secs)),
        MetaShape::Verified(id, secs) => DeliveryMeta::from_verified(id.as_deref(), secs),
    }
}

/// Splits an input into (metadata, body) as described in the module docs.
pub fn split(data: &[u8]) -> (DeliveryMeta, &[u8]) {
    match data.iter().rposition(|&b| b == 0) {
        Some(nul) => (meta_from(&data[nul + 1..]), &data[..nul]),
        None => (default_meta(), data),
    }
}

/// One fuzz iteration for `provider`.
pub fn check(provider: Provider, data: &[u8]) {
    let (meta, body) = split(data);
    let first = parse_webhook(provider, &meta, body);
    let is_json = serde_json::from_slice::<serde_json::Value>(body).is_ok();
    match &first {
        Err(e) => assert_eq!(e.is_not_json(), !is_json, "{provider}: {e}"),
        Ok(parsed) => {
            assert!(is_json, "{provider}: a body that is not JSON was accepted");
            if meta.webhook_id.as_deref() != Some("") {
                assert!(!parsed.dedupe_key.is_empty(), "{provider}: empty dedupe key");
            }
            assert!(!parsed.event_type.is_empty(), "{provider}: empty event type");
        }
    }
    // Display and Debug of whatever came back never panic either.
    let _ = format!("{first:?}");
    if let Err(e) = &first {
        let _ = e.to_string();
    }
    assert_eq!(
        parse_webhook(provider, &meta, body),
        first,
        "{provider}: not deterministic"
    );
}
