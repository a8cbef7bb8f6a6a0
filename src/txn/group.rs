//! The commit log at run time: appending records, group commit, publication, checkpoints
//! (docs/FORMAT.md sections 13 and 14).
//!
//! A commit appends its record under the writer role, to the tail kept in memory for the next
//! sync and, if it is `Eventual`, to the file as well (copied into a shared mapping of the file,
//! `Storage::write_log_at`, or with a plain `pwrite` if it is large: from then on a process crash
//! cannot lose it), queues its version for publication, and gives the writer role up; an
//! `Immediate` commit then waits until a sync covers its record. (Its record reaches the file
//! only with that sync: nothing acknowledged depends on it before, since an `Eventual` commit
//! after it waits for that sync too.) Whoever finds no sync running becomes the leader: it takes
//! every record appended so far and writes them (again, for `Eventual` ones) with `RWF_DSYNC`
//! (one write that makes exactly that range durable, not the tree pages), then publishes every
//! version whose records are now durable and wakes the others. Commits that arrive while a sync
//! runs are covered by the next one, so many threads share each sync. A committer about to lead
//! first lets the threads that hold or wait for the writer role append their records (yielding the
//! processor for at most `MAX_YIELD`, `group_sync.rs`), so that its sync covers them too.
//!
//! Readers see a commit once it is published: an `Immediate` commit only once its record is
//! durable (so a reader never sees a commit that a power cut could take back, nor one whose
//! commit failed), an `Eventual` commit at once unless it follows an `Immediate` commit still
//! waiting for its sync (versions are published in commit order).
//!
//! Two jobs would otherwise fall on an unlucky commit: syncing `Eventual` records before
//! `MAX_UNSYNCED_COMMITS` of them are unsynced, and durably zeroing the region ahead of the
//! records. A commit that sees either coming asks the background thread for it (`nudge.rs`,
//! [`EARLY_SYNC_RECORDS`], [`EARLY_ZERO`]); the commit that can wait no longer still does it
//! itself, or waits for the thread's run of it to end.
//!
//! The handoff itself (positions, the leader flag, waiting, failure, the publication queue) is
//! the core in `group_sync.rs`, which this file drives with the log's bytes and versions, and
//! which a loom model checks (`loom/`).

use super::group_sync::{GroupSync, Guard, SyncState, Syncer};
use super::log::aligned;
use super::nudge::Jobs;
use super::{max_held_back, Shared, Version, MAX_UNSYNCED_COMMITS};
use crate::error::{corrupted, Error, Result};
use crate::options::Durability;
use crate::page::meta::Meta;
use parking_lot::{Condvar, MutexGuard};
use std::sync::Arc;
use std::time::Instant;

/// The log's state and the condition committers wait on for their sync: the group commit core
/// ([`GroupSync`]) over the log's tail, publishing versions.
pub(crate) struct CommitLog {
    sync: GroupSync<LogState, Arc<Version>>,
    /// Signalled (under the log's lock) when a zeroing by the background thread ends.
    zeroing_ended: Condvar,
}

/// The locked state of the commit log.
type LogGuard<'a> = Guard<'a, SyncState<LogState, Arc<Version>>>;

/// Positions are log sequence numbers (LSNs): bytes appended since the handle opened, never reset,
/// so that a committer's target survives the checkpoint that resets the region. The core holds the
/// write LSN (of the next record), the synced LSN (everything before it is durable), whether a
/// leader is syncing, the versions waiting for publication and whether a sync failed.
struct LogState {
    /// Byte offset of the region in the file, and its length in bytes.
    region: (u64, u64),
    /// LSN at the start of the region (the last checkpoint's end of log).
    start_lsn: u64,
    /// Bytes from `tail_lsn` to `write_lsn` (records with their alignment padding), which the
    /// next sync writes.
    tail: Vec<u8>,
    tail_lsn: u64,
    /// Records in `tail`, and in the range a running sync writes.
    tail_records: u64,
    flight_records: u64,
    /// Bytes from the region's start that are durably zero or hold records this handle wrote in
    /// the region (of its generations): records are only appended below it, and the sector after
    /// the last record is always below it, so that recovery's replay stops there (it never reads
    /// on into what the region's pages held before).
    zeroed: u64,
    /// The background thread is zeroing the region from `zeroed` on (outside the lock): a commit
    /// whose record needs those bytes, and a checkpoint (which may move the region), wait for it.
    zeroing: bool,
}

