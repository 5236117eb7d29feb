//! Issue 18 (hardening), against real `tollgate` processes: each module re-checks one finding of the attack run
//! (`docs/security.md`, "Attack table", says which test re-checks which row).
//!
//! `cargo test -p tollgate --test it hardening:: -- --nocapture` prints the measured figures (`hardening: ...`).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

mod data_files;
mod device_names;
mod doctor_probes;
mod fresh_machine;
mod lost_keys;
mod messages;
mod metrics_bound;
mod repeated_errors;
mod tokens;
