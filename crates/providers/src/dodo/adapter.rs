//! Dodo's adapter: its verifier (Standard Webhooks) and parser.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_verify::{
    Header, HeaderLookup, Scheme, StandardWebhooksVerifier, Tolerance, Verified, VerifyError,
    sign_standard_webhooks,
};

use super::{DodoApi as _, DodoClient, DodoPageQuery};
use crate::adapter::{ProviderAdapter, SignatureVerifier, header_timestamp};
use crate::apis::{ApiSettings, ProviderApi};
use crate::error::{ApiError, ParseError};
use crate::http::{ApiFuture, CallContext, ClientConfig};
use crate::setup::SetupGuide;
use crate::texts::{Naming, WebhookDoc};
use crate::webhook::{DeliveryMeta, ParsedWebhook};

/// Dodo Payments as the registry knows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DodoAdapter;

impl SignatureVerifier for StandardWebhooksVerifier {
    fn verify<'h>(
        &self,
        headers: &'h dyn HeaderLookup,
        body: &[u8],
        now: i64,
    ) -> Result<Verified<'h>, VerifyError> {
        StandardWebhooksVerifier::verify(self, headers, body, now)
    }
}

impl ProviderAdapter for DodoAdapter {
    fn provider(&self) -> Provider {
        Provider::Dodo
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
        super::webhook::parse(meta, value)
    }

    /// Built when the section has an API key or takes webhooks: its license endpoints need no key, but a vendor
    /// who does not use Dodo must not have every unknown key sent there.
    fn api(&self, settings: &ApiSettings) -> Option<Result<ProviderApi, ApiError>> {
        if settings.client.api_key.is_none() && !settings.webhooks_enabled {
            return None;
        }
        Some(DodoClient::new(&settings.client).map(|client| ProviderApi::LicenseKeys(Arc::new(client))))
    }

    /// Dodo's license keys are UUID-shaped (8-4-4-4-12 hex digits).
    fn claims_license_key(&self, license_key: &str) -> bool {
        looks_like_uuid(license_key)
    }

    fn guide(&self) -> SetupGuide {
        SetupGuide {
            title: "Dodo Payments",
            secret_where: "Dodo dashboard → Developers → Webhooks → your endpoint → Signing secret",
            secret_prefix: Some("whsec_"),
            api_key_where: "Dodo dashboard → Developers → API Keys",
            api_key_use: "reconciliation (license activation uses Dodo's public license endpoints)",
            events: "entitlement_grant.* (created, delivered, failed, revoked) and subscription.*",
            headers: "webhook-id, webhook-timestamp and webhook-signature",
            default_api_base: "https://live.dodopayments.com",
            example_secret: "whsec_bG9jYWwgdGVzdCBzZWNyZXQ=",
            id_noun: "grant",
            example_external_id: "entg_8sKd02LmQp",
            example_subject: "cus_J7h6G5f4",
        }
    }

    fn sign(
        &self,
        secret: &str,
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<Vec<(&'static str, String)>, VerifyError> {
        let signature = sign_standard_webhooks(secret, id, timestamp, body)?;
        Ok(vec![
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ])
    }

    fn signed_timestamp(&self, headers: &dyn HeaderLookup) -> Option<Result<i64, VerifyError>> {
        header_timestamp(headers, Header::WebhookTimestamp)
    }

    fn scheme_label(&self, _scheme: Scheme) -> &'static str {
        "Standard Webhooks"
    }

    fn probe<'a>(
        &'a self,
        ctx: &'a CallContext,
        config: &'a ClientConfig,
    ) -> Option<ApiFuture<'a, &'static str>> {
        Some(Box::pin(async move {
            let page = DodoPageQuery {
                page_number: 0,
                page_size: Some(1),
            };
            DodoClient::new(config)?
                .list_subscriptions(ctx, page)
                .await
                .map(|_| "Dodo answered: the API key reads subscriptions")
        }))
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
        _unique: &str,
    ) -> Option<Value> {
        super::simulate::body(event, now, external_id, subject)
    }

    #[cfg(feature = "fake")]
    fn dev_fake(&self, seed: &tollgate_testkit::DevSeed) -> Option<Box<dyn tollgate_testkit::DevFake>> {
        Some(Box::new(super::fake_dev::DevDodo::start(seed)))
    }

    // -- webhook routes and texts --

    fn webhook_doc(&self) -> WebhookDoc {
        super::texts::webhook_doc()
    }

    fn naming(&self) -> Naming {
        super::texts::NAMING
    }
}

/// The 8-4-4-4-12 hex-digit shape of a UUID, exactly.
fn looks_like_uuid(key: &str) -> bool {
    key.len() == 36
        && key.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::looks_like_uuid;

    #[test]
    fn uuid_shape_is_recognised_exactly() {
        assert!(looks_like_uuid("3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b"));
        assert!(!looks_like_uuid("3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6"));
        assert!(!looks_like_uuid("3f2a9c1e-7b4d-4e8f-9a0b_1c2d3e4f5a6b"));
        assert!(!looks_like_uuid("KLINE-8FFK3-SD83K-3K3K3-3K3K3"));
    }
}
