//! One diesel connection type for both backends, the r2d2 manager that builds it, and the write transaction.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::{Connection, PgConnection, SqliteConnection};

use crate::checkpoint::{DEFAULT_CHECKPOINT_PAGES, WRITER_AUTOCHECKPOINT_FACTOR};
use crate::database_url::DatabaseUrl;
use crate::error::{Result, StoreError};

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
    /// `PRAGMA wal_autocheckpoint` of each SQLite connection.
    wal_autocheckpoint: u32,
}

impl fmt::Debug for ConnectionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionManager")
            .field("url", &self.url)
            .field("busy_timeout", &self.busy_timeout)
            .field("sync", &self.sync)
            .field("wal_autocheckpoint", &self.wal_autocheckpoint)
            .finish()
    }
}

impl ConnectionManager {
    /// A manager whose SQLite connections checkpoint themselves only as the safety net behind a checkpoint thread
    /// with the default threshold (see [`ConnectionManager::behind_checkpoints_of`]).
    pub fn new(url: DatabaseUrl, busy_timeout: Duration, sync: SqliteSync) -> Self {
        ConnectionManager {
            url,
            busy_timeout,
            sync,
            wal_autocheckpoint: 0,
        }
        .behind_checkpoints_of(DEFAULT_CHECKPOINT_PAGES)
    }

    /// Set SQLite's automatic checkpoint (`PRAGMA wal_autocheckpoint`) as the safety net behind a checkpoint thread
    /// that copies the WAL once `checkpoint_pages` frames wait: a connection checkpoints inside its own commit only
    /// when the thread has fallen several times that far behind.
    pub fn behind_checkpoints_of(mut self, checkpoint_pages: u32) -> Self {
        self.wal_autocheckpoint = checkpoint_pages
            .max(1)
            .saturating_mul(WRITER_AUTOCHECKPOINT_FACTOR);
        self
    }

    fn open_sqlite(&self, path: &std::path::Path) -> Result<DbConnection, ConnectError> {
        create_private(path)
            .map_err(|e| ConnectError(format!("cannot create the SQLite database file: {e}")))?;
        let path = path
            .to_str()
            .ok_or_else(|| ConnectError("the SQLite path is not valid UTF-8".to_owned()))?;
        let mut conn = SqliteConnection::establish(path)
            .map_err(|e| ConnectError(format!("cannot open SQLite database: {e}")))?;
        // busy_timeout first, so that switching to WAL waits for other connections where SQLite lets it wait. The
        // automatic checkpoint is only a safety net: the store's checkpoint thread copies the WAL (see `checkpoint`).
        // temp_store = MEMORY: a multi-row statement keeps a statement journal (to undo itself on a constraint
        // error), which otherwise goes to a temporary file: 11% of the group-commit writer's CPU.
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {};",
            self.busy_timeout.as_millis()
        ))
        .map_err(|e| ConnectError(format!("cannot configure SQLite connection: {e}")))?;
        use_wal(&mut conn, self.busy_timeout)?;
        let pragmas = format!(
            "PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = {}; \
             PRAGMA temp_store = MEMORY;",
            self.sync.pragma(),
            self.wal_autocheckpoint
        );
        conn.batch_execute(&pragmas)
            .map_err(|e| ConnectError(format!("cannot configure SQLite connection: {e}")))?;
        Ok(DbConnection::Sqlite(conn))
    }
}

/// The mode of every file Tollgate keeps: readable and writable by its owner only.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// The files SQLite keeps for the database at `path`: the database itself, its `-wal` and its `-shm`.
pub fn sqlite_files(path: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_path_buf(), with("-wal"), with("-shm")]
}

