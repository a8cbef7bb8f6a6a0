//! The cached backend's page cache: pages read with `pread` into frames, kept within a fixed
//! capacity by the ARC policy ([`super::arc`]), shared by every transaction of a database.
//!
//! **Large values** (overflow runs) are cached like pages: a run is read into one frame of its
//! own, kept in the table under its first page number, and is one key of the policy that weighs
//! its pages (the policy evicts further keys until the frames' pages fit its capacity), so a
//! reader gets a zero-copy slice of it. A run over a quarter of the capacity would push out too
//! much of the cache: it is not cached, and each transaction that reads it reads it once, into
//! memory of its own that it keeps until it ends ([`PageCache::read_run`],
//! [`CacheStats::private_runs`]).
//!
//! How it stays fast with several reader threads:
//! - **Lookups** go to a table indexed directly by page number ([`super::slots`]): a page hit is
//!   one load of the page's slot (which points straight at the frame's bytes), takes no lock and
//!   writes nothing shared, so readers on different cores do not slow each other down.
//! - **Hits are counted by the reader** (a transaction counts its own, with plain loads and
//!   stores, and adds them to the cache's counters when it leaves: [`PageCache::add_hits`]), and
//!   **reach the policy as a sample, in batches.** One hit in `2^HIT_SAMPLE_BITS` (spread evenly
//!   over the reader's hits: [`sampled`]; one in `2^ROOMY_SAMPLE_BITS` while the policy holds
//!   less than three quarters of its capacity, when it has nothing to choose between and a
//!   recorded hit is mostly a cache miss in its lists) is recorded in the calling thread's
//!   stripe; every `HIT_BATCH` recorded hits the thread replays them into the policy if the
//!   policy's lock is free at that moment. A hit that finds its stripe busy or full is not
//!   recorded: recency is a hint, and dropping a few hits under contention is what keeps hits
//!   from serialising (Caffeine does the same). A page hit often is recorded often, so the pages
//!   every lookup passes through (roots, branches) stay in ARC's frequent list.
//! - **Misses evict in batches.** A miss reads the page outside every lock, inserts the frame
//!   into the table at once, and queues it for the policy. The thread that queues the
//!   `batch`-th page takes the policy lock once, replays the queued hits and misses, and removes
//!   every frame the policy evicted from the table: many frames per acquisition. The policy's
//!   capacity is the page count minus two batches (one being replayed, one queued meanwhile), so
//!   resident pages stay within the capacity, plus, per thread reading at that moment, at most
//!   three frames (one being read, one queued, one being replayed; a frame is a page or a
//!   cached run).
//!
//! **Reclamation by epochs** ([`super::epochs`]). A transaction that reads through the cache
//! first *enters* it ([`PageCache::enter`]). Hits then hand out plain slices of frames, with no
//! reference count touched. A frame removed from the table (evicted, or replaced by a commit) is
//! retired, and freed only once every transaction that entered before it left the table has
//! left, so no slice handed out can dangle. A transaction leaves when it ends, or when
//! `ReadTxn::release_pages(&mut self)` proves it holds no slice. While the retired frames hold
//! `retired_limit` pages or more (a quarter of the capacity, at least 16 MiB: a reader stopped
//! inside a transaction, say descheduled on a busy machine, while others evict), a miss reads
//! its page into memory of the reading transaction instead of the cache, so that memory stays
//! within the capacity, that limit, and what each transaction reads meanwhile.
//!
//! Freed page frames go back to a pool for the next misses (up to the capacity plus the most
//! pages ever retired at once), so memory is allocated once and reused, whatever thread reads. A
//! cache of 16 MiB or more takes its page frames from slabs of transparent huge pages
//! ([`super::frame`]), so that hits over a large cache do not miss the TLB at every page. Run
//! frames live in anonymous mappings of their own ([`super::frame`]: the heap would keep what
//! they free); freed ones are kept for runs of the same length, up to a sixteenth of the
//! capacity, the oldest unmapped first.
//!
//! Coherence: pages are only written by commits, into pages no live snapshot can reach, and a
//! commit replaces the cached frames at every page number it wrote before it publishes the new
//! version ([`PageCache::overwrite`]). A run cached at a page number only a snapshot that
//! references that run reads it, and a run written again at the same page number replaces it.
//! No other process writes the file while it is open (the file lock).
#![allow(unsafe_code)]

