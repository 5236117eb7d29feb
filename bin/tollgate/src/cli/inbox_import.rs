//! `tollgate inbox import --from URL`: copy every stored webhook delivery from another Tollgate database (typically
//! the old SQLite file when moving to PostgreSQL) into the configured one, and replay each, so the entitlements are
//! rebuilt from the same events. Deliveries already present (same dedupe key) are skipped, so it can run again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tollgate_service::clock::SystemClock;
use tollgate_service::entitlement_change::record_webhook;
use tollgate_service::ingest::{Ingest, IngestError, IngestOutcome, WebhookSecrets};
use tollgate_store::{
    DatabaseUrl, InboxEffect, InboxFilter, InboxId, NewInboxEvent, RecordOutcome, Store, StoreConfig,
    StoreKeys,
};

use crate::cli::{CliError, InboxImportArgs};
use crate::settings::Settings;

/// Why an imported row is briefly `failed` before its replay settles it.
const NOT_APPLIED_YET: &str =
    "imported from another database; not applied yet (run `tollgate inbox replay --failed`)";

pub fn run(settings: &Settings, target: Store, args: &InboxImportArgs) -> Result<(), CliError> {
    let source = open_source(settings, args)?;
    let ingest = settings.providers.configure_ingest(
        Ingest::new(target.clone(), &WebhookSecrets::default(), Arc::new(SystemClock))
            .map_err(|e| CliError::Failed(e.to_string()))?,
    );
    let (mut imported, mut present, mut applied, mut ignored, mut failed) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut after_id: Option<InboxId> = None;
    loop {
        let page = source.list_inbox(&InboxFilter {
            provider: None,
            status: None,
            after_id,
            limit: 500,
        })?;
        let Some(last) = page.last() else { break };
        after_id = Some(last.id);
        for event in &page {
            let copy = NewInboxEvent {
                provider: event.provider,
                dedupe_key: event.dedupe_key.clone(),
                semantic_key: event.semantic_key.clone(),
                event_type: event.event_type.clone(),
                body: event.body.clone(),
                received_at: event.received_at,
                webhook_id: event.webhook_id.clone(),
                signed_at: event.signed_at,
            };
            let not_applied = InboxEffect::Fail(NOT_APPLIED_YET.to_owned());
            let inbox_id = match record_webhook(&target, &copy, not_applied)? {
                RecordOutcome::Duplicate { .. } => {
                    present += 1;
                    continue;
                }
                other => other.inbox_id(),
            };
            imported += 1;
            match ingest.replay(inbox_id) {
                Ok(IngestOutcome::Applied { .. }) => applied += 1,
                Ok(IngestOutcome::Failed { .. }) => failed += 1,
                // An item the provider's options here do not grant: the row stays failed, to replay once it does.
                Err(IngestError::Refused(refusal)) => {
                    println!("{inbox_id}: not applied: {refusal}");
                    failed += 1;
                }
                Err(e) => return Err(CliError::Failed(e.to_string())),
                Ok(_) => ignored += 1,
            }
        }
    }
    println!(
        "imported {imported} deliveries ({present} already present): {applied} applied, {ignored} not acted on, \
         {failed} failed"
    );
    if failed > 0 {
        println!("`tollgate inbox list --status failed` shows why; replay them after the fix");
    }
    Ok(())
}

fn open_source(settings: &Settings, args: &InboxImportArgs) -> Result<Store, CliError> {
    let url = DatabaseUrl::parse(&args.from)?;
    if let Some(path) = url.sqlite_path().filter(|path| !path.is_file()) {
        return Err(CliError::Usage(format!(
            "--from: there is no SQLite database at {}",
            path.display()
        )));
    }
    let key_file = args.key_file.clone().or_else(|| {
        url.sqlite_path().map(|path| {
            let mut name = path.as_os_str().to_owned();
            name.push(".keys");
            PathBuf::from(name)
        })
    });
    let keys = match key_file {
        Some(path) => load_existing(&path)?,
        // A PostgreSQL source without --key-file: the configured keys, shared by every instance.
        None => StoreKeys::from_base64(
            settings.database.pepper.expose(),
            settings.database.data_key.expose(),
        )?,
    };
    let source = Store::open(&StoreConfig::new(args.from.trim()), keys)?;
    if !source.is_migrated()? {
        return Err(CliError::Failed(
            "the source database is not migrated to this version: run `tollgate migrate` against it first \
             (TOLLGATE_DATABASE__URL=<source> tollgate migrate)"
                .to_owned(),
        ));
    }
    Ok(source)
}

/// The source's keys: its key file must exist (new keys could not read its stored bodies).
fn load_existing(path: &Path) -> Result<StoreKeys, CliError> {
    if !path.is_file() {
        return Err(CliError::Usage(format!(
            "the source's key file {} does not exist: give its keys with --key-file PATH",
            path.display()
        )));
    }
    Ok(StoreKeys::load_or_create(path)?)
}
