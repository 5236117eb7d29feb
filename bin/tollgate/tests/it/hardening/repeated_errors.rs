//! Issue 18 item 12: while PostgreSQL is down, the pool's connection error is logged once and then counted, instead
//! of an ERROR line for every attempt (two a second, and more under requests).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::harness::process::{Server, request};

/// base64 of 32 bytes: PostgreSQL needs its store keys in configuration.
const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[test]
fn a_database_that_stays_down_logs_its_error_once_not_per_attempt() {
    // A port where nothing listens: every connection attempt is refused at once.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("postgres://postgres@127.0.0.1:{port}/test?connect_timeout=1");
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::spawn(
        dir.path(),
        &[
            ("TOLLGATE_DATABASE__URL", url.as_str()),
            ("TOLLGATE_DATABASE__PEPPER", KEY),
            ("TOLLGATE_DATABASE__DATA_KEY", KEY),
            ("TOLLGATE_DATABASE__CONNECT_TIMEOUT", "1s"),
        ],
    );
    // 8 requests, each waiting up to the 1 s connect timeout for a pooled connection while the pool retries in
    // the background.
    let started = Instant::now();
    let mut answers = Vec::new();
    while answers.len() < 8 {
        match request(server.port, "GET", "/readyz", &[], "") {
            Some((status, _)) => answers.push(status),
            None => {
                assert!(server.is_running(), "{}", server.log_text());
                assert!(started.elapsed() < Duration::from_secs(60), "never listened");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    assert!(answers.iter().all(|s| *s == 503), "{answers:?}");
    let log = server.log_text();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("cannot connect to PostgreSQL"))
        .collect();
    eprintln!(
        "hardening: 8 requests against a closed PostgreSQL port: {} ERROR line(s)",
        refused.len()
    );
    // Within the first minute: the error once (a count follows once a minute while it repeats).
    assert_eq!(refused.len(), 1, "{log}");
}
