//! `tollgate reconcile [--provider P] [--json]`: compare the providers' listings with the database now, repair
//! drift, and print what changed. The same run `serve` makes every `reconcile.every`; safe while servers run (a
//! provider another instance is reconciling is reported `held`).

use std::sync::Arc;

use clap::Args;
use tollgate_policy::Provider;
use tollgate_service::clock::SystemClock;
use tollgate_service::reconcile::{PassOutcome, ReconcileError, ReconcileReport};

use crate::app::licensing::{provider_apis, reconciler};
use crate::cli::CliError;
use crate::cli::migrate::open_migrated;
use crate::http::reconcile::from_reconcile_error;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    // Only this provider (the help names the providers).
    #[arg(long, value_name = "PROVIDER", help = crate::cli::help_texts::reconcile_provider())]
    pub provider: Option<Provider>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(settings: &Settings, args: &ReconcileArgs) -> Result<(), CliError> {
    let store = open_migrated(settings)?;
    let apis = provider_apis(settings)?;
    let reconciler = reconciler(store, settings, &apis, Arc::new(SystemClock));
    if args.provider.is_none() && reconciler.providers().is_empty() {
        return Err(CliError::Usage(
            "no provider has an API key, so there is nothing to reconcile: set providers.<provider>.api_key \
             (TOLLGATE_PROVIDERS__WHOP__API_KEY, ...)"
                .to_owned(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    let report = runtime
        .block_on(reconciler.run_once(args.provider))
        .map_err(|e| match e {
            ReconcileError::NotConfigured(_) => CliError::Usage(from_reconcile_error(e).message().to_owned()),
            other => CliError::Failed(from_reconcile_error(other).message().to_owned()),
        })?;
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::Failed(format!("cannot print the report as JSON: {e}")))?;
        println!("{text}");
    } else {
        print_report(&report);
    }
    if report.has_errors() {
        return Err(CliError::Failed(
            "some provider calls failed (see above); what could be examined was repaired, run it again later"
                .to_owned(),
        ));
    }
    Ok(())
}

fn print_report(report: &ReconcileReport) {
    for pass in &report.providers {
        let outcome = match pass.outcome {
            PassOutcome::Completed => "completed",
            PassOutcome::Incomplete => "incomplete",
            PassOutcome::Held => "held by another instance",
            _ => "other",
        };
        println!(
            "{}: {outcome}; examined {}, changed {}, created {}, ignored {}",
            pass.provider, pass.examined, pass.changed, pass.created, pass.ignored
        );
        if let Some(holder) = &pass.held_by {
            println!("  lock held by {holder}");
        }
        if pass.devices_freed + pass.devices_renamed > 0 {
            println!(
                "  devices freed {}, renamed {} (against the provider's activations)",
                pass.devices_freed, pass.devices_renamed
            );
        }
        for note in &pass.notes {
            println!("  note: {note}");
        }
        for repair in &pass.repairs {
            println!(
                "  {} {}: {}",
                repair.entitlement_id, repair.external_id, repair.detail
            );
        }
        for error in &pass.errors {
            println!("  error: {error}");
        }
    }
    println!("{} entitlement(s) repaired", report.repaired());
}