/// A disk sector: the bytes after the last record, which recovery reads when it looks for the
/// next one, are kept zeroed this far ([`Shared::zero_ahead`]).
const SECTOR: u64 = 512;

/// Bytes of the region zeroed ahead of the records at a time (with one durable write: a new
/// region is not written with zeros when it is allocated, only as records reach it).
const ZERO_AHEAD: u64 = 1 << 20;

/// Unsynced `Eventual` records at which a commit asks the background thread to sync the log
/// (`nudge.rs`): three quarters of the bound, so that the sync is over before a commit would
/// have to make it (at 3.2-5.9 us per commit, the median of `prof rlat`, the last 1,024 commits
/// take 3-6 ms; its syncs averaged 1.8-3.2 ms), without syncing much more often than the bound
/// alone would (21-24 syncs for 50,000 commits against 16-18; 29-30 when asked at half).
const EARLY_SYNC_RECORDS: u64 = MAX_UNSYNCED_COMMITS / 4 * 3;

/// Bytes left below the zeroed mark at which a commit asks the background thread to zero the
/// region further (half of what one zeroing adds).
const EARLY_ZERO: u64 = ZERO_AHEAD / 2;

impl CommitLog {
    /// The log of a file whose last checkpoint names region `log` (first page, pages).
    pub fn new(log: (u64, u64), page_size: u64) -> CommitLog {
        CommitLog {
            sync: GroupSync::new(LogState {
                region: (log.0 * page_size, log.1 * page_size),
                start_lsn: 0,
                tail: Vec::new(),
                tail_lsn: 0,
                tail_records: 0,
                flight_records: 0,
                zeroed: 0,
                zeroing: false,
            }),
            zeroing_ended: Condvar::new(),
        }
    }

    /// Bytes left in the region for records (0 if the file has no log region).
    pub fn room(&self) -> u64 {
        let st = self.sync.lock();
        st.region.1 - (st.write_lsn() - st.start_lsn)
    }

    /// Bytes of the region (0 if none).
    pub fn capacity(&self) -> u64 {
        self.sync.lock().region.1
    }
}

/// The file's side of a log sync: the leader writes the tail with `RWF_DSYNC`.
impl Syncer<LogState, Arc<Version>> for Shared {
    /// The tail's bytes and their offset in the file.
    type Batch = (Vec<u8>, u64);
    type Error = Error;

    /// Takes the tail (`tail_lsn..to`); its records are in flight until the write returns.
    fn take(&self, st: &mut LogState, to: u64) -> (Vec<u8>, u64) {
        let batch = std::mem::take(&mut st.tail);
        let from = st.tail_lsn;
        st.tail_lsn = to;
        st.flight_records = std::mem::take(&mut st.tail_records);
        (batch, st.region.0 + (from - st.start_lsn))
    }

    /// Writes the tail again with `RWF_DSYNC` (exactly that range becomes durable), timed, with
    /// a processor kept awake meanwhile (`awake.rs`).
    fn write(&self, (batch, offset): (Vec<u8>, u64)) -> Result<()> {
        let started = Instant::now();
        let _in_flight = self.awake.disk_wait_started();
        let written = self.store.write_durable_at(&batch, offset);
        self.metrics.log_sync_took(started.elapsed());
        written
    }

    /// Counts the sync.
    fn written(&self, st: &mut LogState, result: &Result<()>) {
        st.flight_records = 0;
        if result.is_ok() {
            self.metrics.synced();
        }
    }

    /// Poisons the handle.
    fn failed(&self, e: &Error) {
        self.poison(e);
    }

    /// `PreviousIo`.
    fn previous(&self, msg: &str) -> Error {
        Error::PreviousIo(msg.to_string())
    }

    /// Makes `v` the version readers see.
    fn publish(&self, v: Arc<Version>) {
        self.publish_version(v);
    }

