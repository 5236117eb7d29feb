//! A raw HTTP/1.1 client over `TcpStream`: it writes exactly the bytes it is given and reads one response, with
//! every wait bounded by a read timeout (a server that does not answer in time fails the test, it never hangs it).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// How long any answer may take, unless a case says otherwise.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// What came back on one connection.
#[derive(Debug)]
pub enum Answer {
    Reply(Reply),
    /// The server closed (or reset) the connection without a complete response.
    Closed,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics (failing the test) on anything else, such as actix's plain-text errors.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} with a body that is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The stable error code of a JSON error body.
    pub fn code(&self) -> String {
        let body = self.json();
        body["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{} without a code: {body}", self.status))
            .to_owned()
    }
}

impl Answer {
    pub fn reply(self) -> Reply {
        match self {
            Answer::Reply(reply) => reply,
            Answer::Closed => panic!("the server closed the connection without an answer"),
        }
    }
}

/// Opens a connection and writes `bytes` (a write the server cuts short by closing is not an error: what it
/// answered is read next).
pub fn open(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_write_timeout(Some(ANSWER_WITHIN)).unwrap();
    match stream.write_all(bytes) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {}
        Err(e) => panic!("writing the request: {e}"),
    }
    stream
}

/// Sends `bytes` and reads the answer.
pub fn exchange(addr: SocketAddr, bytes: &[u8]) -> Answer {
    read_answer(open(addr, bytes), ANSWER_WITHIN)
}

/// Reads one response: the head, then a `Content-Length` or chunked body (or up to the close). Panics if nothing
/// complete arrives within `within`.
pub fn read_answer(mut stream: TcpStream, within: Duration) -> Answer {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(reply) = parse(&buf, false) {
            return Answer::Reply(reply);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return parse(&buf, true).map_or(Answer::Closed, Answer::Reply),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "no complete answer within {within:?} (got {:?}): the server hangs",
                    String::from_utf8_lossy(&buf)
                )
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return parse(&buf, true).map_or(Answer::Closed, Answer::Reply);
            }
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
}

/// A complete response in `buf`, if there is one (`closed`: the connection ended, so a body without a length ends
/// here).
fn parse(buf: &[u8], closed: bool) -> Option<Reply> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &buf[end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if let Some(len) = find("content-length") {
        let len: usize = len.parse().ok()?;
        rest.get(..len)?.to_vec()
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if closed {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// A complete chunked body, decoded.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).ok()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// A request with the given head lines and body; `Content-Length` is added unless the lines set a length or
/// chunking themselves, and `Connection: close` always.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n").into_bytes();
    let mut framed = false;
    for (name, value) in headers {
        framed |=
            name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding");
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if !framed {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}
