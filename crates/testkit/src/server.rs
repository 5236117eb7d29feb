//! A minimal HTTP/1.1 server on `127.0.0.1:0`, on its own thread and Tokio runtime, so sync and async tests can
//! both use it. One request per connection (`Connection: close`), which is what lets a fault close the socket
//! without answering, something a full framework does not offer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Locks a mutex, recovering the data if a panicking test poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
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
pub(crate) struct HttpRequest {
    pub(crate) method: String,
    pub(crate) segments: Vec<String>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl HttpRequest {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether `Authorization: Bearer <key>` carries exactly `key`.
    pub(crate) fn has_bearer(&self, key: &str) -> bool {
        self.header("authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|presented| presented == key)
    }

    pub(crate) fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub(crate) fn path(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl HttpResponse {
    pub(crate) fn json(status: u16, body: &Value) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: body.to_string().into_bytes(),
        }
    }

    pub(crate) fn empty(status: u16) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

pub(crate) type Handler = Arc<dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync>;

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
    #[expect(
        clippy::expect_used,
        reason = "a fake that cannot bind loopback or start a runtime cannot serve the test at all"
    )]
    pub(crate) fn start(handler: Handler) -> FakeServer {
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
                    tokio::spawn(connection(stream, Arc::clone(&handler), Arc::clone(&control)));
                }
            }
        }
    }
}

async fn connection(mut stream: TcpStream, handler: Handler, control: Arc<Control>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    lock(&control.requests).push(RecordedRequest {
        method: request.method.clone(),
        path: format!("/{}", request.segments.join("/")),
        query: request
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&"),
        authorization: request.header("authorization").map(str::to_owned),
        body: request.body.clone(),
    });
    let response = match control.next_fault() {
        Some(Fault::Drop) => return,
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
        None => handler(&request),
    };
    let _ = write_response(&mut stream, &response).await;
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 4 * 1024 * 1024;

async fn read_request(stream: &mut TcpStream) -> Option<HttpRequest> {
    let mut buffer = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0_u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return None;
    }
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0_u8; 8192];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    body.truncate(length);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Some(HttpRequest {
        method,
        segments: path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode(s, false))
            .collect(),
        query: query
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k, true), percent_decode(v, true))
            })
            .collect(),
        headers,
        body,
    })
}

async fn write_response(stream: &mut TcpStream, response: &HttpResponse) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        reason(response.status),
        response.body.len()
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&response.body).await?;
    stream.flush().await?;
    stream.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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
