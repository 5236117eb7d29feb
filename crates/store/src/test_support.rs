//! Fresh test databases, for the store's, the service's and the binary's tests (feature `test-support`, never on in
//! normal builds).
//!
//! PostgreSQL comes from `TOLLGATE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`). Each test
//! creates its own schema (optionally with its own login role) and reaches it through the libpq `options` parameter
//! (`options=-csearch_path%3D<schema>`), so tests run in parallel; the schema is dropped when the test ends. When the
//! server is unreachable the PostgreSQL half is skipped with a note, unless `TOLLGATE_REQUIRE_PG=1`, which makes it
//! fail. SQLite is a `tollgate.db` file in a fresh temporary directory.

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "a test harness fails the test on any setup error"
)]

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection};
use ring::rand::{SecureRandom as _, SystemRandom};

use crate::{Store, StoreConfig, StoreKeys};

/// The test PostgreSQL when `TOLLGATE_TEST_DATABASE_URL` is unset.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which database a test body runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `bytes` random bytes, as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the system random source");
    hex::encode(buf)
}

/// The superuser URL of the test PostgreSQL.
pub fn pg_admin_url() -> String {
    std::env::var("TOLLGATE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

/// A superuser connection to the test PostgreSQL, or `None` with a note when it is unreachable and
/// `TOLLGATE_REQUIRE_PG=1` is not set (then it panics).
pub fn connect_pg_admin() -> Option<PgConnection> {
    let required = std::env::var("TOLLGATE_REQUIRE_PG").is_ok_and(|v| v == "1");
    match PgConnection::establish(&pg_admin_url()) {
        Ok(conn) => Some(conn),
        Err(e) if !required => {
            eprintln!(
                "note: PostgreSQL half skipped: cannot connect to the test database ({e}); set TOLLGATE_REQUIRE_PG=1 to fail instead"
            );
            None
        }
        Err(e) => panic!("TOLLGATE_REQUIRE_PG=1 but the test PostgreSQL is unreachable: {e}"),
    }
}

/// `admin_url` aimed at `schema` through `options=-csearch_path%3D<schema>`: the URL a child process (a server under
/// test) can be given. `user` replaces the user (and drops any password); `port` replaces the host and port with
/// `127.0.0.1:<port>` (a proxy in front of PostgreSQL).
pub fn pg_url_for_schema(admin_url: &str, schema: &str, user: Option<&str>, port: Option<u16>) -> String {
    let (scheme, rest) = admin_url.split_once("://").unwrap_or(("postgres", admin_url));
    let (admin_user, host) = match rest.split_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), rest),
    };
    let user = user.map_or(admin_user, |user| format!("{user}@"));
    let (authority, path) = match host.find(['/', '?']) {
        Some(i) => host.split_at(i),
        None => (host, ""),
    };
    let authority = port.map_or_else(|| authority.to_owned(), |port| format!("127.0.0.1:{port}"));
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{scheme}://{user}{authority}{path}{separator}options=-csearch_path%3D{schema}")
}

/// A schema (and, with [`PgSchema::create_with_role`], a login role of the same name) on the test PostgreSQL, dropped
/// (after ending the role's sessions) when this value is dropped.
#[derive(Debug)]
pub struct PgSchema {
    admin_url: String,
    name: String,
    role: bool,
}

impl PgSchema {
    /// A fresh schema `<prefix><random hex>`, or `None` (with a note) when PostgreSQL is down and not required.
    pub fn create(prefix: &str) -> Option<PgSchema> {
        Self::create_inner(prefix, false)
    }

    /// A fresh login role and a schema it owns, both named `<prefix><random hex>`: a test that locks its own role
    /// out (the outage tests) touches no other test.
    pub fn create_with_role(prefix: &str) -> Option<PgSchema> {
        Self::create_inner(prefix, true)
    }

    fn create_inner(prefix: &str, role: bool) -> Option<PgSchema> {
        let mut conn = connect_pg_admin()?;
        let name = format!("{prefix}{}", random_hex(8));
        let sql = if role {
            format!("CREATE ROLE {name} LOGIN; CREATE SCHEMA {name} AUTHORIZATION {name};")
        } else {
            format!("CREATE SCHEMA {name}")
        };
        conn.batch_execute(&sql).expect("create the test schema");
        Some(PgSchema {
            admin_url: pg_admin_url(),
            name,
            role,
        })
    }

    /// The schema (and role) name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The superuser URL this schema was created through.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The URL of this schema (as its own role, when it has one); `port` as in [`pg_url_for_schema`].
    pub fn url(&self, port: Option<u16>) -> String {
        let user = self.role.then_some(self.name.as_str());
        pg_url_for_schema(&self.admin_url, &self.name, user, port)
    }

