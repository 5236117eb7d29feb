//! Aghanim's reconcile source: the subscriptions of a player (`GET /s2s/v1/players/{player_id}/subscriptions`,
//! paged with `limit`/`offset`: Aghanim's default page is 10). Aghanim has no listing of all subscriptions, so a
//! subscription of a player Tollgate has never seen cannot be found; nor does its S2S API list a player's items, so
//! item entitlements are kept by webhooks alone.
//!
//! `effective` is left unset (all subscriptions): a subscription that has ended is exactly what must revoke a stored
//! one, and `effective=true` would hide it.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tollgate_policy::{EventKind, Provider, ProviderEvent};

use super::api::{AghanimApi, AghanimSubscription, SubscriptionQuery};
use crate::http::{ApiFuture, CallContext};
use crate::reconcile::{SnapshotItem, SubjectListing};

/// The largest page asked for (the OpenAPI states no maximum; pages stay small like Dodo's).
const MAX_PAGE: u32 = 100;

/// Statuses after which a subscription's benefits are over (Aghanim: `canceled` stays active until
/// `effective_until`, then becomes `expired`; the OpenAPI adds `ended`).
const OVER: &[&str] = &["expired", "ended"];

/// The subscriptions of each player, through an Aghanim API client.
#[derive(Clone)]
pub struct AghanimListing {
    api: Arc<dyn AghanimApi>,
}

impl AghanimListing {
    pub fn new(api: Arc<dyn AghanimApi>) -> AghanimListing {
        AghanimListing { api }
    }
}

impl fmt::Debug for AghanimListing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AghanimListing").finish_non_exhaustive()
    }
}

impl SubjectListing for AghanimListing {
    fn provider(&self) -> Provider {
        Provider::Aghanim
    }

    fn max_page(&self) -> u32 {
        MAX_PAGE
    }

    fn subject_label(&self, subject: &str) -> String {
        format!("aghanim player {subject}")
    }

    fn page<'a>(
        &'a self,
        ctx: &'a CallContext,
        subject: &'a str,
        offset: u32,
        limit: u32,
        observed_at: DateTime<Utc>,
    ) -> ApiFuture<'a, Vec<Option<SnapshotItem>>> {
        Box::pin(async move {
            let query = SubscriptionQuery {
                limit,
                offset,
                effective: None,
            };
            let subscriptions = self.api.list_player_subscriptions(ctx, subject, query).await?;
            Ok(subscriptions
                .iter()
                .map(|subscription| snapshot(subscription, subject, observed_at))
                .collect())
        })
    }
}

/// The subscription as an event. Aghanim's status strings are informational for access (the policy grants on any
/// of them until `effective_until`), so a subscription that is over becomes the `Deactivated` its
/// `subscription.deactivated` webhook would have produced, which revokes at once, as that webhook does.
fn snapshot(
    subscription: &AghanimSubscription,
    player: &str,
    observed_at: DateTime<Utc>,
) -> Option<SnapshotItem> {
    let mut event: ProviderEvent = subscription.snapshot_event(player, observed_at)?;
    if let EventKind::Updated {
        status, paid_through, ..
    } = &event.kind
        && OVER.iter().any(|over| over.eq_ignore_ascii_case(status.trim()))
    {
        event.kind = EventKind::Deactivated {
            reason: None,
            status: Some(status.clone()),
            paid_through: *paid_through,
        };
    }
    Some(SnapshotItem {
        label: format!("aghanim subscription {} of player {player}", subscription.id),
        event,
    })
}
