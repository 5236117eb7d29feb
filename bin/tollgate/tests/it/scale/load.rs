//! Deliveries over real HTTP: one keep-alive `reqwest` client, a fixed number of workers pulling from one queue
//! (bounded concurrency), every answer recorded with its status, JSON `code` and latency. A [`Control`] lets the
//! test watch the counts (acknowledged, 503) as they happen and stop the remaining deliveries.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::scale::events::EventSet;

/// A request that takes longer than this is recorded as a hang (`Answer::Transport("timeout")`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Send event `event` to target `target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub event: usize,
    pub target: usize,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Http {
        status: u16,
        code: Option<String>,
    },
    /// No HTTP answer: refused, reset, or timed out.
    Transport(String),
    /// Not sent: the load was stopped first.
    NotSent,
}

impl Answer {
    pub fn is_2xx(&self) -> bool {
        matches!(self, Answer::Http { status, .. } if (200..300).contains(status))
    }

    pub fn is_storage_unavailable(&self) -> bool {
        matches!(self, Answer::Http { status: 503, code: Some(code) } if code == "STORAGE_UNAVAILABLE")
    }

    /// No HTTP answer at all (a connection reset under load): a provider treats it as a failed delivery and
    /// sends it again, not knowing whether it was applied, which is exactly what exactly-once must survive.
    pub fn is_transport_failure(&self) -> bool {
        matches!(self, Answer::Transport(_))
    }
}

#[derive(Debug, Clone)]
pub struct Sent {
    pub delivery: Delivery,
    pub answer: Answer,
    pub latency: Duration,
}

/// Live counts, and a stop switch.
#[derive(Debug, Default)]
pub struct Control {
    acked: AtomicUsize,
    unavailable: AtomicUsize,
    answered: AtomicUsize,
    stop: AtomicBool,
    changed: Notify,
}

impl Control {
    pub fn new() -> Arc<Control> {
        Arc::new(Control::default())
    }

    pub fn acked(&self) -> usize {
        self.acked.load(Ordering::SeqCst)
    }

    pub fn unavailable(&self) -> usize {
        self.unavailable.load(Ordering::SeqCst)
    }

    #[expect(dead_code, reason = "kept for a scenario being debugged; no test reads it")]
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Deliveries not yet started are recorded as [`Answer::NotSent`].
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Wait until `condition` holds (checked after every answer): `true` then, or `false` if the load finished
    /// first. No timer: it returns when the count is reached.
    pub async fn until(&self, done: &AtomicBool, condition: impl Fn(&Control) -> bool) -> bool {
        loop {
            if condition(self) {
                return true;
            }
            if done.load(Ordering::SeqCst) {
                return false;
            }
            self.changed.notified().await;
        }
    }

    fn record(&self, answer: &Answer) {
        self.answered.fetch_add(1, Ordering::SeqCst);
        if answer.is_2xx() {
            self.acked.fetch_add(1, Ordering::SeqCst);
        }
        if matches!(answer, Answer::Http { status: 503, .. }) {
            self.unavailable.fetch_add(1, Ordering::SeqCst);
        }
        self.changed.notify_one();
    }
}

/// A keep-alive client for `connections` concurrent requests to loopback.
pub fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(connections)
        // Below actix's 5 s keep-alive, so the client never reuses a connection the server is closing.
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap()
}

/// A runtime for one test's client side (and its proxy tasks).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Send every delivery with `connections` workers; results in no particular order. `done` is set when all are
/// answered (for [`Control::until`]).
pub async fn deliver(
    client: &reqwest::Client,
    targets: &[String],
    set: &Arc<EventSet>,
    deliveries: Vec<Delivery>,
    connections: usize,
    control: &Arc<Control>,
    done: &Arc<AtomicBool>,
) -> Vec<Sent> {
    let deliveries = Arc::new(deliveries);
    let next = Arc::new(AtomicUsize::new(0));
    let targets = Arc::new(targets.to_vec());
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (client, targets, set, deliveries, next, control) = (
            client.clone(),
            targets.clone(),
            set.clone(),
            deliveries.clone(),
            next.clone(),
            control.clone(),
        );
        workers.spawn(async move {
            let mut sent = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&delivery) = deliveries.get(i) else {
                    break;
                };
                if control.stop.load(Ordering::SeqCst) {
                    sent.push(Sent {
                        delivery,
                        answer: Answer::NotSent,
                        latency: Duration::ZERO,
                    });
                    continue;
                }
                let started = Instant::now();
                let answer = send(&client, &targets[delivery.target], &set, delivery.event).await;
                let latency = started.elapsed();
                control.record(&answer);
                sent.push(Sent {
                    delivery,
                    answer,
                    latency,
                });
            }
            sent
        });
    }
    let mut all = Vec::new();
    while let Some(sent) = workers.join_next().await {
        all.extend(sent.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    control.changed.notify_one();
    all
}

async fn send(client: &reqwest::Client, base: &str, set: &EventSet, event: usize) -> Answer {
    let event = &set.events[event];
    let signed = event.signed();
    let mut request = client.post(format!("{base}{}", event.path()));
    for (name, value) in &signed.headers {
        request = request.header(name, value);
    }
    match request.body(signed.body).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let code = if (200..300).contains(&status) {
                None
            } else {
                response
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v["code"].as_str().map(str::to_owned))
            };
            Answer::Http { status, code }
        }
        Err(e) if e.is_timeout() => Answer::Transport("timeout".to_owned()),
        Err(e) if e.is_connect() => Answer::Transport("connect".to_owned()),
        // The connection closed mid-request (a killed server, a reset).
        Err(_) => Answer::Transport("closed".to_owned()),
    }
}

