//! The pass of a provider whose listing is per subject ([`SubjectListing`]): the items of every subject Tollgate
//! holds an entitlement of that provider for, page by page. Such a listing cannot find a subject Tollgate has never
//! seen.

use tollgate_providers::SubjectListing;

use super::ReconcileError;
use super::pass::{Flow, Pass};
use super::repair::Snapshot;

pub(super) async fn run(pass: &mut Pass<'_>, listing: &dyn SubjectListing) -> Result<(), ReconcileError> {
    let provider = pass.provider();
    let subjects = pass.reconciler.db(move |s| s.list_subjects(provider)).await?;
    let limit = pass.page_size().min(listing.max_page());
    'subjects: for subject in &subjects {
        let mut offset = 0;
        loop {
            let observed_at = pass.now();
            let items = match listing.page(&pass.ctx, subject, offset, limit, observed_at).await {
                Ok(items) => items,
                Err(error) => {
                    if pass.failed(&listing.subject_label(subject), &error) == Flow::Stop {
                        return Ok(());
                    }
                    continue 'subjects;
                }
            };
            let last = items.len() < limit as usize;
            for item in items {
                match item {
                    Some(item) => {
                        let snapshot = Snapshot {
                            event: item.event,
                            license_key: None,
                            extras: None,
                            label: item.label,
                        };
                        pass.examine(snapshot, observed_at).await?;
                    }
                    None => pass.ignore(),
                }
            }
            if pass.renew().await? == Flow::Stop {
                return Ok(());
            }
            if last {
                break;
            }
            offset = offset.saturating_add(limit);
        }
    }
    Ok(())
}
