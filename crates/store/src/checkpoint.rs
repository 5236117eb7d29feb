//! SQLite WAL checkpoints on a background thread, off the writers' path.
//!
//! SQLite's automatic checkpoint runs inside the `COMMIT` of whichever connection pushes the WAL past its threshold,
//! so with the in-process write queue ([`WriteGate`]) one writer's batch pays for copying the WAL into the database
//! and for its fsyncs, and every queued writer waits. Instead, pooled connections get a high safety-net threshold
//! ([`WRITER_AUTOCHECKPOINT_FACTOR`] times the thread's) and one `tollgate-checkpoint` thread per [`Store`], with a
//! connection of its own (never a pooled one), runs `PRAGMA wal_checkpoint(PASSIVE)` once its threshold of frames
//! ([`DEFAULT_CHECKPOINT_PAGES`] unless configured) are waiting. PASSIVE takes no lock a reader or writer waits on,
//! and copies only frames that are already committed: durability is unchanged (`synchronous=NORMAL` syncs the WAL
//! before the copy, as the automatic checkpoint does).
//!
//! Commits wake the thread ([`Checkpointer::committed`]: an atomic add, and a condvar notify at the commit the thread
//! asked for; no lock). It reads how many frames wait from the WAL-index header in the `-shm` file and checkpoints
//! when enough do, or after [`IDLE_WAKE`] without commits if any do; otherwise it estimates how many more commits
//! will reach the threshold and sleeps until then. When the `-shm` file cannot be read it falls back to one checkpoint every
//! [`FALLBACK_COMMITS`] commits. A database error is logged and retried at the next trigger.
//!
//! A checkpoint that ends with frames still waiting (writers committed while it ran) leaves the WAL unable to restart
//! from its beginning, so under a steady load it would only grow. The thread then finishes the small remainder while
//! holding the write gate, so the next writer finds the WAL fully copied and restarts it: the writers wait for a
//! handful of frames instead of a whole checkpoint.
//!
//! [`WriteGate`]: crate::connection::WriteGate
//! [`Store`]: crate::Store

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl as _;
use diesel::sql_types::Integer;
use parking_lot::{Condvar, Mutex};

use crate::connection::{ConnectionManager, DbConnection, WriteGate};
use crate::error::{Cause, Result, StoreError};

/// The background thread checkpoints once this many WAL frames are not yet copied (about 40 MB of WAL with 4 KiB
/// pages), unless [`StoreConfig::sqlite_checkpoint_pages`](crate::StoreConfig::sqlite_checkpoint_pages) says
/// otherwise. SQLite's own default is 1,000; ten times that made SQLite ingest a quarter to a half faster in the load
/// bench (a page rewritten by many commits is copied once per checkpoint, and the checkpoints' fsyncs and write-gate
/// turns are ten times rarer), see docs/storage.md.
pub const DEFAULT_CHECKPOINT_PAGES: u32 = 10_000;
/// `PRAGMA wal_autocheckpoint` of pooled connections is this many times the thread's threshold: a writer checkpoints
/// itself only if the background thread has fallen that far behind.
pub(crate) const WRITER_AUTOCHECKPOINT_FACTOR: u32 = 4;
/// Without commits, the thread wakes this often to copy what a burst left behind.
pub(crate) const IDLE_WAKE: Duration = Duration::from_secs(2);
/// When the WAL-index cannot be read, checkpoint after this many commits.
pub(crate) const FALLBACK_COMMITS: u64 = 64;

/// What the background checkpointer of one SQLite [`Store`](crate::Store) has done (for metrics and tests). Cheap to
/// clone; it stays readable after the store is dropped.
#[derive(Debug, Clone)]
pub struct WalCheckpoints(Arc<Shared>);

impl WalCheckpoints {
    /// Checkpoints that ran to completion without a database error.
    pub fn count(&self) -> u64 {
        self.0.checkpoints.load(Ordering::Acquire)
    }

    /// True until the thread has exited (after the last clone of its store was dropped).
    pub fn is_running(&self) -> bool {
        self.0.running.load(Ordering::Acquire)
    }

    /// Block until at least `count` checkpoints have run or `timeout` has passed; returns the count then.
    pub fn wait_for_count(&self, count: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let mut state = self.0.state.lock();
        while self.count() < count && self.is_running() {
            if self.0.progress.wait_until(&mut state, deadline).timed_out() {
                break;
            }
        }
        self.count()
    }
}

#[derive(Debug, Default)]
struct Shared {
    /// Bumped after every committed write transaction.
    commits: AtomicU64,
    /// The commit count at which the thread wants to look at the WAL again.
    wake_at: AtomicU64,
    checkpoints: AtomicU64,
    running: AtomicBool,
    /// Guards the waits; `stop` is set under it.
    state: Mutex<State>,
    /// Commits and shutdown wake the thread here.
    wake: Condvar,
    /// The thread signals finished checkpoints and its exit here.
    progress: Condvar,
}

