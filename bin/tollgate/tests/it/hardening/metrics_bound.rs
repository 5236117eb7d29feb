//! F1: a client picks the HTTP method. 2,000 requests with random methods (some of them long) must leave the
//! `/metrics` text small, the server's memory bounded, and no log line carrying what the client sent.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use ring::rand::{SecureRandom as _, SystemRandom};

use crate::harness::process::{Server, request};

const REQUESTS: usize = 2_000;
/// Every 100th request carries a method of this many bytes; the others 16 to 2,000.
const LONG_METHOD: usize = 100_000;

/// A method token of `len` characters from `[A-Z0-9]` (valid `tchar`s, so the HTTP parser takes them).
fn random_method(rng: &SystemRandom, len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes).unwrap();
    bytes
        .iter()
        .map(|b| char::from(CHARS[usize::from(*b) % CHARS.len()]))
        .collect()
}

fn send_raw(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn random_methods_leave_metrics_small_memory_bounded_and_logs_short() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let rng = SystemRandom::new();
    let mut sizes = [0u8; 2];
    let mut answered = 0;
    for i in 0..REQUESTS {
        let len = if i % 100 == 0 {
            LONG_METHOD
        } else {
            rng.fill(&mut sizes).unwrap();
            16 + usize::from(u16::from_le_bytes(sizes)) % 1_985
        };
        // Half to a route, half to no route at all (the `unmatched` label), each with a fresh random path.
        let path = if i % 2 == 0 {
            "/api/license/validate".to_owned()
        } else {
            format!("/{}", random_method(&rng, 40).to_ascii_lowercase())
        };
        if send_raw(server.port, &random_method(&rng, len), &path).is_some() {
            answered += 1;
        }
    }
    let (status, metrics) = request(server.port, "GET", "/metrics", &[], "").unwrap();
    assert_eq!(status, 200);
    let hwm_kb = server.memory_kb("VmHWM");
    let rss_kb = server.memory_kb("VmRSS");
    eprintln!(
        "hardening: F1: {REQUESTS} random methods ({answered} answered): /metrics {} bytes, server VmHWM {} MB, \
         VmRSS {} MB",
        metrics.len(),
        hwm_kb / 1024,
        rss_kb / 1024
    );
    assert!(answered >= REQUESTS / 2, "only {answered} requests were answered");
    assert!(metrics.len() < 64 * 1024, "/metrics is {} bytes", metrics.len());
    assert!(hwm_kb < 100 * 1024, "peak RSS {hwm_kb} kB");
    // Only known methods or `other`, and only route templates or `unmatched`, are label values.
    for line in metrics.lines().filter(|l| l.contains("method=\"")) {
        let method = line.split("method=\"").nth(1).unwrap().split('"').next().unwrap();
        assert!(
            [
                "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "other"
            ]
            .contains(&method),
            "{line}"
        );
        let route = line.split("route=\"").nth(1).unwrap().split('"').next().unwrap();
        assert!(route == "unmatched" || route.starts_with('/'), "{line}");
        assert!(line.len() < 300, "{line}");
    }
    assert!(
        metrics.contains("method=\"other\",route=\"unmatched\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("method=\"other\",route=\"/api/license/validate\""),
        "{metrics}"
    );
    let log = server.log_text();
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 2_000, "a log line of {longest} bytes");
}
