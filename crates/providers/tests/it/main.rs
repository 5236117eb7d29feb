//! The providers' integration suite: one binary, one module per noun. (`logs` installs a process-wide logger, which
//! would capture every other test's log lines, so its test runs in a child process of this binary.)

mod client_dodo_aghanim;
mod client_faults;
mod client_whop;
mod common;
mod fake_aghanim;
mod fake_connections;
mod fake_dodo;
mod fake_signing;
mod fake_whop;
mod fixtures_shared;
mod logs;
mod provider_apis;
mod registry_fake;
mod signature_schemes;
mod webhook_aghanim;
mod webhook_dodo;
mod webhook_malformed;
mod webhook_whop;
