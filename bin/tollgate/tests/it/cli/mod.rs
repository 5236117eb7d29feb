//! The operator CLI's tests: the real `tollgate` binary (`CARGO_BIN_EXE_tollgate`) run in a temporary working
//! directory with only the `TOLLGATE_` variables each test sets.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

mod cli_aghanim;
mod cli_commands;
mod cli_doctor_online;
mod cli_serve;
mod cli_support;
mod cli_verify_webhook;
