//! Whop: current (v1, Standard Webhooks) and legacy (v2/v5, `X-Whop-Signature`) webhooks, the Current-API client,
//! and the device binding Tollgate mirrors into a membership's metadata.

mod adapter;
mod api;
pub mod binding;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "fake")]
mod fake_dev;
mod membership;
pub mod sample;
mod simulate;
mod texts;
pub(crate) mod webhook;

pub use adapter::WhopAdapter;
pub use api::{
    DEFAULT_API_VERSION, MembershipRef, WhopApi, WhopClient, WhopListQuery, WhopMembershipPage, WhopOptions,
    WhopProbe, is_api_version,
};
pub use membership::WhopMembership;
