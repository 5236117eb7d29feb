//! The verifier's integration suite: one binary, one module per signature scheme.

mod hex_hmac;
mod roundtrip;
mod standard_webhooks;
mod whop;
