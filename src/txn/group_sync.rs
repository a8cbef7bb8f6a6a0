//! The synchronization core of group commit (docs/FORMAT.md section 13, step 6): the handoff
//! between committers and the thread that syncs for them. `group.rs` builds the commit log on it.
//!
//! Positions are log sequence numbers (LSNs): the write LSN (everything appended so far) and the
//! synced LSN (everything before it is durable). A committer that must wait for its position
//! calls [`GroupSync::wait`], which returns once the synced LSN reaches it. Whoever finds no sync
//! running becomes the leader: it takes everything appended so far (through [`Syncer::take`]),
//! releases the lock, writes it durably ([`Syncer::write`]) while others go on appending, locks
//! again, advances the synced LSN to the write LSN it read before the write, publishes what is
//! now durable and wakes everyone. The others wait for it and then lead or join the next sync. A
//! failed sync fails its leader with the I/O error and every waiter (then and later) with
//! [`Syncer::previous`]: nothing becomes durable after it.
//!
//! Items (versions) wait for publication in a queue, in commit order, each with the LSN that must
//! be durable first; they are published in that order, once it is.
//!
//! Generic over what is synced (`S`, the state of the log's tail, kept under the same lock and
//! reached from a guard through `Deref`) and over what is published (`T`), with its primitives
//! behind module `sync` (parking_lot's), so that it can be compiled on its own.

use std::collections::VecDeque;
use std::fmt::Display;
use std::ops::{Deref, DerefMut};

pub(crate) use sync::Guard;

/// The caller's side of a sync: what the leader takes, writes and publishes, and how failures are
/// reported. The commit log implements it for the file; the model test for its stand-in.
pub(crate) trait Syncer<S, T> {
    /// What a leader writes: everything appended since the last sync.
    type Batch;
    /// The error of a failed write.
    type Error: Display;
    /// Under the lock, as a sync starts: takes from `io` everything appended up to `to` (the write
    /// LSN).
    fn take(&self, io: &mut S, to: u64) -> Self::Batch;
    /// Outside the lock: makes `batch` durable.
    fn write(&self, batch: Self::Batch) -> Result<(), Self::Error>;
    /// Under the lock, after the write and before anything is declared durable or failed.
    fn written(&self, io: &mut S, result: &Result<(), Self::Error>);
    /// Under the lock, when a write fails (a sync's, or one the caller reports with
    /// [`GroupSync::fail`]), before any waiter learns of it.
    fn failed(&self, e: &Self::Error);
    /// The error a waiter gets after an earlier failure whose message was `msg`.
    fn previous(&self, msg: &str) -> Self::Error;
    /// Publishes `item`, whose LSN is durable (called under the lock, in queue order).
    fn publish(&self, item: T);
}

/// The positions, the leader flag and the publication queue, behind one lock with a condition
/// variable that waiters sleep on until a sync ends.
pub(crate) struct GroupSync<S, T> {
    state: sync::Mutex<SyncState<S, T>>,
    synced: sync::Condvar,
}

/// What the lock of a [`GroupSync`] protects.
pub(crate) struct SyncState<S, T> {
    /// LSN of the next append.
    write_lsn: u64,
    /// Everything before this LSN is durable.
    synced_lsn: u64,
    /// A leader is writing (outside the lock) what it took.
    syncing: bool,
    /// Items waiting for publication, in commit order, each with the LSN that must be durable
    /// first (non-decreasing along the queue).
    pending: VecDeque<(u64, T)>,
    /// A write failed: nothing more becomes durable.
    failed: Option<String>,
    /// The synced thing's own state (the log's region and tail).
    io: S,
}

impl<S, T> GroupSync<S, T> {
    /// A core with nothing appended, whose synced thing's state is `io`.
    pub fn new(io: S) -> GroupSync<S, T> {
        GroupSync {
            state: sync::Mutex::new(SyncState {
                write_lsn: 0,
                synced_lsn: 0,
                syncing: false,
                pending: VecDeque::new(),
                failed: None,
                io,
            }),
            synced: sync::Condvar::new(),
        }
    }

