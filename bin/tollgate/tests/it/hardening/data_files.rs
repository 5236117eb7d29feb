//! F5: the SQLite database, its `-wal` and `-shm`, and the key file are private (0600) whatever the umask; files an
//! older release left open are made private at start with a WARN line; `doctor` reports open ones.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use crate::harness::process::{Server, command, doctor_check, free_port, mode, run};

fn files(dir: &std::path::Path) -> Vec<PathBuf> {
    [
        "tollgate.db",
        "tollgate.db-wal",
        "tollgate.db-shm",
        "tollgate.db.keys",
    ]
    .iter()
    .map(|name| dir.join(name))
    .collect()
}

#[test]
fn the_database_wal_shm_and_key_file_are_private() {
    let dir = tempfile::tempdir().unwrap();
    // This process's umask opens new files to others (the test would not show anything otherwise).
    let probe = dir.path().join("probe");
    std::fs::write(&probe, "").unwrap();
    assert_ne!(mode(&probe) & 0o077, 0, "run this test with a umask such as 022");
    std::fs::remove_file(&probe).unwrap();

    let mut server = Server::start(dir.path(), &[]);
    for file in files(dir.path()) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    server.stop();

    // As an older release left them: open to everyone.
    for file in files(dir.path()) {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let listen = format!("127.0.0.1:{}", free_port());
    let doctor = run(command(
        dir.path(),
        &["doctor", "--json"],
        &[("TOLLGATE_LISTEN", &listen)],
    ));
    let check = doctor_check(&doctor.stdout, "database.file_modes");
    assert_eq!(check["status"], "pending", "{check}");
    assert!(
        check["summary"]
            .as_str()
            .unwrap()
            .contains("tollgate.db (mode 644)"),
        "{check}"
    );

    let server = Server::start(dir.path(), &[]);
    for file in files(dir.path()) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let log = server.log_text();
    assert!(
        log.contains("tollgate.db was readable by other users (mode 644); it is now 600"),
        "{log}"
    );
    assert!(
        log.contains("tollgate.db.keys was readable by other users (mode 644)"),
        "{log}"
    );
}
