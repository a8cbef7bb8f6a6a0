//! The cached backend's page cache: pages read with `pread` into frames, kept within a fixed
//! capacity by the ARC policy ([`super::arc`]), shared by every transaction of a database.
//!
//! How it stays fast with several reader threads:
//! - **Lookups** go to a sharded map (page number → frame) under a shard's *read* lock, so hits
//!   never take a lock exclusively, even on the same page.
//! - **Hits reach the policy in batches.** Each thread records its hits in its own stripe; every
//!   `HIT_BATCH` hits it replays them into the policy if the policy's lock is free at that
//!   moment. A hit that finds its stripe busy or full is not recorded: recency is a hint, and
//!   dropping a few hits under contention is what keeps hits from serialising (Caffeine does the
//!   same). Between two replays (a *generation*) a page records at most one hit, and only one
//!   page in `HIT_SAMPLE` (a different sample each generation) records at all, so the pages every
//!   lookup passes through (roots, branches) do not flood the policy. (Root and branch pages
//!   mostly do not even reach the map: see the per-thread table in `view.rs`.)
//! - **Misses evict in batches.** A miss reads the page outside every lock, inserts the frame
//!   into the map at once, and queues the page for the policy. The thread that queues the
//!   `batch`-th page takes the policy lock once, replays the queued hits and misses, and removes
//!   every page the policy evicted from the map, shard by shard: many frames per acquisition.
//!   The policy's capacity is the frame count minus two batches (one being replayed, one
//!   queued meanwhile), so resident frames stay within the capacity, plus at most three frames
//!   per thread reading at that moment (one being read, one queued, one being replayed).
//!
//! **Reclamation by epochs.** A transaction that reads through the cache first *enters* it: it is
//! registered under the current epoch ([`PageCache::enter`]). Hits then hand out plain slices of
//! frames, with no reference count touched. A frame removed from the map (evicted, or replaced by
//! a commit) is *retired* under the current epoch, and the epoch advances; it is freed only once
//! every transaction that entered at or before that epoch has left, so no slice handed out can
//! dangle. A transaction leaves when it ends, or when `ReadTxn::release_pages(&mut self)` proves
//! it holds no slice. Freed frames go back to a pool for the next misses (up to the capacity
//! plus the most frames ever retired at once), so memory is allocated once and reused, whatever
//! thread reads. (crossbeam-epoch's guards cannot be used
//! here: they are tied to a thread, and a read transaction may move between threads.)
//!
//! Coherence: pages are only written by commits, into pages no live snapshot can reach, and a
//! commit replaces the cached frames of every page it wrote before it publishes the new version
//! ([`PageCache::overwrite`]). No other process writes the file while it is open (the file lock).

use super::arc::ArcPolicy;
use super::policy::ReplacementPolicy;
use super::verified::Verifier;
use crate::error::{corrupted, Error, Result};
use crate::store::hasher::{bucket, PgnoMap};
use parking_lot::{Mutex, RwLock};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Fewest frames a cache may have.
pub const MIN_FRAMES: usize = 4;
/// Number of map shards (a power of two).
const SHARDS: usize = 1 << SHARD_BITS;
/// Bits of a page number's hash that choose its shard.
const SHARD_BITS: u32 = 6;
/// Number of hit stripes (a power of two); each thread uses one.
const STRIPES: usize = 16;
/// Hits a stripe collects before it tries to replay them into the policy.
const HIT_BATCH: usize = 64;
/// One page in this many records its hits in a given generation (see `PageCache::fresh_hit`).
const HIT_SAMPLE: u64 = 4;
/// Hits a stripe holds at most; more are dropped until the policy takes them.
const HIT_CAP: usize = 256;
/// Largest number of misses replayed (and evictions made) per policy lock acquisition.
const MAX_MISS_BATCH: usize = 64;

/// One cached page (or, for a large value, one run of pages): immutable once in the map. The
/// reference count and the first bytes of the page share one allocation.
pub(crate) type Frame = Arc<[u8]>;

/// A page in the map: its frame, and the hit generation in which a hit on it was last recorded.
struct Entry {
    frame: Frame,
    recorded: AtomicU64,
}

