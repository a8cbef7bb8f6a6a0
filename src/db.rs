//! [`Database`] and its [`Builder`]: opening (lock, recover), transactions, check, stats, sync.

use crate::backup::Backup;
use crate::compact::Compaction;
use crate::error::{Error, Result};
use crate::integrity::{self, Stats};
use crate::options::{Backend, Durability, Options};
use crate::recovery::{self, Recovery};
use crate::replay;
use crate::store::cache::CacheStats;
use crate::store::readers::ReaderTable;
use crate::store::storage::PlainFile;
use crate::store::{Backing, Disk, FileStore, Verifier};
use crate::table::WriteTxn;
use crate::txn::metrics::Metrics;
use crate::txn::multiproc::Attached;
use crate::txn::nudge::Jobs;
use crate::txn::read::ReadTxn;
use crate::txn::write::WriteTxn as TxnCore;
use crate::txn::{Config, Shared};
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// An open database file. `Send + Sync`; share it between threads by reference or in an `Arc`.
///
/// Any number of [`ReadTxn`]s run alongside one [`WriteTxn`]. One writable handle may have the
/// file open, beside any number of read-only handles in this and other processes (through the
/// lock file `PATH-lock`, see [`Builder::max_readers`]); a second writable open fails with
/// [`Error::DatabaseLocked`].
pub struct Database {
    shared: Arc<Shared>,
    /// The background thread (`spawn_syncer`), stopped through `Shared::nudge`.
    syncer: Option<std::thread::JoinHandle<()>>,
    /// The thread that keeps a processor awake while commits wait for the disk (`txn::awake`).
    awake: Option<std::thread::JoinHandle<()>>,
    /// What opening the file rolled back or repaired.
    recovery: Option<Recovery>,
}

/// Options for opening a database; see [`Database::builder`].
#[derive(Debug, Clone, Default)]
pub struct Builder {
    opts: Options,
}

impl Builder {
    /// Page size for a new file: a power of two in 4096..=65536 (default 4096). An existing file
    /// keeps the page size it was created with.
    pub fn page_size(&mut self, size: usize) -> &mut Self {
        self.opts.page_size = size;
        self
    }

    /// Default durability of write transactions (default [`Durability::Immediate`]).
    pub fn durability(&mut self, d: Durability) -> &mut Self {
        self.opts.durability = d;
        self
    }

    /// Where reads come from (default [`Backend::Mmap`]).
    pub fn backend(&mut self, b: Backend) -> &mut Self {
        self.opts.backend = b;
        self
    }

    /// Largest commit log region in bytes (default 64 MiB; a new file starts with a smaller one,
    /// an eighth of the file from 256 KiB on, and grows it with the file). A commit whose record does not fit is
    /// a checkpoint instead; so is the commit that finds the log full. 0 turns the log off: every
    /// commit is then a checkpoint (tree pages and meta synced together, one sync per commit).
    pub fn log_capacity(&mut self, bytes: u64) -> &mut Self {
        self.opts.log_capacity = bytes;
        self
    }

    /// How often a background thread syncs the commit log while `Eventual` commits wait for it
    /// (default 100 ms): a power loss loses at most about this much of them. None: no thread;
    /// they are synced by [`Database::sync`], by an `Immediate` commit, every 4096 commits, at
    /// checkpoints and on close. The same thread flushes the write window and checkpoints when
    /// commits pause for a whole interval (see [`Database::checkpoint`]); without it, neither
    /// happens before the next commit needs it.
    pub fn sync_interval(&mut self, every: Option<Duration>) -> &mut Self {
        self.opts.sync_interval = every;
        self
    }

