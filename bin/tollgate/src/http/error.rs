//! The one HTTP error type, and the only `ResponseError` impl of the JSON API: every error answer is
//! `{"code": "<STABLE_CODE>", "message": "<user-safe text>"}`. The internal cause stays on the error value; the
//! request middleware logs it with the request id, and it never reaches the client.
//!
//! Every HTTP status an error answers with is decided here: [`ErrorCode`] is the one table of stable codes and
//! their statuses, the library errors (`StoreError`, `IngestError`, `LicenseError`, a provider's webhook refusal)
//! map onto it here, and so do the browser console's error pages ([`console_status`]).

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tollgate_policy::Provider;
use tollgate_providers::{Refusal, RefusalCode};
use tollgate_service::ingest::IngestError;
use tollgate_service::license::LicenseError;
use tollgate_store::StoreError;

use crate::http::console::ConsoleError;

/// `Retry-After` on `503 STORAGE_UNAVAILABLE` (webhooks, license routes).
const STORAGE_RETRY_AFTER_SECS: u64 = 5;

/// Every stable error code the JSON API answers with, one row per status it is sent with: the one table. Every
/// error answer is built from a row ([`ApiError::of`]), except a provider's webhook refusal, whose code the
/// provider adapter names ([`ApiError::webhook_refused`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    InvalidRequest,
    InvalidSignature,
    Unauthorized,
    ApiDisabled,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    /// A provider's webhooks without its webhook secret.
    ProviderNotConfigured,
    /// Reconciling a provider without its API key (the same code, another status).
    ReconcileNotConfigured,
    StorageUnavailable,
    Internal,
    NotReady,
    RateLimited,
    LicenseNotFound,
    DeviceMismatch,
    DeviceLimitReached,
    LicenseInactive,
    PaymentIssue,
    DeviceNotActivated,
    TransferNotAllowed,
    TransferCooldown,
    ProviderUnavailable,
}

impl ErrorCode {
    /// The table: each row's status and stable code, with `message`.
    fn answer(self, message: Cow<'static, str>) -> ApiError {
        match self {
            ErrorCode::InvalidRequest => ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message),
            ErrorCode::InvalidSignature => {
                ApiError::new(StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE", message)
            }
            ErrorCode::Unauthorized => ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message),
            ErrorCode::ApiDisabled => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "API_DISABLED", message),
            ErrorCode::NotFound => ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message),
            ErrorCode::PayloadTooLarge => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message)
            }
            ErrorCode::RequestTimeout => {
                ApiError::new(StatusCode::REQUEST_TIMEOUT, "REQUEST_TIMEOUT", message)
            }
            ErrorCode::ProviderNotConfigured => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "PROVIDER_NOT_CONFIGURED",
                message,
            ),
            ErrorCode::ReconcileNotConfigured => {
                ApiError::new(StatusCode::CONFLICT, "PROVIDER_NOT_CONFIGURED", message)
            }
            ErrorCode::StorageUnavailable => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "STORAGE_UNAVAILABLE", message)
            }
            ErrorCode::Internal => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message)
            }
            ErrorCode::NotReady => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "NOT_READY", message),
            ErrorCode::RateLimited => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message),
            ErrorCode::LicenseNotFound => ApiError::new(StatusCode::NOT_FOUND, "LICENSE_NOT_FOUND", message),
            ErrorCode::DeviceMismatch => ApiError::new(StatusCode::CONFLICT, "DEVICE_MISMATCH", message),
            ErrorCode::DeviceLimitReached => {
                ApiError::new(StatusCode::CONFLICT, "DEVICE_LIMIT_REACHED", message)
            }
            ErrorCode::LicenseInactive => ApiError::new(StatusCode::FORBIDDEN, "LICENSE_INACTIVE", message),
            ErrorCode::PaymentIssue => ApiError::new(StatusCode::FORBIDDEN, "PAYMENT_ISSUE", message),
            ErrorCode::DeviceNotActivated => {
                ApiError::new(StatusCode::FORBIDDEN, "DEVICE_NOT_ACTIVATED", message)
            }
            ErrorCode::TransferNotAllowed => {
                ApiError::new(StatusCode::FORBIDDEN, "TRANSFER_NOT_ALLOWED", message)
            }
            ErrorCode::TransferCooldown => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TRANSFER_COOLDOWN", message)
            }
            ErrorCode::ProviderUnavailable => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "PROVIDER_UNAVAILABLE", message)
            }
        }
    }

    /// The HTTP status of this row.
    pub fn status(self) -> StatusCode {
        self.answer(Cow::Borrowed("")).status
    }

    /// The stable code sent in the body.
    pub fn as_str(self) -> &'static str {
        self.answer(Cow::Borrowed("")).code
    }

    /// The row a license refusal or failure answers with.
    pub fn of_license(error: &LicenseError) -> ErrorCode {
        match error {
            LicenseError::LicenseNotFound => ErrorCode::LicenseNotFound,
            LicenseError::DeviceMismatch | LicenseError::BoundAtWhop => ErrorCode::DeviceMismatch,
            LicenseError::DeviceLimitReached => ErrorCode::DeviceLimitReached,
            LicenseError::LicenseInactive => ErrorCode::LicenseInactive,
            LicenseError::PaymentIssue => ErrorCode::PaymentIssue,
            LicenseError::DeviceNotActivated => ErrorCode::DeviceNotActivated,
            LicenseError::TransferNotAllowed => ErrorCode::TransferNotAllowed,
            LicenseError::TransferCooldown { .. } => ErrorCode::TransferCooldown,
            LicenseError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            LicenseError::ProviderUnavailable => ErrorCode::ProviderUnavailable,
            LicenseError::Storage(_) => ErrorCode::StorageUnavailable,
            _ => ErrorCode::Internal,
        }
    }
}

