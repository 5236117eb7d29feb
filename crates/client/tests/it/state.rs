//! The state file: atomic replace, mode 0600, refused when damaged.

use crate::common;

use std::fs;

use tollgate_client::{ActivationStatus, ClientError, StateFile};

use common::Harness;

#[test]
fn save_then_load_round_trips_and_replaces_atomically() {
    let h = Harness::new("http://127.0.0.1:9");
    let file = h.state_file();
    assert_eq!(file.load(), Ok(None));
    let first = h.seed_active();
    assert_eq!(file.load(), Ok(Some(first.clone())));
    let second = h.seed(None, ActivationStatus::LicenseInactive);
    assert_eq!(file.load(), Ok(Some(second)));
    // no temporary file left next to it
    let names: Vec<String> = fs::read_dir(h.state_path().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["license.json".to_string()]);
    file.clear().unwrap();
    assert_eq!(file.load(), Ok(None));
    file.clear().unwrap(); // clearing twice is fine
}

#[cfg(unix)]
#[test]
fn the_file_is_0600_and_its_directory_0700() {
    use std::os::unix::fs::PermissionsExt as _;
    let h = Harness::new("http://127.0.0.1:9");
    // a pre-existing world-readable file is replaced by a private one
    fs::create_dir_all(h.state_path().parent().unwrap()).unwrap();
    fs::write(h.state_path(), b"{}").unwrap();
    fs::set_permissions(h.state_path(), fs::Permissions::from_mode(0o644)).unwrap();
    h.seed_active();
    let mode = fs::metadata(h.state_path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let h2 = Harness::new("http://127.0.0.1:9");
    h2.seed_active();
    let dir_mode = fs::metadata(h2.state_path().parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
}

#[test]
fn a_damaged_file_is_state_corrupt() {
    let h = Harness::new("http://127.0.0.1:9");
    let state = h.seed_active();
    let file = StateFile::new(h.state_path());
    for bytes in [
        b"not json".to_vec(),
        b"{}".to_vec(),
        serde_json::to_vec(&serde_json::json!({"version": 2})).unwrap(),
        // an extra field (for example someone adding the full key) is refused, not silently kept
        {
            let mut v = serde_json::to_value(&state).unwrap();
            v["license_key"] = "ABCD-EFGH-1234-7F3A".into();
            serde_json::to_vec(&v).unwrap()
        },
        vec![b' '; 70 * 1024],
    ] {
        fs::write(h.state_path(), &bytes).unwrap();
        assert_eq!(file.load(), Err(ClientError::StateCorrupt));
    }
}

#[test]
fn the_file_holds_exactly_the_documented_fields() {
    let h = Harness::new("http://127.0.0.1:9");
    h.seed_active();
    let value: serde_json::Value = serde_json::from_slice(&fs::read(h.state_path()).unwrap()).unwrap();
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "activated_at",
            "device_hash",
            "key_last4",
            "last_online_at",
            "last_server_time",
            "lease",
            "status",
            "version"
        ]
    );
    assert!(
        !String::from_utf8(fs::read(h.state_path()).unwrap())
            .unwrap()
            .contains(common::MACHINE)
    );
}
