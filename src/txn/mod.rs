//! Transactions: the state shared by a database's handles, published versions, the single-writer
//! lock, and meta-slot bookkeeping. [`read::ReadTxn`] reads one version; [`write::WriteTxn`] builds
//! the next one and commits it in one function, steps numbered.

pub(crate) mod awake;
mod fill;
mod flush;
pub(crate) mod group;
mod group_sync;
pub(crate) mod log;
pub(crate) mod metrics;
pub(crate) mod multiproc;
pub(crate) mod nudge;
pub(crate) mod read;
mod role;
mod versions;
pub(crate) mod write;

use crate::alloc::{OldFrees, PendingFree};
use crate::error::{Error, Result};
use crate::options::Durability;
use crate::page::meta::Meta;
use crate::page::PagePtr;
use crate::store::window::{self, WINDOW_BYTES};
use crate::store::{FileStore, Overlay, PageBuf, View, Window};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use versions::Versions;

/// At most this many commits follow the last durable state (checkpoint or synced log record)
/// before larchdb syncs by itself. Recovery relies on it: no page on disk can carry a txn id above
/// `last recovered commit + MAX_UNSYNCED_COMMITS + 1`, so a reopened writer starts its ids above
/// that and never stamps a page with an id a lost commit already used.
pub(crate) const MAX_UNSYNCED_COMMITS: u64 = 4096;

/// Pages (or runs) of the write window sealed and written at a time when it is flushed.
const FLUSH_BATCH: usize = 256;

/// Bytes of tree pages written since the last checkpoint that make the background sync thread
/// start their write-back ([`Shared::start_writeback`]).
const WRITEBACK_BYTES: u64 = 16 << 20;

/// Bytes of a large commit's pages sealed and written at a time, after each of which the kernel
/// is asked to start writing the file's dirty pages back ([`Shared::write_sealed`]): the disk
/// writes them while the writer seals and copies the next batch, and the checkpoint's
/// `fdatasync` that follows waits for less. (Window flushes do not do this: their pages are often
/// rewritten before the next checkpoint, and starting their write-back at once made 100 commits
/// of 1,000 random inserts 1.6x slower.)
const SEALED_BATCH: usize = 8 << 20;

/// A commit of more pages than this (or of more than a quarter of the window's bytes) writes its
/// pages into the file directly instead of into the write window (docs/FORMAT.md section 13,
/// step 5).
const LARGE_COMMIT_PAGES: usize = 2048;

/// The largest log region a burst of small commits calls for ([`Shared::log_burst`]).
const MAX_LOG_BURST: u64 = 4 << 20;

/// A region that filled up with records of this many bytes or fewer on average was filled by
/// small commits ([`Shared::log_burst`]).
const SMALL_RECORD_SPAN: u64 = 1024;

/// Pages of the last checkpoint freed since it that may be held back before a checkpoint is
/// forced (they become reusable only once a newer checkpoint is durable): a quarter of the file,
/// and 16 MiB of 4 KiB pages in a smaller file, where a floor of 4 MiB made small commits
/// checkpoint every few hundred commits.
fn max_held_back(page_count: u64) -> u64 {
    (page_count / 4).max(4096)
}

/// Pages of the last checkpoint freed since it at which a whole quiet tick of the background
/// thread (no commit) checkpoints, so that they become reusable before the next burst of writes
/// rather than at its end (4 MiB of 4 KiB pages).
const IDLE_CHECKPOINT_HELD_BACK: u64 = 1024;

