//! The HTTP contract of product.md ("HTTP API", app-facing): request bodies, the 200 body, the error body, and the
//! mapping from the server's stable codes to the user-safe [`ClientError`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ClientError;

#[derive(Serialize)]
pub(crate) struct ActivateBody<'a> {
    pub license_key: &'a str,
    pub hwid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_name: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct KeyBody<'a> {
    pub license_key: &'a str,
    pub hwid: &'a str,
}

/// `200` of activate and validate.
#[derive(Deserialize)]
pub(crate) struct GrantBody {
    #[serde(default)]
    pub entitlement: Value,
    #[serde(default)]
    pub device: Value,
    pub lease: LeaseBody,
}

#[derive(Deserialize)]
pub(crate) struct LeaseBody {
    pub token: String,
}

/// Every error body: `{"code", "message"}`.
#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    pub code: String,
}

/// How long an idle kept-alive connection stays in the pool: shorter than the server's keep-alive (actix's default,
/// 5 s), so a call after a pause opens a new connection instead of writing to one the server has closed. License
/// calls are minutes or hours apart, so reuse only ever saves a handshake between calls made together.
pub(crate) const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// The calls that may be sent a second time with one effect: a validation changes nothing, and activating the same
/// device again is answered as already active. Deactivation is never sent twice.
pub(crate) fn is_idempotent(path: &str) -> bool {
    matches!(path, "/api/license/activate" | "/api/license/validate")
}

