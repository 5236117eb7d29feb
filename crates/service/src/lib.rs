#![doc = include_str!("../README.md")]

pub mod clock;
pub mod ingest;
pub mod lease;
pub mod license;
pub mod query;
pub mod reconcile;
pub mod view;
mod whop_mirror;
