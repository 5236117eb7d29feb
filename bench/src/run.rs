//! `tollgate-bench run`: the orchestration shared by every scenario. It starts (or finds) the server under test
//! with the in-process fake providers behind it, starts the ceiling, runs each phase with the same client and
//! limits, and stops everything it started.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::{Client, Url};
use tollgate_providers::aghanim::fake::FakeAghanim;
use tollgate_providers::dodo::fake::FakeDodo;
use tollgate_providers::whop::fake::FakeWhop;
use tollgate_testkit::FakeProvider as _;

use crate::bodies::{RunIds, Secrets};
use crate::error::BenchError;
use crate::load::{self, Limit, PhaseOutcome, Source};
use crate::report::{Comparison, Machine, PhaseReport, Report};
use crate::server::{PgSchema, ServerProcess, free_loopback_port};
use crate::target::loopback_target;

/// Which scenario to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Signed webhooks (duplicates, out of order) vs the ceiling and the storage ceiling.
    Ingest,
    /// Keep-alive revalidations over M activated licenses vs the ceiling.
    Validate,
    /// Activations through the fake Whop vs the fake's own latency.
    Activate,
    /// The constant-JSON actix-web ceiling alone, with ingest-shaped requests.
    Ceiling,
    /// Raw inserts into the database alone.
    StorageCeiling,
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Ingest => "ingest",
            Scenario::Validate => "validate",
            Scenario::Activate => "activate",
            Scenario::Ceiling => "ceiling",
            Scenario::StorageCeiling => "storage-ceiling",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    pub fn as_str(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// The options of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    #[arg(long, value_enum, default_value = "sqlite")]
    pub db: Db,
    /// Concurrent keep-alive connections (and storage-ceiling threads).
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// How long each timed phase runs, e.g. `20s`, `500ms`, `2m` (default 20s unless --requests is given).
    #[arg(long, conflicts_with = "requests")]
    pub duration: Option<String>,
    /// How many requests each timed phase sends instead of a duration.
    #[arg(long)]
    pub requests: Option<u64>,
    /// ingest: distinct events per provider (two per entitlement).
    #[arg(long, default_value_t = 40_000)]
    pub events: usize,
    /// ingest: share of distinct events delivered twice.
    #[arg(long, default_value_t = 0.1)]
    pub duplicate_rate: f64,
    /// ingest: share of entitlements whose later event is delivered first.
    #[arg(long, default_value_t = 0.1)]
    pub out_of_order_rate: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// validate: licenses to activate and revalidate; activate: activations when --duration is used.
    #[arg(long, default_value_t = 1000)]
    pub licenses: usize,
    /// activate: send each key's Whop `membership.activated` webhook first (set-up), so activations find the key
    /// locally, as after a purchase whose webhook arrived first; without it every key is new to Tollgate.
    #[arg(long)]
    pub known_keys: bool,
    /// activate: latency added to every fake Whop answer, e.g. `5ms`.
    #[arg(long, default_value = "0ms")]
    pub provider_latency: String,
    /// The `tollgate` binary (default: `tollgate` beside this executable, i.e. target/release/tollgate).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Load an already-running server instead of spawning one (loopback only).
    #[arg(long)]
    pub target: Option<String>,
    /// The pid of the --target server, for its peak RSS.
    #[arg(long, requires = "target")]
    pub server_pid: Option<u32>,
    /// PostgreSQL to create the run's schema in (--db postgres).
    #[arg(
        long,
        env = "TOLLGATE_BENCH_PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub pg_url: String,
    /// Connection pool size of the spawned server and of the storage ceiling.
    #[arg(long, default_value_t = 16)]
    pub pool_size: u32,
    /// `RUST_LOG` of the spawned server (its log goes to a file in the run directory).
    #[arg(long, default_value = "info")]
    pub server_log: String,
    /// Skip the baselines (ceiling, storage ceiling).
    #[arg(long)]
    pub no_baseline: bool,
    /// Write the JSON report here (as well as the table on stdout).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// ingest: write the events that were sent but never got a 2xx here (JSON lines), for --redeliver.
    #[arg(long)]
    pub unacked_out: Option<PathBuf>,
    /// ingest: deliver exactly the events of this file (written by --unacked-out) instead of a plan.
    #[arg(long)]
    pub redeliver: Option<PathBuf>,
    /// Keep the run directory (server logs, SQLite files) instead of deleting it.
    #[arg(long)]
    pub keep_dir: bool,
}

