//! The webhook inbox: every authentic delivery, stored exactly once with its body encrypted, and what became of it.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use tollgate_policy::Provider;

use crate::connection::DbConnection;
use crate::entitlement::{Entitlement, EntitlementChange};
use crate::error::{Result, StoreError};
use crate::ids::{EntitlementId, InboxId};
use crate::keys::StoreKeys;
use crate::schema::webhook_inbox;
use crate::store::Store;
use crate::time::{from_db, now, opt_from_db, to_db};
use crate::unit_of_work::WriteTx;

/// What became of an inbox event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboxStatus {
    /// Stored, not (yet) folded into an entitlement.
    Received,
    /// Folded into an entitlement.
    Processed,
    /// Authentic, but of a type Tollgate does not act on.
    Ignored,
    /// Could not be parsed or applied; `last_error` says why. Replayable.
    Failed,
}

impl InboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Received => "received",
            InboxStatus::Processed => "processed",
            InboxStatus::Ignored => "ignored",
            InboxStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "received" => Ok(InboxStatus::Received),
            "processed" => Ok(InboxStatus::Processed),
            "ignored" => Ok(InboxStatus::Ignored),
            "failed" => Ok(InboxStatus::Failed),
            other => Err(StoreError::corrupt("inbox", format!("unknown status `{other}`"))),
        }
    }
}

impl fmt::Display for InboxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authentic delivery to store.
#[derive(Clone, PartialEq)]
pub struct NewInboxEvent {
    pub provider: Provider,
    /// Unique per provider: the key the provider's parser derives (the `webhook-id` header, the provider's own
    /// idempotency key, or Whop legacy id + action).
    pub dedupe_key: String,
    /// Also unique per provider when set: for Dodo grants, the grant id plus the event type.
    pub semantic_key: Option<String>,
    pub event_type: String,
    /// The raw body, exactly as received. Stored encrypted.
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
    /// The verified Standard Webhooks `webhook-id` (Whop current, Dodo), kept for replays.
    pub webhook_id: Option<String>,
    /// The verified signature timestamp, kept for replays (legacy Whop's event time).
    pub signed_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for NewInboxEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewInboxEvent")
            .field("provider", &self.provider)
            .field("dedupe_key", &self.dedupe_key)
            .field("semantic_key", &self.semantic_key)
            .field("event_type", &self.event_type)
            .field("body", &format_args!("[{} bytes]", self.body.len()))
            .field("received_at", &self.received_at)
            .field("webhook_id", &self.webhook_id)
            .field("signed_at", &self.signed_at)
            .finish()
    }
}

/// What to do with a delivery once it is stored.
#[derive(Debug, Clone, PartialEq)]
pub enum InboxEffect {
    /// Fold this change into its entitlement; the row becomes `processed`.
    Apply(EntitlementChange),
    /// Fold each change into its own entitlement (one delivery of several items); the row becomes
    /// `processed`, linked to the first one's entitlement. Empty is [`InboxEffect::Ignore`].
    ApplyAll(Vec<EntitlementChange>),
    /// Nothing to apply (a type Tollgate does not act on); the row becomes `ignored`.
    Ignore,
    /// Nothing to apply, for a reason the operator should see (a provider's sandbox event while sandbox events are
    /// off): the row becomes `ignored` with this note as its `last_error`, and can be replayed once that changes.
    IgnoreNoted(String),
    /// The service could not parse it; the row becomes `failed` with this error (never containing the body).
    Fail(String),
}

impl InboxEffect {
    /// The changes to fold, in order (none for the effects that apply nothing).
    pub fn changes(&self) -> &[EntitlementChange] {
        match self {
            InboxEffect::Apply(change) => std::slice::from_ref(change),
            InboxEffect::ApplyAll(changes) => changes,
            InboxEffect::Ignore | InboxEffect::IgnoreNoted(_) | InboxEffect::Fail(_) => &[],
        }
    }
}

impl From<Option<EntitlementChange>> for InboxEffect {
    fn from(change: Option<EntitlementChange>) -> Self {
        change.map_or(InboxEffect::Ignore, InboxEffect::Apply)
    }
}

impl From<EntitlementChange> for InboxEffect {
    fn from(change: EntitlementChange) -> Self {
        InboxEffect::Apply(change)
    }
}

