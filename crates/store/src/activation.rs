//! An activation's writes in one transaction: the provider's answer folded in, the caller's policy check, and the
//! device admitted under the entitlement's row lock.
//!
//! One transaction (rather than a fold, then a read, then an admission) takes the row lock once per activation, so
//! a burst of activations on one entitlement queues once, not three times.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::audit::Actor;
use crate::connection::DbConnection;
use crate::device::{Admission, Device, NewDevice, admit_in, list_devices_in};
use crate::entitlement::{Entitlement, EntitlementChange, EntitlementRow, Fold, fold_in};
use crate::error::{Result, StoreError};
use crate::ids::EntitlementId;
use crate::keys::StoreKeys;
use crate::schema::entitlements;
use crate::store::Store;

/// What a provider just said about an entitlement, to be stored as fact: the change is folded in (audited as
/// `actor`, with `reason` before the detail, exactly as [`Store::apply_change`] does) and the entitlement is
/// marked synced at `synced_at`, in the same update.
#[derive(Debug, Clone, Copy)]
pub struct ProviderAnswer<'a> {
    pub change: &'a EntitlementChange,
    pub actor: Actor,
    pub reason: &'a str,
    /// The change's extras (a JSON object) are merged into the stored ones key by key, instead of replacing them:
    /// an answer that names only the plan keeps what webhooks stored beside it.
    pub merge_extras: bool,
    pub synced_at: DateTime<Utc>,
}

/// Which entitlement an activation is on.
#[derive(Debug, Clone, Copy)]
pub enum ActivationTarget<'a> {
    /// An entitlement as stored; it must exist.
    Stored(&'a EntitlementId),
    /// The entitlement the provider's answer is about (created if new), after folding the answer in.
    Answer(ProviderAnswer<'a>),
}

/// The result of [`Store::activate`], all read inside its transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Activated<R> {
    /// The entitlement after the provider's answer (if any) was folded in.
    pub entitlement: Entitlement,
    /// The check's refusal, or the admission under the `max_devices` it gave.
    pub admission: std::result::Result<Admission, R>,
    /// The devices active after the admission, in activation order.
    pub devices: Vec<Device>,
}

impl Store {
    /// Fold a provider's answer in and mark the entitlement synced, in one transaction. Returns the entitlement
    /// after the change.
    pub fn apply_provider_answer(&self, answer: &ProviderAnswer<'_>) -> Result<Entitlement> {
        let mut conn = self.conn()?;
        let entitlement = self.write_transaction(&mut conn, |conn| fold_answer(conn, self.keys(), answer))?;
        self.changed(&entitlement.id);
        Ok(entitlement)
    }

    /// One activation's writes, in one transaction under the entitlement's row lock: fold the provider's answer in
    /// (for [`ActivationTarget::Answer`]), run `check` on the resulting entitlement (the service's policy
    /// decision: a refusal, or the `max_devices` to admit under), then admit the device exactly as
    /// [`Store::activate_device`] does.
    ///
    /// A refusal still commits the provider's answer: what the provider said is fact and is stored whether or not
    /// this device is admitted (as when the fold and the admission were separate). Only the device is not added.
    pub fn activate<R>(
        &self,
        target: ActivationTarget<'_>,
        device: &NewDevice<'_>,
        check: impl FnOnce(&Entitlement) -> std::result::Result<u32, R>,
    ) -> Result<Activated<R>> {
        let hwid_hash = self.hash_hwid(device.hwid);
        let mut conn = self.conn()?;
        let activated = self.write_transaction(&mut conn, |conn| {
            let entitlement = match target {
                ActivationTarget::Stored(id) => lock_entitlement(conn, self.keys(), id)?
                    .ok_or_else(|| StoreError::not_found("entitlement", id.as_str()))?,
                ActivationTarget::Answer(answer) => fold_answer(conn, self.keys(), &answer)?,
            };
            let admission = match check(&entitlement) {
                Ok(max_devices) => Ok(admit_in(
                    conn,
                    self.keys(),
                    &entitlement.id,
                    &hwid_hash,
                    device,
                    max_devices,
                )?),
                Err(refusal) => Err(refusal),
            };
            let devices = list_devices_in(conn, &entitlement.id)?;
            Ok(Activated {
                entitlement,
                admission,
                devices,
            })
        })?;
        self.changed(&activated.entitlement.id);
        Ok(activated)
    }
}

fn fold_answer(
    conn: &mut DbConnection,
    keys: &StoreKeys,
    answer: &ProviderAnswer<'_>,
) -> Result<Entitlement> {
    fold_in(
        conn,
        keys,
        &Fold {
            change: answer.change,
            actor: answer.actor,
            reason: Some(answer.reason),
            inbox_id: None,
            merge_extras: answer.merge_extras,
            synced_at: Some(answer.synced_at),
        },
    )
}

/// Load an entitlement by id inside a write transaction, locked against concurrent writers until commit
/// (PostgreSQL `FOR UPDATE`; SQLite already holds the database write lock).
fn lock_entitlement(
    conn: &mut DbConnection,
    keys: &StoreKeys,
    id: &EntitlementId,
) -> Result<Option<Entitlement>> {
    let by_id = entitlements::id.eq(id.as_str());
    let row = match conn {
        DbConnection::Postgres(c) => entitlements::table
            .filter(by_id)
            .select(EntitlementRow::as_select())
            .for_update()
            .first(c)
            .optional()?,
        DbConnection::Sqlite(c) => entitlements::table
            .filter(by_id)
            .select(EntitlementRow::as_select())
            .first(c)
            .optional()?,
    };
    row.map(|r| r.into_entitlement(keys)).transpose()
}
