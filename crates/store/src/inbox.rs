//! The webhook inbox: every authentic delivery, stored exactly once with its body encrypted, and what became of it.

use std::fmt;
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use tollgate_policy::Provider;

use crate::audit::Actor;
use crate::connection::DbConnection;
use crate::entitlement::{Entitlement, EntitlementChange, apply_change_in};
use crate::error::{Result, StoreError};
use crate::ids::{EntitlementId, InboxId};
use crate::keys::StoreKeys;
use crate::schema::webhook_inbox;
use crate::store::Store;
use crate::time::{from_db, now, opt_from_db, to_db};

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
    /// Unique per provider: the `webhook-id` header, Aghanim's idempotency key, or Whop legacy id + action.
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
    /// Nothing to apply (a type Tollgate does not act on); the row becomes `ignored`.
    Ignore,
    /// The service could not parse it; the row becomes `failed` with this error (never containing the body).
    Fail(String),
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

/// The result of [`Store::record_webhook`].
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

#[derive(Insertable)]
#[diesel(table_name = webhook_inbox)]
struct NewInboxRow<'a> {
    provider: &'static str,
    dedupe_key: &'a str,
    semantic_key: Option<&'a str>,
    event_type: &'a str,
    body: Vec<u8>,
    received_at: NaiveDateTime,
    status: &'static str,
    attempts: i32,
    last_error: Option<&'a str>,
    processed_at: Option<NaiveDateTime>,
    webhook_id: Option<&'a str>,
    signed_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_inbox)]
struct InboxRow {
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
    fn into_event(self, keys: &StoreKeys) -> Result<InboxEvent> {
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

/// Insert the row unless its dedupe or semantic key is already stored; `None` for a duplicate.
fn insert_unless_duplicate(conn: &mut DbConnection, row: &NewInboxRow<'_>) -> Result<Option<i64>> {
    let statement = diesel::insert_into(webhook_inbox::table)
        .values(row)
        .on_conflict_do_nothing()
        .returning(webhook_inbox::id);
    let id = match conn {
        DbConnection::Postgres(c) => statement.get_result(c).optional()?,
        DbConnection::Sqlite(c) => statement.get_result(c).optional()?,
    };
    Ok(id)
}

fn find_duplicate(conn: &mut DbConnection, event: &NewInboxEvent) -> Result<InboxId> {
    let mut query = webhook_inbox::table
        .filter(webhook_inbox::provider.eq(event.provider.as_str()))
        .select(webhook_inbox::id)
        .into_boxed();
    query = match &event.semantic_key {
        Some(semantic) => query.filter(
            webhook_inbox::dedupe_key
                .eq(&event.dedupe_key)
                .or(webhook_inbox::semantic_key.eq(semantic)),
        ),
        None => query.filter(webhook_inbox::dedupe_key.eq(&event.dedupe_key)),
    };
    let id: Option<i64> = query.order(webhook_inbox::id.asc()).first(conn).optional()?;
    id.map(InboxId)
        .ok_or_else(|| StoreError::not_found("inbox event", event.dedupe_key.clone()))
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

/// One delivery ready to be written: its row with the body sealed (done before the transaction opens).
pub(crate) struct SealedDelivery<'a> {
    event: &'a NewInboxEvent,
    effect: &'a InboxEffect,
    row: NewInboxRow<'a>,
}

impl<'a> SealedDelivery<'a> {
    pub(crate) fn new(keys: &StoreKeys, event: &'a NewInboxEvent, effect: &'a InboxEffect) -> Result<Self> {
        let provider = event.provider.as_str();
        let body = keys.seal(&body_aad(provider, &event.dedupe_key), &event.body)?;
        let (status, last_error) = match effect {
            InboxEffect::Apply(_) => (InboxStatus::Received, None),
            InboxEffect::Ignore => (InboxStatus::Ignored, None),
            InboxEffect::Fail(error) => (InboxStatus::Failed, Some(error.as_str())),
        };
        // Ignored and failed deliveries are settled by this one write; applied ones by `finish` in `record_in`.
        let settled = status != InboxStatus::Received;
        let row = NewInboxRow {
            provider,
            dedupe_key: &event.dedupe_key,
            semantic_key: event.semantic_key.as_deref(),
            event_type: &event.event_type,
            body,
            received_at: to_db(event.received_at),
            status: status.as_str(),
            attempts: i32::from(settled),
            last_error,
            processed_at: settled.then(|| to_db(now())),
            webhook_id: event.webhook_id.as_deref(),
            signed_at: event.signed_at.map(to_db),
        };
        Ok(SealedDelivery { event, effect, row })
    }

    /// Store it and act on it inside the caller's write transaction: a duplicate (same dedupe or semantic key,
    /// also one stored earlier in the same transaction) writes nothing; otherwise the row is inserted and, for
    /// [`InboxEffect::Apply`], the change is folded into its (locked) entitlement and the row marked `processed`.
    /// ([`SealedDelivery::insert_in`] then [`apply_in`].)
    pub(crate) fn record_in(&self, conn: &mut DbConnection, keys: &StoreKeys) -> Result<RecordOutcome> {
        match self.insert_in(conn)? {
            Inserted::Settled(outcome) => Ok(outcome),
            Inserted::ToApply { inbox_id, change } => apply_in(conn, keys, inbox_id, change),
        }
    }

    /// The first step of [`SealedDelivery::record_in`]: insert the row unless it is a duplicate. Ignored and
    /// failed deliveries are then settled; applied ones still have to be folded into their entitlement.
    pub(crate) fn insert_in(&self, conn: &mut DbConnection) -> Result<Inserted<'a>> {
        let Some(id) = insert_unless_duplicate(conn, &self.row)? else {
            return Ok(Inserted::Settled(RecordOutcome::Duplicate {
                inbox_id: find_duplicate(conn, self.event)?,
            }));
        };
        let inbox_id = InboxId(id);
        Ok(match self.effect {
            InboxEffect::Apply(change) => Inserted::ToApply { inbox_id, change },
            InboxEffect::Ignore => Inserted::Settled(RecordOutcome::Stored {
                inbox_id,
                status: InboxStatus::Ignored,
            }),
            InboxEffect::Fail(_) => Inserted::Settled(RecordOutcome::Stored {
                inbox_id,
                status: InboxStatus::Failed,
            }),
        })
    }
}

/// What inserting a delivery's row left to do.
pub(crate) enum Inserted<'a> {
    /// Nothing: a duplicate, or a row stored `ignored` or `failed`.
    Settled(RecordOutcome),
    /// Fold this change into its entitlement ([`apply_in`]).
    ToApply {
        inbox_id: InboxId,
        change: &'a EntitlementChange,
    },
}