    /// Whether a thread holds or waits for the writer role (so a record may come soon).
    fn appends_coming(&self) -> bool {
        self.writer_role.queued() > 0
    }
}

impl Shared {
    /// After a failed write or sync: poisons the handle, drops the versions waiting for
    /// publication (readers keep the last published one) and wakes their committers.
    fn fail_log(&self, st: &mut LogGuard<'_>, e: &Error) {
        self.log.sync.fail(st, e, self);
    }

    /// With the writer role held: appends `record` (sealed, for `v`, whose pages are placed) to
    /// the log and queues `v` for publication. Returns the LSN the commit must wait for before it
    /// returns (0: none). The caller checked that the record fits ([`CommitLog::room`]).
    pub(crate) fn append(
        &self,
        record: &[u8],
        v: Arc<Version>,
        durability: Durability,
    ) -> Result<u64> {
        let mut st = self.log.sync.lock();
        // The unsynced bound recovery relies on: sync before appending one more. If a sync runs
        // (the background thread's, asked for early), waiting for it is enough once it leaves
        // fewer unsynced records than the bound.
        while st.tail_records + st.flight_records >= MAX_UNSYNCED_COMMITS {
            if st.flight_records > 0 {
                self.log.sync.wait_idle(&mut st);
                continue;
            }
            self.metrics.sync_at_bound();
            let target = st.write_lsn();
            self.wait_locked(&mut st, target)?;
        }
        if let Some(msg) = st.failed() {
            return Err(Error::PreviousIo(msg.clone()));
        }
        let span = aligned(record.len() as u64);
        // (Only commits, which hold the writer role, move the log's end or its start.)
        let at = st.write_lsn() - st.start_lsn;
        if let Err(e) = self.zero_ahead(&mut st, at + span + SECTOR) {
            if st.failed().is_none() {
                self.fail_log(&mut st, &e);
            }
            return Err(e);
        }
        // An `Immediate` commit's record is not written now: the sync that makes it durable
        // writes it (from the tail), and no commit is acknowledged before that sync, this one nor
        // any after it (an `Eventual` commit waits for the syncs of the `Immediate` ones before).
        if let Durability::Eventual = durability {
            if let Err(e) = self.store.write_log_at(record, st.region.0 + at) {
                self.fail_log(&mut st, &e);
                return Err(e);
            }
        }
        st.tail.extend_from_slice(record);
        let padded = st.tail.len() + (span as usize - record.len());
        st.tail.resize(padded, 0);
        st.appended(span);
        st.tail_records += 1;
        // The sync is asked for once per crossing (the count starts over when a sync takes the
        // tail); the zeroing by every commit from its crossing until the thread starts it (the
        // `Nudge` merges the requests, and wakes the thread only for the first).
        let jobs = Jobs {
            sync: st.tail_records == EARLY_SYNC_RECORDS,
            zero: !st.zeroing && zeroing_due(&st),
        };
        if jobs != Jobs::default() {
            self.nudge.ask(jobs);
        }
        *self.latest.lock() = v.clone();
        let need = match durability {
            Durability::Immediate => st.write_lsn(),
            Durability::Eventual => st.last_need(),
        };
        st.queue(need, v);
        st.publish_ready(self);
        self.metrics.log_appended(record.len() as u64);
        Ok(need)
    }

    /// Makes sure that the region's first `end` bytes (at most all of it) are below its zeroed
    /// mark: waits for the background thread's zeroing if one runs, or zeroes durably from the
    /// mark to [`ZERO_AHEAD`] bytes past `end`. Durably, before the record is written: the zeros
    /// must reach the disk no later than the records before them, and writing them converts
    /// preallocated (unwritten) space, so that the syncs of the records written there later
    /// change no file metadata. An error of the background thread's zeroing is
    /// [`Error::PreviousIo`] (it poisoned the handle).
    fn zero_ahead(&self, st: &mut LogGuard<'_>, end: u64) -> Result<()> {
        let len = st.region.1;
        while st.zeroing && st.zeroed < end.min(len) {
            self.log.zeroing_ended.wait(st);
        }
        if let Some(msg) = st.failed() {
            return Err(Error::PreviousIo(msg.clone()));
        }
        if st.zeroed >= end.min(len) {
            return Ok(());
        }
        let to = (end + ZERO_AHEAD).min(len);
        self.write_zeros(st.region.0 + st.zeroed, to - st.zeroed)?;
        st.zeroed = to;
        Ok(())
    }