/// Create the database file empty with mode 0600 when it does not exist yet. SQLite then creates its `-wal` and
/// `-shm` with the database file's mode, so none of the three is ever readable by other local users, whatever the
/// process umask. An existing file is left alone (see [`restrict_files`]).
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(PRIVATE_FILE_MODE);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The permission bits of `path` when its group or other users may use it (`None`: private, missing, or not Unix).
pub fn loose_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Set each of `paths` that exists and is open to group or others to mode 0600; returns each file changed with its
/// mode before. Files written by an older release (created with the process umask, often 0644) are fixed this way.
pub fn restrict_files(paths: &[PathBuf]) -> std::io::Result<Vec<(PathBuf, u32)>> {
    let mut changed = Vec::new();
    for path in paths {
        if let Some(mode) = loose_mode(path) {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
            }
            changed.push((path.clone(), mode));
        }
    }
    Ok(changed)
}

/// How long a connection waits between attempts to switch a new database file to WAL.
const WAL_SWITCH_RETRY: Duration = Duration::from_millis(5);

/// `PRAGMA journal_mode = WAL` (kept in the file: a no-op once done). While a new file is switched, or written by a
/// connection that switched it, another connection's switch fails at once with "database is locked": SQLite gives
/// up without calling the busy handler where waiting could deadlock. A new store opens several connections at once
/// (its pool's, the checkpoint thread's) while it migrates, so the switch is tried again until `busy_timeout`.
fn use_wal(conn: &mut SqliteConnection, busy_timeout: Duration) -> Result<(), ConnectError> {
    let deadline = std::time::Instant::now() + busy_timeout;
    loop {
        match conn.batch_execute("PRAGMA journal_mode = WAL;") {
            Ok(()) => return Ok(()),
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("database is locked") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(WAL_SWITCH_RETRY);
            }
            Err(e) => {
                return Err(ConnectError(format!(
                    "cannot switch the SQLite database to WAL mode: {e}"
                )));
            }
        }
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

/// Queues one process's SQLite writers in memory, in front of SQLite's write lock.
///
/// Without it, the pooled connections that find the write lock taken wait in SQLite's busy handler, which sleeps
/// in steps of up to 100 ms instead of being woken when the lock is released: under load most of a write's
/// latency was that sleep. Holding this mutex around `BEGIN IMMEDIATE ... COMMIT` makes the writers of one [`Store`]
/// (one pool, one database file) take turns and be woken at once. It does not replace the database lock: other
/// processes on the same file still meet `BEGIN IMMEDIATE` and the busy timeout. PostgreSQL does not use it.
///
/// The wait is bounded by the busy timeout (then [`StoreError::Unavailable`], as for SQLite's own lock), and a
/// writer that panics does not leave it locked (`parking_lot`'s mutex has no poisoning).
///
/// [`Store`]: crate::Store
/// [`StoreError::Unavailable`]: crate::StoreError::Unavailable
#[derive(Debug)]
pub(crate) struct WriteGate {
    lock: parking_lot::Mutex<()>,
    timeout: Duration,
}

impl WriteGate {
    pub(crate) fn new(timeout: Duration) -> Self {
        WriteGate {
            lock: parking_lot::Mutex::new(()),
            timeout,
        }
    }

    pub(crate) fn enter(&self) -> Result<parking_lot::MutexGuard<'_, ()>> {
        self.lock.try_lock_for(self.timeout).ok_or_else(|| {
            StoreError::unavailable(
                "another write held the database for longer than the busy timeout",
                None,
            )
        })
    }
}

