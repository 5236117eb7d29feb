//! The payload parser ingest uses, behind a small trait so a test can stand in for another release's parser, and
//! the conversion of a parsed change into what the store folds.

use std::fmt;

use tollgate_policy::Provider;
use tollgate_providers::{DeliveryMeta, ParseError, ParsedWebhook};

use crate::view::StoredExtras;

/// Turns an authentic body into a [`ParsedWebhook`]: a test's stand-in for another release's parser
/// ([`crate::ingest::Ingest::with_parser`]; without one, the registry's adapters parse).
pub trait WebhookParser: Send + Sync + fmt::Debug {
    fn parse(
        &self,
        provider: Provider,
        meta: &DeliveryMeta,
        body: &[u8],
    ) -> Result<ParsedWebhook, ParseError>;
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
