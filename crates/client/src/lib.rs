#![doc = include_str!("../README.md")]

mod access;
pub mod blocking;
mod client;
mod clock;
mod device;
mod error;
mod keys;
mod lease;
mod state;
mod wire;

pub use access::{Access, AccessReason, Activation, Deactivation, License};
pub use client::{Client, ClientBuilder};
pub use clock::{Clock, ManualClock, SystemClock};
pub use device::{DeviceHash, DeviceSource};
pub use error::{Action, ClientError};
pub use keys::Keys;
pub use lease::{Audience, Lease, LeaseClaims, LeaseError, MAX_TOKEN_LEN};
pub use state::{ActivationStatus, STATE_FILE_NAME, StateFile, StoredState};
pub use wire::EntitlementInfo;