    /// Whether a thread of the handle keeps a processor busy while a commit waits for the disk
    /// (its log sync, zeroing the log ahead of its records, or the checkpoint it makes), and for
    /// 100 us after the wait ends (default `true`; it does nothing for a read-only handle, in
    /// memory, or on a machine with one processor, and nothing where the system refuses it the
    /// lowest scheduling priority, Linux's `SCHED_IDLE`).
    ///
    /// A commit's thread sleeps in the kernel while it waits for the disk. Where idle processors
    /// halt at once (virtual machines whose guests do not poll before halting), waking them when
    /// the disk answers costs about as much as the disk's own work: see the README for what it
    /// changed on the 2-processor virtual machine larchdb is measured on. The thread runs at the
    /// lowest priority, so it takes no processor time any other thread wants; what it costs is
    /// processor time that would otherwise be idle
    /// ([`Metrics::kept_awake`](crate::Metrics::kept_awake)), and the power that uses.
    pub fn keep_awake_during_syncs(&mut self, on: bool) -> &mut Self {
        self.opts.keep_awake = on;
        self
    }

    /// Opens without writing: `begin_write` fails with [`Error::ReadOnly`]. The file must exist.
    ///
    /// A read-only handle may open beside the writable handle of another process (or of this
    /// one): each [`Database::begin_read`] then sees the writer's newest commit (the file as it
    /// grows, and commits not checkpointed yet), and the writer never reuses a page one of its
    /// snapshots can reach. It takes one of the lock file's reader slots for as long as it is open.
    pub fn read_only(&mut self, ro: bool) -> &mut Self {
        self.opts.read_only = ro;
        self
    }

    /// Whether a page's checksum is verified before any read relies on it (default `true`).
    ///
    /// With the map backend each page (or overflow run) is verified at its first touch after the
    /// open, and later touches cost one relaxed atomic load; with [`Backend::Cached`] every page
    /// read from the file (every cache miss) is verified before it is cached. A page that fails
    /// gives [`Error::Corrupted`] naming it, on every read that needs it, and never wrong data.
    /// Turning this off for a file you trust saves hashing each page once per open (with the map)
    /// or once per miss (with the cache): see the README's measurements. Reads then still check
    /// every page's kind, writer and bounds, but damage inside a page can return wrong data until
    /// [`Database::check`] reports it. Recovery, `check` and the writer verify checksums either way.
    pub fn verify_checksums(&mut self, on: bool) -> &mut Self {
        self.opts.verify_checksums = on;
        self
    }

    /// How many read-only handles (of any process) may have the file open at once (default 126,
    /// in 1..=65536): the number of slots in the lock file `PATH-lock` (the database's path with
    /// `-lock` appended), which the first handle to open it (while no other handle has the
    /// database open) creates; later handles use the count it chose. A read-only open beyond it
    /// fails with [`Error::ReadersFull`].
    pub fn max_readers(&mut self, n: u32) -> &mut Self {
        self.opts.max_readers = n;
        self
    }

    /// Opens (creating if missing, unless read-only) the database file at `path`, and its lock
    /// file `PATH-lock` (created if missing; it is never removed, and holds nothing that is
    /// needed to open the database).
    ///
    /// An existing empty file is initialised as a new database; a file that is not a larchdb
    /// database gets [`Error::NotADatabase`] and is left untouched; a damaged one gets
    /// [`Error::Corrupted`]. If the latest commit did not reach the disk entirely (a crash before
    /// its sync), the previous one is opened.
    ///
    /// An I/O error names the file: its message starts with the path (its kind is the
    /// operating system's). A second writable handle gets [`Error::DatabaseLocked`]; a lock file
    /// that cannot work (it cannot be written, or lies on a network filesystem or one without
    /// file locks) gets [`Error::LockFile`], naming it. A read-only open on a read-only
    /// filesystem works without a lock file (no writer can exist there).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("missing-dir").join("app.larch");
    /// let err = larchdb::Database::open(&path).unwrap_err();
    /// assert!(err.to_string().contains(&*path.to_string_lossy()));
    /// ```
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Database> {
        let path = path.as_ref();
        self.open_store(path, PlainFile::new)
            .map_err(|e| name_path(e, path))
    }

    /// Sets the most bytes a write window (recent commits' pages held in memory) holds, instead
    /// of 64 MiB or an eighth of the cache's capacity (tests only: a small window fills, and is
    /// handed off to be flushed, every few commits).
    #[cfg(feature = "testing")]
    pub fn window_bytes(&mut self, bytes: u64) -> &mut Self {
        self.opts.window_bytes = Some(bytes);
        self
    }

