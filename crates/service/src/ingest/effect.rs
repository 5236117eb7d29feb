//! What ingest does with a parsed delivery: the inbox effect to store, or a refusal (answered 4xx, nothing stored).
//! The operator's item and sandbox choices are Aghanim's options (`tollgate_providers::aghanim::AghanimOptions`).

use tollgate_providers::aghanim::{AghanimOptions, SANDBOX_NOTE};
use tollgate_providers::{Outcome, ParsedWebhook, Refusal};
use tollgate_store::InboxEffect;

use super::parser::store_change;

/// The effect of a parsed delivery, or why it is refused.
pub(super) fn effect_of(parsed: &ParsedWebhook, aghanim: &AghanimOptions) -> Result<InboxEffect, Refusal> {
    effect(&parsed.outcome, aghanim)
}

fn effect(outcome: &Outcome, aghanim: &AghanimOptions) -> Result<InboxEffect, Refusal> {
    match outcome {
        Outcome::Apply(change) => Ok(InboxEffect::Apply(store_change(change))),
        Outcome::Items(items) => match items.refusal(|sku| aghanim.grants_item(sku)) {
            Some(refusal) => Err(refusal),
            None => Ok(InboxEffect::ApplyAll(
                items.changes().iter().map(store_change).collect(),
            )),
        },
        Outcome::Refused(refusal) => Err(refusal.clone()),
        Outcome::Sandbox(inner) if aghanim.accept_sandbox => effect(inner, aghanim),
        Outcome::Sandbox(inner) => match inner.as_ref() {
            Outcome::Items(items) => Err(aghanim.refuse_sandbox_items(items)),
            Outcome::Refused(refusal) => Err(refusal.clone()),
            _ => Ok(InboxEffect::IgnoreNoted(SANDBOX_NOTE.to_owned())),
        },
        _ => Ok(InboxEffect::Ignore),
    }
}
