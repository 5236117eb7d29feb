//! A `tollgate serve` child process (the debug binary Cargo built for these tests) on a free loopback port, with
//! only the `TOLLGATE_` variables the test gives it, logging to a file in its own temp directory.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tollgate_testkit::{FakeAghanim, FakeDodo, FakeWhop};

use crate::scale::db::TestDb;

/// How long a server may take to answer `/readyz` after it is spawned (a loaded 2-core CI machine).
const READY_WITHIN: Duration = Duration::from_secs(60);

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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.arg("serve")
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file);
        for (name, _) in std::env::vars() {
            if name.starts_with("TOLLGATE_") {
                cmd.env_remove(name);
            }
        }
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

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
