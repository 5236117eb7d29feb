//! Aghanim's adapter: its verifier (the hex HMAC scheme: `X-Aghanim-Signature` over
//! `<X-Aghanim-Signature-Timestamp>.<body>`; Aghanim documents no timestamp window) and parser.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::Provider;
use tollgate_verify::{HeaderLookup, HexHmacVerifier, Tolerance, Verified, VerifyError, sign_hex_hmac};

use super::{AghanimApi as _, AghanimClient, AghanimListing, SubscriptionQuery};
use crate::adapter::{ProviderAdapter, SignatureVerifier};
use crate::error::{ApiError, ParseError};
use crate::http::{ApiFuture, CallContext, ClientConfig};
use crate::reconcile::SubjectListing;
use crate::setup::SetupGuide;
use crate::texts::{Naming, WebhookDoc};
use crate::webhook::{DeliveryMeta, ParsedWebhook};

/// The player id of the online probe: read-only, and no game's player.
const PROBE_PLAYER: &str = "tollgate-doctor-probe";

/// Aghanim as the registry knows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AghanimAdapter;

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
        Ok(Box::new(HexHmacVerifier::new(secrets, tolerance)?))
    }

    fn parse(&self, _meta: &DeliveryMeta, value: &Value, _body: &[u8]) -> Result<ParsedWebhook, ParseError> {
        super::webhook::parse(value)
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
            ("x-aghanim-signature", sign_hex_hmac(secret, timestamp, body)),
            ("x-aghanim-signature-timestamp", timestamp.to_string()),
        ])
    }

    fn subject_listing(&self, config: &ClientConfig) -> Option<Result<Arc<dyn SubjectListing>, ApiError>> {
        Some(
            AghanimClient::new(config)
                .map(|client| Arc::new(AghanimListing::new(Arc::new(client))) as Arc<dyn SubjectListing>),
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

    // -- webhook routes and texts --

    fn webhook_doc(&self) -> WebhookDoc {
        super::texts::webhook_doc()
    }

    fn naming(&self) -> Naming {
        super::texts::NAMING
    }
}