/// One committed state of the database, as readers see it.
pub(crate) struct Version {
    /// Id of the commit.
    pub txn: u64,
    /// Root of the catalog tree.
    pub catalog: PagePtr,
    /// Root of the freelist tree.
    pub freelist: PagePtr,
    /// The commit log's region (first page, pages); `(0, 0)` if none.
    pub log: (u64, u64),
    /// The pages of this commit.
    pub view: View,
    /// Free pages that are in no freelist entry yet (taken from the freelist by a commit after
    /// the last checkpoint, and not used): the next writer takes them first, and the next
    /// checkpoint records them.
    pub spare: Arc<[u64]>,
    /// Pages freed since the last checkpoint that are in no freelist entry yet, with their
    /// freeing txns (`alloc` module docs): the next writer takes those it may reuse, and the next
    /// checkpoint records the rest.
    pub pending: Arc<[PendingFree]>,
    /// Old pages (reachable from the last checkpoint) freed since it that are in no freelist
    /// entry yet: reusable only after the next checkpoint, which records them.
    pub old_frees: OldFrees,
    /// Whether `spare` lists every spare page (a version published by a writer in another
    /// process lists at most `store::readers::SPARE_MAX`, its pending frees among them; `check`
    /// then cannot tell the others from leaked pages, and does not report unaccounted pages).
    pub spare_complete: bool,
    /// Roots of tables that commits since the catalog was last written changed (their catalog
    /// entries still name older roots): they override the catalog's entries of the same names
    /// ([`Version::table_root`]). Empty in every checkpoint and every version published to other
    /// processes (docs/FORMAT.md section 13, step 1).
    pub deferred: Arc<[DeferredRoot]>,
}

/// A table root a commit kept out of the catalog tree (see [`Version::deferred`]).
#[derive(Clone, Debug)]
pub(crate) struct DeferredRoot {
    /// The table's name; the catalog has an entry of this name.
    pub name: Arc<str>,
    /// The table's root and entry count as of the version.
    pub tree: crate::btree::TreeRoot,
}

/// Most table roots a version keeps out of the catalog; a commit that would keep more writes
/// them all into it.
pub(crate) const MAX_DEFERRED_ROOTS: usize = 8;

/// The root of table `name`: its root among `deferred` if there, else its entry in the catalog
/// tree at `catalog` (read through `pages`); None if the table does not exist.
pub(crate) fn find_root(
    pages: &(impl crate::btree::PageSource + ?Sized),
    catalog: crate::page::PagePtr,
    deferred: &[DeferredRoot],
    name: &str,
) -> Result<Option<crate::btree::TreeRoot>> {
    if let Some(d) = deferred.iter().find(|d| &*d.name == name) {
        return Ok(Some(d.tree));
    }
    match crate::btree::get(pages, catalog, name.as_bytes())? {
        Some(b) => Ok(Some(crate::catalog::decode(catalog.pgno, b)?)),
        None => Ok(None),
    }
}

impl Version {
    /// Whether this version has free pages that its freelist tree does not record (spare,
    /// pending or old frees): checkpointing it takes a commit that records them.
    pub fn has_unrecorded_free(&self) -> bool {
        !self.spare.is_empty() || !self.pending.is_empty() || !self.old_frees.is_empty()
    }

    /// Whether checkpointing this version takes a commit: it has free pages its freelist tree
    /// does not record, or table roots its catalog tree does not hold.
    pub fn needs_checkpoint_commit(&self) -> bool {
        self.has_unrecorded_free() || !self.deferred.is_empty()
    }

    /// The root of table `name` in this version, from its deferred roots or its catalog tree
    /// (looked up through `pages`, which read this version); None if the table does not exist.
    pub fn table_root(
        &self,
        pages: &impl crate::btree::PageSource,
        name: &str,
    ) -> Result<Option<crate::btree::TreeRoot>> {
        find_root(pages, self.catalog, &self.deferred, name)
    }

    /// Every free page this version's freelist tree does not record: spare, pending and old
    /// frees.
    pub fn unrecorded_free(&self) -> Vec<u64> {
        let len = self.spare.len() + self.pending.len() + self.old_frees.len();
        let mut free = Vec::with_capacity(len);
        free.extend_from_slice(&self.spare);
        free.extend(self.pending.iter().map(|f| f.pgno));
        self.old_frees.copy_into(&mut free);
        free
    }
}

/// The last checkpoint: the commit the meta slots name.
pub(crate) struct MetaState {
    /// Txn of the last durable checkpoint (recovery opens it and replays the log after it).
    pub durable_txn: u64,
    durable_slot: u64,
    /// Generation of the log records written after it.
    pub log_gen: u64,
    /// Pages reachable from the last checkpoint that commits since have freed (held back).
    held_back: u64,
    /// Log records appended before the last checkpoint ([`metrics::Counters::log_records`]).
    records_before: u64,
    /// Bytes of log region that bursts of small commits called for ([`Shared::log_burst`]).
    log_burst: u64,
    /// Checkpoints leave the file's length alone (compaction's passes: it truncates once, at
    /// the end, rather than once per pass).
    pub keep_length: bool,
}