/// Why the browser console shows its sign-in page again, with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    /// Too many attempts from this address (sent with `Retry-After`).
    Throttled,
    /// Not the admin token.
    WrongToken,
}

/// The status of the console's sign-in page shown again after a refused attempt.
pub fn sign_in_refusal_status(refusal: SignInRefusal) -> StatusCode {
    match refusal {
        SignInRefusal::Throttled => StatusCode::TOO_MANY_REQUESTS,
        SignInRefusal::WrongToken => StatusCode::UNAUTHORIZED,
    }
}

/// The status of a browser console error page (HTML, not the JSON body: `http::console::error` renders it).
pub fn console_status(error: &ConsoleError) -> StatusCode {
    match error {
        ConsoleError::NoSession { next: Some(_) } => StatusCode::SEE_OTHER,
        ConsoleError::NoSession { next: None } | ConsoleError::BadCsrf => StatusCode::FORBIDDEN,
        ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
        ConsoleError::Invalid(_) => StatusCode::BAD_REQUEST,
        ConsoleError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error answer: status, stable code, user-safe message, and the cause for the log.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    cause: Option<String>,
    retry_after_secs: Option<u64>,
    www_authenticate: bool,
}

/// Every error answer: `{"code": "<STABLE_CODE>", "message": "<user-safe text>"}`. `code` is stable (the list of
/// codes is in the OpenAPI document's description); `message` is a sentence for a person and may change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// The stable error code.
    pub code: &'a str,
    /// What happened and what to do, for a person.
    pub message: &'a str,
}

impl ApiError {
    /// A row of the [`ErrorCode`] table with this message.
    pub fn of(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        code.answer(message.into())
    }

    /// Any status and stable code: only the table and a webhook refusal build answers this way.
    fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            cause: None,
            retry_after_secs: None,
            www_authenticate: false,
        }
    }

    /// Keep the internal cause for the log (never sent to the client).
    pub fn with_cause(mut self, cause: impl fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// Send `Retry-After: <secs>` (429, 503).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `Retry-After` seconds this answer carries, if any.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after_secs
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The internal cause, for the log.
    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::of(ErrorCode::InvalidRequest, message)
    }

    pub fn invalid_signature() -> Self {
        ApiError::of(
            ErrorCode::InvalidSignature,
            "the webhook signature is missing, stale or does not match the configured secret",
        )
    }

    pub fn unauthorized() -> Self {
        let mut e = ApiError::of(
            ErrorCode::Unauthorized,
            "a valid bearer token is required (Authorization: Bearer <token>)",
        );
        e.www_authenticate = true;
        e
    }

    /// A bearer-token API whose token is not configured.
    pub fn api_disabled(api: &str, key: &str, env: &str) -> Self {
        ApiError::of(
            ErrorCode::ApiDisabled,
            format!("the {api} API is disabled: set {key} ({env}) to enable it"),
        )
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::of(ErrorCode::NotFound, message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        ApiError::of(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {limit} bytes (webhooks.max_body_bytes)"),
        )
    }

    /// The request body did not arrive in time (a stalled or trickling client).
    pub fn request_timeout(secs: u64) -> Self {
        ApiError::of(
            ErrorCode::RequestTimeout,
            format!("the request body did not arrive within {secs} s"),
        )
    }

    pub fn provider_not_configured(provider: Provider) -> Self {
        ApiError::of(
            ErrorCode::ProviderNotConfigured,
            format!(
                "{provider} webhooks are disabled: set providers.{provider}.webhook_secret \
                 (TOLLGATE_PROVIDERS__{}__WEBHOOK_SECRET)",
                provider.as_str().to_ascii_uppercase()
            ),
        )
    }

    /// An authentic webhook Tollgate will not claim with a 2xx (see `IngestError::Refused`): `422` with the
    /// refusal's code (`UNSUPPORTED_EVENT`, `UNSUPPORTED_ITEM`, `SANDBOX_NOT_ACCEPTED`), `400 INVALID_ITEM_EVENT`
    /// for an item event that cannot be read. Never an answer the provider reads as a decline, which can trigger
    /// an automatic refund.
    pub fn webhook_refused(refusal: Refusal) -> Self {
        let status = match refusal.code {
            RefusalCode::InvalidItemEvent => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, refusal.code.as_str(), refusal.message)
    }

    pub fn storage_unavailable() -> Self {
        ApiError::of(
            ErrorCode::StorageUnavailable,
            "storage is unavailable; nothing was stored, retry later",
        )
        .with_retry_after(STORAGE_RETRY_AFTER_SECS)
    }

    pub fn internal() -> Self {
        ApiError::of(
            ErrorCode::Internal,
            "an internal error occurred; the server log has the details",
        )
    }

    /// The JSON error of a license refusal or failure: its row, the service's user-safe message; `Retry-After`
    /// until the end of a transfer cooldown, and on a storage outage.
    pub fn from_license(error: LicenseError, now: DateTime<Utc>) -> Self {
        let mut api = ApiError::of(ErrorCode::of_license(&error), error.message());
        if let Some(at) = error.retry_at() {
            api = api.with_retry_after(secs_until(at, now));
        }
        if matches!(error, LicenseError::Storage(_)) {
            api = api.with_retry_after(STORAGE_RETRY_AFTER_SECS);
        }
        api.with_cause(error)
    }
}

