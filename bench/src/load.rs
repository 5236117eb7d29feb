//! The load driver: `connections` workers over one keep-alive `reqwest` client, each taking the next request
//! index until the count or the time limit is reached (so every loop stops by itself), recording latency into its
//! own histogram and errors by HTTP status and JSON `code`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use reqwest::{Client, Method, Url};

use crate::error::BenchError;
use crate::stats::Latencies;

/// How long one request may take before it counts as a `timeout` error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One request, ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Prepared {
    /// A `POST` of a JSON body.
    pub fn post_json(path: &str, body: Vec<u8>) -> Prepared {
        Prepared {
            method: Method::POST,
            path: path.to_owned(),
            headers: vec![("content-type", "application/json".to_owned())],
            body,
        }
    }
}

/// The requests of one phase, by index. `None` ends the phase early (the source is exhausted).
pub trait Source: Send + Sync + 'static {
    fn get(&self, index: u64) -> Option<Prepared>;

    /// Called once per answered (or failed) request.
    fn on_result(&self, _index: u64, _success: bool) {}
}

/// When a phase stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Requests(u64),
    Duration(Duration),
}

impl Limit {
    pub fn describe(self) -> String {
        match self {
            Limit::Requests(n) => format!("{n} requests"),
            Limit::Duration(d) => format!("{} s", d.as_secs_f64()),
        }
    }
}

/// An error class: the HTTP status (`None`: no answer) and the body's JSON `code` (or a transport class).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ErrorKey {
    pub status: Option<u16>,
    pub code: String,
}

/// What one phase measured.
#[derive(Debug, Clone, Default)]
pub struct PhaseOutcome {
    pub sent: u64,
    pub ok: u64,
    pub elapsed: Duration,
    pub latencies: Latencies,
    pub errors: BTreeMap<ErrorKey, u64>,
}

impl PhaseOutcome {
    pub fn add_error(&mut self, key: ErrorKey, count: u64) {
        *self.errors.entry(key).or_default() += count;
    }

    fn merge(&mut self, other: PhaseOutcome) {
        self.sent += other.sent;
        self.ok += other.ok;
        self.latencies.merge(&other.latencies);
        for (key, count) in other.errors {
            self.add_error(key, count);
        }
    }
}

/// A keep-alive HTTP/1.1 client with room for `connections` idle connections to one host.
pub fn client(connections: usize) -> Result<Client, BenchError> {
    Client::builder()
        .pool_max_idle_per_host(connections)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .http1_only()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(BenchError::Client)
}

/// Runs one phase against `base` and returns what it measured. `label` names the progress bar.
pub async fn drive(
    label: &str,
    client: &Client,
    base: &Url,
    source: Arc<dyn Source>,
    connections: usize,
    limit: Limit,
) -> PhaseOutcome {
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = match limit {
        Limit::Duration(d) => Some(start + d),
        Limit::Requests(_) => None,
    };
    let max_requests = match limit {
        Limit::Requests(n) => n,
        Limit::Duration(_) => u64::MAX,
    };
    let progress = progress_bar(label, limit);
    let stop_ticker = Arc::new(AtomicBool::new(false));
    let ticker = tokio::spawn(tick(
        progress.clone(),
        Arc::clone(&done),
        Arc::clone(&stop_ticker),
        start,
        limit,
    ));

    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let worker = Worker {
            client: client.clone(),
            base: base.clone(),
            source: Arc::clone(&source),
            next: Arc::clone(&next),
            done: Arc::clone(&done),
            deadline,
            max_requests,
        };
        workers.spawn(worker.run());
    }
    let mut outcome = PhaseOutcome::default();
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(part) => outcome.merge(part),
            Err(e) => outcome.add_error(
                ErrorKey {
                    status: None,
                    code: format!("worker failed: {e}"),
                },
                1,
            ),
        }
    }
    outcome.elapsed = start.elapsed();
    stop_ticker.store(true, Ordering::Relaxed);
    let _ = ticker.await;
    progress.finish_and_clear();
    outcome
}

struct Worker {
    client: Client,
    base: Url,
    source: Arc<dyn Source>,
    next: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
    deadline: Option<Instant>,
    max_requests: u64,
}

impl Worker {
    async fn run(self) -> PhaseOutcome {
        let mut outcome = PhaseOutcome::default();
        loop {
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            if index >= self.max_requests {
                break;
            }
            let Some(prepared) = self.source.get(index) else {
                break;
            };
            let started = Instant::now();
            let result = send(&self.client, &self.base, prepared).await;
            outcome.latencies.record(started.elapsed());
            outcome.sent += 1;
            let success = match result {
                Ok(()) => {
                    outcome.ok += 1;
                    true
                }
                Err(key) => {
                    outcome.add_error(key, 1);
                    false
                }
            };
            self.source.on_result(index, success);
            self.done.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }
}

/// Sends one request and reads the whole answer. `Err` classifies a non-2xx answer or a transport failure.
async fn send(client: &Client, base: &Url, prepared: Prepared) -> Result<(), ErrorKey> {
    let url = base.join(&prepared.path).map_err(|_| ErrorKey {
        status: None,
        code: "bad path".to_owned(),
    })?;
    let mut request = client.request(prepared.method, url).body(prepared.body);
    for (name, value) in prepared.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let body = response.bytes().await.map_err(transport)?;
    if status.is_success() {
        return Ok(());
    }
    Err(ErrorKey {
        status: Some(status.as_u16()),
        code: json_code(&body),
    })
}

/// The `code` of a JSON error body, or `-`.
pub fn json_code(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "-".to_owned())
}

fn transport(e: reqwest::Error) -> ErrorKey {
    let code = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    };
    ErrorKey {
        status: None,
        code: code.to_owned(),
    }
}

fn progress_bar(label: &str, limit: Limit) -> ProgressBar {
    let (length, template) = match limit {
        Limit::Requests(n) => (n, "{prefix:>16} [{bar:40}] {pos}/{len} requests {msg}"),
        Limit::Duration(d) => (
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            "{prefix:>16} [{bar:40}] {elapsed} {msg}",
        ),
    };
    let bar = ProgressBar::new(length);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_owned());
    bar
}

/// Updates the bar five times a second until told to stop (the workers are bounded, so this is too).
async fn tick(bar: ProgressBar, done: Arc<AtomicU64>, stop: Arc<AtomicBool>, start: Instant, limit: Limit) {
    let mut interval = tokio::time::interval(Duration::from_millis(200));
    while !stop.load(Ordering::Relaxed) {
        interval.tick().await;
        let requests = done.load(Ordering::Relaxed);
        let elapsed = start.elapsed();
        match limit {
            Limit::Requests(_) => bar.set_position(requests),
            Limit::Duration(_) => bar.set_position(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)),
        }
        let rate = requests as f64 / elapsed.as_secs_f64().max(0.001);
        bar.set_message(format!("{requests} done, {rate:.0} req/s"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_codes() {
        assert_eq!(
            json_code(br#"{"code":"LICENSE_NOT_FOUND","message":"x"}"#),
            "LICENSE_NOT_FOUND"
        );
        assert_eq!(json_code(b"not json"), "-");
        assert_eq!(json_code(br#"{"code":5}"#), "-");
    }
}