/// Whether a request failed because the peer had already closed the kept-alive connection it was written to, before
/// any answer: hyper's "connection closed before message completed", a reset or a broken pipe. The server did not
/// process it, so an idempotent request can be sent once more on a new connection.
pub(crate) fn closed_by_peer(err: &reqwest::Error) -> bool {
    if err.is_connect() || err.is_timeout() {
        return false;
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>()
            && (hyper.is_incomplete_message() || hyper.is_canceled())
        {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// What the mapping needs besides the code.
pub(crate) struct MapContext {
    pub purchase_url: Option<String>,
    pub retry_after_secs: Option<u64>,
    /// The current lease's `exp`, when there is one: how long the person may keep working.
    pub keep_working_until: Option<DateTime<Utc>>,
}

/// Maps a non-2xx answer to a user-safe state. `code` is `None` when the body was not the contract's error body.
pub(crate) fn map_error(status: u16, code: Option<&str>, ctx: &MapContext) -> ClientError {
    match code {
        Some("LICENSE_NOT_FOUND") | Some("INVALID_REQUEST") => ClientError::InvalidLicense,
        Some("DEVICE_MISMATCH") => ClientError::InUseOnAnotherDevice,
        Some("DEVICE_LIMIT_REACHED") => ClientError::DeviceLimitReached,
        Some("LICENSE_INACTIVE") => ClientError::LicenseInactive {
            purchase_url: ctx.purchase_url.clone(),
        },
        Some("PAYMENT_ISSUE") => ClientError::PaymentIssue {
            purchase_url: ctx.purchase_url.clone(),
        },
        Some("DEVICE_NOT_ACTIVATED") => ClientError::NotActivated,
        Some("RATE_LIMITED") => ClientError::RateLimited {
            retry_after_secs: ctx.retry_after_secs,
        },
        Some("TRANSFER_NOT_ALLOWED") => ClientError::TransferNotAllowed,
        Some("TRANSFER_COOLDOWN") => ClientError::TransferCooldown {
            retry_after_secs: ctx.retry_after_secs,
        },
        Some("PROVIDER_UNAVAILABLE") | Some("STORAGE_UNAVAILABLE") => ClientError::ServiceUnavailable {
            keep_working_until: ctx.keep_working_until,
        },
        _ if status == 429 => ClientError::RateLimited {
            retry_after_secs: ctx.retry_after_secs,
        },
        _ if status >= 500 => ClientError::ServiceUnavailable {
            keep_working_until: ctx.keep_working_until,
        },
        _ => ClientError::UnexpectedResponse,
    }
}

/// Pulls the display fields an app shows out of the entitlement object (same fields as `GET /api/entitlements`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntitlementInfo {
    pub id: Option<String>,
    pub provider: Option<String>,
    pub product: Option<String>,
    pub status: Option<String>,
    /// Paid through; `None` for perpetual licenses.
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    /// A pending Dodo OAuth grant the customer must finish.
    pub oauth_url: Option<String>,
}

impl EntitlementInfo {
    pub(crate) fn from_value(value: &Value) -> EntitlementInfo {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        EntitlementInfo {
            id: value.get("id").and_then(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
            }),
            provider: text("provider"),
            product: text("product"),
            status: text("status"),
            current_period_end: text("current_period_end")
                .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                .map(|t| t.with_timezone(&Utc)),
            cancel_at_period_end: value
                .get("cancel_at_period_end")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            oauth_url: text("oauth_url"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_code_maps_to_a_user_safe_state() {
        let until = DateTime::from_timestamp(1_800_000_000, 0);
        let ctx = MapContext {
            purchase_url: Some("https://shop.example/buy".into()),
            retry_after_secs: Some(30),
            keep_working_until: until,
        };
        let url = Some("https://shop.example/buy".to_string());
        let table: &[(u16, &str, ClientError)] = &[
            (404, "LICENSE_NOT_FOUND", ClientError::InvalidLicense),
            (400, "INVALID_REQUEST", ClientError::InvalidLicense),
            (409, "DEVICE_MISMATCH", ClientError::InUseOnAnotherDevice),
            (409, "DEVICE_LIMIT_REACHED", ClientError::DeviceLimitReached),
            (
                403,
                "LICENSE_INACTIVE",
                ClientError::LicenseInactive {
                    purchase_url: url.clone(),
                },
            ),
            (
                403,
                "PAYMENT_ISSUE",
                ClientError::PaymentIssue {
                    purchase_url: url.clone(),
                },
            ),
            (403, "DEVICE_NOT_ACTIVATED", ClientError::NotActivated),
            (
                429,
                "RATE_LIMITED",
                ClientError::RateLimited {
                    retry_after_secs: Some(30),
                },
            ),
            (403, "TRANSFER_NOT_ALLOWED", ClientError::TransferNotAllowed),
            (
                429,
                "TRANSFER_COOLDOWN",
                ClientError::TransferCooldown {
                    retry_after_secs: Some(30),
                },
            ),
            (
                503,
                "PROVIDER_UNAVAILABLE",
                ClientError::ServiceUnavailable {
                    keep_working_until: until,
                },
            ),
            (
                503,
                "STORAGE_UNAVAILABLE",
                ClientError::ServiceUnavailable {
                    keep_working_until: until,
                },
            ),
            (
                500,
                "INTERNAL",
                ClientError::ServiceUnavailable {
                    keep_working_until: until,
                },
            ),
            (
                429,
                "SOMETHING_NEW",
                ClientError::RateLimited {
                    retry_after_secs: Some(30),
                },
            ),
            (418, "SOMETHING_NEW", ClientError::UnexpectedResponse),
        ];
        for (status, code, expected) in table {
            assert_eq!(&map_error(*status, Some(code), &ctx), expected, "{status} {code}");
        }
        // a body that is not the contract's (a proxy's HTML page, a wrong URL)
        assert_eq!(map_error(404, None, &ctx), ClientError::UnexpectedResponse);
        assert_eq!(
            map_error(502, None, &ctx),
            ClientError::ServiceUnavailable {
                keep_working_until: until
            }
        );
    }

    #[test]
    fn only_activation_and_validation_are_sent_twice() {
        assert!(is_idempotent("/api/license/activate"));
        assert!(is_idempotent("/api/license/validate"));
        assert!(!is_idempotent("/api/license/deactivate"));
    }

    #[test]
    fn entitlement_fields_are_read_loosely() {
        let value = serde_json::json!({
            "id": "ent_1", "provider": "whop", "product": "prod_1", "status": "active",
            "current_period_end": "2026-06-01T00:00:00Z", "cancel_at_period_end": true, "unknown": [1, 2]
        });
        let info = EntitlementInfo::from_value(&value);
        assert_eq!(info.id.as_deref(), Some("ent_1"));
        assert_eq!(
            info.current_period_end,
            DateTime::from_timestamp(1_780_272_000, 0)
        );
        assert!(info.cancel_at_period_end);
        assert_eq!(
            EntitlementInfo::from_value(&Value::Null),
            EntitlementInfo::default()
        );
    }
}
