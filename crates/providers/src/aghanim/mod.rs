//! Aghanim: `X-Aghanim-Signature` webhooks (`subscription.*`) and the S2S API client.

mod api;
pub(crate) mod webhook;

pub use api::{AghanimApi, AghanimClient, AghanimSubscription};