    /// Opens like [`Builder::open`], with every change to the file also going through the
    /// simulated disk `disk`, which logs it for crash images and may fail it (tests only).
    #[cfg(feature = "testing")]
    pub fn open_simulated(
        &self,
        path: impl AsRef<Path>,
        disk: Arc<crate::store::sim::SimDisk>,
    ) -> Result<Database> {
        let path = path.as_ref();
        self.open_store(path, |file| {
            crate::store::sim::SimulatedFile::new(PlainFile::new(file), disk)
        })
        .map_err(|e| name_path(e, path))
    }

    /// Opens a new, empty database that lives in memory only, with the builder's options: the
    /// same API, backends and code paths as a file (it is an anonymous in-memory file: Linux's
    /// `memfd_create`, elsewhere a temporary file removed as soon as it is open), gone when the
    /// [`Database`] and its transactions are dropped. For tests and caches.
    ///
    /// Nothing is ever synced: the durability options change nothing but when `commit` returns
    /// (no commit survives the process either way). [`Database::backup`] writes a real file of
    /// it. Memory use is the file's size (which [`Database::compact`] and checkpoints shrink as
    /// for a file) plus, with [`Backend::Cached`], the cache. A read-only in-memory database
    /// would be empty forever: [`Builder::read_only`] gives [`Error::InvalidOption`].
    ///
    /// ```
    /// # fn main() -> larchdb::Result<()> {
    /// let db = larchdb::Database::builder().open_in_memory()?;
    /// let wtx = db.begin_write()?;
    /// wtx.open_table("cache")?.insert(b"k", b"v")?;
    /// wtx.commit()?;
    /// let rtx = db.begin_read()?;
    /// assert_eq!(rtx.open_table("cache")?.get(b"k")?, Some(&b"v"[..]));
    /// # Ok(()) }
    /// ```
    pub fn open_in_memory(&self) -> Result<Database> {
        if self.opts.read_only {
            return Err(Error::InvalidOption(
                "an in-memory database cannot be read-only (it starts empty)".into(),
            ));
        }
        self.check_options()?;
        let file = crate::store::anonymous_file()?;
        self.open_file(file, None, PlainFile::in_memory)
    }

    /// Checks the options before a file is opened: `Options::validate`, and the cache's
    /// capacity against the page size (checked again once the file's own page size is known: an
    /// existing file keeps its own).
    fn check_options(&self) -> Result<()> {
        self.opts.validate()?;
        if let Backend::Cached { capacity } = self.opts.backend {
            crate::store::cache::check_capacity(capacity, self.opts.page_size)?;
        }
        Ok(())
    }

