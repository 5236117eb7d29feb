//! Dodo Payments: Standard Webhooks payloads (`entitlement_grant.*`, `subscription.*`, ...) and the API client.

mod adapter;
mod api;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "fake")]
mod fake_dev;
mod model;
pub mod sample;
mod simulate;
mod texts;
pub(crate) mod webhook;

pub use adapter::DodoAdapter;
pub use api::{
    DodoActivation, DodoApi, DodoClient, DodoDeactivation, DodoGrantQuery, DodoInstanceQuery, DodoPageQuery,
    DodoValidation, LIMIT_REACHED_CODE,
};
pub use model::{DodoGrant, DodoInstance, DodoSubscription};
