//! The `Store` handle: pool, keys, migrations and readiness.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection as _;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::checkpoint::{Checkpointer, DEFAULT_CHECKPOINT_PAGES, WalCheckpoints};
use crate::connection::{ConnectionManager, DbConnection, SqliteSync, WriteGate, write_transaction};
use crate::database_url::DatabaseUrl;
use crate::error::{Result, StoreError};
use crate::ids::EntitlementId;
use crate::keys::{HwidHash, LicenseKeyHash, StoreKeys};
use crate::versions::ChangeVersions;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Serializes `migrate` across instances sharing one PostgreSQL database (`pg_advisory_lock` key).
const MIGRATION_LOCK_KEY: i64 = 0x746f_6c6c_6761_7465; // "tollgate"

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://...`/`postgresql://...`.
    pub url: String,
    /// Pool size: at most this many connections are open at once.
    pub max_connections: u32,
    /// Connections the pool keeps open while idle (`None`: as many as `max_connections`).
    pub min_idle: Option<u32>,
    /// How long a caller waits for a pooled connection (or for the database to accept one) before
    /// [`StoreError::Unavailable`].
    pub connection_timeout: Duration,
    /// How long SQLite waits for another writer's lock, and PostgreSQL for another session's row or table lock
    /// (`lock_timeout`), before [`StoreError::Unavailable`].
    pub busy_timeout: Duration,
    /// SQLite's `synchronous` setting in WAL mode.
    pub sqlite_sync: SqliteSync,
    /// SQLite: the store's checkpoint thread copies the WAL into the database once this many frames (pages) wait;
    /// the WAL file grows to about this many 4 KiB pages under load. Lower it to keep the `-wal` file small, at the
    /// cost of ingest throughput (see docs/storage.md). Ignored on PostgreSQL.
    pub sqlite_checkpoint_pages: u32,
}

impl StoreConfig {
    /// The defaults for `url`: 16 connections, 1 kept idle, 5 s connection and busy timeouts, WAL + `NORMAL`, a
    /// checkpoint every [`DEFAULT_CHECKPOINT_PAGES`] WAL frames.
    pub fn new(url: impl Into<String>) -> Self {
        StoreConfig {
            url: url.into(),
            max_connections: 16,
            min_idle: Some(1),
            connection_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            sqlite_sync: SqliteSync::Normal,
            sqlite_checkpoint_pages: DEFAULT_CHECKPOINT_PAGES,
        }
    }
}

impl Default for StoreConfig {
    /// `sqlite://tollgate.db` with the defaults of [`StoreConfig::new`].
    fn default() -> Self {
        StoreConfig::new("sqlite://tollgate.db")
    }
}

/// A snapshot of the connection pool: `connections - idle` are checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

