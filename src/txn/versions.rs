//! Published versions: the cell from which readers take the latest committed version without a
//! lock, and the registry of the versions published since that a snapshot may still hold. Before
//! it reuses freed pages, the writer asks the registry for the oldest of them
//! (docs/ARCHITECTURE.md, invariants: a page freed by transaction T is reused only when no
//! snapshot older than T is alive).
//!
//! Under `cfg(loom)` (set only by the larch-loom package, `loom/`, which compiles this file on its
//! own) the cell and the registry's lock are loom's (module `sync` below), so that the model test
//! at the end of this file can explore how readers interleave with the writer; that module says
//! what the model covers and what it assumes of arc-swap.

use std::sync::{Arc, Weak};

/// The published versions of a database: `V` is `txn::Version` (the model test has its own).
pub(crate) struct Versions<V> {
    /// The latest published version.
    current: sync::Cell<V>,
    /// Every published version that may still be alive, with the id of its commit. Only the
    /// writer locks it (to publish and to compute the gate); `oldest_live` forgets dead ones.
    registry: sync::Mutex<Vec<(u64, Weak<V>)>>,
}

impl<V> Versions<V> {
    /// Versions whose current (and only) one is `v`, committed by transaction `txn`.
    pub fn new(txn: u64, v: Arc<V>) -> Versions<V> {
        let registry = vec![(txn, Arc::downgrade(&v))];
        Versions {
            current: sync::Cell::new(v),
            registry: sync::Mutex::new(registry),
        }
    }

    /// A hold on the current version, taken without a lock (named after `ArcSwap::load_full`,
    /// which it is, so that callers read the same as before this type existed).
    pub fn load_full(&self) -> Arc<V> {
        self.current.load_full()
    }

    /// Publishes `v`, committed by transaction `txn`: registers it, then makes it current. A
    /// version is thus registered before any reader can hold it.
    pub fn publish(&self, txn: u64, v: Arc<V>) {
        self.registry.lock().push((txn, Arc::downgrade(&v)));
        self.current.store(v);
    }

    /// Id of the oldest registered version still alive (`u64::MAX` if none), forgetting the dead.
    ///
    /// Alive means that some `Arc` of it exists: the cell's, a reader's, or a writer's base. A
    /// dead version never comes back (the only way to a new hold is through the cell, which holds
    /// its version itself), so a version found dead stays dead, and one that dies after being
    /// counted only makes the answer older than needed: never younger.
    pub fn oldest_live(&self) -> u64 {
        let mut registry = self.registry.lock();
        registry.retain(|(_, w)| w.strong_count() > 0);
        registry
            .iter()
            .map(|&(txn, _)| txn)
            .min()
            .unwrap_or(u64::MAX)
    }

    /// The reuse gates, from one look at the registry: the oldest live version (pages written
    /// after the last checkpoint and freed by a transaction up to it may be reused), and that or
    /// `durable_txn` (the last durable commit, which recovery may fall back to), whichever is
    /// older (the same for pages of that checkpoint; `alloc::WriterPages`).
    pub fn reuse_gates(&self, durable_txn: u64) -> (u64, u64) {
        let live = self.oldest_live();
        (live, live.min(durable_txn))
    }
}

/// The primitives `Versions` is built on: arc-swap and parking_lot.
#[cfg(not(loom))]
mod sync {
    pub(super) use parking_lot::Mutex;
    use std::sync::Arc;

    /// The current-version cell: readers load it without a lock.
    pub(super) struct Cell<V>(arc_swap::ArcSwap<V>);

    impl<V> Cell<V> {
        /// A cell holding `v`.
        pub(super) fn new(v: Arc<V>) -> Cell<V> {
            Cell(arc_swap::ArcSwap::new(v))
        }

        /// A counted hold on the value.
        pub(super) fn load_full(&self) -> Arc<V> {
            self.0.load_full()
        }

        /// Replaces the value, dropping the cell's hold on the old one.
        pub(super) fn store(&self, v: Arc<V>) {
            self.0.store(v);
        }
    }
}

