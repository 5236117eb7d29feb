//! Issue 18 item 12: a provider outage is not the app user's connection. The server's answer says the service is
//! temporarily unavailable, never "check your connection" (the app reached the server; the server could not reach
//! the provider).

use std::net::TcpListener;

use crate::harness::process::{Server, post_json};

#[test]
fn a_provider_outage_says_temporarily_unavailable_not_check_your_connection() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let whop = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            ("TOLLGATE_PROVIDERS__WHOP__API_BASE", whop.as_str()),
            ("TOLLGATE_PROVIDERS__WHOP__API_KEY", "whop-key-for-an-outage"),
            ("TOLLGATE_PROVIDERS__WHOP__CONNECT_TIMEOUT", "1s"),
        ],
    );
    let (status, body) = post_json(
        server.port,
        "/api/license/activate",
        &serde_json::json!({"license_key": "OUTAGE-KEY-0001", "hwid": "hwid-outage"}),
    );
    assert_eq!(status, 503, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "PROVIDER_UNAVAILABLE");
    assert_eq!(
        body["message"],
        "The license service is temporarily unavailable: the store behind it did not answer. Try again in a few \
         minutes."
    );
}