/// `20s`, `500ms`, `2m`, `1h` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, BenchError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| BenchError::usage("duration", format!("{text:?} is not like 20s, 500ms or 2m")))?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(BenchError::usage(
                "duration",
                format!("unknown unit {unit:?} in {text:?}"),
            ));
        }
    };
    Duration::try_from_secs_f64(secs)
        .map_err(|_| BenchError::usage("duration", format!("{text:?} is out of range")))
}

/// The fake providers behind a spawned server, in this process.
#[derive(Debug)]
pub struct Fakes {
    pub whop: FakeWhop,
    pub dodo: FakeDodo,
    pub aghanim: FakeAghanim,
}

/// Everything a scenario shares.
#[derive(Debug)]
pub struct Env {
    pub args: RunArgs,
    pub limit: Limit,
    pub client: Client,
    pub dir: tempfile::TempDir,
    pub ids: RunIds,
    pub secrets: Secrets,
    pub fakes: Fakes,
    pub pg: Option<PgSchema>,
    pub notes: Vec<String>,
    pub phases: Vec<PhaseReport>,
    pub comparisons: Vec<Comparison>,
}

/// Fixed, non-secret store keys for a benchmark database (PostgreSQL needs them configured).
const BENCH_PEPPER: [u8; 32] = [0x11; 32];
const BENCH_DATA_KEY: [u8; 32] = [0x22; 32];

impl Env {
    pub fn new(args: RunArgs) -> Result<Env, BenchError> {
        if args.connections == 0 || args.connections > 4096 {
            return Err(BenchError::usage("--connections", "must be 1..=4096"));
        }
        for (name, rate) in [
            ("--duplicate-rate", args.duplicate_rate),
            ("--out-of-order-rate", args.out_of_order_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(BenchError::usage(
                    if name == "--duplicate-rate" {
                        "--duplicate-rate"
                    } else {
                        "--out-of-order-rate"
                    },
                    "must be between 0 and 1",
                ));
            }
        }
        if let Some(target) = &args.target {
            loopback_target(target)?;
        }
        let limit = match (args.requests, &args.duration) {
            (Some(0), _) => return Err(BenchError::usage("--requests", "must be at least 1")),
            (Some(n), _) => Limit::Requests(n),
            (None, Some(d)) => Limit::Duration(parse_duration(d)?),
            (None, None) => Limit::Duration(Duration::from_secs(20)),
        };
        if let Limit::Duration(d) = limit
            && (d.is_zero() || d > Duration::from_secs(3600))
        {
            return Err(BenchError::usage(
                "--duration",
                "must be more than 0 and at most 1h",
            ));
        }
        let pg = match (args.db, &args.target, args.scenario) {
            (Db::Postgres, None, _) | (Db::Postgres, Some(_), Scenario::StorageCeiling) => {
                Some(PgSchema::create(&args.pg_url)?)
            }
            _ => None,
        };
        let now = unix_now();
        Ok(Env {
            client: load::client(args.connections)?,
            dir: tempfile::Builder::new().prefix("tollgate-bench-").tempdir()?,
            ids: RunIds::new(now, args.seed),
            secrets: Secrets::default(),
            fakes: Fakes {
                whop: FakeWhop::start(),
                dodo: FakeDodo::start(),
                aghanim: FakeAghanim::start(),
            },
            pg,
            notes: Vec::new(),
            phases: Vec::new(),
            comparisons: Vec::new(),
            limit,
            args,
        })
    }

    fn server_bin(&self) -> Result<PathBuf, BenchError> {
        if let Some(bin) = &self.args.server_bin {
            return Ok(bin.clone());
        }
        let exe = std::env::current_exe()?;
        let bin = exe.with_file_name("tollgate");
        if bin.is_file() {
            Ok(bin)
        } else {
            Err(BenchError::process(
                "tollgate",
                format!(
                    "{} not found: build it with `cargo build --release -p tollgate -p tollgate-bench`, or pass \
                     --server-bin",
                    bin.display()
                ),
            ))
        }
    }

    /// The database URL a spawned server uses.
    pub fn database_url(&self) -> String {
        match &self.pg {
            Some(schema) => schema.url(),
            None => format!("sqlite://{}", self.dir.path().join("tollgate.db").display()),
        }
    }

