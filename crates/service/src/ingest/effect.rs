//! What ingest does with a parsed delivery: the inbox effect to store, or a refusal (answered 4xx, nothing stored).
//! The provider's adapter applies the operator's choices for it ([`tollgate_providers::ProviderAdapter::effect`]).

use tollgate_policy::Provider;
use tollgate_providers::{ParsedWebhook, Refusal, Registry, WebhookEffect};
use tollgate_store::InboxEffect;

use super::parser::store_change;

/// The effect of a delivery of `provider`, parsed, or why it is refused. A provider the registry does not hold
/// makes no choices ([`WebhookEffect::without_choices`]).
pub(super) fn effect_of(
    registry: &Registry,
    provider: Provider,
    parsed: &ParsedWebhook,
) -> Result<InboxEffect, Refusal> {
    let effect = match registry.get(provider) {
        Some(adapter) => adapter.effect(&parsed.outcome)?,
        None => WebhookEffect::without_choices(&parsed.outcome)?,
    };
    Ok(match effect {
        WebhookEffect::Apply(change) => InboxEffect::Apply(store_change(&change)),
        WebhookEffect::ApplyAll(changes) => InboxEffect::ApplyAll(changes.iter().map(store_change).collect()),
        WebhookEffect::Ignore => InboxEffect::Ignore,
        WebhookEffect::IgnoreNoted(note) => InboxEffect::IgnoreNoted(note),
    })
}