    /// Opens the file, lets `storage` put its storage around it, then locks, recovers and maps
    /// it.
    fn open_store<S: Into<Disk>>(
        &self,
        path: &Path,
        storage: impl FnOnce(std::fs::File) -> S,
    ) -> Result<Database> {
        let o = &self.opts;
        self.check_options()?;
        let file = if o.read_only {
            OpenOptions::new().read(true).open(path)?
        } else {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)?
        };
        self.open_file(file, Some(path), storage)
    }

    /// Locks the open `file` (at `path`; None: an anonymous in-memory file, which has no lock
    /// file), with the storage `storage` puts around it, then recovers and maps it.
    fn open_file<S: Into<Disk>>(
        &self,
        file: std::fs::File,
        path: Option<&Path>,
        storage: impl FnOnce(std::fs::File) -> S,
    ) -> Result<Database> {
        let o = &self.opts;
        // A writer takes the lock file's writer byte before the file's `flock`, so that a reader
        // that finds the `flock` held but no writer in its lock file knows the writer uses
        // another lock file (the first is released last, on close, too).
        let mut table = match path {
            Some(path) => ReaderTable::open(path, o.max_readers)?,
            None => None,
        };
        if let (Some(t), false) = (&table, o.read_only) {
            t.lock_writer()?;
        }
        let store = FileStore::lock(storage(file), !o.read_only)?;
        let attached = match table.take() {
            Some(mut table) => {
                if o.read_only {
                    if writer_elsewhere(&store, &table)? {
                        return Err(Error::LockFile(format!(
                            "{}: the database is open for writing through another path (a \
                             hard link?), whose lock file this handle cannot see",
                            table.path().display()
                        )));
                    }
                    table.claim_slot()?;
                    // Pin everything while the file's meta, pages and log are read.
                    table.set_pin(1);
                } else {
                    table.store_published(None);
                }
                Some(Attached::new(table))
            }
            None => None,
        };
        // A read-only handle beside a live writer takes the version it publishes, rather than
        // replaying the log (which the writer may be appending to).
        let published = match (&attached, o.read_only) {
            (Some(a), true) => a.published_at_open()?,
            _ => false,
        };
        let cache = std::cell::RefCell::new(None);
        let verify = o
            .verify_checksums
            .then_some(crate::page::verify_checksum as Verifier);
        let backing = |bytes: u64, page_size: usize| -> Result<Backing> {
            match o.backend {
                Backend::Mmap => Ok(Backing::Map(store.map(bytes, page_size, verify)?)),
                Backend::Cached { capacity } => {
                    let mut cache = cache.borrow_mut();
                    match &*cache {
                        Some((ps, c)) if *ps == page_size => Ok(Backing::Cache(Arc::clone(c))),
                        _ => {
                            let c = store.page_cache(page_size, capacity, verify)?;
                            *cache = Some((page_size, c.clone()));
                            Ok(Backing::Cache(c))
                        }
                    }
                }
            }
        };
        let mut rec = recovery::recover(&store, o.page_size, o.read_only, &backing)?;
        let (records, log_damage) = match published {
            // What the file's meta slots and log look like while a writer writes them is no
            // news: the writer's own open reported what it recovered.
            true => {
                rec.report = None;
                (Vec::new(), None)
            }
            false => replay::read_log(&store, &rec.meta)?,
        };
        if let (Some(a), false) = (&attached, o.read_only) {
            a.wait_for_stale_readers(rec.meta.txn)?;
        }
        let config = Config {
            read_only: o.read_only,
            durability: o.durability,
            log_capacity: o.log_capacity,
            window_bytes: o.window_bytes,
        };
        let last_txn = records.last().map_or(rec.meta.txn, |r| r.txn);
        let shared = Arc::new(Shared::new(
            store, &rec.meta, rec.slot, rec.view, config, last_txn, attached,
        ));
        // Whatever recovery trusted may still sit only in the OS cache: a writable open makes it
        // durable before commits start treating it as the fallback, with the log's replay and a
        // new log generation (so that records of this run never mix with older ones). A
        // read-only open replays the log in memory.
        replay::apply(&shared, &records, rec.meta.log.0)?;
        if o.read_only {
            shared.reader_opened(published)?;
        } else {
            shared.publish_current();
        }
        let recovery = rec.report.or(log_damage).map(|mut report| {
            report.opened_txn = shared.current.load_full().txn;
            report
        });
        let syncer = match o.sync_interval {
            Some(every) if !o.read_only => spawn_syncer(&shared, every),
            _ => None,
        };
        // An in-memory database (no path) has no disk to wait for.
        let awake = match o.keep_awake && path.is_some() && !o.read_only {
            true => spawn_keep_awake(&shared),
            false => None,
        };
        Ok(Database {
            shared,
            syncer,
            awake,
            recovery,
        })
    }
}

