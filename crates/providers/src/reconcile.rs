//! What reconciliation reads from a provider whose listing is per subject (a player): pages of snapshot items that
//! the service compares with the store. The service drives the subjects, the paging, the lock and the store; the
//! provider's folder implements [`SubjectListing`].

use std::fmt;

use chrono::{DateTime, Utc};
use tollgate_policy::{Provider, ProviderEvent};

use crate::http::{ApiFuture, CallContext};

/// One listed item as the event its webhook would have produced, observed when its page was fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotItem {
    /// How the audit row and the report name the item.
    pub label: String,
    pub event: ProviderEvent,
}

/// A provider's listing of one subject's entitlements, page by page (`offset`, `limit`).
pub trait SubjectListing: Send + Sync + fmt::Debug {
    /// The provider listed.
    fn provider(&self) -> Provider;

    /// The largest page the provider is asked for.
    fn max_page(&self) -> u32;

    /// How a failed listing of `subject` is named in the report and the logs.
    fn subject_label(&self, subject: &str) -> String;

    /// One page of `subject`'s items from `offset`: each as a snapshot, or `None` for an item without the facts to
    /// compare. A page shorter than `limit` is the last.
    fn page<'a>(
        &'a self,
        ctx: &'a CallContext,
        subject: &'a str,
        offset: u32,
        limit: u32,
        observed_at: DateTime<Utc>,
    ) -> ApiFuture<'a, Vec<Option<SnapshotItem>>>;
}
