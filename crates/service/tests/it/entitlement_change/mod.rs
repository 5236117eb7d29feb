//! The fold (`tollgate_service::entitlement_change`) over a real store: a delivery is applied once and audited with
//! the fold's wording, a replay folds again, a batch's results and states equal storing its deliveries one by one,
//! and a batch runs a handful of statements whatever its size.

mod aghanim;
mod batch;
mod batch_statements;
mod concurrency;
pub mod fixtures;
mod inbox;
