//! A delivery verified and parsed ([`Prepared`]), and what its outcome is built from once stored ([`Receipt`]).

use std::time::Instant;

use tollgate_policy::Provider;
use tollgate_store::{InboxEffect, InboxStatus, NewInboxEvent, RecordOutcome, StoreError};

use super::{IngestError, IngestOutcome};

/// An authentic delivery, verified and parsed, ready to be stored ([`Ingest::prepare`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub(super) event: NewInboxEvent,
    pub(super) effect: InboxEffect,
    /// The provider's id of an entitlement to re-read from its API once this delivery is stored
    /// ([`Outcome::Refresh`]).
    pub(super) refresh: Option<String>,
    /// When its ingest began: the logged `duration_ms` covers verifying, queueing and storing.
    pub(super) started: Instant,
}

impl Prepared {
    pub fn provider(&self) -> Provider {
        self.event.provider
    }

    pub fn event_type(&self) -> &str {
        &self.event.event_type
    }

    /// The entitlement (the provider's id for it) to re-read from the provider's API after this delivery is stored,
    /// if the event asks for it (Whop `payment.succeeded`).
    pub fn refresh(&self) -> Option<&str> {
        self.refresh.as_deref()
    }

    /// What the store takes, and what is needed to turn its answer into an [`IngestOutcome`].
    pub(super) fn split(self) -> ((NewInboxEvent, InboxEffect), Receipt) {
        let receipt = Receipt {
            provider: self.event.provider,
            event_type: self.event.event_type.clone(),
            failure: match &self.effect {
                InboxEffect::Fail(error) => error.clone(),
                _ => String::new(),
            },
            started: self.started,
        };
        ((self.event, self.effect), receipt)
    }
}

/// What a stored delivery's outcome is built from once the store has answered.
pub(super) struct Receipt {
    provider: Provider,
    event_type: String,
    /// The parse error of a delivery stored `failed`.
    failure: String,
    started: Instant,
}

impl Receipt {
    /// The store's answer as an [`IngestOutcome`] (or [`IngestError::Storage`]), logged.
    pub(super) fn settle(
        self,
        recorded: Result<RecordOutcome, StoreError>,
    ) -> Result<IngestOutcome, IngestError> {
        let event_type = self.event_type;
        let outcome = match recorded.map_err(IngestError::Storage)? {
            RecordOutcome::Applied {
                inbox_id,
                entitlement,
            } => IngestOutcome::Applied {
                inbox_id,
                event_type,
                entitlement_id: entitlement.id.clone(),
                external_id: entitlement.state.external_id.clone(),
            },
            RecordOutcome::Stored {
                inbox_id,
                status: InboxStatus::Failed,
            } => IngestOutcome::Failed {
                inbox_id,
                event_type,
                error: self.failure,
            },
            RecordOutcome::Stored { inbox_id, .. } => IngestOutcome::Ignored { inbox_id, event_type },
            RecordOutcome::Duplicate { inbox_id } => IngestOutcome::Duplicate { inbox_id, event_type },
            other => IngestOutcome::Duplicate {
                inbox_id: other.inbox_id(),
                event_type,
            },
        };
        log_outcome(self.provider, &outcome, self.started);
        Ok(outcome)
    }
}

/// Log what became of a delivery (`debug`), and a stored failure at `warn`.
pub(super) fn log_outcome(provider: Provider, outcome: &IngestOutcome, started: Instant) {
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let entitlement_id = outcome.entitlement_id().map(|id| id.as_str()).unwrap_or("");
    log::debug!(
        provider = provider.as_str(),
        event_type = outcome.event_type(),
        inbox_id = outcome.inbox_id().0,
        entitlement_id = entitlement_id,
        status = outcome.as_str(),
        duration_ms = duration_ms;
        "webhook {}", outcome.as_str()
    );
    if let IngestOutcome::Failed { error, .. } = outcome {
        log::warn!(
            provider = provider.as_str(),
            inbox_id = outcome.inbox_id().0,
            event_type = outcome.event_type();
            "webhook stored as failed, replay it after a fix: {error}"
        );
    }
}
