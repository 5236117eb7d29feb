#![doc = include_str!("../README.md")]

mod aghanim;
mod error;
mod headers;
mod keys;
mod sign;
mod standard;
mod tolerance;
mod verified;
mod whop;

pub use aghanim::AghanimVerifier;
pub use error::{Header, SecretProblem, VerifyError};
pub use headers::HeaderLookup;
pub use sign::{sign_aghanim, sign_standard_webhooks, sign_whop, sign_whop_legacy};
pub use standard::StandardWebhooksVerifier;
pub use tolerance::Tolerance;
pub use verified::{Scheme, Verified};
pub use whop::WhopVerifier;