    /// The environment of a spawned `tollgate serve`.
    pub fn server_env(&self, port: u16) -> Vec<(String, String)> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let pairs: Vec<(&str, String)> = vec![
            ("TOLLGATE_LISTEN", format!("127.0.0.1:{port}")),
            ("TOLLGATE_DATABASE__URL", self.database_url()),
            ("TOLLGATE_DATABASE__POOL_SIZE", self.args.pool_size.to_string()),
            ("TOLLGATE_DATABASE__PEPPER", b64.encode(BENCH_PEPPER)),
            ("TOLLGATE_DATABASE__DATA_KEY", b64.encode(BENCH_DATA_KEY)),
            ("TOLLGATE_RATE_LIMIT__ENABLED", "false".to_owned()),
            ("TOLLGATE_ADMIN__TOKEN", "bench-admin-token-0123456789".to_owned()),
            (
                "TOLLGATE_SERVICE__TOKEN",
                "bench-service-token-0123456789".to_owned(),
            ),
            (
                "TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET",
                self.secrets.whop.clone(),
            ),
            ("TOLLGATE_PROVIDERS__WHOP__API_KEY", FakeWhop::API_KEY.to_owned()),
            ("TOLLGATE_PROVIDERS__WHOP__API_BASE", self.fakes.whop.base_url()),
            (
                "TOLLGATE_PROVIDERS__WHOP__COMPANY_ID",
                FakeWhop::COMPANY_ID.to_owned(),
            ),
            (
                "TOLLGATE_PROVIDERS__DODO__WEBHOOK_SECRET",
                self.secrets.dodo.clone(),
            ),
            ("TOLLGATE_PROVIDERS__DODO__API_KEY", FakeDodo::API_KEY.to_owned()),
            ("TOLLGATE_PROVIDERS__DODO__API_BASE", self.fakes.dodo.base_url()),
            (
                "TOLLGATE_PROVIDERS__AGHANIM__WEBHOOK_SECRET",
                self.secrets.aghanim.clone(),
            ),
            (
                "TOLLGATE_PROVIDERS__AGHANIM__API_KEY",
                FakeAghanim::API_KEY.to_owned(),
            ),
            (
                "TOLLGATE_PROVIDERS__AGHANIM__API_BASE",
                self.fakes.aghanim.base_url(),
            ),
            ("RUST_LOG", self.args.server_log.clone()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// The server under test: `--target`, or a spawned `tollgate serve`; ready when `/readyz` answers 2xx.
    pub async fn start_tollgate(&self) -> Result<ServerProcess, BenchError> {
        let mut server = match &self.args.target {
            Some(target) => {
                ServerProcess::external("tollgate", loopback_target(target)?, self.args.server_pid)
            }
            None => {
                let port = free_loopback_port()?;
                let base = loopback_target(&format!("http://127.0.0.1:{port}/"))?;
                ServerProcess::spawn(
                    "tollgate serve",
                    &self.server_bin()?,
                    &["serve"],
                    &self.server_env(port),
                    &self.dir.path().join("tollgate.log"),
                    base,
                )?
            }
        };
        server.wait_ready(&self.client, "/readyz").await?;
        if let Some(pid) = server.pid() {
            // For attaching a profiler (`perf record -g -p PID`) while the phases run.
            eprintln!("tollgate serve ready: pid {pid}, {}", server.base());
        }
        Ok(server)
    }

    /// `serve` reconciles once at start (then every `reconcile.every`, 15 min by default): wait until the fake
    /// Whop has been listed, so that memberships added afterwards are created by the scenario itself, not by a
    /// reconciliation running during a timed phase. Bounded: gives up (with a note) after 10 s.
    pub async fn settle_initial_reconcile(&mut self) {
        if self.args.target.is_some() {
            return;
        }
        let start = std::time::Instant::now();
        while self.fakes.whop.count("GET", "/api/v1/memberships") == 0 {
            if start.elapsed() > Duration::from_secs(10) {
                self.notes
                    .push("the server's start-up reconciliation was not seen within 10 s".to_owned());
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Let that pass finish its (empty) pages before the scenario adds memberships.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    /// `tollgate-bench serve-ceiling` in its own process.
    pub async fn start_ceiling(&self) -> Result<ServerProcess, BenchError> {
        let port = free_loopback_port()?;
        let listen = format!("127.0.0.1:{port}");
        let base = loopback_target(&format!("http://{listen}/"))?;
        let mut server = ServerProcess::spawn(
            "serve-ceiling",
            &std::env::current_exe()?,
            &["serve-ceiling", "--listen", &listen],
            &[],
            &self.dir.path().join("ceiling.log"),
            base,
        )?;
        server.wait_ready(&self.client, "/healthz").await?;
        Ok(server)
    }

    /// Runs one phase against `server`, records it in the report, and returns what it measured.
    pub async fn phase(
        &mut self,
        name: &str,
        server: &ServerProcess,
        source: Arc<dyn Source>,
        limit: Limit,
    ) -> PhaseOutcome {
        let cpu_before = server.cpu_seconds();
        let outcome = load::drive(
            name,
            &self.client,
            server.base(),
            source,
            self.args.connections,
            limit,
        )
        .await;
        let cpu = match (cpu_before, server.cpu_seconds()) {
            (Some(before), Some(after)) => Some(after - before),
            _ => None,
        };
        self.phases.push(
            PhaseReport::new(name, server.base().as_str(), &outcome, server.peak_rss_kb()).with_cpu(cpu),
        );
        outcome
    }

    /// A comparison `value / baseline` of two recorded phases' throughput, held to `min` if given.
    pub fn ratio(&mut self, phase: &str, baseline: &str, min: Option<f64>) {
        let rps = |name: &str| {
            self.phases
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.throughput_rps)
        };
        let value = match (rps(phase), rps(baseline)) {
            (Some(v), Some(b)) => crate::stats::ratio(v, b),
            _ => None,
        };
        self.comparisons.push(Comparison {
            name: format!("{phase} / {baseline} throughput"),
            value,
            unit: "x",
            target: min.map(|m| format!(">= {m}")),
            met: min.and_then(|m| value.map(|v| v >= m)),
        });
    }

    /// The peak RSS of the server after `phase`, held to product.md's 100 MB.
    pub fn rss_target(&mut self, phase: &str) {
        let value = self
            .phases
            .iter()
            .find(|p| p.name == phase)
            .and_then(|p| p.server_peak_rss_mb);
        self.comparisons.push(Comparison {
            name: format!("server peak RSS after {phase}"),
            value,
            unit: " MiB",
            target: Some("< 100 MB".to_owned()),
            met: value.map(|mib| mib * 1.048_576 < 100.0),
        });
    }

    pub fn into_report(self) -> Report {
        if let Some(schema) = &self.pg
            && let Err(e) = schema.drop_schema()
        {
            eprintln!("warning: {e}");
        }
        let mut notes = self.notes;
        if let Some(schema) = &self.pg {
            notes.push(format!(
                "PostgreSQL schema {} (dropped at the end of the run)",
                schema.name()
            ));
        }
        if self.args.keep_dir {
            let kept = self.dir.keep();
            notes.push(format!("run directory kept: {}", kept.display()));
        }
        Report {
            tool: "tollgate-bench",
            version: env!("CARGO_PKG_VERSION"),
            scenario: self.args.scenario.as_str().to_owned(),
            db: Some(self.args.db.as_str().to_owned()),
            connections: self.args.connections,
            limit: self.limit.describe(),
            machine: Machine::detect(),
            commit: git_commit(),
            date: rfc3339_now(),
            phases: self.phases,
            comparisons: self.comparisons,
            ingest: None,
            notes,
        }
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn rfc3339_now() -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(unix_now(), 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// `git rev-parse --short HEAD` of the working directory, if it is a checkout.
fn git_commit() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|c| !c.is_empty())
}

/// The base URL of an in-process fake, checked like any target.
pub fn fake_base(base_url: &str) -> Result<Url, BenchError> {
    loopback_target(&format!("{base_url}/"))
}

/// Stops the fakes' fault injection (e.g. an added latency) before they are dropped.
pub fn clear_fakes(fakes: &Fakes) {
    fakes.whop.clear_faults();
    fakes.dodo.clear_faults();
    fakes.aghanim.clear_faults();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(matches!(
            parse_duration("20x"),
            Err(BenchError::Usage {
                option: "duration",
                ..
            })
        ));
        assert!(matches!(parse_duration("s"), Err(BenchError::Usage { .. })));
    }
}
