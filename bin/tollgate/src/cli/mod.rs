//! The operator CLI: `tollgate [--config PATH] <command>`. `main` parses [`Cli`] and calls [`run`]; every command
//! returns a [`CliError`] whose exit code is [`CliError::exit_code`] (1 for a failed operation, 2 for a usage or
//! configuration problem).

#[cfg(feature = "dev")]
pub mod dev;
pub mod doctor;
mod entitlements;
mod error;
mod guide;
mod help_texts;
mod inbox;
mod inbox_import;
mod keys;
pub mod loopback;
mod migrate;
mod reconcile;
mod signing;
mod simulate;
mod table;
mod verify_webhook;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tollgate_policy::Provider;

pub use error::{CliError, EXIT_FAILED, EXIT_USAGE};

use crate::settings::{ConfigFile, Settings};

// Tollgate: a self-hosted licensing and entitlement backend for the registered providers (`about` names them).
#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = help_texts::about(),
    after_help = "Configuration layers: the embedded defaults, then tollgate.toml in the working directory (or \
                  --config PATH), then TOLLGATE_<SECTION>__<KEY> environment variables (see \
                  docs/configuration.md).\n\nExamples:\n  tollgate serve\n  tollgate doctor\n  \
                  TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET=ws_... tollgate simulate webhook --provider whop --event \
                  membership.activated\n\nExit codes: 0 success, 1 the operation failed, 2 usage or configuration \
                  error."
)]
pub struct Cli {
    /// Read this TOML file instead of ./tollgate.toml (it must exist). Environment variables still override it.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: webhooks, service and admin API, health and metrics.
    #[command(
        after_help = "Creates and migrates the database if needed, then listens on `listen` (default \
                            127.0.0.1:8080). Stops gracefully on SIGTERM or Ctrl-C.\n\nExample:\n  \
                            TOLLGATE_LISTEN=0.0.0.0:8080 tollgate serve"
    )]
    Serve,

    /// Apply pending database migrations and print which were applied.
    #[command(
        after_help = "`serve` applies migrations at start too; run this before an upgrade to see and apply \
                            them separately.\n\nExample:\n  TOLLGATE_DATABASE__URL=postgres://tollgate@db/tollgate \
                            tollgate migrate"
    )]
    Migrate,

    /// Check the setup: what is done, what is pending and how to fix it.
    #[command(
        after_help = "Works offline and changes nothing, unless --online is given: then it also makes one \
                            read call per provider with an API key. Exit code 0 when nothing is broken (pending \
                            items are fine), 1 when something is.\n\nExamples:\n  tollgate doctor\n  tollgate \
                            doctor --online\n  tollgate doctor --json | jq '.checks[] | select(.status != \"done\")'"
    )]
    Doctor(DoctorArgs),

    /// List, inspect and replay stored webhook deliveries.
    #[command(subcommand)]
    Inbox(InboxCommand),

    /// Look up entitlements with their access decision, devices and audit trail.
    #[command(subcommand)]
    Entitlements(EntitlementsCommand),

    /// Check a captured webhook delivery against the configured secrets, offline, and explain a failure.
    #[command(
        after_help = "The headers file holds `Name: value` lines, as copied from the provider's delivery log \
                            or `curl -v` (a JSON object of names to values works too). The body file must hold the \
                            exact bytes delivered.\n\nExample:\n  tollgate verify-webhook --provider dodo --headers \
                            headers.txt --body body.json"
    )]
    VerifyWebhook(VerifyWebhookArgs),

    /// Send realistic signed test webhooks to a running server.
    #[command(subcommand)]
    Simulate(SimulateCommand),

    /// Manage the lease signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),

    /// Compare the providers' listings with the database now and repair drift (the run `serve` makes every
    /// `reconcile.every`).
    #[command(
        after_help = "Safe while servers run: a provider another instance is reconciling is reported as held. \
                      Exit code 1 when a provider call failed (what could be examined was repaired).\n\nExamples:\n  \
                      tollgate reconcile\n  tollgate reconcile --provider whop --json"
    )]
    Reconcile(reconcile::ReconcileArgs),

    /// Print the OpenAPI 3.1 document of the HTTP API (the one the server serves at GET /openapi.json).
    #[command(
        after_help = "Needs no configuration and no database: the document is generated from the code. \
                      docs/openapi.json is this output, and a test fails when it is stale.\n\nExample:\n  \
                      tollgate openapi > docs/openapi.json"
    )]
    Openapi,

    // Run a complete local world to try Tollgate: a fake of each provider, demo license keys, generated secrets, and
    // the server on a SQLite file (the help texts name the providers).
    #[cfg(feature = "dev")]
    #[command(about = help_texts::dev(), after_help = help_texts::dev_details())]
    Dev(dev::DevArgs),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the checklist as JSON.
    #[arg(long)]
    pub json: bool,

    /// Also make one harmless read call per provider with an API key (Whop: list one membership of the company),
    /// to show that the key, its permissions, the company id and the pinned version work, and print any
    /// deprecation notice the provider sends.
    #[arg(long)]
    pub online: bool,
}