    /// Writes `len` zero bytes at `offset` durably.
    fn write_zeros(&self, offset: u64, len: u64) -> Result<()> {
        let zeros = vec![0u8; len as usize];
        // Written first in small pieces (so that the kernel's page-cache folios stay small and the
        // records' small writes into them cheap: `Storage::write_at`), then again durably.
        self.store.write_at(&zeros, offset)?;
        let _in_flight = self.awake.disk_wait_started();
        self.store.write_durable_at(&zeros, offset)
    }

    /// The background thread, when a commit asks: zeroes the region [`ZERO_AHEAD`] bytes
    /// further if the records come within [`EARLY_ZERO`] of the zeroed mark, outside the log's
    /// lock (commits go on appending below the mark meanwhile). A failure poisons the handle.
    pub(crate) fn zero_log_ahead(&self) -> Result<()> {
        let mut st = self.log.sync.lock();
        if st.zeroing || st.failed().is_some() || !zeroing_due(&st) {
            return Ok(());
        }
        let (from, len) = (st.zeroed, st.region.1);
        let to = (from + ZERO_AHEAD).min(len);
        let offset = st.region.0 + from;
        st.zeroing = true;
        let written = MutexGuard::unlocked(&mut st, || self.write_zeros(offset, to - from));
        // The region did not move meanwhile: a checkpoint waits for the zeroing first.
        st.zeroing = false;
        let result = match written {
            Ok(()) => {
                st.zeroed = to;
                Ok(())
            }
            Err(e) => {
                self.fail_log(&mut st, &e);
                Err(e)
            }
        };
        self.log.zeroing_ended.notify_all();
        result
    }

    /// Returns once everything up to `lsn` is durable, leading a sync if none is running (after
    /// gathering the records of the writers behind it: [`GroupSync::wait`]).
    pub(crate) fn wait_durable(&self, lsn: u64) -> Result<()> {
        let _waits = self.awake.committer_waits();
        let mut st = self.log.sync.lock();
        self.log.sync.wait(&mut st, lsn, self, true)
    }

    /// Makes every record appended so far durable (the background sync of Eventual commits).
    pub(crate) fn sync_log(&self) -> Result<()> {
        let mut st = self.log.sync.lock();
        let target = st.write_lsn();
        self.wait_locked(&mut st, target)
    }

    /// The background thread, when asked: makes every record appended so far durable if at
    /// least [`EARLY_SYNC_RECORDS`] are not yet taken by a sync (commits go on asking until one
    /// takes them; the first request does it).
    pub(crate) fn sync_log_early(&self) -> Result<()> {
        let mut st = self.log.sync.lock();
        if st.tail_records < EARLY_SYNC_RECORDS {
            return Ok(());
        }
        let target = st.write_lsn();
        self.wait_locked(&mut st, target)
    }

    /// [`Self::wait_durable`] with the log locked, without gathering (nobody's commit waits for
    /// it, or the caller holds the writer role).
    fn wait_locked(&self, st: &mut LogGuard<'_>, lsn: u64) -> Result<()> {
        self.log.sync.wait(st, lsn, self, false)
    }

