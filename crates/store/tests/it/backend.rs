use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection, SqliteConnection};
use tollgate_policy::Provider;
use tollgate_store::{Actor, EntitlementChange, Store, StoreConfig, StoreError, StoreKeys};

use crate::common::{Backend, activated, both, entitlement, postgres_db, sqlite_db, t};
use crate::seed::put_change;

#[test]
fn an_unknown_scheme_is_refused_not_turned_into_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("mysql://root:hunter2@{}/db", dir.path().display());
    let err = Store::open(&StoreConfig::new(url), StoreKeys::generate().unwrap()).unwrap_err();
    assert_eq!(
        err,
        StoreError::UnsupportedScheme {
            scheme: "mysql".to_owned()
        }
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let err = Store::open(&StoreConfig::new("tollgate.db"), StoreKeys::generate().unwrap()).unwrap_err();
    assert_eq!(
        err,
        StoreError::UnsupportedScheme {
            scheme: String::new()
        }
    );
}

#[test]
fn a_database_that_is_down_is_unavailable() {
    // Nothing listens on port 1; the pool gives up after the connection timeout.
    let mut config = StoreConfig::new("postgres://postgres@127.0.0.1:1/test?connect_timeout=1");
    config.connection_timeout = Duration::from_millis(300);
    config.min_idle = Some(0);
    let store = Store::open(&config, StoreKeys::generate().unwrap()).unwrap();
    let err = store.ping().unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(matches!(store.migrate(), Err(StoreError::Unavailable { .. })));
    assert!(matches!(
        store.find_cursor(Provider::Whop),
        Err(StoreError::Unavailable { .. })
    ));
    assert!(!err.to_string().contains("postgres://"), "{err}");
}

#[test]
fn a_sqlite_write_lock_held_past_the_busy_timeout_is_unavailable() {
    let db = sqlite_db();
    let mut other = SqliteConnection::establish(db.sqlite_path().to_str().unwrap()).unwrap();
    other.batch_execute("BEGIN IMMEDIATE").unwrap();
    let mut config = StoreConfig::new(format!("sqlite://{}", db.sqlite_path().display()));
    config.busy_timeout = Duration::from_millis(50);
    let store = Store::open(&config, StoreKeys::generate().unwrap()).unwrap();
    let err = store.set_cursor(Provider::Whop, "c", t(0)).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    // Reads still work in WAL mode while another process writes.
    assert_eq!(store.find_cursor(Provider::Whop).unwrap(), None);
    other.batch_execute("ROLLBACK").unwrap();
    store.set_cursor(Provider::Whop, "c", t(0)).unwrap();
}

#[test]
fn a_postgres_row_lock_held_past_the_busy_timeout_is_unavailable_not_a_hang() {
    let Some(db) = postgres_db() else {
        return;
    };
    let id = entitlement(&db, "mem_locked");
    // Another session (another instance, an operator's psql) holds the entitlement's row lock.
    let mut other = PgConnection::establish(&db.pg_url()).unwrap();
    other
        .batch_execute(&format!(
            "BEGIN; SELECT id FROM entitlements WHERE id = '{}' FOR UPDATE;",
            id.as_str()
        ))
        .unwrap();
    let mut config = StoreConfig::new(db.pg_url());
    config.busy_timeout = Duration::from_millis(300);
    config.min_idle = Some(0);
    let (pepper, data_key) = db.keys_base64();
    let store = Store::open(&config, StoreKeys::from_base64(&pepper, &data_key).unwrap()).unwrap();
    let started = Instant::now();
    let err = put_change(
        &store,
        Actor::Activation,
        &EntitlementChange::new(activated("mem_locked", 60)),
        "test",
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // Nothing was written, and once the lock is released the same change goes through.
    assert_eq!(db.store.get_entitlement(&id).unwrap().version, 1);
    other.batch_execute("ROLLBACK").unwrap();
    let applied = put_change(
        &store,
        Actor::Activation,
        &EntitlementChange::new(activated("mem_locked", 60)),
        "test",
    )
    .unwrap();
    assert_eq!(applied.version, 2);
}

#[test]
fn migrations_are_embedded_idempotent_and_reported() {
    both(|db| {
        assert_eq!(db.store.pending_migrations().unwrap(), Vec::<String>::new());
        assert!(db.store.is_migrated().unwrap());
        assert_eq!(db.store.migrate().unwrap(), Vec::<String>::new());
        db.store.ping().unwrap();
        let expected_backend = match db.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        assert_eq!(db.store.database_url().backend(), expected_backend);
    });
}

#[test]
fn a_fresh_database_reports_its_pending_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(format!("sqlite://{}", dir.path().join("fresh.db").display()));
    let store = Store::open(&config, StoreKeys::generate().unwrap()).unwrap();
    // Every folder of migrations/sqlite, in order (the PostgreSQL set has the same names).
    let folder = |backend: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations")
            .join(backend);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let expected = folder("sqlite");
    assert_eq!(expected, folder("postgres"));
    assert_eq!(
        expected[..4],
        [
            "2026-11-22-000001_initial",
            "2026-11-23-000001_inbox_delivery",
            "2026-12-05-000001_binding_mirror",
            "2026-12-05-000002_aghanim_dedupe_scope",
        ]
    );
    assert_eq!(store.pending_migrations().unwrap(), expected);
    assert!(!store.is_migrated().unwrap());
    assert_eq!(store.migrate().unwrap().len(), expected.len());
    assert!(store.is_migrated().unwrap());
}
