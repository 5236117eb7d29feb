//! Issue 18 item 8: a key file that is missing (or another one) over existing data. `serve` refuses to start and
//! says what was lost and how to restore it, instead of creating new keys that open nothing; `doctor` and
//! `/readyz` check that the keys open the stored data; the restored file starts the server again.

use std::sync::Arc;

use actix_web::App;
use actix_web::test as actix_test;
use tollgate::app::{AppState, configure};
use tollgate::settings::{ConfigFile, Settings};
use tollgate_service::clock::SystemClock;
use tollgate_store::{Store, StoreConfig, StoreKeys};

use crate::harness::process::{self, Server, command, free_port, run};

/// The check of `id` in `tollgate doctor --json`, run in `dir`.
fn doctor(dir: &std::path::Path, id: &str) -> (bool, serde_json::Value) {
    // A free listen address: nothing else on this machine decides the outcome.
    let listen = format!("127.0.0.1:{}", free_port());
    let done = run(command(
        dir,
        &["doctor", "--json"],
        &[("TOLLGATE_LISTEN", &listen)],
    ));
    (done.status.success(), process::doctor_check(&done.stdout, id))
}

#[test]
fn a_missing_or_foreign_key_file_over_data_stops_the_start_and_the_backup_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("tollgate.db.keys");
    // The first start creates the key file and the lease signing key (sealed with the data key).
    let mut server = Server::start(dir.path(), &[]);
    server.stop();
    let backup = std::fs::read(&keys).unwrap();
    let (ok, check) = doctor(dir.path(), "database.keys_open_data");
    assert!(ok);
    assert_eq!(check["status"], "done", "{check}");

    std::fs::remove_file(&keys).unwrap();
    let mut refused = Server::spawn(dir.path(), &[]);
    assert!(!refused.wait_exit().success());
    let log = refused.log_text();
    assert!(
        log.contains(
            "the store key file tollgate.db.keys is missing, but the database tollgate.db holds data sealed or \
             hashed with its keys (1 lease signing key(s), 0 stored webhook(s), 0 entitlement(s), 0 device(s))"
        ),
        "{log}"
    );
    assert!(
        log.contains("Restore tollgate.db.keys from the backup taken with the database"),
        "{log}"
    );
    assert!(!keys.exists(), "a new key file was created over the data");
    let (ok, check) = doctor(dir.path(), "database.keys");
    assert!(!ok);
    assert_eq!(check["status"], "broken", "{check}");
    assert!(
        check["summary"]
            .as_str()
            .unwrap()
            .contains("1 lease signing key(s)"),
        "{check}"
    );

    // Another installation's key file: valid, but not the one this data was sealed with.
    let other = tempfile::tempdir().unwrap();
    StoreKeys::load_or_create(&other.path().join("k")).unwrap();
    std::fs::copy(other.path().join("k"), &keys).unwrap();
    let mut refused = Server::spawn(dir.path(), &[]);
    assert!(!refused.wait_exit().success());
    let log = refused.log_text();
    assert!(
        log.contains("the configured store keys do not open the stored data (cannot decrypt signing key"),
        "{log}"
    );
    let (ok, check) = doctor(dir.path(), "database.keys_open_data");
    assert!(!ok);
    assert_eq!(check["status"], "broken", "{check}");

    // The backup brings it back.
    std::fs::write(&keys, backup).unwrap();
    let _server = Server::start(dir.path(), &[]);
}

#[actix_web::test]
async fn readyz_is_not_ready_while_the_keys_do_not_open_the_stored_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    server.stop();
    let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
    let settings = Settings::load_from(
        ConfigFile::Default,
        [("TOLLGATE_DATABASE__URL".to_owned(), url.clone())],
    )
    .unwrap();
    // A server whose keys changed under it (its state built past the start-up check).
    let store = Store::open(&StoreConfig::new(url), StoreKeys::generate().unwrap()).unwrap();
    let state = AppState::new(store, Arc::new(settings), Arc::new(SystemClock)).unwrap();
    let app = actix_test::init_service(App::new().configure(move |cfg| configure(cfg, state))).await;
    let res =
        actix_test::call_service(&app, actix_test::TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(res.status().as_u16(), 503);
    let body: serde_json::Value = actix_test::read_body_json(res).await;
    assert_eq!(body["code"], "NOT_READY");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("the store keys do not open the stored data"),
        "{body}"
    );
}
