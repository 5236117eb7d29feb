//! In-process change counters per entitlement, for caches above the store.
//!
//! Every write this process commits to an entitlement or to its devices bumps that entitlement's counter *after*
//! the commit. A cache that reads the counter before it reads the database, and later finds it unchanged, knows
//! that no write of this process committed in between. Writes by other processes on the same database are not
//! seen here: a cache must bound its entries' age for them (see `docs/storage.md`, "Caches").
//!
//! The counters are striped: an entitlement id hashes to one of [`STRIPES`] slots, so memory stays fixed however
//! many entitlements there are. Two entitlements that share a slot only cost each other a spurious cache miss.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ids::EntitlementId;

/// How many counters there are (a power of two).
pub(crate) const STRIPES: usize = 4096;

pub(crate) struct ChangeVersions {
    slots: Box<[AtomicU64]>,
    hasher: std::hash::RandomState,
}

impl std::fmt::Debug for ChangeVersions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeVersions")
            .field("stripes", &self.slots.len())
            .finish()
    }
}

impl ChangeVersions {
    pub(crate) fn new() -> Self {
        ChangeVersions {
            slots: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: std::hash::RandomState::new(),
        }
    }

    fn slot(&self, id: &EntitlementId) -> &AtomicU64 {
        // STRIPES is a power of two, so the mask keeps the index in range.
        let index = (self.hasher.hash_one(id.as_str()) as usize) & (STRIPES - 1);
        &self.slots[index]
    }

    pub(crate) fn get(&self, id: &EntitlementId) -> u64 {
        self.slot(id).load(Ordering::Acquire)
    }

    pub(crate) fn bump(&self, id: &EntitlementId) {
        self.slot(id).fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_changes_only_that_entitlements_version() {
        let versions = ChangeVersions::new();
        let a = EntitlementId::new("ent_a".to_owned());
        let before = versions.get(&a);
        versions.bump(&a);
        assert_eq!(versions.get(&a), before + 1);
        // Of 64 other ids, those in other slots keep their version.
        let others: Vec<EntitlementId> = (0..64).map(|i| EntitlementId::new(format!("ent_{i}"))).collect();
        let unaffected = others
            .iter()
            .filter(|id| !std::ptr::eq(versions.slot(id), versions.slot(&a)))
            .count();
        assert!(unaffected >= 60, "{unaffected} of 64 ids kept apart");
        for id in &others {
            if !std::ptr::eq(versions.slot(id), versions.slot(&a)) {
                assert_eq!(versions.get(id), 0);
            }
        }
    }
}