/// How a database handle was opened: what [`Shared`] needs beyond the file.
pub(crate) struct Config {
    /// Opened with `read_only(true)`.
    pub read_only: bool,
    /// Default durability of write transactions.
    pub durability: Durability,
    /// Largest commit log region, in bytes (0: no log; every commit is a checkpoint).
    pub log_capacity: u64,
    /// The most bytes a write window holds, if not the default (tests set a small one).
    pub window_bytes: Option<u64>,
}

/// State shared by a database handle, its transactions, and snapshots that outlive the handle.
pub(crate) struct Shared {
    /// The locked file.
    pub store: FileStore,
    /// Page size of the file.
    pub page_size: usize,
    /// Options chosen at open.
    pub config: Config,
    /// The latest published version, which readers load without a lock, and the registry of
    /// those a snapshot may still hold.
    pub current: Versions<Version>,
    /// The newest commit, published or still waiting for its log sync: the next writer's base.
    latest: Mutex<Arc<Version>>,
    /// One write transaction at a time, in the order threads asked; it also counts the threads
    /// that hold or wait for it.
    writer_role: role::WriterRole,
    /// Id the next write transaction gets (handed back by a transaction that wrote nothing).
    pub(crate) next_txn: Mutex<u64>,
    /// Id of this handle's first write transaction: pages stamped with it or later are its own.
    first_txn: u64,
    /// The last checkpoint.
    pub meta: Mutex<MetaState>,
    /// The commit log after it, and the commits waiting for its sync.
    pub log: group::CommitLog,
    poisoned: Mutex<Option<String>>,
    /// Commit, sync and checkpoint counters.
    pub metrics: metrics::Counters,
    /// The most bytes the write window holds: [`WINDOW_BYTES`], or with the cached backend an
    /// eighth of the cache's capacity if less (two windows at most: the current one and the one
    /// being flushed), so that memory stays near what the user set.
    window_bytes: u64,
    /// Commits counted at the background sync thread's last tick ([`Shared::flush_when_idle`]).
    commits_at_last_tick: AtomicU64,
    /// The lock file's reader table, shared with handles in other processes (None: a read-only
    /// handle on a read-only filesystem, where no writer can exist).
    pub(crate) attached: Option<multiproc::Attached>,
    /// The last write transaction's buffers, emptied, for the next one.
    writer_buffers: Mutex<Option<write::WriterBuffers>>,
    /// The full write window being flushed beside the commits that follow (`flush.rs`).
    flushing: Mutex<Option<flush::PendingFlush>>,
    /// Keeps a processor awake while a commit waits for the disk (`awake.rs`), shared with the
    /// `larchdb-awake` thread that does (`db.rs`).
    pub(crate) awake: Arc<awake::KeepAwake>,
    /// Requests from commits to the background thread (`nudge.rs`), shared with it (`db.rs`).
    pub(crate) nudge: Arc<nudge::Nudge>,
    /// Declared last, so dropped last: gives back the page buffers' empty slabs at once.
    _release_buffers: ReleaseBuffers,
}

/// When dropped, unmaps the empty page buffer slabs that [`crate::store::release_idle`] would
/// keep for a while: the last field of [`Shared`], so that it runs once the handle's windows and
/// buffers are gone (and with them the reason to keep their memory).
struct ReleaseBuffers;

impl Drop for ReleaseBuffers {
    fn drop(&mut self) {
        crate::store::release_idle(std::time::Duration::ZERO);
    }
}

