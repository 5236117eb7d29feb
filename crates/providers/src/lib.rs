#![doc = include_str!("../README.md")]

pub mod aghanim;
pub mod dodo;
mod error;
mod http;
mod payload;
mod time;
mod webhook;
pub mod whop;

pub use error::{ApiError, ParseError, UnreachableCause};
pub use http::{ApiFuture, ApiKey, CallContext, ClientConfig, ProviderNotice, RetryPolicy, is_loopback_base};
pub use webhook::{
    DeliveryMeta, EntitlementChange, Extras, LicenseKey, Outcome, ParsedWebhook, Refusal, RefusalCode,
    parse_webhook,
};