use super::arc::ArcPolicy;
use super::epochs::Epochs;
use super::policy::ReplacementPolicy;
use super::slots::{Entry, Slots};
use super::verified::Verifier;
use crate::error::{corrupted, Error, Result};
use crate::store::hasher::PgnoMap;
use parking_lot::Mutex;
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Fewest frames a cache may have.
pub const MIN_FRAMES: usize = 4;
/// Number of hit stripes (a power of two); each thread uses one.
const STRIPES: usize = 16;
/// Hits a stripe collects before it tries to replay them into the policy.
const HIT_BATCH: usize = 64;
/// One hit in `2^HIT_SAMPLE_BITS` is recorded for the policy (see [`sampled`])...
const HIT_SAMPLE_BITS: u32 = 3;
/// ...or one in `2^ROOMY_SAMPLE_BITS` while the policy's pages are under three quarters of its
/// capacity (`PageCache::full` is false).
const ROOMY_SAMPLE_BITS: u32 = 6;
/// Hits a stripe holds at most; more are dropped until the policy takes them.
const HIT_CAP: usize = 256;
/// Largest number of pages missed before a replay (and so evictions made per policy lock
/// acquisition).
const MAX_MISS_BATCH: usize = 64;
/// Misses are not cached while the frames retired hold more pages than the capacity divided by
/// this...
const RETIRED_SHARE: usize = 4;
/// ...or than this many bytes, if more.
const MIN_RETIRED_BYTES: usize = 16 << 20;
/// Run frames kept for reuse hold at most the capacity divided by this.
const RUN_POOL_SHARE: u64 = 16;
/// A large value is cached if its run of pages is at most the policy's capacity divided by this;
/// a larger one is read privately by each transaction that reads it.
const MAX_RUN_SHARE: usize = 4;

pub(crate) use super::frame::Frame;
use super::frame::{Slabs, MIN_SLAB_CAPACITY};

/// Counters and policy state of a page cache, as reported by [`crate::Database::stats`] and
/// [`crate::Database::cache_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Capacity in bytes, as configured.
    pub capacity_bytes: u64,
    /// Capacity in pages.
    pub capacity_frames: usize,
    /// Pages in the cache now (a large value cached as one frame counts all its pages).
    pub resident_frames: usize,
    /// Lookups served from the cache (a page, or a large value's run of pages).
    pub hits: u64,
    /// Lookups that read the file (a large value too large to cache counts as one).
    pub misses: u64,
    /// Frames evicted (a large value's run counts as one).
    pub evictions: u64,
    /// Pages of frames evicted (or replaced by a commit) that are kept until the read
    /// transactions that were reading when they left the cache end.
    pub retired_frames: usize,
    /// Large values (runs of pages) read from the file, into the cache or privately.
    pub run_reads: u64,
    /// Of `run_reads`, the large values read privately by a transaction: those over a quarter of
    /// the cache's capacity, which would evict too much of it. Each transaction that reads one
    /// reads it once and keeps it until it ends.
    pub private_runs: u64,
    /// ARC's adaptive target size of T1 (`p`), in frames.
    pub target_t1: usize,
    /// ARC's list lengths, in frames: T1 (resident, seen once), T2 (resident, seen again), B1 and
    /// B2 (ghosts of frames evicted from T1 and T2).
    pub arc_lists: [usize; 4],
}

