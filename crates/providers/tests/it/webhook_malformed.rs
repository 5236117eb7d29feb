//! Authentic but unusable payloads give exact, typed errors and never panic.

use crate::common;

use common::{fixture, parse};
use tollgate_policy::Provider;
use tollgate_providers::{DeliveryMeta, ParseError, parse_webhook};

fn meta() -> DeliveryMeta {
    DeliveryMeta::standard("msg_m", None)
}

fn missing(field: &str) -> ParseError {
    ParseError::MissingField {
        field: field.to_owned(),
    }
}

#[test]
fn not_json_is_told_apart_from_a_bad_shape() {
    for provider in Provider::ALL {
        for name in ["malformed/truncated.json", "malformed/not_json.txt"] {
            let error = parse(provider, &meta(), name).unwrap_err();
            assert!(error.is_not_json(), "{provider} {name}: {error:?}");
        }
        let error = parse_webhook(provider, &meta(), &[0xff, 0xfe, b'{']).unwrap_err();
        assert!(error.is_not_json(), "{error:?}");
        let error = parse_webhook(provider, &meta(), b"").unwrap_err();
        assert!(error.is_not_json(), "{error:?}");
        let error = parse(provider, &meta(), "malformed/top_level_array.json").unwrap_err();
        assert_eq!(error, ParseError::NotAnObject);
        assert!(!error.is_not_json());
    }
}

#[test]
fn truncated_json_reports_the_parser_position() {
    let error = parse(Provider::Whop, &meta(), "malformed/truncated.json").unwrap_err();
    let ParseError::NotJson { reason } = error else {
        panic!("expected NotJson");
    };
    assert!(reason.starts_with("EOF while parsing"), "{reason}");
}

#[test]
fn exact_shape_errors() {
    let cases = [
        (
            Provider::Whop,
            "malformed/whop_data_id_number.json",
            ParseError::WrongType {
                field: "data.id".to_owned(),
                expected: "a string",
            },
        ),
        (
            Provider::Whop,
            "malformed/whop_cancel_flag_string.json",
            ParseError::WrongType {
                field: "data.cancel_at_period_end".to_owned(),
                expected: "a boolean",
            },
        ),
        (
            Provider::Whop,
            "malformed/whop_bad_timestamp.json",
            ParseError::InvalidTimestamp {
                field: "timestamp".to_owned(),
            },
        ),
        (
            Provider::Dodo,
            "malformed/dodo_grant_missing_id.json",
            missing("data.id"),
        ),
        (
            Provider::Dodo,
            "malformed/dodo_subscription_null_id.json",
            missing("data.subscription_id"),
        ),
        (
            Provider::Dodo,
            "malformed/dodo_data_string.json",
            ParseError::WrongType {
                field: "data".to_owned(),
                expected: "an object",
            },
        ),
        (
            Provider::Aghanim,
            "malformed/aghanim_missing_event_type.json",
            missing("event_type"),
        ),
        (
            Provider::Aghanim,
            "malformed/aghanim_no_ids.json",
            missing("event_id"),
        ),
        (
            Provider::Aghanim,
            "malformed/aghanim_renewed_without_effective_until.json",
            missing("event_data.effective_until"),
        ),
    ];
    for (provider, name, expected) in cases {
        assert_eq!(parse(provider, &meta(), name).unwrap_err(), expected, "{name}");
    }
}

#[test]
fn missing_envelope_fields() {
    let cases: [(Provider, &str, ParseError); 6] = [
        (Provider::Whop, r#"{"data":{}}"#, missing("type")),
        (
            Provider::Whop,
            r#"{"type":"membership.activated","timestamp":"2026-01-01T00:00:00Z"}"#,
            missing("data"),
        ),
        (
            Provider::Whop,
            r#"{"type":"membership.activated","data":{"id":"mem_1"}}"#,
            missing("timestamp"),
        ),
        (
            Provider::Whop,
            r#"{"type":"membership.cancel_at_period_end_changed","timestamp":1,"data":{"id":"mem_1"}}"#,
            missing("data.cancel_at_period_end"),
        ),
        (
            Provider::Whop,
            r#"{"action":"membership.went_valid"}"#,
            missing("data"),
        ),
        (
            Provider::Dodo,
            r#"{"type":"subscription.renewed","timestamp":"2026-01-01T00:00:00Z","data":{"subscription_id":"sub_1"}}"#,
            missing("data.next_billing_date"),
        ),
    ];
    for (provider, body, expected) in cases {
        assert_eq!(
            parse_webhook(provider, &meta(), body.as_bytes()).unwrap_err(),
            expected,
            "{body}"
        );
    }
}

#[test]
fn a_whop_v1_delivery_without_any_id_is_refused() {
    let body = br#"{"type":"membership.activated","timestamp":1,"data":{"id":"mem_1"}}"#;
    assert_eq!(
        parse_webhook(Provider::Whop, &DeliveryMeta::default(), body).unwrap_err(),
        ParseError::MissingDeliveryId
    );
}

#[test]
fn every_fixture_prefix_parses_without_panicking() {
    let names = [
        "whop/membership.activated.json",
        "whop/legacy.membership.went_valid.json",
        "dodo/entitlement_grant.delivered.license_key.json",
        "dodo/subscription.active.json",
        "aghanim/subscription.activated.nested.json",
        "aghanim/item.remove.json",
        "aghanim/player.verify.json",
    ];
    for name in names {
        let body = fixture(name);
        for provider in Provider::ALL {
            for end in 0..body.len() {
                let _ = parse_webhook(provider, &meta(), &body[..end]);
            }
        }
    }
}
