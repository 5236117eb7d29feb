//! What the browser console (`/console`) keeps: its sign-in sessions, and the newest-first inbox page it shows.
//!
//! A session row holds only hashes (the caller hashes the session id; see `tollgate_service::console`), so a copy
//! of the database signs nobody in. Every instance on one database sees the same rows: a sign-out on one ends the
//! session on all.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use tollgate_policy::Provider;

use crate::error::Result;
use crate::ids::InboxId;
use crate::inbox::{InboxEvent, InboxRow, InboxStatus};
use crate::schema::{console_sessions, webhook_inbox};
use crate::store::Store;
use crate::time::{from_db, to_db};

/// A stored console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The SHA-256 (hex) of the session id held in the browser's cookie.
    pub id_hash: String,
    /// A hash binding the session to the admin token it signed in with.
    pub token_binding: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = console_sessions)]
struct SessionRow {
    id_hash: String,
    token_binding: String,
    created_at: NaiveDateTime,
    last_seen_at: NaiveDateTime,
}

/// One page of the inbox, newest first: optionally one provider, one status and one event type, ids below
/// `before_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxPage<'a> {
    pub provider: Option<Provider>,
    pub status: Option<InboxStatus>,
    pub event_type: Option<&'a str>,
    pub before_id: Option<InboxId>,
    pub limit: u32,
}

impl Store {
    /// Store a new session (signed in at `session.created_at`, seen then too).
    pub fn create_console_session(&self, session: &ConsoleSession) -> Result<()> {
        let mut conn = self.conn()?;
        diesel::insert_into(console_sessions::table)
            .values((
                console_sessions::id_hash.eq(&session.id_hash),
                console_sessions::token_binding.eq(&session.token_binding),
                console_sessions::created_at.eq(to_db(session.created_at)),
                console_sessions::last_seen_at.eq(to_db(session.last_seen_at)),
            ))
            .execute(&mut *conn)?;
        Ok(())
    }

    /// The session with this id hash, if it exists.
    pub fn find_console_session(&self, id_hash: &str) -> Result<Option<ConsoleSession>> {
        let mut conn = self.conn()?;
        let row = console_sessions::table
            .find(id_hash)
            .select(SessionRow::as_select())
            .first(&mut *conn)
            .optional()?;
        Ok(row.map(|r| ConsoleSession {
            id_hash: r.id_hash,
            token_binding: r.token_binding,
            created_at: from_db(r.created_at),
            last_seen_at: from_db(r.last_seen_at),
        }))
    }

    /// Record that the session was used at `now`. False when it no longer exists (signed out meanwhile).
    pub fn touch_console_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<bool> {
        let mut conn = self.conn()?;
        let updated = diesel::update(console_sessions::table.find(id_hash))
            .set(console_sessions::last_seen_at.eq(to_db(now)))
            .execute(&mut *conn)?;
        Ok(updated == 1)
    }

    /// Delete one session (sign-out). True when it existed.
    pub fn delete_console_session(&self, id_hash: &str) -> Result<bool> {
        let mut conn = self.conn()?;
        let deleted = diesel::delete(console_sessions::table.find(id_hash)).execute(&mut *conn)?;
        Ok(deleted == 1)
    }

    /// Delete every session last seen before `idle_before` or signed in before `created_before`; how many.
    pub fn delete_expired_console_sessions(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> Result<usize> {
        let mut conn = self.conn()?;
        Ok(diesel::delete(
            console_sessions::table.filter(
                console_sessions::last_seen_at
                    .lt(to_db(idle_before))
                    .or(console_sessions::created_at.lt(to_db(created_before))),
            ),
        )
        .execute(&mut *conn)?)
    }

    /// One page of stored events, newest first, with bodies decrypted.
    pub fn list_inbox_newest(&self, page: &InboxPage<'_>) -> Result<Vec<InboxEvent>> {
        let mut conn = self.conn()?;
        let mut query = webhook_inbox::table.select(InboxRow::as_select()).into_boxed();
        if let Some(provider) = page.provider {
            query = query.filter(webhook_inbox::provider.eq(provider.as_str()));
        }
        if let Some(status) = page.status {
            query = query.filter(webhook_inbox::status.eq(status.as_str()));
        }
        if let Some(event_type) = page.event_type {
            query = query.filter(webhook_inbox::event_type.eq(event_type));
        }
        if let Some(before) = page.before_id {
            query = query.filter(webhook_inbox::id.lt(before.0));
        }
        let rows = query
            .order(webhook_inbox::id.desc())
            .limit(i64::from(page.limit))
            .load(&mut *conn)?;
        rows.into_iter().map(|r| r.into_event(self.keys())).collect()
    }
}
