//! Aghanim: `X-Aghanim-Signature` webhooks (`subscription.*`, `item.add`, `item.remove`) and the S2S API client.

mod adapter;
mod api;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "fake")]
mod fake_dev;
mod items;
mod options;
mod reconcile;
pub mod sample;
mod simulate;
mod texts;
pub(crate) mod webhook;

pub use adapter::AghanimAdapter;
pub use api::{AghanimApi, AghanimClient, AghanimSubscription, SubscriptionQuery};
pub use items::{ITEM_KIND, ITEM_REMOVED, ItemAction, ItemDelivery, ItemLine, item_external_id};
pub use options::{AghanimOptions, SANDBOX_NOTE};
pub use reconcile::AghanimListing;
