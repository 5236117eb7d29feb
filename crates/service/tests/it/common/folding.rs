//! The service's fold (`tollgate_service::entitlement_change`) as methods on `Store`, so the tests read as they did
//! when the store folded: `store.apply_change(..)`, `store.record_webhook(..)`.

use tollgate_service::entitlement_change;
use tollgate_store::{
    Actor, Entitlement, EntitlementChange, InboxEffect, NewInboxEvent, RecordOutcome, Store, StoreError,
};

pub trait Folding {
    /// [`entitlement_change::apply_change`].
    fn apply_change(
        &self,
        actor: Actor,
        change: &EntitlementChange,
        reason: &str,
    ) -> Result<Entitlement, StoreError>;

    /// [`entitlement_change::record_webhook`].
    fn record_webhook(
        &self,
        event: &NewInboxEvent,
        effect: impl Into<InboxEffect>,
    ) -> Result<RecordOutcome, StoreError>;
}

impl Folding for Store {
    fn apply_change(
        &self,
        actor: Actor,
        change: &EntitlementChange,
        reason: &str,
    ) -> Result<Entitlement, StoreError> {
        entitlement_change::apply_change(self, actor, change, reason)
    }

    fn record_webhook(
        &self,
        event: &NewInboxEvent,
        effect: impl Into<InboxEffect>,
    ) -> Result<RecordOutcome, StoreError> {
        entitlement_change::record_webhook(self, event, effect)
    }
}