/// The second step of [`SealedDelivery::record_in`]: lock the entitlement, fold the change, audit it and mark the
/// inbox row `processed`.
pub(crate) fn apply_in(
    conn: &mut DbConnection,
    keys: &StoreKeys,
    inbox_id: InboxId,
    change: &EntitlementChange,
) -> Result<RecordOutcome> {
    let entitlement = apply_change_in(conn, keys, change, Actor::Webhook, None, Some(inbox_id))?;
    finish(
        conn,
        inbox_id,
        InboxStatus::Processed,
        None,
        Some(&entitlement.id),
    )?;
    Ok(RecordOutcome::Applied {
        inbox_id,
        entitlement: Box::new(entitlement),
    })
}

impl Store {
    /// After a delivery's transaction has committed: bump the version of the entitlement it changed, and log it.
    pub(crate) fn recorded(&self, event: &NewInboxEvent, outcome: &RecordOutcome, started: Instant) {
        if let RecordOutcome::Applied { entitlement, .. } = outcome {
            self.changed(&entitlement.id);
        }
        let status = match outcome {
            RecordOutcome::Applied { .. } => "processed",
            RecordOutcome::Stored { status, .. } => status.as_str(),
            RecordOutcome::Duplicate { .. } => "duplicate",
        };
        log::debug!(
            provider = event.provider.as_str(),
            event_type = event.event_type.as_str(),
            status = status,
            duration_ms = started.elapsed().as_millis() as u64;
            "webhook recorded"
        );
    }

    /// Store a delivery and act on it, in one transaction: a duplicate (same dedupe or semantic key) writes
    /// nothing and returns [`RecordOutcome::Duplicate`]; otherwise the inbox row is inserted and, for
    /// [`InboxEffect::Apply`], the entitlement is locked, the event folded, the entitlement saved, an audit row
    /// written and the row marked `processed`. Accepts `Option<EntitlementChange>` (`None` = ignore).
    /// [`Store::record_webhooks`] does the same for many deliveries in one transaction.
    pub fn record_webhook(
        &self,
        event: &NewInboxEvent,
        effect: impl Into<InboxEffect>,
    ) -> Result<RecordOutcome> {
        let effect = effect.into();
        let started = Instant::now();
        let delivery = SealedDelivery::new(self.keys(), event, &effect)?;
        let mut conn = self.conn()?;
        let outcome = self.write_transaction(&mut conn, |conn| delivery.record_in(conn, self.keys()))?;
        self.recorded(event, &outcome, started);
        Ok(outcome)
    }

    /// Replay a stored event with a (re-)parsed change, in one transaction: the entitlement is folded and audited
    /// as by the original delivery, the row becomes `processed`, and its attempts go up by one.
    pub fn apply_inbox_event(&self, inbox_id: InboxId, change: &EntitlementChange) -> Result<Entitlement> {
        let mut conn = self.conn()?;
        let entitlement = self.write_transaction(&mut conn, |conn| {
            if !lock_inbox_row(conn, inbox_id)? {
                return Err(StoreError::not_found("inbox event", inbox_id.to_string()));
            }
            let entitlement =
                apply_change_in(conn, self.keys(), change, Actor::Replay, None, Some(inbox_id))?;
            finish(
                conn,
                inbox_id,
                InboxStatus::Processed,
                None,
                Some(&entitlement.id),
            )?;
            Ok(entitlement)
        })?;
        self.changed(&entitlement.id);
        Ok(entitlement)
    }

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
