//! Running `tollgate dev` (optionally under another program, e.g. strace) and talking to it.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a process may take to start, answer or stop (generous: the machine is shared with other builds).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The `tollgate` binary with no inherited `TOLLGATE_` variable, `RUST_LOG=info`, in `cwd`.
pub fn tollgate(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.current_dir(cwd).env("RUST_LOG", "info");
    for (name, _) in std::env::vars() {
        if name.starts_with("TOLLGATE_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// A running `tollgate dev`: its stdout line by line, its stderr in a file.
pub struct Dev {
    child: Child,
    stdout: Receiver<String>,
    /// The working directory it was started in.
    pub cwd: tempfile::TempDir,
    pub stderr: PathBuf,
    /// True when `child` is a wrapper (strace) whose child is tollgate.
    wrapped: bool,
}

impl Dev {
    /// `[wrapper...] tollgate dev ARGS` in a new working directory with `env` set.
    pub fn spawn(args: &[&str], env: &[(&str, &str)], wrapper: &[String]) -> Dev {
        let cwd = tempfile::tempdir().unwrap();
        Dev::spawn_in(cwd, args, env, wrapper)
    }

    /// The same in a prepared working directory.
    pub fn spawn_in(cwd: tempfile::TempDir, args: &[&str], env: &[(&str, &str)], wrapper: &[String]) -> Dev {
        let stderr = cwd.path().join("dev.stderr");
        let plain = tollgate(cwd.path());
        let mut cmd = match wrapper.split_first() {
            None => plain,
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(plain.get_program());
                cmd.current_dir(cwd.path());
                for (name, value) in plain.get_envs() {
                    match value {
                        Some(value) => cmd.env(name, value),
                        None => cmd.env_remove(name),
                    };
                }
                cmd
            }
        };
        cmd.arg("dev")
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (send, stdout) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Dev {
            child,
            stdout,
            cwd,
            stderr,
            wrapped: !wrapper.is_empty(),
        }
    }

    /// `tollgate dev --listen 127.0.0.1:0 --dir <cwd>/world --json` and its JSON line.
    pub fn json(env: &[(&str, &str)], wrapper: &[String]) -> (Dev, Value) {
        let cwd = tempfile::tempdir().unwrap();
        let dir = cwd.path().join("world").display().to_string();
        let mut dev = Dev::spawn_in(
            cwd,
            &["--listen", "127.0.0.1:0", "--dir", &dir, "--json"],
            env,
            wrapper,
        );
        let line = dev.line();
        let info: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the first stdout line is not JSON ({e}): {line}\n{}", dev.logs()));
        (dev, info)
    }

    /// The next line on stdout (waiting at most [`PATIENCE`]).
    pub fn line(&mut self) -> String {
        match self.stdout.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("no stdout line in time; stderr:\n{}", self.logs()),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().unwrap();
                panic!("stdout closed ({status}); stderr:\n{}", self.logs())
            }
        }
    }

    /// Lines on stdout until one starts with `last` (included).
    pub fn lines_until(&mut self, last: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            let done = line.starts_with(last);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Whatever else stdout printed by now (without waiting).
    pub fn more_stdout(&self) -> Vec<String> {
        self.stdout.try_iter().collect()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The tollgate process id (under a wrapper: the wrapper's child).
    pub fn tollgate_pid(&self) -> u32 {
        let pid = self.child.id();
        if !self.wrapped {
            return pid;
        }
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        children
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("the wrapper {pid} has no child"))
            .parse()
            .unwrap()
    }

    /// SIGTERM to tollgate, then wait (bounded) for the process (and any wrapper) to exit.
    pub fn stop(&mut self) -> ExitStatus {
        let pid = self.tollgate_pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "tollgate dev did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP exchange: status and JSON body (`Null` when the body is empty or not JSON).
pub fn call(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::blocking::Client::builder()
        .timeout(PATIENCE)
        .no_proxy()
        .build()
        .unwrap();
    let mut request = client.request(method.parse().unwrap(), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `POST /api/license/{action}` for `key` on device `hwid`.
pub fn license(server: &str, action: &str, key: &str, hwid: &str) -> (u16, Value) {
    call(
        "POST",
        &format!("{server}/api/license/{action}"),
        None,
        Some(serde_json::json!({"license_key": key, "hwid": hwid})),
    )
}

/// The code of a license answer (`VALID`, `DEACTIVATED` or an error code).
pub fn code(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["code"].as_str().unwrap_or("<no code>"))
}
