//! The browser console's server-side tests: the real `App` from `tollgate::app::configure`, on SQLite and on
//! PostgreSQL. Sessions, CSRF, security headers and sign-in throttling here; the console's actions (reset, replay,
//! body view, find) with their audit rows in `actions.rs`. The browser itself is driven by `console-tests/`.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

mod actions;
mod browser;
mod session;
mod support;
