//! `tollgate keys rotate`: add the next lease signing key and retire the current one. Running servers pick the new
//! key up within 30 s; the retired key stays in `/.well-known/jwks.json` until the last lease it signed expires.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use clap::Subcommand;
use tollgate_service::clock::SystemClock;
use tollgate_service::lease::{LeaseError, LeaseSigner, REFRESH_EVERY, longest_lease};

use crate::cli::CliError;
use crate::cli::migrate::open_migrated;
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Sign new leases with a new key; keep publishing the old one until its leases expire.
    #[command(
        after_help = "Safe while servers run, on any number of instances: each picks the new key up within 30 s \
                      and two rotations at once add one key. Rotate after a suspected leak of the database and \
                      its keys, or on a schedule.\n\nExample:\n  tollgate keys rotate"
    )]
    Rotate,
}

pub fn run(settings: &Settings, command: &KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::Rotate => rotate(settings),
    }
}

fn lease_error(e: LeaseError) -> CliError {
    match e {
        LeaseError::Storage(store) => CliError::Store(store),
        other => CliError::Failed(format!("the lease keys could not be rotated: {other}")),
    }
}

fn rotate(settings: &Settings) -> Result<(), CliError> {
    let store = open_migrated(settings)?;
    let lifetime = longest_lease(&settings.policy);
    let signer = LeaseSigner::load_or_create(
        &store,
        settings.lease.issuer.trim(),
        lifetime,
        Arc::new(SystemClock),
    )
    .map_err(lease_error)?;
    let old = signer.current_kid().unwrap_or_else(|| "-".to_owned());
    let kid = signer.rotate().map_err(lease_error)?;
    let slack = TimeDelta::from_std(REFRESH_EVERY).unwrap_or_default();
    let until = (Utc::now() + lifetime + slack).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    println!("new leases are signed with {kid} (running servers switch within 30 s)");
    println!(
        "{old} stays published in /.well-known/jwks.json until {until}, when the last lease it signed expires"
    );
    Ok(())
}
