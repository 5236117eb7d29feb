//! The checks `doctor` makes by doing: write a probe file where SQLite keeps its files, read their modes, and
//! connect to the listen address. A check by reading configuration alone said "the server listens" when nothing
//! answered, and passed a directory the server could not write.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tollgate_store::{DatabaseUrl, loose_mode, sqlite_files};

use super::report::Check;
use crate::cli::env_var;
use crate::settings::Settings;

const FILES: &str = "Data files";

/// How long `doctor` waits for the listen address to accept and answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// SQLite only: the directory of the database is writable (by writing and removing a probe file, as `serve` must
/// create the database, its `-wal` and `-shm` there), and those files are private (mode 0600).
pub fn data_files(settings: &Settings) -> Vec<Check> {
    let Ok(DatabaseUrl::Sqlite(path)) = DatabaseUrl::parse(settings.database.url.expose()) else {
        return Vec::new();
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut checks = Vec::new();
    if dir.is_dir() {
        checks.push(writable(&dir));
    }
    checks.push(file_modes(&path));
    checks
}

fn writable(dir: &Path) -> Check {
    const ID: &str = "database.directory";
    let probe = dir.join(format!(".tollgate-doctor-probe-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut file| file.write_all(b"probe").and_then(|()| file.sync_all()));
    let removed = std::fs::remove_file(&probe);
    match (written, removed) {
        (Ok(()), Ok(())) => Check::done(
            FILES,
            ID,
            format!("the database directory {} is writable", dir.display()),
        ),
        (Err(e), _) | (Ok(()), Err(e)) => Check::broken(
            FILES,
            ID,
            format!(
                "the database directory {} is not writable by this user: {e}",
                dir.display()
            ),
        )
        .fix(format!(
            "SQLite creates its -wal and -shm files there: run doctor as the user `tollgate serve` runs as, and give \
             that user write access to the directory (or point {} elsewhere)",
            env_var("database.url")
        )),
    }
}

fn file_modes(database: &Path) -> Check {
    const ID: &str = "database.file_modes";
    let loose: Vec<String> = sqlite_files(database)
        .iter()
        .filter_map(|file| loose_mode(file).map(|mode| format!("{} (mode {mode:o})", file.display())))
        .collect();
    if loose.is_empty() {
        return Check::done(
            FILES,
            ID,
            "the database files are private to their owner (mode 600), or not created yet",
        );
    }
    Check::pending(
        FILES,
        ID,
        format!("readable by other users: {}", loose.join(", ")),
    )
    .fix(format!(
        "`tollgate serve` sets them to 600 at its next start, or run `chmod 600 {}*`",
        database.display()
    ))
}

/// Connect to the listen address and ask `GET /healthz`: Tollgate answers, something else does, or nothing.
pub fn listening(section: &str, settings: &Settings) -> Check {
    const ID: &str = "listen";
    let Ok(addr) = settings.listen.parse::<SocketAddr>() else {
        return Check::broken(section, ID, format!("`{}` is not an address", settings.listen));
    };
    // A wildcard address is reached on this machine through loopback.
    let target = match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], a.port())),
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        other => other,
    };
    match healthz(target) {
        Probe::Tollgate => Check::done(
            section,
            ID,
            format!("a Tollgate server answers on {addr} (GET /healthz: 200)"),
        ),
        Probe::Nothing(e) => Check::pending(
            section,
            ID,
            format!("nothing answers on {addr} ({e}): no server is running there yet"),
        )
        .fix(format!(
            "start `tollgate serve` (it listens on {addr}; {} changes it)",
            env_var("listen")
        )),
        Probe::Other(what) => Check::broken(
            section,
            ID,
            format!("something other than Tollgate answers on {addr}: {what}"),
        )
        .fix(format!(
            "stop that program, or set {} to a free address",
            env_var("listen")
        )),
    }
}

enum Probe {
    Tollgate,
    Nothing(std::io::Error),
    Other(String),
}

fn healthz(target: SocketAddr) -> Probe {
    let mut stream = match TcpStream::connect_timeout(&target, PROBE_TIMEOUT) {
        Ok(stream) => stream,
        Err(e) => return Probe::Nothing(e),
    };
    let asked = stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(PROBE_TIMEOUT)))
        .and_then(|()| {
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        });
    if let Err(e) = asked {
        return Probe::Other(format!("it accepted a connection but not a request ({e})"));
    }
    let mut answer = Vec::new();
    let _ = stream.take(4096).read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let status_line = answer.lines().next().unwrap_or_default();
    if status_line.starts_with("HTTP/1.1 200") && answer.contains(r#"{"status":"ok"}"#) {
        Probe::Tollgate
    } else if status_line.is_empty() {
        Probe::Other("it accepted a connection and sent no HTTP answer".to_owned())
    } else {
        Probe::Other(format!("GET /healthz answered `{}`", status_line.trim()))
    }
}