impl Shared {
    /// Shared state for a freshly opened file whose current checkpoint `meta` is in `slot`; the
    /// first write transaction gets an id above `last_txn` (the newest commit a log record may
    /// have stamped pages with) plus the unsynced bound.
    pub fn new(
        store: FileStore,
        meta: &Meta,
        slot: u64,
        view: View,
        config: Config,
        last_txn: u64,
        attached: Option<multiproc::Attached>,
    ) -> Shared {
        let window_bytes = config.window_bytes.unwrap_or(match view.cache() {
            // Two windows may be held at once (`flush.rs`): a quarter of the capacity in all.
            Some(c) => (c.stats().capacity_bytes / 8).min(WINDOW_BYTES),
            None => WINDOW_BYTES,
        });
        let version = Arc::new(Version {
            txn: meta.txn,
            catalog: meta.catalog,
            freelist: meta.freelist,
            log: meta.log,
            view,
            spare: Arc::new([]),
            pending: Arc::new([]),
            old_frees: OldFrees::default(),
            spare_complete: true,
            deferred: Arc::new([]),
        });
        let first_txn = last_txn.max(meta.txn) + MAX_UNSYNCED_COMMITS + 2;
        Shared {
            store,
            page_size: meta.page_size as usize,
            config,
            current: Versions::new(meta.txn, version.clone()),
            latest: Mutex::new(version),
            writer_role: role::WriterRole::default(),
            next_txn: Mutex::new(first_txn),
            first_txn,
            meta: Mutex::new(MetaState {
                durable_txn: meta.txn,
                durable_slot: slot,
                log_gen: meta.log_gen,
                held_back: 0,
                records_before: 0,
                log_burst: 0,
                keep_length: false,
            }),
            log: group::CommitLog::new(meta.log, meta.page_size as u64),
            poisoned: Mutex::new(None),
            metrics: metrics::Counters::default(),
            window_bytes,
            commits_at_last_tick: AtomicU64::new(0),
            attached,
            writer_buffers: Mutex::new(None),
            flushing: Mutex::new(None),
            awake: Arc::default(),
            nudge: Arc::default(),
            _release_buffers: ReleaseBuffers,
        }
    }

    /// Fails with `PreviousIo` if an earlier commit hit an I/O error.
    pub fn check_poisoned(&self) -> Result<()> {
        match &*self.poisoned.lock() {
            Some(msg) => Err(Error::PreviousIo(msg.clone())),
            None => Ok(()),
        }
    }

    /// Disables writes after an I/O error in a commit.
    fn poison(&self, err: &Error) {
        self.poisoned.lock().get_or_insert_with(|| err.to_string());
    }

    /// The gates a new write transaction reuses freed pages under (see [`crate::alloc::Gates`]).
    fn gates(&self) -> crate::alloc::Gates {
        let checkpoint = self.meta.lock().durable_txn;
        // Read-only handles of other processes pin what their snapshots read.
        let foreign = self.foreign_pin();
        let (young, old) = self.current.reuse_gates(checkpoint);
        crate::alloc::Gates {
            checkpoint,
            young: young.min(foreign),
            old: old.min(foreign),
            trusted: self.first_txn,
        }
    }

    /// Makes every commit so far durable: syncs the commit log (sharing the sync with commits
    /// that wait for one; it does not wait for the writer role).
    pub fn sync(&self) -> Result<()> {
        // After a failed commit, what reached the disk is unknown: do not declare it durable.
        self.check_poisoned()?;
        self.sync_log()
    }

    /// Step 5 of a commit: puts its `pages` (not sealed yet) where readers of the new version
    /// (`view`, without a window yet) find them, and returns that version's view. Normally they
    /// join the base version's write window (or a new one, once it is flushed or full: a full
    /// one is handed off to be flushed beside the next commits, `flush.rs`, and read through
    /// until then), which seals them as it writes them. A large commit (more than
    /// [`LARGE_COMMIT_PAGES`] pages, or a quarter of the window's bytes) and a `checkpoint`
    /// (whose sync would flush the window at once) seal their pages in place and write them to
    /// the file directly, without copies (and the short gaps of `unused` free pages between
    /// them: [`Self::write_sealed`]). The pages replaced in the window that no reader can
    /// hold any more go back to the page buffers kept for the next copies ([`Window::reclaim`]).
    pub(crate) fn place_pages(
        self: &Arc<Self>,
        base: &View,
        pages: &mut Overlay,
        view: View,
        txn: u64,
        checkpoint: bool,
        unused: &[u64],
    ) -> Result<View> {
        let current = base.window().filter(|w| !w.is_flushed());
        let bytes: u64 = pages.values().map(|b| b.len() as u64).sum();
        let large = pages.len() > LARGE_COMMIT_PAGES || bytes > self.window_bytes / 4;
        // With read-only handles attached, the version must be in the file when it is published.
        if large || checkpoint || self.write_through() {
            if let Some(w) = current {
                // Unless the commit is large: its copies' buffers would be the newest
                // allocations, above the large commit's pages, and keep the memory those free
                // from going back to the system.
                self.flush_window(w, &view, !large)?;
            }
            self.write_sealed(pages, &view, unused)?;
            // A large commit keeps none of its buffers, for the same reason.
            match large {
                true => pages.clear(),
                false => window::keep_buffers(pages.drain().map(|(_, b)| b)),
            }
            return Ok(view);
        }
        let (window, older) = match current {
            Some(w) if w.has_room(pages.len(), bytes, self.window_bytes) => {
                (w.clone(), base.older_window().cloned())
            }
            Some(w) => {
                self.hand_off_window(w.clone(), view.clone())?;
                (Arc::new(Window::new()), Some(w.clone()))
            }
            None => (Arc::new(Window::new()), None),
        };
        window::keep_buffers(window.reclaim(self.current.oldest_live()).into_iter());
        for (pgno, bytes) in pages.drain() {
            window.insert(pgno, bytes, txn);
        }
        Ok(view.with_window(window, older))
    }

