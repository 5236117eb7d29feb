//! Issue 18 item 9: `doctor` checks by doing. It connects to the listen address (it said "the server listens" when
//! nothing answered), and writes a probe file where SQLite keeps its files (it passed a directory `serve` could not
//! write).

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use crate::harness::process::{Server, command, doctor_check, free_port, run};

#[test]
fn the_listen_check_connects() {
    let dir = tempfile::tempdir().unwrap();
    let nobody = format!("127.0.0.1:{}", free_port());
    let done = run(command(
        dir.path(),
        &["doctor", "--json"],
        &[("TOLLGATE_LISTEN", &nobody)],
    ));
    let listen = doctor_check(&done.stdout, "listen");
    assert_eq!(listen["status"], "pending", "{listen}");
    assert!(
        listen["summary"]
            .as_str()
            .unwrap()
            .starts_with(&format!("nothing answers on {nobody}")),
        "{listen}"
    );

    // Something that accepts connections but is not Tollgate (it never answers).
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let other_addr = other.local_addr().unwrap().to_string();
    let done = run(command(
        dir.path(),
        &["doctor", "--json"],
        &[("TOLLGATE_LISTEN", &other_addr)],
    ));
    let listen = doctor_check(&done.stdout, "listen");
    assert_eq!(listen["status"], "broken", "{listen}");
    assert!(!done.status.success());

    let server = Server::start(dir.path(), &[]);
    let addr = format!("127.0.0.1:{}", server.port);
    let done = run(command(
        dir.path(),
        &["doctor", "--json"],
        &[("TOLLGATE_LISTEN", &addr)],
    ));
    let listen = doctor_check(&done.stdout, "listen");
    assert_eq!(listen["status"], "done", "{listen}");
    assert_eq!(
        listen["summary"],
        format!("a Tollgate server answers on {addr} (GET /healthz: 200)")
    );
}

#[test]
fn a_data_directory_the_server_cannot_write_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
    let url = format!("sqlite://{}", data.join("tollgate.db").display());
    let listen = format!("127.0.0.1:{}", free_port());
    let env = [
        ("TOLLGATE_DATABASE__URL", url.as_str()),
        ("TOLLGATE_LISTEN", listen.as_str()),
    ];
    let mut doctor = command(dir.path(), &["doctor", "--json"], &env);
    // Root writes anywhere: run doctor as an unprivileged user, as `serve` would run, from a copy of the binary
    // that user can reach.
    if run_as_root() {
        let binary = dir.path().join("tollgate");
        std::fs::copy(env!("CARGO_BIN_EXE_tollgate"), &binary).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut as_nobody = Command::new("setpriv");
        as_nobody.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        as_nobody.arg(&binary).args(["doctor", "--json"]);
        as_nobody.current_dir(dir.path()).env_clear().envs(env);
        doctor = as_nobody;
    }
    let done = run(doctor);
    assert!(!done.status.success(), "{}", done.stdout);
    let directory = doctor_check(&done.stdout, "database.directory");
    assert_eq!(directory["status"], "broken", "{directory}");
    assert!(
        directory["summary"].as_str().unwrap().starts_with(&format!(
            "the database directory {} is not writable by this user",
            data.display()
        )),
        "{directory}"
    );
    assert_eq!(
        std::fs::read_dir(&data).unwrap().count(),
        0,
        "doctor left a file behind"
    );
}

fn run_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}
