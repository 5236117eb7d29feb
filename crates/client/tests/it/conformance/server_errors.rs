//! Each server answer mapped to the client's code, message and action.

use serde_json::{Value, json};
use tollgate_client::{ActivationStatus, ClientError};

use crate::conformance::fixtures::*;
use crate::conformance::generate::*;

/// One activation (or deactivation) answered with each server refusal: the client's code, message and action.
pub(crate) fn server_errors(s: &Signer) -> Value {
    let url = Some(PURCHASE_URL.to_owned());
    let html = respond(
        502,
        json!({"Content-Type": "text/html"}),
        "<html><body>Bad Gateway</body></html>",
    );
    let retry = |status: u16, code: &str, after: &str| {
        let mut r = refuse(status, code);
        r["headers"]["Retry-After"] = json!(after);
        r
    };
    let foreign = s.foreign_signed(
        &json!({"alg": "EdDSA", "typ": "JWT", "kid": "lease-1"}),
        &s.lease(T0, Some(MACHINE_A), 1),
    );
    let cases: Vec<(&str, &str, Value, ClientError)> = vec![
        (
            "activate",
            "404 LICENSE_NOT_FOUND",
            refuse(404, "LICENSE_NOT_FOUND"),
            ClientError::InvalidLicense,
        ),
        (
            "activate",
            "400 INVALID_REQUEST",
            refuse(400, "INVALID_REQUEST"),
            ClientError::InvalidLicense,
        ),
        (
            "activate",
            "409 DEVICE_MISMATCH",
            refuse(409, "DEVICE_MISMATCH"),
            ClientError::InUseOnAnotherDevice,
        ),
        (
            "activate",
            "409 DEVICE_LIMIT_REACHED",
            refuse(409, "DEVICE_LIMIT_REACHED"),
            ClientError::DeviceLimitReached,
        ),
        (
            "activate",
            "403 LICENSE_INACTIVE",
            refuse(403, "LICENSE_INACTIVE"),
            ClientError::LicenseInactive {
                purchase_url: url.clone(),
            },
        ),
        (
            "activate",
            "403 PAYMENT_ISSUE",
            refuse(403, "PAYMENT_ISSUE"),
            ClientError::PaymentIssue {
                purchase_url: url.clone(),
            },
        ),
        (
            "activate",
            "403 DEVICE_NOT_ACTIVATED",
            refuse(403, "DEVICE_NOT_ACTIVATED"),
            ClientError::NotActivated,
        ),
        (
            "activate",
            "429 RATE_LIMITED, Retry-After 120",
            retry(429, "RATE_LIMITED", "120"),
            ClientError::RateLimited {
                retry_after_secs: Some(120),
            },
        ),
        (
            "activate",
            "429 RATE_LIMITED, Retry-After 1",
            retry(429, "RATE_LIMITED", "1"),
            ClientError::RateLimited {
                retry_after_secs: Some(1),
            },
        ),
        (
            "activate",
            "429 RATE_LIMITED, Retry-After 7200",
            retry(429, "RATE_LIMITED", "7200"),
            ClientError::RateLimited {
                retry_after_secs: Some(7200),
            },
        ),
        (
            "activate",
            "429 RATE_LIMITED without Retry-After",
            refuse(429, "RATE_LIMITED"),
            ClientError::RateLimited {
                retry_after_secs: None,
            },
        ),
        (
            "deactivate",
            "403 TRANSFER_NOT_ALLOWED",
            refuse(403, "TRANSFER_NOT_ALLOWED"),
            ClientError::TransferNotAllowed,
        ),
        (
            "deactivate",
            "429 TRANSFER_COOLDOWN, Retry-After 3600",
            retry(429, "TRANSFER_COOLDOWN", "3600"),
            ClientError::TransferCooldown {
                retry_after_secs: Some(3600),
            },
        ),
        (
            "activate",
            "503 PROVIDER_UNAVAILABLE",
            refuse(503, "PROVIDER_UNAVAILABLE"),
            ClientError::ServiceUnavailable {
                keep_working_until: None,
            },
        ),
        (
            "activate",
            "503 STORAGE_UNAVAILABLE",
            refuse(503, "STORAGE_UNAVAILABLE"),
            ClientError::ServiceUnavailable {
                keep_working_until: None,
            },
        ),
        (
            "activate",
            "500 INTERNAL",
            refuse(500, "INTERNAL"),
            ClientError::ServiceUnavailable {
                keep_working_until: None,
            },
        ),
        (
            "activate",
            "502 from a proxy, HTML body",
            html,
            ClientError::ServiceUnavailable {
                keep_working_until: None,
            },
        ),
        (
            "activate",
            "404 with a body that is not the error body",
            respond(404, json!({"Content-Type": "text/plain"}), "Not Found"),
            ClientError::UnexpectedResponse,
        ),
        (
            "activate",
            "418 with an unknown code",
            refuse(418, "SOMETHING_NEW"),
            ClientError::UnexpectedResponse,
        ),
        (
            "activate",
            "429 with an unknown code",
            refuse(429, "SOMETHING_NEW"),
            ClientError::RateLimited {
                retry_after_secs: None,
            },
        ),
        (
            "activate",
            "200 that is not a grant",
            respond(
                200,
                json!({"Content-Type": "application/json"}),
                "{\"code\":\"VALID\"}",
            ),
            ClientError::UnexpectedResponse,
        ),
        (
            "activate",
            "200 with a lease signed by another key",
            grant(&foreign, T0, T0),
            ClientError::UnexpectedResponse,
        ),
        (
            "activate",
            "200 with an expired lease (by the server's Date)",
            grant(&s.lease(T0, Some(MACHINE_A), 1), T0, T0 + GRACE + 1),
            ClientError::UnexpectedResponse,
        ),
        (
            "activate",
            "no answer (connection refused)",
            json!("unreachable"),
            ClientError::ServerUnreachable {
                keep_working_until: None,
            },
        ),
    ];
    let mut list: Vec<Value> = cases
        .into_iter()
        .map(|(call, name, response, expected)| {
            let initial = if call == "deactivate" {
                state(
                    Some(&s.lease(T0, Some(MACHINE_A), 1)),
                    ActivationStatus::Active,
                    MACHINE_A,
                    T0,
                )
            } else {
                Value::Null
            };
            let path = format!("/api/license/{call}");
            let mut one = with(
                keyed(call, KEY, T0, fails(&expected)),
                "response",
                response.clone(),
            );
            if response != json!("unreachable") {
                one["request"] = request(&path, KEY, MACHINE_A);
            }
            json!({"name": name, "machine_id": MACHINE_A, "state": initial, "steps": [one]})
        })
        .collect();
    // keys refused before any request
    let long = "K".repeat(513);
    for (name, key) in [
        ("an empty key", "   "),
        ("a key with a control character", "CONF-\u{7}-KEY"),
        ("a key longer than 512 bytes", long.as_str()),
    ] {
        list.push(json!({"name": name, "machine_id": MACHINE_A, "state": null,
            "steps": [keyed("activate", key, T0, fails(&ClientError::InvalidLicense))]}));
    }
    Value::Array(list)
}
