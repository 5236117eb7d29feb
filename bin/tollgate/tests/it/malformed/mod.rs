//! Malformed HTTP against the real server on a loopback port, over raw TCP: wrong content types, bodies that are not
//! UTF-8, deeply nested JSON, huge strings and headers, slow heads and bodies, garbage request lines, unknown
//! methods and lengths over the limit. Each gets a 4xx (with the JSON body and its stable code whenever the
//! application answers; actix's own parser answers unparseable HTTP with an empty 4xx or a closed connection), and
//! afterwards the server is still healthy and still accepts a signed webhook.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test on any setup error"
)]

mod raw;

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::listener::{MAX_BODY_BYTES, RunningServer, SERVICE_TOKEN, WHOP_SECRET};
use raw::{ANSWER_WITHIN, Answer, Reply, exchange, open, read_answer, request};
use tollgate_testkit::{SignedWebhook, WebhookBuilder, WebhookFormat};

const ACTIVATE: &str = "/api/license/activate";
const VALIDATE: &str = "/api/license/validate";
const WHOP: &str = "/api/webhooks/whop";
const JSON: (&str, &str) = ("Content-Type", "application/json");
const ACTIVATE_BODY: &[u8] = br#"{"license_key":"TGL-AAAA-BBBB","hwid":"hwid-1"}"#;

/// A JSON error answer with this status and code, and the request id every answer carries.
fn assert_error(answer: Answer, status: u16, code: &str, case: &str) -> Reply {
    let reply = match answer {
        Answer::Reply(reply) => reply,
        Answer::Closed => panic!("{case}: the connection closed without an answer"),
    };
    assert_eq!(
        (reply.status, reply.code()),
        (status, code.to_owned()),
        "{case}: {:?}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("content-type"), Some("application/json"), "{case}");
    assert!(reply.header("x-request-id").is_some(), "{case}: no X-Request-Id");
    reply
}

/// HTTP that actix's parser refuses before the application sees it: an empty-bodied answer with one of `statuses`,
/// or a closed connection. A body, if any, must be the JSON error.
fn assert_refused_by_parser(answer: Answer, statuses: &[u16], case: &str) {
    match answer {
        Answer::Closed => eprintln!("{case}: connection closed"),
        Answer::Reply(reply) => {
            eprintln!("{case}: {} with {} body bytes", reply.status, reply.body.len());
            assert!(
                statuses.contains(&reply.status),
                "{case}: {} {:?}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
            if !reply.body.is_empty() {
                reply.code();
            }
        }
    }
}

fn signed(body: impl Into<Vec<u8>>) -> SignedWebhook {
    WebhookBuilder::new(WebhookFormat::WhopCurrent, WHOP_SECRET, body).sign()
}

fn webhook_request(hook: &SignedWebhook) -> Vec<u8> {
    request("POST", WHOP, &hook.header_pairs(), &hook.body)
}

fn whop_fixture() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/providers/tests/fixtures/whop/membership.activated.json"
    );
    std::fs::read(path).unwrap()
}

fn wrong_content_types(addr: SocketAddr) {
    for (case, headers) in [
        ("text/plain", vec![("Content-Type", "text/plain")]),
        ("no content type", vec![]),
        (
            "form",
            vec![("Content-Type", "application/x-www-form-urlencoded")],
        ),
        ("not a media type", vec![("Content-Type", "{{{")]),
        (
            "multipart",
            vec![("Content-Type", "multipart/form-data; boundary=x")],
        ),
    ] {
        for path in [ACTIVATE, VALIDATE] {
            let answer = exchange(addr, &request("POST", path, &headers, ACTIVATE_BODY));
            assert_error(answer, 400, "INVALID_REQUEST", &format!("{path} with {case}"));
        }
    }
    // A JSON body on a route that takes none is simply ignored; a JSON route reached by GET is not a route.
    let answer = exchange(addr, &request("GET", ACTIVATE, &[JSON], ACTIVATE_BODY));
    assert_error(answer, 404, "NOT_FOUND", "GET on a POST route");
}

