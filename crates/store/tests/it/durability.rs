use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use tollgate_policy::Provider;
use tollgate_store::{
    EntitlementChange, InboxStatus, NewInboxEvent, RecordOutcome, Store, StoreConfig, StoreKeys,
};

use crate::common::{activated, both, sqlite_db, t};
use crate::seed::{DeviceRow, put_device, put_inbox_event};

const CHILD_DB: &str = "TOLLGATE_STORE_TEST_CHILD_DB";
const CHILD_PEPPER: &str = "TOLLGATE_STORE_TEST_CHILD_PEPPER";
const CHILD_DATA_KEY: &str = "TOLLGATE_STORE_TEST_CHILD_DATA_KEY";

fn kill_delivery(n: u64) -> NewInboxEvent {
    NewInboxEvent {
        provider: Provider::Whop,
        dedupe_key: format!("msg_kill_{n}"),
        semantic_key: None,
        event_type: "membership.activated".to_owned(),
        body: format!("{{\"n\":{n}}}").into_bytes(),
        received_at: t(0),
        webhook_id: None,
        signed_at: None,
    }
}

/// The writer process of the SIGKILL test: records webhooks forever, printing `ack N` after each commit returns,
/// as a server would answer 2xx. Run only by that test.
#[test]
#[ignore = "helper process of acknowledged_webhooks_survive_sigkill_of_the_writer"]
fn sigkill_child_writer() {
    let (Ok(db), Ok(pepper), Ok(data_key)) = (
        std::env::var(CHILD_DB),
        std::env::var(CHILD_PEPPER),
        std::env::var(CHILD_DATA_KEY),
    ) else {
        return;
    };
    let store = Store::open(
        &StoreConfig::new(format!("sqlite://{db}")),
        StoreKeys::from_base64(&pepper, &data_key).unwrap(),
    )
    .unwrap();
    let mut out = std::io::stdout().lock();
    for n in 0.. {
        let change = EntitlementChange::new(activated(&format!("mem_kill_{}", n % 7), n as i64));
        put_inbox_event(&store, &kill_delivery(n), Some(change)).unwrap();
        writeln!(out, "ack {n}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_webhooks_survive_sigkill_of_the_writer() {
    let db = sqlite_db();
    let (pepper, data_key) = db.keys_base64();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "durability::sigkill_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, db.sqlite_path())
        .env(CHILD_PEPPER, &pepper)
        .env(CHILD_DATA_KEY, &data_key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("ack ") {
            acked.push(n.parse::<u64>().unwrap());
            if acked.len() == 300 {
                break;
            }
        }
    }
    // SIGKILL mid-stream: the writer is inside its next transaction or between two.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        acked.len(),
        300,
        "the writer acknowledged 300 events before it was killed"
    );

    let store = db.open_again();
    for n in acked {
        let outcome = put_inbox_event(&store, &kill_delivery(n), None).unwrap();
        assert!(
            matches!(outcome, RecordOutcome::Duplicate { .. }),
            "acknowledged event {n} was lost: {outcome:?}"
        );
    }
    assert!(store.count_inbox(InboxStatus::Processed).unwrap() >= 300);
}

#[test]
fn everything_acknowledged_survives_a_new_pool() {
    both(|db| {
        let first = db.open_again();
        let delivery = NewInboxEvent {
            provider: Provider::Whop,
            dedupe_key: "msg_restart".to_owned(),
            semantic_key: None,
            event_type: "membership.activated".to_owned(),
            body: b"{\"restart\":true}".to_vec(),
            received_at: t(1),
            webhook_id: None,
            signed_at: None,
        };
        let change = EntitlementChange {
            license_key: Some("KEY-RESTART-0001".to_owned()),
            ..EntitlementChange::new(activated("mem_restart", 0))
        };
        let RecordOutcome::Applied {
            inbox_id,
            entitlement,
        } = put_inbox_event(&first, &delivery, Some(change)).unwrap()
        else {
            panic!("expected Applied");
        };
        let device = put_device(
            &first,
            &entitlement.id,
            &DeviceRow {
                hwid: "hw-r",
                name: None,
                instance_id: None,
                now: t(2),
            },
        )
        .unwrap();
        first.set_cursor(Provider::Whop, "cur", t(3)).unwrap();
        let before_devices = first.list_devices(&entitlement.id).unwrap();
        let before_audit = first.list_audit(&entitlement.id, 10).unwrap();
        drop(first);

        let reopened = db.open_again();
        assert_eq!(reopened.get_entitlement(&entitlement.id).unwrap(), *entitlement);
        assert_eq!(
            reopened
                .list_entitlements_by_license_key("KEY-RESTART-0001")
                .unwrap()
                .len(),
            1
        );
        assert_eq!(reopened.list_devices(&entitlement.id).unwrap(), before_devices);
        assert_eq!(before_devices, vec![device]);
        assert_eq!(reopened.list_audit(&entitlement.id, 10).unwrap(), before_audit);
        let row = reopened.find_inbox_event(inbox_id).unwrap().unwrap();
        assert_eq!(
            (row.status, row.body),
            (InboxStatus::Processed, b"{\"restart\":true}".to_vec())
        );
        assert_eq!(
            put_inbox_event(&reopened, &delivery, None).unwrap(),
            RecordOutcome::Duplicate { inbox_id }
        );
        assert_eq!(
            reopened.find_cursor(Provider::Whop).unwrap().as_deref(),
            Some("cur")
        );
    });
}

#[test]
fn the_database_files_hold_no_license_key_hwid_or_email() {
    let db = sqlite_db();
    let license_key = "LK-7Q2W-9ZXC-VB31-NM84";
    let hwid = "HWID-5f1c9e0a-77d2-4b6e-a1f3-secretdevice";
    let email = "alice.secret@example.org";
    let body = format!(
        "{{\"data\":{{\"license_key\":\"{license_key}\",\"email\":\"{email}\",\"hwid\":\"{hwid}\"}}}}"
    );
    let delivery = NewInboxEvent {
        provider: Provider::Dodo,
        dedupe_key: "msg_secret".to_owned(),
        semantic_key: Some("entg_1:license_key.created".to_owned()),
        event_type: "license_key.created".to_owned(),
        body: body.into_bytes(),
        received_at: t(0),
        webhook_id: None,
        signed_at: None,
    };
    let change = EntitlementChange {
        license_key: Some(license_key.to_owned()),
        extras: Some(serde_json::json!({"customer_email": email})),
        ..EntitlementChange::new(activated("mem_secret", 0))
    };
    let RecordOutcome::Applied { entitlement, .. } =
        put_inbox_event(&db.store, &delivery, Some(change)).unwrap()
    else {
        panic!("expected Applied");
    };
    put_device(
        &db.store,
        &entitlement.id,
        &DeviceRow {
            hwid,
            name: Some("Desk"),
            instance_id: None,
            now: t(1),
        },
    )
    .unwrap();
    // The values are really stored and readable through the store.
    assert_eq!(
        db.store
            .list_entitlements_by_license_key(license_key)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        db.store
            .find_device(&entitlement.id, &db.store.hash_hwid(hwid))
            .unwrap()
            .map(|d| d.name),
        Some(Some("Desk".to_owned()))
    );

    let mut files = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", db.sqlite_path().display());
        if let Ok(bytes) = std::fs::read(&path) {
            files.push((path, bytes));
        }
    }
    assert!(
        files.iter().any(|(p, _)| p.ends_with("-wal")),
        "WAL mode keeps recent commits in the -wal file"
    );
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    assert!(total > 10_000, "the files hold the data ({total} bytes)");
    for (path, bytes) in &files {
        for secret in [license_key, hwid, email, "alice.secret", "secretdevice"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{path} contains `{secret}` in clear"
            );
        }
    }
    let all: Vec<u8> = files.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    // The control: a value stored in clear on purpose is found, so the search itself works.
    assert!(
        all.windows(10).any(|w| w == b"mem_secret"),
        "the search finds clear-text values"
    );
}