impl CacheStats {
    /// Hits divided by lookups (0 before the first lookup).
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

/// One thread's hit recorder, on its own cache lines.
#[repr(align(128))]
#[derive(Default)]
struct Stripe {
    hits: AtomicU64,
    pending: Mutex<Vec<u64>>,
}

/// What the policy lock guards.
struct Policy {
    arc: ArcPolicy,
    /// The pages of each ARC-resident key whose frame is not one page: a large value's run, or 0
    /// for a key whose frame a commit removed.
    weights: PgnoMap<usize>,
    /// Pages of the ARC-resident keys' frames (at most the ARC's capacity after each replay).
    pages: usize,
    /// Misses taken from the queue, being replayed: (first page, pages).
    replaying: Vec<(u64, u64)>,
    /// Keys the policy evicted, to remove from the table.
    evicted: Vec<u64>,
    evictions: u64,
}

impl Policy {
    /// The pages of resident key `k`'s frame.
    fn weight(&self, k: u64) -> usize {
        self.weights.get(&k).copied().unwrap_or(1)
    }

    /// After the policy took a request for `k` (`hit` if it was resident): `k` is resident with a
    /// frame of `pages` pages.
    fn admitted(&mut self, k: u64, pages: usize, hit: bool) {
        if !hit {
            // A new resident key (the ghost lists hold no weight).
            self.weights.remove(&k);
            self.pages += 1;
        }
        self.set_weight(k, pages);
    }

    /// Records that resident key `k`'s frame now holds `pages` pages.
    fn set_weight(&mut self, k: u64, pages: usize) {
        self.pages = self.pages + pages - self.weight(k);
        if pages == 1 {
            self.weights.remove(&k);
        } else {
            self.weights.insert(k, pages);
        }
    }
}

/// Misses waiting for the policy.
#[derive(Default)]
struct Queue {
    /// (first page, pages) of each frame inserted.
    misses: Vec<(u64, u64)>,
    /// Their pages.
    pages: usize,
}

/// A value on cache lines of its own, so that writes to it do not slow down reads of what lies
/// beside it (what every lookup reads is written only when the cache is made).
#[repr(align(128))]
#[derive(Default)]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Counters written by misses, evictions and reclamation.
#[derive(Default)]
struct Counters {
    /// Pages of frames allocated and not yet freed: in the table, retired, in the pool, or being
    /// read. Freed page frames go back to the pool while this is within the capacity plus the
    /// most pages ever retired at once (what readers overlapping evictions need), so that misses
    /// reuse memory instead of allocating (with glibc, memory freed by one thread is not reused
    /// by another's allocations) and memory stays at what the workload needs.
    allocated: AtomicUsize,
    /// The most pages `Epochs` has held retired.
    retired_peak: AtomicUsize,
    /// Pages of the frames in the table.
    resident: AtomicUsize,
    /// Pages of the frames retired now (what `Epochs` holds; stored under its lock).
    retired: AtomicUsize,
    misses: AtomicU64,
    run_reads: AtomicU64,
    private_runs: AtomicU64,
}

/// A bounded cache of pages read from one file; see the module documentation.
pub(crate) struct PageCache {
    file: File,
    page_size: usize,
    capacity_bytes: u64,
    capacity_frames: usize,
    /// Pages missed between two replays.
    batch: usize,
    /// The largest run of pages cached (larger ones are read privately).
    max_run: u64,
    /// While the retired frames hold at least this many pages, misses are not cached (they are
    /// read privately): see the module documentation.
    retired_limit: usize,
    slots: Slots,
    /// Where page frames come from if the cache is large enough for slabs of huge pages
    /// ([`super::frame`]); else from the heap.
    slabs: Option<Arc<Slabs>>,
    /// With verification on: the check every page or run read from the file passes before it is
    /// cached or lent (once per miss; hits trust the frame).
    verify: Option<Verifier>,
    stripes: Box<[Stripe]>,
    /// Whether the policy's pages were at least three quarters of its capacity at the last
    /// replay: hits are then sampled more densely (see [`ROOMY_SAMPLE_BITS`]). Written only when
    /// it changes, so readers keep its line shared.
    full: Padded<AtomicBool>,
    counters: Padded<Counters>,
    epochs: Padded<Mutex<Epochs>>,
    pool: Padded<Mutex<Vec<Frame>>>,
    /// Run frames freed, kept for runs of the same length (with the bytes they hold), at most
    /// [`RUN_POOL_SHARE`] of the capacity, the oldest dropped first: reusing one costs no
    /// mapping, faulting in and zeroing.
    run_pool: Padded<Mutex<(std::collections::VecDeque<Frame>, usize)>>,
    queued: Padded<Mutex<Queue>>,
    policy: Padded<Mutex<Policy>>,
}

/// Whether a reader's `nth` hit (counting from 0) is one of those recorded for the policy: one in
/// `2^bits`, chosen by Fibonacci hashing of the count, so that the sample is spread evenly over
/// any stride (a lookup that passes the same levels of the tree in the same order would otherwise
/// always record the same level).
#[inline]
fn sampled(nth: u64, bits: u32) -> bool {
    nth.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits) == 0
}