#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// List stored deliveries, oldest first.
    #[command(
        after_help = "Examples:\n  tollgate inbox list --status failed\n  tollgate inbox list --provider \
                            whop --limit 20 --after 120"
    )]
    List(InboxListArgs),
    /// Show one delivery's metadata (and its decrypted body with --body).
    #[command(
        after_help = "The body holds customer data (emails, license keys): print it only to debug, and do not \
                            paste it into tickets.\n\nExamples:\n  tollgate inbox show 42\n  tollgate inbox show 42 \
                            --body > body.json"
    )]
    Show(InboxShowArgs),
    /// Apply a stored delivery again (one, or every failed one).
    #[command(
        after_help = "Replay after fixing what made an event fail (a parser bug fixed by an upgrade, a \
                            database that was down). Applying is idempotent: an event already applied changes \
                            nothing.\n\nExamples:\n  tollgate inbox replay 42\n  tollgate inbox replay --failed \
                            --provider dodo"
    )]
    Replay(InboxReplayArgs),
    /// Copy every delivery from another Tollgate database into this one and apply them (moving to PostgreSQL).
    #[command(
        after_help = "Reads the source with its own keys (for SQLite, the key file beside it), stores each \
                            delivery here and replays it, so entitlements are rebuilt from the same events. Already \
                            imported deliveries are skipped, so it can run again.\n\nExample:\n  \
                            TOLLGATE_DATABASE__URL=postgres://tollgate@db/tollgate tollgate inbox import --from \
                            sqlite:///var/lib/tollgate/tollgate.db"
    )]
    Import(InboxImportArgs),
}

#[derive(Debug, Args)]
pub struct InboxListArgs {
    /// Only this status: received, processed, ignored or failed.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    // Only this provider (the help names the providers).
    #[arg(long, value_name = "PROVIDER", help = help_texts::only_provider())]
    pub provider: Option<Provider>,
    /// At most this many rows.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub limit: u32,
    /// Only rows with an id greater than this (the next page).
    #[arg(long, value_name = "ID")]
    pub after: Option<i64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InboxShowArgs {
    /// The inbox id (the first column of `tollgate inbox list`).
    pub id: i64,
    /// Print the decrypted raw body (customer data) to stdout, exactly as received.
    #[arg(long)]
    pub body: bool,
    /// Print the metadata as JSON.
    #[arg(long, conflicts_with = "body")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InboxReplayArgs {
    /// The inbox id to replay.
    #[arg(required_unless_present = "failed", conflicts_with = "failed")]
    pub id: Option<i64>,
    /// Replay every failed delivery instead of one.
    #[arg(long)]
    pub failed: bool,
    /// With --failed: only this provider's.
    #[arg(long, requires = "failed", value_name = "PROVIDER")]
    pub provider: Option<Provider>,
}

#[derive(Debug, Args)]
pub struct InboxImportArgs {
    /// The database to copy from: sqlite://PATH or postgres://...
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The source's key file (default: beside a SQLite source; a PostgreSQL source uses the configured keys).
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum EntitlementsCommand {
    // Show the entitlement(s) of an external id or of a subject (the help texts name the providers' ids).
    #[command(
        about = help_texts::entitlements_show(),
        after_help = help_texts::entitlements_show_examples()
    )]
    Show(EntitlementsShowArgs),
}

