//! `tollgate inbox list|show|replay`: the stored webhook deliveries, read and replayed straight from the database
//! (the server need not run).

use std::io::Write as _;
use std::sync::Arc;

use tollgate_service::clock::SystemClock;
use tollgate_service::ingest::{Ingest, IngestError, IngestOutcome, WebhookSecrets};
use tollgate_service::query::{InboxItem, MAX_INBOX_PAGE, Query};
use tollgate_store::{InboxFilter, InboxId, InboxStatus, Store};

use crate::cli::migrate::open_migrated;
use crate::cli::table::{Table, or_dash};
use crate::cli::{CliError, InboxCommand, InboxListArgs, InboxReplayArgs, InboxShowArgs, print_json};
use crate::settings::Settings;

pub fn run(settings: &Settings, command: InboxCommand) -> Result<(), CliError> {
    let store = open_migrated(settings)?;
    match command {
        InboxCommand::List(args) => list(settings, store, &args),
        InboxCommand::Show(args) => show(settings, store, &args),
        InboxCommand::Replay(args) => replay(settings, store, &args),
        InboxCommand::Import(args) => crate::cli::inbox_import::run(settings, store, &args),
    }
}

fn query(settings: &Settings, store: Store) -> Query {
    Query::new(store, Arc::new(settings.policy.clone()), Arc::new(SystemClock))
}

fn parse_status(status: &str) -> Result<InboxStatus, CliError> {
    match status.trim().to_ascii_lowercase().as_str() {
        "received" => Ok(InboxStatus::Received),
        "processed" => Ok(InboxStatus::Processed),
        "ignored" => Ok(InboxStatus::Ignored),
        "failed" => Ok(InboxStatus::Failed),
        other => Err(CliError::Usage(format!(
            "unknown inbox status `{other}`: expected received, processed, ignored or failed"
        ))),
    }
}

fn list(settings: &Settings, store: Store, args: &InboxListArgs) -> Result<(), CliError> {
    if args.limit == 0 || args.limit > MAX_INBOX_PAGE {
        return Err(CliError::Usage(format!(
            "--limit must be between 1 and {MAX_INBOX_PAGE}"
        )));
    }
    let filter = InboxFilter {
        provider: args.provider,
        status: args.status.as_deref().map(parse_status).transpose()?,
        after_id: args.after.map(InboxId),
        limit: args.limit,
    };
    let items = query(settings, store).list_inbox(&filter)?;
    if args.json {
        return print_json(&serde_json::json!({ "events": items }));
    }
    if items.is_empty() {
        println!("no stored webhook deliveries match");
        return Ok(());
    }
    let mut table = Table::new(&[
        "ID",
        "PROVIDER",
        "EVENT TYPE",
        "STATUS",
        "RECEIVED",
        "ATTEMPTS",
        "ENTITLEMENT",
        "ERROR",
    ]);
    for item in &items {
        table.row(vec![
            item.id.to_string(),
            item.provider.to_string(),
            item.event_type.clone(),
            item.status.to_owned(),
            item.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            item.attempts.to_string(),
            or_dash(item.entitlement_id.as_ref()),
            or_dash(item.last_error.as_ref()),
        ]);
    }
    print!("{}", table.render());
    if let Some(last) = items.last().filter(|_| items.len() == args.limit as usize) {
        println!("more may follow: add --after {}", last.id);
    }
    Ok(())
}

fn show(settings: &Settings, store: Store, args: &InboxShowArgs) -> Result<(), CliError> {
    let id = InboxId(args.id);
    if args.body {
        let event = store.find_inbox_event(id)?.ok_or_else(|| not_found(id))?;
        eprintln!(
            "warning: this body holds customer data (emails, license keys); keep it out of tickets, chats and logs"
        );
        let mut out = std::io::stdout().lock();
        out.write_all(&event.body)
            .and_then(|()| out.flush())
            .map_err(|e| CliError::Failed(format!("cannot write the body: {e}")))?;
        return Ok(());
    }
    let item = query(settings, store)
        .find_inbox_event(id, false)?
        .ok_or_else(|| not_found(id))?;
    if args.json {
        return print_json(&item);
    }
    print!("{}", describe(&item));
    println!("(add --body to print the decrypted body; it holds customer data)");
    Ok(())
}

