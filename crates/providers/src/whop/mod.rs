//! Whop: current (v1, Standard Webhooks) and legacy (v2/v5, `X-Whop-Signature`) webhooks, and the API client.

mod api;
mod membership;
pub(crate) mod webhook;

pub use api::{WhopApi, WhopClient, WhopListQuery, WhopMembershipPage, WhopValidation};
pub use membership::WhopMembership;
