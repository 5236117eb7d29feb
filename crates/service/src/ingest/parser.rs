//! The payload parser ingest uses, behind a small trait so a test can stand in for another release's parser, and
//! the conversion of a parsed change into what the store folds.

use std::fmt;

use tollgate_policy::Provider;
use tollgate_providers::{DeliveryMeta, ParseError, ParsedWebhook, Registry};

use crate::view::StoredExtras;

/// Turns an authentic body into a [`ParsedWebhook`].
pub trait WebhookParser: Send + Sync + fmt::Debug {
    fn parse(
        &self,
        provider: Provider,
        meta: &DeliveryMeta,
        body: &[u8],
    ) -> Result<ParsedWebhook, ParseError>;
}

/// The parser of a [`Registry`]'s providers; by default the built-in registry's (this release's parser, the one
/// [`tollgate_providers::parse_webhook`] uses).
#[derive(Debug, Clone)]
pub struct RegistryParser {
    registry: Registry,
}

impl RegistryParser {
    pub fn new(registry: Registry) -> RegistryParser {
        RegistryParser { registry }
    }
}

impl Default for RegistryParser {
    fn default() -> RegistryParser {
        RegistryParser::new(Registry::shared().clone())
    }
}

impl WebhookParser for RegistryParser {
    fn parse(
        &self,
        provider: Provider,
        meta: &DeliveryMeta,
        body: &[u8],
    ) -> Result<ParsedWebhook, ParseError> {
        self.registry.parse(provider, meta, body)
    }
}

/// A provider change as the store folds it: the event, the license key (hashed by the store) and the extras as
/// stored JSON (features live in the policy state).
pub fn store_change(change: &tollgate_providers::EntitlementChange) -> tollgate_store::EntitlementChange {
    tollgate_store::EntitlementChange {
        event: change.event.clone(),
        license_key: change.license_key.as_ref().map(|k| k.expose().to_owned()),
        extras: StoredExtras::from_provider(&change.extras).to_json(),
    }
}