fn describe(item: &InboxItem) -> String {
    let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let rows = [
        ("id", item.id.to_string()),
        ("provider", item.provider.to_string()),
        ("event type", item.event_type.clone()),
        ("status", item.status.to_owned()),
        ("dedupe key", item.dedupe_key.clone()),
        ("semantic key", or_dash(item.semantic_key.as_ref())),
        ("webhook id", or_dash(item.webhook_id.as_ref())),
        ("signed at", or_dash(item.signed_at.map(time))),
        ("received at", time(item.received_at)),
        ("processed at", or_dash(item.processed_at.map(time))),
        ("attempts", item.attempts.to_string()),
        ("entitlement", or_dash(item.entitlement_id.as_ref())),
        ("last error", or_dash(item.last_error.as_ref())),
    ];
    rows.iter()
        .map(|(name, value)| format!("{name:<13} {value}\n"))
        .collect()
}

fn replay(settings: &Settings, store: Store, args: &InboxReplayArgs) -> Result<(), CliError> {
    // A replay re-parses stored bodies; it verifies no signature, so it needs no webhook secret.
    let ingest = settings.providers.configure_ingest(
        Ingest::new(store, &WebhookSecrets::default(), Arc::new(SystemClock)).map_err(ingest_error)?,
    );
    if let Some(id) = args.id {
        let outcome = ingest.replay(InboxId(id)).map_err(ingest_error)?;
        println!("{}", describe_outcome(&outcome));
        return match outcome {
            IngestOutcome::Failed { .. } => Err(CliError::Failed(format!(
                "inbox event {id} still fails; fix the cause (often: upgrade Tollgate) and replay it again"
            ))),
            _ => Ok(()),
        };
    }
    let results = ingest.replay_failed(args.provider).map_err(ingest_error)?;
    if results.is_empty() {
        println!("no failed deliveries to replay");
        return Ok(());
    }
    let mut still_failing = 0;
    for (id, result) in &results {
        match result {
            Ok(outcome) => {
                if matches!(outcome, IngestOutcome::Failed { .. }) {
                    still_failing += 1;
                }
                println!("{}", describe_outcome(outcome));
            }
            Err(e) => {
                still_failing += 1;
                println!("{id}: error: {e}");
            }
        }
    }
    println!("replayed {}: {} still failing", results.len(), still_failing);
    if still_failing > 0 {
        return Err(CliError::Failed(format!(
            "{still_failing} of {} replayed deliveries still fail (see above)",
            results.len()
        )));
    }
    Ok(())
}

fn describe_outcome(outcome: &IngestOutcome) -> String {
    match outcome {
        IngestOutcome::Applied {
            inbox_id,
            event_type,
            entitlement_id,
            external_id,
        } => format!("{inbox_id}: {event_type} applied to {external_id} ({entitlement_id})"),
        IngestOutcome::Ignored { inbox_id, event_type } => {
            format!("{inbox_id}: {event_type} is not acted on (ignored)")
        }
        IngestOutcome::Failed {
            inbox_id,
            event_type,
            error,
        } => format!("{inbox_id}: {event_type} failed again: {error}"),
        IngestOutcome::Duplicate { inbox_id, event_type } => format!("{inbox_id}: {event_type} duplicate"),
        other => format!("{}: {} {}", other.inbox_id(), other.event_type(), other.as_str()),
    }
}

fn ingest_error(e: IngestError) -> CliError {
    match e {
        IngestError::Storage(e) => CliError::Store(e),
        IngestError::NotFound(id) => not_found(id),
        other => CliError::Failed(other.to_string()),
    }
}

fn not_found(id: InboxId) -> CliError {
    CliError::NotFound(format!(
        "no stored webhook delivery with id {id}: `tollgate inbox list` shows the ids"
    ))
}
