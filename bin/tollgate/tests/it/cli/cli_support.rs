//! Running the real `tollgate` binary in a temporary working directory with a controlled environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary working directory and the `TOLLGATE_` variables the binary sees (no inherited ones).
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// What one run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        // `doctor` connects to the listen address: a free one, so no other program on this machine decides a check.
        let listen = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            env: vec![("TOLLGATE_LISTEN".to_owned(), listen)],
        }
    }

    pub fn with(mut self, name: &str, value: &str) -> Sandbox {
        self.set(name, value);
        self
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// The command, not yet started: working directory, environment and `RUST_LOG=warn`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn");
        for (name, _) in std::env::vars() {
            if name.starts_with("TOLLGATE_") {
                cmd.env_remove(name);
            }
        }
        cmd.envs(self.env.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command(args).output().unwrap();
        Run {
            code: status.code(),
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    /// Run and require exit code 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(
            run.code,
            Some(0),
            "tollgate {args:?} failed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        run
    }
}

/// The migrations the binary embeds for SQLite.
pub fn sqlite_migrations() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