    /// Seals `pages` in place (their checksums) and writes them to the file in order of page
    /// number, in batches of [`SEALED_BATCH`] bytes, so that the disk writes the first batches
    /// while the next ones are sealed and copied. Short gaps between them made of `unused` pages
    /// (free, and reachable from no version and no checkpoint) are written with zeros as well
    /// ([`fill::pages_to_fill`]).
    fn write_sealed(&self, pages: &mut Overlay, view: &View, unused: &[u64]) -> Result<()> {
        self.join_flush()?;
        let mut sorted: Vec<(u64, &mut PageBuf)> = pages.iter_mut().map(|(&p, b)| (p, b)).collect();
        sorted.sort_unstable_by_key(|(p, _)| *p);
        let ps = self.page_size;
        let runs = sorted
            .iter()
            .map(|(p, b)| (*p, b.len().div_ceil(ps) as u64));
        let fill = fill::pages_to_fill(runs, unused);
        let zeros = vec![0u8; ps];
        let batches = sorted.iter().map(|(_, b)| b.len()).sum::<usize>() > SEALED_BATCH;
        self.with_writeback(batches, |start_writeback| {
            let mut rest = &mut sorted[..];
            while !rest.is_empty() {
                let (mut n, mut bytes) = (0, 0);
                while n < rest.len() && (n == 0 || bytes < SEALED_BATCH) {
                    bytes += rest[n].1.len();
                    n += 1;
                }
                let (batch, after) = rest.split_at_mut(n);
                for (pgno, buf) in batch.iter_mut() {
                    crate::page::seal(buf, *pgno);
                }
                let written: Vec<(u64, &[u8])> = batch.iter().map(|(p, b)| (*p, &b[..])).collect();
                let filled = fill::with_fill(&written, &fill, &zeros);
                self.store.write_pages(&filled, self.page_size)?;
                self.pages_written(&written, view);
                if !after.is_empty() {
                    start_writeback();
                }
                rest = after;
            }
            Ok(())
        })
    }

    /// Writes the pages `window` holds into the file, as sealed copies (checkpoints do, before
    /// their sync), unless that was done already; `view` is a view of the newest version. With
    /// `keep_copies`, the copies' buffers are kept for later page copies
    /// ([`window::keep_buffers`]).
    pub(crate) fn flush_window(
        &self,
        window: &Window,
        view: &View,
        keep_copies: bool,
    ) -> Result<()> {
        self.join_flush()?;
        if !window.is_flushed() {
            self.flush_window_now(window, view, keep_copies)?;
            self.metrics.window_flushed();
        }
        Ok(())
    }

    /// Writes `window`'s pages (not flushed yet) into the file and marks it flushed, without
    /// waiting for a handed-off window's flush (a handed-off window's flush is this).
    fn flush_window_now(&self, window: &Window, view: &View, keep_copies: bool) -> Result<()> {
        // In batches, whose copies' buffers the next batch reuses: a flush needs little memory
        // beside the window.
        for batch in window.pages(self.page_size).chunks(FLUSH_BATCH) {
            let sealed: Vec<(u64, PageBuf)> = (batch.iter())
                .map(|&(pgno, bytes)| (pgno, window::sealed_copy(bytes, pgno)))
                .collect();
            let pages: Vec<(u64, &[u8])> = sealed.iter().map(|(p, b)| (*p, &b[..])).collect();
            self.write_pages(&pages, view)?;
            if keep_copies {
                window::keep_buffers(sealed.into_iter().map(|(_, b)| b));
            }
        }
        window.set_flushed();
        Ok(())
    }

