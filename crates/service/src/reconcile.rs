//! Reconciliation: so that a missed webhook never leaves access wrong.
//!
//! A run pages through each configured provider's listing, by the shape of its API (memberships listed
//! account-wide, `memberships.rs`; entitlement grants and subscriptions, then the devices against the license keys'
//! instances, `license_keys.rs` and `instances.rs`; for a provider listed per subject, the items of the subjects
//! Tollgate knows, `subjects.rs`) and compares every item with the store.
//! Where they differ, the item becomes a snapshot event (`snapshot_event(observed_at)`) folded by the same
//! `tollgate_policy::apply` that webhooks go through, in one transaction with one audit row. One database lock per
//! provider (`reconcile:<provider>`) makes it safe on several instances at once. See the crate README,
//! "Reconciliation", for the decisions.

mod error;
mod instances;
mod license_keys;
mod memberships;
mod pass;
mod repair;
mod report;
mod subjects;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tollgate_policy::Provider;
use tollgate_providers::{ProviderApi, ProviderApis};
use tollgate_store::{Store, StoreError};

pub use error::ReconcileError;
pub use report::{PassOutcome, ProviderReport, ReconcileReport, Repair, RepairKind};

use crate::clock::Clock;
use pass::Pass;

/// How a [`Reconciler`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// This instance's name in the lock table (a hostname or generated instance id); shown as "held by".
    pub holder: String,
    /// How long a provider's lock lasts without renewal. It is renewed after every page, so it only needs to
    /// outlast one page's provider calls and writes; if this instance dies, another takes over after it.
    pub lock_ttl: TimeDelta,
    /// Items asked for per page (Dodo caps it at 100).
    pub page_size: u32,
    /// Dodo entitlements (`ent_...`) whose grants to list, besides the ones derived from stored grants.
    pub dodo_entitlement_ids: Vec<String>,
    /// Write again the Whop device bindings whose last write failed (off when bindings are not mirrored).
    pub mirror_whop_bindings: bool,
}

impl ReconcileOptions {
    /// Defaults: a 5-minute lock, pages of 100, no extra Dodo entitlement ids.
    pub fn new(holder: impl Into<String>) -> Self {
        ReconcileOptions {
            holder: holder.into(),
            lock_ttl: TimeDelta::minutes(5),
            page_size: 100,
            dodo_entitlement_ids: Vec::new(),
            mirror_whop_bindings: true,
        }
    }
}

/// Runs reconciliation on demand ([`Reconciler::run_once`]) or on a timer ([`Reconciler::spawn_periodic`]).
/// Cheap to clone: clones share the store, clients and the last report.
#[derive(Clone)]
pub struct Reconciler {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// The APIs called with an API key (listing needs one).
    apis: ProviderApis,
    clock: Arc<dyn Clock>,
    options: ReconcileOptions,
    last_report: watch::Sender<Option<Arc<ReconcileReport>>>,
    /// The newest finished runs of this instance, newest first (at most [`KEPT_REPORTS`]).
    recent: Mutex<VecDeque<Arc<ReconcileReport>>>,
}

/// How many finished runs [`Reconciler::recent_reports`] keeps.
pub const KEPT_REPORTS: usize = 20;

