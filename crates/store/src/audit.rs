//! The audit trail: who changed what about an entitlement or device, when and why. Never holds a secret.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::connection::DbConnection;
use crate::error::{Result, StoreError};
use crate::ids::{DeviceId, EntitlementId, InboxId};
use crate::schema::audit_log;
use crate::store::Store;
use crate::time::{from_db, to_db};

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Actor {
    /// A provider webhook, as it arrived.
    Webhook,
    /// A stored webhook replayed from the inbox.
    Replay,
    /// An operator through the admin API or CLI.
    Admin,
    /// The reconciliation job.
    Reconcile,
    /// A device activation.
    Activation,
    /// A device validation.
    Validation,
    /// A device freed by the app itself.
    Deactivation,
    /// Tollgate itself (start-up, key rotation, ...).
    System,
    /// A support or ops person in the browser console (`/console`).
    Console,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Webhook => "webhook",
            Actor::Replay => "replay",
            Actor::Admin => "admin",
            Actor::Reconcile => "reconcile",
            Actor::Activation => "activation",
            Actor::Validation => "validation",
            Actor::Deactivation => "deactivation",
            Actor::System => "system",
            Actor::Console => "console",
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Actor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "webhook" => Actor::Webhook,
            "replay" => Actor::Replay,
            "admin" => Actor::Admin,
            "reconcile" => Actor::Reconcile,
            "activation" => Actor::Activation,
            "validation" => Actor::Validation,
            "deactivation" => Actor::Deactivation,
            "system" => Actor::System,
            "console" => Actor::Console,
            other => return Err(StoreError::corrupt("audit", format!("unknown actor `{other}`"))),
        })
    }
}

/// An audit row to write. `detail` must never contain a license key, hwid, token or body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    pub entitlement_id: Option<EntitlementId>,
    pub device_id: Option<DeviceId>,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// A stable dotted name, for example `event.activated`, `device.activated`, `device.transferred`.
    pub action: String,
    pub detail: Option<String>,
    pub inbox_id: Option<InboxId>,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub entitlement_id: Option<EntitlementId>,
    pub device_id: Option<DeviceId>,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: String,
    pub detail: Option<String>,
    pub inbox_id: Option<InboxId>,
}

#[derive(Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
struct NewAuditRow<'a> {
    entitlement_id: Option<&'a str>,
    device_id: Option<&'a str>,
    at: NaiveDateTime,
    actor: &'static str,
    action: &'a str,
    detail: Option<&'a str>,
    inbox_id: Option<i64>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    id: i64,
    entitlement_id: Option<String>,
    device_id: Option<String>,
    at: NaiveDateTime,
    actor: String,
    action: String,
    detail: Option<String>,
    inbox_id: Option<i64>,
}

/// Audit rows per statement: 7 columns a row stays under SQLite's 32766 binds.
const ROWS_PER_STATEMENT: usize = 4_000;

impl<'a> NewAuditRow<'a> {
    fn of(entry: &'a NewAudit) -> Self {
        NewAuditRow {
            entitlement_id: entry.entitlement_id.as_ref().map(EntitlementId::as_str),
            device_id: entry.device_id.as_ref().map(DeviceId::as_str),
            at: to_db(entry.at),
            actor: entry.actor.as_str(),
            action: &entry.action,
            detail: entry.detail.as_deref(),
            inbox_id: entry.inbox_id.map(|id| id.0),
        }
    }
}

/// Write one audit row: a single-row statement, which diesel prepares once per connection (a multi-row one is
/// prepared again each time).
pub(crate) fn insert_audit(conn: &mut DbConnection, entry: &NewAudit) -> Result<()> {
    let row = NewAuditRow::of(entry);
    let statement = diesel::insert_into(audit_log::table).values(&row);
    match conn {
        DbConnection::Postgres(c) => statement.execute(c)?,
        DbConnection::Sqlite(c) => statement.execute(c)?,
    };
    Ok(())
}

/// Write audit rows in their order, in one multi-row statement (per 4,000 rows); one row with [`insert_audit`].
pub(crate) fn insert_audits(conn: &mut DbConnection, entries: &[NewAudit]) -> Result<()> {
    if let [entry] = entries {
        return insert_audit(conn, entry);
    }
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<NewAuditRow<'_>> = chunk.iter().map(NewAuditRow::of).collect();
        let statement = diesel::insert_into(audit_log::table).values(&rows);
        match conn {
            DbConnection::Postgres(c) => statement.execute(c)?,
            DbConnection::Sqlite(c) => statement.execute(c)?,
        };
    }
    Ok(())
}

impl Store {
    /// Write one audit row.
    pub fn record_audit(&self, entry: &NewAudit) -> Result<()> {
        let mut conn = self.conn()?;
        insert_audit(&mut conn, entry)
    }

    /// The newest `limit` audit rows of one entitlement, newest first.
    pub fn list_audit(&self, entitlement_id: &EntitlementId, limit: u32) -> Result<Vec<AuditEntry>> {
        let mut conn = self.conn()?;
        let rows = audit_log::table
            .filter(audit_log::entitlement_id.eq(entitlement_id.as_str()))
            .order(audit_log::id.desc())
            .limit(i64::from(limit))
            .select(AuditRow::as_select())
            .load(&mut *conn)?;
        rows.into_iter().map(AuditRow::into_entry).collect()
    }

    /// The newest audit rows across every entitlement that match `query`, newest first. Only the newest
    /// `query.scan` rows of the whole trail are looked at, so the cost stays bounded on a long trail (there is no
    /// index by action or actor: the webhook path writes this table and should not pay for one).
    pub fn recent_audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditEntry>> {
        let mut conn = self.conn()?;
        let newest: Option<i64> = audit_log::table
            .select(diesel::dsl::max(audit_log::id))
            .first(&mut *conn)?;
        let Some(newest) = newest else {
            return Ok(Vec::new());
        };
        let mut select = audit_log::table
            .filter(audit_log::id.gt(newest.saturating_sub(i64::from(query.scan))))
            .select(AuditRow::as_select())
            .into_boxed();
        if let Some(action) = query.action {
            select = select.filter(audit_log::action.eq(action));
        }
        if let Some(actor) = query.actor {
            select = select.filter(audit_log::actor.eq(actor.as_str()));
        }
        let rows = select
            .order(audit_log::id.desc())
            .limit(i64::from(query.limit))
            .load(&mut *conn)?;
        rows.into_iter().map(AuditRow::into_entry).collect()
    }
}

/// Which recent audit rows [`Store::recent_audit`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditQuery<'a> {
    /// Only rows with this action (`license.denied`, `device.reset`, ...).
    pub action: Option<&'a str>,
    /// Only rows by this actor.
    pub actor: Option<Actor>,
    /// At most this many rows.
    pub limit: u32,
    /// Look only at the newest this many rows of the trail.
    pub scan: u32,
}

impl AuditRow {
    fn into_entry(self) -> Result<AuditEntry> {
        Ok(AuditEntry {
            id: self.id,
            entitlement_id: self.entitlement_id.map(EntitlementId::new),
            device_id: self.device_id.map(DeviceId::new),
            at: from_db(self.at),
            actor: self.actor.parse()?,
            action: self.action,
            detail: self.detail,
            inbox_id: self.inbox_id.map(InboxId),
        })
    }
}