/// The primitives `Versions` is built on, under `cfg(loom)`: loom's, which loom's scheduler
/// interleaves. Only the model test may use them (loom's primitives panic outside `loom::model`).
///
/// What the model covers: `publish`, `oldest_live` and `reuse_gates` from the same source as the
/// library's, and every interleaving (loom's exhaustive search, up to its reduction of equivalent
/// ones) of readers taking and dropping holds with the writer's gate computations, page writes
/// and publications, including the visibility of page contents written before a publication to
/// the readers that load it (page contents are relaxed atomics, so only the cell orders them).
/// There is one writer, as in the library (the writer role is a lock), so the gate is never
/// computed during a publication: the order inside `publish` is not load-bearing, and the model
/// indeed passes with it reversed.
///
/// What it assumes:
/// - Of arc-swap, which is not loom-aware: `Cell` stands in for it with a `RwLock<Arc<V>>`, whose
///   load takes its hold atomically. arc-swap gives the same at every point the gate can observe:
///   its loads and stores are totally ordered, each with a SeqCst read-modify-write (its "Atomic
///   orderings" documentation), so a store releases the page writes before it to any load that
///   returns the stored value; and a value that a reader is in the middle of loading never has a
///   zero strong count, because the cell holds its own reference until a store replaces it, and
///   the store pays (counts) the debts of readers caught mid-load before it drops that reference
///   (its internal documentation). The lock-free mechanism itself is arc-swap's and is not
///   modelled.
/// - Of `std::sync::Arc`: loom's `Arc` has no `Weak`, so versions are std `Arc`s, whose count
///   changes are not scheduling points: each clone, drop or `strong_count` happens atomically
///   between two loom operations. `oldest_live` does not depend on finer interleavings, because
///   a dead version cannot come back.
#[cfg(loom)]
mod sync {
    use std::sync::Arc;

