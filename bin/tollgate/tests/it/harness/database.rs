//! A fresh database per test for server processes: a SQLite file in a temp directory, or a PostgreSQL schema from
//! the shared `tollgate_store::test_support` (reached through `options=-csearch_path%3D<schema>`, dropped when the
//! test ends; skipped with a note when PostgreSQL is down, unless `TOLLGATE_REQUIRE_PG=1`).

use std::path::PathBuf;
use std::time::Duration;

use tollgate_store::test_support::PgSchema;
use tollgate_store::{Store, StoreConfig, StoreKeys};

/// Base64 of 32 bytes each: the keys every instance of a PostgreSQL test shares.
pub const PEPPER: &str = "c2NhbGUtdGVzdC1wZXBwZXItMDEyMzQ1Njc4OWFiY2Q=";
pub const DATA_KEY: &str = "c2NhbGUtdGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWI=";

/// One test's database.
pub enum TestDb {
    Sqlite { dir: tempfile::TempDir },
    Postgres { schema: PgSchema },
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        TestDb::Sqlite {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A fresh schema, or `None` (with a note) when PostgreSQL is unreachable and not required.
    pub fn postgres() -> Option<TestDb> {
        PgSchema::create("tg_scale_").map(|schema| TestDb::Postgres { schema })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDb::Postgres { .. })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            TestDb::Sqlite { .. } => "sqlite",
            TestDb::Postgres { .. } => "postgres",
        }
    }

    /// The URL a server uses to reach the database directly.
    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite { .. } => format!("sqlite://{}", self.sqlite_path().display()),
            TestDb::Postgres { schema } => schema.url(None),
        }
    }

    /// The PostgreSQL URL with its host and port replaced by `127.0.0.1:port` (a proxy in front of it).
    pub fn url_via(&self, port: u16) -> String {
        match self {
            TestDb::Postgres { schema } => schema.url(Some(port)),
            TestDb::Sqlite { .. } => panic!("a proxy only stands in front of PostgreSQL"),
        }
    }

    /// Where PostgreSQL listens, for a proxy to forward to.
    pub fn pg_addr(&self) -> String {
        match self {
            TestDb::Postgres { schema } => {
                let admin_url = schema.admin_url();
                let rest = admin_url.split_once("://").map_or(admin_url, |(_, r)| r);
                let host = rest.split_once('@').map_or(rest, |(_, h)| h);
                let host = host.split(['/', '?']).next().unwrap();
                if host.contains(':') {
                    host.to_owned()
                } else {
                    format!("{host}:5432")
                }
            }
            TestDb::Sqlite { .. } => panic!("not PostgreSQL"),
        }
    }

    pub fn sqlite_path(&self) -> PathBuf {
        match self {
            TestDb::Sqlite { dir } => dir.path().join("tollgate.db"),
            TestDb::Postgres { .. } => panic!("not SQLite"),
        }
    }

    /// The `TOLLGATE_DATABASE__*` variables a server needs for this database (keys shared by every instance).
    pub fn server_env(&self) -> Vec<(String, String)> {
        let mut env = vec![("TOLLGATE_DATABASE__URL".to_owned(), self.url())];
        if self.is_postgres() {
            env.push(("TOLLGATE_DATABASE__PEPPER".to_owned(), PEPPER.to_owned()));
            env.push(("TOLLGATE_DATABASE__DATA_KEY".to_owned(), DATA_KEY.to_owned()));
        }
        env
    }

    /// A store over the same database, with the keys the servers use: what the test reads the results from.
    /// (For SQLite, the key file the first server created beside the database.)
    pub fn open_store(&self) -> Store {
        let keys = match self {
            TestDb::Sqlite { .. } => {
                let mut name = self.sqlite_path().into_os_string();
                name.push(".keys");
                let path = PathBuf::from(name);
                assert!(path.is_file(), "no key file: start a server first");
                StoreKeys::load_or_create(&path).unwrap()
            }
            TestDb::Postgres { .. } => StoreKeys::from_base64(PEPPER, DATA_KEY).unwrap(),
        };
        let mut config = StoreConfig::new(self.url());
        config.max_connections = 2;
        config.min_idle = Some(0);
        config.connection_timeout = Duration::from_secs(30);
        Store::open(&config, keys).unwrap()
    }
}

/// Six random bytes, as hex: a run's unique tag.
pub fn random_hex() -> String {
    tollgate_store::test_support::random_hex(6)
}
