//! The Aghanim choices the operator makes (`providers.aghanim.item_skus`, `providers.aghanim.accept_sandbox`):
//! which item SKUs Tollgate grants, and whether sandbox events may change access. Ingest consults them when it
//! turns a parsed delivery into an inbox effect.

use std::collections::BTreeSet;

use super::ItemDelivery;
use crate::webhook::{Refusal, RefusalCode};

/// The operator's Aghanim settings (`providers.aghanim.item_skus`, `providers.aghanim.accept_sandbox`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AghanimOptions {
    /// The item SKUs an `item.add` grants (and an `item.remove` revokes) as entitlements. Empty: every item event
    /// is refused with `UNSUPPORTED_ITEM`.
    pub item_skus: BTreeSet<String>,
    /// Whether `sandbox: true` events change access. Off: they are stored, marked and not applied (item events,
    /// which Aghanim reads as credited on a 2xx, are refused with `SANDBOX_NOT_ACCEPTED`).
    pub accept_sandbox: bool,
}

impl AghanimOptions {
    /// Options granting exactly these SKUs, sandbox off.
    pub fn with_items<S: AsRef<str>>(skus: impl IntoIterator<Item = S>) -> Self {
        AghanimOptions {
            item_skus: skus
                .into_iter()
                .map(|sku| sku.as_ref().trim().to_owned())
                .filter(|sku| !sku.is_empty())
                .collect(),
            accept_sandbox: false,
        }
    }

    /// Whether `item.add` of `sku` grants an entitlement.
    pub fn grants_item(&self, sku: &str) -> bool {
        self.item_skus.contains(sku)
    }

    /// The refusal of an item delivery from the sandbox while sandbox events are off.
    pub fn refuse_sandbox_items(&self, items: &ItemDelivery) -> Refusal {
        Refusal::new(
            RefusalCode::SandboxNotAccepted,
            format!(
                "{} from the sandbox: Tollgate does not credit sandbox purchases while \
                 providers.aghanim.accept_sandbox is off; nothing was credited",
                items.action
            ),
        )
    }
}

/// The note an Aghanim sandbox event is stored with while sandbox events are off.
pub const SANDBOX_NOTE: &str = "sandbox event (sandbox: true): stored, not applied, because \
     providers.aghanim.accept_sandbox is off; turn it on and replay this event to apply it";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_trimmed_and_blank_ones_dropped() {
        let options = AghanimOptions::with_items([" pro_unlock ", "", "dlc_1"]);
        assert!(options.grants_item("pro_unlock"));
        assert!(options.grants_item("dlc_1"));
        assert!(!options.grants_item(""));
        assert!(!options.grants_item("PRO_UNLOCK"));
        assert_eq!(options.item_skus.len(), 2);
    }
}