/// The stripe of the calling thread.
#[inline]
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static INDEX: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) });
    INDEX.with(|i| match i.get() {
        usize::MAX => {
            let n = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
            i.set(n);
            n
        }
        n => n,
    })
}

/// The number of frames `capacity_bytes` holds; `InvalidOption` if fewer than [`MIN_FRAMES`].
pub(crate) fn check_capacity(capacity_bytes: usize, page_size: usize) -> Result<usize> {
    let frames = capacity_bytes / page_size;
    if frames < MIN_FRAMES {
        return Err(Error::InvalidOption(format!(
            "cache capacity of {capacity_bytes} bytes holds fewer than {MIN_FRAMES} pages of \
             {page_size} bytes"
        )));
    }
    Ok(frames)
}

impl PageCache {
    /// A cache of `capacity_bytes` for pages of `page_size` bytes read from `file`, checking
    /// each page read from the file with `verify` (if given). Fails with `InvalidOption` if that
    /// is fewer than [`MIN_FRAMES`] pages.
    pub fn new(
        file: File,
        page_size: usize,
        capacity_bytes: usize,
        verify: Option<Verifier>,
    ) -> Result<PageCache> {
        let frames = check_capacity(capacity_bytes, page_size)?;
        let batch = (frames / 16).clamp(1, MAX_MISS_BATCH);
        debug_assert!(frames >= MIN_FRAMES && 2 * batch < frames);
        let policy_pages = (frames - 2 * batch).max(1);
        Ok(PageCache {
            file,
            page_size,
            capacity_bytes: capacity_bytes as u64,
            capacity_frames: frames,
            batch,
            max_run: (policy_pages / MAX_RUN_SHARE).max(1) as u64,
            retired_limit: (frames / RETIRED_SHARE).max(MIN_RETIRED_BYTES / page_size),
            slots: Slots::new(page_size),
            slabs: (capacity_bytes >= MIN_SLAB_CAPACITY)
                .then(|| Slabs::new(page_size))
                .flatten(),
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
            full: Padded::default(),
            counters: Padded::default(),
            epochs: Padded::default(),
            pool: Padded::default(),
            run_pool: Padded::default(),
            queued: Padded::default(),
            policy: Padded(Mutex::new(Policy {
                arc: ArcPolicy::new(policy_pages),
                weights: PgnoMap::default(),
                pages: 0,
                replaying: Vec::with_capacity(batch),
                evicted: Vec::with_capacity(batch),
                evictions: 0,
            })),
            verify,
        })
    }

    /// Registers a reader: until the matching [`PageCache::leave`], no frame it finds in the cache
    /// is freed. Returns the epoch to leave with.
    pub fn enter(&self) -> u64 {
        self.epochs.lock().enter()
    }

    /// Unregisters a reader that entered at `epoch`, and frees what no reader can hold any more.
    pub fn leave(&self, epoch: u64) {
        let mut e = self.epochs.lock();
        e.leave(epoch);
        e.collect(self.page_size, |entry| self.recycle(entry.frame));
        self.counters
            .retired
            .store(e.retired_pages(), Ordering::Relaxed);
    }

    /// Retires entries just removed from the table, and frees what no reader can hold any more.
    /// (Boxed: readers hold pointers to them, so they must not move.)
    #[allow(clippy::vec_box)]
    fn retire(&self, entries: Vec<Box<Entry>>) {
        if entries.is_empty() {
            return;
        }
        let pages: usize = entries.iter().map(|e| e.len() / self.page_size).sum();
        self.counters.resident.fetch_sub(pages, Ordering::Relaxed);
        let mut e = self.epochs.lock();
        e.retire(entries, pages);
        self.counters
            .retired_peak
            .fetch_max(e.retired_pages(), Ordering::Relaxed);
        e.collect(self.page_size, |entry| self.recycle(entry.frame));
        self.counters
            .retired
            .store(e.retired_pages(), Ordering::Relaxed);
    }

