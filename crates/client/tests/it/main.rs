//! The client's integration suite: one binary. The offline logic (`check`, `lease`, `state`), the conformance
//! vectors, the end-to-end tests against the real server, and the demo (its text, and a real terminal through tmux).

mod check;
mod common;
mod conformance;
mod demo_text;
mod demo_tmux;
mod e2e;
mod lease;
mod state;