/// Counters and policy state of a page cache, as reported by [`crate::Database::stats`] and
/// [`crate::Database::cache_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Capacity in bytes, as configured.
    pub capacity_bytes: u64,
    /// Capacity in frames (one page each).
    pub capacity_frames: usize,
    /// Frames in the cache now.
    pub resident_frames: usize,
    /// Page lookups served from the cache.
    pub hits: u64,
    /// Page lookups that read the file.
    pub misses: u64,
    /// Frames evicted.
    pub evictions: u64,
    /// Frames evicted (or replaced by a commit) that are kept until the read transactions that
    /// were reading when they left the cache end.
    pub retired_frames: usize,
    /// Large values (runs of pages) read from the file; they bypass the cache and are assembled
    /// once per transaction.
    pub run_reads: u64,
    /// ARC's adaptive target size of T1 (`p`), in frames.
    pub target_t1: usize,
    /// ARC's list lengths: T1 (resident, seen once), T2 (resident, seen again), B1 and B2 (ghosts
    /// of pages evicted from T1 and T2).
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

/// Who is reading, and what waits for them: guarded by one lock, so an epoch seen on entry and
/// the retirements after it are ordered.
#[derive(Default)]
struct Epochs {
    /// The current epoch: advances at every retirement.
    current: u64,
    /// Transactions inside the cache, by the epoch they entered at.
    readers: std::collections::BTreeMap<u64, usize>,
    /// Frames removed from the map, by the epoch they were retired at (ascending).
    retired: std::collections::VecDeque<(u64, Vec<Frame>)>,
    /// How many frames `retired` holds.
    retired_frames: usize,
}

/// What the policy lock guards.
struct Policy {
    arc: ArcPolicy,
    /// Misses taken from the queue, being replayed.
    replaying: Vec<u64>,
    /// Pages the policy evicted, to remove from the map.
    evicted: Vec<u64>,
    evictions: u64,
}

/// A bounded cache of pages read from one file; see the module documentation.
pub(crate) struct PageCache {
    file: File,
    page_size: usize,
    capacity_bytes: u64,
    capacity_frames: usize,
    batch: usize,
    shards: Box<[RwLock<PgnoMap<Entry>>]>,
    /// Advances whenever recorded hits are replayed into the policy: a page's hit is recorded
    /// once per generation, so hot pages (roots, branches) do not flood the policy with hits
    /// that would only move them to the front of T2 again.
    generation: AtomicU64,
    /// Page frames allocated and not yet freed: in the map, retired, in the pool, or being read.
    /// Freed frames go back to the pool while this is within the capacity plus the most frames
    /// ever retired at once (what readers overlapping evictions need), so that misses reuse
    /// memory instead of allocating (with glibc, memory freed by one thread is not reused by
    /// another's allocations) and memory stays at what the workload needs.
    allocated: AtomicUsize,
    /// The most frames `Epochs::retired` has held.
    retired_peak: AtomicUsize,
    stripes: Box<[Stripe]>,
    epochs: Mutex<Epochs>,
    pool: Mutex<Vec<Frame>>,
    queued: Mutex<Vec<u64>>,
    policy: Mutex<Policy>,
    misses: AtomicU64,
    run_reads: AtomicU64,
    /// With verification on: the check every page or run read from the file passes before it is
    /// cached or lent (once per miss; hits trust the frame).
    verify: Option<Verifier>,
}

/// The stripe of the calling thread.
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
    INDEX.with(|i| *i)
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

