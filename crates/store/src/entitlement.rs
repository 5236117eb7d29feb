//! Entitlements: the folded provider state of one membership, grant or subscription, plus its license key hash,
//! extras and bookkeeping.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use tollgate_policy::{EntitlementState, FieldClocks, Lifecycle, Provider, ProviderEvent};

use crate::connection::DbConnection;
use crate::error::{Result, StoreError};
use crate::ids::EntitlementId;
use crate::keys::{LicenseKeyHash, StoreKeys};
use crate::planned::PlannedEachTime;
use crate::schema::entitlements;
use crate::store::Store;
use crate::time::{from_db, opt_from_db, opt_to_db, to_db};

/// A license key shorter than this keeps no clear-text suffix: four characters of it would give too much away.
const MIN_KEY_LEN_FOR_LAST4: usize = 8;

/// One entitlement as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Entitlement {
    pub id: EntitlementId,
    pub state: EntitlementState,
    pub license_key_hash: Option<LicenseKeyHash>,
    /// The last 4 characters of the license key, for display (none for keys under 8 characters).
    pub license_key_last4: Option<String>,
    /// Opaque JSON the service keeps with the entitlement (integration type, oauth_url, delivery, ...).
    pub extras: Option<serde_json::Value>,
    /// Bumped by every write.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the provider was last consulted about it.
    pub synced_at: Option<DateTime<Utc>>,
}

/// A change to fold into an entitlement: the normalized event, plus what the event carried that is not state.
#[derive(Clone, PartialEq)]
pub struct EntitlementChange {
    pub event: ProviderEvent,
    /// The license key in clear; only its hash and last 4 characters are stored. `None` keeps the stored one.
    pub license_key: Option<String>,
    /// Replaces the stored extras when `Some`.
    pub extras: Option<serde_json::Value>,
}

impl EntitlementChange {
    /// A change that carries only the event.
    pub fn new(event: ProviderEvent) -> Self {
        EntitlementChange {
            event,
            license_key: None,
            extras: None,
        }
    }
}