#[derive(Debug, Default)]
struct State {
    stop: bool,
}

/// The background checkpoint thread of one store. Dropping it (with the last clone of the store) stops the thread
/// and waits for it, so the database file is closed when the store is gone.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Start the `tollgate-checkpoint` thread for the SQLite database at `db_path`. It opens its own connection
    /// through `manager` when it first needs one, so starting it needs no database.
    pub(crate) fn start(
        manager: ConnectionManager,
        db_path: PathBuf,
        gate: Arc<WriteGate>,
        threshold: u32,
    ) -> Result<Checkpointer> {
        let shared = Arc::new(Shared::default());
        shared.running.store(true, Ordering::Release);
        let mut shm = db_path.into_os_string();
        shm.push("-shm");
        let worker = Worker {
            shared: Arc::clone(&shared),
            manager,
            shm: PathBuf::from(shm),
            shm_file: None,
            gate,
            conn: None,
            threshold: threshold.max(1),
        };
        let thread = std::thread::Builder::new()
            .name("tollgate-checkpoint".to_owned())
            .spawn(move || worker.run())
            .map_err(|e| {
                StoreError::unavailable("cannot start the WAL checkpoint thread", Some(Cause::new(e)))
            })?;
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Record a committed write transaction, and wake the thread if it asked to look again at this commit. Takes no
    /// lock.
    pub(crate) fn committed(&self) {
        let commits = self.shared.commits.fetch_add(1, Ordering::AcqRel) + 1;
        if commits >= self.shared.wake_at.load(Ordering::Acquire) {
            self.shared.wake.notify_one();
        }
    }

    pub(crate) fn status(&self) -> WalCheckpoints {
        WalCheckpoints(Arc::clone(&self.shared))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.state.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::warn!("the WAL checkpoint thread panicked");
        }
    }
}

struct Worker {
    shared: Arc<Shared>,
    manager: ConnectionManager,
    shm: PathBuf,
    /// The `-shm` file, kept open between reads and reopened after a failed one.
    shm_file: Option<File>,
    gate: Arc<WriteGate>,
    /// Opened on first use, and dropped after an error so the next attempt starts afresh.
    conn: Option<DbConnection>,
    /// Checkpoint once this many frames wait.
    threshold: u32,
}

impl Worker {
    fn run(mut self) {
        // Commits counted when the last checkpoint started, and at the last wake with the backlog read then.
        let mut checkpointed_at = 0;
        let mut seen = 0;
        let mut last_backlog = None;
        let mut pace = Pace::default();
        loop {
            let timed_out = {
                let mut state = self.shared.state.lock();
                // A commit between the load and the wait is caught by a later commit or by the idle wake.
                while !state.stop
                    && self.shared.commits.load(Ordering::Acquire)
                        < self.shared.wake_at.load(Ordering::Acquire)
                {
                    if self.shared.wake.wait_for(&mut state, IDLE_WAKE).timed_out() {
                        break;
                    }
                }
                if state.stop {
                    break;
                }
                self.shared.commits.load(Ordering::Acquire) == seen
            };
            let commits = self.shared.commits.load(Ordering::Acquire);
            let backlog = self.wal_backlog();
            if let (Some(before), Some(now)) = (last_backlog, backlog) {
                pace.observe(commits - seen, before, now);
            }
            seen = commits;
            let since = seen - checkpointed_at;
            let due = match backlog {
                Some(frames) => frames >= self.threshold || (timed_out && frames > 0),
                None => since >= FALLBACK_COMMITS || (timed_out && since > 0),
            };
            let wait = if due {
                checkpointed_at = seen;
                self.checkpoint();
                last_backlog = None;
                1
            } else {
                last_backlog = backlog;
                match backlog {
                    Some(frames) => pace.commits_until(self.threshold - frames),
                    None => FALLBACK_COMMITS - since,
                }
            };
            self.shared.wake_at.store(seen + wait, Ordering::Release);
        }
        // Close the database before reporting the exit.
        self.conn = None;
        self.shm_file = None;
        let _state = self.shared.state.lock();
        self.shared.running.store(false, Ordering::Release);
        self.shared.progress.notify_all();
    }

    /// One PASSIVE checkpoint, then the remainder under the write gate if writers added frames meanwhile.
    fn checkpoint(&mut self) {
        match self.passive_then_remainder() {
            Ok(()) => {
                let _state = self.shared.state.lock();
                self.shared.checkpoints.fetch_add(1, Ordering::AcqRel);
                self.shared.progress.notify_all();
            }
            Err(err) => {
                log::warn!(error:display = err; "WAL checkpoint failed; retrying at the next trigger");
                self.conn = None;
            }
        }
    }

