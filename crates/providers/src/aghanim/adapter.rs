//! Aghanim's adapter: its verifier (the hex HMAC scheme: `X-Aghanim-Signature` over
//! `<X-Aghanim-Signature-Timestamp>.<body>`; Aghanim documents no timestamp window) and parser.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_verify::{
    HeaderLookup, HexHmacHeaders, HexHmacVerifier, Tolerance, Verified, VerifyError, sign_hex_hmac,
};

use super::{
    AghanimApi as _, AghanimClient, AghanimListing, AghanimOptions, SANDBOX_NOTE, SubscriptionQuery,
};
use crate::adapter::{ProviderAdapter, SignatureVerifier, header_timestamp};
use crate::apis::{ApiSettings, ProviderApi};
use crate::error::{ApiError, ParseError};
use crate::http::{ApiFuture, CallContext, ClientConfig};
use crate::setup::SetupGuide;
use crate::texts::{Naming, WebhookDoc};
use crate::webhook::{DeliveryMeta, Outcome, ParsedWebhook, Refusal, WebhookEffect};

/// The player id of the online probe: read-only, and no game's player.
const PROBE_PLAYER: &str = "tollgate-doctor-probe";

/// Aghanim's names for the hex HMAC scheme's two headers.
const HEADERS: HexHmacHeaders = HexHmacHeaders {
    signature: "x-aghanim-signature",
    timestamp: "x-aghanim-signature-timestamp",
};

/// Aghanim as the registry knows it, with the operator's item and sandbox choices (default: no item SKUs, sandbox
/// off).
#[derive(Debug, Clone, Default)]
pub struct AghanimAdapter {
    options: AghanimOptions,
}

impl AghanimAdapter {
    /// The adapter with the operator's choices (`providers.aghanim.item_skus`, `providers.aghanim.accept_sandbox`).
    pub fn new(options: AghanimOptions) -> AghanimAdapter {
        AghanimAdapter { options }
    }

    /// The operator's choices in force.
    pub fn options(&self) -> &AghanimOptions {
        &self.options
    }
}

impl SignatureVerifier for HexHmacVerifier {
    fn verify<'h>(
        &self,
        headers: &'h dyn HeaderLookup,
        body: &[u8],
        now: i64,
    ) -> Result<Verified<'h>, VerifyError> {
        HexHmacVerifier::verify(self, headers, body, now)
    }
}

impl ProviderAdapter for AghanimAdapter {
    fn provider(&self) -> Provider {
        Provider::Aghanim
    }

    fn verifier(
        &self,
        secrets: &[&str],
        tolerance: Tolerance,
    ) -> Result<Box<dyn SignatureVerifier>, VerifyError> {
        Ok(Box::new(HexHmacVerifier::new(HEADERS, secrets, tolerance)?))
    }

    fn parse(&self, _meta: &DeliveryMeta, value: &Value, _body: &[u8]) -> Result<ParsedWebhook, ParseError> {
        super::webhook::parse(value)
    }

    /// Items are granted only for the operator's SKUs (all or nothing: Aghanim takes one answer per event), and
    /// sandbox events change access only when the operator accepts them.
    fn effect(&self, outcome: &Outcome) -> Result<WebhookEffect, Refusal> {
        let options = &self.options;
        match outcome {
            Outcome::Items(items) => match items.refusal(|sku| options.grants_item(sku)) {
                Some(refusal) => Err(refusal),
                None => Ok(WebhookEffect::ApplyAll(items.changes())),
            },
            Outcome::Sandbox(inner) if options.accept_sandbox => self.effect(inner),
            Outcome::Sandbox(inner) => match inner.as_ref() {
                Outcome::Items(items) => Err(options.refuse_sandbox_items(items)),
                Outcome::Refused(refusal) => Err(refusal.clone()),
                _ => Ok(WebhookEffect::IgnoreNoted(SANDBOX_NOTE.to_owned())),
            },
            _ => WebhookEffect::without_choices(outcome),
        }
    }

    fn guide(&self) -> SetupGuide {
        SetupGuide {
            title: "Aghanim",
            secret_where: "Aghanim dashboard → Game → Webhooks → your webhook → reveal the webhook secret (not the \
                           S2S key)",
            secret_prefix: None,
            api_key_where: "Aghanim dashboard → Game → API keys: the S2S key",
            api_key_use: "reconciliation",
            events: "subscription.* (activated, updated, renewed, deactivated), and item.add and item.remove only \
                     for the SKUs in providers.aghanim.item_skus; never player.verify, player.lookup or store.get; \
                     batch mode off",
            headers: "X-Aghanim-Signature and X-Aghanim-Signature-Timestamp",
            default_api_base: "https://api.aghanim.com",
            example_secret: "local_test_secret",
            id_noun: "subscription",
            example_external_id: "sub_kMnoPqRsTuV",
            example_subject: "2D2R-OP3C",
        }
    }

    fn sign(
        &self,
        secret: &str,
        _id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<Vec<(&'static str, String)>, VerifyError> {
        Ok(vec![
            (HEADERS.signature, sign_hex_hmac(secret, timestamp, body)),
            (HEADERS.timestamp, timestamp.to_string()),
        ])
    }

    fn recognizes(&self, headers: &dyn HeaderLookup) -> bool {
        headers.header(HEADERS.signature).is_some()
    }

    fn signed_timestamp(&self, headers: &dyn HeaderLookup) -> Option<Result<i64, VerifyError>> {
        header_timestamp(headers, HEADERS.timestamp_header())
    }

    /// Listed per player for reconciliation, with an API key only (Aghanim's S2S API needs it).
    fn api(&self, settings: &ApiSettings) -> Option<Result<ProviderApi, ApiError>> {
        settings.client.api_key.as_ref()?;
        Some(
            AghanimClient::new(&settings.client)
                .map(|client| ProviderApi::Subjects(Arc::new(AghanimListing::new(Arc::new(client))))),
        )
    }

    fn probe<'a>(
        &'a self,
        ctx: &'a CallContext,
        config: &'a ClientConfig,
    ) -> Option<ApiFuture<'a, &'static str>> {
        Some(Box::pin(async move {
            let query = SubscriptionQuery {
                limit: 1,
                offset: 0,
                effective: None,
            };
            AghanimClient::new(config)?
                .list_player_subscriptions(ctx, PROBE_PLAYER, query)
                .await
                .map(|_| "Aghanim answered: the S2S key reads player subscriptions")
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
        unique: &str,
    ) -> Option<Value> {
        super::simulate::body(event, now, external_id, subject, unique)
    }

    #[cfg(feature = "fake")]
    fn dev_fake(&self, seed: &tollgate_testkit::DevSeed) -> Option<Box<dyn tollgate_testkit::DevFake>> {
        Some(Box::new(super::fake_dev::DevAghanim::start(seed)))
    }

    // -- webhook routes and texts --

    fn webhook_doc(&self) -> WebhookDoc {
        super::texts::webhook_doc()
    }

    fn naming(&self) -> Naming {
        super::texts::NAMING
    }
}