/// The durable state of Tollgate. Cheap to clone; every method blocks (call it from `web::block` or a thread).
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<ConnectionManager>,
    keys: Arc<StoreKeys>,
    url: Arc<DatabaseUrl>,
    /// This pool's SQLite writers queue here rather than in SQLite's sleeping busy handler.
    write_gate: Arc<WriteGate>,
    /// Bumped after every committed change to an entitlement or its devices (see [`Store::entitlement_version`]).
    versions: Arc<ChangeVersions>,
    /// SQLite only: the WAL checkpoint thread, stopped when the last clone of this store is dropped.
    checkpointer: Option<Arc<Checkpointer>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url)
            .field("pool", &self.pool.state())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Build the pool. No connection is required to succeed here: an unreachable database shows up as
    /// [`StoreError::Unavailable`] from the first call (`ping`, `migrate`, ...), so a server can start and report
    /// itself unready. An unknown URL scheme fails at once.
    pub fn open(config: &StoreConfig, keys: StoreKeys) -> Result<Store> {
        let url = DatabaseUrl::parse(&config.url)?;
        let is_postgres = matches!(url, DatabaseUrl::Postgres(_));
        let manager = || {
            ConnectionManager::new(url.clone(), config.busy_timeout, config.sqlite_sync)
                .behind_checkpoints_of(config.sqlite_checkpoint_pages)
        };
        let pool = r2d2::Pool::builder()
            .max_size(config.max_connections.max(1))
            .min_idle(config.min_idle)
            .connection_timeout(config.connection_timeout)
            // A SQLite file never drops a connection; a PostgreSQL server may restart under us.
            .test_on_check_out(is_postgres)
            // A database that stays down: its error once, then once a minute with a count (not several a second).
            .error_handler(Box::new(crate::pool_errors::RepeatedErrors::default()))
            .build_unchecked(manager());
        let write_gate = Arc::new(WriteGate::new(config.busy_timeout));
        let checkpointer = match &url {
            DatabaseUrl::Sqlite(path) => Some(Arc::new(Checkpointer::start(
                manager(),
                path.clone(),
                Arc::clone(&write_gate),
                config.sqlite_checkpoint_pages,
            )?)),
            DatabaseUrl::Postgres(_) => None,
        };
        Ok(Store {
            pool,
            keys: Arc::new(keys),
            url: Arc::new(url),
            write_gate,
            versions: Arc::new(ChangeVersions::new()),
            checkpointer,
        })
    }

    /// The parsed database URL (its `Debug` hides Postgres credentials).
    pub fn database_url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The keys: hash a license key or hwid the way the store does.
    pub fn keys(&self) -> &StoreKeys {
        &self.keys
    }

    /// Shorthand for `keys().hash_license_key(..)`.
    pub fn hash_license_key(&self, license_key: &str) -> LicenseKeyHash {
        self.keys.hash_license_key(license_key)
    }

    /// Shorthand for `keys().hash_hwid(..)`.
    pub fn hash_hwid(&self, hwid: &str) -> HwidHash {
        self.keys.hash_hwid(hwid)
    }

    pub(crate) fn conn(&self) -> Result<r2d2::PooledConnection<ConnectionManager>> {
        Ok(self.pool.get()?)
    }

    /// [`write_transaction`] with this store's write gate.
    pub(crate) fn write_transaction<T>(
        &self,
        conn: &mut DbConnection,
        body: impl FnOnce(&mut DbConnection) -> Result<T>,
    ) -> Result<T> {
        let value = write_transaction(&self.write_gate, conn, body)?;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed();
        }
        Ok(value)
    }

    /// SQLite: what the background WAL checkpoint thread of this store has done. `None` on PostgreSQL.
    pub fn wal_checkpoints(&self) -> Option<WalCheckpoints> {
        self.checkpointer.as_ref().map(|c| c.status())
    }

    /// A number that changes after every write this process (this `Store` and its clones) commits to the
    /// entitlement or to its devices. Read it before reading the entitlement: if it is unchanged later, no such
    /// write committed in between, so an answer computed from that read is still current as far as this process
    /// knows. Writes by other instances on the same database do not change it.
    pub fn entitlement_version(&self, id: &EntitlementId) -> u64 {
        self.versions.get(id)
    }

    /// Record that a write to this entitlement (or its devices) has committed. Call it after the commit.
    pub(crate) fn changed(&self, id: &EntitlementId) {
        self.versions.bump(id);
    }

    /// How the connection pool is used right now (for metrics): open connections, idle ones, and the maximum.
    pub fn pool_use(&self) -> PoolUse {
        let state = self.pool.state();
        PoolUse {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    /// The database answers a trivial query.
    pub fn ping(&self) -> Result<()> {
        let mut conn = self.conn()?;
        conn.batch_execute("SELECT 1")?;
        Ok(())
    }

    /// Apply every pending embedded migration and return their names. Safe to call from several instances at
    /// once: SQLite runs them under `BEGIN IMMEDIATE`, PostgreSQL under an advisory lock.
    pub fn migrate(&self) -> Result<Vec<String>> {
        let started = Instant::now();
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(_) => self.write_transaction(&mut conn, |conn| match conn {
                DbConnection::Sqlite(c) => run_pending(c, SQLITE_MIGRATIONS),
                DbConnection::Postgres(_) => Err(backend_mismatch()),
            })?,
            DbConnection::Postgres(c) => {
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
                let result = run_pending(c, POSTGRES_MIGRATIONS);
                c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
                result?
            }
        };
        log::info!(
            backend = self.url.backend(),
            applied = applied.len(),
            duration_ms = started.elapsed().as_millis() as u64;
            "database migrations applied"
        );
        Ok(applied)
    }

    /// Names of the embedded migrations not yet applied to the database.
    pub fn pending_migrations(&self) -> Result<Vec<String>> {
        let mut conn = self.conn()?;
        let pending = match &mut *conn {
            DbConnection::Sqlite(c) => c
                .pending_migrations(SQLITE_MIGRATIONS)
                .map(|list| list.iter().map(|m| m.name().to_string()).collect()),
            DbConnection::Postgres(c) => c
                .pending_migrations(POSTGRES_MIGRATIONS)
                .map(|list| list.iter().map(|m| m.name().to_string()).collect()),
        };
        pending.map_err(migration_error)
    }

    /// True when every embedded migration is applied (for `/readyz` and `doctor`).
    pub fn is_migrated(&self) -> Result<bool> {
        Ok(self.pending_migrations()?.is_empty())
    }
}

fn run_pending<C>(conn: &mut C, migrations: EmbeddedMigrations) -> Result<Vec<String>>
where
    C: MigrationHarness<C::Backend> + diesel::Connection,
{
    conn.run_pending_migrations(migrations)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(migration_error)
}

fn migration_error(err: Box<dyn std::error::Error + Send + Sync>) -> StoreError {
    // The harness boxes diesel errors; a connection that is gone is still "unavailable".
    match err.downcast::<diesel::result::Error>() {
        Ok(diesel_err) => match StoreError::from(*diesel_err) {
            unavailable @ StoreError::Unavailable { .. } => unavailable,
            other => StoreError::Migration {
                reason: other.to_string(),
            },
        },
        Err(err) => StoreError::Migration {
            reason: err.to_string(),
        },
    }
}

fn backend_mismatch() -> StoreError {
    StoreError::Migration {
        reason: "connection backend changed inside a transaction".to_owned(),
    }
}
