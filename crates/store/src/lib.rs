#![doc = include_str!("../README.md")]

mod audit;
mod binding_mirror;
mod checkpoint;
mod connection;
mod console;
mod coordination;
mod database_url;
mod device;
mod device_repair;
mod entitlement;
mod entitlement_batch;
mod error;
mod ids;
mod inbox;
mod inbox_batch;
mod keys;
mod planned;
mod pool_errors;
mod schema;
mod signing_key;
mod store;
#[cfg(feature = "test-support")]
pub mod test_support;
mod time;
mod unit_of_work;
mod versions;

pub use audit::{Actor, AuditEntry, AuditQuery, NewAudit};
pub use binding_mirror::{BindingMirror, MirrorState};
pub use checkpoint::{DEFAULT_CHECKPOINT_PAGES, WalCheckpoints};
pub use connection::{
    ConnectError, ConnectionManager, DbConnection, PRIVATE_FILE_MODE, SqliteSync, loose_mode, restrict_files,
    sqlite_files,
};
pub use console::{ConsoleSession, InboxPage};
pub use coordination::LockHolder;
pub use database_url::DatabaseUrl;
pub use device::{Device, NewDevice, Transfer};
pub use entitlement::{Entitlement, EntitlementChange, EntitlementUpdate};
pub use entitlement_batch::{EntitlementKey, LockedEntitlement, LockedEntitlements};
pub use error::{Cause, Result, StoreError};
pub use ids::{DeviceId, EntitlementId, InboxId};
pub use inbox::{
    InboxEffect, InboxEvent, InboxFilter, InboxStatus, NewInboxEvent, RecordOutcome, SealedDelivery,
};
pub use inbox_batch::InboxInsert;
pub use keys::{HwidHash, LicenseKeyHash, StoreKeys, StoredData};
pub use signing_key::{NewSigningKey, PrivateKeyBytes, SigningKey};
pub use store::{PoolUse, Store, StoreConfig};
pub use unit_of_work::{WriteError, WriteTx};