    /// Locks the state.
    pub fn lock(&self) -> Guard<'_, SyncState<S, T>> {
        self.state.lock()
    }

    /// Returns once everything before `lsn` is durable (`Ok`), or a write failed (`Err`). Leads a
    /// sync when none runs and `lsn` is not durable yet; otherwise waits for the running one.
    pub fn wait<Y: Syncer<S, T>>(
        &self,
        st: &mut Guard<'_, SyncState<S, T>>,
        lsn: u64,
        y: &Y,
    ) -> Result<(), Y::Error> {
        loop {
            if st.synced_lsn >= lsn {
                return Ok(());
            }
            if let Some(msg) = &st.failed {
                return Err(y.previous(msg));
            }
            if st.syncing {
                self.synced.wait(st);
            } else {
                self.lead(st, y)?;
            }
        }
    }

    /// Leads one sync: takes everything appended so far, writes it outside the lock (appends go
    /// on meanwhile), then declares it durable, publishes what is ready and wakes the waiters.
    fn lead<Y: Syncer<S, T>>(
        &self,
        st: &mut Guard<'_, SyncState<S, T>>,
        y: &Y,
    ) -> Result<(), Y::Error> {
        st.syncing = true;
        let target = st.write_lsn;
        let batch = y.take(&mut st.io, target);
        let r = sync::unlocked(st, || y.write(batch));
        st.syncing = false;
        y.written(&mut st.io, &r);
        if let Err(e) = r {
            self.fail(st, &e, y);
            return Err(e);
        }
        st.synced_lsn = target;
        st.publish_ready(y);
        self.synced.notify_all();
        Ok(())
    }

    /// After a failed write: remembers it (every later wait fails), drops the items waiting for
    /// publication, and wakes the waiters.
    pub fn fail<Y: Syncer<S, T>>(&self, st: &mut Guard<'_, SyncState<S, T>>, e: &Y::Error, y: &Y) {
        y.failed(e);
        st.failed.get_or_insert_with(|| e.to_string());
        st.pending.clear();
        self.synced.notify_all();
    }

    /// Returns once no sync runs (a checkpoint then owns everything appended).
    pub fn wait_idle(&self, st: &mut Guard<'_, SyncState<S, T>>) {
        while st.syncing {
            self.synced.wait(st);
        }
    }

    /// With no sync running (after [`GroupSync::wait_idle`]): declares everything appended
    /// durable (a checkpoint made it so), publishes what is ready and wakes the waiters.
    pub fn synced_all<Y: Syncer<S, T>>(&self, st: &mut Guard<'_, SyncState<S, T>>, y: &Y) {
        debug_assert!(!st.syncing, "a checkpoint ran beside a log sync");
        st.synced_lsn = st.write_lsn;
        st.publish_ready(y);
        self.synced.notify_all();
    }
}

impl<S, T> SyncState<S, T> {
    /// LSN of the next append.
    pub fn write_lsn(&self) -> u64 {
        self.write_lsn
    }

    /// The message of the failed write, if one failed.
    pub fn failed(&self) -> Option<&String> {
        self.failed.as_ref()
    }

    /// Records an append of `len` bytes (the caller wrote them where [`Syncer::take`] finds them).
    pub fn appended(&mut self, len: u64) {
        self.write_lsn += len;
    }

    /// The LSN the last queued item waits for (0 if none waits): an item queued with it is
    /// published right after the items before it.
    pub fn last_need(&self) -> u64 {
        self.pending.back().map_or(0, |&(n, _)| n)
    }

    /// The last item waiting for publication.
    pub fn last_queued(&self) -> Option<&T> {
        self.pending.back().map(|(_, t)| t)
    }

    /// Queues `item` for publication once `need` is durable (at least the last queued item's
    /// need, so that items are published in order).
    pub fn queue(&mut self, need: u64, item: T) {
        debug_assert!(need == 0 || need >= self.last_need());
        self.pending.push_back((need, item));
    }

    /// Publishes, in order, every waiting item whose LSN is durable.
    pub fn publish_ready<Y: Syncer<S, T>>(&mut self, y: &Y) {
        while let Some((need, _)) = self.pending.front() {
            if *need > self.synced_lsn {
                break;
            }
            if let Some((_, item)) = self.pending.pop_front() {
                y.publish(item);
            }
        }
    }
}

/// The synced thing's state, reached through the lock.
impl<S, T> Deref for SyncState<S, T> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.io
    }
}

/// The synced thing's state, reached through the lock.
impl<S, T> DerefMut for SyncState<S, T> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.io
    }
}

/// The primitives the core is built on: parking_lot's.
mod sync {
    pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard as Guard};

    /// Runs `f` with the lock of `guard` released, then locks it again.
    pub(super) fn unlocked<T, R>(guard: &mut Guard<'_, T>, f: impl FnOnce() -> R) -> R {
        Guard::unlocked(guard, f)
    }
}
