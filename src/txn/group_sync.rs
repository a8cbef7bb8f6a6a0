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
//! reached from a guard through `Deref`) and over what is published (`T`), so that under
//! `cfg(loom)` (set only by the larch-loom package, `loom/`, which compiles this file on its own)
//! the model test at the end of this file runs the same code on loom's mutex and condition
//! variable (module `sync` below), with a stand-in for the file. That module says what the model
//! covers and assumes.

use std::collections::VecDeque;
use std::fmt::Display;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Whether more appends are on their way: a leader about to take the batch then yields the
    /// processor for a while, until none is, so that its sync covers them too.
    fn appends_coming(&self) -> bool;
}

/// The positions, the leader flag and the publication queue, behind one lock with a condition
/// variable that waiters sleep on until a sync ends.
pub(crate) struct GroupSync<S, T> {
    state: sync::Mutex<SyncState<S, T>>,
    synced: sync::Condvar,
    /// Syncs ended so far (counted under the lock, read without it by waiters that yield).
    ended: AtomicU64,
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
    /// A deliberate bug for the model test to catch (none outside it).
    #[cfg(loom)]
    mutant: Option<Mutant>,
}

/// Whether the model test broke step `$m` of state `$st` on purpose: always false outside loom.
macro_rules! broken {
    ($st:expr, $m:ident) => {{
        #[cfg(loom)]
        let b = $st.mutant == Some(Mutant::$m);
        #[cfg(not(loom))]
        let b = false;
        b
    }};
}