/// Run `body` in a write transaction and commit it, or roll back on error.
///
/// SQLite starts it with `BEGIN IMMEDIATE`, which takes the database write lock up front (waiting up to the busy
/// timeout), so reads inside it cannot go stale and writers are serialized across processes; within this process
/// the writers first queue on `gate` (see [`WriteGate`]). PostgreSQL starts an ordinary READ COMMITTED
/// transaction; the functions that need it lock rows with `SELECT ... FOR UPDATE`.
pub(crate) fn write_transaction<T>(
    gate: &WriteGate,
    conn: &mut DbConnection,
    body: impl FnOnce(&mut DbConnection) -> Result<T>,
) -> Result<T> {
    // Held until the transaction has committed or rolled back (dropped at the end of the function).
    let _turn = match conn {
        DbConnection::Sqlite(c) => {
            let turn = gate.enter()?;
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            Some(turn)
        }
        DbConnection::Postgres(c) => {
            <PgConnection as Connection>::TransactionManager::begin_transaction(c)?;
            None
        }
    };
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use diesel::RunQueryDsl as _;
    use diesel::sql_types::BigInt;

    use super::*;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn open(dir: &tempfile::TempDir) -> DbConnection {
        let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("gate.db").display())).unwrap();
        let manager = ConnectionManager::new(url, Duration::from_secs(5), SqliteSync::Normal);
        r2d2::ManageConnection::connect(&manager).unwrap()
    }

    fn count(conn: &mut DbConnection) -> i64 {
        let DbConnection::Sqlite(c) = conn else {
            panic!("not SQLite")
        };
        diesel::sql_query("SELECT n FROM counter")
            .get_result::<Count>(c)
            .unwrap()
            .n
    }

    /// Read the counter, then write it + 1: without serialized write transactions increments would be lost.
    fn increment(gate: &WriteGate, conn: &mut DbConnection) -> Result<()> {
        write_transaction(gate, conn, |conn| {
            let next = count(conn) + 1;
            conn.batch_execute(&format!("UPDATE counter SET n = {next}"))?;
            Ok(())
        })
    }

    #[test]
    fn concurrent_writers_on_one_gate_each_commit_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut setup = open(&dir);
        setup
            .batch_execute("CREATE TABLE counter (n BIGINT NOT NULL); INSERT INTO counter VALUES (0);")
            .unwrap();
        let gate = WriteGate::new(Duration::from_secs(30));
        std::thread::scope(|scope| {
            for _ in 0..8 {
                let mut conn = open(&dir);
                let gate = &gate;
                scope.spawn(move || {
                    for _ in 0..25 {
                        increment(gate, &mut conn).unwrap();
                    }
                });
            }
        });
        assert_eq!(count(&mut setup), 200);
    }

    #[test]
    fn a_writer_waits_for_the_gate_at_most_the_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir);
        conn.batch_execute("CREATE TABLE counter (n BIGINT NOT NULL); INSERT INTO counter VALUES (0);")
            .unwrap();
        let gate = WriteGate::new(Duration::from_millis(200));
        let held = gate.lock.lock();
        let started = Instant::now();
        let mut ran = false;
        let result = write_transaction(&gate, &mut conn, |_| {
            ran = true;
            Ok(())
        });
        let waited = started.elapsed();
        assert_eq!(
            result,
            Err(StoreError::unavailable(
                "another write held the database for longer than the busy timeout",
                None
            ))
        );
        assert!(!ran);
        assert!(waited >= Duration::from_millis(200), "returned after {waited:?}");
        assert!(waited < Duration::from_secs(5), "returned after {waited:?}");
        drop(held);
        // Nothing was left open: the next write goes through at once.
        increment(&gate, &mut conn).unwrap();
        assert_eq!(count(&mut conn), 1);
    }

    #[test]
    fn a_writer_that_panics_does_not_wedge_the_gate() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir);
        conn.batch_execute("CREATE TABLE counter (n BIGINT NOT NULL); INSERT INTO counter VALUES (0);")
            .unwrap();
        let gate = WriteGate::new(Duration::from_millis(200));
        std::thread::scope(|scope| {
            let mut doomed = open(&dir);
            let gate = &gate;
            let panicked = scope
                .spawn(move || {
                    let _ = write_transaction(gate, &mut doomed, |_| -> Result<()> { panic!("writer bug") });
                })
                .join();
            assert!(panicked.is_err());
        });
        increment(&gate, &mut conn).unwrap();
        assert_eq!(count(&mut conn), 1);
    }
}

#[cfg(all(test, unix))]
mod file_mode_tests {
    use std::os::unix::fs::PermissionsExt as _;