fn bodies_not_utf8(addr: SocketAddr) {
    let body = b"{\"license_key\":\"\xff\xfe\xfd\",\"hwid\":\"h\xc3\x28\"}";
    let answer = exchange(addr, &request("POST", ACTIVATE, &[JSON], body));
    assert_error(answer, 400, "INVALID_REQUEST", "activate, not UTF-8");

    let answer = exchange(addr, &webhook_request(&signed(&body[..])));
    assert_error(answer, 400, "INVALID_REQUEST", "signed webhook, not UTF-8");

    let answer = exchange(addr, &request("POST", WHOP, &[JSON], body));
    assert_error(answer, 401, "INVALID_SIGNATURE", "unsigned webhook, not UTF-8");

    let mut bad_signature = signed(whop_fixture());
    let request_bytes = {
        let mut head =
            b"POST /api/webhooks/whop HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n".to_vec();
        for (name, value) in bad_signature.header_pairs() {
            if name == "webhook-signature" {
                head.extend_from_slice(b"webhook-signature: v1,\xff\xfe\x80\r\n");
            } else {
                head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
        }
        head.extend_from_slice(format!("Content-Length: {}\r\n\r\n", bad_signature.body.len()).as_bytes());
        head.append(&mut bad_signature.body);
        head
    };
    let answer = exchange(addr, &request_bytes);
    assert_error(answer, 401, "INVALID_SIGNATURE", "signature header not UTF-8");

    let answer = exchange(
        addr,
        &request(
            "GET",
            "/api/entitlements?provider=%ff%fe&subject=%c3%28",
            &[("Authorization", &format!("Bearer {SERVICE_TOKEN}"))],
            b"",
        ),
    );
    assert_error(answer, 400, "INVALID_REQUEST", "query not UTF-8");

    let answer = exchange(
        addr,
        b"GET /health\xffz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    match answer {
        Answer::Reply(reply) if !reply.body.is_empty() => {
            assert_eq!(
                (reply.status, reply.code()),
                (404, "NOT_FOUND".to_owned()),
                "raw byte in path"
            );
        }
        other => assert_refused_by_parser(other, &[400], "raw byte in path"),
    }
}

fn deeply_nested_json(addr: SocketAddr) {
    for (case, body) in [
        ("100 000 [", "[".repeat(100_000).into_bytes()),
        (
            "100 000 ] after one [",
            format!("[{}", "]".repeat(100_000)).into_bytes(),
        ),
        ("50 000 objects", "{\"a\":".repeat(50_000).into_bytes()),
    ] {
        let answer = exchange(addr, &request("POST", ACTIVATE, &[JSON], &body));
        assert_error(answer, 400, "INVALID_REQUEST", &format!("activate, {case}"));
        let answer = exchange(addr, &webhook_request(&signed(body.clone())));
        assert_error(answer, 400, "INVALID_REQUEST", &format!("signed webhook, {case}"));
    }
    // Nested just inside serde_json's recursion limit, but the wrong shape.
    let body = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let answer = exchange(addr, &request("POST", VALIDATE, &[JSON], body.as_bytes()));
    assert_error(answer, 400, "INVALID_REQUEST", "validate, 100 nested arrays");
}

fn huge_json_strings(addr: SocketAddr) {
    let key = "K".repeat(1024 * 1024);
    let body = format!(r#"{{"license_key":"{key}","hwid":"hwid-1"}}"#);
    let answer = exchange(addr, &request("POST", ACTIVATE, &[JSON], body.as_bytes()));
    assert_error(answer, 400, "INVALID_REQUEST", "activate, 1 MiB license key");

    let body = format!(r#"{{"license_key":"k","hwid":"{}"}}"#, "\\u0041".repeat(200_000));
    let answer = exchange(addr, &request("POST", VALIDATE, &[JSON], body.as_bytes()));
    assert_error(
        answer,
        400,
        "INVALID_REQUEST",
        "validate, 1.2 MB of escapes in hwid",
    );

    let body = format!(
        r#"{{"type":"membership.activated","data":{{"id":"{}"}}}}"#,
        "x".repeat(200_000)
    );
    let answer = exchange(addr, &request("POST", WHOP, &[JSON], body.as_bytes()));
    assert_error(
        answer,
        401,
        "INVALID_SIGNATURE",
        "unsigned webhook, 200 KB string",
    );

    let body = format!(
        r#"{{"type":"x","data":{{"id":"{}"}}}}"#,
        "x".repeat(MAX_BODY_BYTES)
    );
    let answer = exchange(addr, &webhook_request(&signed(body)));
    assert_error(
        answer,
        413,
        "PAYLOAD_TOO_LARGE",
        "signed webhook, string over the limit",
    );
}

fn huge_headers(addr: SocketAddr) {
    let big = "a".repeat(64 * 1024);

    let hook = signed(whop_fixture());
    let mut headers: Vec<(&str, &str)> = hook
        .header_pairs()
        .into_iter()
        .filter(|(name, _)| *name != "webhook-signature")
        .collect();
    let signature = format!("v1,{big}");
    headers.push(("webhook-signature", &signature));
    let answer = exchange(addr, &request("POST", WHOP, &headers, &hook.body));
    assert_error(answer, 401, "INVALID_SIGNATURE", "64 KiB webhook-signature");

    let many_signatures = "v1,AAAA ".repeat(8 * 1024);
    let mut headers: Vec<(&str, &str)> = hook
        .header_pairs()
        .into_iter()
        .filter(|(name, _)| *name != "webhook-signature")
        .collect();
    headers.push(("webhook-signature", &many_signatures));
    let answer = exchange(addr, &request("POST", WHOP, &headers, &hook.body));
    assert_error(answer, 401, "INVALID_SIGNATURE", "8192 signatures in one header");

    let bearer = format!("Bearer {big}");
    let answer = exchange(
        addr,
        &request(
            "GET",
            "/api/entitlements?provider=whop&subject=u",
            &[("Authorization", &bearer)],
            b"",
        ),
    );
    assert_error(answer, 401, "UNAUTHORIZED", "64 KiB bearer token");

    let content_type = format!("application/{big}");
    let answer = exchange(
        addr,
        &request(
            "POST",
            ACTIVATE,
            &[("Content-Type", &content_type)],
            ACTIVATE_BODY,
        ),
    );
    assert_error(answer, 400, "INVALID_REQUEST", "64 KiB content type");

    let reply = assert_error(
        exchange(addr, &request("GET", "/nowhere", &[("X-Request-Id", &big)], b"")),
        404,
        "NOT_FOUND",
        "64 KiB request id",
    );
    assert_eq!(
        reply.header("x-request-id").map(str::len),
        Some(24),
        "an insane request id is replaced"
    );

    // Over actix's 128 KiB head buffer: refused before routing.
    let huge = "a".repeat(200 * 1024);
    let answer = exchange(addr, &request("GET", "/healthz", &[("X-Huge", &huge)], b""));
    assert_refused_by_parser(answer, &[431], "200 KiB header");

    let names: Vec<String> = (0..1000).map(|i| format!("X-Header-{i}")).collect();
    let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let answer = exchange(addr, &request("POST", WHOP, &headers, b"{}"));
    assert_refused_by_parser(answer, &[431], "1000 headers");
}

/// The head never completes: actix's `client_request_timeout` (5 s) answers 408 and closes.
fn slow_head(addr: SocketAddr) {
    let started = Instant::now();
    let stream = open(
        addr,
        b"POST /api/webhooks/whop HTTP/1.1\r\nHost: localhost\r\nContent-Le",
    );
    let answer = read_answer(stream, Duration::from_secs(20));
    assert_refused_by_parser(answer, &[408], "slow head");
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "answered before the head timeout"
    );
}

/// The head arrives, the body stops after a few bytes: the webhook route gives up on the body and answers
/// `408 REQUEST_TIMEOUT`.
fn slow_body(addr: SocketAddr) {
    let started = Instant::now();
    let hook = signed(whop_fixture());
    let mut headers = hook.header_pairs();
    headers.push(("Content-Length", "1000"));
    let mut bytes = request("POST", WHOP, &headers, b"");
    bytes.extend_from_slice(b"{\"type\":");
    let answer = read_answer(open(addr, &bytes), Duration::from_secs(30));
    assert_error(answer, 408, "REQUEST_TIMEOUT", "slow webhook body");
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "answered before the body timeout"
    );
}

/// The same for a license request: its JSON body is read under the same deadline.
fn slow_license_body(addr: SocketAddr) {
    let started = Instant::now();
    let headers = [("Content-Type", "application/json"), ("Content-Length", "1000")];
    let mut bytes = request("POST", ACTIVATE, &headers, b"");
    bytes.extend_from_slice(b"{\"license_key\":");
    let answer = read_answer(open(addr, &bytes), Duration::from_secs(30));
    assert_error(answer, 408, "REQUEST_TIMEOUT", "slow license body");
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "answered before the body timeout"
    );
}