    /// A superuser connection to the test PostgreSQL.
    pub fn admin(&self) -> PgConnection {
        PgConnection::establish(&self.admin_url).expect("connect to the test PostgreSQL")
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let sql = if self.role {
                format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{0}';
                     DROP SCHEMA IF EXISTS {0} CASCADE; DROP ROLE IF EXISTS {0};",
                    self.name
                )
            } else {
                format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)
            };
            let _ = conn.batch_execute(&sql);
        }
    }
}

/// A fresh, migrated database for one test body, with a `Store` over it and random keys.
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    pub backend: Backend,
    config: StoreConfig,
    keys: (String, String),
    sqlite_dir: Option<tempfile::TempDir>,
    // Declared last: dropped after every pool above has closed.
    pg_schema: Option<PgSchema>,
}

/// Implementing `Drop` keeps a test body's `async move` from capturing only the fields it names (edition 2021+
/// disjoint capture), which would drop the temporary directory or PostgreSQL schema while the body still runs.
impl Drop for TestDb {
    fn drop(&mut self) {}
}

impl TestDb {
    /// A fresh SQLite file whose pool holds at most `max_connections`.
    pub fn sqlite(max_connections: u32) -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
        Self::open(Backend::Sqlite, url, max_connections, Some(dir), None)
    }

    /// A fresh schema `t_<random>` on the test PostgreSQL, or `None` (with a note) when it is down and not required.
    pub fn postgres(max_connections: u32) -> Option<TestDb> {
        let schema = PgSchema::create("t_")?;
        let url = schema.url(None);
        Some(Self::open(
            Backend::Postgres,
            url,
            max_connections,
            None,
            Some(schema),
        ))
    }

    fn open(
        backend: Backend,
        url: String,
        max_connections: u32,
        sqlite_dir: Option<tempfile::TempDir>,
        pg_schema: Option<PgSchema>,
    ) -> TestDb {
        let mut config = StoreConfig::new(url);
        config.max_connections = max_connections;
        config.min_idle = Some(0);
        config.connection_timeout = Duration::from_secs(30);
        config.busy_timeout = Duration::from_secs(30);
        let keys = (random_key(), random_key());
        let store = Store::open(&config, Self::store_keys(&keys)).expect("open the test store");
        store.migrate().expect("migrate the test store");
        TestDb {
            store,
            backend,
            config,
            keys,
            sqlite_dir,
            pg_schema,
        }
    }

    fn store_keys(keys: &(String, String)) -> StoreKeys {
        StoreKeys::from_base64(&keys.0, &keys.1).expect("valid test keys")
    }

    /// A second, independent pool on the same database and keys (as a restarted or second instance).
    pub fn open_again(&self) -> Store {
        let store = Store::open(&self.config, Self::store_keys(&self.keys)).expect("reopen the test store");
        store.ping().expect("reach the reopened test store");
        store
    }

    /// The URL of this database (for PostgreSQL, with its `search_path`).
    pub fn url(&self) -> String {
        self.config.url.clone()
    }

    /// The PostgreSQL URL of this test's schema (PostgreSQL only).
    pub fn pg_url(&self) -> String {
        assert_eq!(self.backend, Backend::Postgres);
        self.url()
    }

    /// The store keys, as standard base64 (pepper, data key).
    pub fn keys_base64(&self) -> (String, String) {
        self.keys.clone()
    }

    /// The SQLite database file (SQLite only).
    pub fn sqlite_path(&self) -> PathBuf {
        self.sqlite_dir
            .as_ref()
            .expect("a SQLite test database")
            .path()
            .join("tollgate.db")
    }

    /// The PostgreSQL schema (PostgreSQL only).
    pub fn pg_schema(&self) -> Option<&PgSchema> {
        self.pg_schema.as_ref()
    }

    /// Run this backend's `up.sql` of the migration `name` (a folder under `migrations/<backend>/`) once more. For a
    /// data migration that only touches rows it has not touched yet: a test stores rows the way an older release
    /// did, then shows what the migration makes of them.
    pub fn rerun_migration(&self, name: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations")
            .join(self.backend.as_str())
            .join(name)
            .join("up.sql");
        let sql = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read the migration {}: {e}", path.display()));
        let mut conn = self.store.conn().expect("a connection to the test store");
        conn.batch_execute(&sql).expect("run the migration again");
    }
}

fn random_key() -> String {
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .expect("the system random source");
    BASE64.encode(key)
}

/// Run `body` on a fresh SQLite database, then (unless skipped) on a fresh PostgreSQL schema; each pool holds at
/// most `max_connections`. The SQLite database is dropped before the PostgreSQL one is created.
pub fn for_each_backend(max_connections: u32, mut body: impl FnMut(TestDb)) {
    body(TestDb::sqlite(max_connections));
    if let Some(pg) = TestDb::postgres(max_connections) {
        body(pg);
    }
}
