//! The server's integration tests: the real `App` from `tollgate::app::configure`, on SQLite and on PostgreSQL,
//! with provider-signed fixture webhooks.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

mod access;
mod aghanim;
mod ops;
mod outage;
mod replay;
mod webhooks;
mod webhooks_commit;
mod webhooks_state;
