#![doc = include_str!("../README.md")]

mod adapter;
pub mod aghanim;
pub mod dodo;
mod error;
mod http;
mod payload;
mod reconcile;
mod registry;
mod setup;
mod texts;
mod time;
mod webhook;
pub mod whop;

pub use adapter::{ProviderAdapter, ProviderVerifier, SignatureVerifier};
pub use aghanim::ItemDelivery;
pub use error::{ApiError, ParseError, UnreachableCause};
pub use http::{ApiFuture, ApiKey, CallContext, ClientConfig, ProviderNotice, RetryPolicy, is_loopback_base};
pub use reconcile::{SnapshotItem, SubjectListing};
pub use registry::Registry;
pub use setup::SetupGuide;
pub use texts::{HeaderDoc, Naming, WebhookDoc};
pub use webhook::{
    DeliveryMeta, EntitlementChange, Extras, LicenseKey, Outcome, ParsedWebhook, Refusal, RefusalCode,
    parse_webhook,
};
