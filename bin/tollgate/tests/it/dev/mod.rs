//! `tollgate dev` end to end: the real binary (`CARGO_BIN_EXE_tollgate`) in a temporary working directory, read
//! through its `--json` line or its banner, driven over HTTP; and, under `strace`, proof that `tollgate dev` and
//! `tollgate simulate` connect to nothing outside loopback. Built only with the `dev` feature (on by default).

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

mod contract;
mod loopback;
mod quickstart;
mod schema;
mod world;