    /// With the writer role held: makes `v`, the newest commit (its pages written), durable as a
    /// checkpoint. Waits for a running log sync (which writes into the region this resets), then
    /// writes the meta slot that does not hold the last checkpoint and syncs the whole file once:
    /// tree pages, log and meta together (recovery verifies the pages, FORMAT.md section 15).
    /// Then the log starts over in a new generation, and every waiting version is published.
    pub(crate) fn checkpoint(&self, v: &Arc<Version>) -> Result<()> {
        if !v.deferred.is_empty() {
            // Every caller writes them into the catalog first (`needs_checkpoint_commit`); one
            // that forgot would make a durable catalog that misses those tables' roots. Refuse
            // it, before anything is written: the commit fails, the last checkpoint stays.
            return Err(corrupted(
                v.catalog.pgno,
                "a checkpoint would keep table roots out of its catalog",
            ));
        }
        let started = Instant::now();
        let flushed = match v.view.window() {
            Some(w) => self.flush_window(w, &v.view, true),
            None => Ok(()),
        };
        let mut st = self.log.sync.lock();
        // No log sync nor zeroing may run while the region is reset: they write into it.
        loop {
            self.log.sync.wait_idle(&mut st);
            if !st.zeroing {
                break;
            }
            self.log.zeroing_ended.wait(&mut st);
        }
        if let Some(msg) = st.failed() {
            return Err(Error::PreviousIo(msg.clone()));
        }
        if let Err(e) = flushed {
            self.fail_log(&mut st, &e);
            return Err(e);
        }
        let mut meta_state = self.meta.lock();
        let meta = Meta {
            page_size: self.page_size as u32,
            txn: v.txn,
            catalog: v.catalog,
            freelist: v.freelist,
            page_count: v.view.page_count(),
            log: v.log,
            log_gen: meta_state.log_gen + 1,
            log_align: crate::page::meta::RECORD_ALIGN,
        };
        let slot = 1 - meta_state.durable_slot;
        let ps = self.page_size as u64;
        let region = (v.log.0 * ps, v.log.1 * ps);
        // A new region's first bytes are zeroed under the sync below (its pages are free in the
        // last checkpoint, like the tree pages this commit wrote), rather than by the next
        // commit with a durable write of its own.
        let new_region = region != st.region;
        let zeroed = match new_region {
            true => ZERO_AHEAD.min(region.1),
            false => st.zeroed,
        };
        let written = match new_region && zeroed > 0 {
            true => self.store.write_at(&vec![0u8; zeroed as usize], region.0),
            false => Ok(()),
        };
        let written = written
            .and_then(|()| {
                self.store
                    .write_at(&meta.encode(), slot * self.page_size as u64)
            })
            .and_then(|()| {
                let _in_flight = self.awake.disk_wait_started();
                self.store.sync()
            });
        if let Err(e) = written {
            self.fail_log(&mut st, &e);
            return Err(e);
        }
        meta_state.durable_txn = v.txn;
        meta_state.durable_slot = slot;
        meta_state.log_gen = meta.log_gen;
        meta_state.held_back = 0;
        meta_state.records_before = self.metrics.log_records();
        let keep_length = meta_state.keep_length;
        drop(meta_state);
        // The checkpoint is durable: no meta slot recovery may open needs the pages beyond its
        // page_count any more (the previous slot's own pages there were reusable under the gates),
        // and no snapshot reaches them. A failed truncation leaves a longer file, which is fine.
        if !keep_length {
            let _ = self
                .store
                .shrink(v.view.page_count() * self.page_size as u64, false);
        }
        *self.latest.lock() = v.clone();
        st.zeroed = zeroed;
        st.region = region;
        st.start_lsn = st.write_lsn();
        st.tail.clear();
        st.tail_lsn = st.write_lsn();
        st.tail_records = 0;
        if st.last_queued().is_none_or(|p| p.txn < v.txn) && self.current.load_full().txn < v.txn {
            st.queue(0, v.clone());
        }
        self.log.sync.synced_all(&mut st, self);
        self.metrics.checkpointed(started.elapsed());
        Ok(())
    }

    /// Whether the pages freed so far (plus `freed` by the commit being made) from the last
    /// checkpoint call for a checkpoint now; counts `freed` in.
    pub(crate) fn hold_back(&self, freed: u64, page_count: u64) -> bool {
        let mut st = self.meta.lock();
        st.held_back += freed;
        st.held_back > max_held_back(page_count)
    }
}

/// Whether the records have come within [`EARLY_ZERO`] bytes of the zeroed mark, short of the
/// region's end (so that the background thread should zero further).
fn zeroing_due(st: &LogGuard<'_>) -> bool {
    let used = st.write_lsn() - st.start_lsn;
    st.zeroed < st.region.1 && used + EARLY_ZERO >= st.zeroed
}
