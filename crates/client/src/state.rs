//! The state file: only the activation status, timestamps, the lease token, the device id hash and the last 4
//! characters of the key. Never the full license key (see the README for the trade-off). Written atomically (a
//! temporary file in the same directory, fsync, rename, fsync of the directory) with mode 0600 on Unix.

use std::fs;
use std::io::{ErrorKind, Read as _, Write as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ClientError;

/// The largest state file read back (a real one is about 1 KiB).
const MAX_STATE_BYTES: u64 = 64 * 1024;

/// The file name inside the platform config directory.
pub const STATE_FILE_NAME: &str = "tollgate-license.json";

/// Whether this device may run, as last decided.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationStatus {
    Active,
    /// The server answered that the key is unknown.
    InvalidLicense,
    /// The server answered that the key is bound to another device.
    InUseOnAnotherDevice,
    /// The server answered that the license is expired, revoked or canceled.
    LicenseInactive,
    /// The server answered that payment is on hold.
    PaymentIssue,
    /// The server no longer knows this device (deactivated or reset elsewhere).
    DeviceNotActivated,
}

/// What is kept on disk between launches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredState {
    pub version: u32,
    pub status: ActivationStatus,
    /// The [`DeviceHash`](crate::DeviceHash) this state was made on: a file copied from another machine is refused.
    pub device_hash: String,
    /// For display ("license ending in 7F3A").
    pub key_last4: String,
    pub activated_at: DateTime<Utc>,
    /// The last successful online activation or revalidation (local clock).
    pub last_online_at: DateTime<Utc>,
    /// The latest verified server time seen (lease `iat`, HTTP `Date`): the clock-rollback floor.
    pub last_server_time: DateTime<Utc>,
    /// The signed lease; `None` once the server denied access.
    pub lease: Option<String>,
}

impl StoredState {
    pub const VERSION: u32 = 1;
}

/// Where the state lives, with atomic save and clear.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> StateFile {
        StateFile { path: path.into() }
    }

    /// `<platform config dir for app_id>/tollgate-license.json` (`~/.config/<app_id>/` on Linux,
    /// `~/Library/Application Support/<app_id>/` on macOS, `%APPDATA%\<app_id>\config\` on Windows).
    pub fn in_config_dir(app_id: &str) -> Result<StateFile, ClientError> {
        match directories::ProjectDirs::from("", "", app_id) {
            Some(dirs) => Ok(StateFile::new(dirs.config_dir().join(STATE_FILE_NAME))),
            None => {
                log::error!(app_id = app_id; "no home directory: cannot place the license state file");
                Err(ClientError::Storage)
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state, `None` when there is none, `StateCorrupt` when it cannot be parsed.
    pub fn load(&self) -> Result<Option<StoredState>, ClientError> {
        let file = match fs::File::open(&self.path) {
            Ok(file) => file,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                log::error!(path:? = self.path, error:display = err; "cannot open the license state file");
                return Err(ClientError::Storage);
            }
        };
        let mut bytes = Vec::new();
        if let Err(err) = file.take(MAX_STATE_BYTES + 1).read_to_end(&mut bytes) {
            log::error!(path:? = self.path, error:display = err; "cannot read the license state file");
            return Err(ClientError::Storage);
        }
        if bytes.len() as u64 > MAX_STATE_BYTES {
            log::warn!(path:? = self.path; "license state file is too large");
            return Err(ClientError::StateCorrupt);
        }
        match serde_json::from_slice::<StoredState>(&bytes) {
            Ok(state) if state.version == StoredState::VERSION => Ok(Some(state)),
            Ok(state) => {
                log::warn!(version = state.version; "license state file has an unknown version");
                Err(ClientError::StateCorrupt)
            }
            Err(err) => {
                log::warn!(path:? = self.path, error:display = err; "license state file is not valid");
                Err(ClientError::StateCorrupt)
            }
        }
    }

    /// Replaces the state atomically: a reader sees the old file or the new one, never a mix.
    pub fn save(&self, state: &StoredState) -> Result<(), ClientError> {
        self.write_atomically(state).map_err(|err| {
            log::error!(path:? = self.path, error:display = err; "cannot save the license state file");
            ClientError::Storage
        })
    }

    fn write_atomically(&self, state: &StoredState) -> std::io::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        create_private_dir(&dir)?;
        let bytes = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        // tempfile creates the file with mode 0600 on Unix, in the same directory so the rename is atomic.
        let mut tmp = tempfile::Builder::new()
            .prefix(".tollgate-license.")
            .suffix(".tmp")
            .tempfile_in(&dir)?;
        tmp.write_all(&bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|err| err.error)?;
        sync_dir(&dir)
    }

    /// Removes the state (after a deactivation). Missing is fine.
    pub fn clear(&self) -> Result<(), ClientError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
            Err(err) => {
                log::error!(path:? = self.path, error:display = err; "cannot remove the license state file");
                Err(ClientError::Storage)
            }
        }
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
