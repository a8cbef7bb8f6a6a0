//! The commit log at run time: appending records, group commit, publication, checkpoints
//! (docs/FORMAT.md sections 13 and 14).
//!
//! A commit appends its record under the writer role (a plain `pwrite`: from then on a process
//! crash cannot lose it), queues its version for publication, and gives the writer role up; an
//! `Immediate` commit then waits until a sync covers its record. Whoever finds no sync running
//! becomes the leader: it takes every record appended so far and writes them again with
//! `RWF_DSYNC` (one write that makes exactly that range durable, not the tree pages), then
//! publishes every version whose records are now durable and wakes the others. Commits that
//! arrive while a sync runs are covered by the next one, so many threads share each sync.
//!
//! Readers see a commit once it is published: an `Immediate` commit only once its record is
//! durable (so a reader never sees a commit that a power cut could take back, nor one whose
//! commit failed), an `Eventual` commit at once unless it follows an `Immediate` commit still
//! waiting for its sync (versions are published in commit order).

use super::log::aligned;
use super::{max_held_back, Shared, Version, MAX_UNSYNCED_COMMITS};
use crate::error::{Error, Result};
use crate::options::Durability;
use crate::page::meta::Meta;
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// The log's state and the condition committers wait on for their sync.
pub(crate) struct CommitLog {
    state: Mutex<LogState>,
    synced: Condvar,
}

/// Positions are log sequence numbers (LSNs): bytes appended since the handle opened, never reset,
/// so that a committer's target survives the checkpoint that resets the region.
struct LogState {
    /// Byte offset of the region in the file, and its length in bytes.
    region: (u64, u64),
    page_size: u64,
    /// LSN at the start of the region (the last checkpoint's end of log).
    start_lsn: u64,
    /// LSN of the next record.
    write_lsn: u64,
    /// Everything before this LSN is durable.
    synced_lsn: u64,
    /// Bytes from `tail_lsn` to `write_lsn` (records with their alignment padding), which the
    /// next sync writes.
    tail: Vec<u8>,
    tail_lsn: u64,
    /// Records in `tail`, and in the range a running sync writes.
    tail_records: u64,
    flight_records: u64,
    /// A leader is writing and syncing `synced_lsn..tail_lsn`.
    syncing: bool,
    /// Versions waiting for publication, in commit order, each with the LSN that must be durable
    /// first.
    pending: VecDeque<(u64, Arc<Version>)>,
    /// A sync failed: nothing more becomes durable through this handle.
    failed: Option<String>,
}

impl CommitLog {
    /// The log of a file whose last checkpoint names region `log` (first page, pages).
    pub fn new(log: (u64, u64), page_size: u64) -> CommitLog {
        CommitLog {
            state: Mutex::new(LogState {
                region: (log.0 * page_size, log.1 * page_size),
                page_size,
                start_lsn: 0,
                write_lsn: 0,
                synced_lsn: 0,
                tail: Vec::new(),
                tail_lsn: 0,
                tail_records: 0,
                flight_records: 0,
                syncing: false,
                pending: VecDeque::new(),
                failed: None,
            }),
            synced: Condvar::new(),
        }
    }

    /// Bytes left in the region for records (0 if the file has no log region).
    pub fn room(&self) -> u64 {
        let st = self.state.lock();
        st.region.1 - (st.write_lsn - st.start_lsn)
    }

    /// Bytes of the region (0 if none).
    pub fn capacity(&self) -> u64 {
        self.state.lock().region.1
    }
}

impl Shared {
    /// Publishes, in order, every waiting version whose records are durable.
    fn publish_ready(&self, st: &mut LogState) {
        while let Some((need, _)) = st.pending.front() {
            if *need > st.synced_lsn {
                break;
            }
            if let Some((_, v)) = st.pending.pop_front() {
                self.current.publish(v.txn, v);
            }
        }
    }

    /// After a failed write or sync: poisons the handle, drops the versions waiting for
    /// publication (readers keep the last published one) and wakes their committers.
    fn fail_log(&self, st: &mut LogState, e: &Error) {
        self.poison(e);
        st.failed.get_or_insert_with(|| e.to_string());
        st.pending.clear();
        self.log.synced.notify_all();
    }

