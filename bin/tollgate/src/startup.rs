//! Opening the store from configuration: shared by `serve` and every CLI command that reads the database.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use tollgate_store::{DatabaseUrl, Store, StoreConfig, StoreError, StoreKeys};

use crate::settings::Settings;

/// Why Tollgate could not start. Each variant says what to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartupError {
    /// A configuration problem (the message names the key).
    Config(crate::settings::SettingsError),
    /// The store could not be opened or migrated.
    Store(StoreError),
    /// PostgreSQL needs its keys in configuration: there is no file beside the database to keep them in.
    MissingKeys,
    /// The listener or the runtime failed.
    Io(std::io::Error),
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartupError::Config(e) => write!(f, "{e}"),
            StartupError::Store(e) => write!(f, "{e}"),
            StartupError::MissingKeys => f.write_str(
                "PostgreSQL needs database.pepper and database.data_key (TOLLGATE_DATABASE__PEPPER, \
                 TOLLGATE_DATABASE__DATA_KEY): each is base64 of 32 random bytes, e.g. `openssl rand -base64 32`. \
                 Use the same values on every instance and keep a copy: without them stored hashes cannot be \
                 matched and stored webhook bodies cannot be read",
            ),
            StartupError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartupError::Config(e) => Some(e),
            StartupError::Store(e) => Some(e),
            StartupError::MissingKeys => None,
            StartupError::Io(e) => Some(e),
        }
    }
}

impl From<StoreError> for StartupError {
    fn from(e: StoreError) -> Self {
        StartupError::Store(e)
    }
}

impl From<crate::settings::SettingsError> for StartupError {
    fn from(e: crate::settings::SettingsError) -> Self {
        StartupError::Config(e)
    }
}

impl From<std::io::Error> for StartupError {
    fn from(e: std::io::Error) -> Self {
        StartupError::Io(e)
    }
}

/// Where the store's keys come from for these settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `database.pepper` and `database.data_key` from configuration.
    Configured,
    /// A key file, created on first start beside the SQLite database.
    File(PathBuf),
}

/// Decide where the keys come from: configuration wins; SQLite falls back to a key file; PostgreSQL must be
/// configured.
pub fn key_source(settings: &Settings) -> Result<KeySource, StartupError> {
    let db = &settings.database;
    if db.pepper.is_set() || db.data_key.is_set() {
        return Ok(KeySource::Configured);
    }
    match DatabaseUrl::parse(db.url.expose())? {
        DatabaseUrl::Sqlite(path) => {
            if db.key_file.trim().is_empty() {
                let mut name = path.into_os_string();
                name.push(".keys");
                Ok(KeySource::File(PathBuf::from(name)))
            } else {
                Ok(KeySource::File(PathBuf::from(db.key_file.trim())))
            }
        }
        DatabaseUrl::Postgres(_) => Err(StartupError::MissingKeys),
    }
}

/// Open the store (without connecting: a database that is down makes `/readyz` fail, not the start).
pub fn open_store(settings: &Settings) -> Result<Store, StartupError> {
    let db = &settings.database;
    let keys = match key_source(settings)? {
        KeySource::Configured => StoreKeys::from_base64(db.pepper.expose(), db.data_key.expose())?,
        KeySource::File(path) => StoreKeys::load_or_create(&path)?,
    };
    let mut config = StoreConfig::new(db.url.expose());
    config.max_connections = db.pool_size;
    // One bound for every wait on the database: for a pooled connection, for SQLite's write lock, and for a
    // PostgreSQL row lock. Past it the request answers 503 STORAGE_UNAVAILABLE instead of hanging.
    let wait = Duration::from_secs(db.connect_timeout.as_secs().unsigned_abs());
    config.connection_timeout = wait;
    config.busy_timeout = wait;
    Ok(Store::open(&config, keys)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let env = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Settings::load_from(crate::settings::ConfigFile::Default, env).unwrap()
    }

    #[test]
    fn sqlite_keeps_its_keys_beside_the_database() {
        let s = settings(&[("TOLLGATE_DATABASE__URL", "sqlite:///var/lib/tollgate/t.db")]);
        assert_eq!(
            key_source(&s).unwrap(),
            KeySource::File(PathBuf::from("/var/lib/tollgate/t.db.keys"))
        );

        let s = settings(&[("TOLLGATE_DATABASE__KEY_FILE", "/etc/tollgate/keys")]);
        assert_eq!(
            key_source(&s).unwrap(),
            KeySource::File(PathBuf::from("/etc/tollgate/keys"))
        );
    }

    #[test]
    fn postgres_without_keys_says_what_to_set() {
        let s = settings(&[(
            "TOLLGATE_DATABASE__URL",
            "postgres://postgres@127.0.0.1:5432/test",
        )]);
        let err = key_source(&s).unwrap_err();
        assert!(matches!(err, StartupError::MissingKeys));
        assert!(err.to_string().contains("TOLLGATE_DATABASE__PEPPER"));
    }

    #[test]
    fn configured_keys_win() {
        let s = settings(&[
            (
                "TOLLGATE_DATABASE__PEPPER",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
            (
                "TOLLGATE_DATABASE__DATA_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        ]);
        assert_eq!(key_source(&s).unwrap(), KeySource::Configured);
    }

    #[test]
    fn open_store_creates_the_key_file_and_does_not_connect() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let url = format!("sqlite://{}", db.display());
        let s = settings(&[("TOLLGATE_DATABASE__URL", &url)]);
        let store = open_store(&s).unwrap();
        assert!(dir.path().join("t.db.keys").is_file());
        store.migrate().unwrap();
        assert!(store.is_migrated().unwrap());
    }
}
