//! The crate's errors: [`ParseError`] for webhook payloads, [`ApiError`] for provider API calls.

use std::fmt;

/// Why an authentic webhook payload could not be turned into an event.
///
/// The raw body should still be stored, so it can be replayed after a fix. [`ParseError::is_not_json`] tells the
/// server whether to answer `400 INVALID_REQUEST` (not JSON at all) or to keep the event as unparseable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not JSON at all (including truncated JSON and non-UTF-8 bytes).
    NotJson { reason: String },
    /// The body is JSON but not an object.
    NotAnObject,
    /// A field the event is meaningless without is absent, null or empty (path like `data.id`).
    MissingField { field: String },
    /// A field has the wrong JSON type.
    WrongType { field: String, expected: &'static str },
    /// A time field is neither ISO-8601/RFC 3339 nor Unix seconds, or is out of range.
    InvalidTimestamp { field: String },
    /// A Standard Webhooks delivery without a `webhook-id` (and no envelope id to fall back to).
    MissingDeliveryId,
    /// No adapter is registered for this provider (see [`crate::Registry`]).
    UnknownProvider { provider: String },
}

impl ParseError {
    /// True when the body is not JSON at all: the server answers `400`.
    pub fn is_not_json(&self) -> bool {
        matches!(self, ParseError::NotJson { .. })
    }

    pub(crate) fn missing(field: impl Into<String>) -> Self {
        ParseError::MissingField { field: field.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NotJson { reason } => write!(f, "body is not JSON: {reason}"),
            ParseError::NotAnObject => f.write_str("body is JSON but not an object"),
            ParseError::MissingField { field } => write!(f, "required field `{field}` is missing"),
            ParseError::WrongType { field, expected } => {
                write!(f, "field `{field}` has the wrong type: expected {expected}")
            }
            ParseError::InvalidTimestamp { field } => {
                write!(f, "field `{field}` is not an ISO-8601 or Unix-seconds time")
            }
            ParseError::MissingDeliveryId => f.write_str("delivery has no webhook-id"),
            ParseError::UnknownProvider { provider } => {
                write!(f, "no adapter is registered for provider `{provider}`")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// Why the provider could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnreachableCause {
    /// The TCP/TLS connection could not be opened.
    Connect,
    /// The connect or request timeout elapsed.
    Timeout,
    /// The connection was closed or broken before a full response arrived.
    Transport,
    /// The provider kept answering 5xx until the retries ran out (the last status).
    ServerError { status: u16 },
}

impl fmt::Display for UnreachableCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnreachableCause::Connect => f.write_str("connection failed"),
            UnreachableCause::Timeout => f.write_str("timed out"),
            UnreachableCause::Transport => f.write_str("connection closed before a response"),
            UnreachableCause::ServerError { status } => write!(f, "server error {status} after retries"),
        }
    }
}

/// A failed provider API call.
///
/// `Rejected` means the provider answered and said no; `Unreachable` and `RateLimited` mean it could not give an
/// answer, which must never be shown to a user as "invalid key".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// The provider answered with a 4xx that the operation does not model as an outcome.
    Rejected {
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    /// The provider could not be reached: connect error, timeout, broken connection, or 5xx after retries.
    Unreachable(UnreachableCause),
    /// The provider kept answering 429 until the retries ran out.
    RateLimited { retry_after_secs: Option<u64> },
    /// A success status whose body is not the documented shape.
    InvalidResponse { status: u16, reason: String },
    /// The client is misconfigured (for example a base URL that is not a URL).
    Config(String),
    /// A value meant for one path segment would change the route (`.`, `..`, empty); nothing was sent.
    UnsafeInput(String),
}

impl ApiError {
    /// True for the errors that mean "try again later" rather than "no".
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ApiError::Unreachable(_) | ApiError::RateLimited { .. })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Rejected {
                status,
                code,
                message,
            } => {
                write!(f, "provider rejected the request with {status}")?;
                if let Some(code) = code {
                    write!(f, " ({code})")?;
                }
                if let Some(message) = message {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            ApiError::Unreachable(cause) => write!(f, "provider unreachable: {cause}"),
            ApiError::RateLimited { retry_after_secs } => match retry_after_secs {
                Some(secs) => write!(f, "provider rate limit: retry after {secs}s"),
                None => f.write_str("provider rate limit"),
            },
            ApiError::InvalidResponse { status, reason } => {
                write!(f, "provider answered {status} with an unexpected body: {reason}")
            }
            ApiError::Config(reason) => write!(f, "provider client misconfigured: {reason}"),
            ApiError::UnsafeInput(reason) => write!(f, "request not sent: {reason}"),
        }
    }
}

impl std::error::Error for ApiError {}
