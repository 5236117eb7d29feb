//! Opening the store from configuration: shared by `serve` and every CLI command that reads the database.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tollgate_store::{
    DatabaseUrl, Store, StoreConfig, StoreError, StoreKeys, StoredData, restrict_files, sqlite_files,
};

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
    /// The key file is missing while the SQLite database beside it holds data sealed or hashed with its keys: new
    /// keys would orphan all of it, so nothing is created and the server does not start.
    KeyFileLost {
        key_file: PathBuf,
        database: PathBuf,
        data: StoredData,
    },
    /// The configured keys (key file or `database.pepper`/`database.data_key`) do not open the stored data.
    KeysDoNotOpenData { source: StoreError },
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
            StartupError::KeyFileLost {
                key_file,
                database,
                data,
            } => write!(
                f,
                "the store key file {key} is missing, but the database {db} holds data sealed or hashed with its \
                 keys ({data}). Without that file the lease signing keys and stored webhook bodies cannot be \
                 decrypted, and no stored license key or device can be matched again, so Tollgate did not create \
                 a new one. Restore {key} from the backup taken with the database (or set database.pepper and \
                 database.data_key, TOLLGATE_DATABASE__PEPPER and TOLLGATE_DATABASE__DATA_KEY, to its values), then \
                 start again. Only if the data is to be thrown away: move {db} (and its -wal and -shm files) aside \
                 and start with an empty database",
                key = key_file.display(),
                db = database.display(),
            ),
            StartupError::KeysDoNotOpenData { source } => write!(
                f,
                "the configured store keys do not open the stored data ({source}): the key file, or \
                 database.pepper and database.data_key, are not the ones this database was written with. Restore \
                 the key file (or the values) from the backup taken with the database, then start again"
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
            StartupError::MissingKeys | StartupError::KeyFileLost { .. } => None,
            StartupError::KeysDoNotOpenData { source } => Some(source),
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
///
/// SQLite: the database, its `-wal` and `-shm`, and the key file are made private (0600) when an older release or
/// another tool left them open to other users (a WARN line says so); a key file is created only when the database
/// holds no data yet ([`StartupError::KeyFileLost`] otherwise).
pub fn open_store(settings: &Settings) -> Result<Store, StartupError> {
    let db = &settings.database;
    let url = DatabaseUrl::parse(db.url.expose())?;
    let source = key_source(settings)?;
    if let DatabaseUrl::Sqlite(database) = &url {
        let mut files = sqlite_files(database).to_vec();
        if let KeySource::File(key_file) = &source {
            files.push(key_file.clone());
        }
        for (file, mode) in restrict_files(&files)? {
            log::warn!(
                path:display = file.display(); "{} was readable by other users (mode {mode:o}); it is now 600",
                file.display()
            );
        }
    }
    let keys = match source {
        KeySource::Configured => StoreKeys::from_base64(db.pepper.expose(), db.data_key.expose())?,
        KeySource::File(path) => {
            if let (false, DatabaseUrl::Sqlite(database)) = (path.exists(), &url) {
                refuse_new_keys_over_data(settings, &path, database)?;
            }
            StoreKeys::load_or_create(&path)?
        }
    };
    Ok(Store::open(&store_config(settings), keys)?)
}

/// The store configuration from `database.*`.
fn store_config(settings: &Settings) -> StoreConfig {
    let db = &settings.database;
    let mut config = StoreConfig::new(db.url.expose());
    config.max_connections = db.pool_size;
    // One bound for every wait on the database: for a pooled connection, for SQLite's write lock, and for a
    // PostgreSQL row lock. Past it the request answers 503 STORAGE_UNAVAILABLE instead of hanging.
    let wait = Duration::from_secs(db.connect_timeout.as_secs().unsigned_abs());
    config.connection_timeout = wait;
    config.busy_timeout = wait;
    config
}

/// The key file at `key_file` does not exist: fail with [`StartupError::KeyFileLost`] when the SQLite database holds
/// data that only the lost keys open. A missing or empty database (a first start) is fine.
fn refuse_new_keys_over_data(
    settings: &Settings,
    key_file: &Path,
    database: &Path,
) -> Result<(), StartupError> {
    if !database.is_file() || std::fs::metadata(database)?.len() == 0 {
        return Ok(());
    }
    // Counting rows reads nothing sealed or hashed, so throwaway keys do.
    let mut config = store_config(settings);
    config.max_connections = 1;
    config.min_idle = Some(0);
    let store = Store::open(&config, StoreKeys::generate()?)?;
    let data = store.stored_data()?;
    if data.is_empty() {
        return Ok(());
    }
    Err(StartupError::KeyFileLost {
        key_file: key_file.to_path_buf(),
        database: database.to_path_buf(),
        data,
    })
}

/// Refuse to serve with keys that do not open the stored data (a replaced key file, another database's values). A
/// database that cannot be reached, or is not migrated, is not checked here: `/readyz` reports it until it is.
pub fn check_keys_open_data(store: &Store) -> Result<(), StartupError> {
    match store
        .is_migrated()
        .and_then(|migrated| migrated.then(|| store.check_keys()).transpose())
    {
        Err(source @ StoreError::Decrypt { .. }) => Err(StartupError::KeysDoNotOpenData { source }),
        Err(e) if e.is_unavailable() => Ok(()),
        Err(e) => Err(StartupError::Store(e)),
        Ok(_) => Ok(()),
    }
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
