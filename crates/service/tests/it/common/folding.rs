//! The service's fold (`tollgate_service::entitlement_change`) as methods on `Store`, so the tests read as they did
//! when the store folded: `store.apply_change(..)`, `store.record_webhook(..)`, `store.record_webhooks(..)`.

use tollgate_service::entitlement_change;
use tollgate_store::{
    Actor, Entitlement, EntitlementChange, InboxEffect, InboxId, NewInboxEvent, RecordOutcome, Store,
    StoreError,
};

pub trait Folding {
    /// [`entitlement_change::apply_change`].
    fn apply_change(
        &self,
        actor: Actor,
        change: &EntitlementChange,
        reason: &str,
    ) -> Result<Entitlement, StoreError>;

    /// [`entitlement_change::apply_inbox_changes`] with one change: the entitlement as it is now.
    fn apply_inbox_event(
        &self,
        inbox_id: InboxId,
        change: &EntitlementChange,
    ) -> Result<Entitlement, StoreError>;

    /// [`entitlement_change::apply_inbox_changes`].
    fn apply_inbox_changes(
        &self,
        inbox_id: InboxId,
        changes: &[EntitlementChange],
    ) -> Result<Vec<Entitlement>, StoreError>;

    /// [`entitlement_change::record_webhooks`].
    fn record_webhooks(
        &self,
        batch: &[(NewInboxEvent, InboxEffect)],
    ) -> Vec<Result<RecordOutcome, StoreError>>;

    /// [`entitlement_change::record_webhook`].
    fn record_webhook(
        &self,
        event: &NewInboxEvent,
        effect: impl Into<InboxEffect>,
    ) -> Result<RecordOutcome, StoreError>;
}

impl Folding for Store {
    fn apply_inbox_changes(
        &self,
        inbox_id: InboxId,
        changes: &[EntitlementChange],
    ) -> Result<Vec<Entitlement>, StoreError> {
        entitlement_change::apply_inbox_changes(self, inbox_id, changes)
    }

    fn apply_inbox_event(
        &self,
        inbox_id: InboxId,
        change: &EntitlementChange,
    ) -> Result<Entitlement, StoreError> {
        entitlement_change::apply_inbox_changes(self, inbox_id, std::slice::from_ref(change))?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound {
                entity: "entitlement",
                id: change.event.external_id.clone(),
            })
    }

    fn record_webhooks(
        &self,
        batch: &[(NewInboxEvent, InboxEffect)],
    ) -> Vec<Result<RecordOutcome, StoreError>> {
        entitlement_change::record_webhooks(self, batch)
    }

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