/// The map shard of page `pgno`.
fn shard_index(pgno: u64) -> usize {
    bucket(pgno, SHARD_BITS)
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
        Ok(PageCache {
            file,
            page_size,
            capacity_bytes: capacity_bytes as u64,
            capacity_frames: frames,
            batch,
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
            epochs: Mutex::new(Epochs::default()),
            pool: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            allocated: AtomicUsize::new(0),
            retired_peak: AtomicUsize::new(0),
            queued: Mutex::new(Vec::with_capacity(batch)),
            policy: Mutex::new(Policy {
                arc: ArcPolicy::new((frames - 2 * batch).max(1)),
                replaying: Vec::with_capacity(batch),
                evicted: Vec::with_capacity(batch),
                evictions: 0,
            }),
            misses: AtomicU64::new(0),
            run_reads: AtomicU64::new(0),
            verify,
        })
    }

    fn shard(&self, pgno: u64) -> &RwLock<PgnoMap<Entry>> {
        &self.shards[shard_index(pgno)]
    }

    /// Registers a reader: until the matching [`PageCache::leave`], no frame it finds in the cache
    /// is freed. Returns the epoch to leave with.
    pub fn enter(&self) -> u64 {
        let mut e = self.epochs.lock();
        let epoch = e.current;
        *e.readers.entry(epoch).or_default() += 1;
        epoch
    }

    /// Unregisters a reader that entered at `epoch`, and frees what no reader can hold any more.
    pub fn leave(&self, epoch: u64) {
        let mut e = self.epochs.lock();
        if let std::collections::btree_map::Entry::Occupied(mut o) = e.readers.entry(epoch) {
            *o.get_mut() -= 1;
            if *o.get() == 0 {
                o.remove();
            }
        }
        self.collect(&mut e);
    }

    /// Retires frames just removed from the map, and frees what no reader can hold any more.
    fn retire(&self, frames: Vec<Frame>) {
        if frames.is_empty() {
            return;
        }
        let mut e = self.epochs.lock();
        let epoch = e.current;
        e.current += 1;
        e.retired_frames += frames.len();
        e.retired.push_back((epoch, frames));
        self.retired_peak
            .fetch_max(e.retired_frames, Ordering::Relaxed);
        self.collect(&mut e);
    }

    /// Frees the retired frames that every reader entered after; they go back to the pool.
    fn collect(&self, e: &mut Epochs) {
        let oldest = e.readers.keys().next().copied().unwrap_or(u64::MAX);
        while e.retired.front().is_some_and(|(epoch, _)| *epoch < oldest) {
            let Some((_, frames)) = e.retired.pop_front() else {
                break;
            };
            e.retired_frames -= frames.len();
            for f in frames {
                self.recycle(f);
            }
        }
    }

    /// Page `pgno`, from the cache or read from the file into it; `with` gets the frame while it
    /// is certainly in the map (under the shard's lock).
    fn lookup<R>(&self, pgno: u64, with: impl FnOnce(&Frame) -> R) -> Result<R> {
        {
            let shard = self.shard(pgno).read();
            if let Some(e) = shard.get(&pgno) {
                let (r, fresh) = (with(&e.frame), self.fresh_hit(pgno, e));
                drop(shard);
                self.hit(pgno, fresh);
                return Ok(r);
            }
        }
        let frame = self.read_page(pgno)?;
        let (r, ours) = {
            let mut shard = self.shard(pgno).write();
            match shard.get(&pgno) {
                // Another thread read it meanwhile: use its frame; ours goes back to the pool.
                Some(e) => (with(&e.frame), Some(frame)),
                None => {
                    let e = shard.entry(pgno).or_insert(Entry {
                        frame,
                        recorded: AtomicU64::new(self.generation.load(Ordering::Relaxed)),
                    });
                    (with(&e.frame), None)
                }
            }
        };
        match ours {
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                self.queue_miss(pgno);
            }
            Some(frame) => {
                self.recycle(frame);
                self.hit(pgno, false);
            }
        }
        Ok(r)
    }

    /// Page `pgno`, as a frame the caller shares (it lives as long as the caller holds it).
    pub fn get(&self, pgno: u64) -> Result<Frame> {
        self.lookup(pgno, Frame::clone)
    }

    /// Page `pgno`, as a pointer to the bytes of a frame in the map. The caller must have entered
    /// the cache ([`PageCache::enter`]) and not left since: then the bytes stay allocated, and
    /// unchanged, until it leaves.
    pub fn get_entered(&self, pgno: u64) -> Result<*const [u8]> {
        self.lookup(pgno, Arc::as_ptr)
    }

    /// Puts a frame nobody else holds back into the pool (or frees it if the pool is full). A
    /// frame still shared (lent out as a `PageRef`) is freed by its last holder instead.
    fn recycle(&self, mut frame: Frame) {
        let budget =
            self.capacity_frames + 2 * self.batch + self.retired_peak.load(Ordering::Relaxed);
        if Arc::get_mut(&mut frame).is_some()
            && frame.len() == self.page_size
            && self.allocated.load(Ordering::Relaxed) <= budget
        {
            self.pool.lock().push(frame);
        } else {
            // Freed here, or by the last holder of a frame lent out.
            self.allocated.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A new, zeroed page frame.
    fn new_frame(&self) -> Frame {
        self.allocated.fetch_add(1, Ordering::Relaxed);
        Frame::from(vec![0u8; self.page_size])
    }

    /// Reads page `pgno` into a frame from the pool (or a new one), and verifies it.
    fn read_page(&self, pgno: u64) -> Result<Frame> {
        let pooled = self.pool.lock().pop();
        let mut frame = pooled.unwrap_or_else(|| self.new_frame());
        loop {
            // Pooled and new frames are never shared, so this takes the first branch.
            if let Some(buf) = Arc::get_mut(&mut frame) {
                let read = self
                    .read_into(buf, pgno)
                    .and_then(|()| self.verified(pgno, buf));
                if let Err(e) = read {
                    self.recycle(frame);
                    return Err(e);
                }
                return Ok(frame);
            }
            frame = self.new_frame();
        }
    }

    /// Runs the check (if verification is on) on a page or run just read from the file.
    fn verified(&self, pgno: u64, bytes: &[u8]) -> Result<()> {
        self.verify.map_or(Ok(()), |verify| verify(pgno, bytes))
    }

    /// `npages` consecutive pages from `pgno` (a large value), read from the file into one frame
    /// of their own, outside the cache.
    pub fn read_run(&self, pgno: u64, npages: u64) -> Result<Frame> {
        self.run_reads.fetch_add(1, Ordering::Relaxed);
        let len = npages
            .checked_mul(self.page_size as u64)
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| corrupted(pgno, format!("run of {npages} pages is too large")))?;
        let mut bytes = vec![0u8; len];
        self.read_into(&mut bytes, pgno)?;
        self.verified(pgno, &bytes)?;
        Ok(Frame::from(bytes))
    }

    /// Fills `bytes` from page `pgno` on; a short read (the file was truncated under us) is an
    /// error, never a partial page.
    fn read_into(&self, bytes: &mut [u8], pgno: u64) -> Result<()> {
        let (ps, len) = (self.page_size as u64, bytes.len());
        let mut done = 0;
        while done < len {
            match self
                .file
                .read_at(&mut bytes[done..], pgno * ps + done as u64)
            {
                Ok(0) => {
                    return Err(corrupted(
                        pgno,
                        format!(
                            "the file ends inside this page run ({done} of {len} bytes read): \
                             truncated while open?"
                        ),
                    ))
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Whether a hit on `e` is the first of this generation (and so is to be recorded).
    fn fresh_hit(&self, pgno: u64, e: &Entry) -> bool {
        let generation = self.generation.load(Ordering::Relaxed);
        // Only a sample of the pages (a different one each generation) records hits: the policy
        // sees a page hit often enough to promote it after a few hits instead of one, and the
        // replay costs a quarter (it was a tenth of a cached read's time).
        if (pgno ^ generation) % HIT_SAMPLE != 0 {
            return false;
        }
        // Load first: hot pages are then only read, and their line stays shared between cores.
        if e.recorded.load(Ordering::Relaxed) == generation {
            return false;
        }
        e.recorded.store(generation, Ordering::Relaxed);
        true
    }

    /// Counts a hit that the caller served itself (a page it looked up earlier).
    pub fn count_hit(&self) {
        self.stripes[stripe_index()]
            .hits
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a hit and, if `record`, records it in the calling thread's stripe, replaying the
    /// stripe into the policy once it holds a batch and the policy is free.
    fn hit(&self, pgno: u64, record: bool) {
        let stripe = &self.stripes[stripe_index()];
        stripe.hits.fetch_add(1, Ordering::Relaxed);
        if !record {
            return;
        }
        let Some(mut pending) = stripe.pending.try_lock() else {
            return;
        };
        if pending.len() < HIT_CAP {
            pending.push(pgno);
        }
        if pending.len() >= HIT_BATCH {
            if let Some(mut policy) = self.policy.try_lock() {
                Self::replay_hits(&mut pending, &mut policy);
                self.generation.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Under the policy lock: replays a stripe's recorded hits. The caller then starts a new
    /// generation. Every replay must: a page records hits only in the generations that sample it,
    /// so a generation that never ended would leave some pages never recorded.
    fn replay_hits(pending: &mut Vec<u64>, policy: &mut Policy) {
        for k in pending.drain(..) {
            policy.arc.touch(k);
        }
    }

    /// Queues a page just inserted into the map; the thread that fills the queue replays it.
    fn queue_miss(&self, pgno: u64) {
        let full = {
            let mut q = self.queued.lock();
            q.push(pgno);
            q.len() >= self.batch
        };
        if full {
            let mut policy = self.policy.lock();
            self.replay(&mut policy);
        }
    }

    /// Under the policy lock: replays the recorded hits and queued misses, then removes what the
    /// policy evicted from the map.
    fn replay(&self, policy: &mut Policy) {
        for stripe in self.stripes.iter() {
            if let Some(mut pending) = stripe.pending.try_lock() {
                Self::replay_hits(&mut pending, policy);
            }
        }
        self.generation.fetch_add(1, Ordering::Relaxed);
        std::mem::swap(&mut *self.queued.lock(), &mut policy.replaying);
        let Policy {
            arc,
            replaying,
            evicted,
            ..
        } = policy;
        for k in replaying.drain(..) {
            arc.access(k, evicted);
        }
        policy.evictions += policy.evicted.len() as u64;
        self.remove(&mut policy.evicted);
    }

    /// Removes `pages` from the map, taking each shard's lock once, and retires their frames.
    fn remove(&self, pages: &mut Vec<u64>) {
        pages.sort_unstable_by_key(|&p| shard_index(p));
        let mut removed = Vec::with_capacity(pages.len());
        for group in pages.chunk_by(|&a, &b| shard_index(a) == shard_index(b)) {
            let mut shard = self.shard(group[0]).write();
            removed.extend(
                group
                    .iter()
                    .filter_map(|p| shard.remove(p).map(|e| e.frame)),
            );
        }
        pages.clear();
        self.retire(removed);
    }

    /// After a commit wrote `pages` (`(pgno, bytes)`, whole pages): every cached page among them
    /// takes its new contents. Pages not cached are left alone. Readers still holding an old frame
    /// cannot reach these pages (they were free in every live snapshot), so they are unaffected.
    pub fn overwrite(&self, pages: &[(u64, &[u8])]) {
        let ps = self.page_size;
        let mut replaced = Vec::new();
        for &(first, bytes) in pages {
            for (i, page) in bytes.chunks_exact(ps).enumerate() {
                let pgno = first + i as u64;
                let mut shard = self.shard(pgno).write();
                if let Some(e) = shard.get_mut(&pgno) {
                    self.allocated.fetch_add(1, Ordering::Relaxed);
                    replaced.push(std::mem::replace(&mut e.frame, Frame::from(page)));
                }
            }
        }
        self.retire(replaced);
    }

    /// Counters and policy state.
    pub fn stats(&self) -> CacheStats {
        let policy = self.policy.lock();
        let lens = policy.arc.lens();
        CacheStats {
            capacity_bytes: self.capacity_bytes,
            capacity_frames: self.capacity_frames,
            resident_frames: self.shards.iter().map(|s| s.read().len()).sum(),
            hits: self
                .stripes
                .iter()
                .map(|s| s.hits.load(Ordering::Relaxed))
                .sum(),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: policy.evictions,
            retired_frames: self.epochs.lock().retired_frames,
            run_reads: self.run_reads.load(Ordering::Relaxed),
            target_t1: policy.arc.target(),
            arc_lists: [lens.t1, lens.t2, lens.b1, lens.b2],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const PS: usize = 4096;

    /// A file of `pages` pages, page `i` filled with the bytes of `i`.
    fn file(pages: u64) -> File {
        let mut f = tempfile::tempfile().unwrap();
        for i in 0..pages {
            let page: Vec<u8> = i.to_le_bytes().iter().copied().cycle().take(PS).collect();
            f.write_all(&page).unwrap();
        }
        f
    }

    fn check(frame: &[u8], pgno: u64) {
        assert_eq!(frame.len(), PS);
        assert!(
            frame.chunks(8).all(|c| c == pgno.to_le_bytes()),
            "page {pgno} holds other contents"
        );
    }

    #[test]
    fn threads_racing_on_a_small_cache_read_the_right_pages() {
        const PAGES: u64 = 500;
        const THREADS: u64 = 4;
        let cache = PageCache::new(file(PAGES), PS, 32 * PS, None).unwrap();
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let cache = &cache;
                s.spawn(move || {
                    let mut x = t + 1;
                    let mut held = Vec::new();
                    for i in 0..20_000u64 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        // Half the reads on 20 hot pages, half anywhere.
                        let pgno = if i % 2 == 0 { x % 20 } else { x % PAGES };
                        let f = cache.get(pgno).unwrap();
                        check(&f, pgno);
                        if i % 1000 == 0 {
                            held.push((pgno, f));
                        }
                        let resident: usize = cache.shards.iter().map(|s| s.read().len()).sum();
                        let bound = 32 + 3 * THREADS as usize;
                        assert!(resident <= bound, "{resident} frames resident");
                    }
                    // Frames held across evictions keep their contents.
                    for (pgno, f) in held {
                        check(&f, pgno);
                    }
                });
            }
        });
        let s = cache.stats();
        assert_eq!(s.capacity_frames, 32);
        assert!(s.hits > 0 && s.misses > 0 && s.evictions > 0, "{s:?}");
        let [t1, t2, b1, b2] = s.arc_lists;
        assert!(
            t1 + t2 <= 32 && t1 + b1 <= 32 && t1 + t2 + b1 + b2 <= 64,
            "{s:?}"
        );
    }

    #[test]
    fn overwrite_replaces_cached_pages_only() {
        let cache = PageCache::new(file(100), PS, 16 * PS, None).unwrap();
        let old = cache.get(5).unwrap();
        let new_page = vec![0xAB; PS];
        let run = vec![0xCD; 2 * PS];
        cache.overwrite(&[(5, &new_page[..]), (50, &run[..])]);
        assert!(cache.get(5).unwrap().iter().all(|&b| b == 0xAB));
        check(&old, 5); // a holder of the old frame is unaffected
                        // Page 50 was not cached: it is read from the file again.
        check(&cache.get(50).unwrap(), 50);
    }

    #[test]
    fn frames_of_an_entered_reader_outlive_eviction_until_it_leaves() {
        let cache = PageCache::new(file(200), PS, 16 * PS, None).unwrap();
        let epoch = cache.enter();
        let held: Vec<(u64, *const [u8])> =
            (0..8).map(|p| (p, cache.get_entered(p).unwrap())).collect();
        // Another reader sweeps the file twice: every frame above is evicted and retired.
        std::thread::scope(|s| {
            s.spawn(|| {
                let e = cache.enter();
                for p in (0..200).chain(0..200) {
                    // SAFETY: this reader entered above and leaves after its last use.
                    check(unsafe { &*cache.get_entered(p).unwrap() }, p);
                }
                cache.leave(e);
            });
        });
        let s = cache.stats();
        assert!(s.evictions >= 200 && s.retired_frames >= 8, "{s:?}");
        for (p, ptr) in held {
            // SAFETY: `epoch` has not left yet.
            check(unsafe { &*ptr }, p);
        }
        cache.leave(epoch);
        assert_eq!(
            cache.stats().retired_frames,
            0,
            "nothing waits once every reader left"
        );
        assert!(
            !cache.pool.lock().is_empty(),
            "freed frames are kept for reuse"
        );
    }

    #[test]
    fn short_reads_are_errors() {
        let cache = PageCache::new(file(10), PS, 16 * PS, None).unwrap();
        assert!(matches!(
            cache.get(10),
            Err(Error::Corrupted { page: 10, .. })
        ));
        assert!(matches!(
            cache.read_run(8, 3),
            Err(Error::Corrupted { page: 8, .. })
        ));
        assert!(matches!(
            PageCache::new(file(1), PS, 3 * PS, None),
            Err(Error::InvalidOption(_))
        ));
    }
}
