//! The one server harness: every way these tests run a Tollgate server, and what they talk to it with.
//!
//! - [`app`]: the real `App` from `tollgate::app::configure`, in-process through `actix_web::test`, over a fresh
//!   SQLite file or PostgreSQL schema, with a manual clock and provider-signed fixture webhooks (the server,
//!   license, console and log tests).
//! - [`license`]: [`app`] with the fake Whop and Dodo (tollgate-providers' `fake`) behind it, and JSON requests from a chosen address.
//! - [`listener`]: the same `App` on a real `HttpServer` bound to a loopback port, in a thread (raw HTTP tests).
//! - [`process`]: `tollgate` child processes: any command bounded in time, `tollgate serve` for the hardening
//!   tests ([`process::Server`]) and over a [`database::TestDb`] for the scale tests ([`process::ServerProcess`]).
//! - [`database`]: a fresh SQLite file or PostgreSQL schema (and its keys) for a server process.
//! - [`dev`]: `tollgate dev`, optionally under another program (strace), read through its `--json` line or banner.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "the harness fails the test on any setup error"
)]

pub mod app;
pub mod database;
#[cfg(feature = "dev")]
pub mod dev;
pub mod license;
pub mod listener;
pub mod process;
