//! The harness of `malformed_http.rs`: the real server on a loopback port, and a raw HTTP/1.1 client that can send
//! what no HTTP library would.

pub mod raw;
pub mod server;
