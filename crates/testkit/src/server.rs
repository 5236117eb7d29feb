//! A hyper HTTP/1.1 server on `127.0.0.1:0`, on its own thread and Tokio runtime, so sync and async tests can
//! both use it. Connections are kept alive. The service returns an `Err` for [`Fault::Drop`], which makes hyper
//! close the connection without writing any response.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Locks a mutex, recovering the data if a panicking test poisoned it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A way a fake can misbehave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status (e.g. 500, 503) with a small JSON body.
    Status(u16),
    /// Answer 429 with `Retry-After: <secs>`.
    TooManyRequests { retry_after_secs: u64 },
    /// Wait this long, then answer normally.
    Slow(Duration),
    /// Read the request, then close the connection without a response.
    Drop,
    /// Answer normally: queued before a fault, it lets the first requests through (the look-up answers, the
    /// write after it fails).
    Answer,
}

/// A request the fake received, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The decoded path, e.g. `/api/v2/memberships/KEY/validate_license`.
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

/// One parsed request, as handlers see it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// The decoded, non-empty path segments (`/a//b/` is `["a", "b"]`).
    pub segments: Vec<String>,
    /// The decoded query pairs, in order (`+` is a space).
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether `Authorization: Bearer <key>` carries exactly `key`.
    pub fn has_bearer(&self, key: &str) -> bool {
        self.header("authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|presented| presented == key)
    }

    /// The first query value named `key`.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The path segments as `&str`, to match on.
    pub fn path(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }
}

/// A handler's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// `status` with `body` as `application/json`.
    pub fn json(status: u16, body: &Value) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: body.to_string(),
        }
    }

    /// `status` with no body.
    pub fn empty(status: u16) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }
}

/// A fake's routes: one request in, one answer out (faults are applied around it by the server).
pub type Handler = Arc<dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync>;

