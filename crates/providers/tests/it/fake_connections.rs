//! The fakes at the connection level, over a raw `TcpStream`: keep-alive, and `Fault::Drop` closing the connection
//! without a single byte of response.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tollgate_providers::dodo::fake::{FakeDodo, FakeLicenseKey};
use tollgate_testkit::{FakeProvider, Fault, RecordedRequest};

/// A safety net so a broken server fails the test instead of hanging it; no test waits on it.
const READ_LIMIT: Duration = Duration::from_secs(10);

#[expect(
    clippy::unwrap_used,
    reason = "test helper: a failed socket operation fails the test"
)]
fn connect(dodo: &FakeDodo) -> TcpStream {
    let addr = dodo.base_url().trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(READ_LIMIT)).unwrap();
    stream
}

/// Writes one keep-alive `POST /licenses/validate` (HTTP/1.1 is persistent unless `Connection: close`).
#[expect(
    clippy::unwrap_used,
    reason = "test helper: a failed socket operation fails the test"
)]
fn send_validate(stream: &mut TcpStream, key: &str) {
    let body = format!(r#"{{"license_key":"{key}"}}"#);
    let request = format!(
        "POST /licenses/validate HTTP/1.1\r\nHost: fake\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
}

/// Reads exactly one response (head, then `Content-Length` bytes of body) and leaves the connection open.
#[expect(
    clippy::unwrap_used,
    reason = "test helper: a failed socket operation fails the test"
)]
fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "connection closed mid-response"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .unwrap()
        .parse()
        .unwrap();
    let mut body = vec![0_u8; length];
    stream.read_exact(&mut body).unwrap();
    let status_line = head.lines().next().unwrap().to_owned();
    (status_line, String::from_utf8(body).unwrap())
}

fn dodo_with_key() -> FakeDodo {
    let dodo = FakeDodo::start();
    dodo.add_license_key(FakeLicenseKey::new("lic_1", "K1", None));
    dodo
}

#[test]
fn two_requests_over_one_keep_alive_connection_are_both_answered() {
    let dodo = dodo_with_key();
    let mut stream = connect(&dodo);

    send_validate(&mut stream, "K1");
    let first = read_response(&mut stream);
    send_validate(&mut stream, "NOPE");
    let second = read_response(&mut stream);

    assert_eq!(
        first,
        ("HTTP/1.1 200 OK".to_owned(), r#"{"valid":true}"#.to_owned())
    );
    assert_eq!(
        second,
        ("HTTP/1.1 200 OK".to_owned(), r#"{"valid":false}"#.to_owned())
    );
    let bodies: Vec<Vec<u8>> = dodo.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(
        bodies,
        [
            br#"{"license_key":"K1"}"#.to_vec(),
            br#"{"license_key":"NOPE"}"#.to_vec()
        ]
    );
}

#[test]
fn a_drop_fault_closes_the_connection_with_zero_bytes_and_records_the_request() {
    let dodo = dodo_with_key();
    dodo.fail_next(Fault::Drop, 1);
    let mut stream = connect(&dodo);

    send_validate(&mut stream, "K1");
    let mut received = Vec::new();
    let read = stream.read_to_end(&mut received).unwrap();

    assert_eq!((read, received), (0, Vec::new()));
    assert_eq!(
        dodo.requests(),
        [RecordedRequest {
            method: "POST".to_owned(),
            path: "/licenses/validate".to_owned(),
            query: String::new(),
            authorization: None,
            body: br#"{"license_key":"K1"}"#.to_vec(),
        }]
    );
    // The fault was used up: a new connection is answered.
    let mut stream = connect(&dodo);
    send_validate(&mut stream, "K1");
    assert_eq!(read_response(&mut stream).1, r#"{"valid":true}"#);
}

#[test]
fn a_drop_fault_mid_keep_alive_closes_after_the_earlier_answer() {
    let dodo = dodo_with_key();
    let mut stream = connect(&dodo);
    send_validate(&mut stream, "K1");
    assert_eq!(read_response(&mut stream).1, r#"{"valid":true}"#);

    dodo.fail_next(Fault::Drop, 1);
    send_validate(&mut stream, "K1");
    let mut received = Vec::new();
    assert_eq!(stream.read_to_end(&mut received).unwrap(), 0);
    assert_eq!(dodo.request_count(), 2);
}

#[test]
fn the_query_and_percent_encoded_path_are_recorded_decoded() {
    let dodo = dodo_with_key();
    let mut stream = connect(&dodo);
    stream
        .write_all(
            b"GET /entitlements/ent%201/grants?status=a%2Fb&customer_id=c+d HTTP/1.1\r\n\
              Host: fake\r\nAuthorization: Bearer nope\r\n\r\n",
        )
        .unwrap();
    let (status_line, _) = read_response(&mut stream);

    assert_eq!(status_line, "HTTP/1.1 401 Unauthorized");
    let recorded = dodo.requests().remove(0);
    assert_eq!(
        (
            recorded.method.as_str(),
            recorded.path.as_str(),
            recorded.query.as_str()
        ),
        ("GET", "/entitlements/ent 1/grants", "status=a/b&customer_id=c d")
    );
    assert_eq!(recorded.authorization.as_deref(), Some("Bearer nope"));
}

#[test]
fn dropping_the_fake_closes_its_kept_alive_connections() {
    let dodo = dodo_with_key();
    let mut stream = connect(&dodo);
    send_validate(&mut stream, "K1");
    assert_eq!(read_response(&mut stream).1, r#"{"valid":true}"#);

    drop(dodo);
    let mut received = Vec::new();
    assert_eq!(stream.read_to_end(&mut received).unwrap(), 0);
}
