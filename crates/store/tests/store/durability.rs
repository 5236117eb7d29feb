use tollgate_policy::Provider;
use tollgate_store::{Admission, EntitlementChange, InboxStatus, NewInboxEvent, RecordOutcome};

use crate::common::{activated, both, sqlite_db, t};

#[test]
fn everything_acknowledged_survives_a_new_pool() {
    both(|db| {
        let delivery = NewInboxEvent {
            provider: Provider::Whop,
            dedupe_key: "msg_restart".to_owned(),
            semantic_key: None,
            event_type: "membership.activated".to_owned(),
            body: b"{\"restart\":true}".to_vec(),
            received_at: t(1),
        };
        let change = EntitlementChange {
            license_key: Some("KEY-RESTART-0001".to_owned()),
            ..EntitlementChange::new(activated("mem_restart", 0))
        };
        let RecordOutcome::Applied {
            inbox_id,
            entitlement,
        } = db.store.record_webhook(&delivery, Some(change)).unwrap()
        else {
            panic!("expected Applied");
        };
        let Admission::Admitted(device) = db
            .store
            .activate_device(&entitlement.id, "hw-r", None, 1, None, t(2))
            .unwrap()
        else {
            panic!("expected Admitted");
        };
        db.store.set_cursor(Provider::Whop, "cur", t(3)).unwrap();
        let before_devices = db.store.list_devices(&entitlement.id).unwrap();
        let before_audit = db.store.list_audit(&entitlement.id, 10).unwrap();

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
            reopened.record_webhook(&delivery, None).unwrap(),
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
    };
    let change = EntitlementChange {
        license_key: Some(license_key.to_owned()),
        extras: Some(serde_json::json!({"customer_email": email})),
        ..EntitlementChange::new(activated("mem_secret", 0))
    };
    let RecordOutcome::Applied { entitlement, .. } =
        db.store.record_webhook(&delivery, Some(change)).unwrap()
    else {
        panic!("expected Applied");
    };
    db.store
        .activate_device(&entitlement.id, hwid, Some("Desk"), 1, None, t(1))
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
