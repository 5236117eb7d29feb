//! Scale and faults under load (`crash`, `faults`, `multi_instance`): real `tollgate serve` processes over
//! loopback (`harness::process::ServerProcess`, on a fresh SQLite file or PostgreSQL schema from
//! `harness::database`), fed provider-signed webhooks by a bounded-concurrency keep-alive client, then checked
//! against the store and against `tollgate_policy::apply` over the same events in time order. The load's own parts:
//!
//! - `events`: distinct signed events across the three providers, and the states a sorted single delivery gives.
//! - `load`: deliveries over HTTP with bounded concurrency, each result recorded (status, code, latency).
//! - `check`: the exactly-once assertions against the store.
//! - `proxy`: a loopback TCP proxy in front of PostgreSQL that can be "stopped" and "started".

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

pub mod check;
pub mod events;
pub mod load;
pub mod proxy;

mod crash;
mod faults;
mod multi_instance;

use std::time::Instant;

/// Prints a measured figure in one greppable line (`scale: ...`), so a CI log shows each scenario's numbers.
pub fn report(scenario: &str, started: Instant, figures: &str) {
    eprintln!(
        "scale: {scenario}: {figures}; wall {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