/// Whether a writer holds the database file's `flock` while `table` shows none (for a moment
/// while a writer opens or closes, which is retried; lastingly, if it opened the database through
/// a hard link, whose lock file is another one).
fn writer_elsewhere(store: &FileStore, table: &ReaderTable) -> Result<bool> {
    for _ in 0..100 {
        if !store.writer_holds_file()? || table.writer_alive()? {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(true)
}

/// Starts the thread that syncs the commit log every `every` while `Eventual` commits wait for
/// it (and sooner when a commit asks, `txn::nudge`, as it does to have the log zeroed ahead of
/// its records), flushes the write window once commits pause, starts the write-back of tree
/// pages, and gives back page buffers long unused (`store::release_idle`); it ends when the
/// database stops it (`Nudge::stop`, when dropped), the database is gone, or the handle is
/// poisoned (a failed write or sync: nothing more can be made durable).
/// None if no thread could be started: Eventual commits are then synced by the other means.
fn spawn_syncer(shared: &Arc<Shared>, every: Duration) -> Option<std::thread::JoinHandle<()>> {
    let weak = Arc::downgrade(shared);
    let nudge = shared.nudge.clone();
    // Not on the simulated disk, which must see one order of operations per run: there commits
    // make the early syncs and zeroings themselves, when they can wait no longer.
    if shared.store.background_writes() {
        nudge.start();
    }
    let thread = std::thread::Builder::new()
        .name("larchdb-sync".into())
        .spawn(move || {
            crate::txn::awake::mark_background_thread();
            let mut tick = Instant::now();
            while let Some(jobs) = nudge.wait(tick, every) {
                let Some(shared) = weak.upgrade() else { break };
                if shared.check_poisoned().is_err() {
                    break;
                }
                let ticked = jobs == Jobs::default();
                // What a commit asked for; the tick syncs.
                if jobs.zero && shared.zero_log_ahead().is_err() {
                    break;
                }
                let synced = match ticked {
                    true => shared.sync_log(),
                    false if jobs.sync => shared.sync_log_early(),
                    false => Ok(()),
                };
                if synced.is_err() {
                    break;
                }
                if !ticked {
                    continue;
                }
                tick = Instant::now();
                // An idle checkpoint may fail and leave the handle usable (a full disk as its
                // commit grows the file, a damaged page it would copy): the log is still synced
                // at every tick, and the checkpoint tried again at the next one.
                if shared.flush_when_idle().is_err() && shared.check_poisoned().is_err() {
                    break;
                }
                shared.start_writeback();
                drop(shared);
                crate::store::release_idle(crate::store::DECAY);
            }
            // Commits do what they asked of it themselves from now on.
            nudge.stop();
        });
    match thread {
        Ok(thread) => Some(thread),
        Err(_) => {
            shared.nudge.stop();
            None
        }
    }
}

/// Starts the thread that keeps a processor awake while commits wait for the disk
/// (`txn::awake`), on a machine with more than one processor, at the lowest scheduling priority;
/// it ends when the database stops it (`KeepAwake::stop`, when dropped). None if it was not
/// started, or could not take that priority (it then ends at once, and syncs never wake it).
fn spawn_keep_awake(shared: &Arc<Shared>) -> Option<std::thread::JoinHandle<()>> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return None;
    }
    let awake = shared.awake.clone();
    let (started, idle) = mpsc::channel::<bool>();
    let thread = std::thread::Builder::new()
        .name("larchdb-awake".into())
        .spawn(move || {
            let lowest = crate::store::run_only_when_idle();
            let _ = started.send(lowest);
            if lowest {
                while awake.wait() {
                    awake.stay_awake();
                }
            }
        })
        .ok()?;
    if idle.recv() == Ok(true) {
        shared.awake.enable();
        Some(thread)
    } else {
        let _ = thread.join();
        None
    }
}

/// An I/O error from opening `path`, its message prefixed with the path (same kind).
fn name_path(e: Error, path: &Path) -> Error {
    match e {
        Error::Io(io) => Error::Io(std::io::Error::new(
            io.kind(),
            format!("{}: {io}", path.display()),
        )),
        other => other,
    }
}

