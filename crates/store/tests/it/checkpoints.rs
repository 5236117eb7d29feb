//! SQLite WAL checkpoints run on the store's `tollgate-checkpoint` thread, not inside the writers' commits.

use std::path::Path;
use std::time::Duration;

use diesel::RunQueryDsl as _;
use diesel::sql_types::Integer;
use tollgate_policy::Provider;
use tollgate_store::{
    ConnectionManager, DEFAULT_CHECKPOINT_PAGES, DatabaseUrl, DbConnection, InboxStatus, NewInboxEvent,
    SqliteSync, Store, StoreConfig, StoreKeys,
};

use crate::common::{Backend, both, t};
use crate::seed::put_inbox_event;

/// Long enough for any checkpoint on a loaded test machine; the waits return as soon as it has run.
const WAIT: Duration = Duration::from_secs(60);
/// A WAL frame: a 24-byte header and a 4 KiB page.
const FRAME_BYTES: u64 = 24 + 4096;
/// The checkpoint threshold of the test's store: the default (10,000 frames) would need 40 MB per round.
const THRESHOLD: u32 = 1_000;
/// Deliveries of `BODY_BYTES` per round: about 1,100 WAL frames, past the test store's 1,000-frame threshold.
const ROUND: u64 = 80;
const ROUNDS: u64 = 6;
const BODY_BYTES: usize = 32 * 1024;

#[derive(diesel::QueryableByName)]
struct AutoCheckpoint {
    #[diesel(sql_type = Integer)]
    wal_autocheckpoint: i32,
}

#[derive(diesel::QueryableByName)]
struct TempStore {
    #[diesel(sql_type = Integer)]
    temp_store: i32,
}

fn big_delivery(n: u64) -> NewInboxEvent {
    NewInboxEvent {
        provider: Provider::Whop,
        dedupe_key: format!("msg_wal_{n}"),
        semantic_key: None,
        event_type: "membership.activated".to_owned(),
        body: vec![b'x'; BODY_BYTES],
        received_at: t(0),
        webhook_id: None,
        signed_at: None,
    }
}

#[expect(clippy::unwrap_used, reason = "a test helper: a missing WAL fails the test")]
fn wal_bytes(db_path: &Path) -> u64 {
    let mut wal = db_path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).unwrap().len()
}

#[test]
fn pooled_connections_checkpoint_themselves_only_far_behind_the_thread() {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("net.db").display())).unwrap();
    let pragma = |manager: ConnectionManager| {
        let DbConnection::Sqlite(mut conn) = r2d2::ManageConnection::connect(&manager).unwrap() else {
            panic!("not SQLite");
        };
        let setting = diesel::sql_query("PRAGMA wal_autocheckpoint")
            .get_result::<AutoCheckpoint>(&mut conn)
            .unwrap();
        // Multi-row statements keep their statement journal in memory (2 = MEMORY), not in a temporary file.
        let temp_store = diesel::sql_query("PRAGMA temp_store")
            .get_result::<TempStore>(&mut conn)
            .unwrap();
        assert_eq!(temp_store.temp_store, 2);
        setting.wal_autocheckpoint
    };
    let manager = || ConnectionManager::new(url.clone(), Duration::from_secs(30), SqliteSync::Normal);

    // Four times the thread's threshold: 10,000 frames by default (about 40 MB of WAL), so 40,000.
    assert_eq!(DEFAULT_CHECKPOINT_PAGES, 10_000);
    assert_eq!(
        StoreConfig::new("sqlite://x.db").sqlite_checkpoint_pages,
        DEFAULT_CHECKPOINT_PAGES
    );
    assert_eq!(pragma(manager()), 40_000);
    assert_eq!(pragma(manager().behind_checkpoints_of(1_000)), 4_000);
}

#[test]
fn sqlite_writers_leave_wal_checkpoints_to_the_background_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let mut config = StoreConfig::new(format!("sqlite://{}", path.display()));
    config.busy_timeout = WAIT;
    config.sqlite_checkpoint_pages = THRESHOLD;
    let store = Store::open(&config, StoreKeys::generate().unwrap()).unwrap();
    store.migrate().unwrap();
    let status = store.wal_checkpoints().unwrap();

    // Each round passes the 1,000-frame threshold; the next starts once a checkpoint has finished during or after
    // it. A finished checkpoint leaves the WAL fully copied, so the next write restarts it: the WAL never holds more
    // than two rounds.
    for round in 0..ROUNDS {
        let started = status.count();
        for n in round * ROUND..(round + 1) * ROUND {
            put_inbox_event(&store, &big_delivery(n), None).unwrap();
        }
        let done = status.wait_for_count(started + 1, WAIT);
        assert!(done > started, "round {round}: no checkpoint");
    }

    // Everything written would be a WAL of over 15 MB without checkpoints, and writers checkpoint themselves only at
    // 4,000 frames (about 16 MB): the WAL restarted after the thread's checkpoints and stayed within two rounds.
    let written = ROUNDS * ROUND * BODY_BYTES as u64;
    let wal = wal_bytes(&path);
    assert!(
        wal < 2_500 * FRAME_BYTES,
        "WAL of {wal} bytes after writing {written}"
    );
    assert!(wal < written / 2, "WAL of {wal} bytes after writing {written}");
    assert_eq!(store.count_inbox(InboxStatus::Ignored).unwrap(), ROUNDS * ROUND);
}

#[test]
fn only_sqlite_has_a_checkpoint_thread() {
    both(|db| match db.backend {
        Backend::Sqlite => assert!(db.store.wal_checkpoints().unwrap().is_running()),
        Backend::Postgres => assert!(db.store.wal_checkpoints().is_none()),
    });
}

/// Files of the temporary directory this process still has open.
#[expect(
    clippy::unwrap_used,
    reason = "a test helper: an unreadable /proc fails the test"
)]
fn open_files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .collect()
}

#[test]
fn dropping_the_last_store_clone_stops_the_thread_and_closes_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("closing.db").display());
    let store = Store::open(&StoreConfig::new(url), StoreKeys::generate().unwrap()).unwrap();
    store.migrate().unwrap();
    let status = store.wal_checkpoints().unwrap();
    // One commit leaves frames behind; the thread's idle wake checkpoints them, opening its own connection.
    put_inbox_event(&store, &big_delivery(0), None).unwrap();
    assert!(status.wait_for_count(1, WAIT) >= 1);

    let clone = store.clone();
    drop(store);
    assert!(status.is_running(), "a clone still holds the store");
    drop(clone);
    assert!(!status.is_running());
    assert_eq!(open_files_under(dir.path()), Vec::<std::path::PathBuf>::new());
    dir.close().unwrap();
}
