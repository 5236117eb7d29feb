//! The support desk's lookups and audited actions, for the browser console (`/console`): find a license by key
//! (hashed for the look-up), by subject at any provider, or by id; recent denials and changes; a newest-first inbox
//! page; an inbox body shown on purpose; replays. Every action writes an audit row with actor `console` naming the
//! session, besides what the action itself writes (a replay's entitlement change is still actor `replay`).
//!
//! Device resets go through `Licensing::reset_device_by` with [`Actor::Console`], reconciliation through
//! `Reconciler::run_once` (then [`Support::audit_reconcile`]): the same use cases as the admin API.
//!
//! Blocking: call it inside `web::block`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tollgate_policy::Provider;
use tollgate_store::{Actor, AuditQuery, EntitlementId, InboxId, InboxPage, NewAudit, Store, StoreError};

use crate::clock::Clock;
use crate::ingest::{Ingest, IngestError, IngestOutcome, ReplayResults};
use crate::query::{AuditView, EntitlementDetail, InboxItem, Query};
use crate::reconcile::ReconcileReport;
use crate::view::EntitlementView;

/// How many of the newest audit rows the "recent" lists look through.
pub const RECENT_AUDIT_SCAN: u32 = 50_000;

/// The audit action of an inbox body shown in the console.
pub const BODY_SHOWN_ACTION: &str = "inbox.body_shown";

/// An audit row from anywhere in the trail, with the entitlement it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentEntry {
    pub entitlement_id: Option<String>,
    pub entry: AuditView,
}

/// The support desk's use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Support {
    store: Store,
    query: Query,
    ingest: Ingest,
    clock: Arc<dyn Clock>,
}

