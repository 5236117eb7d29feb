//! A fourth, fake provider registered next to the real ones, with nothing outside this test: it verifies and
//! parses a webhook through the registry like Whop, Dodo and Aghanim do.

#![expect(clippy::unwrap_used, reason = "test: a failed step fails the test")]

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::{EventKind, Provider, ProviderEvent};
use tollgate_providers::{
    DeliveryMeta, EntitlementChange, Extras, Outcome, ParseError, ParsedWebhook, ProviderAdapter, Registry,
    SetupGuide, SignatureVerifier,
};
use tollgate_verify::{StandardWebhooksVerifier, Tolerance, VerifyError, sign_standard_webhooks};

/// The fake provider's key.
const ACME: Provider = Provider::new("acme");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: i64 = 1_790_000_000;

/// Acme signs with Standard Webhooks and sends `{"type", "id", "at", "customer"}` envelopes.
#[derive(Debug)]
struct AcmeAdapter;

impl ProviderAdapter for AcmeAdapter {
    fn provider(&self) -> Provider {
        ACME
    }

    fn verifier(
        &self,
        secrets: &[&str],
        tolerance: Tolerance,
    ) -> Result<Box<dyn SignatureVerifier>, VerifyError> {
        Ok(Box::new(
            StandardWebhooksVerifier::new(secrets)?.with_tolerance(tolerance),
        ))
    }

    fn parse(&self, meta: &DeliveryMeta, value: &Value, _body: &[u8]) -> Result<ParsedWebhook, ParseError> {
        let field = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ParseError::MissingField {
                    field: name.to_owned(),
                })
        };
        let event_type = field("type")?;
        let at = value
            .get("at")
            .and_then(Value::as_i64)
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
            .ok_or_else(|| ParseError::InvalidTimestamp {
                field: "at".to_owned(),
            })?;
        let outcome = match event_type.as_str() {
            "access.granted" => Outcome::Apply(Box::new(EntitlementChange {
                event: ProviderEvent {
                    provider: ACME,
                    external_id: field("id")?,
                    occurred_at: at,
                    subject: Some(field("customer")?),
                    product: None,
                    kind: EventKind::Activated {
                        status: Some("granted".to_owned()),
                        paid_through: None,
                        cancel_at_period_end: None,
                        features: Vec::new(),
                    },
                },
                license_key: None,
                extras: Extras::default(),
            })),
            _ => Outcome::NotActedOn {
                reason: "not an access event",
            },
        };
        Ok(ParsedWebhook {
            dedupe_key: meta.webhook_id.clone().ok_or(ParseError::MissingDeliveryId)?,
            semantic_key: None,
            event_type,
            outcome,
        })
    }

    fn guide(&self) -> SetupGuide {
        SetupGuide {
            title: "Acme",
            default_api_base: "https://api.acme.test",
            example_secret: SECRET,
            id_noun: "access",
            ..SetupGuide::unknown(ACME)
        }
    }

    fn sign(
        &self,
        secret: &str,
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<Vec<(&'static str, String)>, VerifyError> {
        Ok(vec![
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                sign_standard_webhooks(secret, id, timestamp, body)?,
            ),
        ])
    }
}

fn registry() -> Registry {
    Registry::builtin().with(AcmeAdapter)
}

/// The delivery headers, signed by the adapter found in the registry.
fn signed(registry: &Registry, body: &[u8]) -> Vec<(&'static str, String)> {
    registry
        .get(ACME)
        .unwrap()
        .sign(SECRET, "msg_acme_1", NOW, body)
        .unwrap()
}

#[test]
fn a_fourth_provider_registers_next_to_the_real_ones() {
    let registry = registry();
    assert_eq!(
        registry.providers().collect::<Vec<_>>(),
        [Provider::Whop, Provider::Dodo, Provider::Aghanim, ACME]
    );
    assert!(registry.contains(ACME));
    assert!(!Registry::builtin().contains(ACME));
    assert_eq!(ACME.as_str(), "acme");
    assert_eq!(ACME.to_string(), "acme");
    // The real providers keep their wire names and their order; the new key sorts after them.
    assert_eq!(Provider::Aghanim.as_str(), "aghanim");
    assert_eq!(registry.get(ACME).unwrap().guide().title, "Acme");
    assert!(Provider::Aghanim < ACME && Provider::Whop < Provider::Dodo);
}

#[test]
fn a_fourth_provider_verifies_and_parses_a_webhook_through_the_registry() {
    let registry = registry();
    let body = br#"{"type":"access.granted","id":"acc_1","at":1789999990,"customer":"cus_9"}"#;
    let headers = signed(&registry, body);

    let verifier = registry
        .verifier(ACME, &[SECRET], Tolerance::Seconds(300))
        .unwrap()
        .unwrap();
    assert_eq!(verifier.provider(), ACME);
    let verified = verifier.verify(&headers, body, NOW).unwrap();
    assert_eq!(verified.webhook_id, Some("msg_acme_1"));
    assert_eq!(
        verifier.verify(&headers, br#"{"type":"tampered"}"#, NOW),
        Err(VerifyError::NoMatchingSignature)
    );

    let meta = DeliveryMeta::from_verified(verified.webhook_id, verified.timestamp);
    let parsed = registry.parse(ACME, &meta, body).unwrap();
    assert_eq!(parsed.dedupe_key, "msg_acme_1");
    assert_eq!(parsed.event_type, "access.granted");
    let change = parsed.outcome.change().unwrap();
    assert_eq!(change.event.provider, ACME);
    assert_eq!(change.event.external_id, "acc_1");
    assert_eq!(change.event.subject.as_deref(), Some("cus_9"));

    let other = registry
        .parse(ACME, &meta, br#"{"type":"ping","at":1789999990}"#)
        .unwrap();
    assert_eq!(
        other.outcome,
        Outcome::NotActedOn {
            reason: "not an access event"
        }
    );
    assert!(
        registry
            .parse(ACME, &meta, b"not json")
            .unwrap_err()
            .is_not_json()
    );
}

#[test]
fn a_provider_that_is_not_registered_is_refused() {
    let meta = DeliveryMeta::standard("msg_acme_1", None);
    assert_eq!(
        Registry::builtin().parse(ACME, &meta, b"{}"),
        Err(ParseError::UnknownProvider {
            provider: "acme".to_owned()
        })
    );
    assert!(
        Registry::builtin()
            .verifier(ACME, &[SECRET], Tolerance::DEFAULT)
            .is_none()
    );
}
