//! Signed webhook requests in each provider's real wire format, built from a body and a secret with
//! overridable id and timestamp (for stale and tampered-delivery tests). Signatures come from `tollgate-verify`'s
//! signing functions, which follow the spec, not Tollgate's parser.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use tollgate_verify::{VerifyError, sign_hex_hmac, sign_standard_webhooks, sign_whop, sign_whop_legacy};

/// A webhook request as a provider would send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedWebhook {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SignedWebhook {
    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The headers as `(&str, &str)` pairs, the shape `tollgate-verify` looks headers up in.
    pub fn header_pairs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The same headers with another body: a tampered delivery.
    pub fn with_body(&self, body: impl Into<Vec<u8>>) -> SignedWebhook {
        SignedWebhook {
            headers: self.headers.clone(),
            body: body.into(),
        }
    }
}

/// Which wire format to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// Whop current: Standard Webhooks headers, HMAC keyed with the raw `ws_...` secret bytes.
    WhopCurrent,
    /// Whop legacy: `X-Whop-Signature: t=<ts>,v1=<hex>`.
    WhopLegacy,
    /// Dodo: Standard Webhooks with a `whsec_<base64>` secret.
    Dodo,
    /// A hex HMAC-SHA256 over `<timestamp>.<body>` in one header and the timestamp in another, under the header
    /// names the provider documents (the caller gives them).
    HexHmac {
        /// The header carrying the lowercase hex signature.
        signature: &'static str,
        /// The header carrying the Unix-seconds timestamp.
        timestamp: &'static str,
    },
}

/// Builds a [`SignedWebhook`]. The id defaults to a fresh `msg_...` and the timestamp to now.
#[derive(Debug, Clone)]
pub struct WebhookBuilder {
    format: WebhookFormat,
    secret: String,
    body: Vec<u8>,
    id: Option<String>,
    timestamp: Option<i64>,
}

impl WebhookBuilder {
    pub fn new(format: WebhookFormat, secret: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        WebhookBuilder {
            format,
            secret: secret.into(),
            body: body.into(),
            id: None,
            timestamp: None,
        }
    }

    /// The body serialized compactly, exactly as it will be signed.
    pub fn json(format: WebhookFormat, secret: impl Into<String>, body: &serde_json::Value) -> Self {
        WebhookBuilder::new(format, secret, body.to_string())
    }

    /// The `webhook-id` (Standard Webhooks formats only).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The signature timestamp, Unix seconds (e.g. `now - 301` for a stale delivery).
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Signs, or reports a Dodo secret that is not `whsec_<base64>`.
    pub fn try_sign(self) -> Result<SignedWebhook, VerifyError> {
        let timestamp = self.timestamp.unwrap_or_else(now_unix);
        let ts = timestamp.to_string();
        let json = ("content-type".to_owned(), "application/json".to_owned());
        let headers = match self.format {
            WebhookFormat::WhopCurrent | WebhookFormat::Dodo => {
                let id = self.id.unwrap_or_else(|| next_id("msg"));
                let signature = if self.format == WebhookFormat::Dodo {
                    sign_standard_webhooks(&self.secret, &id, timestamp, &self.body)?
                } else {
                    sign_whop(&self.secret, &id, timestamp, &self.body)
                };
                vec![
                    ("webhook-id".to_owned(), id),
                    ("webhook-timestamp".to_owned(), ts),
                    ("webhook-signature".to_owned(), signature),
                    json,
                ]
            }
            WebhookFormat::WhopLegacy => vec![
                (
                    "X-Whop-Signature".to_owned(),
                    sign_whop_legacy(&self.secret, timestamp, &self.body),
                ),
                json,
            ],
            WebhookFormat::HexHmac {
                signature,
                timestamp: timestamp_header,
            } => vec![
                (
                    signature.to_owned(),
                    sign_hex_hmac(&self.secret, timestamp, &self.body),
                ),
                (timestamp_header.to_owned(), ts),
                json,
            ],
        };
        Ok(SignedWebhook {
            headers,
            body: self.body,
        })
    }

    /// Signs. Panics only on a Dodo secret that is not `whsec_<base64>`, which is a bug in the test.
    #[expect(
        clippy::expect_used,
        reason = "test helper: a malformed test secret is a bug in the test"
    )]
    pub fn sign(self) -> SignedWebhook {
        self.try_sign().expect("Dodo webhook secrets are whsec_<base64>")
    }
}

/// Now, in Unix seconds, from the system clock.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix seconds as RFC 3339 with milliseconds, the way Whop and Dodo write times.
pub fn iso(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A process-unique id with a provider-style prefix (`msg_...`, `whevt_...`).
pub fn next_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_tk{:x}{n:06}", now_unix())
}
