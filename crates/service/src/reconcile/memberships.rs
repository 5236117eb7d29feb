//! The memberships pass (Whop's shape): every membership of the configured company (`GET /api/v1/memberships?company_id=...`, which Whop
//! needs with an API key), cursor page by cursor page (`first`/`after`); then the device bindings whose last write
//! to Whop failed are written again (`whop_mirror.rs`). Without `providers.whop.company_id` the pass is skipped (and
//! `tollgate doctor` lists it as pending), never a failing call every 15 minutes.
//!
//! The cursor of the next page is saved (`Store::set_cursor`) after each page, and cleared at the end, so a pass
//! cut short (Whop down, rate limit, shutdown) resumes at the page it had reached instead of starting over. A saved
//! cursor Whop no longer accepts is dropped and the pass starts from the first page.

use std::sync::Arc;

use tollgate_providers::whop::{WhopApi, WhopListQuery, WhopMembership};

use super::ReconcileError;
use super::pass::{Flow, Pass};
use super::repair::Snapshot;
use crate::license::ProviderRelease;
use crate::view::StoredExtras;
use crate::whop_mirror::WhopMirror;

/// Pending bindings repaired per pass at most (each costs two Whop calls).
const MIRROR_REPAIRS_PER_PASS: u32 = 100;

pub(super) async fn run(pass: &mut Pass<'_>, api: Arc<dyn WhopApi>) -> Result<(), ReconcileError> {
    if api.company_id().is_none() {
        log::info!(
            provider = "whop";
            "Whop reconciliation skipped: set providers.whop.company_id (TOLLGATE_PROVIDERS__WHOP__COMPANY_ID) to the \
             biz_... id of your Whop company"
        );
        return Ok(());
    }
    list_memberships(pass, &api).await?;
    if pass.reconciler.inner.options.mirror_whop_bindings {
        repair_mirrors(pass, api).await?;
    }
    Ok(())
}

async fn list_memberships(pass: &mut Pass<'_>, api: &Arc<dyn WhopApi>) -> Result<(), ReconcileError> {
    let provider = pass.provider();
    let saved = pass
        .reconciler
        .db(move |s| s.find_cursor(provider))
        .await?
        .filter(|cursor| !cursor.is_empty());
    let mut resuming = saved.is_some();
    let mut query = WhopListQuery {
        after: saved,
        first: Some(pass.page_size()),
    };
    loop {
        let observed_at = pass.now();
        let page = match api.list_memberships(&pass.ctx, &query).await {
            Ok(page) => page,
            Err(error) if resuming && !error.is_unavailable() => {
                log::warn!(provider = "whop", error:% = error; "the saved reconciliation cursor was refused; starting over");
                resuming = false;
                query.after = None;
                continue;
            }
            Err(error) => {
                pass.failed("whop list_memberships", &error);
                return Ok(());
            }
        };
        resuming = false;
        for membership in page.memberships {
            match snapshot(&membership, observed_at) {
                Some(snapshot) => pass.examine(snapshot, observed_at).await?,
                None => pass.ignore(),
            }
        }
        let next = match page.next_cursor {
            None => {
                save_cursor(pass, String::new()).await?;
                return Ok(());
            }
            Some(next) if query.after.as_ref() == Some(&next) => {
                pass.report.errors.push(format!(
                    "whop list_memberships: the cursor did not advance past {next}"
                ));
                save_cursor(pass, String::new()).await?;
                return Ok(());
            }
            Some(next) => next,
        };
        save_cursor(pass, next.clone()).await?;
        query.after = Some(next);
        if pass.renew().await? == Flow::Stop {
            return Ok(());
        }
    }
}

/// Write again the bindings whose last write to Whop failed (`pending`), oldest first.
async fn repair_mirrors(pass: &mut Pass<'_>, whop: Arc<dyn WhopApi>) -> Result<(), ReconcileError> {
    let pending = pass
        .reconciler
        .db(|s| s.list_pending_mirrors(MIRROR_REPAIRS_PER_PASS))
        .await?;
    let mirror = WhopMirror {
        store: pass.reconciler.inner.store.clone(),
        whop,
        clock: pass.reconciler.inner.clock.clone(),
    };
    for id in pending {
        let Some(entitlement) = pass.reconciler.db(move |s| s.find_entitlement_by_id(&id)).await? else {
            continue;
        };
        if entitlement.state.provider != pass.provider() {
            continue;
        }
        match mirror.rewrite(&pass.ctx, &entitlement).await {
            ProviderRelease::Released => pass.report.mirrors_repaired += 1,
            ProviderRelease::Pending => pass.report.errors.push(format!(
                "whop binding of {} still not written",
                entitlement.state.external_id
            )),
            _ => {}
        }
    }
    Ok(())
}

async fn save_cursor(pass: &Pass<'_>, cursor: String) -> Result<(), ReconcileError> {
    let (provider, now) = (pass.provider(), pass.now());
    pass.reconciler
        .db(move |s| s.set_cursor(provider, &cursor, now))
        .await
}

fn snapshot(membership: &WhopMembership, observed_at: chrono::DateTime<chrono::Utc>) -> Option<Snapshot> {
    let event = membership.snapshot_event(observed_at)?;
    let extras = StoredExtras {
        plan_id: membership.plan_id.clone(),
        ..StoredExtras::default()
    };
    Some(Snapshot {
        label: format!("whop membership {}", membership.id),
        event,
        license_key: membership.license_key.as_ref().map(|k| k.expose().to_owned()),
        extras: extras.to_json(),
    })
}
