#![doc = include_str!("../README.md")]

pub mod clock;
pub mod console_session;
pub mod entitlement_change;
pub mod ingest;
pub mod lease;
pub mod license;
pub mod query;
pub mod reconcile;
pub mod support;
pub mod view;
mod whop_mirror;