    /// Writes `pages` (sorted by page number) into the file; the page cache (cached backend)
    /// takes their new contents, and the map counts them as verified.
    fn write_pages(&self, pages: &[(u64, &[u8])], view: &View) -> Result<()> {
        self.store.write_pages(pages, self.page_size)?;
        self.pages_written(pages, view);
        Ok(())
    }

    /// Records that `pages` are in the file: for readers in other processes, the metrics, and
    /// the views (the page cache takes their new contents; the map counts them as verified).
    fn pages_written(&self, pages: &[(u64, &[u8])], view: &View) {
        self.note_written(pages);
        self.metrics
            .pages_written(pages.iter().map(|(_, b)| b.len() as u64).sum());
        view.pages_written(pages);
    }

    /// The background sync thread, at each tick: once a whole tick passed without a commit (or
    /// at once, if read-only handles wait for a version in the lock file), flushes the write
    /// window (if no write transaction is open), so that readers stop looking pages up in it,
    /// and publishes the current version in the lock file. After a quiet tick, if at least
    /// [`IDLE_CHECKPOINT_HELD_BACK`] pages of the last checkpoint were freed since it, it
    /// checkpoints instead (which flushes the window too), so that they become reusable; and
    /// when read-only handles wait while the latest version keeps table roots out of its
    /// catalog, so that it can be published.
    pub fn flush_when_idle(self: &Arc<Self>) -> Result<()> {
        let commits = self.metrics.commits();
        let quiet = self.commits_at_last_tick.swap(commits, Ordering::Relaxed) == commits;
        if !quiet && !self.readers_waiting() {
            return Ok(());
        }
        let checkpoint_due = quiet && self.meta.lock().held_back >= IDLE_CHECKPOINT_HELD_BACK;
        let latest = self.latest.lock().clone();
        // Read-only handles wait for a version, and the latest one keeps table roots out of its
        // catalog (none that other processes read may): a checkpoint writes them in.
        let catalog_due = !latest.deferred.is_empty() && self.readers_waiting();
        let unflushed = !latest.view.windows_flushed();
        drop(latest);
        if !unflushed && !checkpoint_due && !catalog_due {
            self.publish_current();
            return Ok(());
        }
        if !self.writer_role.try_acquire() {
            return Ok(());
        }
        let writer = WriterGuard(self.clone());
        if checkpoint_due || catalog_due {
            // The checkpoint flushes the window first.
            self.checkpoint_latest(writer)?;
            self.publish_current();
            return Ok(());
        }
        let latest = self.latest.lock().clone();
        if let Some(w) = latest.view.window() {
            self.flush_window(w, &latest.view, true)
                .inspect_err(|e| self.poison(e))?;
        }
        // Every page of the current version (not newer than the latest) is in the file now.
        self.publish_current();
        Ok(())
    }

    /// Starts the kernel writing back the tree pages written since this last ran, once there
    /// are [`WRITEBACK_BYTES`] of them: the checkpoint that makes them durable then waits for
    /// less. The background sync thread calls it.
    pub fn start_writeback(&self) {
        if self.metrics.writeback_due(WRITEBACK_BYTES) {
            self.store.start_writeback();
        }
    }

    /// The log region size (bytes) that bursts of small commits called for, at most
    /// [`MAX_LOG_BURST`]. When `full` (a commit found the log full) and the region of `have`
    /// bytes holds records of at most [`SMALL_RECORD_SPAN`] bytes on average, it grows to four
    /// times `have` (a region is replaced only by one at least four times larger): a file that takes many small commits gets a region that holds
    /// more of them between checkpoints, even while it is small.
    pub(crate) fn log_burst(&self, full: bool, have: u64) -> u64 {
        let mut st = self.meta.lock();
        let records = self.metrics.log_records() - st.records_before;
        if full && records.saturating_mul(SMALL_RECORD_SPAN) >= have {
            st.log_burst = st.log_burst.max(have.saturating_mul(4)).min(MAX_LOG_BURST);
        }
        st.log_burst
    }

