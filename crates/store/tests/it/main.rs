//! Store tests, one binary. Every body in `both(..)` runs on SQLite and on PostgreSQL (see `common`).

mod backend;
mod checkpoints;
mod common;
mod console;
mod device_repair;
mod durability;
mod reconcile_queries;
mod records;
mod seed;
mod unit_of_work;
mod versions;
