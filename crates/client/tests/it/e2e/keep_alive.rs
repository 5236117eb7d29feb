//! The blocking client after an idle pause longer than the server's keep-alive (actix closes an idle connection
//! after 5 s): the next call must not be sent on the connection the server closed, and must not report the
//! server as unreachable while it is up.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "the fake server's helpers fail the test on any setup error"
)]

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use tollgate_client::{AccessReason, Client, ClientError, DeviceSource, ManualClock, blocking};
use tollgate_providers::whop::fake::FakeMembership;

use crate::e2e::server::{Tollgate, real_now};

const KEY: &str = "E2E-IDLE-KEY-0001";

/// Longer than the server's keep-alive (actix's default, 5 s), which `tollgate serve` keeps.
const IDLE: Duration = Duration::from_secs(6);

#[test]
fn check_idle_six_seconds_check_both_reach_the_server() {
    let t = real_now();
    let server = Tollgate::start(t, vec![FakeMembership::new("mem_idle_1", KEY)]);
    let keys = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(server.keys());
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t));
    let client = Client::builder(&server.base_url, "com.example.e2e", keys)
        .state_path(dir.path().join("license.json"))
        .clock(clock.clone())
        .device(DeviceSource::Fixed("idle-machine".into()))
        .build()
        .unwrap();
    let client = blocking::Client::from_async(client).unwrap();
    client.activate(KEY).unwrap();
    // Past refresh_after, so every check_with_key revalidates online.
    clock.set(t + TimeDelta::hours(25));

    assert_eq!(
        client.check_with_key(KEY).unwrap().reason,
        AccessReason::Revalidated
    );
    // An idle pause, not a wait for anything: the server closes the kept-alive connection meanwhile.
    std::thread::sleep(IDLE);
    assert_eq!(
        client.check_with_key(KEY).unwrap().reason,
        AccessReason::Revalidated
    );
}

/// A server that answers a license call `404 LICENSE_NOT_FOUND` on a kept-alive connection, then reads the next
/// request on that connection and closes it without an answer (a keep-alive timeout racing the request), and answers
/// on any new connection. Returns the address and the thread, which yields how many connections it accepted.
fn closes_the_second_request() -> (String, std::thread::JoinHandle<usize>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};

    fn read_request(reader: &mut BufReader<TcpStream>) -> bool {
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return false;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).is_ok()
    }
    fn not_found(stream: &mut TcpStream) {
        let body = r#"{"code":"LICENSE_NOT_FOUND","message":"no such key"}"#;
        write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    }

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let thread = std::thread::spawn(move || {
        let (first, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(first.try_clone().unwrap());
        assert!(read_request(&mut reader));
        not_found(&mut first.try_clone().unwrap());
        assert!(read_request(&mut reader));
        drop((reader, first));
        // A second connection, if the client sends the request again.
        listener.set_nonblocking(true).unwrap();
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            match listener.accept() {
                Ok((second, _)) => {
                    second.set_nonblocking(false).unwrap();
                    let mut reader = BufReader::new(second.try_clone().unwrap());
                    assert!(read_request(&mut reader));
                    not_found(&mut second.try_clone().unwrap());
                    return 2;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        }
        1
    });
    (url, thread)
}

fn client_of(url: &str, dir: &std::path::Path) -> blocking::Client {
    let key = crate::common::TestKey::generate("lease-1");
    let client = Client::builder(url, "com.example.e2e", key.keys())
        .state_path(dir.join("license.json"))
        .device(DeviceSource::Fixed("closed-machine".into()))
        .build()
        .unwrap();
    blocking::Client::from_async(client).unwrap()
}

#[test]
fn an_idempotent_call_on_a_connection_the_server_closed_is_sent_once_more() {
    let (url, server) = closes_the_second_request();
    let dir = tempfile::tempdir().unwrap();
    let client = client_of(&url, dir.path());
    assert_eq!(client.activate(KEY).unwrap_err(), ClientError::InvalidLicense);
    // Written to the kept-alive connection, which the server closes unanswered: sent again on a new one.
    assert_eq!(client.activate(KEY).unwrap_err(), ClientError::InvalidLicense);
    assert_eq!(server.join().unwrap(), 2);
}

#[test]
fn a_deactivation_on_a_connection_the_server_closed_is_not_sent_again() {
    let (url, server) = closes_the_second_request();
    let dir = tempfile::tempdir().unwrap();
    let client = client_of(&url, dir.path());
    assert_eq!(client.activate(KEY).unwrap_err(), ClientError::InvalidLicense);
    assert_eq!(
        client.deactivate(KEY).unwrap_err(),
        ClientError::ServerUnreachable {
            keep_working_until: None
        }
    );
    assert_eq!(server.join().unwrap(), 1);
}
