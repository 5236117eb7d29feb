//! The scenarios of `run`, one file each.

pub mod activate;
pub mod ingest;
pub mod validate;
