//! One diesel connection type for both backends, the r2d2 manager that builds it, and the write transaction.

use std::fmt;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::{Connection, PgConnection, SqliteConnection};

use crate::database_url::DatabaseUrl;
use crate::error::Result;

/// A connection to either backend. Queries are written once against this type; the few statements whose SQL must
/// differ (upserts, row locks, `BEGIN IMMEDIATE`) match on the variant inside the one function that needs it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbConnection::Sqlite(_) => f.write_str("DbConnection::Sqlite"),
            DbConnection::Postgres(_) => f.write_str("DbConnection::Postgres"),
        }
    }
}

/// How hard SQLite syncs a commit to disk (`PRAGMA synchronous`), in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// `NORMAL`: a committed transaction survives a crash or SIGKILL of the process; after a power loss or OS
    /// crash the last commits before it may be rolled back (the file stays consistent). The default.
    #[default]
    Normal,
    /// `FULL`: every commit is fsynced, so it also survives a power loss, at the cost of one fsync per commit.
    Full,
}

impl SqliteSync {
    fn pragma(self) -> &'static str {
        match self {
            SqliteSync::Normal => "NORMAL",
            SqliteSync::Full => "FULL",
        }
    }
}

/// Why a connection could not be opened. It never contains the URL, which may hold a password.
#[derive(Debug)]
pub struct ConnectError(String);

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

/// The r2d2 manager: opens a [`DbConnection`] for the backend the URL names and sets the SQLite pragmas on every
/// new connection.
pub struct ConnectionManager {
    url: DatabaseUrl,
    busy_timeout: Duration,
    sync: SqliteSync,
}

impl fmt::Debug for ConnectionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionManager")
            .field("url", &self.url)
            .field("busy_timeout", &self.busy_timeout)
            .field("sync", &self.sync)
            .finish()
    }
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl, busy_timeout: Duration, sync: SqliteSync) -> Self {
        ConnectionManager {
            url,
            busy_timeout,
            sync,
        }
    }

    fn open_sqlite(&self, path: &std::path::Path) -> Result<DbConnection, ConnectError> {
        let path = path
            .to_str()
            .ok_or_else(|| ConnectError("the SQLite path is not valid UTF-8".to_owned()))?;
        let mut conn = SqliteConnection::establish(path)
            .map_err(|e| ConnectError(format!("cannot open SQLite database: {e}")))?;
        // busy_timeout first, so that switching to WAL waits for other connections instead of failing.
        let pragmas = format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; \
             PRAGMA foreign_keys = ON;",
            self.busy_timeout.as_millis(),
            self.sync.pragma()
        );
        conn.batch_execute(&pragmas)
            .map_err(|e| ConnectError(format!("cannot configure SQLite connection: {e}")))?;
        Ok(DbConnection::Sqlite(conn))
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => self.open_sqlite(path),
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url).map_err(|e| {
                    ConnectError(format!("cannot connect to PostgreSQL: {}", e.to_string().trim()))
                })?;
                // The busy timeout bounds a wait for another session's row or table lock, as it does for SQLite's
                // write lock: without it a request waits (holding a pooled connection) until the lock is released.
                conn.batch_execute(&format!("SET lock_timeout = {}", self.busy_timeout.as_millis()))
                    .map_err(|e| ConnectError(format!("cannot configure PostgreSQL connection: {e}")))?;
                Ok(DbConnection::Postgres(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        conn.batch_execute("SELECT 1")
            .map_err(|e| ConnectError(format!("connection check failed: {e}")))
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        <DbConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

/// Run `body` in a write transaction and commit it, or roll back on error.
///
/// SQLite starts it with `BEGIN IMMEDIATE`, which takes the database write lock up front (waiting up to the busy
/// timeout), so reads inside it cannot go stale and writers are serialized across processes. PostgreSQL starts an
/// ordinary READ COMMITTED transaction; the functions that need it lock rows with `SELECT ... FOR UPDATE`.
pub(crate) fn write_transaction<T>(
    conn: &mut DbConnection,
    body: impl FnOnce(&mut DbConnection) -> Result<T>,
) -> Result<T> {
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConnection::Postgres(c) => <PgConnection as Connection>::TransactionManager::begin_transaction(c)?,
    }
    match body(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) =
                <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)
            {
                log::warn!(error:display = rollback; "rollback failed; the connection will be discarded");
            }
            Err(err)
        }
    }
}
