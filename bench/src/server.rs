//! The processes a run loads: a spawned `tollgate serve` or `tollgate-bench serve-ceiling` (stdout and stderr to
//! a log file, stopped with SIGTERM then SIGKILL), or an already-running server known by its pid. Also a fresh
//! PostgreSQL schema per run, and peak RSS from `/proc/<pid>/status`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection};
use reqwest::{Client, Url};

use crate::error::BenchError;

/// How long a process may take to answer its readiness path.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopped process may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A process serving HTTP on loopback that this run started (or was pointed at).
#[derive(Debug)]
pub struct ServerProcess {
    name: String,
    child: Option<Child>,
    pid: Option<u32>,
    base: Url,
    log: Option<PathBuf>,
}

impl ServerProcess {
    /// Starts `program args` with `env` added, its output appended to `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[&str],
        env: &[(String, String)],
        log: &Path,
        base: Url,
    ) -> Result<ServerProcess, BenchError> {
        let file = std::fs::File::create(log).map_err(|e| BenchError::file(log, e))?;
        let err_file = file.try_clone().map_err(|e| BenchError::file(log, e))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err_file));
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().map_err(|e| {
            BenchError::process(format!("starting {name} ({})", program.display()), e.to_string())
        })?;
        Ok(ServerProcess {
            name: name.to_owned(),
            pid: Some(child.id()),
            child: Some(child),
            base,
            log: Some(log.to_owned()),
        })
    }

    /// A server this run did not start: it is loaded and measured, never stopped.
    pub fn external(name: &str, base: Url, pid: Option<u32>) -> ServerProcess {
        ServerProcess {
            name: name.to_owned(),
            child: None,
            pid,
            base,
            log: None,
        }
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Polls `path` until it answers 2xx, the process exits, or [`READY_TIMEOUT`] passes.
    pub async fn wait_ready(&mut self, client: &Client, path: &str) -> Result<(), BenchError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| BenchError::process(&self.name, e.to_string()))?;
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(BenchError::process(
                    &self.name,
                    format!("exited before it was ready ({status}){}", self.log_hint()),
                ));
            }
            if let Ok(response) = client.get(url.clone()).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if start.elapsed() > READY_TIMEOUT {
                return Err(BenchError::process(
                    &self.name,
                    format!(
                        "{url} did not answer 2xx within {} s{}",
                        READY_TIMEOUT.as_secs(),
                        self.log_hint()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_hint(&self) -> String {
        self.log
            .as_ref()
            .map(|log| format!("; see {}", log.display()))
            .unwrap_or_default()
    }

    /// The process's peak resident set (`VmHWM`), in KiB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        self.pid.and_then(peak_rss_kb)
    }

    /// The process's CPU time so far, in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        self.pid.and_then(cpu_seconds)
    }

    /// SIGTERM (through `kill`, as this crate forbids `unsafe`), then SIGKILL if it has not exited in time.
    /// A process this run did not start is left alone.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let start = Instant::now();
        while start.elapsed() < STOP_TIMEOUT {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// User plus system CPU time `pid` has used, in seconds, from `/proc/<pid>/stat` (fields 14 and 15, in clock
/// ticks of 1/100 s: `CLK_TCK` is 100 on every Linux this runs on, and reading it needs `unsafe` `sysconf`).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / 100.0)
}

/// `utime + stime` of a `/proc/<pid>/stat` line (the fields after the parenthesized command name).
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state); utime is field 14, stime field 15.
    let utime = fields.get(11)?.parse::<u64>().ok()?;
    let stime = fields.get(12)?.parse::<u64>().ok()?;
    Some(utime + stime)
}

/// `VmHWM` of `pid` in KiB, from `/proc/<pid>/status`.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

/// The `VmHWM:   12345 kB` line of a `/proc/<pid>/status` text.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut fields = line["VmHWM:".len()..].split_whitespace();
    let value = fields.next()?.parse::<u64>().ok()?;
    (fields.next() == Some("kB")).then_some(value)
}

/// A loopback port that was free a moment ago (bound, read, released).
pub fn free_loopback_port() -> Result<u16, BenchError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A schema of its own in a PostgreSQL database for one run, dropped (with everything in it) at the end.
#[derive(Debug)]
pub struct PgSchema {
    admin_url: String,
    name: String,
}

impl PgSchema {
    pub fn create(admin_url: &str) -> Result<PgSchema, BenchError> {
        let name = format!(
            "tollgate_bench_{}_{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            std::process::id()
        );
        let mut conn = PgConnection::establish(admin_url).map_err(|e| {
            BenchError::Database(format!("cannot connect to PostgreSQL: {}", e.to_string().trim()))
        })?;
        conn.batch_execute(&format!("CREATE SCHEMA {name}"))
            .map_err(|e| BenchError::Database(format!("CREATE SCHEMA {name}: {e}")))?;
        Ok(PgSchema {
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL with libpq `options=-csearch_path=<schema>`, so every table is created in this schema.
    pub fn url(&self) -> String {
        with_search_path(&self.admin_url, &self.name)
    }

    /// Drops the schema; a failure is returned for the report's notes, not fatal.
    pub fn drop_schema(&self) -> Result<(), BenchError> {
        let mut conn = PgConnection::establish(&self.admin_url).map_err(|e| {
            BenchError::Database(format!("cannot connect to PostgreSQL: {}", e.to_string().trim()))
        })?;
        conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .map_err(|e| BenchError::Database(format!("DROP SCHEMA {}: {e}", self.name)))
    }
}

/// `url` with `options=-csearch_path%3D<schema>` appended as a query parameter.
pub fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_from_proc_status() {
        let status = "Name:\ttollgate\nVmPeak:\t  300000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(51_234));
        assert_eq!(parse_vm_hwm("VmRSS:\t 1 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t x kB\n"), None);
        // Our own process has one.
        assert!(peak_rss_kb(std::process::id()).is_some_and(|kb| kb > 0));
    }

    #[test]
    fn cpu_ticks_from_proc_stat() {
        let stat = "1234 (tollgate (x)) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 50 0 0 20 0 5 0 100 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        assert!(cpu_seconds(std::process::id()).is_some());
    }

    #[test]
    fn search_path_option() {
        assert_eq!(
            with_search_path("postgres://postgres@127.0.0.1:5432/test", "s1"),
            "postgres://postgres@127.0.0.1:5432/test?options=-csearch_path%3Ds1"
        );
        assert_eq!(
            with_search_path("postgres://h/db?sslmode=disable", "s1"),
            "postgres://h/db?sslmode=disable&options=-csearch_path%3Ds1"
        );
    }
}
