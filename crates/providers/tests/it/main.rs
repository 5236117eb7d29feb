//! The providers' integration suite: one binary, one module per noun. (`client_logs.rs` is its own binary: it
//! installs a process-wide logger, which would capture every other test's log lines.)

mod client_dodo_aghanim;
mod client_faults;
mod client_whop;
mod common;
mod fixtures_shared;
mod webhook_aghanim;
mod webhook_dodo;
mod webhook_malformed;
mod webhook_whop;