/// What became of one delivery stored by group commit (`tollgate-service`'s webhook batch).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RecordOutcome {
    /// Stored and applied; the entitlement as it is now.
    Applied {
        inbox_id: InboxId,
        entitlement: Box<Entitlement>,
    },
    /// Stored as `ignored` or `failed`.
    Stored { inbox_id: InboxId, status: InboxStatus },
    /// Already stored under the same dedupe or semantic key: nothing was written.
    Duplicate { inbox_id: InboxId },
}

impl RecordOutcome {
    pub fn inbox_id(&self) -> InboxId {
        match self {
            RecordOutcome::Applied { inbox_id, .. }
            | RecordOutcome::Stored { inbox_id, .. }
            | RecordOutcome::Duplicate { inbox_id } => *inbox_id,
        }
    }
}

/// A stored delivery, with its body decrypted.
#[derive(Clone, PartialEq)]
pub struct InboxEvent {
    pub id: InboxId,
    pub provider: Provider,
    pub dedupe_key: String,
    pub semantic_key: Option<String>,
    pub event_type: String,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
    pub status: InboxStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub processed_at: Option<DateTime<Utc>>,
    pub entitlement_id: Option<EntitlementId>,
    /// The verified `webhook-id`, if the scheme has one (`None` for rows stored before it was kept).
    pub webhook_id: Option<String>,
    /// The verified signature timestamp (`None` for rows stored before it was kept).
    pub signed_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for InboxEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxEvent")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("dedupe_key", &self.dedupe_key)
            .field("semantic_key", &self.semantic_key)
            .field("event_type", &self.event_type)
            .field("body", &format_args!("[{} bytes]", self.body.len()))
            .field("received_at", &self.received_at)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("last_error", &self.last_error)
            .field("processed_at", &self.processed_at)
            .field("entitlement_id", &self.entitlement_id)
            .field("webhook_id", &self.webhook_id)
            .field("signed_at", &self.signed_at)
            .finish()
    }
}

/// Which inbox rows to list: optionally one provider and one status, in id order after `after_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxFilter {
    pub provider: Option<Provider>,
    pub status: Option<InboxStatus>,
    pub after_id: Option<InboxId>,
    pub limit: u32,
}

impl Default for InboxFilter {
    fn default() -> Self {
        InboxFilter {
            provider: None,
            status: None,
            after_id: None,
            limit: 100,
        }
    }
}

/// An inbox row to insert, written with its final status (everything else of its delivery happens in the same
/// transaction).
#[derive(Insertable)]
#[diesel(table_name = webhook_inbox, treat_none_as_default_value = false)]
pub(crate) struct NewInboxRow<'a> {
    provider: &'static str,
    dedupe_key: &'a str,
    semantic_key: Option<&'a str>,
    event_type: &'a str,
    body: &'a [u8],
    received_at: NaiveDateTime,
    status: &'static str,
    attempts: i32,
    last_error: Option<&'a str>,
    processed_at: Option<NaiveDateTime>,
    entitlement_id: Option<&'a str>,
    webhook_id: Option<&'a str>,
    signed_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_inbox)]
pub(crate) struct InboxRow {
    id: i64,
    provider: String,
    dedupe_key: String,
    semantic_key: Option<String>,
    event_type: String,
    body: Vec<u8>,
    received_at: NaiveDateTime,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    processed_at: Option<NaiveDateTime>,
    entitlement_id: Option<String>,
    webhook_id: Option<String>,
    signed_at: Option<NaiveDateTime>,
}

/// The body is bound to its provider and dedupe key, so it cannot be moved to another row unnoticed.
fn body_aad(provider: &str, dedupe_key: &str) -> String {
    format!("tollgate/v1/webhook_inbox.body/{provider}/{dedupe_key}")
}

impl InboxRow {
    pub(crate) fn into_event(self, keys: &StoreKeys) -> Result<InboxEvent> {
        let body = keys.open(
            "webhook body",
            &body_aad(&self.provider, &self.dedupe_key),
            &self.body,
        )?;
        Ok(InboxEvent {
            id: InboxId(self.id),
            provider: self
                .provider
                .parse()
                .map_err(|e| StoreError::corrupt("inbox", format!("{e}")))?,
            dedupe_key: self.dedupe_key,
            semantic_key: self.semantic_key,
            event_type: self.event_type,
            body,
            received_at: from_db(self.received_at),
            status: InboxStatus::parse(&self.status)?,
            attempts: self.attempts,
            last_error: self.last_error,
            processed_at: opt_from_db(self.processed_at),
            entitlement_id: self.entitlement_id.map(EntitlementId::new),
            webhook_id: self.webhook_id,
            signed_at: opt_from_db(self.signed_at),
        })
    }
}

