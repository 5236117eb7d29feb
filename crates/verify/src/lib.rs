#![doc = include_str!("../README.md")]

mod error;
mod headers;
mod hex_hmac;
mod keys;
mod sign;
mod standard;
mod tolerance;
mod verified;
mod whop;

pub use error::{Header, SecretProblem, VerifyError};
pub use headers::HeaderLookup;
pub use hex_hmac::{HexHmacHeaders, HexHmacVerifier};
pub use sign::{sign_hex_hmac, sign_standard_webhooks, sign_whop, sign_whop_legacy};
pub use standard::StandardWebhooksVerifier;
pub use tolerance::Tolerance;
pub use verified::{Scheme, Verified};
pub use whop::WhopVerifier;
