//! `tollgate` child processes (the debug binary Cargo built for these tests) with only the `TOLLGATE_` variables a
//! test gives, logging to a file, and a minimal HTTP/1.1 client over loopback:
//!
//! - [`command`] and [`run`]: any `tollgate` command in a directory, bounded in time (the CLI checks, `doctor`);
//! - [`Server`]: `tollgate serve` in a test's own directory (the default `sqlite://tollgate.db` lands there), with
//!   the admin token and what a test adds (the hardening tests);
//! - [`ServerProcess`]: `tollgate serve` over a [`TestDb`] with the fakes' webhook secrets and rate limits off, its
//!   log in a directory of its own, SIGKILL and restart (the scale tests).

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tollgate_providers::aghanim::fake::FakeAghanim;
use tollgate_providers::dodo::fake::FakeDodo;
use tollgate_providers::whop::fake::FakeWhop;

use crate::harness::database::TestDb;

/// How long a server may take to answer `/readyz` (a loaded 2-core CI machine).
const READY_WITHIN: Duration = Duration::from_secs(60);
/// How long a command that must stop by itself (a refused start, `doctor`) may run.
const EXITS_WITHIN: Duration = Duration::from_secs(60);

pub const ADMIN_TOKEN: &str = "hardening-admin-token-0123456789";

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tollgate ARGS` in `dir` with `env` (and no inherited `TOLLGATE_` variable), output to `dir/<name>.log`.
pub fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("TOLLGATE_") || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// What a command that ran to its end printed.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Run a command that must end by itself, bounded by [`EXITS_WITHIN`].
pub fn run(mut cmd: Command) -> Finished {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    cmd.stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > EXITS_WITHIN {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running after {EXITS_WITHIN:?}:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        status,
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

/// A running `tollgate serve`. Dropping it kills the process.
pub struct Server {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Server {
    /// `tollgate serve` in `dir` on a free port, logging at `info` to `dir/server.log`; returns once `/readyz`
    /// answers 200.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut server = Server::spawn(dir, env);
        server.wait_ready();
        server
    }

    /// Like [`Server::start`] without waiting for anything.
    pub fn spawn(dir: &Path, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log = dir.join("server.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut all: Vec<(&str, &str)> = vec![
            ("TOLLGATE_LISTEN", listen.as_str()),
            ("TOLLGATE_RECONCILE__EVERY", "24h"),
            ("TOLLGATE_ADMIN__TOKEN", ADMIN_TOKEN),
            ("RUST_LOG", "info"),
        ];
        all.retain(|(name, _)| !env.iter().any(|(n, _)| n == name));
        all.extend_from_slice(env);
        let mut cmd = command(dir, &["serve"], &all);
        cmd.stdout(file.try_clone().unwrap()).stderr(file);
        Server {
            child: cmd.spawn().unwrap(),
            port,
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if request(self.port, "GET", "/readyz", &[], "").map(|r| r.0) == Some(200) {
                return;
            }
            if let Some(exit) = self.child.try_wait().unwrap() {
                panic!("the server exited early ({exit}):\n{}", self.log_text());
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "not ready within {READY_WITHIN:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait (bounded) for a server that must refuse to start to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                return exit;
            }
            assert!(
                started.elapsed() < EXITS_WITHIN,
                "still running:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL and reap.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    /// A line of `/proc/<pid>/status` in kB (`VmHWM`, `VmRSS`).
    pub fn memory_kb(&self, field: &str) -> u64 {
        proc_status_kb(self.pid(), field)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `/proc/<pid>/status` line's value in kB.
pub fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`): the status and the body, or `None` when
/// nothing answers.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    Some((status, body))
}

/// `POST path` with a JSON body.
pub fn post_json(port: u16, path: &str, json: &serde_json::Value) -> (u16, String) {
    request(
        port,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        &json.to_string(),
    )
    .unwrap()
}

/// The permission bits of a file.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The check `id` of a `tollgate doctor --json` report.
pub fn doctor_check(report: &str, id: &str) -> serde_json::Value {
    let report: serde_json::Value = serde_json::from_str(report).unwrap();
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no {id} check: {report}"))
}

/// What a server is started with, on top of the database: the three webhook secrets (the testkit fakes'),
/// rate limits off, and `extra` variables (pool size, timeouts, provider API bases).
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    pub extra: Vec<(String, String)>,
}

impl ServerConfig {
    pub fn with(mut self, name: &str, value: impl Into<String>) -> ServerConfig {
        self.extra.retain(|(n, _)| n != name);
        self.extra.push((name.to_owned(), value.into()));
        self
    }

    fn env(&self, db_env: Vec<(String, String)>, port: u16) -> Vec<(String, String)> {
        let mut env = db_env;
        let fixed = [
            ("TOLLGATE_LISTEN", format!("127.0.0.1:{port}")),
            ("TOLLGATE_RATE_LIMIT__ENABLED", "false".to_owned()),
            (
                "TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET",
                FakeWhop::WEBHOOK_SECRET.to_owned(),
            ),
            (
                "TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET",
                FakeDodo::WEBHOOK_SECRET.to_owned(),
            ),
            (
                "TOLLGATE_PROVIDERS__AGHANIM__WEBHOOK_SECRET",
                FakeAghanim::WEBHOOK_SECRET.to_owned(),
            ),
            // No reconciliation pass during a test (no provider API key is set anyway).
            ("TOLLGATE_RECONCILE__EVERY", "24h".to_owned()),
        ];
        env.extend(fixed.into_iter().map(|(k, v)| (k.to_owned(), v)));
        for (name, value) in &self.extra {
            env.retain(|(n, _)| n != name);
            env.push((name.clone(), value.clone()));
        }
        env
    }
}

/// A running server. Dropping it kills the process (SIGKILL) if it still runs.
pub struct ServerProcess {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Spawn `tollgate serve` over `db` and wait (bounded) until `/readyz` answers 200.
    pub fn start(db: &TestDb, config: &ServerConfig) -> ServerProcess {
        Self::start_with_db_env(db.server_env(), config)
    }

    /// Like [`ServerProcess::start`] with explicit database variables (a URL through a proxy).
    pub fn start_with_db_env(db_env: Vec<(String, String)>, config: &ServerConfig) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let mut cmd = command(dir.path(), &["serve"], &[]);
        cmd.env("RUST_LOG", "warn")
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file);
        cmd.envs(config.env(db_env, port));
        let child = cmd.spawn().unwrap();
        let mut server = ServerProcess {
            child,
            port,
            log,
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    #[expect(dead_code, reason = "kept for a scenario being debugged; no test reads it")]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far (for failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if get_status(self.port, "/readyz") == Some(200) {
                return;
            }
            if let Some(exit) = self.child.try_wait().unwrap() {
                panic!("the server exited early ({exit}):\n{}", self.log_text());
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "the server was not ready within {READY_WITHIN:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL (what `Child::kill` sends on Unix) and reap it: no shutdown hook runs.
    pub fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.child.kill().unwrap();
        }
        self.child.wait().unwrap();
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `GET path` over a fresh connection: the status, or `None` if nothing answers.
pub fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}
