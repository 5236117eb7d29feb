//! `ingest`: the delivery plan (or a `--redeliver` file) against the ceiling, then the server, then the storage
//! ceiling; records which events never got a 2xx (`--unacked-out`).

use std::io::{BufRead as _, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::bodies::{EventBody, Secrets, event_body, signed_headers};
use crate::error::BenchError;
use crate::load::{Limit, Prepared, Source};
use crate::plan::{Delivery, Plan, PlanConfig, PlanCounts};
use crate::report::{IngestSummary, Report};
use crate::run::{Db, Env, Scenario, unix_now};
use crate::storage::{self, StorageTarget};

/// The deliveries of a plan as requests, signed when sent, with per-event ack tracking.
#[derive(Debug)]
pub struct IngestSource {
    events: Arc<Vec<EventBody>>,
    deliveries: Arc<Vec<Delivery>>,
    secrets: Secrets,
    /// Start over at the end (for the ceiling, whose answer does not depend on duplicates).
    cycle: bool,
    attempted: Vec<AtomicBool>,
    acked: Vec<AtomicBool>,
}

impl IngestSource {
    pub fn new(
        events: Arc<Vec<EventBody>>,
        deliveries: Arc<Vec<Delivery>>,
        secrets: Secrets,
        cycle: bool,
    ) -> Self {
        let n = events.len();
        IngestSource {
            events,
            deliveries,
            secrets,
            cycle,
            attempted: (0..n).map(|_| AtomicBool::new(false)).collect(),
            acked: (0..n).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    fn delivery(&self, index: u64) -> Option<&Delivery> {
        let len = self.deliveries.len() as u64;
        if len == 0 {
            return None;
        }
        let index = if self.cycle { index % len } else { index };
        self.deliveries.get(usize::try_from(index).ok()?)
    }

    /// (acked, unacked, unsent) distinct events.
    pub fn tally(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for (attempted, acked) in self.attempted.iter().zip(&self.acked) {
            match (attempted.load(Ordering::Relaxed), acked.load(Ordering::Relaxed)) {
                (_, true) => counts.0 += 1,
                (true, false) => counts.1 += 1,
                (false, false) => counts.2 += 1,
            }
        }
        counts
    }

    /// The events sent at least once without any 2xx.
    pub fn unacked(&self) -> Vec<&EventBody> {
        self.events
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                self.attempted[*i].load(Ordering::Relaxed) && !self.acked[*i].load(Ordering::Relaxed)
            })
            .map(|(_, event)| event)
            .collect()
    }
}

impl Source for IngestSource {
    fn get(&self, index: u64) -> Option<Prepared> {
        let delivery = self.delivery(index)?;
        let event = self.events.get(delivery.event)?;
        let mut prepared = Prepared::post_json(event.provider.webhook_path(), event.body.as_bytes().to_vec());
        prepared
            .headers
            .extend(signed_headers(event, &self.secrets, unix_now()));
        Some(prepared)
    }

    fn on_result(&self, index: u64, success: bool) {
        if let Some(delivery) = self.delivery(index).copied() {
            self.attempted[delivery.event].store(true, Ordering::Relaxed);
            if success {
                self.acked[delivery.event].store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Reads a `--unacked-out` file: one JSON [`EventBody`] per line.
pub fn read_events(path: &Path) -> Result<Vec<EventBody>, BenchError> {
    let file = std::fs::File::open(path).map_err(|e| BenchError::file(path, e))?;
    let mut events = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| BenchError::file(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let event: EventBody = serde_json::from_str(&line).map_err(|e| BenchError::Redeliver {
            path: path.to_owned(),
            line: number + 1,
            reason: e.to_string(),
        })?;
        events.push(event);
    }
    Ok(events)
}

/// Writes events as JSON lines (the `--redeliver` format).
pub fn write_events(path: &Path, events: &[&EventBody]) -> Result<(), BenchError> {
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| BenchError::file(path, e))?);
    for event in events {
        let line =
            serde_json::to_string(event).map_err(|e| BenchError::file(path, std::io::Error::other(e)))?;
        writeln!(out, "{line}").map_err(|e| BenchError::file(path, e))?;
    }
    out.flush().map_err(|e| BenchError::file(path, e))
}

/// The plan's events (or the redelivery file's) and deliveries.
fn workload(env: &Env) -> Result<(Vec<EventBody>, Vec<Delivery>, PlanCounts), BenchError> {
    if let Some(path) = &env.args.redeliver {
        let events = read_events(path)?;
        let deliveries: Vec<Delivery> = (0..events.len())
            .map(|event| Delivery {
                event,
                duplicate: false,
            })
            .collect();
        let counts = PlanCounts {
            distinct_events: events.len(),
            deliveries: events.len(),
            duplicates: 0,
            pairs: 0,
            out_of_order_pairs: 0,
        };
        return Ok((events, deliveries, counts));
    }
    let plan = Plan::generate(&PlanConfig {
        events_per_provider: env.args.events,
        duplicate_rate: env.args.duplicate_rate,
        out_of_order_rate: env.args.out_of_order_rate,
        seed: env.args.seed,
    });
    let events = plan.events.iter().map(|e| event_body(e, &env.ids)).collect();
    Ok((events, plan.deliveries, plan.counts))
}

pub async fn run(mut env: Env) -> Result<Report, BenchError> {
    let (events, deliveries, counts) = workload(&env)?;
    if events.is_empty() {
        return Err(BenchError::usage("--events", "the workload has no events"));
    }
    let events = Arc::new(events);
    let deliveries = Arc::new(deliveries);
    let limit = env.limit;
    let redelivery = env.args.redeliver.is_some();
    let baselines = !env.args.no_baseline && !redelivery;
    let average_body = events.iter().map(|e| e.body.len()).sum::<usize>() / events.len().max(1) + 28; // + AES-GCM nonce and tag

    if env.args.scenario == Scenario::Ceiling || baselines {
        let mut ceiling = env.start_ceiling().await?;
        let source = IngestSource::new(
            Arc::clone(&events),
            Arc::clone(&deliveries),
            env.secrets.clone(),
            true,
        );
        env.phase("ceiling", &ceiling, Arc::new(source), limit).await;
        ceiling.stop();
    }
    if env.args.scenario == Scenario::Ceiling {
        return Ok(env.into_report());
    }

    let mut server = env.start_tollgate().await?;
    let source = Arc::new(IngestSource::new(
        Arc::clone(&events),
        Arc::clone(&deliveries),
        env.secrets.clone(),
        false,
    ));
    let outcome = env.phase("ingest", &server, source.clone(), limit).await;
    server.stop();
    if outcome.sent as usize >= deliveries.len() && matches!(limit, Limit::Duration(_)) {
        env.notes.push(format!(
            "the plan ran out after {:.1} s (all {} deliveries sent): raise --events for a full-length run",
            outcome.elapsed.as_secs_f64(),
            deliveries.len()
        ));
    }
    let (acked, unacked, unsent) = source.tally();
    if let Some(path) = &env.args.unacked_out {
        write_events(path, &source.unacked())?;
        env.notes
            .push(format!("{unacked} unacked events written to {}", path.display()));
    }

    if baselines {
        let target = match &env.pg {
            Some(schema) => StorageTarget::Postgres(schema.url()),
            None => StorageTarget::Sqlite(env.dir.path().join("storage-ceiling.db")),
        };
        let (connections, pool) = (env.args.connections, env.args.pool_size);
        let measured = tokio::task::spawn_blocking(move || {
            storage::run(&target, connections, pool, limit, average_body).map(|o| (o, target.describe()))
        })
        .await
        .map_err(|e| BenchError::Database(format!("storage ceiling thread: {e}")))??;
        env.phases.push(crate::report::PhaseReport::new(
            "storage-ceiling",
            &measured.1,
            &measured.0,
            None,
        ));
        let min = match env.args.db {
            Db::Sqlite => 0.4,
            Db::Postgres => 0.25,
        };
        env.ratio("ingest", "ceiling", Some(min));
        env.ratio("ingest", "storage-ceiling", None);
    }
    env.rss_target("ingest");
    let mut report = env.into_report();
    report.ingest = Some(IngestSummary {
        plan: counts,
        acked_events: acked,
        unacked_events: unacked,
        unsent_events: unsent,
    });
    Ok(report)
}

/// `storage-ceiling` on its own.
pub async fn run_storage_only(mut env: Env) -> Result<Report, BenchError> {
    let target = match &env.pg {
        Some(schema) => StorageTarget::Postgres(schema.url()),
        None => StorageTarget::Sqlite(env.dir.path().join("storage-ceiling.db")),
    };
    let (connections, pool, limit) = (env.args.connections, env.args.pool_size, env.limit);
    let describe = target.describe();
    let outcome = tokio::task::spawn_blocking(move || storage::run(&target, connections, pool, limit, 1600))
        .await
        .map_err(|e| BenchError::Database(format!("storage ceiling thread: {e}")))??;
    env.phases.push(crate::report::PhaseReport::new(
        "storage-ceiling",
        &describe,
        &outcome,
        None,
    ));
    Ok(env.into_report())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bodies::RunIds;
    use crate::plan::{EventRef, Provider};

    #[test]
    fn unacked_events_round_trip_through_the_redeliver_file() {
        let ids = RunIds::new(1_790_000_000, 2);
        let events: Vec<EventBody> = Provider::ALL
            .iter()
            .map(|&provider| {
                event_body(
                    &EventRef {
                        provider,
                        entitlement: 1,
                        seq: 0,
                    },
                    &ids,
                )
            })
            .collect();
        let deliveries: Vec<Delivery> = (0..3)
            .map(|event| Delivery {
                event,
                duplicate: false,
            })
            .chain([Delivery {
                event: 0,
                duplicate: true,
            }])
            .collect();
        let source = IngestSource::new(
            Arc::new(events.clone()),
            Arc::new(deliveries),
            Secrets::default(),
            false,
        );
        // Event 0 fails then its duplicate succeeds; event 1 fails; event 2 is never sent.
        source.on_result(0, false);
        source.on_result(1, false);
        source.on_result(3, true);
        assert_eq!(source.tally(), (1, 1, 1));
        let unacked = source.unacked();
        assert_eq!(unacked, vec![&events[1]]);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unacked.jsonl");
        write_events(&path, &unacked).unwrap();
        assert_eq!(read_events(&path).unwrap(), vec![events[1].clone()]);

        std::fs::write(&path, "{\"provider\":\"whop\"}\n").unwrap();
        assert!(matches!(
            read_events(&path),
            Err(BenchError::Redeliver { line: 1, .. })
        ));
    }

    #[test]
    fn requests_are_signed_posts_to_the_provider_endpoint() {
        let ids = RunIds::new(1_790_000_000, 2);
        let events = vec![event_body(
            &EventRef {
                provider: Provider::Aghanim,
                entitlement: 0,
                seq: 1,
            },
            &ids,
        )];
        let deliveries = vec![Delivery {
            event: 0,
            duplicate: false,
        }];
        let source = IngestSource::new(
            Arc::new(events.clone()),
            Arc::new(deliveries.clone()),
            Secrets::default(),
            false,
        );
        let prepared = source.get(0).unwrap();
        assert_eq!(prepared.path, "/api/webhooks/aghanim");
        assert_eq!(prepared.body, events[0].body.as_bytes());
        let names: Vec<&str> = prepared.headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "content-type",
                "x-aghanim-signature",
                "x-aghanim-signature-timestamp"
            ]
        );
        assert!(source.get(1).is_none());
        let cycling = IngestSource::new(Arc::new(events), Arc::new(deliveries), Secrets::default(), true);
        assert!(cycling.get(5).is_some());
    }
}
