//! Authentic webhook bodies into normalized events: the public types and the per-provider dispatch.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tollgate_policy::{Provider, ProviderEvent};

use crate::ItemDelivery;
use crate::error::ParseError;

/// What the server knows about a delivery besides its body, taken from the verified signature headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryMeta {
    /// The Standard Webhooks `webhook-id` header (Whop current, Dodo). `None` for schemes without one (legacy Whop, timestamp-only schemes).
    pub webhook_id: Option<String>,
    /// The verified signature timestamp. Legacy Whop payloads carry no event time, so it becomes the event time
    /// when the payload has no `updated_at` (see docs/providers.md). Store it with the raw body for replays.
    pub signed_at: Option<DateTime<Utc>>,
}

impl DeliveryMeta {
    /// A Standard Webhooks delivery (Whop current, Dodo).
    pub fn standard(webhook_id: impl Into<String>, signed_at: Option<DateTime<Utc>>) -> Self {
        DeliveryMeta {
            webhook_id: Some(webhook_id.into()),
            signed_at,
        }
    }

    /// From what signature verification returns: the `webhook-id` (if the scheme has one) and the signed Unix
    /// timestamp (an out-of-range timestamp is dropped).
    pub fn from_verified(webhook_id: Option<&str>, timestamp: i64) -> Self {
        DeliveryMeta {
            webhook_id: webhook_id.map(str::to_owned),
            signed_at: DateTime::from_timestamp(timestamp, 0),
        }
    }

    /// A delivery whose signature carries only a timestamp (legacy `X-Whop-Signature`, the hex-signature scheme).
    pub fn timestamp_only(signed_at: Option<DateTime<Utc>>) -> Self {
        DeliveryMeta {
            webhook_id: None,
            signed_at,
        }
    }
}

/// One parsed authentic delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedWebhook {
    /// The inbox key that makes a redelivery a no-op: the `webhook-id` for Whop and Dodo,
    /// `{event_type}:{idempotency_key}` (else `event_id`) for an idempotency-keyed envelope, payload id + action + body fingerprint for
    /// legacy Whop.
    pub dedupe_key: String,
    /// A second key for the same fact when a re-send may carry a new id: Dodo grants, `{grant_id}:{event_type}`.
    /// An idempotency-keyed provider repeats its `{event_type}:{idempotency_key}` here, the key its rows stored under the older
    /// `idempotency_key`-only form were given by a migration, so their redeliveries stay duplicates.
    pub semantic_key: Option<String>,
    /// The provider's event name (`membership.activated`, `entitlement_grant.revoked`, ...).
    pub event_type: String,
    pub outcome: Outcome,
}

/// What Tollgate does with an authentic delivery.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// Fold this change into the entitlement store.
    Apply(Box<EntitlementChange>),
    /// Record the event (it is authentic and answered 2xx) but change no access.
    NotActedOn { reason: &'static str },
    /// Record the event like [`Outcome::NotActedOn`]; then re-read this entitlement (the provider's id for it) from
    /// the provider's API, if Tollgate knows it (Whop `payment.succeeded`: its membership).
    Refresh {
        external_id: String,
        reason: &'static str,
    },
    /// A provider's `item.add` / `item.remove`: Tollgate grants (or revokes) only the item SKUs the operator lists, so
    /// the caller decides between [`ItemDelivery::changes`] and a refusal ([`ItemDelivery::refusal`]).
    Items(Box<ItemDelivery>),
    /// Answer 4xx and store nothing: a 2xx would tell the provider something Tollgate did not do (a request/response
    /// webhook such as a `player.verify`, whose caller waits for an answer body Tollgate cannot give).
    Refused(Refusal),
    /// An event from the provider's sandbox (`sandbox: true`): what it would do in production. The caller
    /// acts on it only when sandbox events are accepted.
    Sandbox(Box<Outcome>),
}

impl Outcome {
    /// The change to apply, if any (never for a sandbox event: that is the caller's choice).
    pub fn change(&self) -> Option<&EntitlementChange> {
        match self {
            Outcome::Apply(change) => Some(change),
            _ => None,
        }
    }
}

/// Why an authentic delivery is refused; `code` is the stable error code of the 4xx answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: RefusalCode,
    /// A provider-safe explanation (it is sent back in the answer body): what was refused and what to change.
    pub message: String,
}

impl Refusal {
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// The stable codes of a refused delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefusalCode {
    /// A type Tollgate must not claim: a request/response webhook (`player.verify`, `player.lookup`,
    /// `player.is_idle`, `store.get`) or a `batch.ready` notice whose events Tollgate would never read.
    UnsupportedEvent,
    /// An `item.add`/`item.remove` with an item SKU that is not in the provider's `item_skus`.
    UnsupportedItem,
    /// An item event from the sandbox while the provider's `accept_sandbox` is off.
    SandboxNotAccepted,
    /// An item event without the fields crediting needs (player, items, time): nothing can be credited.
    InvalidItemEvent,
}

impl RefusalCode {
    /// The wire code: `UNSUPPORTED_EVENT`, `UNSUPPORTED_ITEM`, `SANDBOX_NOT_ACCEPTED`, `INVALID_ITEM_EVENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::UnsupportedEvent => "UNSUPPORTED_EVENT",
            RefusalCode::UnsupportedItem => "UNSUPPORTED_ITEM",
            RefusalCode::SandboxNotAccepted => "SANDBOX_NOT_ACCEPTED",
            RefusalCode::InvalidItemEvent => "INVALID_ITEM_EVENT",
        }
    }
}