#[derive(Debug, Default)]
struct Control {
    queued: Mutex<VecDeque<Fault>>,
    always: Mutex<Option<Fault>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

impl Control {
    /// The fault for the next request: a queued one first, then the permanent one.
    fn next_fault(&self) -> Option<Fault> {
        if let Some(fault) = lock(&self.queued).pop_front() {
            return Some(fault);
        }
        lock(&self.always).clone()
    }
}

/// A running fake server. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeServer {
    addr: SocketAddr,
    control: Arc<Control>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Starts serving `handler` on `127.0.0.1:0`, on its own thread and runtime.
    ///
    /// # Panics
    /// Only when loopback cannot be bound or the thread or runtime cannot start: no fake can serve then.
    #[expect(
        clippy::expect_used,
        reason = "a fake that cannot bind loopback or start a runtime cannot serve the test at all"
    )]
    pub fn start(handler: Handler) -> FakeServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");
        let addr = listener.local_addr().expect("listener address");
        let control = Arc::new(Control::default());
        let (shutdown, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("start the fake server's runtime");
        let serving = Arc::clone(&control);
        let thread = std::thread::Builder::new()
            .name(format!("fake-provider-{}", addr.port()))
            .spawn(move || runtime.block_on(serve(listener, handler, serving, stopped)))
            .expect("spawn the fake server thread");
        FakeServer {
            addr,
            control,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`: scheme, host and port, like a provider `API_BASE`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Misbehave on the next `times` requests.
    pub fn fail_next(&self, fault: Fault, times: usize) {
        let mut queued = lock(&self.control.queued);
        queued.extend(std::iter::repeat_n(fault, times));
    }

    /// Misbehave on every request (after any queued faults) until [`FakeServer::clear_faults`].
    pub fn fail_always(&self, fault: Fault) {
        *lock(&self.control.always) = Some(fault);
    }

    pub fn clear_faults(&self) {
        lock(&self.control.queued).clear();
        *lock(&self.control.always) = None;
    }

    /// Every request received so far, faulted ones included, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.control.requests).clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.control.requests).len()
    }

    /// How many requests had exactly this method and path.
    pub fn count(&self, method: &str, path: &str) -> usize {
        lock(&self.control.requests)
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    handler: Handler,
    control: Arc<Control>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    // Small JSON answers on a kept-alive connection: do not let Nagle hold them back.
                    let _ = stream.set_nodelay(true);
                    let handler = Arc::clone(&handler);
                    let control = Arc::clone(&control);
                    let service = service_fn(move |request| {
                        answer(request, Arc::clone(&handler), Arc::clone(&control))
                    });
                    let connection = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::spawn(connection);
                }
            }
        }
    }
}

/// Answers one request. An `Err` makes hyper close the connection without writing a response.
async fn answer(
    request: Request<Incoming>,
    handler: Handler,
    control: Arc<Control>,
) -> Result<Response<String>, Unanswered> {
    let request = HttpRequest::read(request).await?;
    lock(&control.requests).push(request.record());
    let response = match control.next_fault() {
        Some(Fault::Drop) => return Err(Unanswered::Dropped),
        Some(Fault::Status(status)) => HttpResponse::json(
            status,
            &serde_json::json!({"error": {"status": status.to_string(), "message": "injected fault"}}),
        ),
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut response =
                HttpResponse::json(429, &serde_json::json!({"message": "You are being rate limited"}));
            response
                .headers
                .push(("Retry-After".to_owned(), retry_after_secs.to_string()));
            response
        }
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            handler(&request)
        }
        Some(Fault::Answer) | None => handler(&request),
    };
    response.into_hyper()
}

/// Why a connection is closed without a response.
#[derive(Debug)]
enum Unanswered {
    /// [`Fault::Drop`].
    Dropped,
    /// The request body could not be read, or exceeded [`MAX_BODY`].
    Body(Option<hyper::Error>),
    /// A status or header hyper cannot send (e.g. `Fault::Status(42)`).
    Invalid(hyper::http::Error),
}

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unanswered::Dropped => f.write_str("fault: drop the connection"),
            Unanswered::Body(_) => write!(f, "request body unreadable or over {MAX_BODY} bytes"),
            Unanswered::Invalid(_) => f.write_str("response cannot be sent"),
        }
    }
}

impl std::error::Error for Unanswered {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Unanswered::Dropped | Unanswered::Body(None) => None,
            Unanswered::Body(Some(error)) => Some(error),
            Unanswered::Invalid(error) => Some(error),
        }
    }
}

const MAX_BODY: usize = 4 * 1024 * 1024;

impl HttpRequest {
    async fn read(request: Request<Incoming>) -> Result<HttpRequest, Unanswered> {
        let (parts, mut incoming) = request.into_parts();
        let mut body = Vec::new();
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut incoming).poll_frame(cx)).await {
            if let Ok(data) = frame.map_err(|error| Unanswered::Body(Some(error)))?.into_data() {
                if body.len() + data.len() > MAX_BODY {
                    return Err(Unanswered::Body(None));
                }
                body.extend_from_slice(&data);
            }
        }
        Ok(HttpRequest {
            method: parts.method.as_str().to_owned(),
            segments: parts
                .uri
                .path()
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| percent_decode(s, false))
                .collect(),
            query: parts
                .uri
                .query()
                .unwrap_or_default()
                .split('&')
                .filter(|s| !s.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(k, true), percent_decode(v, true))
                })
                .collect(),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
            body,
        })
    }

    fn record(&self) -> RecordedRequest {
        RecordedRequest {
            method: self.method.clone(),
            path: format!("/{}", self.segments.join("/")),
            query: self
                .query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
            authorization: self.header("authorization").map(str::to_owned),
            body: self.body.clone(),
        }
    }
}

impl HttpResponse {
    fn into_hyper(self) -> Result<Response<String>, Unanswered> {
        let mut response = Response::builder().status(self.status);
        for (name, value) in &self.headers {
            response = response.header(name, value);
        }
        response.body(self.body).map_err(Unanswered::Invalid)
    }
}

fn percent_decode(input: &str, plus_is_space: bool) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb%20c", false), "a/b c");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%4", false), "%4");
    }
}
