//! What stops a whole reconciliation run. A provider that cannot be reached does not: it is a line in the report.

use tollgate_policy::Provider;
use tollgate_store::StoreError;

/// Why [`crate::reconcile::Reconciler::run_once`] returned no report.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// A run was asked for a provider that has no API client configured.
    #[error("no {} API client is configured, so it cannot be reconciled", .0.as_str())]
    NotConfigured(Provider),
    /// The database failed (unavailable, or an integrity error). Every entitlement repaired before it stays
    /// repaired; none is half-written, since each repair is one transaction.
    #[error("the store failed during reconciliation")]
    Storage(#[source] StoreError),
    /// A blocking database task panicked or was cancelled by the runtime.
    #[error("a reconciliation database task did not finish: {0}")]
    Task(String),
}

impl From<StoreError> for ReconcileError {
    fn from(error: StoreError) -> Self {
        ReconcileError::Storage(error)
    }
}
