//! Reconciliation cursors and the named leases that let one instance at a time run a job.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use tollgate_policy::Provider;

use crate::connection::DbConnection;
use crate::error::Result;
use crate::schema::{locks, reconcile_cursors};
use crate::store::Store;
use crate::time::{from_db, to_db};

/// The current holder of a named lock (see [`Store::find_lock`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub holder: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// The reconciliation cursor saved for a provider, if any.
    pub fn find_cursor(&self, provider: Provider) -> Result<Option<String>> {
        let mut conn = self.conn()?;
        Ok(reconcile_cursors::table
            .find(provider.as_str())
            .select(reconcile_cursors::cursor)
            .first(&mut *conn)
            .optional()?)
    }

    /// Save (insert or replace) a provider's reconciliation cursor.
    pub fn set_cursor(&self, provider: Provider, cursor: &str, now: DateTime<Utc>) -> Result<()> {
        let mut conn = self.conn()?;
        let statement = diesel::insert_into(reconcile_cursors::table)
            .values((
                reconcile_cursors::provider.eq(provider.as_str()),
                reconcile_cursors::cursor.eq(cursor),
                reconcile_cursors::updated_at.eq(to_db(now)),
            ))
            .on_conflict(reconcile_cursors::provider)
            .do_update()
            .set((
                reconcile_cursors::cursor.eq(excluded(reconcile_cursors::cursor)),
                reconcile_cursors::updated_at.eq(excluded(reconcile_cursors::updated_at)),
            ));
        match &mut *conn {
            DbConnection::Postgres(c) => statement.execute(c)?,
            DbConnection::Sqlite(c) => statement.execute(c)?,
        };
        Ok(())
    }

    /// Take or renew the named lock for `ttl` from `now`. True when `holder` has it afterwards: the lock was free,
    /// expired, or already `holder`'s. One conditional upsert, so it is correct across processes.
    pub fn try_acquire_lock(
        &self,
        name: &str,
        holder: &str,
        ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut conn = self.conn()?;
        let statement = diesel::insert_into(locks::table)
            .values((
                locks::name.eq(name),
                locks::holder.eq(holder),
                locks::expires_at.eq(to_db(now + ttl)),
                locks::updated_at.eq(to_db(now)),
            ))
            .on_conflict(locks::name)
            .do_update()
            .set((
                locks::holder.eq(excluded(locks::holder)),
                locks::expires_at.eq(excluded(locks::expires_at)),
                locks::updated_at.eq(excluded(locks::updated_at)),
            ));
        // ON CONFLICT (name) DO UPDATE ... WHERE: only a free, expired or own lock is taken over.
        let statement = diesel::query_dsl::methods::FilterDsl::filter(
            statement,
            locks::expires_at.le(to_db(now)).or(locks::holder.eq(holder)),
        );
        let changed = match &mut *conn {
            DbConnection::Postgres(c) => statement.execute(c)?,
            DbConnection::Sqlite(c) => statement.execute(c)?,
        };
        Ok(changed == 1)
    }

    /// Who holds the named lock and until when, if anyone ever took it. An expired lock is still returned: compare
    /// `expires_at` with the current time. For reporting ("held by ...") only: take a lock with
    /// [`Store::try_acquire_lock`].
    pub fn find_lock(&self, name: &str) -> Result<Option<LockHolder>> {
        let mut conn = self.conn()?;
        let row: Option<(String, NaiveDateTime)> = locks::table
            .find(name)
            .select((locks::holder, locks::expires_at))
            .first(&mut *conn)
            .optional()?;
        Ok(row.map(|(holder, expires_at)| LockHolder {
            holder,
            expires_at: from_db(expires_at),
        }))
    }

    /// Give the lock up if `holder` has it. True when it was released.
    pub fn release_lock(&self, name: &str, holder: &str) -> Result<bool> {
        let mut conn = self.conn()?;
        let deleted = diesel::delete(
            locks::table
                .filter(locks::name.eq(name))
                .filter(locks::holder.eq(holder)),
        )
        .execute(&mut *conn)?;
        Ok(deleted == 1)
    }
}