    /// loom's mutex with parking_lot's signature.
    pub(super) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        /// A mutex holding `t`.
        pub(super) fn new(t: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(t))
        }

        /// Locks it (a panic while it is held fails the model anyway: no poisoning to handle).
        pub(super) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().expect("poisoned")
        }
    }

    /// Stand-in for `ArcSwap` with the contract listed above.
    pub(super) struct Cell<V>(loom::sync::RwLock<Arc<V>>);

    impl<V> Cell<V> {
        /// A cell holding `v`.
        pub(super) fn new(v: Arc<V>) -> Cell<V> {
            Cell(loom::sync::RwLock::new(v))
        }

        /// A counted hold on the value.
        pub(super) fn load_full(&self) -> Arc<V> {
            self.0.read().expect("poisoned").clone()
        }

        /// Replaces the value, dropping the cell's hold on the old one after the swap.
        pub(super) fn store(&self, v: Arc<V>) {
            let old = std::mem::replace(&mut *self.0.write().expect("poisoned"), v);
            drop(old);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Versions;
    use std::sync::Arc;

    #[test]
    fn oldest_live_follows_the_holds() {
        let versions = Versions::new(1, Arc::new(1u64));
        let held = versions.load_full();
        versions.publish(2, Arc::new(2));
        let base = versions.load_full();
        versions.publish(3, Arc::new(3));
        assert_eq!(versions.oldest_live(), 1);
        assert_eq!(versions.reuse_gates(3), (1, 1));
        assert_eq!(versions.reuse_gates(0), (1, 0));
        drop(held);
        assert_eq!(versions.oldest_live(), 2);
        drop(base);
        assert_eq!(versions.oldest_live(), 3);
        assert_eq!(
            versions.registry.lock().len(),
            1,
            "dead versions are forgotten"
        );
        assert_eq!(*versions.load_full(), 3);
    }
}

/// The loom model of publication and page-reuse gating. It runs where this file is compiled with
/// `cfg(loom)`: in the larch-loom package (`cargo test -p larch-loom`, which `.ci/run` runs).
///
/// One execution: an initial version (txn 1) on page 0; a writer makes `COMMITS` commits, each
/// of which takes the gate, writes one page (reused from the freelist if the gate allows, else
/// from the end of the file), frees the page of its base version, and publishes a version that
/// reaches the new page only; two readers take snapshots one after the other (`SNAPSHOTS`) and
/// read the snapshot's page `READS` times while they hold it. Checked in every interleaving: a
/// reader always reads what the commit of its snapshot wrote, and the writer never overwrites a
/// page that a live version reaches (ground truth, from the versions' own counts rather than
/// from the registry under test). loom explores the interleavings exhaustively (no preemption
/// bound unless `LOOM_MAX_PREEMPTIONS` sets one), up to its reduction of equivalent ones.
#[cfg(all(test, loom))]
mod model {
    use super::Versions;
    use loom::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Weak};

    /// Commits after the initial one.
    const COMMITS: u64 = 4;
    /// Reader threads (the writer is the model's main thread); each takes this many snapshots,
    /// one after the other.
    const SNAPSHOTS: [usize; 2] = [1, 2];
    /// Reader threads.
    const READERS: usize = SNAPSHOTS.len();
    /// Reads of its page a reader makes while it holds its snapshot.
    const READS: usize = 2;

    /// A committed version in the model: the id of its commit and the one page it reaches.
    struct Snap {
        txn: u64,
        page: usize,
    }

    /// What the threads of one execution share: the versions, and the file's pages, each holding
    /// the id of the transaction that last wrote it.
    struct World {
        versions: Versions<Snap>,
        pages: Vec<AtomicU64>,
    }

    /// The gate the writer uses: `(versions, durable txn) -> gate`.
    type Gate = fn(&Versions<Snap>, u64) -> u64;

    /// Counts over all executions of a run (plain std atomics, outside the model).
    #[derive(Default)]
    struct Tally {
        executions: AtomicUsize,
        reused: AtomicUsize,
        held_back: AtomicUsize,
    }

    /// A reader: `snapshots` times, takes a snapshot, reads its page `READS` times, drops it.
    fn reader(world: &World, snapshots: usize) {
        for _ in 0..snapshots {
            let snap = world.versions.load_full();
            for _ in 0..READS {
                let seen = world.pages[snap.page].load(Relaxed);
                assert_eq!(
                    seen, snap.txn,
                    "page {} was overwritten by txn {seen} while a snapshot of txn {} read it",
                    snap.page, snap.txn
                );
            }
        }
    }

    /// The writer: `COMMITS` commits, each as `WriteTxn::begin` and `commit` do it.
    fn writer(world: &World, gate: Gate, mut alive: Vec<(usize, Weak<Snap>)>, tally: &Tally) {
        // (txn that freed it, page), oldest first, as the freelist tree is ordered.
        let mut freelist = VecDeque::new();
        let mut file_pages = 1;
        let mut durable = 1;
        for txn in 2..2 + COMMITS {
            let base = world.versions.load_full();
            let gate = gate(&world.versions, durable);
            // `WriterPages::pull_entry`: the oldest entry is reused if its txn is up to the gate.
            let page = match freelist.front() {
                Some(&(freed_by, page)) if freed_by <= gate => {
                    freelist.pop_front();
                    tally.reused.fetch_add(1, SeqCst);
                    page
                }
                held => {
                    if held.is_some() {
                        tally.held_back.fetch_add(1, SeqCst);
                    }
                    file_pages += 1;
                    file_pages - 1
                }
            };
            // Invariant 3 against ground truth: no live version reaches the page. (A version
            // found dead here cannot come back before the write below.)
            let holders = alive
                .iter()
                .filter(|(p, v)| *p == page && v.strong_count() > 0)
                .count();
            assert_eq!(
                holders, 0,
                "txn {txn} overwrites page {page}, reachable from a live snapshot (gate {gate})"
            );
            world.pages[page].store(txn, Relaxed);
            freelist.push_back((txn, base.page));
            let v = Arc::new(Snap { txn, page });
            alive.push((page, Arc::downgrade(&v)));
            world.versions.publish(txn, v);
            // Immediate durability: the gate is then bounded by live snapshots only.
            durable = txn;
        }
    }

    /// Explores the model with `gate`; returns the tally.
    fn explore(gate: Gate) -> Arc<Tally> {
        let tally = Arc::new(Tally::default());
        let t = tally.clone();
        loom::model::Builder::new().check(move || {
            t.executions.fetch_add(1, SeqCst);
            let first = Arc::new(Snap { txn: 1, page: 0 });
            let alive = vec![(0, Arc::downgrade(&first))];
            let pages = (0..=COMMITS)
                .map(|p| AtomicU64::new(u64::from(p == 0)))
                .collect();
            let world = loom::sync::Arc::new(World {
                versions: Versions::new(1, first),
                pages,
            });
            let readers: Vec<_> = (0..READERS)
                .map(|i| {
                    let world = world.clone();
                    loom::thread::spawn(move || reader(&world, SNAPSHOTS[i]))
                })
                .collect();
            writer(&world, gate, alive, &t);
            for r in readers {
                r.join().expect("reader panicked");
            }
        });
        tally
    }

    #[test]
    fn pages_are_not_reused_under_live_snapshots() {
        let start = std::time::Instant::now();
        let tally = explore(|versions, durable| versions.reuse_gates(durable).1);
        let (executions, reused, held_back) = (
            tally.executions.load(SeqCst),
            tally.reused.load(SeqCst),
            tally.held_back.load(SeqCst),
        );
        println!(
            "{executions} interleavings in {:.1?}: {reused} page reuses, \
             {held_back} held back by a snapshot",
            start.elapsed()
        );
        // The model is not vacuous: some interleavings reuse pages, others must hold them back.
        assert!(
            reused > 0 && held_back > 0,
            "{reused} reuses, {held_back} held back"
        );
    }

    /// The model can fail: a gate that ignores live snapshots is caught.
    #[test]
    #[should_panic(expected = "snapshot")]
    fn a_gate_ignoring_snapshots_is_caught() {
        explore(|_, durable| durable);
    }
}
