//! The one HTTP error type, and the only `ResponseError` impl: every error answer is
//! `{"code": "<STABLE_CODE>", "message": "<user-safe text>"}`. The internal cause stays on the error value; the
//! request middleware logs it with the request id, and it never reaches the client.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tollgate_policy::Provider;
use tollgate_providers::{Refusal, RefusalCode};
use tollgate_service::ingest::IngestError;
use tollgate_store::StoreError;

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

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// Any status and stable code (the license routes add their own codes this way).
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
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

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The internal cause, for the log.
    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    pub fn invalid_signature() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_SIGNATURE",
            "the webhook signature is missing, stale or does not match the configured secret",
        )
    }

    pub fn unauthorized() -> Self {
        let mut e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "a valid bearer token is required (Authorization: Bearer <token>)",
        );
        e.www_authenticate = true;
        e
    }

    /// A bearer-token API whose token is not configured.
    pub fn api_disabled(api: &str, key: &str, env: &str) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "API_DISABLED",
            format!("the {api} API is disabled: set {key} ({env}) to enable it"),
        )
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the request body is larger than {limit} bytes (webhooks.max_body_bytes)"),
        )
    }

    /// The request body did not arrive in time (a stalled or trickling client).
    pub fn request_timeout(secs: u64) -> Self {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            format!("the request body did not arrive within {secs} s"),
        )
    }

    pub fn provider_not_configured(provider: Provider) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "PROVIDER_NOT_CONFIGURED",
            format!(
                "{provider} webhooks are disabled: set providers.{provider}.webhook_secret \
                 (TOLLGATE_PROVIDERS__{}__WEBHOOK_SECRET)",
                provider.as_str().to_ascii_uppercase()
            ),
        )
    }

    /// An authentic webhook Tollgate will not claim with a 2xx (see `IngestError::Refused`): `422` with the
    /// refusal's code (`UNSUPPORTED_EVENT`, `UNSUPPORTED_ITEM`, `SANDBOX_NOT_ACCEPTED`), `400 INVALID_ITEM_EVENT`
    /// for an item event that cannot be read. Never Aghanim's `declined`, which can trigger an automatic refund.
    pub fn webhook_refused(refusal: Refusal) -> Self {
        let status = match refusal.code {
            RefusalCode::InvalidItemEvent => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, refusal.code.as_str(), refusal.message)
    }

    pub fn storage_unavailable() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "STORAGE_UNAVAILABLE",
            "storage is unavailable; nothing was stored, retry later",
        )
        .with_retry_after(5)
    }

    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "an internal error occurred; the server log has the details",
        )
    }
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
