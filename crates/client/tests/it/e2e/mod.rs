//! End-to-end: the client's real HTTP stack against the real Tollgate app (`tollgate::app::configure`) on a loopback
//! port, with the fake Whop from `tollgate-testkit` behind it.

mod demo;
mod device_claim;
mod keep_alive;
mod license;
mod provider_down;
mod server;
