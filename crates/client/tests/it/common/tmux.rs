//! Drives the demo example in a real terminal (tmux): type into it, read the screen.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test harness")]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The demo example binary, built by `cargo test` next to this test's binary (`target/<profile>/examples/demo`).
/// `cargo test --test it` alone does not rebuild examples: run the whole `cargo test -p tollgate-client`.
pub fn demo_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let demo = profile_dir
        .join("examples")
        .join(format!("demo{}", std::env::consts::EXE_SUFFIX));
    assert!(
        demo.exists(),
        "{} is missing: run through `cargo test -p tollgate-client`, which builds examples",
        demo.display()
    );
    demo
}

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `program args...` in a detached 120x40 tmux session on a private server socket.
    pub fn start(program: &PathBuf, args: &[String]) -> Tmux {
        let socket = format!(
            "tollgate-client-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut command = Command::new("tmux");
        command.args([
            "-L",
            &socket,
            "new-session",
            "-d",
            "-s",
            "demo",
            "-x",
            "120",
            "-y",
            "40",
        ]);
        // keep the pane after the program exits, so its last screen can still be read
        command.arg(program).args(args);
        let status = command.status().expect("tmux is installed");
        assert!(status.success(), "tmux new-session failed");
        let tmux = Tmux { socket };
        tmux.run(&["set-option", "-t", "demo", "remain-on-exit", "on"]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "demo", "-S", "-200"])
    }

    /// Types a line and presses Enter.
    pub fn type_line(&self, text: &str) {
        self.run(&["send-keys", "-t", "demo", "-l", text]);
        self.run(&["send-keys", "-t", "demo", "Enter"]);
    }

    /// The process id of the program in the pane.
    pub fn pane_pid(&self) -> u32 {
        let out = self.run(&["display-message", "-p", "-t", "demo", "#{pane_pid}"]);
        out.trim().parse().expect("tmux prints the pane's pid")
    }

    /// Polls until the program with this pid has exited (gone, or a zombie not yet reaped), panicking with the screen
    /// after `timeout`. Checks the process itself rather than tmux's "Pane is dead" line: tmux 3.3a was seen leaving
    /// an exited program unreaped (a zombie) and its pane undead for minutes.
    pub fn wait_for_exit(&self, pid: u32, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let exited = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => true,
                // The state is the field after the parenthesised command name.
                Ok(stat) => stat
                    .rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
            };
            if exited {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the program (pid {pid}) did not exit; the screen shows:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Polls the screen until it contains `text` (panics with the screen after `timeout`).
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "screen never showed {text:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}
