//! Shared helpers for the integration tests: fixtures, times, and a request to a fake.

#![expect(
    clippy::panic,
    clippy::unwrap_used,
    reason = "test helpers: a broken fixture fails the test"
)]

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use tollgate_policy::Provider;
use tollgate_providers::{DeliveryMeta, EntitlementChange, ParseError, ParsedWebhook, parse_webhook};

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

pub fn parse(provider: Provider, meta: &DeliveryMeta, name: &str) -> Result<ParsedWebhook, ParseError> {
    parse_webhook(provider, meta, &fixture(name))
}

pub fn change(parsed: &ParsedWebhook) -> &EntitlementChange {
    parsed
        .outcome
        .change()
        .unwrap_or_else(|| panic!("expected an access change, got {:?}", parsed.outcome))
}

/// Sends `request` to a fake: its status and its JSON body (`Null` when the body is not JSON).
pub async fn send(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}