impl std::fmt::Debug for EntitlementChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntitlementChange")
            .field("event", &self.event)
            .field("license_key", &self.license_key.as_ref().map(|_| "[redacted]"))
            .field("extras", &self.extras.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(
    table_name = entitlements,
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
pub(crate) struct EntitlementRow {
    pub(crate) id: String,
    pub(crate) provider: String,
    pub(crate) external_id: String,
    subject: Option<String>,
    product: Option<String>,
    lifecycle: String,
    status: Option<String>,
    end_reason: Option<String>,
    paid_through: Option<NaiveDateTime>,
    cancel_at_period_end: bool,
    features: String,
    access_clock: Option<NaiveDateTime>,
    period_clock: Option<NaiveDateTime>,
    cancel_clock: Option<NaiveDateTime>,
    details_clock: Option<NaiveDateTime>,
    license_key_hash: Option<String>,
    license_key_last4: Option<String>,
    extras: Option<Vec<u8>>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    synced_at: Option<NaiveDateTime>,
}

fn extras_aad(id: &str) -> String {
    format!("tollgate/v1/entitlements.extras/{id}")
}

fn open_extras(keys: &StoreKeys, id: &str, sealed: &[u8]) -> Result<serde_json::Value> {
    let plain = keys.open("entitlement extras", &extras_aad(id), sealed)?;
    serde_json::from_slice(&plain)
        .map_err(|e| StoreError::corrupt("entitlement", format!("extras are not JSON: {e}")))
}

impl EntitlementRow {
    /// A fresh, pending row for a provider's id, with a new random id.
    pub(crate) fn fresh(
        keys: &StoreKeys,
        provider: Provider,
        external_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Self> {
        let state = EntitlementState::new(provider, external_id.to_owned());
        EntitlementRow::new(keys.random_id("ent_")?, &state, at)
    }

    fn new(id: String, state: &EntitlementState, at: DateTime<Utc>) -> Result<Self> {
        let mut row = EntitlementRow {
            id,
            provider: state.provider.as_str().to_owned(),
            external_id: state.external_id.clone(),
            subject: None,
            product: None,
            lifecycle: String::new(),
            status: None,
            end_reason: None,
            paid_through: None,
            cancel_at_period_end: false,
            features: String::new(),
            access_clock: None,
            period_clock: None,
            cancel_clock: None,
            details_clock: None,
            license_key_hash: None,
            license_key_last4: None,
            extras: None,
            version: 0,
            created_at: to_db(at),
            updated_at: to_db(at),
            synced_at: None,
        };
        row.set_state(state)?;
        Ok(row)
    }

    fn set_state(&mut self, state: &EntitlementState) -> Result<()> {
        self.subject = state.subject.clone();
        self.product = state.product.clone();
        self.lifecycle = state.lifecycle.as_str().to_owned();
        self.status = state.status.clone();
        self.end_reason = state.end_reason.clone();
        self.paid_through = opt_to_db(state.paid_through);
        self.cancel_at_period_end = state.cancel_at_period_end;
        self.features = serde_json::to_string(&state.features)
            .map_err(|e| StoreError::corrupt("entitlement", format!("features do not serialize: {e}")))?;
        self.access_clock = opt_to_db(state.clocks.access);
        self.period_clock = opt_to_db(state.clocks.period);
        self.cancel_clock = opt_to_db(state.clocks.cancel);
        self.details_clock = opt_to_db(state.clocks.details);
        Ok(())
    }

    pub(crate) fn state(&self) -> Result<EntitlementState> {
        let provider: Provider = self
            .provider
            .parse()
            .map_err(|e| StoreError::corrupt("entitlement", format!("{e}")))?;
        let lifecycle = Lifecycle::parse(&self.lifecycle).ok_or_else(|| {
            StoreError::corrupt("entitlement", format!("unknown lifecycle `{}`", self.lifecycle))
        })?;
        let features: Vec<String> = serde_json::from_str(&self.features)
            .map_err(|e| StoreError::corrupt("entitlement", format!("features are not a JSON list: {e}")))?;
        Ok(EntitlementState {
            provider,
            external_id: self.external_id.clone(),
            subject: self.subject.clone(),
            product: self.product.clone(),
            lifecycle,
            status: self.status.clone(),
            end_reason: self.end_reason.clone(),
            paid_through: opt_from_db(self.paid_through),
            cancel_at_period_end: self.cancel_at_period_end,
            features,
            clocks: FieldClocks {
                access: opt_from_db(self.access_clock),
                period: opt_from_db(self.period_clock),
                cancel: opt_from_db(self.cancel_clock),
                details: opt_from_db(self.details_clock),
            },
        })
    }

    pub(crate) fn into_entitlement(self, keys: &StoreKeys) -> Result<Entitlement> {
        let state = self.state()?;
        let extras = match &self.extras {
            None => None,
            Some(sealed) => Some(open_extras(keys, &self.id, sealed)?),
        };
        Ok(Entitlement {
            id: EntitlementId::new(self.id),
            state,
            license_key_hash: self.license_key_hash.map(LicenseKeyHash::from_stored),
            license_key_last4: self.license_key_last4,
            extras,
            version: self.version,
            created_at: from_db(self.created_at),
            updated_at: from_db(self.updated_at),
            synced_at: opt_from_db(self.synced_at),
        })
    }
}

/// Lock an entitlement row by id (see [`lock_by_key`]); `false` when it does not exist.
pub(crate) fn lock_by_id(conn: &mut DbConnection, id: &EntitlementId) -> Result<bool> {
    let query = entitlements::table
        .filter(entitlements::id.eq(id.as_str()))
        .select(entitlements::id);
    let found: Option<String> = match conn {
        DbConnection::Postgres(c) => query.for_update().first(c).optional()?,
        DbConnection::Sqlite(c) => query.first(c).optional()?,
    };
    Ok(found.is_some())
}

impl EntitlementRow {
    /// The values of its secondary-indexed columns that a fold may change: `subject` and `license_key_hash`.
    pub(crate) fn index_keys(&self) -> (Option<&str>, Option<&str>) {
        (self.subject.as_deref(), self.license_key_hash.as_deref())
    }
}

/// One change to write into a locked entitlement (see [`crate::LockedEntitlement::update`]), as the caller decided
/// it: the store only writes it.
#[derive(Clone, Copy)]
pub struct EntitlementUpdate<'a> {
    /// The entitlement's state after the change.
    pub state: &'a EntitlementState,
    /// The license key in clear: its keyed hash and last 4 characters are stored. `None` keeps the stored one.
    pub license_key: Option<&'a str>,
    /// Replaces the stored extras (sealed) when `Some`.
    pub extras: Option<&'a serde_json::Value>,
    /// The provider was consulted at this time (`synced_at`), written in the same update.
    pub synced_at: Option<DateTime<Utc>>,
    /// `updated_at`.
    pub at: DateTime<Utc>,
}

impl std::fmt::Debug for EntitlementUpdate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntitlementUpdate")
            .field("state", &self.state)
            .field("license_key", &self.license_key.map(|_| "[redacted]"))
            .field("extras", &self.extras.map(|_| "[redacted]"))
            .field("synced_at", &self.synced_at)
            .field("at", &self.at)
            .finish()
    }
}