/// Every event once, plus `duplicates` of them again, shuffled with a fixed seed, each sent to every target.
pub fn plan(events: usize, duplicates: usize, targets: usize, seed: u64) -> Vec<Delivery> {
    let mut rng = SplitMix(seed);
    let mut order: Vec<usize> = (0..events).collect();
    for _ in 0..duplicates {
        order.push((rng.next() % events as u64) as usize);
    }
    shuffle(&mut order, &mut rng);
    let mut deliveries = Vec::with_capacity(order.len() * targets);
    for event in order {
        for target in 0..targets {
            deliveries.push(Delivery { event, target });
        }
    }
    deliveries
}

fn shuffle<T>(items: &mut [T], rng: &mut SplitMix) {
    for i in (1..items.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// A tiny deterministic generator (SplitMix64): the shuffle is the same on every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Answers counted by kind, for failure messages and the report: `"200": 9000, "503 STORAGE_UNAVAILABLE": 12`.
pub fn tally(sent: &[Sent]) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for s in sent {
        let key = match &s.answer {
            Answer::Http { status, code: None } => status.to_string(),
            Answer::Http {
                status,
                code: Some(code),
            } => format!("{status} {code}"),
            Answer::Transport(e) => format!("transport: {e}"),
            Answer::NotSent => "not sent".to_owned(),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// How many times a delivery answered `503` is sent again, as a provider retries: at most this many rounds.
pub const RETRY_ROUNDS: usize = 5;

/// What [`deliver_until_acked`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retried {
    /// Answers of the first round, by kind.
    pub first: std::collections::BTreeMap<String, usize>,
    /// Deliveries sent again after a `503 STORAGE_UNAVAILABLE` or a transport failure (over every round).
    pub resent: usize,
    pub rounds: usize,
}

/// Deliver, then send every delivery answered `503 STORAGE_UNAVAILABLE`, or not answered at all, again (a
/// provider's retry; an overloaded 2-core machine may time a request out waiting for a pooled connection, or reset
/// a connection), until each got a 2xx. Any other answer (a 4xx, a 500) fails the test, as does a delivery still
/// unacknowledged after [`RETRY_ROUNDS`] rounds.
pub async fn deliver_until_acked(
    client: &reqwest::Client,
    targets: &[String],
    set: &Arc<EventSet>,
    deliveries: Vec<Delivery>,
    connections: usize,
) -> Retried {
    let mut pending = deliveries;
    let mut first = None;
    let mut resent = 0;
    for round in 1..=RETRY_ROUNDS {
        let sent = deliver(
            client,
            targets,
            set,
            pending,
            connections,
            &Control::new(),
            &Arc::new(AtomicBool::new(false)),
        )
        .await;
        let counts = tally(&sent);
        assert!(
            sent.iter().all(|s| s.answer.is_2xx()
                || s.answer.is_storage_unavailable()
                || s.answer.is_transport_failure()),
            "only 2xx, 503 STORAGE_UNAVAILABLE or no answer (resent): {counts:?}"
        );
        first.get_or_insert(counts);
        pending = sent
            .iter()
            .filter(|s| !s.answer.is_2xx())
            .map(|s| s.delivery)
            .collect();
        if pending.is_empty() {
            return Retried {
                first: first.unwrap_or_default(),
                resent,
                rounds: round,
            };
        }
        resent += pending.len();
    }
    panic!(
        "{} deliveries still refused after {RETRY_ROUNDS} rounds",
        pending.len()
    );
}
