//! Device admission, transfer and removal composed over `Store::write` with the policy's rules, and an activation's
//! provider answer folded in the same unit of work (moved from the store's suite, `activation.rs` and `devices.rs`).
//!
//! The fold here is the real one (`tollgate_service::entitlement_change`: `apply_change`, `apply_provider_answer`).
//! The admission, transfer and removal steps in `flows` are still a test-side composition of `admit_device` and
//! `check_transfer` over `WriteTx`, written as `tollgate_service::license` writes them: its own steps are private to
//! `Licensing`, whose tests (`license_activation`, `license_devices`) drive them through the fake providers.

#![expect(
    clippy::unwrap_used,
    reason = "the test helpers fail the test on any setup error"
)]

mod activation;
mod devices;
mod flows;

use tollgate_store::{Actor, EntitlementChange, EntitlementId};

use crate::common::folding::Folding as _;
use crate::entitlement_change::fixtures::{TestDb, activated};

/// A fresh active entitlement for `external_id`, through the real fold.
fn entitlement(db: &TestDb, external_id: &str) -> EntitlementId {
    db.store
        .apply_change(
            Actor::Activation,
            &EntitlementChange::new(activated(external_id, 0)),
            "test",
        )
        .unwrap()
        .id
}
