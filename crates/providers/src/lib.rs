#![doc = include_str!("../README.md")]

mod adapter;
pub mod aghanim;
mod apis;
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
pub use apis::{ApiSettings, ProviderApi, ProviderApis};
pub use error::{ApiError, ParseError, UnreachableCause};
pub use http::{ApiFuture, ApiKey, CallContext, ClientConfig, ProviderNotice, RetryPolicy, is_loopback_base};
pub use reconcile::{SnapshotItem, SubjectListing};
pub use registry::Registry;
pub use setup::SetupGuide;
pub use texts::{HeaderDoc, Naming, WebhookDoc};
pub use webhook::{
    DeliveryMeta, EntitlementChange, Extras, ITEM_KIND, LicenseKey, Outcome, ParsedWebhook, Refusal,
    RefusalCode, WebhookEffect, parse_webhook,
};

impl Registry {
    /// Every provider this release speaks to, one registration line each (with default options: the binary
    /// replaces an adapter with one built from its configuration section).
    pub fn builtin() -> Registry {
        Registry::new()
            .with(whop::WhopAdapter)
            .with(dodo::DodoAdapter)
            .with(aghanim::AghanimAdapter::default())
    }
}
