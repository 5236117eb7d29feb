//! The run report: one entry per phase (throughput, latency percentiles, errors by status and code, the server's
//! peak RSS), the comparisons to the baselines with their product.md targets, as a human table and as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::load::PhaseOutcome;
use crate::plan::PlanCounts;
use crate::stats::{LatencySummary, throughput};

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub scenario: String,
    pub db: Option<String>,
    pub connections: usize,
    pub limit: String,
    pub machine: Machine,
    pub commit: Option<String>,
    pub date: String,
    pub phases: Vec<PhaseReport>,
    pub comparisons: Vec<Comparison>,
    pub ingest: Option<IngestSummary>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
}

impl Machine {
    /// `available_parallelism` and the first `model name` of `/proc/cpuinfo`.
    pub fn detect() -> Machine {
        let nproc = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        Machine { nproc, cpu_model }
    }
}

/// One measured phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseReport {
    pub name: String,
    /// What was loaded: a URL, or the database for the storage ceiling.
    pub target: String,
    pub requests: u64,
    pub ok: u64,
    pub duration_s: f64,
    pub throughput_rps: f64,
    pub latency: LatencySummary,
    pub errors: Vec<ErrorCount>,
    /// `VmHWM` of the process that served this phase, in MiB (`None`: not a process of ours, or unreadable).
    pub server_peak_rss_mb: Option<f64>,
    /// CPU time the serving process used during the phase, per 2xx answer, in µs (`None`: not measured).
    pub server_cpu_us_per_ok: Option<f64>,
}