/// Deliberate bugs, one per property the model checks, to show that it catches them.
#[cfg(loom)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mutant {
    /// The leader advances the synced LSN to the write LSN read after its write, not before.
    LateTarget,
    /// The leader does not say that a sync runs, so another thread leads one too.
    NoLeaderFlag,
    /// The leader does not wake the waiters after a sync.
    LostWakeup,
    /// A failed write is not remembered: the next waiter leads a new sync.
    ForgetFailure,
    /// Items are published without waiting for their LSN to be durable.
    EarlyPublish,
    /// A checkpoint does not wait for a running sync before it resets the region.
    CheckpointBesideSync,
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
                #[cfg(loom)]
                mutant: None,
            }),
            synced: sync::Condvar::new(),
            ended: AtomicU64::new(0),
        }
    }

    /// Locks the state.
    pub fn lock(&self) -> Guard<'_, SyncState<S, T>> {
        self.state.lock()
    }

    /// Returns once everything before `lsn` is durable (`Ok`), or a write failed (`Err`). Leads a
    /// sync when none runs and `lsn` is not durable yet; otherwise waits for the running one.
    ///
    /// Both with the lock released, each at most once per call and for at most
    /// [`sync::MAX_YIELD`]: a waiter first yields the processor until the running sync ends (and
    /// only then sleeps on the condition variable), and a leader, if `gather`, first yields until
    /// no more appends are coming ([`Syncer::appends_coming`]). On a machine where waking a sleeping
    /// thread costs a good part of a sync, sleeping and waking every committer around every sync
    /// slowed many threads' commits (perf: a fifth to a quarter of the samples of 8 committing
    /// threads were task switches); and without gathering, the committers fall into two halves
    /// that take turns, each sync covering about half of them (3.6 commits per sync with 8
    /// threads, 7.5 with gathering). Measured again with 8 threads (harness `prof t8only`, three
    /// alternations): 35.5-42.3 us per commit as it is, 54.3-61.1 with waiters for a running sync
    /// napping 20 us at a time instead of yielding, 59.5-63.6 with waiters for the writer role
    /// napping until they are next. One sync runs at a time: two `RWF_DSYNC` writes in flight
    /// took 1.3-2 times one's time each on this disk, which would not make up for syncs covering
    /// half the threads each.
    pub fn wait<Y: Syncer<S, T>>(
        &self,
        st: &mut Guard<'_, SyncState<S, T>>,
        lsn: u64,
        y: &Y,
        gather: bool,
    ) -> Result<(), Y::Error> {
        let (mut yielded, mut gathered) = (false, !gather);
        loop {
            if st.synced_lsn >= lsn {
                return Ok(());
            }
            if let Some(msg) = &st.failed {
                return Err(y.previous(msg));
            }
            if st.syncing && !yielded {
                yielded = true;
                let seen = self.ended.load(Ordering::Acquire);
                sync::yield_until(st, || self.ended.load(Ordering::Acquire) != seen);
            } else if st.syncing {
                self.synced.wait(st);
            } else if !gathered && y.appends_coming() {
                gathered = true;
                sync::yield_until(st, || !y.appends_coming());
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
        st.syncing = !broken!(st, NoLeaderFlag);
        let target = st.write_lsn;
        let batch = y.take(&mut st.io, target);
        let r = sync::unlocked(st, || y.write(batch));
        st.syncing = false;
        self.ended.fetch_add(1, Ordering::Release);
        y.written(&mut st.io, &r);
        if let Err(e) = r {
            self.fail(st, &e, y);
            return Err(e);
        }
        st.synced_lsn = match broken!(st, LateTarget) {
            true => st.write_lsn,
            false => target,
        };
        st.publish_ready(y);
        if !broken!(st, LostWakeup) {
            self.synced.notify_all();
        }
        Ok(())
    }

    /// After a failed write: remembers it (every later wait fails), drops the items waiting for
    /// publication, and wakes the waiters.
    pub fn fail<Y: Syncer<S, T>>(&self, st: &mut Guard<'_, SyncState<S, T>>, e: &Y::Error, y: &Y) {
        y.failed(e);
        if !broken!(st, ForgetFailure) {
            st.failed.get_or_insert_with(|| e.to_string());
        }
        st.pending.clear();
        self.synced.notify_all();
    }

    /// Returns once no sync runs (a checkpoint then owns everything appended).
    pub fn wait_idle(&self, st: &mut Guard<'_, SyncState<S, T>>) {
        while st.syncing && !broken!(st, CheckpointBesideSync) {
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
            if *need > self.synced_lsn && !broken!(self, EarlyPublish) {
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
#[cfg(not(loom))]
pub(super) mod sync {
    pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard as Guard};
    use std::time::{Duration, Instant};

    /// Runs `f` with the lock of `guard` released, then locks it again.
    pub(super) fn unlocked<T, R>(guard: &mut Guard<'_, T>, f: impl FnOnce() -> R) -> R {
        Guard::unlocked(guard, f)
    }

    /// The longest a thread yields in [`yield_until`] (and [`yield_while`]) before it sleeps:
    /// about two log syncs of the measurements' disk in its slow phases, when a sync takes
    /// 250-350 us. With 200 us, the waiters for such a sync fell asleep before it ended and paid
    /// the wake-up: 8 threads making 250 durable single-insert commits each (the comparison's
    /// standard section, seven alternations) took 111.3-174.5 ms (median 143.0) with 600 us
    /// against 119.9-283.0 (median 180.1) with 200, less in six of the seven. A sync that ends
    /// sooner ends the yielding sooner: the bound matters only while the disk is slow.
    pub(crate) const MAX_YIELD: Duration = Duration::from_micros(600);

    /// With the lock of `guard` released, yields the processor until `done()` or for
    /// [`MAX_YIELD`], then locks it again.
    pub(super) fn yield_until<T>(guard: &mut Guard<'_, T>, done: impl Fn() -> bool) {
        Guard::unlocked(guard, || yield_while(|| !done()));
    }

    /// Yields the processor while `busy()`, for at most [`MAX_YIELD`]; whether `busy()` ended.
    /// (The clock is read only once `busy()` has said yes: an uncontended writer role or a
    /// finished sync costs no clock read.)
    pub(crate) fn yield_while(busy: impl Fn() -> bool) -> bool {
        if !busy() {
            return true;
        }
        let start = Instant::now();
        while busy() {
            if start.elapsed() >= MAX_YIELD {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }
}

/// The primitives the core is built on, under `cfg(loom)`: loom's mutex and condition variable,
/// wrapped to lock, unlock around a call, and wait as parking_lot's do. Only the model test may
/// use them (loom's primitives panic outside `loom::model`).
///
/// What the model covers: the whole core ([`GroupSync`] and [`SyncState`]) from the same source
/// as the library's, driven the way `group.rs` drives it: appends under a writer lock, committers
/// waiting for their LSN after giving the writer lock up, and checkpoints waiting for a running
/// sync under the writer lock. loom explores every interleaving of these threads at the core's
/// lock, its condition variable and a scheduling point inside the leader's write (so that
/// appends, waits and checkpoints happen while a sync is in flight), up to its reduction of
/// equivalent ones and the preemption bound the model sets (see its doc).
///
/// What it assumes: that the synced thing behaves like the model's stand-in, a set of durable
/// commits to which a successful write adds exactly the batch the leader took, and that a failed
/// write adds nothing (a failed batch may in truth reach the disk in part: the model then only
/// checks that nothing in or after it is reported durable, which is what the library promises).
/// `group.rs`'s own code around the core (record bytes, offsets, metrics, poisoning the handle,
/// the unsynced-records bound) is not modelled. loom's condition variable has no spurious
/// wakeups; the core does not rely on their absence (it re-checks in a loop).
#[cfg(loom)]
mod sync {
    use std::ops::{Deref, DerefMut};

    /// loom's mutex, locked as parking_lot's is (no poisoning to handle: a panic while it is
    /// held fails the model anyway).
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// A held lock of [`Mutex`]; `held` is empty only inside [`unlocked`] and [`Condvar::wait`].
    pub(crate) struct Guard<'a, T> {
        mutex: &'a loom::sync::Mutex<T>,
        held: Option<loom::sync::MutexGuard<'a, T>>,
    }

    impl<T> Mutex<T> {
        /// A mutex holding `t`.
        pub(crate) fn new(t: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(t))
        }

        /// Locks it.
        pub(crate) fn lock(&self) -> Guard<'_, T> {
            Guard {
                mutex: &self.0,
                held: Some(self.0.lock().expect("poisoned")),
            }
        }
    }

    /// The locked value.
    impl<T> Deref for Guard<'_, T> {
        type Target = T;

        fn deref(&self) -> &T {
            self.held.as_deref().expect("locked")
        }
    }

    /// The locked value.
    impl<T> DerefMut for Guard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.held.as_deref_mut().expect("locked")
        }
    }

    /// Runs `f` with the lock of `guard` released, then locks it again.
    pub(super) fn unlocked<T, R>(guard: &mut Guard<'_, T>, f: impl FnOnce() -> R) -> R {
        guard.held = None;
        let r = f();
        guard.held = Some(guard.mutex.lock().expect("poisoned"));
        r
    }

    /// Releases the lock of `guard`, lets other threads run, and locks it again (`done` is not
    /// looked at: a thread may always find the state unchanged after yielding).
    pub(super) fn yield_until<T>(guard: &mut Guard<'_, T>, _done: impl Fn() -> bool) {
        unlocked(guard, || ());
    }

    /// loom's condition variable, waited on as parking_lot's is.
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        /// A condition variable nobody waits on.
        pub(crate) fn new() -> Condvar {
            Condvar(loom::sync::Condvar::new())
        }

        /// Releases the lock of `guard`, sleeps until notified, and locks it again.
        pub(crate) fn wait<T>(&self, guard: &mut Guard<'_, T>) {
            let held = guard.held.take().expect("locked");
            guard.held = Some(self.0.wait(held).expect("poisoned"));
        }

        /// Wakes every waiter.
        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

/// The loom model of group commit's handoff between committers and the syncing leader. It runs
/// where this file is compiled with `cfg(loom)`: in the larch-loom package
/// (`cargo test -p larch-loom`, which `.ci/run` runs).
///
/// One execution: two or three threads with the roles of a scenario (`Immediate` or `Eventual`
/// commits, a checkpoint, or the background sync) each make one commit as `group.rs` does: under
/// the writer lock, append (one LSN per commit) and queue the commit for publication, or, for a
/// checkpoint, wait for a running sync, make everything durable and reset the region; then, with
/// the writer lock given up, wait for the commit's LSN. The background sync waits for the write
/// LSN it finds. Any of them may lead a sync; the scenario may make one of the syncs fail. A
/// thread counts as holding or waiting for the writer role from just before it locks the writer
/// lock to just after it gives it up (`WriterRole::queued`), so a leader may gather; the yields of
/// waiters and of gathering leaders release the core's lock and take it again (what other
/// threads do meanwhile is explored; how long the yield lasts is not, since the core looks at
/// the state again under the lock whatever the yield saw).
/// The stand-in for the file ([`Disk`]) keeps the ground truth: the commits that a completed
/// sync or a checkpoint made durable. Checked in every interleaving:
/// - (a) a commit's wait returns `Ok` only if its commit is durable: a sync whose batch held it
///   (so one that started after its append) completed, or a checkpoint after it;
/// - (b) never two leaders at once, and no sync writes into a region a checkpoint has reset;
/// - (c) no thread hangs (loom reports a deadlock when every thread is blocked);
/// - (d) after a failed sync, no sync starts and no wait returns `Ok` for a commit it did not make
///   durable: every such waiter fails, and nothing that is not durable is published;
/// - (e) commits are published in commit order, each only once every `Immediate` commit up to it
///   is durable, and before its commit returns `Ok`; without a failure, all are published.
///
/// loom explores the interleavings exhaustively up to its reduction of equivalent ones, and up
/// to [`PREEMPTIONS`] preemptions per execution (`LOOM_MAX_PREEMPTIONS` overrides it).
#[cfg(all(test, loom))]
mod model {
    use super::{GroupSync, Mutant, Syncer};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::Mutex;

    /// The preemption bound: in one execution, loom switches away from a thread that could go on
    /// running at most this many times in all (switches at a blocked lock, wait or join are not
    /// counted). Interleavings that need more preemptions are not explored. With 4, the six
    /// scenarios run about 257,000 executions in about 17 s (one core); with 5 the eleven tests
    /// took 275 s on two cores, and passed (before waiters and leaders yielded, 5 took 5 to 10 s,
    /// and no bound, `LOOM_MAX_PREEMPTIONS=100`, 50 to 76 s). Every deliberate bug is caught
    /// already with a bound of 1.
    const PREEMPTIONS: usize = 4;

    /// What a model thread commits.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Role {
        /// Appends, then waits until its commit is durable.
        Immediate,
        /// Appends, then waits only for the `Immediate` commits queued before it.
        Eventual,
        /// A checkpoint: under the writer lock, waits for a running sync, makes every commit
        /// durable (one sync of the whole file), and resets the region.
        Checkpoint,
        /// The background sync of `Eventual` commits (`Shared::sync_log`): commits nothing, waits
        /// until everything appended so far is durable.
        Background,
    }

    /// The log's tail in the model.
    #[derive(Default)]
    struct Tail {
        /// Commits appended since the last sync took them.
        commits: Vec<u64>,
        /// Generation of the region (a checkpoint resets it).
        region: u64,
    }

    /// What a leader writes: commits, and the generation of the region they lie in.
    struct Batch {
        commits: Vec<u64>,
        region: u64,
    }

    /// The stand-in for the file, with the ground truth the checks compare with. Its std
    /// primitives are not scheduling points (only loom's are): each use is atomic in the model,
    /// and loom does not see them. What threads race on outside the core's lock is in loom
    /// atomics, so that loom sees the conflict and explores both orders (its reduction of
    /// equivalent interleavings treats operations on different objects as independent).
    #[derive(Default)]
    struct Disk {
        /// Index of the sync that fails, if one does.
        fail: Option<usize>,
        /// Syncs started.
        syncs: AtomicUsize,
        /// Leaders inside their write now; its two updates are the scheduling points of a write
        /// in flight.
        leaders: loom::sync::atomic::AtomicUsize,
        /// A sync failed.
        failed: AtomicBool,
        /// Generation of the region (a checkpoint resets it).
        region: loom::sync::atomic::AtomicU64,
        /// Commits made durable by a completed sync or a checkpoint.
        durable: Mutex<Vec<u64>>,
        /// The commits appended, in LSN order, each with whether it is `Immediate`.
        appended: Mutex<Vec<(u64, bool)>>,
        /// Commits published, in publication order.
        published: Mutex<Vec<u64>>,
        /// Syncs whose batch held more than one commit.
        grouped: AtomicUsize,
        /// Threads that hold or wait for the writer role (the library's `WriterRole::queued`).
        writers: loom::sync::atomic::AtomicUsize,
        /// Leaders that found appends coming, and so yielded first.
        gathering: AtomicUsize,
    }

    /// Counts a thread in [`Disk::writers`] from its creation to its drop.
    struct Writer<'a>(&'a loom::sync::atomic::AtomicUsize);

    impl<'a> Writer<'a> {
        fn new(writers: &'a loom::sync::atomic::AtomicUsize) -> Writer<'a> {
            writers.fetch_add(1, SeqCst);
            Writer(writers)
        }
    }

    impl Drop for Writer<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, SeqCst);
        }
    }

    impl Disk {
        /// Whether commit `c` is durable.
        fn durable(&self, c: u64) -> bool {
            self.durable.lock().expect("durable").contains(&c)
        }
    }

    impl Syncer<Tail, u64> for Disk {
        type Batch = Batch;
        type Error = String;

        fn take(&self, io: &mut Tail, _to: u64) -> Batch {
            Batch {
                commits: std::mem::take(&mut io.commits),
                region: io.region,
            }
        }

        fn write(&self, batch: Batch) -> Result<(), String> {
            assert_eq!(self.leaders.fetch_add(1, SeqCst), 0, "two leaders at once");
            assert!(
                !self.failed.load(SeqCst),
                "a sync started after a failed one"
            );
            let n = self.syncs.fetch_add(1, SeqCst);
            assert_eq!(
                batch.region,
                self.region.load(SeqCst),
                "a sync wrote into a region a checkpoint had reset"
            );
            self.leaders.fetch_sub(1, SeqCst);
            if self.fail == Some(n) {
                self.failed.store(true, SeqCst);
                return Err(format!("sync {n} failed"));
            }
            if batch.commits.len() > 1 {
                self.grouped.fetch_add(1, SeqCst);
            }
            let mut durable = self.durable.lock().expect("durable");
            durable.extend(batch.commits);
            Ok(())
        }

        fn written(&self, _: &mut Tail, _: &Result<(), String>) {}

        fn failed(&self, _: &String) {}

        fn previous(&self, msg: &str) -> String {
            msg.to_string()
        }

        fn publish(&self, c: u64) {
            let mut published = self.published.lock().expect("published");
            assert!(
                published.last().is_none_or(|&p| p < c),
                "commit {c} published after {published:?}"
            );
            for &(i, immediate) in self.appended.lock().expect("appended").iter() {
                assert!(
                    !immediate || i > c || self.durable(i),
                    "commit {c} published before commit {i} is durable"
                );
            }
            published.push(c);
        }

        fn appends_coming(&self) -> bool {
            let coming = self.writers.load(SeqCst) > 0;
            if coming {
                self.gathering.fetch_add(1, SeqCst);
            }
            coming
        }
    }

    /// What the threads of one execution share.
    struct World {
        /// The core under test, over the model's tail.
        log: GroupSync<Tail, u64>,
        /// The writer role, holding the id of the last commit.
        writer: loom::sync::Mutex<u64>,
        disk: Disk,
    }

    /// Counts over all executions of a run (plain std atomics, outside the model).
    #[derive(Default)]
    struct Tally {
        executions: AtomicUsize,
        /// Appends made while a sync was in flight.
        overlapped: AtomicUsize,
        /// Syncs whose batch held more than one commit.
        grouped: AtomicUsize,
        /// Leaders that yielded for appends coming.
        gathering: AtomicUsize,
        /// Checkpoints that found a sync in flight.
        checkpoint_waited: AtomicUsize,
        /// Waits that failed.
        failed_waits: AtomicUsize,
    }

    /// What a thread of `role` does in `w`: its commit's id and result (none for `Background`).
    fn run(w: &World, role: Role, tally: &Tally) -> Option<(u64, Result<(), String>)> {
        match role {
            Role::Background => {
                background(w);
                None
            }
            _ => Some(commit(w, role, tally)),
        }
    }

    /// `Shared::sync_log`: waits until everything appended so far is durable.
    fn background(w: &World) {
        let mut st = w.log.lock();
        let target = st.write_lsn();
        let appended = w.disk.appended.lock().expect("appended").len();
        if w.log.wait(&mut st, target, &w.disk, false).is_ok() {
            for &(c, _) in &w.disk.appended.lock().expect("appended")[..appended] {
                assert!(
                    w.disk.durable(c),
                    "a background sync left commit {c} not durable"
                );
            }
        }
    }

    /// One commit of `role` in `w`, as `group.rs` makes it; returns its id and result.
    fn commit(w: &World, role: Role, tally: &Tally) -> (u64, Result<(), String>) {
        let (c, need) = {
            let _writer = Writer::new(&w.disk.writers);
            let mut last = w.writer.lock().expect("writer");
            *last += 1;
            let c = *last;
            let mut st = w.log.lock();
            if role == Role::Checkpoint {
                if st.syncing {
                    tally.checkpoint_waited.fetch_add(1, SeqCst);
                }
                w.log.wait_idle(&mut st);
                if let Some(msg) = st.failed() {
                    return (c, Err(msg.clone()));
                }
                let tail = std::mem::take(&mut st.commits);
                w.disk
                    .durable
                    .lock()
                    .expect("durable")
                    .extend(tail.into_iter().chain([c]));
                st.region += 1;
                w.disk.region.fetch_add(1, SeqCst);
                if st.last_queued().is_none_or(|&p| p < c) {
                    st.queue(0, c);
                }
                w.log.synced_all(&mut st, &w.disk);
                return (c, Ok(()));
            }
            if let Some(msg) = st.failed() {
                return (c, Err(msg.clone()));
            }
            if st.syncing {
                tally.overlapped.fetch_add(1, SeqCst);
            }
            st.commits.push(c);
            st.appended(1);
            let immediate = role == Role::Immediate;
            w.disk
                .appended
                .lock()
                .expect("appended")
                .push((c, immediate));
            let need = match immediate {
                true => st.write_lsn(),
                false => st.last_need(),
            };
            st.queue(need, c);
            st.publish_ready(&w.disk);
            (c, need)
        };
        if need == 0 {
            return (c, Ok(()));
        }
        let r = w.log.wait(&mut w.log.lock(), need, &w.disk, true);
        match &r {
            Ok(()) => assert!(
                role != Role::Immediate || w.disk.durable(c),
                "commit {c} reported durable, but no sync that started after its append completed"
            ),
            Err(_) => assert!(
                w.disk.failed.load(SeqCst),
                "commit {c} failed without a failed sync"
            ),
        }
        (c, r)
    }

    /// Explores the scenario: one thread per role, sync number `fail` failing, with `mutant`
    /// broken in the core; returns the tally.
    fn explore(
        roles: &'static [Role],
        fail: Option<usize>,
        mutant: Option<Mutant>,
    ) -> std::sync::Arc<Tally> {
        let tally = std::sync::Arc::new(Tally::default());
        let t = tally.clone();
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = builder.preemption_bound.or(Some(PREEMPTIONS));
        let start = std::time::Instant::now();
        builder.check(move || {
            t.executions.fetch_add(1, SeqCst);
            let log = GroupSync::new(Tail::default());
            log.lock().mutant = mutant;
            let w = std::sync::Arc::new(World {
                log,
                writer: loom::sync::Mutex::new(0),
                disk: Disk {
                    fail,
                    ..Disk::default()
                },
            });
            let threads: Vec<_> = roles[1..]
                .iter()
                .map(|&role| {
                    let (w, t) = (w.clone(), t.clone());
                    loom::thread::spawn(move || run(&w, role, &t))
                })
                .collect();
            let mut results = vec![run(&w, roles[0], &t)];
            results.extend(threads.into_iter().map(|h| h.join().expect("committer")));
            let results: Vec<_> = results.into_iter().flatten().collect();
            let failed = w.disk.failed.load(SeqCst);
            let published = w.disk.published.lock().expect("published").clone();
            for (c, r) in &results {
                match r {
                    Ok(()) => assert!(published.contains(c), "commit {c} returned unpublished"),
                    Err(_) => {
                        assert!(failed, "commit {c} failed without a failed sync");
                        t.failed_waits.fetch_add(1, SeqCst);
                    }
                }
            }
            if !failed {
                let all: Vec<u64> = (1..=results.len() as u64).collect();
                assert_eq!(published, all, "not every commit was published, in order");
            }
            t.grouped.fetch_add(w.disk.grouped.load(SeqCst), SeqCst);
            t.gathering.fetch_add(w.disk.gathering.load(SeqCst), SeqCst);
        });
        println!(
            "{roles:?}, sync {fail:?} failing: {} interleavings in {:.1?}: {} appends during a \
             sync, {} grouped syncs, {} leaders gathering, {} checkpoints waiting for a sync, \
             {} failed commits",
            tally.executions.load(SeqCst),
            start.elapsed(),
            tally.overlapped.load(SeqCst),
            tally.grouped.load(SeqCst),
            tally.gathering.load(SeqCst),
            tally.checkpoint_waited.load(SeqCst),
            tally.failed_waits.load(SeqCst),
        );
        tally
    }

    use Role::{Background, Checkpoint, Eventual, Immediate};

    /// Three `Immediate` committers.
    const THREE: &[Role] = &[Immediate, Immediate, Immediate];

    #[test]
    fn three_committers_share_syncs() {
        let tally = explore(THREE, None, None);
        // Not vacuous: appends happen during a sync, a sync covers several commits, and leaders
        // find appends coming.
        assert!(tally.overlapped.load(SeqCst) > 0 && tally.grouped.load(SeqCst) > 0);
        assert!(tally.gathering.load(SeqCst) > 0);
    }

    #[test]
    fn an_eventual_commit_is_published_in_order() {
        explore(&[Immediate, Eventual, Immediate], None, None);
    }

    #[test]
    fn the_background_sync_covers_what_was_appended() {
        explore(&[Eventual, Immediate, Background], None, None);
    }

    #[test]
    fn a_checkpoint_waits_for_the_running_sync() {
        let tally = explore(&[Immediate, Immediate, Checkpoint], None, None);
        assert!(tally.checkpoint_waited.load(SeqCst) > 0);
    }

    #[test]
    fn a_failed_sync_fails_every_waiter() {
        for fail in [0, 1] {
            let tally = explore(THREE, Some(fail), None);
            assert!(tally.failed_waits.load(SeqCst) > 0);
        }
    }

    #[test]
    #[should_panic(expected = "durable")]
    fn a_leader_reading_the_target_late_is_caught() {
        explore(&[Immediate, Immediate], None, Some(Mutant::LateTarget));
    }

    #[test]
    #[should_panic(expected = "two leaders")]
    fn a_leader_without_the_flag_is_caught() {
        explore(THREE, None, Some(Mutant::NoLeaderFlag));
    }

    #[test]
    #[should_panic(expected = "deadlock")]
    fn a_lost_wakeup_is_caught() {
        explore(THREE, None, Some(Mutant::LostWakeup));
    }

    #[test]
    #[should_panic(expected = "a sync started after a failed one")]
    fn a_forgotten_failure_is_caught() {
        explore(THREE, Some(0), Some(Mutant::ForgetFailure));
    }

    #[test]
    #[should_panic(expected = "published before commit")]
    fn publishing_before_durable_is_caught() {
        explore(THREE, None, Some(Mutant::EarlyPublish));
    }

    #[test]
    #[should_panic(expected = "is durable")]
    fn a_checkpoint_beside_a_sync_is_caught() {
        explore(
            &[Immediate, Immediate, Checkpoint],
            None,
            Some(Mutant::CheckpointBesideSync),
        );
    }
}