impl Database {
    /// Opens (creating if missing) the database file at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Builder::default().open(path)
    }

    /// A builder for opening with options.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Opens a new, empty in-memory database with default options: see
    /// [`Builder::open_in_memory`].
    pub fn in_memory() -> Result<Database> {
        Builder::default().open_in_memory()
    }

    /// Starts a read transaction on the latest commit. Never blocks on a writer.
    ///
    /// On a read-only handle beside a writable handle (of this or another process) it takes the
    /// newest commit the writer published in the lock file: a few atomic operations, and after a
    /// new commit, dropping the pages the writer rewrote from this handle's cache. It fails with
    /// [`Error::LockFile`] only if, with no snapshot of this handle alive, the writer has
    /// published nothing for 10 seconds (it stopped in the middle of a commit, or is recovering).
    pub fn begin_read(&self) -> Result<ReadTxn> {
        self.shared.begin_read()
    }

    /// Starts the write transaction, waiting while another one is open (threads that wait get
    /// the writer role in the order they asked for it).
    /// Fails with [`Error::ReadOnly`] on a read-only handle and [`Error::PreviousIo`] after a
    /// failed commit.
    pub fn begin_write(&self) -> Result<WriteTxn> {
        TxnCore::begin(self.shared.clone()).map(WriteTxn::new)
    }

    /// Starts the write transaction if no other one is open and no thread waits to begin one;
    /// `Ok(None)` otherwise (so a second `begin_write` on a thread that already holds one cannot
    /// deadlock).
    ///
    /// ```
    /// # fn main() -> larchdb::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = larchdb::Database::open(dir.path().join("app.larch"))?;
    /// let wtx = db.try_begin_write()?.expect("no other writer");
    /// assert!(db.try_begin_write()?.is_none());
    /// wtx.abort()?;
    /// assert!(db.try_begin_write()?.is_some());
    /// # Ok(()) }
    /// ```
    pub fn try_begin_write(&self) -> Result<Option<WriteTxn>> {
        Ok(TxnCore::try_begin(self.shared.clone())?.map(WriteTxn::new))
    }

    /// Checks the integrity of the latest commit: every page accounted for exactly once, keys in
    /// order and inside their separators, leaves at one depth, checksums, entry counts. The first
    /// violation is returned as [`Error::Corrupted`].
    pub fn check(&self) -> Result<()> {
        self.stats().map(|_| ())
    }

    /// Statistics of the latest commit (page counts by kind, free pages, depth per table, file
    /// size). Walks the whole database, checking it on the way.
    pub fn stats(&self) -> Result<Stats> {
        // A snapshot, so that a read-only handle pins what it walks.
        let rtx = self.begin_read()?;
        let mut stats = integrity::check(rtx.version(), self.shared.store.len()?)?;
        if let Some(v) = recovery::format_version(&self.shared.store, self.shared.page_size)? {
            stats.format_version = v;
        }
        Ok(stats)
    }

    /// Read-only handles (of any process) that have this database open now, as `(process id,
    /// oldest commit id they read, or 0 if none)`, this handle excepted. Stale slots of
    /// processes that died are not listed (and pin nothing).
    pub fn readers(&self) -> Vec<(u64, u64)> {
        self.shared.foreign_readers()
    }

    /// The page cache's counters (hits, misses, evictions, ARC's lists and target), with
    /// [`Backend::Cached`]; None with the map. Cheap: it does not walk the database.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.shared
            .current
            .load_full()
            .view
            .cache()
            .map(|c| c.stats())
    }

    /// Makes every commit so far durable, including Eventual ones: one sync of the commit log
    /// (shared with the commits of other threads waiting for one). A failed sync leaves the handle
    /// refusing writes (`PreviousIo`), as a failed commit does: what reached the disk is unknown.
    pub fn sync(&self) -> Result<()> {
        if self.shared.config.read_only {
            return Ok(());
        }
        self.shared.sync()
    }

    /// Checkpoints now: the tree pages of every commit since the last checkpoint, and a meta slot
    /// naming the newest commit, are made durable with one sync, and the commit log starts over
    /// (docs/FORMAT.md section 13). Waits for an open write transaction to end. larchdb
    /// checkpoints by itself when the log is full, when freed pages of the last checkpoint reach a
    /// quarter of the file, when commits pause (a whole sync interval) after at least 1,024 such
    /// pages were freed, and on close; call this to bound the next open's replay, or before
    /// copying the file with other tools.
    pub fn checkpoint(&self) -> Result<()> {
        if self.shared.config.read_only {
            return Ok(());
        }
        self.shared.checkpoint_now()
    }

    /// Gives the file's free space back to the filesystem, in place: commits (as checkpoints)
    /// that first pack every table's leaves, then its branches, densely into the lowest free
    /// pages, then give back the free run at the end of the file and move the live pages and the
    /// commit log region out of its way, repeated while they gain something. Waits for an open
    /// write transaction to end; readers keep running on their snapshots, and whatever they
    /// still reach is left where it is (compact again once they ended). Returns what it did.
    pub fn compact(&self) -> Result<Compaction> {
        if self.shared.config.read_only {
            return Err(Error::ReadOnly);
        }
        crate::compact::compact(&self.shared)
    }

    /// Online backup: writes a consistent copy of the latest commit to a new file at `path`
    /// while writers go on ([`ReadTxn::backup_to`]); with `compact`, the copy is then opened and
    /// compacted ([`Database::compact`]), so that it holds little free space. Returns what the
    /// copy holds (`file_size` after compaction, if any).
    pub fn backup(&self, path: impl AsRef<Path>, compact: bool) -> Result<Backup> {
        let path = path.as_ref();
        let mut b = self.begin_read()?.backup_to(path)?;
        if compact {
            let copy = Database::builder()
                .page_size(self.page_size())
                .sync_interval(None)
                .open(path)?;
            b.file_size = copy.compact()?.file_after;
        }
        Ok(b)
    }

    /// Records `pages` (free in this file but in no freelist entry: a backup's) in the freelist
    /// with one checkpoint.
    pub(crate) fn record_free(&self, pages: &[u64]) -> Result<()> {
        let mut w = TxnCore::begin(self.shared.clone())?;
        w.record_free(pages);
        w.commit()
    }

    /// Counters of the write path since the database was opened: commit latency percentiles,
    /// commits, syncs, log records and bytes, checkpoints (count, time, bytes), and the page
    /// cache's hit rate. Cheap: a few atomic loads.
    pub fn metrics(&self) -> Metrics {
        let hit_rate = self.cache_stats().map(|c| c.hit_rate());
        self.shared
            .metrics
            .snapshot(hit_rate, self.shared.awake.awake_time())
    }

    /// What opening the file rolled back or repaired, if anything: a newer commit whose meta slot
    /// or pages did not verify (a crash before its sync completed, or damage since) was discarded
    /// and the previous commit opened, or an interrupted creation was redone. A meta slot that
    /// cannot be read at all (zeroed, overwritten) beside a valid one is reported too, since it
    /// may have held the newest commit (its txn is then unknown: `discarded_txn` is None). None
    /// after a clean open.
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// The file's page size.
    pub fn page_size(&self) -> usize {
        self.shared.page_size
    }

    /// Longest key accepted: a quarter of the page size (1024 bytes at 4 KiB pages). Keys must
    /// also be at least one byte long.
    pub fn max_key_len(&self) -> usize {
        crate::btree::max_key_len(self.shared.page_size)
    }
}