    /// The `npages` pages from `pgno` (a page, or a large value's run) from the cache, or read
    /// from the file into it; `with` gets the frame while it is certainly in the table. `None`
    /// if they are not to be cached: a run over the size limit, a page number beyond the table,
    /// a frame of another length cached at `pgno` (which a correct tree never asks for), or a
    /// miss while the retired frames hold `retired_limit` pages or more.
    ///
    /// The caller has entered the cache ([`PageCache::enter`]) and not left since.
    #[inline]
    fn lookup<R>(&self, pgno: u64, npages: u64, with: impl Fn(&Entry) -> R) -> Result<Option<R>> {
        let len = npages as usize * self.page_size;
        let e = self.slots.get(pgno);
        if !e.is_null() {
            // SAFETY: the caller entered the cache before this load and has not left, so an entry
            // loaded from the table stays allocated (it is retired, not freed, when it leaves the
            // table) until the caller leaves; an entry is never written once in the table.
            let e = unsafe { &*e };
            if e.len() != len {
                return Ok(None);
            }
            let r = with(e);
            self.hit(pgno);
            return Ok(Some(r));
        }
        self.lookup_miss(pgno, npages, with)
    }

    /// The miss path of [`PageCache::lookup`]: reads the frame and puts it in the table (or uses
    /// the one another thread put there meanwhile).
    #[inline(never)]
    fn lookup_miss<R>(
        &self,
        pgno: u64,
        npages: u64,
        with: impl Fn(&Entry) -> R,
    ) -> Result<Option<R>> {
        if npages > self.max_run
            || !Slots::covers(pgno)
            || self.counters.retired.load(Ordering::Relaxed) >= self.retired_limit
        {
            return Ok(None);
        }
        let frame = if npages == 1 {
            self.read_page(pgno)?
        } else {
            self.counters.run_reads.fetch_add(1, Ordering::Relaxed);
            let frame = self.read_run_frame(pgno, npages)?;
            self.counters
                .allocated
                .fetch_add(npages as usize, Ordering::Relaxed);
            frame
        };
        let entry = Entry::new(frame);
        let r = with(&entry);
        match self.slots.replace_if(pgno, std::ptr::null(), entry) {
            Ok(_) => {
                // The entry and its frame's bytes did not move: `r` still describes them.
                self.counters
                    .resident
                    .fetch_add(npages as usize, Ordering::Relaxed);
                self.counters.misses.fetch_add(1, Ordering::Relaxed);
                self.queue_miss(pgno, npages);
                Ok(Some(r))
            }
            Err(ours) => {
                // Another thread cached it meanwhile: use its frame; ours goes back to the pool.
                self.recycle(ours.frame);
                self.lookup(pgno, npages, with)
            }
        }
    }

    /// Page `pgno` (`npages == 1`) or the run of `npages` pages from it, as a frame the caller
    /// shares (it lives as long as the caller holds it), without entering the cache.
    pub fn get(&self, pgno: u64, npages: u64) -> Result<Frame> {
        let epoch = self.enter();
        let r = self.lookup(pgno, npages, |e| e.frame.clone());
        self.leave(epoch);
        match r? {
            Some(frame) => Ok(frame),
            None => self.read_run(pgno, npages),
        }
    }

    /// Page `pgno`'s bytes if the cache holds them as a page: the hit path, one load of the
    /// table, no lock, no shared write. The hit is not counted: the caller counts it (and adds
    /// its count with [`PageCache::add_hits`]), and passes a sample of them to
    /// [`PageCache::record_hit`]. The caller must have entered the cache ([`PageCache::enter`])
    /// and not left since: then the bytes stay allocated, and unchanged, until it leaves.
    #[inline]
    pub fn page_entered(&self, pgno: u64) -> Option<*const [u8]> {
        let page = self.slots.page(pgno);
        (!page.is_null()).then(|| std::ptr::slice_from_raw_parts(page, self.page_size))
    }

