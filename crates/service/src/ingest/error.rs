//! The one error type of ingest and replay.

use std::fmt;

use tollgate_policy::Provider;
use tollgate_providers::Refusal;
use tollgate_store::{InboxId, StoreError};
use tollgate_verify::VerifyError;

/// Why a delivery or a replay was not acted on. Each variant maps to one HTTP answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum IngestError {
    /// The provider has no webhook secret: its endpoint is disabled (`PROVIDER_NOT_CONFIGURED`).
    NotConfigured(Provider),
    /// A configured secret was refused when the verifier was built (start-up only).
    InvalidSecret { provider: Provider, error: VerifyError },
    /// Bad, missing, stale or tampered signature (`INVALID_SIGNATURE`). Nothing was stored.
    InvalidSignature(VerifyError),
    /// Authentic, but not JSON at all (`INVALID_REQUEST`). Nothing was stored. The reason names a position,
    /// never the body's content.
    NotJson(String),
    /// Authentic, but a 2xx would tell the provider something Tollgate did not do (`4xx` with the refusal's code):
    /// an item SKU the provider's options do not grant, a request/response type, a sandbox item while sandbox events
    /// are off, an unreadable item event. Nothing was stored, so a retry after a configuration change is acted on.
    Refused(Refusal),
    /// No inbox event has this id (replay).
    NotFound(InboxId),
    /// The database failed; [`StoreError::is_unavailable`] means "retry later" (`STORAGE_UNAVAILABLE`).
    /// Nothing was half-applied: every write is one transaction.
    Storage(StoreError),
}

impl IngestError {
    /// True when the caller should answer "unavailable, retry later".
    pub fn is_unavailable(&self) -> bool {
        matches!(self, IngestError::Storage(e) if e.is_unavailable())
    }
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IngestError::NotConfigured(provider) => write!(
                f,
                "{provider} webhooks are not configured: set providers.{provider}.webhook_secret \
                 (TOLLGATE_PROVIDERS__{}__WEBHOOK_SECRET)",
                provider.as_str().to_ascii_uppercase()
            ),
            IngestError::InvalidSecret { provider, error } => {
                write!(f, "providers.{provider}.webhook_secret: {error}")
            }
            IngestError::InvalidSignature(e) => write!(f, "invalid webhook signature: {e}"),
            IngestError::NotJson(reason) => write!(f, "webhook body is not JSON: {reason}"),
            IngestError::Refused(refusal) => write!(f, "webhook refused: {refusal}"),
            IngestError::NotFound(id) => write!(f, "inbox event {id} not found"),
            IngestError::Storage(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for IngestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IngestError::InvalidSecret { error, .. } | IngestError::InvalidSignature(error) => Some(error),
            IngestError::Storage(e) => Some(e),
            _ => None,
        }
    }
}