fn garbage_request_lines(addr: SocketAddr) {
    for (case, bytes) in [
        ("binary", &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"[..]),
        ("no path", b"GET\r\n\r\n"),
        ("no version", b"GET /healthz\r\n\r\n"),
        ("unknown version", b"GET /healthz HTTP/9.9\r\n\r\n"),
        ("spaces", b"   \r\n\r\n"),
        ("nul bytes", b"\0\0\0\0\0\0\0\0\r\n\r\n"),
        ("bad method token", b"G(E)T /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("header without colon", b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n"),
        ("bad content length", b"POST /api/webhooks/whop HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
        (
            "two content lengths",
            b"POST /api/webhooks/whop HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        ),
        (
            "length and chunked",
            b"POST /api/webhooks/whop HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        ("negative length", b"POST /api/webhooks/whop HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
    ] {
        assert_refused_by_parser(exchange(addr, bytes), &[400], case);
    }
    // A bad chunk size arrives after the head, so the route is reached and fails reading the body.
    let bytes = b"POST /api/webhooks/whop HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
    match exchange(addr, bytes) {
        Answer::Reply(reply) if !reply.body.is_empty() => {
            assert_eq!(
                (reply.status, reply.code()),
                (400, "INVALID_REQUEST".to_owned()),
                "bad chunk size"
            );
        }
        other => assert_refused_by_parser(other, &[400], "bad chunk size"),
    }
}

fn unknown_methods(addr: SocketAddr) {
    for method in ["BREW", "PROPFIND", "TRACE", "CONNECT-ISH"] {
        let answer = exchange(addr, &request(method, "/healthz", &[], b""));
        assert_error(answer, 404, "NOT_FOUND", &format!("{method} /healthz"));
        let answer = exchange(addr, &request(method, WHOP, &[JSON], b"{}"));
        assert_error(answer, 404, "NOT_FOUND", &format!("{method} {WHOP}"));
    }
}

/// The declared length alone decides: the answer comes at once, without the body ever being sent.
fn lengths_over_the_limit(addr: SocketAddr) {
    let hook = signed(whop_fixture());
    let mut headers = hook.header_pairs();
    headers.push(("Content-Length", "100000000"));
    let mut bytes = request("POST", WHOP, &headers, b"");
    bytes.extend_from_slice(&hook.body);
    let started = Instant::now();
    let answer = read_answer(open(addr, &bytes), ANSWER_WITHIN);
    assert_error(answer, 413, "PAYLOAD_TOO_LARGE", "webhook, Content-Length 100 MB");
    assert!(started.elapsed() < Duration::from_secs(5), "waited for the body");

    let limit_plus_one = (MAX_BODY_BYTES + 1).to_string();
    let bytes = request("POST", WHOP, &[("Content-Length", &limit_plus_one)], b"{}");
    let answer = read_answer(open(addr, &bytes), ANSWER_WITHIN);
    assert_error(
        answer,
        413,
        "PAYLOAD_TOO_LARGE",
        "webhook, Content-Length limit + 1",
    );

    let bytes = request(
        "POST",
        ACTIVATE,
        &[JSON, ("Content-Length", "100000000")],
        ACTIVATE_BODY,
    );
    let started = Instant::now();
    let answer = read_answer(open(addr, &bytes), ANSWER_WITHIN);
    assert_error(answer, 400, "INVALID_REQUEST", "activate, Content-Length 100 MB");
    assert!(started.elapsed() < Duration::from_secs(5), "waited for the body");

    // Chunked, so the size is only known while reading: refused as soon as it passes the limit.
    let chunk = "x".repeat(64 * 1024);
    let mut body = String::new();
    for _ in 0..(MAX_BODY_BYTES / chunk.len() + 2) {
        body.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    body.push_str("0\r\n\r\n");
    let bytes = request("POST", WHOP, &[("Transfer-Encoding", "chunked")], body.as_bytes());
    let answer = exchange(addr, &bytes);
    assert_error(answer, 413, "PAYLOAD_TOO_LARGE", "chunked webhook over the limit");
}

fn still_healthy(addr: SocketAddr) {
    let reply = exchange(addr, &request("GET", "/healthz", &[], b"")).reply();
    assert_eq!(reply.status, 200, "{:?}", String::from_utf8_lossy(&reply.body));

    let reply = exchange(addr, &webhook_request(&signed(whop_fixture()))).reply();
    assert_eq!(
        (reply.status, reply.json()),
        (200, serde_json::json!({"status": "ok"})),
        "a signed webhook after the malformed traffic"
    );
}

#[test]
fn malformed_http_gets_4xx_with_a_stable_code_and_the_server_stays_healthy() {
    let server = RunningServer::start();
    let addr = server.addr;
    still_healthy(addr);

    // The slow cases hold their connections open while every other case runs on the server's one worker.
    let slow = [
        thread::spawn(move || slow_head(addr)),
        thread::spawn(move || slow_body(addr)),
        thread::spawn(move || slow_license_body(addr)),
    ];

    wrong_content_types(addr);
    bodies_not_utf8(addr);
    deeply_nested_json(addr);
    huge_json_strings(addr);
    huge_headers(addr);
    garbage_request_lines(addr);
    unknown_methods(addr);
    lengths_over_the_limit(addr);

    for case in slow {
        case.join().unwrap();
    }
    still_healthy(addr);
}