    /// The `npages` pages from `pgno`, as a pointer to the bytes of a frame in the table, or
    /// `None` if they are not cached (see [`PageCache::lookup`]: the caller reads them with
    /// [`PageCache::read_run`]). The caller must have entered the cache ([`PageCache::enter`])
    /// and not left since: then the bytes stay allocated, and unchanged, until it leaves.
    #[inline]
    pub fn get_entered(&self, pgno: u64, npages: u64) -> Result<Option<*const [u8]>> {
        self.lookup(pgno, npages, |e| e.bytes)
    }

    /// Puts a frame nobody else holds back into its pool (or frees it if the pool is full). A
    /// frame still shared (lent out by [`PageCache::get`]) is freed by its last holder instead.
    fn recycle(&self, mut frame: Frame) {
        let pages = frame.len() / self.page_size;
        let unshared = Arc::get_mut(&mut frame).is_some();
        if pages > 1 {
            // Counted as allocated while cached only.
            self.counters.allocated.fetch_sub(pages, Ordering::Relaxed);
            let limit = self.capacity_bytes / RUN_POOL_SHARE;
            if unshared && frame.len() as u64 <= limit {
                // Frames of lengths no longer read go first (freed once the lock is released).
                let mut dropped = Vec::new();
                let mut pool = self.run_pool.lock();
                pool.1 += frame.len();
                pool.0.push_back(frame);
                while pool.1 as u64 > limit {
                    let Some(old) = pool.0.pop_front() else { break };
                    pool.1 -= old.len();
                    dropped.push(old);
                }
            }
            return;
        }
        let budget = self.capacity_frames
            + 2 * self.batch
            + self.counters.retired_peak.load(Ordering::Relaxed);
        if unshared && self.counters.allocated.load(Ordering::Relaxed) <= budget {
            self.pool.lock().push(frame);
        } else {
            // Freed here, or by the last holder of a frame lent out.
            self.counters.allocated.fetch_sub(pages, Ordering::Relaxed);
        }
    }

    /// A run frame of `len` bytes: a pooled one of that length, or a new one.
    fn run_frame(&self, len: usize) -> Result<Frame> {
        let pooled = {
            let mut pool = self.run_pool.lock();
            let i = pool.0.iter().rposition(|f| f.len() == len);
            i.and_then(|i| {
                pool.1 -= len;
                pool.0.remove(i)
            })
        };
        match pooled {
            Some(frame) => Ok(frame),
            None => super::frame::run(len),
        }
    }

    /// A new page frame (its bytes unspecified: the caller fills them): from the slabs if the
    /// cache has them (and one can be mapped), else from the heap.
    fn new_frame(&self) -> Frame {
        self.counters.allocated.fetch_add(1, Ordering::Relaxed);
        self.slabs
            .as_ref()
            .and_then(|s| s.page().ok())
            .unwrap_or_else(|| super::frame::page(self.page_size))
    }

    /// A page frame holding a copy of `page` (a page a commit wrote), from the pool or new, as a
    /// read takes one (so from the slabs of huge pages when the cache has them); counted as
    /// allocated.
    pub(super) fn frame_copy(&self, page: &[u8]) -> Frame {
        self.fill_frame(|buf| buf.copy_from_slice(page)).0
    }

    /// A page frame from the pool (or a new one), filled by `fill`.
    fn fill_frame<T>(&self, fill: impl FnOnce(&mut [u8]) -> T) -> (Frame, T) {
        let pooled = self.pool.lock().pop();
        let mut frame = pooled.unwrap_or_else(|| self.new_frame());
        loop {
            // Pooled and new frames are never shared, so this takes the first branch.
            if let Some(buf) = Arc::get_mut(&mut frame) {
                let filled = fill(buf);
                return (frame, filled);
            }
            frame = self.new_frame();
        }
    }

