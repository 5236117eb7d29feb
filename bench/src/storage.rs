//! The storage ceiling for ingest: one-row insert transactions into the same database engine with the same
//! durability as Tollgate's store (SQLite: WAL, `synchronous = NORMAL`, `busy_timeout` 5 s; PostgreSQL: default
//! `synchronous_commit`), from the same number of concurrent workers through a pool of the same size. Each row
//! is a unique key plus a body as large as the webhook bodies, like an inbox row.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use diesel::connection::SimpleConnection as _;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sql_types::{BigInt, Binary, Text};
use diesel::{PgConnection, RunQueryDsl as _, SqliteConnection};
use indicatif::ProgressBar;

use crate::error::BenchError;
use crate::load::{ErrorKey, Limit, PhaseOutcome};

/// Where the storage ceiling writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageTarget {
    /// A SQLite file (created).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (with its `search_path` option set to the run's schema).
    Postgres(String),
}

impl StorageTarget {
    pub fn describe(&self) -> String {
        match self {
            StorageTarget::Sqlite(path) => format!("sqlite://{}", path.display()),
            StorageTarget::Postgres(_) => "postgres (run schema)".to_owned(),
        }
    }
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

const CREATE: &str = "CREATE TABLE IF NOT EXISTS bench_storage_ceiling (dedupe_key TEXT PRIMARY KEY, \
                      provider TEXT NOT NULL, received_at BIGINT NOT NULL, body {BLOB} NOT NULL)";

type InsertFn = dyn Fn(u64) -> Result<(), String> + Send + Sync;

/// Runs the storage ceiling: `connections` threads, a pool of `pool_size`, rows with `body_len`-byte bodies.
pub fn run(
    target: &StorageTarget,
    connections: usize,
    pool_size: u32,
    limit: Limit,
    body_len: usize,
) -> Result<PhaseOutcome, BenchError> {
    let body = Arc::new(vec![0x5au8; body_len]);
    let insert: Arc<InsertFn> = match target {
        StorageTarget::Sqlite(path) => sqlite_insert(path, pool_size, body)?,
        StorageTarget::Postgres(url) => postgres_insert(url, pool_size, body)?,
    };
    Ok(drive_threads(connections, limit, insert))
}

fn db_error(e: impl std::fmt::Display) -> BenchError {
    BenchError::Database(e.to_string())
}

fn sqlite_insert(path: &Path, pool_size: u32, body: Arc<Vec<u8>>) -> Result<Arc<InsertFn>, BenchError> {
    let url = path
        .to_str()
        .ok_or_else(|| BenchError::Database("the SQLite path is not UTF-8".to_owned()))?;
    let pool = Pool::builder()
        .max_size(pool_size)
        .connection_customizer(Box::new(SqlitePragmas))
        .build(ConnectionManager::<SqliteConnection>::new(url))
        .map_err(db_error)?;
    let mut conn = pool.get().map_err(db_error)?;
    conn.batch_execute(&CREATE.replace("{BLOB}", "BLOB"))
        .map_err(db_error)?;
    drop(conn);
    Ok(Arc::new(move |index: u64| {
        let mut conn = pool.get().map_err(|e| format!("pool: {e}"))?;
        diesel::sql_query(
            "INSERT INTO bench_storage_ceiling (dedupe_key, provider, received_at, body) VALUES (?, ?, ?, ?)",
        )
        .bind::<Text, _>(format!("msg_storage_{index}"))
        .bind::<Text, _>("whop")
        .bind::<BigInt, _>(index as i64)
        .bind::<Binary, _>(body.as_slice())
        .execute(&mut conn)
        .map(|_| ())
        .map_err(|e| e.to_string())
    }))
}

fn postgres_insert(url: &str, pool_size: u32, body: Arc<Vec<u8>>) -> Result<Arc<InsertFn>, BenchError> {
    let pool = Pool::builder()
        .max_size(pool_size)
        .build(ConnectionManager::<PgConnection>::new(url))
        .map_err(db_error)?;
    let mut conn = pool.get().map_err(db_error)?;
    conn.batch_execute(&CREATE.replace("{BLOB}", "BYTEA"))
        .map_err(db_error)?;
    drop(conn);
    Ok(Arc::new(move |index: u64| {
        let mut conn = pool.get().map_err(|e| format!("pool: {e}"))?;
        diesel::sql_query(
            "INSERT INTO bench_storage_ceiling (dedupe_key, provider, received_at, body) VALUES ($1, $2, $3, $4)",
        )
        .bind::<Text, _>(format!("msg_storage_{index}"))
        .bind::<Text, _>("whop")
        .bind::<BigInt, _>(index as i64)
        .bind::<Binary, _>(body.as_slice())
        .execute(&mut conn)
        .map(|_| ())
        .map_err(|e| e.to_string())
    }))
}

/// `connections` OS threads inserting until the limit; each keeps its own histogram.
fn drive_threads(connections: usize, limit: Limit, insert: Arc<InsertFn>) -> PhaseOutcome {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let (deadline, max) = match limit {
        Limit::Duration(d) => (Some(start + d), u64::MAX),
        Limit::Requests(n) => (None, n),
    };
    let bar = match limit {
        Limit::Requests(n) => ProgressBar::new(n),
        Limit::Duration(_) => ProgressBar::new_spinner(),
    };
    bar.set_prefix("storage-ceiling");
    let handles: Vec<_> = (0..connections.max(1))
        .map(|_| {
            let next = Arc::clone(&next);
            let insert = Arc::clone(&insert);
            let bar = bar.clone();
            std::thread::spawn(move || {
                let mut outcome = PhaseOutcome::default();
                loop {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= max {
                        break;
                    }
                    let started = Instant::now();
                    let result = insert(index);
                    outcome.latencies.record(started.elapsed());
                    outcome.sent += 1;
                    match result {
                        Ok(()) => outcome.ok += 1,
                        Err(message) => outcome.add_error(
                            ErrorKey {
                                status: None,
                                code: short(&message),
                            },
                            1,
                        ),
                    }
                    if index.is_multiple_of(64) {
                        bar.set_position(index);
                    }
                }
                outcome
            })
        })
        .collect();
    let mut total = PhaseOutcome::default();
    for handle in handles {
        match handle.join() {
            Ok(part) => {
                total.sent += part.sent;
                total.ok += part.ok;
                total.latencies.merge(&part.latencies);
                for (key, count) in part.errors {
                    total.add_error(key, count);
                }
            }
            Err(_) => total.add_error(
                ErrorKey {
                    status: None,
                    code: "insert thread panicked".to_owned(),
                },
                1,
            ),
        }
    }
    total.elapsed = start.elapsed();
    bar.finish_and_clear();
    total
}

/// The first line of a database error, at most 80 characters, as an error class.
fn short(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    line.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_storage_ceiling_inserts_exactly_the_requested_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let target = StorageTarget::Sqlite(path.clone());
        let outcome = run(&target, 4, 2, Limit::Requests(40), 1500).unwrap();
        assert_eq!((outcome.sent, outcome.ok), (40, 40));
        assert!(outcome.errors.is_empty());
        let mut conn = <SqliteConnection as diesel::Connection>::establish(path.to_str().unwrap()).unwrap();
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let count: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM bench_storage_ceiling")
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(count.n, 40);
    }
}