#[derive(Debug, Args)]
pub struct EntitlementsShowArgs {
    // The provider (the help names the providers).
    #[arg(help = help_texts::provider())]
    pub provider: Provider,
    // The provider's id for the entitlement, or the subject (the help names each provider's).
    #[arg(help = help_texts::entitlements_show_id())]
    pub id: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyWebhookArgs {
    // The provider (the help names the providers).
    #[arg(long, help = help_texts::provider())]
    pub provider: Provider,
    /// A file of `Name: value` header lines.
    #[arg(long, value_name = "FILE")]
    pub headers: PathBuf,
    /// A file with the exact body bytes.
    #[arg(long, value_name = "FILE")]
    pub body: PathBuf,
    /// Check as of this time (Unix seconds) instead of now, e.g. the time the delivery was captured.
    #[arg(long, value_name = "UNIX_SECONDS", allow_hyphen_values = true)]
    pub at: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum SimulateCommand {
    /// Build a realistic webhook, sign it with the configured secret and POST it to the server.
    #[command(after_help = help_texts::simulate_webhook_events())]
    Webhook(SimulateWebhookArgs),
}

#[derive(Debug, Args)]
pub struct SimulateWebhookArgs {
    // The provider (the help names the providers).
    #[arg(long, help = help_texts::provider())]
    pub provider: Provider,
    /// The event type (see below).
    #[arg(long, value_name = "TYPE")]
    pub event: String,
    /// The server's base URL (default http://{listen}); the webhook path is appended.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    // The provider's id for the entitlement (the help names each provider's).
    #[arg(long, value_name = "ID", help = help_texts::simulate_external_id())]
    pub external_id: Option<String>,
    // The customer id (the help names each provider's).
    #[arg(long, value_name = "ID", help = help_texts::simulate_subject())]
    pub subject: Option<String>,
    /// Print the signed headers and body instead of sending them.
    #[arg(long)]
    pub dry_run: bool,
}

/// Run one parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve => serve(load_settings(config)?),
        Command::Migrate => migrate::run(&load_settings(config)?),
        Command::Doctor(args) => doctor::run(config, &args),
        Command::Inbox(command) => inbox::run(&load_settings(config)?, command),
        Command::Entitlements(EntitlementsCommand::Show(args)) => {
            entitlements::show(&load_settings(config)?, &args)
        }
        Command::VerifyWebhook(args) => verify_webhook::run(&load_settings(config)?, &args),
        Command::Simulate(SimulateCommand::Webhook(args)) => simulate::run(&load_settings(config)?, &args),
        Command::Keys(command) => keys::run(&load_settings(config)?, &command),
        Command::Reconcile(args) => reconcile::run(&load_settings(config)?, &args),
        Command::Openapi => {
            print!("{}", crate::http::openapi::document_json());
            Ok(())
        }
        #[cfg(feature = "dev")]
        Command::Dev(args) => dev::run(&args),
    }
}

/// The settings from the three layers, with `--config` as the file layer.
pub fn load_settings(config: Option<&std::path::Path>) -> Result<Settings, CliError> {
    let file = config.map_or(ConfigFile::Default, ConfigFile::Explicit);
    Ok(Settings::load(file)?)
}

fn serve(settings: Settings) -> Result<(), CliError> {
    actix_web::rt::System::new()
        .block_on(crate::app::serve(settings))
        .map_err(CliError::from)
}

/// The environment variable that sets a dotted configuration key: `providers.whop.api_key` is
/// `TOLLGATE_PROVIDERS__WHOP__API_KEY`.
pub fn env_var(key: &str) -> String {
    format!("TOLLGATE_{}", key.replace('.', "__").to_ascii_uppercase())
}

/// Print `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Failed(format!("cannot print JSON: {e}")))?;
    println!("{text}");
    Ok(())
}
