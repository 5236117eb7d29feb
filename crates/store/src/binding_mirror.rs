//! The state of the provider-side mirror of an entitlement's device binding (Whop: the membership's metadata).
//!
//! `devices` is the authority. The mirror state only tells two situations apart that look alike at the provider:
//! a binding that was written and has since been cleared there (Whop's "Reset Key": `Written`, binding gone), and a
//! binding whose write failed and is still to be repaired (`Pending`).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::connection::DbConnection;
use crate::error::Result;
use crate::ids::EntitlementId;
use crate::schema::binding_mirrors;
use crate::store::Store;
use crate::time::{from_db, to_db};

/// Whether the last write of an entitlement's binding mirror reached the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MirrorState {
    /// The provider holds the binding as Tollgate last wrote it.
    Written,
    /// The last write failed (or was refused); the next look-up or reconciliation writes it again.
    Pending,
}

impl MirrorState {
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorState::Written => "written",
            MirrorState::Pending => "pending",
        }
    }

    fn parse(value: &str) -> Option<MirrorState> {
        match value {
            "written" => Some(MirrorState::Written),
            "pending" => Some(MirrorState::Pending),
            _ => None,
        }
    }
}

/// The last mirror write of an entitlement's binding, and when its outcome was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingMirror {
    pub state: MirrorState,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    /// The last mirror write of an entitlement's binding; `None` when no write was ever attempted.
    pub fn find_binding_mirror(&self, entitlement_id: &EntitlementId) -> Result<Option<BindingMirror>> {
        let mut conn = self.conn()?;
        let row: Option<(String, NaiveDateTime)> = binding_mirrors::table
            .find(entitlement_id.as_str())
            .select((binding_mirrors::state, binding_mirrors::updated_at))
            .first(&mut *conn)
            .optional()?;
        Ok(row.and_then(|(state, at)| {
            Some(BindingMirror {
                state: MirrorState::parse(&state)?,
                updated_at: from_db(at),
            })
        }))
    }

    /// Record the outcome of a mirror write.
    pub fn set_binding_mirror(
        &self,
        entitlement_id: &EntitlementId,
        state: MirrorState,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut conn = self.conn()?;
        let statement = diesel::insert_into(binding_mirrors::table)
            .values((
                binding_mirrors::entitlement_id.eq(entitlement_id.as_str()),
                binding_mirrors::state.eq(state.as_str()),
                binding_mirrors::updated_at.eq(to_db(now)),
            ))
            .on_conflict(binding_mirrors::entitlement_id)
            .do_update()
            .set((
                binding_mirrors::state.eq(excluded(binding_mirrors::state)),
                binding_mirrors::updated_at.eq(excluded(binding_mirrors::updated_at)),
            ));
        match &mut *conn {
            DbConnection::Postgres(c) => statement.execute(c)?,
            DbConnection::Sqlite(c) => statement.execute(c)?,
        };
        Ok(())
    }

    /// Up to `limit` entitlements whose binding mirror is `Pending`, oldest first.
    pub fn list_pending_mirrors(&self, limit: u32) -> Result<Vec<EntitlementId>> {
        let mut conn = self.conn()?;
        let ids: Vec<String> = binding_mirrors::table
            .filter(binding_mirrors::state.eq(MirrorState::Pending.as_str()))
            .order((
                binding_mirrors::updated_at.asc(),
                binding_mirrors::entitlement_id.asc(),
            ))
            .limit(i64::from(limit))
            .select(binding_mirrors::entitlement_id)
            .load(&mut *conn)?;
        Ok(ids.into_iter().map(EntitlementId::new).collect())
    }
}
