//! Whop's adapter: its verifier (current Standard Webhooks format and legacy `X-Whop-Signature`) and parser.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_verify::{HeaderLookup, Tolerance, Verified, VerifyError, WhopVerifier, sign_whop};

use crate::adapter::{ProviderAdapter, SignatureVerifier};
use crate::error::ParseError;
use crate::setup::SetupGuide;
use crate::texts::{Naming, WebhookDoc};
use crate::webhook::{DeliveryMeta, ParsedWebhook};

/// Whop as the registry knows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct WhopAdapter;

impl SignatureVerifier for WhopVerifier {
    fn verify<'h>(
        &self,
        headers: &'h dyn HeaderLookup,
        body: &[u8],
        now: i64,
    ) -> Result<Verified<'h>, VerifyError> {
        WhopVerifier::verify(self, headers, body, now)
    }
}

impl ProviderAdapter for WhopAdapter {
    fn provider(&self) -> Provider {
        Provider::Whop
    }

    fn verifier(
        &self,
        secrets: &[&str],
        tolerance: Tolerance,
    ) -> Result<Box<dyn SignatureVerifier>, VerifyError> {
        Ok(Box::new(WhopVerifier::new(secrets)?.with_tolerance(tolerance)))
    }

    fn parse(&self, meta: &DeliveryMeta, value: &Value, body: &[u8]) -> Result<ParsedWebhook, ParseError> {
        super::webhook::parse(meta, value, body)
    }

    fn guide(&self) -> SetupGuide {
        SetupGuide {
            title: "Whop",
            secret_where: "Whop dashboard → Developer → Webhooks → your webhook (API version v1) → secret",
            secret_prefix: Some("ws_"),
            api_key_where: "Whop dashboard → Developer → API keys: a company key with Membership: Validate License \
                            and Membership: Retrieve Membership",
            api_key_use: "license activation and reconciliation",
            events: "membership.activated, membership.deactivated, membership.cancel_at_period_end_changed",
            headers: "webhook-id, webhook-timestamp and webhook-signature (or the legacy X-Whop-Signature)",
            default_api_base: "https://api.whop.com",
            example_secret: "ws_local_test_secret",
            id_noun: "membership",
            example_external_id: "mem_7Hq2LwZp0aXkR1",
            example_subject: "user_Zx9Yw8Vu7",
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
            ("webhook-signature", sign_whop(secret, id, timestamp, body)),
        ])
    }

    fn simulated_events(&self) -> &'static [&'static str] {
        super::simulate::EVENTS
    }

    fn simulated_body(
        &self,
        event: &str,
        now: DateTime<Utc>,
        external_id: &str,
        subject: &str,
        unique: &str,
    ) -> Option<Value> {
        super::simulate::body(event, now, external_id, subject, unique)
    }

    // -- webhook routes and texts --

    fn webhook_doc(&self) -> WebhookDoc {
        super::texts::webhook_doc()
    }

    fn naming(&self) -> Naming {
        super::texts::NAMING
    }
}