impl EntitlementRow {
    /// Write one change into the row in memory: the state, the license key, the extras, `synced_at`, the version up
    /// by one and `updated_at`.
    pub(crate) fn update(&mut self, keys: &StoreKeys, update: &EntitlementUpdate<'_>) -> Result<()> {
        self.set_state(update.state)?;
        if let Some(key) = update.license_key {
            self.license_key_hash = Some(keys.hash_license_key(key).as_str().to_owned());
            self.license_key_last4 = last4(key);
        }
        if let Some(extras) = update.extras {
            let json = serde_json::to_vec(extras)
                .map_err(|e| StoreError::corrupt("entitlement", format!("extras do not serialize: {e}")))?;
            self.extras = Some(keys.seal(&extras_aad(&self.id), &json)?);
        }
        if let Some(synced_at) = update.synced_at {
            self.synced_at = Some(to_db(synced_at));
        }
        self.version += 1;
        self.updated_at = to_db(update.at);
        Ok(())
    }

    /// The stored extras, opened.
    pub(crate) fn extras(&self, keys: &StoreKeys) -> Result<Option<serde_json::Value>> {
        self.extras
            .as_ref()
            .map(|sealed| open_extras(keys, &self.id, sealed))
            .transpose()
    }
}

fn last4(key: &str) -> Option<String> {
    let chars: Vec<char> = key.chars().collect();
    (chars.len() >= MIN_KEY_LEN_FOR_LAST4).then(|| chars[chars.len() - 4..].iter().collect())
}

impl Store {
    /// The entitlement for a provider's id, if known. On PostgreSQL it is planned for its id each time (see
    /// `entitlement_batch::lock_rows`: a kept generic plan may scan the provider's every row).
    pub fn find_entitlement(&self, provider: Provider, external_id: &str) -> Result<Option<Entitlement>> {
        let mut conn = self.conn()?;
        let query = || {
            entitlements::table
                .filter(entitlements::provider.eq(provider.as_str()))
                .filter(entitlements::external_id.eq(external_id))
                .limit(1)
        };
        let row = match &mut *conn {
            DbConnection::Postgres(c) => {
                PlannedEachTime(query().select(EntitlementRow::as_select())).get_result(c)
            }
            DbConnection::Sqlite(c) => query().select(EntitlementRow::as_select()).get_result(c),
        }
        .optional()?;
        row.map(|r| r.into_entitlement(self.keys())).transpose()
    }

