//! The CLI's one error type, and the exit code each failure gives.

use std::fmt;
use std::path::PathBuf;

use tollgate_store::StoreError;

use crate::settings::SettingsError;
use crate::startup::StartupError;

/// The exit code of a command that failed at what it was asked to do (a database that cannot be reached, a
/// delivery that does not verify, a setup check with a broken item).
pub const EXIT_FAILED: u8 = 1;
/// The exit code of a usage or configuration problem: fix the command line or the configuration and run again.
/// clap uses the same code for a command line it cannot parse.
pub const EXIT_USAGE: u8 = 2;

/// Why a command failed. Each message says what to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// The configuration does not load (the message names the key).
    Config(SettingsError),
    /// The command line is valid for clap but not usable (an event the simulator has no template for, ...).
    Usage(String),
    /// The store could not be opened or used.
    Store(StoreError),
    /// Start-up failed (`serve`, or opening the store from configuration).
    Startup(StartupError),
    /// A file given on the command line could not be read.
    ReadFile { path: PathBuf, source: std::io::Error },
    /// What was looked up does not exist.
    NotFound(String),
    /// `doctor` found this many broken items (the checklist above says which).
    SetupBroken(usize),
    /// `verify-webhook`: the delivery does not verify (the explanation was printed above).
    WebhookInvalid,
    /// Any other failure, with its explanation.
    Failed(String),
}

impl CliError {
    /// The process exit code for this error: [`EXIT_USAGE`] for usage and configuration problems, else
    /// [`EXIT_FAILED`].
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Usage(_) => EXIT_USAGE,
            CliError::Startup(StartupError::Config(_) | StartupError::MissingKeys) => EXIT_USAGE,
            _ => EXIT_FAILED,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Config(e) => write!(f, "{e}"),
            CliError::Usage(message) | CliError::NotFound(message) | CliError::Failed(message) => {
                f.write_str(message)
            }
            CliError::Store(e) | CliError::Startup(StartupError::Store(e)) => {
                write!(f, "{e}{}", store_hint(e))
            }
            CliError::Startup(StartupError::Io(e)) if e.kind() == std::io::ErrorKind::AddrInUse => write!(
                f,
                "cannot listen: {e}; another process uses that address (stop it, or set listen / TOLLGATE_LISTEN \
                 to another port)"
            ),
            CliError::Startup(e) => write!(f, "{e}"),
            CliError::ReadFile { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            CliError::SetupBroken(1) => {
                f.write_str("1 item is broken (marked ✘ above); fix it and run `tollgate doctor` again")
            }
            CliError::SetupBroken(n) => write!(
                f,
                "{n} items are broken (marked ✘ above); fix them and run `tollgate doctor` again"
            ),
            CliError::WebhookInvalid => {
                f.write_str("the delivery does not verify against the configured secrets (see above)")
            }
        }
    }
}

/// What to do about a store error, appended to its message.
fn store_hint(e: &StoreError) -> &'static str {
    match e {
        StoreError::Unavailable { .. } => {
            "; check database.url (TOLLGATE_DATABASE__URL) and that the database is running, then run \
             `tollgate doctor`"
        }
        StoreError::Decrypt { .. } => {
            "; the store keys are not the ones the data was written with: restore the key file (or \
             database.pepper/database.data_key) that belongs to this database"
        }
        _ => "",
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Config(e) => Some(e),
            CliError::Store(e) => Some(e),
            CliError::Startup(e) => Some(e),
            CliError::ReadFile { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<SettingsError> for CliError {
    fn from(e: SettingsError) -> Self {
        CliError::Config(e)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Store(e)
    }
}

impl From<StartupError> for CliError {
    fn from(e: StartupError) -> Self {
        match e {
            StartupError::Config(e) => CliError::Config(e),
            StartupError::Store(e) => CliError::Store(e),
            other => CliError::Startup(other),
        }
    }
}
