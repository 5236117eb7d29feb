//! The `tollgate` server and operator CLI as a library, so integration tests (and the client crate's tests) build
//! the real `App` with the same `configure` function `main` uses.

pub mod app;
pub mod cli;
pub mod http;
pub mod settings;
pub mod startup;
