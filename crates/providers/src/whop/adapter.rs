//! Whop's adapter: its verifier (current Standard Webhooks format and legacy `X-Whop-Signature`) and parser.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_verify::{
    Header, HeaderLookup, Scheme, Tolerance, Verified, VerifyError, WhopVerifier, sign_whop,
};

use super::{WhopClient, WhopOptions};
use crate::adapter::{ProviderAdapter, SignatureVerifier, header_timestamp};
use crate::apis::{ApiSettings, ProviderApi};
use crate::error::{ApiError, ParseError};
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

    /// Built when the section has an API key (every Current-API call needs one).
    fn api(&self, settings: &ApiSettings) -> Option<Result<ProviderApi, ApiError>> {
        settings.client.api_key.as_ref()?;
        Some(
            WhopClient::new(&settings.client, WhopOptions::from_settings(settings))
                .map(|client| ProviderApi::Memberships(Arc::new(client))),
        )
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

    /// The legacy `X-Whop-Signature` is Whop's alone (the current format's headers are Standard Webhooks').
    fn recognizes(&self, headers: &dyn HeaderLookup) -> bool {
        headers.header(Header::WhopSignature.name()).is_some()
    }

    /// `webhook-timestamp` when present, else the `t=` field of the legacy `X-Whop-Signature`.
    fn signed_timestamp(&self, headers: &dyn HeaderLookup) -> Option<Result<i64, VerifyError>> {
        if let Some(current) = header_timestamp(headers, Header::WebhookTimestamp) {
            return Some(current);
        }
        let legacy = headers.header(Header::WhopSignature.name())?;
        Some(
            std::str::from_utf8(legacy)
                .ok()
                .and_then(|value| value.split(',').find_map(|part| part.trim().strip_prefix("t=")))
                .and_then(|ts| ts.parse().ok())
                .ok_or(VerifyError::MalformedHeader(Header::WhopSignature)),
        )
    }

    fn scheme_label(&self, scheme: Scheme) -> &'static str {
        match scheme {
            Scheme::WhopCurrent => "Whop (current format)",
            Scheme::WhopLegacy => "Whop (legacy X-Whop-Signature)",
            _ => self.guide().title,
        }
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

    #[cfg(feature = "fake")]
    fn dev_fake(&self, seed: &tollgate_testkit::DevSeed) -> Option<Box<dyn tollgate_testkit::DevFake>> {
        Some(Box::new(super::fake_dev::DevWhop::start(seed)))
    }

    // -- webhook routes and texts --

    fn webhook_doc(&self) -> WebhookDoc {
        super::texts::webhook_doc()
    }

    fn naming(&self) -> Naming {
        super::texts::NAMING
    }
}
