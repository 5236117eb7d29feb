//! Lease reuse: a revalidation of the same device shortly after the last one is answered with the lease this
//! instance signed then, from memory: no database read, no signature, no thread hop.
//!
//! An entry is served only while both hold:
//! - `now < fresh_until`, where `fresh_until` is the earliest of `reuse_for` after it was signed, the lease's
//!   `refresh_after` and `expires_at`, the entitlement's paid-through time (when still ahead: access may change
//!   there without any write), and, when the provider's API is configured, the time the entitlement becomes stale
//!   (`synced_at + revalidate_every`: the provider must be asked then);
//! - the store's change version of its entitlement ([`Store::entitlement_version`]) is the one read *before* the
//!   database read the grant was computed from. Every write this process commits to the entitlement or its devices
//!   bumps that version after its commit, so any such write that could have been missed by the read shows as a
//!   different version, and the entry is not served.
//!
//! Writes through another instance do not bump this instance's versions: they reach its reused leases within
//! `reuse_for` (at most 5 minutes, see `docs/security.md`, "Lease reuse").

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use quick_cache::sync::Cache;
use tollgate_store::{EntitlementId, HwidHash, LicenseKeyHash, Store};

use super::LicenseGrant;

/// Which device of which key: the keyed hashes, never the raw key or hwid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ReuseKey {
    license: LicenseKeyHash,
    hwid: HwidHash,
}

impl ReuseKey {
    pub(crate) fn new(store: &Store, license_key: &str, hwid_hash: HwidHash) -> ReuseKey {
        ReuseKey {
            license: store.hash_license_key(license_key),
            hwid: hwid_hash,
        }
    }

    pub(crate) fn hwid_hash(&self) -> &HwidHash {
        &self.hwid
    }
}

/// A grant this instance signed, and what decides whether it may be answered again.
#[derive(Debug)]
pub(crate) struct Reusable {
    grant: Arc<LicenseGrant>,
    entitlement: EntitlementId,
    /// The entitlement's change version read before the read the grant was computed from.
    version: u64,
    fresh_until: DateTime<Utc>,
}

impl Reusable {
    /// The entitlement the grant was for: the one whose version to read before the next read (see
    /// [`read_stamped`]), even after the entry stopped being fresh.
    pub(crate) fn entitlement(&self) -> &EntitlementId {
        &self.entitlement
    }
}

/// The reusable grants, at most `reuse_entries` of them. Disabled (it keeps nothing) when `reuse_for` is zero.
pub(crate) struct LeaseCache {
    entries: Option<Cache<ReuseKey, Arc<Reusable>>>,
    reuse_for: TimeDelta,
}

impl fmt::Debug for LeaseCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseCache")
            .field("reuse_for", &self.reuse_for)
            .field("entries", &self.len())
            .finish()
    }
}

impl LeaseCache {
    pub(crate) fn new(reuse_for: TimeDelta, reuse_entries: usize) -> LeaseCache {
        let enabled = reuse_for > TimeDelta::zero() && reuse_entries > 0;
        LeaseCache {
            entries: enabled.then(|| Cache::new(reuse_entries)),
            reuse_for,
        }
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// How many grants are kept (fresh or not).
    pub(crate) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }

    /// The entry for this device, fresh or not.
    pub(crate) fn get(&self, key: &ReuseKey) -> Option<Arc<Reusable>> {
        self.entries.as_ref()?.get(key)
    }

    /// The grant of `entry` if it may be answered at `now`: still fresh, and nothing this process committed to its
    /// entitlement since the read it was computed from.
    pub(crate) fn serve(
        &self,
        store: &Store,
        entry: &Reusable,
        now: DateTime<Utc>,
    ) -> Option<Arc<LicenseGrant>> {
        (now < entry.fresh_until && store.entitlement_version(&entry.entitlement) == entry.version)
            .then(|| entry.grant.clone())
    }

    /// Keep `grant`, computed at `now` from a read made after `version` was read, until the earliest of `bounds`
    /// and `now + reuse_for`. Nothing is kept when that is not after `now`.
    pub(crate) fn keep(
        &self,
        key: ReuseKey,
        grant: Arc<LicenseGrant>,
        entitlement: EntitlementId,
        version: u64,
        now: DateTime<Utc>,
        bounds: impl IntoIterator<Item = DateTime<Utc>>,
    ) {
        let Some(entries) = &self.entries else {
            return;
        };
        let fresh_until = bounds.into_iter().fold(now + self.reuse_for, DateTime::min);
        if fresh_until <= now {
            // Not reusable even once; drop an older entry so it stops costing a lookup.
            entries.remove(&key);
            return;
        }
        entries.insert(
            key,
            Arc::new(Reusable {
                grant,
                entitlement,
                version,
                fresh_until,
            }),
        );
    }
}