/// Settle a stored row in one statement: its status, one more attempt, the error (cleared when `None`), the time,
/// and the entitlement it was folded into (left as it is when `None`).
fn finish(
    conn: &mut DbConnection,
    id: InboxId,
    status: InboxStatus,
    error: Option<&str>,
    entitlement: Option<&EntitlementId>,
) -> Result<()> {
    let row = webhook_inbox::table.find(id.0);
    let settled = (
        webhook_inbox::status.eq(status.as_str()),
        webhook_inbox::attempts.eq(webhook_inbox::attempts + 1),
        webhook_inbox::last_error.eq(error),
        webhook_inbox::processed_at.eq(Some(to_db(now()))),
    );
    let updated = match entitlement {
        Some(entitlement) => diesel::update(row)
            .set((
                settled,
                webhook_inbox::entitlement_id.eq(Some(entitlement.as_str())),
            ))
            .execute(conn)?,
        None => diesel::update(row).set(settled).execute(conn)?,
    };
    if updated == 0 {
        return Err(StoreError::not_found("inbox event", id.to_string()));
    }
    Ok(())
}

/// Lock an inbox row for a replay (PostgreSQL `FOR UPDATE`; SQLite holds the write lock).
fn lock_inbox_row(conn: &mut DbConnection, id: InboxId) -> Result<bool> {
    let query = webhook_inbox::table.find(id.0).select(webhook_inbox::id);
    let found: Option<i64> = match conn {
        DbConnection::Postgres(c) => query.for_update().first(c).optional()?,
        DbConnection::Sqlite(c) => query.first(c).optional()?,
    };
    Ok(found.is_some())
}

/// One delivery ready to be written: its body sealed (done before the transaction opens).
pub struct SealedDelivery<'a> {
    event: &'a NewInboxEvent,
    effect: &'a InboxEffect,
    body: Vec<u8>,
}

impl fmt::Debug for SealedDelivery<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedDelivery")
            .field("event", &self.event)
            .field("effect", &self.effect)
            .finish_non_exhaustive()
    }
}

impl<'a> SealedDelivery<'a> {
    /// Seal the delivery's body with the store's keys (bound to its provider and dedupe key).
    pub fn new(keys: &StoreKeys, event: &'a NewInboxEvent, effect: &'a InboxEffect) -> Result<Self> {
        let body = keys.seal(&body_aad(event.provider.as_str(), &event.dedupe_key), &event.body)?;
        Ok(SealedDelivery { event, effect, body })
    }

    /// The delivery.
    pub fn event(&self) -> &'a NewInboxEvent {
        self.event
    }

    /// What to do with it.
    pub fn effect(&self) -> &'a InboxEffect {
        self.effect
    }

    /// The changes to write, for [`InboxEffect::Apply`] and [`InboxEffect::ApplyAll`].
    pub fn changes(&self) -> &'a [EntitlementChange] {
        self.effect.changes()
    }

    /// Its row as it is once settled at `at`: `processed` (folded into `entitlement_id`), `ignored` or `failed`,
    /// with one attempt.
    pub(crate) fn row<'b>(&'b self, entitlement_id: Option<&'b str>, at: DateTime<Utc>) -> NewInboxRow<'b> {
        let (status, last_error) = match self.effect {
            InboxEffect::Apply(_) => (InboxStatus::Processed, None),
            InboxEffect::ApplyAll(changes) if !changes.is_empty() => (InboxStatus::Processed, None),
            InboxEffect::ApplyAll(_) | InboxEffect::Ignore => (InboxStatus::Ignored, None),
            InboxEffect::IgnoreNoted(note) => (InboxStatus::Ignored, Some(note.as_str())),
            InboxEffect::Fail(error) => (InboxStatus::Failed, Some(error.as_str())),
        };
        let event = self.event;
        NewInboxRow {
            provider: event.provider.as_str(),
            dedupe_key: &event.dedupe_key,
            semantic_key: event.semantic_key.as_deref(),
            event_type: &event.event_type,
            body: &self.body,
            received_at: to_db(event.received_at),
            status: status.as_str(),
            attempts: 1,
            last_error,
            processed_at: Some(to_db(at)),
            entitlement_id,
            webhook_id: event.webhook_id.as_deref(),
            signed_at: event.signed_at.map(to_db),
        }
    }
}

