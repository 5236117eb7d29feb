//! Aghanim: `X-Aghanim-Signature` webhooks (`subscription.*`, `item.add`, `item.remove`) and the S2S API client.

mod api;
mod items;
pub mod sample;
pub(crate) mod webhook;

pub use api::{AghanimApi, AghanimClient, AghanimSubscription, SubscriptionQuery};
pub use items::{ITEM_KIND, ITEM_REMOVED, ItemAction, ItemDelivery, ItemLine, item_external_id};