/// Read what an answer is computed from, with the change version of the entitlement it names read *before* that
/// read, so a cached answer can later be checked against the current version.
///
/// Why before: a writer bumps the version after its commit. Had the version been read after the database read, a
/// write committing between the two would be in neither (the read missed it, the version already includes it), and
/// the stale answer would be served until `fresh_until`. Read before, such a write's bump lands after the version
/// was read, so the version no longer matches and the entry is not served.
///
/// Which entitlement the read will pick is not known before the read. `hint` is the entitlement of this device's
/// previous entry, if any: its version is read first, and if the read picks it, that version stamps the answer (one
/// read). Otherwise (first sight, or the device now resolves to another entitlement) the version of the entitlement
/// just picked is read and the read repeated, and the answer is computed from the second read if it picks the same
/// entitlement (one extra read, only then). If even that differs, the answer is returned unstamped: not kept.
///
/// `picked` names the entitlement a read resolved to, or `None` when its answer can never be kept (no active
/// device): then no version is read and nothing is re-read.
pub(crate) fn read_stamped<T, E>(
    hint: Option<&EntitlementId>,
    version_of: impl Fn(&EntitlementId) -> u64,
    mut read: impl FnMut() -> Result<T, E>,
    picked: impl Fn(&T) -> Option<&EntitlementId>,
) -> Result<(T, Option<u64>), E> {
    let mut stamp = hint.map(|id| (id.clone(), version_of(id)));
    let mut rereads = 0;
    loop {
        let value = read()?;
        let Some(id) = picked(&value) else {
            return Ok((value, None));
        };
        match stamp {
            Some((stamped, version)) if stamped == *id => return Ok((value, Some(version))),
            _ if rereads == 1 => return Ok((value, None)),
            _ => {
                stamp = Some((id.clone(), version_of(id)));
                rereads += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn id(s: &str) -> EntitlementId {
        EntitlementId::new(s.to_owned())
    }

    /// A writer that commits (and bumps) right after each read: the stamp must be the version from before the read,
    /// so it never equals the version after the write. Reading the version after the read would fail this.
    #[test]
    fn the_stamp_is_the_version_read_before_the_read() {
        for hint in [None, Some(id("ent_a"))] {
            let version = Cell::new(7u64);
            let reads = Cell::new(0);
            let (value, stamp) = read_stamped::<_, ()>(
                hint.as_ref(),
                |_| version.get(),
                || {
                    reads.set(reads.get() + 1);
                    let value = id("ent_a");
                    version.set(version.get() + 1);
                    Ok(value)
                },
                |v| Some(v),
            )
            .unwrap();
            assert_eq!(value, id("ent_a"));
            let expected_reads = if hint.is_some() { 1 } else { 2 };
            assert_eq!(reads.get(), expected_reads);
            assert_eq!(stamp, Some(version.get() - 1), "the version before the last read");
            assert_ne!(stamp, Some(version.get()));
        }
    }

    #[test]
    fn a_read_that_picks_another_entitlement_each_time_is_not_stamped() {
        let reads = Cell::new(0);
        let (_, stamp) = read_stamped::<_, ()>(
            Some(&id("ent_old")),
            |_| 1,
            || {
                reads.set(reads.get() + 1);
                Ok(id(&format!("ent_{}", reads.get())))
            },
            |v| Some(v),
        )
        .unwrap();
        assert_eq!((reads.get(), stamp), (2, None));
    }

    #[test]
    fn a_hint_for_another_entitlement_costs_one_reread_then_stamps() {
        let reads = Cell::new(0);
        let (_, stamp) = read_stamped::<_, ()>(
            Some(&id("ent_old")),
            |id| if id.as_str() == "ent_new" { 5 } else { 1 },
            || {
                reads.set(reads.get() + 1);
                Ok(id("ent_new"))
            },
            |v| Some(v),
        )
        .unwrap();
        assert_eq!((reads.get(), stamp), (2, Some(5)));
    }

    #[test]
    fn an_answer_that_can_never_be_kept_is_read_once_without_a_version() {
        let reads = Cell::new(0);
        let (_, stamp) = read_stamped::<_, ()>(
            None,
            |_| unreachable!("no version is read"),
            || {
                reads.set(reads.get() + 1);
                Ok(id("ent_a"))
            },
            |_| None,
        )
        .unwrap();
        assert_eq!((reads.get(), stamp), (1, None));
    }
}