impl WriteTx<'_> {
    /// Lock a stored inbox row for a replay (PostgreSQL `FOR UPDATE`; SQLite holds the write lock). `false` when
    /// there is no such row.
    ///
    /// A replay locks the inbox row, then the entitlement: the reverse of a webhook batch (entitlements, then inbox
    /// keys), yet they cannot deadlock on PostgreSQL. The replayed row is committed, and a batch's
    /// `INSERT .. ON CONFLICT DO NOTHING` that meets a committed row skips it without taking or waiting for its row
    /// lock; the batch's duplicate lookup is a plain `SELECT`. So a batch never waits on a replay's inbox row lock.
    pub fn lock_inbox_event(&mut self, inbox_id: InboxId) -> Result<bool> {
        let (conn, _) = self.parts();
        lock_inbox_row(conn, inbox_id)
    }

    /// Settle a stored inbox row: its status, one more attempt, the error cleared, `processed_at` now, and the
    /// entitlement it was applied to (left as it is when `None`).
    pub fn settle_inbox_event(
        &mut self,
        inbox_id: InboxId,
        status: InboxStatus,
        entitlement: Option<&EntitlementId>,
    ) -> Result<()> {
        let (conn, _) = self.parts();
        finish(conn, inbox_id, status, None, entitlement)
    }
}

impl Store {
    /// Mark a stored event `failed` with an error text (never containing the body); attempts go up by one.
    pub fn mark_inbox_failed(&self, inbox_id: InboxId, error: &str) -> Result<()> {
        let mut conn = self.conn()?;
        finish(&mut conn, inbox_id, InboxStatus::Failed, Some(error), None)
    }

    /// Mark a stored event `ignored` (a replay found it is of a type Tollgate does not act on); attempts go up by
    /// one and the error is cleared.
    pub fn mark_inbox_ignored(&self, inbox_id: InboxId) -> Result<()> {
        let mut conn = self.conn()?;
        finish(&mut conn, inbox_id, InboxStatus::Ignored, None, None)
    }

    /// Mark a stored event `ignored` with a note for the operator (see [`InboxEffect::IgnoreNoted`]); attempts go
    /// up by one.
    pub fn mark_inbox_ignored_noted(&self, inbox_id: InboxId, note: &str) -> Result<()> {
        let mut conn = self.conn()?;
        finish(&mut conn, inbox_id, InboxStatus::Ignored, Some(note), None)
    }

    /// One stored event with its body decrypted.
    pub fn find_inbox_event(&self, inbox_id: InboxId) -> Result<Option<InboxEvent>> {
        let mut conn = self.conn()?;
        let row = webhook_inbox::table
            .find(inbox_id.0)
            .select(InboxRow::as_select())
            .first(&mut *conn)
            .optional()?;
        row.map(|r| r.into_event(self.keys())).transpose()
    }

    /// Stored events in id order, filtered, with bodies decrypted.
    pub fn list_inbox(&self, filter: &InboxFilter) -> Result<Vec<InboxEvent>> {
        let mut conn = self.conn()?;
        let mut query = webhook_inbox::table.select(InboxRow::as_select()).into_boxed();
        if let Some(provider) = filter.provider {
            query = query.filter(webhook_inbox::provider.eq(provider.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(webhook_inbox::status.eq(status.as_str()));
        }
        if let Some(after) = filter.after_id {
            query = query.filter(webhook_inbox::id.gt(after.0));
        }
        let rows = query
            .order(webhook_inbox::id.asc())
            .limit(i64::from(filter.limit))
            .load(&mut *conn)?;
        rows.into_iter().map(|r| r.into_event(self.keys())).collect()
    }

    /// How many stored events have this status.
    pub fn count_inbox(&self, status: InboxStatus) -> Result<u64> {
        let mut conn = self.conn()?;
        let count: i64 = webhook_inbox::table
            .filter(webhook_inbox::status.eq(status.as_str()))
            .count()
            .get_result(&mut *conn)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }
}