    fn passive_then_remainder(&mut self) -> Result<()> {
        self.passive()?;
        // PASSIVE reports the WAL as it was when it started: frames committed while it ran show only in the header.
        if self.wal_backlog() == Some(0) {
            return Ok(());
        }
        let gate = Arc::clone(&self.gate);
        let _turn = gate.enter()?;
        self.passive()?;
        Ok(())
    }

    fn wal_backlog(&mut self) -> Option<u32> {
        let file = match &self.shm_file {
            Some(file) => file,
            None => self.shm_file.insert(File::open(&self.shm).ok()?),
        };
        let backlog = wal_backlog(file);
        if backlog.is_none() {
            self.shm_file = None;
        }
        backlog
    }

    fn passive(&mut self) -> Result<()> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self
                .conn
                .insert(r2d2::ManageConnection::connect(&self.manager).map_err(|e| {
                    StoreError::unavailable("cannot open the checkpoint connection", Some(Cause::new(e)))
                })?),
        };
        let result =
            diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result::<CheckpointResult>(conn)?;
        log::debug!(
            busy = result.busy, wal_frames = result.log, checkpointed = result.checkpointed;
            "WAL checkpoint"
        );
        Ok(())
    }
}

/// How many WAL frames a commit adds, learnt from the backlog at successive wakes, so that the thread sleeps through
/// the commits it does not need to look at.
#[derive(Debug, Default)]
struct Pace {
    /// Frames per commit over the last interval without a checkpoint; `None` until measured.
    frames_per_commit: Option<u32>,
}

impl Pace {
    /// At most this many commits between two looks, so a sudden run of bigger commits is caught early enough.
    const MAX_COMMITS: u64 = 256;

    fn observe(&mut self, commits: u64, before: u32, now: u32) {
        // A checkpoint by another connection (or a restarted WAL) in between makes the interval meaningless.
        if commits > 0 && now >= before {
            let per_commit = u64::from(now - before).div_ceil(commits);
            self.frames_per_commit = Some(u32::try_from(per_commit).unwrap_or(u32::MAX).max(1));
        }
    }

    /// Commits expected to add `frames` frames: at least 1.
    fn commits_until(&self, frames: u32) -> u64 {
        match self.frames_per_commit {
            Some(per_commit) => u64::from(frames.div_ceil(per_commit)).clamp(1, Self::MAX_COMMITS),
            None => 1,
        }
    }
}

/// A row of `PRAGMA wal_checkpoint`: whether it was blocked, frames in the WAL, frames copied to the database.
#[derive(Debug, diesel::QueryableByName)]
struct CheckpointResult {
    #[diesel(sql_type = Integer)]
    busy: i32,
    #[diesel(sql_type = Integer)]
    log: i32,
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

/// Frames in the WAL not yet copied into the database, from the WAL-index header at the start of the `-shm` file
/// (<https://www.sqlite.org/walformat.html>, "The WAL-Index Format"): two copies of a 48-byte header whose `mxFrame`
/// (the last valid frame) is at byte 16, then `nBackfill` (frames already checkpointed) at byte 96, all in native byte
/// order. `None` if the file cannot be read or the copies differ (a write in progress): the caller falls back.
fn wal_backlog(shm: &File) -> Option<u32> {
    let mut header = [0u8; 100];
    shm.read_exact_at(&mut header, 0).ok()?;
    let word = |at: usize| u32::from_ne_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
    const WAL_INDEX_VERSION: u32 = 3_007_000;
    if word(0) != WAL_INDEX_VERSION || header[..48] != header[48..96] {
        return None;
    }
    Some(word(16).saturating_sub(word(96)))
}

#[cfg(test)]
mod tests {
    use super::Pace;

    #[test]
    fn pace_sleeps_through_the_commits_expected_to_stay_below_the_threshold() {
        let mut pace = Pace::default();
        assert_eq!(
            pace.commits_until(1_000),
            1,
            "unmeasured: look at the next commit"
        );
        pace.observe(10, 100, 300);
        assert_eq!(pace.commits_until(700), 35, "20 frames a commit");
        pace.observe(5, 300, 200);
        assert_eq!(
            pace.commits_until(700),
            35,
            "a checkpoint in between teaches nothing"
        );
        pace.observe(0, 200, 200);
        assert_eq!(pace.commits_until(700), 35, "no commits teach nothing");
        pace.observe(1_000, 0, 10);
        assert_eq!(pace.commits_until(1_000), 256, "1 frame a commit, capped");
        assert_eq!(pace.commits_until(0), 1);
    }
}