impl PhaseReport {
    pub fn new(name: &str, target: &str, outcome: &PhaseOutcome, peak_rss_kb: Option<u64>) -> PhaseReport {
        PhaseReport {
            name: name.to_owned(),
            target: target.to_owned(),
            requests: outcome.sent,
            ok: outcome.ok,
            duration_s: (outcome.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            throughput_rps: throughput(outcome.ok, outcome.elapsed),
            latency: outcome.latencies.summary(),
            errors: outcome
                .errors
                .iter()
                .map(|(key, count)| ErrorCount {
                    status: key.status,
                    code: key.code.clone(),
                    count: *count,
                })
                .collect(),
            server_peak_rss_mb: peak_rss_kb.map(|kb| (kb as f64 / 1024.0 * 10.0).round() / 10.0),
            server_cpu_us_per_ok: None,
        }
    }

    /// Records the server's CPU time over the phase (seconds), as µs per 2xx.
    pub fn with_cpu(mut self, cpu_seconds: Option<f64>) -> PhaseReport {
        self.server_cpu_us_per_ok = cpu_seconds
            .filter(|_| self.ok > 0)
            .map(|s| (s * 1e6 / self.ok as f64 * 10.0).round() / 10.0);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorCount {
    /// `None`: no HTTP answer (connect, timeout, transport).
    pub status: Option<u16>,
    pub code: String,
    pub count: u64,
}

/// A figure derived from two phases (a ratio to a baseline, an overhead) and the target it is held to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub name: String,
    pub value: Option<f64>,
    /// `x` (a ratio), `ms` or `MiB`.
    pub unit: &'static str,
    /// The product.md target, e.g. `>= 0.4`, or `None` for an informational figure.
    pub target: Option<String>,
    pub met: Option<bool>,
}

/// The ingest plan and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    pub plan: PlanCounts,
    /// Distinct events with at least one 2xx.
    pub acked_events: usize,
    /// Distinct events sent at least once without any 2xx (written by `--unacked-out`).
    pub unacked_events: usize,
    /// Distinct events never sent (the time limit came first).
    pub unsent_events: usize,
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The human table.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "tollgate-bench {} · scenario {} · db {} · {} connections · {} · {} cores ({}) · {}{}",
            self.version,
            self.scenario,
            self.db.as_deref().unwrap_or("-"),
            self.connections,
            self.limit,
            self.machine.nproc,
            self.machine.cpu_model,
            self.date,
            self.commit
                .as_deref()
                .map(|c| format!(" · commit {c}"))
                .unwrap_or_default(),
        );
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10}",
            "phase",
            "requests",
            "2xx",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "RSS MiB",
            "CPU µs/2xx"
        );
        for phase in &self.phases {
            let _ = writeln!(
                out,
                "{:<18} {:>9} {:>9} {:>10.1} {:>8.3} {:>8.3} {:>8.3} {:>9.3} {:>9} {:>10}",
                phase.name,
                phase.requests,
                phase.ok,
                phase.throughput_rps,
                phase.latency.p50_ms,
                phase.latency.p90_ms,
                phase.latency.p99_ms,
                phase.latency.max_ms,
                phase
                    .server_peak_rss_mb
                    .map_or("-".to_owned(), |mb| format!("{mb:.1}")),
                phase
                    .server_cpu_us_per_ok
                    .map_or("-".to_owned(), |us| format!("{us:.1}")),
            );
        }
        for phase in &self.phases {
            for error in &phase.errors {
                let status = error.status.map_or("no answer".to_owned(), |s| s.to_string());
                let _ = writeln!(
                    out,
                    "  errors {}: {} {} × {}",
                    phase.name, status, error.code, error.count
                );
            }
        }
        if let Some(ingest) = &self.ingest {
            let plan = &ingest.plan;
            let _ = writeln!(
                out,
                "ingest plan: {} distinct events, {} deliveries ({} duplicates), {} of {} pairs out of order; \
                 acked {}, unacked {}, unsent {}",
                plan.distinct_events,
                plan.deliveries,
                plan.duplicates,
                plan.out_of_order_pairs,
                plan.pairs,
                ingest.acked_events,
                ingest.unacked_events,
                ingest.unsent_events
            );
        }
        for comparison in &self.comparisons {
            let value = comparison
                .value
                .map_or("n/a".to_owned(), |v| format!("{v:.3}{}", comparison.unit));
            let verdict = match comparison.met {
                Some(true) => "MET",
                Some(false) => "MISSED",
                None => "",
            };
            let target = comparison
                .target
                .as_deref()
                .map(|t| format!("target {t}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<40} {:>12}  {:<18} {}",
                comparison.name, value, target, verdict
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::load::ErrorKey;

    fn sample() -> Report {
        let mut outcome = PhaseOutcome {
            sent: 4,
            ok: 3,
            elapsed: Duration::from_secs(2),
            ..PhaseOutcome::default()
        };
        for micros in [1000, 2000, 3000, 4000] {
            outcome.latencies.record_micros(micros);
        }
        outcome.add_error(
            ErrorKey {
                status: Some(503),
                code: "STORAGE_UNAVAILABLE".to_owned(),
            },
            1,
        );
        Report {
            tool: "tollgate-bench",
            version: "0.1.0",
            scenario: "ingest".to_owned(),
            db: Some("sqlite".to_owned()),
            connections: 64,
            limit: "2 s".to_owned(),
            machine: Machine {
                nproc: 2,
                cpu_model: "AMD EPYC".to_owned(),
            },
            commit: Some("abc1234".to_owned()),
            date: "2026-01-01T00:00:00Z".to_owned(),
            phases: vec![
                PhaseReport::new("ingest", "http://127.0.0.1:1/", &outcome, Some(51_200))
                    .with_cpu(Some(0.0003)),
            ],
            comparisons: vec![Comparison {
                name: "ingest / ceiling".to_owned(),
                value: Some(0.5),
                unit: "x",
                target: Some(">= 0.4".to_owned()),
                met: Some(true),
            }],
            ingest: None,
            notes: vec![],
        }
    }

    #[test]
    fn json_shape() {
        let value: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "tool": "tollgate-bench",
                "version": "0.1.0",
                "scenario": "ingest",
                "db": "sqlite",
                "connections": 64,
                "limit": "2 s",
                "machine": {"nproc": 2, "cpu_model": "AMD EPYC"},
                "commit": "abc1234",
                "date": "2026-01-01T00:00:00Z",
                "phases": [{
                    "name": "ingest",
                    "target": "http://127.0.0.1:1/",
                    "requests": 4,
                    "ok": 3,
                    "duration_s": 2.0,
                    "throughput_rps": 1.5,
                    // HDR reports a bucket's highest equivalent value: 4000 µs is in the 4000..=4001 bucket.
                    "latency": {"count": 4, "mean_ms": 2.501, "p50_ms": 2.0, "p90_ms": 4.001, "p99_ms": 4.001,
                                "max_ms": 4.001},
                    "errors": [{"status": 503, "code": "STORAGE_UNAVAILABLE", "count": 1}],
                    "server_peak_rss_mb": 50.0,
                    "server_cpu_us_per_ok": 100.0
                }],
                "comparisons": [{"name": "ingest / ceiling", "value": 0.5, "unit": "x", "target": ">= 0.4",
                                 "met": true}],
                "ingest": null,
                "notes": []
            })
        );
    }

    #[test]
    fn table_lists_phases_errors_and_verdicts() {
        let table = sample().to_table();
        assert!(
            table.contains("scenario ingest · db sqlite · 64 connections"),
            "{table}"
        );
        assert!(
            table.contains("errors ingest: 503 STORAGE_UNAVAILABLE × 1"),
            "{table}"
        );
        assert!(table.contains("0.500x"), "{table}");
        assert!(table.contains("MET"), "{table}");
        assert!(table.contains("50.0"), "{table}");
    }
}