/// Whole seconds from `now` until `at`, rounded up, at least 1.
fn secs_until(at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let millis = (at - now).num_milliseconds().max(0);
    u64::try_from(millis.div_euclid(1000) + i64::from(millis.rem_euclid(1000) > 0))
        .unwrap_or(1)
        .max(1)
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.www_authenticate {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        response.json(ErrorBody {
            code: self.code,
            message: &self.message,
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            ApiError::storage_unavailable().with_cause(e)
        } else {
            ApiError::internal().with_cause(e)
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::NotConfigured(provider) => ApiError::provider_not_configured(provider),
            IngestError::InvalidSignature(_) => ApiError::invalid_signature().with_cause(e),
            IngestError::NotJson(_) => {
                ApiError::invalid_request("the webhook body is not JSON").with_cause(e)
            }
            IngestError::NotFound(id) => ApiError::not_found(format!("no inbox event {id}")),
            IngestError::Refused(refusal) => ApiError::webhook_refused(refusal),
            IngestError::Storage(store) => ApiError::from(store),
            other => ApiError::internal().with_cause(other),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::internal().with_cause(e)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header;
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(secs_until(now + chrono::TimeDelta::seconds(90), now), 90);
        assert_eq!(secs_until(now + chrono::TimeDelta::milliseconds(90_001), now), 91);
        assert_eq!(secs_until(now, now), 1);
        assert_eq!(secs_until(now - chrono::TimeDelta::seconds(5), now), 1);
    }

    #[test]
    fn every_license_error_keeps_its_status_code_and_message() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let cooldown = LicenseError::TransferCooldown {
            retry_at: now + chrono::TimeDelta::hours(1),
        };
        let api = ApiError::from_license(cooldown.clone(), now);
        assert_eq!(api.code(), "TRANSFER_COOLDOWN");
        assert_eq!(api.message(), cooldown.message());
        let response = api.error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "3600");

        let api = ApiError::from_license(LicenseError::DeviceMismatch, now);
        let response = api.error_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }

    /// The statuses `tollgate-service`'s `LicenseError::status()` gave before the table moved here, and the
    /// service's own wire code for each.
    #[test]
    fn each_license_error_has_its_row() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        for error in LicenseError::one_of_each() {
            let status = match &error {
                LicenseError::LicenseNotFound => 404,
                LicenseError::DeviceMismatch
                | LicenseError::BoundAtWhop
                | LicenseError::DeviceLimitReached => 409,
                LicenseError::LicenseInactive
                | LicenseError::PaymentIssue
                | LicenseError::DeviceNotActivated
                | LicenseError::TransferNotAllowed => 403,
                LicenseError::TransferCooldown { .. } => 429,
                LicenseError::InvalidRequest(_) => 400,
                LicenseError::ProviderUnavailable | LicenseError::Storage(_) => 503,
                _ => 500,
            };
            let api = ApiError::from_license(error.clone(), now);
            assert_eq!(
                (api.status().as_u16(), api.code()),
                (status, error.code()),
                "{error:?}"
            );
        }
        // The refusals the service tests see (license_activation, license_dodo).
        assert_eq!(
            ErrorCode::of_license(&LicenseError::DeviceMismatch).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ErrorCode::of_license(&LicenseError::DeviceLimitReached).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ErrorCode::of_license(&LicenseError::InvalidRequest("license_key is empty")).status(),
            StatusCode::BAD_REQUEST
        );
    }
}