impl Support {
    pub fn new(store: Store, query: Query, ingest: Ingest, clock: Arc<dyn Clock>) -> Self {
        Support {
            store,
            query,
            ingest,
            clock,
        }
    }

    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The entitlements of a license key, newest first. The key is only hashed (keyed HMAC) for the look-up.
    pub fn find_by_license_key(&self, license_key: &str) -> Result<Vec<EntitlementView>, StoreError> {
        let key = license_key.trim();
        if key.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = self.store.list_entitlements_by_license_key(key)?;
        found.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| b.id.cmp(&a.id)));
        let now = self.now();
        Ok(found
            .iter()
            .map(|e| EntitlementView::new(e, self.query.policies(), now))
            .collect())
    }

    /// The entitlements of a subject (the provider's user, customer or player) at every provider, or at one.
    pub fn find_by_subject(
        &self,
        provider: Option<Provider>,
        subject: &str,
    ) -> Result<Vec<EntitlementView>, StoreError> {
        let subject = subject.trim();
        if subject.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        for p in Provider::ALL {
            if provider.is_none_or(|wanted| wanted == p) {
                found.extend(self.query.entitlements_of(p, subject)?);
            }
        }
        Ok(found)
    }

    /// The entitlement with this provider id (membership, grant or subscription id).
    pub fn find_by_external_id(
        &self,
        provider: Provider,
        external_id: &str,
    ) -> Result<Option<EntitlementView>, StoreError> {
        Ok(self
            .query
            .find_entitlement(provider, external_id.trim())?
            .map(|detail| detail.entitlement))
    }

    /// One entitlement with its devices and audit trail.
    pub fn entitlement(&self, id: &EntitlementId) -> Result<Option<EntitlementDetail>, StoreError> {
        self.query.find_entitlement_by_id(id)
    }

    /// The newest license denials at every entitlement, newest first.
    pub fn recent_denials(&self, limit: u32) -> Result<Vec<RecentEntry>, StoreError> {
        self.recent(AuditQuery {
            action: Some(crate::license::DENIAL_ACTION),
            actor: None,
            limit,
            scan: RECENT_AUDIT_SCAN,
        })
    }

    /// The newest audit rows written by `actor`, newest first (the reconciliation's changes on every instance).
    pub fn recent_by(&self, actor: Actor, limit: u32) -> Result<Vec<RecentEntry>, StoreError> {
        self.recent(AuditQuery {
            action: None,
            actor: Some(actor),
            limit,
            scan: RECENT_AUDIT_SCAN,
        })
    }

    fn recent(&self, query: AuditQuery<'_>) -> Result<Vec<RecentEntry>, StoreError> {
        Ok(self
            .store
            .recent_audit(&query)?
            .iter()
            .map(|entry| RecentEntry {
                entitlement_id: entry.entitlement_id.as_ref().map(ToString::to_string),
                entry: AuditView::from(entry),
            })
            .collect())
    }

    /// One page of the inbox, newest first, without bodies.
    pub fn inbox_page(&self, page: &InboxPage<'_>) -> Result<Vec<InboxItem>, StoreError> {
        Ok(self
            .store
            .list_inbox_newest(page)?
            .iter()
            .map(|e| InboxItem::new(e, false))
            .collect())
    }

    /// One inbox event's metadata, without its body.
    pub fn inbox_event(&self, id: InboxId) -> Result<Option<InboxItem>, StoreError> {
        self.query.find_inbox_event(id, false)
    }

    /// One inbox event with its decrypted body, shown to `who` on purpose: audited before it is returned.
    pub fn show_inbox_body(&self, id: InboxId, who: &str) -> Result<Option<InboxItem>, StoreError> {
        let Some(item) = self.query.find_inbox_event(id, true)? else {
            return Ok(None);
        };
        self.audit(NewAudit {
            entitlement_id: item.entitlement_id.clone().map(EntitlementId::new),
            device_id: None,
            at: self.now(),
            actor: Actor::Console,
            action: BODY_SHOWN_ACTION.to_owned(),
            detail: Some(format!("body of inbox event {} shown to {who}", id.0)),
            inbox_id: Some(id),
        })?;
        Ok(Some(item))
    }

    /// Replay one stored event (`Ingest::replay`), and audit who asked and what became of it.
    pub fn replay(&self, id: InboxId, who: &str) -> Result<IngestOutcome, IngestError> {
        let outcome = self.ingest.replay(id)?;
        self.audit_replay(id, &Ok(outcome.clone()), who)
            .map_err(IngestError::Storage)?;
        Ok(outcome)
    }

    /// Replay every failed event (`Ingest::replay_failed`), auditing each.
    pub fn replay_failed(&self, who: &str) -> Result<ReplayResults, IngestError> {
        let results = self.ingest.replay_failed(None)?;
        for (id, result) in &results {
            self.audit_replay(*id, result, who)
                .map_err(IngestError::Storage)?;
        }
        Ok(results)
    }

    fn audit_replay(
        &self,
        id: InboxId,
        result: &Result<IngestOutcome, IngestError>,
        who: &str,
    ) -> Result<(), StoreError> {
        let (entitlement_id, outcome) = match result {
            Ok(outcome) => (outcome.entitlement_id().cloned(), outcome.as_str()),
            Err(_) => (None, "error"),
        };
        self.audit(NewAudit {
            entitlement_id,
            device_id: None,
            at: self.now(),
            actor: Actor::Console,
            action: "inbox.replayed".to_owned(),
            detail: Some(format!("inbox event {} replayed by {who}: {outcome}", id.0)),
            inbox_id: Some(id),
        })
    }

    /// Audit a reconciliation run asked for in the console, with what it changed.
    pub fn audit_reconcile(&self, report: &ReconcileReport, who: &str) -> Result<(), StoreError> {
        let providers: Vec<String> = report
            .providers
            .iter()
            .map(|p| format!("{} {} changed, {} created", p.provider, p.changed, p.created))
            .collect();
        self.audit(NewAudit {
            entitlement_id: None,
            device_id: None,
            at: self.now(),
            actor: Actor::Console,
            action: "reconcile.run".to_owned(),
            detail: Some(format!("run by {who}: {}", providers.join("; "))),
            inbox_id: None,
        })
    }

    fn audit(&self, entry: NewAudit) -> Result<(), StoreError> {
        self.store.record_audit(&entry)
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
