//! The Whop pass: every membership of `GET /api/v1/memberships`, cursor page by cursor page.
//!
//! The cursor of the next page is saved (`Store::set_cursor`) after each page, and cleared at the end, so a pass
//! cut short (Whop down, rate limit, shutdown) resumes at the page it had reached instead of starting over. A saved
//! cursor Whop no longer accepts is dropped and the pass starts from the first page.

use tollgate_policy::Provider;
use tollgate_providers::whop::{WhopListQuery, WhopMembership};

use super::ReconcileError;
use super::pass::{Flow, Pass};
use super::repair::Snapshot;
use crate::view::StoredExtras;

pub(super) async fn run(pass: &mut Pass<'_>) -> Result<(), ReconcileError> {
    let Some(api) = pass.reconciler.inner.apis.whop.clone() else {
        return Ok(());
    };
    let saved = pass
        .reconciler
        .db(|s| s.find_cursor(Provider::Whop))
        .await?
        .filter(|cursor| !cursor.is_empty());
    let mut resuming = saved.is_some();
    let mut query = WhopListQuery {
        after: saved,
        first: Some(pass.page_size()),
        company_id: None,
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

async fn save_cursor(pass: &Pass<'_>, cursor: String) -> Result<(), ReconcileError> {
    let now = pass.now();
    pass.reconciler
        .db(move |s| s.set_cursor(Provider::Whop, &cursor, now))
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