    /// Reads page `pgno` into a frame from the pool (or a new one), and verifies it.
    fn read_page(&self, pgno: u64) -> Result<Frame> {
        let (frame, read) = self.fill_frame(|buf| {
            self.read_into(buf, pgno)
                .and_then(|()| self.verified(pgno, buf))
        });
        if let Err(e) = read {
            self.recycle(frame);
            return Err(e);
        }
        Ok(frame)
    }

    /// Whether every page or run read from the file is verified before it is cached or lent.
    pub fn verifies(&self) -> bool {
        self.verify.is_some()
    }

    /// Runs the check (if verification is on) on a page or run just read from the file.
    fn verified(&self, pgno: u64, bytes: &[u8]) -> Result<()> {
        self.verify.map_or(Ok(()), |verify| verify(pgno, bytes))
    }

    /// `npages` consecutive pages from `pgno` read from the file into a new frame, verified.
    fn read_run_frame(&self, pgno: u64, npages: u64) -> Result<Frame> {
        let len = npages
            .checked_mul(self.page_size as u64)
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| corrupted(pgno, format!("run of {npages} pages is too large")))?;
        let mut frame = self.run_frame(len)?;
        let bytes = Arc::get_mut(&mut frame).expect("a new or pooled frame is not shared");
        self.read_into(bytes, pgno)?;
        self.verified(pgno, bytes)?;
        Ok(frame)
    }

    /// `npages` consecutive pages from `pgno` (a large value), read from the file into one frame
    /// of their own, outside the cache: for a value too large to cache, or a page the cache
    /// does not take now (see [`PageCache::lookup`]).
    pub fn read_run(&self, pgno: u64, npages: u64) -> Result<Frame> {
        if npages == 1 {
            // On the heap, outside the cache's counts of its frames: the caller keeps it.
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            let mut frame = super::frame::page(self.page_size);
            let buf = Arc::get_mut(&mut frame).expect("a new frame is not shared");
            self.read_into(buf, pgno)?;
            self.verified(pgno, buf)?;
            return Ok(frame);
        }
        self.counters.run_reads.fetch_add(1, Ordering::Relaxed);
        self.counters.private_runs.fetch_add(1, Ordering::Relaxed);
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        self.read_run_frame(pgno, npages)
    }

    /// Fills `bytes` from page `pgno` on; a short read (the file was truncated under us) is an
    /// error, never a partial page.
    fn read_into(&self, bytes: &mut [u8], pgno: u64) -> Result<()> {
        let len = bytes.len();
        let done = super::storage::read_full_at(&self.file, bytes, pgno * self.page_size as u64)?;
        if done < len {
            return Err(corrupted(
                pgno,
                format!(
                    "the file ends inside this page run ({done} of {len} bytes read): \
                     truncated while open?"
                ),
            ));
        }
        Ok(())
    }

    /// Adds `hits` that a reader counted itself (hits through [`PageCache::page_entered`]) to
    /// the cache's counters.
    pub fn add_hits(&self, hits: u64) {
        if hits > 0 {
            self.stripes[stripe_index()]
                .hits
                .fetch_add(hits, Ordering::Relaxed);
        }
    }

    /// The sampling rate of hits now: one in `2^sample_bits()` is recorded.
    #[inline]
    fn sample_bits(&self) -> u32 {
        if self.full.load(Ordering::Relaxed) {
            HIT_SAMPLE_BITS
        } else {
            ROOMY_SAMPLE_BITS
        }
    }

    /// Records a hit on `pgno` that a reader counted itself, if it is its `nth` and that is one
    /// of the sample (see [`sampled`]).
    #[inline]
    pub fn record_hit(&self, pgno: u64, nth: u64) {
        if sampled(nth, self.sample_bits()) {
            self.record(&self.stripes[stripe_index()], pgno);
        }
    }

    /// Counts a hit (through the table's entries: a run, or [`PageCache::get`]) and records it
    /// if it is one of the sample.
    #[inline]
    fn hit(&self, pgno: u64) {
        let stripe = &self.stripes[stripe_index()];
        if sampled(
            stripe.hits.fetch_add(1, Ordering::Relaxed),
            self.sample_bits(),
        ) {
            self.record(stripe, pgno);
        }
    }

    /// Records a hit on `pgno` in `stripe` (see [`PageCache::hit`]).
    #[inline(never)]
    fn record(&self, stripe: &Stripe, pgno: u64) {
        let Some(mut pending) = stripe.pending.try_lock() else {
            return;
        };
        if pending.len() < HIT_CAP {
            pending.push(pgno);
        }
        if pending.len() >= HIT_BATCH {
            if let Some(mut policy) = self.policy.try_lock() {
                Self::replay_hits(&mut pending, &mut policy);
            }
        }
    }

    /// Under the policy lock: replays a stripe's recorded hits.
    fn replay_hits(pending: &mut Vec<u64>, policy: &mut Policy) {
        for k in pending.drain(..) {
            policy.arc.touch(k);
        }
    }

    /// Queues a frame just inserted into the table; the thread that fills the queue replays it.
    fn queue_miss(&self, pgno: u64, npages: u64) {
        let full = {
            let mut q = self.queued.lock();
            q.misses.push((pgno, npages));
            q.pages += npages as usize;
            q.pages >= self.batch
        };
        if full {
            let mut policy = self.policy.lock();
            self.replay(&mut policy);
        }
    }

    /// Under the policy lock: replays the recorded hits and queued misses, then removes what the
    /// policy evicted from the table, evicting more while the frames' pages exceed the policy's
    /// capacity (large values weigh their pages).
    fn replay(&self, policy: &mut Policy) {
        for stripe in self.stripes.iter() {
            if let Some(mut pending) = stripe.pending.try_lock() {
                Self::replay_hits(&mut pending, policy);
            }
        }
        {
            let mut q = self.queued.lock();
            std::mem::swap(&mut q.misses, &mut policy.replaying);
            q.pages = 0;
        }
        let mut replaying = std::mem::take(&mut policy.replaying);
        let mut last = None;
        for &(k, npages) in &replaying {
            let hit = policy.arc.access(k, &mut policy.evicted);
            policy.admitted(k, npages as usize, hit);
            self.drop_evicted(policy);
            last = Some(k);
        }
        replaying.clear();
        policy.replaying = replaying;
        if let Some(avoid) = last {
            while policy.pages > policy.arc.capacity() {
                if !policy.arc.evict(avoid, &mut policy.evicted) {
                    break;
                }
                self.drop_evicted(policy);
            }
        }
        let full = policy.pages >= policy.arc.capacity() / 4 * 3;
        if self.full.load(Ordering::Relaxed) != full {
            self.full.store(full, Ordering::Relaxed);
        }
    }

    /// Under the policy lock: removes the frames of the keys the policy just evicted from the
    /// table, and retires them.
    fn drop_evicted(&self, policy: &mut Policy) {
        if policy.evicted.is_empty() {
            return;
        }
        let mut removed = Vec::with_capacity(policy.evicted.len());
        for k in std::mem::take(&mut policy.evicted) {
            policy.pages -= policy.weight(k);
            policy.weights.remove(&k);
            policy.evictions += 1;
            removed.extend(self.slots.take(k));
        }
        self.retire(removed);
    }

    /// Counters and policy state.
    pub fn stats(&self) -> CacheStats {
        let policy = self.policy.lock();
        let lens = policy.arc.lens();
        CacheStats {
            capacity_bytes: self.capacity_bytes,
            capacity_frames: self.capacity_frames,
            resident_frames: self.counters.resident.load(Ordering::Relaxed),
            hits: self
                .stripes
                .iter()
                .map(|s| s.hits.load(Ordering::Relaxed))
                .sum(),
            misses: self.counters.misses.load(Ordering::Relaxed),
            evictions: policy.evictions,
            retired_frames: self.epochs.lock().retired_pages(),
            run_reads: self.counters.run_reads.load(Ordering::Relaxed),
            private_runs: self.counters.private_runs.load(Ordering::Relaxed),
            target_t1: policy.arc.target(),
            arc_lists: [lens.t1, lens.t2, lens.b1, lens.b2],
        }
    }
}

#[path = "cache_writes.rs"]
mod writes;

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