impl Drop for Database {
    /// Checkpoints the newest commit (unless a write transaction is still open), so that the next
    /// open has no log to replay.
    fn drop(&mut self) {
        if let Some(thread) = self.syncer.take() {
            self.shared.nudge.stop();
            let _ = thread.join();
        }
        if let Some(thread) = self.awake.take() {
            self.shared.awake.stop();
            let _ = thread.join();
        }
        self.shared.close();
    }
}

/// Test support: how many syncs commits of `db` made because they found `MAX_UNSYNCED_COMMITS`
/// records unsynced (docs/FORMAT.md section 13, step 6).
#[cfg(feature = "testing")]
pub fn bound_syncs(db: &Database) -> u64 {
    db.shared.metrics.bound_syncs()
}

/// Test support: how many table roots the newest commit of `db` keeps out of its catalog tree
/// (docs/FORMAT.md section 13, step 1).
#[cfg(feature = "testing")]
pub fn deferred_roots(db: &Database) -> usize {
    db.shared.deferred_roots()
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("page_size", &self.shared.page_size)
            .finish_non_exhaustive()
    }
}

#[allow(dead_code)]
fn assert_traits() {
    fn send_sync_static<T: Send + Sync + 'static>() {}
    send_sync_static::<Database>();
    send_sync_static::<ReadTxn>();
    send_sync_static::<Error>();
    let _ = Backend::Mmap;
    let _ = Durability::Eventual;
}
