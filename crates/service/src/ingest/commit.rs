//! Group commit: writer threads store the deliveries that queued while the previous transaction was committing,
//! many in one transaction, and answer each only after that transaction has committed.
//!
//! A writer blocks for one delivery, then takes (without waiting) whatever else is queued, up to the batch size,
//! and stores them with [`record_webhooks`] (one `Store::write` unit of work, folded by
//! [`crate::entitlement_change`]). There is no timer: a lone delivery is stored at once, and batches grow only when
//! deliveries arrive faster than one transaction commits.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use tokio::sync::oneshot;
use tollgate_store::{Store, StoreError};

use super::{IngestError, IngestOutcome, Prepared};
use crate::entitlement_change::record_webhooks;

/// How many writers, how large a batch, how long a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitSettings {
    /// At most this many deliveries in one transaction (at least 1; `1` = one transaction per delivery).
    pub batch: usize,
    /// Writer threads (at least 1), each holding a pooled connection while it commits.
    pub writers: usize,
    /// Deliveries waiting for a writer; one more is refused at once (at least 1).
    pub queue: usize,
}

type Answer = Result<IngestOutcome, IngestError>;

struct Job {
    prepared: Prepared,
    reply: oneshot::Sender<Answer>,
}

/// Counts shared by the queue's two ends.
#[derive(Debug, Default)]
struct Counts {
    /// Accepted and not yet taken by a writer.
    queued: AtomicUsize,
    /// Taken by a writer and not yet answered.
    committing: AtomicUsize,
}

/// The group committer. Dropping it closes the queue: the writers store and answer what is already queued, then
/// exit.
#[derive(Debug)]
pub struct Committer {
    sender: SyncSender<Job>,
    counts: Arc<Counts>,
}

impl Committer {
    /// Start `settings.writers` threads named `tollgate-commit-N` over `store`.
    pub fn start(store: Store, settings: CommitSettings) -> std::io::Result<Committer> {
        let (sender, receiver) = sync_channel(settings.queue.max(1));
        let queue = Arc::new(Mutex::new(receiver));
        let counts = Arc::new(Counts::default());
        for n in 0..settings.writers.max(1) {
            let writer = Writer {
                store: store.clone(),
                queue: queue.clone(),
                counts: counts.clone(),
                batch: settings.batch.max(1),
            };
            thread::Builder::new()
                .name(format!("tollgate-commit-{n}"))
                .spawn(move || writer.run())?;
        }
        Ok(Committer { sender, counts })
    }

    /// Queue a prepared delivery and await its outcome, which comes only after its transaction has committed. A
    /// full queue is refused at once, and a stopped committer (or a writer that failed while storing it) answers
    /// instead of hanging: both as [`IngestError::Storage`] with [`StoreError::Unavailable`] (retry later).
    pub fn submit(&self, prepared: Prepared) -> impl Future<Output = Answer> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        // Counted before it is sent, so a writer never takes a job the count has not seen.
        self.counts.queued.fetch_add(1, Ordering::AcqRel);
        let sent = self.sender.try_send(Job { prepared, reply });
        if sent.is_err() {
            self.counts.queued.fetch_sub(1, Ordering::AcqRel);
        }
        async move {
            match sent {
                Ok(()) => answer
                    .await
                    .unwrap_or_else(|_| Err(unavailable("the webhook writer stopped"))),
                Err(TrySendError::Full(_)) => Err(unavailable(
                    "too many webhook deliveries are waiting to be stored",
                )),
                Err(TrySendError::Disconnected(_)) => Err(unavailable("the webhook writers have stopped")),
            }
        }
    }

    /// Deliveries accepted and not yet taken by a writer.
    pub fn queued(&self) -> usize {
        self.counts.queued.load(Ordering::Acquire)
    }

    /// Deliveries a writer has taken and not yet answered.
    pub fn committing(&self) -> usize {
        self.counts.committing.load(Ordering::Acquire)
    }
}

fn unavailable(reason: &str) -> IngestError {
    IngestError::Storage(StoreError::Unavailable {
        reason: reason.to_owned(),
        cause: None,
    })
}

/// One writer thread's share of the committer.
struct Writer {
    store: Store,
    queue: Arc<Mutex<Receiver<Job>>>,
    counts: Arc<Counts>,
    batch: usize,
}

impl Writer {
    /// The database was unavailable for a whole batch (no connection, or a lock not granted, within the
    /// timeouts): answer the deliveries queued meanwhile with the same error at once, rather than let each wait
    /// that timeout again behind it. The answer to every delivery stays within about one database timeout of its
    /// arrival; the provider redelivers. (If another writer holds the queue, it is taking a batch itself.)
    fn refuse_queued(&self, error: &StoreError) {
        let Ok(queue) = self.queue.try_lock() else {
            return;
        };
        let mut refused = 0;
        while let Ok(job) = queue.try_recv() {
            self.counts.queued.fetch_sub(1, Ordering::AcqRel);
            let (_, receipt) = job.prepared.split();
            let _ = job.reply.send(receipt.settle(Err(error.clone())));
            refused += 1;
        }
        drop(queue);
        if refused > 0 {
            log::warn!(refused = refused; "the database is unavailable: refused the queued webhook deliveries: {error}");
        }
    }

    fn run(self) {
        while let Some(jobs) = self.take() {
            self.commit(jobs);
        }
    }

    /// Block for one job, then take what else is queued (up to the batch size) without waiting. `None` once the
    /// committer is dropped and the queue is empty.
    fn take(&self) -> Option<Vec<Job>> {
        // Holding the lock while blocked is fine: the other idle writers would wait for a job anyway.
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let first = queue.recv().ok()?;
        let mut jobs = vec![first];
        while jobs.len() < self.batch {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        drop(queue);
        self.counts.committing.fetch_add(jobs.len(), Ordering::AcqRel);
        self.counts.queued.fetch_sub(jobs.len(), Ordering::AcqRel);
        Some(jobs)
    }

    /// Store the jobs in one transaction and answer each. A panic while storing drops their reply senders (each
    /// caller gets "unavailable", nothing was committed) and the writer carries on.
    fn commit(&self, jobs: Vec<Job>) {
        let count = jobs.len();
        let (items, waiting): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .map(|job| {
                let (item, receipt) = job.prepared.split();
                (item, (receipt, job.reply))
            })
            .unzip();
        let results = catch_unwind(AssertUnwindSafe(|| record_webhooks(&self.store, &items)));
        // Before the answers: whoever is answered no longer counts as committing.
        self.counts.committing.fetch_sub(count, Ordering::AcqRel);
        match results {
            Ok(results) => {
                let unavailable = match results.as_slice() {
                    [Err(error), ..] if results.iter().all(|r| r.as_ref().is_err_and(|e| e == error)) => {
                        error.is_unavailable().then(|| error.clone())
                    }
                    _ => None,
                };
                for ((receipt, reply), recorded) in waiting.into_iter().zip(results) {
                    // The caller may have gone (its connection closed); the delivery is stored all the same.
                    let _ = reply.send(receipt.settle(recorded));
                }
                if let Some(error) = unavailable {
                    self.refuse_queued(&error);
                }
            }
            Err(_) => {
                // Dropping the reply senders answers each caller "unavailable"; nothing was committed.
                drop(waiting);
                log::error!(batch = count; "a webhook writer panicked while storing a batch; it was rolled back");
            }
        }
    }
}
