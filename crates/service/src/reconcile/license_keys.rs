//! The license-keys pass (Dodo's shape): the grants of every known entitlement (`GET /entitlements/{id}/grants`), then every subscription
//! (`GET /subscriptions`), page number by page number; then the devices against Dodo's license key instances
//! (`instances.rs`).
//!
//! The entitlements listed are the configured `dodo_entitlement_ids` plus the `ent_...` products of stored Dodo
//! grants. No cursor is kept: page numbers shift as items are added, so a saved page is no reliable resume point,
//! and a pass restarts from page 0.

use std::collections::BTreeSet;

use tollgate_providers::dodo::{DodoApi, DodoGrantQuery, DodoPageQuery};

use super::ReconcileError;
use super::pass::{Flow, Pass};
use super::repair::Snapshot;

/// Dodo's largest page.
const MAX_PAGE: u32 = 100;
/// The prefix of a Dodo entitlement id (a product is `pdt_...`).
const ENTITLEMENT_PREFIX: &str = "ent_";

pub(super) async fn run(pass: &mut Pass<'_>, api: &dyn DodoApi) -> Result<(), ReconcileError> {
    let provider = pass.provider();
    let stored = pass.reconciler.db(move |s| s.list_products(provider)).await?;
    let entitlements: BTreeSet<String> = pass
        .reconciler
        .inner
        .options
        .dodo_entitlement_ids
        .iter()
        .cloned()
        .chain(stored.into_iter().filter(|p| p.starts_with(ENTITLEMENT_PREFIX)))
        .collect();
    for entitlement in &entitlements {
        if grants(pass, api, entitlement).await? == Flow::Stop {
            return Ok(());
        }
    }
    if subscriptions(pass, api).await? == Flow::Stop {
        return Ok(());
    }
    super::instances::run(pass, api).await
}

fn page(pass: &Pass<'_>, page_number: u32) -> DodoPageQuery {
    DodoPageQuery {
        page_number,
        page_size: Some(pass.page_size().min(MAX_PAGE)),
    }
}

/// One entitlement's grants. `Stop` when Dodo cannot be reached (the rest of the pass is skipped).
async fn grants(pass: &mut Pass<'_>, api: &dyn DodoApi, entitlement: &str) -> Result<Flow, ReconcileError> {
    let mut query = DodoGrantQuery::default();
    for page_number in 0.. {
        query.page = page(pass, page_number);
        let observed_at = pass.now();
        let grants = match api.list_grants(&pass.ctx, entitlement, &query).await {
            Ok(grants) => grants,
            Err(error) => return Ok(pass.failed(&format!("dodo list_grants {entitlement}"), &error)),
        };
        let last = grants.len() < query.page.page_size.map_or(1, |s| s as usize);
        for grant in grants {
            let Some(event) = grant.snapshot_event(observed_at) else {
                pass.ignore();
                continue;
            };
            let snapshot = Snapshot {
                label: format!("dodo grant {}", grant.id),
                event,
                license_key: grant.license_key.as_ref().map(|k| k.expose().to_owned()),
                extras: None,
            };
            pass.examine(snapshot, observed_at).await?;
        }
        if last || pass.renew().await? == Flow::Stop {
            break;
        }
    }
    Ok(Flow::Continue)
}

/// Every subscription. `Stop` when Dodo cannot be reached or the lock was lost.
async fn subscriptions(pass: &mut Pass<'_>, api: &dyn DodoApi) -> Result<Flow, ReconcileError> {
    for page_number in 0.. {
        let query = page(pass, page_number);
        let observed_at = pass.now();
        let subscriptions = match api.list_subscriptions(&pass.ctx, query).await {
            Ok(subscriptions) => subscriptions,
            Err(error) => return Ok(pass.failed("dodo list_subscriptions", &error)),
        };
        let last = subscriptions.len() < query.page_size.map_or(1, |s| s as usize);
        for subscription in subscriptions {
            let Some(event) = subscription.snapshot_event(observed_at) else {
                pass.ignore();
                continue;
            };
            let snapshot = Snapshot {
                label: format!("dodo subscription {}", subscription.subscription_id),
                event,
                license_key: None,
                extras: None,
            };
            pass.examine(snapshot, observed_at).await?;
        }
        if last {
            break;
        }
        if pass.renew().await? == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::Continue)
}