    use diesel::connection::SimpleConnection as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    /// The test process runs with a umask that leaves new files readable by others (0022 here, as on most hosts);
    /// the database, its WAL and its shared-memory file must still be private.
    #[test]
    fn a_new_database_its_wal_and_shm_are_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.db");
        // What the umask gives a new file here, to show the test would catch a file left to it.
        let probe = dir.path().join("probe");
        std::fs::write(&probe, b"").unwrap();
        assert_ne!(
            mode(&probe) & 0o077,
            0,
            "this test needs a umask that opens new files to others"
        );
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).unwrap();
        let manager = ConnectionManager::new(url, Duration::from_secs(5), SqliteSync::Normal);
        let mut conn = r2d2::ManageConnection::connect(&manager).unwrap();
        conn.batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        for file in sqlite_files(&path) {
            assert!(file.exists(), "{} missing", file.display());
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    #[test]
    fn existing_open_files_are_made_private_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let files = sqlite_files(&dir.path().join("old.db"));
        std::fs::write(&files[0], b"").unwrap();
        std::fs::set_permissions(&files[0], std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&files[1], b"").unwrap();
        std::fs::set_permissions(&files[1], std::fs::Permissions::from_mode(0o600)).unwrap();
        // files[2] (-shm) does not exist.
        assert_eq!(loose_mode(&files[0]), Some(0o644));
        assert_eq!(restrict_files(&files).unwrap(), vec![(files[0].clone(), 0o644)]);
        assert_eq!(mode(&files[0]), 0o600);
        assert_eq!(restrict_files(&files).unwrap(), vec![]);
    }
}

#[cfg(test)]
mod setup_tests {
    use std::sync::Barrier;

    use super::*;

    /// A fresh database file opened by many connections at once (a new pool's workers, the checkpoint thread):
    /// every one is set up. Switching a new file to WAL takes an exclusive lock, and two connections switching at
    /// once can fail at once with "database is locked" without waiting (SQLite's deadlock avoidance), which logged
    /// an r2d2 ERROR on a fresh install's first start.
    #[test]
    fn many_connections_opening_a_fresh_database_at_once_are_all_set_up() {
        for round in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let url =
                DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("fresh.db").display())).unwrap();
            let manager = ConnectionManager::new(url, Duration::from_secs(5), SqliteSync::Normal);
            let start = Barrier::new(8);
            let failures: Vec<String> = std::thread::scope(|scope| {
                let opened: Vec<_> = (0..8)
                    .map(|i| {
                        let (start, manager) = (&start, &manager);
                        scope.spawn(move || {
                            start.wait();
                            let mut conn = match r2d2::ManageConnection::connect(manager) {
                                Ok(conn) => conn,
                                Err(e) => return Some(e.to_string()),
                            };
                            // Like the migrations, which run while the pool opens its other connections.
                            conn.batch_execute(&format!(
                                "BEGIN IMMEDIATE; CREATE TABLE t{i} (x INTEGER); COMMIT;"
                            ))
                            .err()
                            .map(|e| e.to_string())
                        })
                    })
                    .collect();
                opened.into_iter().filter_map(|t| t.join().unwrap()).collect()
            });
            assert_eq!(failures, Vec::<String>::new(), "round {round}");
        }
    }
}

#[cfg(test)]
mod build_tests {
    use diesel::RunQueryDsl as _;
    use diesel::sql_types::Text;

    use super::*;

    #[derive(diesel::QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = Text)]
        compile_options: String,
    }

    /// `.cargo/config.toml` builds SQLite with the query planner stability guarantee, so that statements with a
    /// bound `LIMIT ?` (every diesel `.first()`) are not re-prepared at each execution.
    #[test]
    fn the_bundled_sqlite_is_built_with_qpsg() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        assert!(
            options.iter().any(|o| o == "ENABLE_QPSG"),
            "compile options: {options:?}"
        );
    }
}
