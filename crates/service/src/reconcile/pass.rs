//! One provider's pass: the report being built, the lock renewal, and one item at a time through the store.

use chrono::{DateTime, Utc};
use tollgate_policy::Provider;
use tollgate_providers::{ApiError, CallContext};

use super::repair::{ItemOutcome, Snapshot, reconcile_item};
use super::report::{PassOutcome, ProviderReport, RepairKind};
use super::{ReconcileError, Reconciler};

/// Whether a pass goes on after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    Stop,
}

pub(super) struct Pass<'a> {
    pub reconciler: &'a Reconciler,
    pub report: ProviderReport,
    pub ctx: CallContext,
    lock: String,
}

impl<'a> Pass<'a> {
    pub fn new(reconciler: &'a Reconciler, provider: Provider, lock: String) -> Self {
        Pass {
            reconciler,
            report: ProviderReport::new(provider),
            ctx: CallContext::with_request_id(format!(
                "reconcile-{}-{}",
                provider.as_str(),
                reconciler.inner.options.holder
            )),
            lock,
        }
    }

    pub fn provider(&self) -> Provider {
        self.report.provider
    }

    pub fn page_size(&self) -> u32 {
        self.reconciler.inner.options.page_size.max(1)
    }

    /// The time a listing is observed at: taken just before the provider call, so a webhook for a change made
    /// after the page was fetched is newer than the snapshot and wins.
    pub fn now(&self) -> DateTime<Utc> {
        self.reconciler.inner.clock.now()
    }

    /// Compare one listed item with the store and repair it if needed.
    pub async fn examine(
        &mut self,
        snapshot: Snapshot,
        observed_at: DateTime<Utc>,
    ) -> Result<(), ReconcileError> {
        self.report.examined += 1;
        let outcome = self
            .reconciler
            .db(move |store| reconcile_item(store, snapshot, observed_at))
            .await?;
        match outcome {
            ItemOutcome::Unchanged => {}
            ItemOutcome::Ignored => self.report.ignored += 1,
            ItemOutcome::Repaired(repair) => {
                match repair.kind {
                    RepairKind::Created => self.report.created += 1,
                    _ => self.report.changed += 1,
                }
                self.report.repairs.push(repair);
            }
        }
        Ok(())
    }

    /// An item the provider listed without the facts to repair from (no status).
    pub fn ignore(&mut self) {
        self.report.examined += 1;
        self.report.ignored += 1;
    }

    /// Record a failed provider call. `Stop` when the provider cannot answer at all (unreachable, rate limited), so
    /// the pass does not retry every remaining item against a provider that is down.
    pub fn failed(&mut self, what: &str, error: &ApiError) -> Flow {
        log::warn!(provider = self.provider().as_str(), error:% = error; "reconciliation: {what} failed");
        self.report.errors.push(format!("{what}: {error}"));
        if error.is_unavailable() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// Renew the lock between pages. `Stop` (with an error in the report) if another instance took it over, which
    /// only happens when this pass outlived its lock.
    pub async fn renew(&mut self) -> Result<Flow, ReconcileError> {
        if self.reconciler.acquire(&self.lock).await? {
            return Ok(Flow::Continue);
        }
        self.report
            .errors
            .push("the lock expired and another instance took over the pass".to_owned());
        Ok(Flow::Stop)
    }

    pub fn finish(mut self) -> ProviderReport {
        if !self.report.errors.is_empty() {
            self.report.outcome = PassOutcome::Incomplete;
        }
        self.report
    }
}