    /// The entitlement with this id, which must exist.
    pub fn get_entitlement(&self, id: &EntitlementId) -> Result<Entitlement> {
        self.find_entitlement_by_id(id)?
            .ok_or_else(|| StoreError::not_found("entitlement", id.as_str()))
    }

    /// The entitlement with this id, if any.
    pub fn find_entitlement_by_id(&self, id: &EntitlementId) -> Result<Option<Entitlement>> {
        let mut conn = self.conn()?;
        let row = entitlements::table
            .find(id.as_str())
            .select(EntitlementRow::as_select())
            .first(&mut *conn)
            .optional()?;
        row.map(|r| r.into_entitlement(self.keys())).transpose()
    }

    /// Every entitlement carrying this license key (looked up by its keyed hash), oldest first.
    pub fn list_entitlements_by_license_key(&self, license_key: &str) -> Result<Vec<Entitlement>> {
        let hash = self.hash_license_key(license_key);
        let mut conn = self.conn()?;
        let rows = entitlements::table
            .filter(entitlements::license_key_hash.eq(hash.as_str()))
            .order((entitlements::created_at.asc(), entitlements::id.asc()))
            .select(EntitlementRow::as_select())
            .load(&mut *conn)?;
        rows.into_iter()
            .map(|r| r.into_entitlement(self.keys()))
            .collect()
    }

    /// Every entitlement of one customer at one provider, oldest first.
    pub fn list_entitlements_by_subject(
        &self,
        provider: Provider,
        subject: &str,
    ) -> Result<Vec<Entitlement>> {
        let mut conn = self.conn()?;
        let rows = entitlements::table
            .filter(entitlements::provider.eq(provider.as_str()))
            .filter(entitlements::subject.eq(subject))
            .order((entitlements::created_at.asc(), entitlements::id.asc()))
            .select(EntitlementRow::as_select())
            .load(&mut *conn)?;
        rows.into_iter()
            .map(|r| r.into_entitlement(self.keys()))
            .collect()
    }

    /// The distinct customers (`subject`) Tollgate holds entitlements for at one provider, in order. Reconciliation
    /// uses it to ask a provider that is listed per subject about the customers it knows.
    pub fn list_subjects(&self, provider: Provider) -> Result<Vec<String>> {
        let mut conn = self.conn()?;
        Ok(entitlements::table
            .filter(entitlements::provider.eq(provider.as_str()))
            .filter(entitlements::subject.is_not_null())
            .select(entitlements::subject.assume_not_null())
            .distinct()
            .order(entitlements::subject.assume_not_null().asc())
            .load(&mut *conn)?)
    }

    /// The distinct products (`product`) of one provider's stored entitlements, in order. Reconciliation uses it
    /// to find the Dodo entitlements (`ent_...`) whose grants it should list.
    pub fn list_products(&self, provider: Provider) -> Result<Vec<String>> {
        let mut conn = self.conn()?;
        Ok(entitlements::table
            .filter(entitlements::provider.eq(provider.as_str()))
            .filter(entitlements::product.is_not_null())
            .select(entitlements::product.assume_not_null())
            .distinct()
            .order(entitlements::product.assume_not_null().asc())
            .load(&mut *conn)?)
    }

    /// Record that the provider was consulted about this entitlement at `at`.
    pub fn mark_synced(&self, id: &EntitlementId, at: DateTime<Utc>) -> Result<()> {
        let mut conn = self.conn()?;
        let updated = diesel::update(entitlements::table.find(id.as_str()))
            .set(entitlements::synced_at.eq(Some(to_db(at))))
            .execute(&mut *conn)?;
        if updated == 0 {
            return Err(StoreError::not_found("entitlement", id.as_str()));
        }
        self.changed(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last4_keeps_four_characters_of_long_keys_only() {
        assert_eq!(last4("ABCD-EFGH-ÄÖÜß"), Some("ÄÖÜß".to_owned()));
        assert_eq!(last4("ABCDEFGH"), Some("EFGH".to_owned()));
        assert_eq!(last4("ABCDEFG"), None);
    }
}
