//! The server's integration suite: one binary. The real `App` from `tollgate::app::configure` in-process (`server`,
//! `license`, `console`, `openapi`), real `tollgate` processes (`cli`, `dev`, `hardening`, `malformed`, `scale`),
//! on SQLite and on PostgreSQL, with the testkit's fake providers on loopback. (`logs` installs a process-wide
//! logger, which would capture every other test's log lines, so its tests run in child processes of this binary.)

mod cli;
mod console;
// `tollgate dev` is built only with the `dev` feature (on by default).
#[cfg(feature = "dev")]
mod dev;
mod hardening;
mod harness;
mod license;
mod logs;
mod malformed;
mod openapi;
mod scale;
mod server;