impl fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reconciler")
            .field("apis", &self.inner.apis)
            .field("clock", &self.inner.clock)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Reconciler {
    /// A reconciler over those of `apis` that call with an API key (a provider listed without one is not
    /// reconciled).
    pub fn new(store: Store, apis: ProviderApis, clock: Arc<dyn Clock>, options: ReconcileOptions) -> Self {
        let (last_report, _) = watch::channel(None);
        Reconciler {
            inner: Arc::new(Inner {
                store,
                apis: apis.authenticated(),
                clock,
                options,
                last_report,
                recent: Mutex::default(),
            }),
        }
    }

    /// The providers this reconciler has clients for, in run order.
    pub fn providers(&self) -> Vec<Provider> {
        self.inner.apis.providers().collect()
    }

    /// The report of every finished run, newest first seen: for the admin API's status and for tests.
    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<ReconcileReport>>> {
        self.inner.last_report.subscribe()
    }

    /// The last finished run's report, if any.
    pub fn last_report(&self) -> Option<Arc<ReconcileReport>> {
        self.inner.last_report.borrow().clone()
    }

    /// The newest finished runs of this instance, newest first, at most [`KEPT_REPORTS`] (runs by other instances
    /// are in the audit trail, actor `reconcile`).
    pub fn recent_reports(&self) -> Vec<Arc<ReconcileReport>> {
        match self.inner.recent.lock() {
            Ok(recent) => recent.iter().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().iter().cloned().collect(),
        }
    }

    /// One reconciliation of `provider`, or of every configured provider (concurrently, each under its own lock).
    ///
    /// A provider whose lock another instance holds is reported `Held`; one that cannot be reached is reported
    /// with its errors; neither stops the others. Only a storage failure (or asking for a provider without a
    /// client) fails the run, after every pass has stopped and released its lock.
    pub async fn run_once(&self, provider: Option<Provider>) -> Result<ReconcileReport, ReconcileError> {
        let selected: Vec<Provider> = match provider {
            Some(p) if self.inner.apis.get(p).is_none() => return Err(ReconcileError::NotConfigured(p)),
            Some(p) => vec![p],
            None => self.providers(),
        };
        let started = Instant::now();
        let started_at = self.inner.clock.now();
        // Every pass at once, each in its own task; dropping this future (shutdown) aborts them all.
        let mut passes = JoinSet::new();
        for (order, provider) in selected.into_iter().enumerate() {
            let this = self.clone();
            passes.spawn(async move { (order, this.locked_pass(provider).await) });
        }
        let mut finished = Vec::new();
        while let Some(joined) = passes.join_next().await {
            finished.push(joined.map_err(|e| ReconcileError::Task(e.to_string()))?);
        }
        finished.sort_by_key(|(order, _)| *order);
        let mut providers = Vec::new();
        for (_, result) in finished {
            providers.push(result?);
        }
        let report = ReconcileReport {
            started_at,
            finished_at: self.inner.clock.now(),
            providers,
        };
        log_report(&report, started.elapsed());
        let shared = Arc::new(report.clone());
        {
            let mut recent = match self.inner.recent.lock() {
                Ok(recent) => recent,
                Err(poisoned) => poisoned.into_inner(),
            };
            recent.push_front(shared.clone());
            recent.truncate(KEPT_REPORTS);
        }
        self.inner.last_report.send_replace(Some(shared));
        Ok(report)
    }

    /// Run [`Reconciler::run_once`] for every provider now and then every `every`, logging each report, until
    /// `shutdown` turns `true` or its sender is dropped. A run in progress at shutdown is abandoned: each repair is
    /// one transaction, so nothing is half-written, and this instance's locks are released.
    pub fn spawn_periodic(self, every: Duration, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = wait_for_shutdown(&mut shutdown) => break,
                }
                tokio::select! {
                    result = self.run_once(None) => {
                        if let Err(error) = result {
                            log::error!(error:% = error; "reconciliation failed");
                        }
                    }
                    _ = wait_for_shutdown(&mut shutdown) => {
                        log::info!("reconciliation abandoned at shutdown");
                        self.release_all().await;
                        break;
                    }
                }
            }
            log::debug!("reconciliation timer stopped");
        })
    }

    /// Give up every provider lock this instance may hold (after an abandoned run).
    async fn release_all(&self) {
        for provider in self.providers() {
            let name = lock_name(provider);
            let holder = self.inner.options.holder.clone();
            if let Err(error) = self.db(move |s| s.release_lock(&name, &holder)).await {
                log::warn!(provider = provider.as_str(), error:% = error; "could not release the reconcile lock");
            }
        }
    }

    /// One provider's pass under its lock.
    async fn locked_pass(&self, provider: Provider) -> Result<ProviderReport, ReconcileError> {
        let name = lock_name(provider);
        if !self.acquire(&name).await? {
            let lock = name.clone();
            let held_by = self.db(move |s| s.find_lock(&lock)).await?.map(|l| l.holder);
            log::info!(provider = provider.as_str(), held_by = held_by.as_deref().unwrap_or("-");
                "reconciliation skipped: another instance holds the lock");
            return Ok(ProviderReport::held(provider, held_by));
        }
        let mut pass = Pass::new(self, provider, name.clone());
        // The pass follows the shape of the provider's API.
        let result = match self.inner.apis.get(provider).cloned() {
            Some(ProviderApi::Memberships(api)) => memberships::run(&mut pass, api).await,
            Some(ProviderApi::LicenseKeys(api)) => license_keys::run(&mut pass, api.as_ref()).await,
            Some(ProviderApi::Subjects(listing)) => subjects::run(&mut pass, listing.as_ref()).await,
            // Never selected: only providers with an API run.
            None => Ok(()),
        };
        let holder = self.inner.options.holder.clone();
        let released = self.db(move |s| s.release_lock(&name, &holder)).await;
        result?;
        released?;
        Ok(pass.finish())
    }

    /// Take or renew a lock for this instance.
    async fn acquire(&self, name: &str) -> Result<bool, ReconcileError> {
        let name = name.to_owned();
        let holder = self.inner.options.holder.clone();
        let ttl = self.inner.options.lock_ttl;
        let now = self.inner.clock.now();
        self.db(move |s| s.try_acquire_lock(&name, &holder, ttl, now))
            .await
    }

    /// Run blocking store work off the async threads.
    async fn db<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ReconcileError> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| ReconcileError::Task(e.to_string()))?
            .map_err(ReconcileError::Storage)
    }
}

/// The lock a provider's pass runs under.
fn lock_name(provider: Provider) -> String {
    format!("reconcile:{}", provider.as_str())
}

/// Resolves once shutdown is asked for (or nobody can ask any more).
async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

fn log_report(report: &ReconcileReport, elapsed: Duration) {
    for p in &report.providers {
        let outcome = match p.outcome {
            PassOutcome::Completed => "completed",
            PassOutcome::Incomplete => "incomplete",
            PassOutcome::Held => "held",
        };
        let errors = p.errors.join(" | ");
        if p.errors.is_empty() {
            log::info!(
                provider = p.provider.as_str(), outcome, examined = p.examined, changed = p.changed,
                created = p.created, ignored = p.ignored, held_by = p.held_by.as_deref().unwrap_or("-");
                "reconciliation pass"
            );
        } else {
            log::warn!(
                provider = p.provider.as_str(), outcome, examined = p.examined, changed = p.changed,
                created = p.created, ignored = p.ignored, errors = errors.as_str();
                "reconciliation pass"
            );
        }
    }
    let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    log::info!(repaired = report.repaired(), duration_ms; "reconciliation run finished");
}
