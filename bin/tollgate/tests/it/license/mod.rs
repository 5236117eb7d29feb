//! The license API's integration tests: the real `App` from `tollgate::app::configure`, on SQLite and on
//! PostgreSQL, with the fake Whop and Dodo (tollgate-providers' `fake`) on loopback as the providers.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

mod activation;
mod admin;
mod cli;
mod devices;
mod leases;
mod rate_limit;
mod reconcile;
mod revalidation;
mod whop;