/// A normalized change plus what the policy event does not carry.
#[derive(Debug, Clone, PartialEq)]
pub struct EntitlementChange {
    pub event: ProviderEvent,
    /// The license key the payload carries, if any (Whop `license_key`, Dodo `license_key.key`).
    pub license_key: Option<LicenseKey>,
    pub extras: Extras,
}

/// The [`Extras::kind`] of an item entitlement: bought once (one per player and SKU), so `perpetual` unless a
/// product rule says otherwise.
pub const ITEM_KIND: &str = "item";

/// What ingest stores for an authentic delivery, once its provider's operator choices are applied
/// ([`crate::ProviderAdapter::effect`]): the changes to fold, or the event recorded without changing access.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookEffect {
    /// Fold this change.
    Apply(Box<EntitlementChange>),
    /// Fold all of these changes, in one transaction (an event about several entitlements).
    ApplyAll(Vec<EntitlementChange>),
    /// Record the event; change no access.
    Ignore,
    /// Record the event with this note; change no access (replaying it after a settings change may apply it).
    IgnoreNoted(String),
}

/// The note a sandbox event is stored with by a provider that makes no sandbox choice.
const SANDBOX_NOT_APPLIED: &str = "sandbox event (sandbox: true): stored, not applied";

impl WebhookEffect {
    /// The effect of `outcome` for a provider whose operator makes no choices: changes are applied, item deliveries
    /// are refused (no SKU is granted), sandbox events are recorded and not applied, refusals stay refusals.
    ///
    /// # Errors
    /// The [`Refusal`] to answer with (4xx, nothing stored).
    pub fn without_choices(outcome: &Outcome) -> Result<WebhookEffect, Refusal> {
        match outcome {
            Outcome::Apply(change) => Ok(WebhookEffect::Apply(change.clone())),
            Outcome::Items(items) => match items.refusal(|_| false) {
                Some(refusal) => Err(refusal),
                None => Ok(WebhookEffect::Ignore),
            },
            Outcome::Refused(refusal) => Err(refusal.clone()),
            Outcome::Sandbox(inner) => match inner.as_ref() {
                Outcome::Items(_) | Outcome::Refused(_) => WebhookEffect::without_choices(inner),
                _ => Ok(WebhookEffect::IgnoreNoted(SANDBOX_NOT_APPLIED.to_owned())),
            },
            Outcome::NotActedOn { .. } | Outcome::Refresh { .. } => Ok(WebhookEffect::Ignore),
        }
    }
}

/// Provider details an app may show, and ids for policy matching that are not the event's `product`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    /// Whop `plan.id` (the event's `product` is `product.id`); lets a policy rule match a plan.
    pub plan_id: Option<String>,
    /// Dodo `integration_type` (`license_key`, `discord`, ...).
    pub integration_type: Option<String>,
    /// Dodo `oauth_url` of a pending OAuth grant the customer must finish.
    pub oauth_url: Option<String>,
    /// Dodo `digital_product_delivery`, as sent.
    pub delivery: Option<Value>,
    /// Feature names (nested item SKUs, Dodo feature-flag id).
    pub features: Vec<String>,
    /// What kind of entitlement this is when the provider has several: `item` for an item (one per player
    /// and SKU, `perpetual` unless a product rule says otherwise). `None` for the provider's usual kind.
    pub kind: Option<String>,
}

/// A license key. `Debug` and `Display` show only the last 4 characters, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LicenseKey(String);

impl LicenseKey {
    pub fn new(key: impl Into<String>) -> Self {
        LicenseKey(key.into())
    }

    /// The full key, for hashing and provider calls. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last 4 characters, the most that may be shown or logged.
    pub fn last4(&self) -> &str {
        last4(&self.0)
    }
}

/// The last 4 characters of a secret (fewer if it is shorter), on a char boundary.
pub(crate) fn last4(secret: &str) -> &str {
    let start = secret.char_indices().rev().nth(3).map_or(0, |(index, _)| index);
    &secret[start..]
}

impl fmt::Debug for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenseKey(…{})", self.last4())
    }
}

impl fmt::Display for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "…{}", self.last4())
    }
}

/// Turns an authentic webhook body into a [`ParsedWebhook`], with the provider's adapter in the built-in
/// [`Registry`](crate::Registry).
///
/// Call it only after the signature is verified. It never panics: a body that cannot be acted on is a
/// [`ParseError`], and an authentic event of a type Tollgate does not act on is [`Outcome::NotActedOn`].
pub fn parse_webhook(
    provider: Provider,
    meta: &DeliveryMeta,
    body: &[u8],
) -> Result<ParsedWebhook, ParseError> {
    crate::Registry::shared().parse(provider, meta, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_from_verified_output() {
        let meta = DeliveryMeta::from_verified(Some("msg_1"), 1_727_606_400);
        assert_eq!(
            meta,
            DeliveryMeta::standard("msg_1", DateTime::from_timestamp(1_727_606_400, 0))
        );
        assert_eq!(DeliveryMeta::from_verified(None, i64::MAX).signed_at, None);
    }

    #[test]
    fn license_key_debug_shows_last4_only() {
        let key = LicenseKey::new("TGL-4F7K2-9QXM3-PLR8D-77ZAB");
        assert_eq!(format!("{key:?}"), "LicenseKey(…7ZAB)");
        assert_eq!(key.to_string(), "…7ZAB");
        assert_eq!(LicenseKey::new("ab").last4(), "ab");
        assert_eq!(LicenseKey::new("añbcd").last4(), "ñbcd");
    }
}