    /// Checkpoints the newest commit (unless it is the last checkpoint). Waits for the writer
    /// role, so that no commit runs meanwhile.
    pub fn checkpoint_now(self: &Arc<Self>) -> Result<()> {
        self.check_poisoned()?;
        let writer = WriterGuard::acquire(self.clone());
        self.checkpoint_latest(writer)
    }

    /// Checkpoints the newest commit (unless it is the last checkpoint), then truncates the file
    /// to exactly its pages, without the slack growth keeps (compaction's last step). Waits for
    /// the writer role, so that no commit runs meanwhile.
    pub fn checkpoint_and_truncate(self: &Arc<Self>) -> Result<()> {
        self.check_poisoned()?;
        // A newest commit with unrecorded free pages is checkpointed by a commit of its own, which gives the
        // writer role up: take it again and look once more (other writers may have committed).
        for _ in 0..MAX_TRUNCATE_ROUNDS {
            let writer = WriterGuard::acquire(self.clone());
            let latest = self.latest.lock().clone();
            if latest.needs_checkpoint_commit() {
                self.checkpoint_latest(writer)?;
                continue;
            }
            if latest.txn != self.meta.lock().durable_txn {
                self.checkpoint(&latest)?;
            }
            // The newest commit is the durable checkpoint: its window is in the file, and it has
            // no unrecorded free pages (all of which lie below its page_count anyway).
            let used = latest.view.page_count() * self.page_size as u64;
            self.store.shrink(used, true)?;
            drop(writer);
            return Ok(());
        }
        Ok(())
    }

    /// How many table roots the newest commit keeps out of its catalog tree (test support).
    #[cfg(feature = "testing")]
    pub fn deferred_roots(&self) -> usize {
        self.latest.lock().deferred.len()
    }

    /// With the writer role held: checkpoints the newest commit unless it is the last checkpoint.
    /// If it has unrecorded free pages or table roots its catalog does not hold, a commit of
    /// nothing but them is the checkpoint (it records them).
    fn checkpoint_latest(self: &Arc<Self>, writer: WriterGuard) -> Result<()> {
        let latest = self.latest.lock().clone();
        if latest.needs_checkpoint_commit() {
            let mut w = write::WriteTxn::begin_as(self.clone(), writer)?;
            w.force_checkpoint();
            return w.commit();
        }
        if latest.txn == self.meta.lock().durable_txn {
            return Ok(());
        }
        self.checkpoint(&latest)
    }

    /// At a writable open with nothing to replay: makes the opened checkpoint durable (it may
    /// sit only in the OS cache after a process crash), in a new log generation if the file has a
    /// log.
    pub fn restart_log(self: &Arc<Self>) -> Result<()> {
        let _writer = WriterGuard::acquire(self.clone());
        let latest = self.latest.lock().clone();
        if latest.log.1 == 0 {
            return self.store.sync();
        }
        self.checkpoint(&latest)
    }

    /// On close: checkpoints the newest commit if no write transaction is open (otherwise its
    /// log records stay, and the next open replays them).
    pub fn close(self: &Arc<Self>) {
        // Even a poisoned handle lets its window's flush end before the file is closed.
        let _ = self.join_flush();
        if self.config.read_only
            || self.check_poisoned().is_err()
            || !self.writer_role.try_acquire()
        {
            return;
        }
        let _ = self.checkpoint_latest(WriterGuard(self.clone()));
    }
}

/// How often [`Shared::checkpoint_and_truncate`] looks for a newest commit without unrecorded free pages
/// before it leaves the file as the checkpoints left it.
const MAX_TRUNCATE_ROUNDS: usize = 4;

/// Holds the writer role; gives it up when dropped (commit, abort, or drop of the transaction).
pub(crate) struct WriterGuard(Arc<Shared>);

impl WriterGuard {
    /// Waits for the writer role.
    pub fn acquire(shared: Arc<Shared>) -> WriterGuard {
        shared.writer_role.acquire();
        WriterGuard(shared)
    }
}

impl WriterGuard {
    /// The writer role, if no write transaction holds it.
    pub fn try_acquire(shared: Arc<Shared>) -> Option<WriterGuard> {
        shared
            .writer_role
            .try_acquire()
            .then(|| WriterGuard(shared))
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.0.writer_role.release();
    }
}
