//! The Aghanim pass: the subscriptions of every player Tollgate holds an Aghanim entitlement for
//! (`GET /s2s/v1/players/{player_id}/subscriptions`, paged with `limit`/`offset`: Aghanim's default page is 10).
//! Aghanim has no listing of all subscriptions, so a subscription of a player Tollgate has never seen cannot be
//! found here; nor does its S2S API list a player's items, so item entitlements are kept by webhooks alone.
//!
//! `effective` is left unset (all subscriptions): a subscription that has ended is exactly what must revoke a stored
//! one, and `effective=true` would hide it.

use chrono::{DateTime, Utc};
use tollgate_policy::{EventKind, Provider, ProviderEvent};
use tollgate_providers::aghanim::{AghanimSubscription, SubscriptionQuery};

use super::ReconcileError;
use super::pass::{Flow, Pass};
use super::repair::Snapshot;

/// The largest page asked for (the OpenAPI states no maximum; pages stay small like Dodo's).
const MAX_PAGE: u32 = 100;

/// Statuses after which a subscription's benefits are over (Aghanim: `canceled` stays active until
/// `effective_until`, then becomes `expired`; the OpenAPI adds `ended`).
const OVER: &[&str] = &["expired", "ended"];

pub(super) async fn run(pass: &mut Pass<'_>) -> Result<(), ReconcileError> {
    let Some(api) = pass.reconciler.inner.apis.aghanim.clone() else {
        return Ok(());
    };
    let players = pass.reconciler.db(|s| s.list_subjects(Provider::Aghanim)).await?;
    let limit = pass.page_size().min(MAX_PAGE);
    'players: for player in &players {
        let mut query = SubscriptionQuery::first(limit);
        loop {
            let observed_at = pass.now();
            let subscriptions = match api.list_player_subscriptions(&pass.ctx, player, query).await {
                Ok(subscriptions) => subscriptions,
                Err(error) => {
                    if pass.failed(&format!("aghanim player {player}"), &error) == Flow::Stop {
                        return Ok(());
                    }
                    continue 'players;
                }
            };
            let last = subscriptions.len() < limit as usize;
            for subscription in subscriptions {
                match snapshot(&subscription, player, observed_at) {
                    Some(snapshot) => pass.examine(snapshot, observed_at).await?,
                    None => pass.ignore(),
                }
            }
            if pass.renew().await? == Flow::Stop {
                return Ok(());
            }
            if last {
                break;
            }
            query = query.next();
        }
    }
    Ok(())
}

/// The subscription as an event. Aghanim's status strings are informational for access (the policy grants on any
/// of them until `effective_until`), so a subscription that is over becomes the `Deactivated` its
/// `subscription.deactivated` webhook would have produced, which revokes at once, as that webhook does.
fn snapshot(
    subscription: &AghanimSubscription,
    player: &str,
    observed_at: DateTime<Utc>,
) -> Option<Snapshot> {
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
    Some(Snapshot {
        label: format!("aghanim subscription {} of player {player}", subscription.id),
        event,
        license_key: None,
        extras: None,
    })
}
