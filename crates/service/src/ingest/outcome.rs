//! What became of one delivery or replay.

use tollgate_store::{EntitlementId, InboxId};

/// The result of [`super::Ingest::ingest`] or a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IngestOutcome {
    /// Stored and folded into its entitlement (the row is `processed`).
    Applied {
        inbox_id: InboxId,
        event_type: String,
        entitlement_id: EntitlementId,
        /// The provider's id of the entitlement (a membership, a grant or a subscription).
        external_id: String,
    },
    /// Already stored under the same dedupe or semantic key: nothing was written.
    Duplicate { inbox_id: InboxId, event_type: String },
    /// Authentic, of a type Tollgate does not act on: stored as `ignored`.
    Ignored { inbox_id: InboxId, event_type: String },
    /// Authentic JSON that could not be parsed: stored as `failed` with this error, to be replayed after a fix.
    Failed {
        inbox_id: InboxId,
        event_type: String,
        error: String,
    },
}

impl IngestOutcome {
    pub fn inbox_id(&self) -> InboxId {
        match self {
            IngestOutcome::Applied { inbox_id, .. }
            | IngestOutcome::Duplicate { inbox_id, .. }
            | IngestOutcome::Ignored { inbox_id, .. }
            | IngestOutcome::Failed { inbox_id, .. } => *inbox_id,
        }
    }

    pub fn event_type(&self) -> &str {
        match self {
            IngestOutcome::Applied { event_type, .. }
            | IngestOutcome::Duplicate { event_type, .. }
            | IngestOutcome::Ignored { event_type, .. }
            | IngestOutcome::Failed { event_type, .. } => event_type,
        }
    }

    /// The entitlement the event was applied to, if it was.
    pub fn entitlement_id(&self) -> Option<&EntitlementId> {
        match self {
            IngestOutcome::Applied { entitlement_id, .. } => Some(entitlement_id),
            _ => None,
        }
    }

    /// `applied`, `duplicate`, `ignored` or `failed`: the metric label and log `status`.
    pub fn as_str(&self) -> &'static str {
        match self {
            IngestOutcome::Applied { .. } => "applied",
            IngestOutcome::Duplicate { .. } => "duplicate",
            IngestOutcome::Ignored { .. } => "ignored",
            IngestOutcome::Failed { .. } => "failed",
        }
    }
}