    /// With the writer role held: appends `record` (sealed, for `v`, whose pages are written) to
    /// the log and queues `v` for publication. Returns the LSN the commit must wait for before it
    /// returns (0: none). The caller checked that the record fits ([`CommitLog::room`]).
    pub(crate) fn append(
        &self,
        record: &[u8],
        v: Arc<Version>,
        durability: Durability,
    ) -> Result<u64> {
        let mut st = self.log.state.lock();
        if st.tail_records + st.flight_records >= MAX_UNSYNCED_COMMITS {
            // The unsynced bound recovery relies on: sync before appending one more.
            let target = st.write_lsn;
            self.wait_locked(&mut st, target)?;
        }
        if let Some(msg) = &st.failed {
            return Err(Error::PreviousIo(msg.clone()));
        }
        let offset = st.region.0 + (st.write_lsn - st.start_lsn);
        if let Err(e) = self.store.write_at(record, offset) {
            self.fail_log(&mut st, &e);
            return Err(e);
        }
        let span = aligned(record.len() as u64);
        st.tail.extend_from_slice(record);
        let padded = st.tail.len() + (span as usize - record.len());
        st.tail.resize(padded, 0);
        st.write_lsn += span;
        st.tail_records += 1;
        *self.latest.lock() = v.clone();
        let need = match durability {
            Durability::Immediate => st.write_lsn,
            Durability::Eventual => st.pending.back().map_or(0, |&(n, _)| n),
        };
        st.pending.push_back((need, v));
        self.publish_ready(&mut st);
        self.metrics.log_appended(record.len() as u64);
        Ok(need)
    }

    /// Returns once everything up to `lsn` is durable, leading a sync if none is running.
    pub(crate) fn wait_durable(&self, lsn: u64) -> Result<()> {
        let mut st = self.log.state.lock();
        self.wait_locked(&mut st, lsn)
    }

    /// Makes every record appended so far durable (the background sync of Eventual commits).
    pub(crate) fn sync_log(&self) -> Result<()> {
        let mut st = self.log.state.lock();
        let target = st.write_lsn;
        self.wait_locked(&mut st, target)
    }

    fn wait_locked(&self, st: &mut MutexGuard<'_, LogState>, lsn: u64) -> Result<()> {
        loop {
            if st.synced_lsn >= lsn {
                return Ok(());
            }
            if let Some(msg) = &st.failed {
                return Err(Error::PreviousIo(msg.clone()));
            }
            if st.syncing {
                self.log.synced.wait(st);
            } else {
                self.lead_sync(st)?;
            }
        }
    }

    /// Writes the tail with `RWF_DSYNC` (outside the lock: commits go on appending meanwhile),
    /// then publishes what became durable.
    fn lead_sync(&self, st: &mut MutexGuard<'_, LogState>) -> Result<()> {
        st.syncing = true;
        let batch = std::mem::take(&mut st.tail);
        let from = st.tail_lsn;
        let target = st.write_lsn;
        st.tail_lsn = target;
        st.flight_records = std::mem::take(&mut st.tail_records);
        let offset = st.region.0 + (from - st.start_lsn);
        let r = MutexGuard::unlocked(st, || self.store.write_durable_at(&batch, offset));
        st.syncing = false;
        st.flight_records = 0;
        if let Err(e) = r {
            self.fail_log(st, &e);
            return Err(e);
        }
        self.metrics.synced();
        st.synced_lsn = target;
        self.publish_ready(st);
        self.log.synced.notify_all();
        Ok(())
    }

    /// With the writer role held: makes `v`, the newest commit (its pages written), durable as a
    /// checkpoint. Waits for a running log sync (which writes into the region this resets), then
    /// writes the meta slot that does not hold the last checkpoint and syncs the whole file once:
    /// tree pages, log and meta together (recovery verifies the pages, FORMAT.md section 15).
    /// Then the log starts over in a new generation, and every waiting version is published.
    pub(crate) fn checkpoint(&self, v: &Arc<Version>) -> Result<()> {
        let started = Instant::now();
        let mut st = self.log.state.lock();
        while st.syncing {
            self.log.synced.wait(&mut st);
        }
        if let Some(msg) = &st.failed {
            return Err(Error::PreviousIo(msg.clone()));
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
        };
        let slot = 1 - meta_state.durable_slot;
        let written = self
            .store
            .write_at(&meta.encode(), slot * self.page_size as u64)
            .and_then(|()| self.store.sync());
        if let Err(e) = written {
            self.fail_log(&mut st, &e);
            return Err(e);
        }
        meta_state.durable_txn = v.txn;
        meta_state.durable_slot = slot;
        meta_state.log_gen = meta.log_gen;
        meta_state.held_back = 0;
        drop(meta_state);
        *self.latest.lock() = v.clone();
        let ps = st.page_size;
        st.region = (v.log.0 * ps, v.log.1 * ps);
        st.start_lsn = st.write_lsn;
        st.synced_lsn = st.write_lsn;
        st.tail.clear();
        st.tail_lsn = st.write_lsn;
        st.tail_records = 0;
        if st.pending.back().is_none_or(|(_, p)| p.txn < v.txn)
            && self.current.load_full().txn < v.txn
        {
            st.pending.push_back((0, v.clone()));
        }
        self.publish_ready(&mut st);
        self.log.synced.notify_all();
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
