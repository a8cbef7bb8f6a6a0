//! The write window: pages of recent commits held in memory, not yet written to the file.
//!
//! A commit hands its pages to the window instead of writing them; readers of the versions it
//! publishes find them here first (see [`super::View`]). They are held unsealed (without their
//! checksums, docs/FORMAT.md section 8): a flush writes sealed copies, so a page that later
//! commits replace before the flush is never sealed, and readers that verify pages or copy them
//! elsewhere get sealed copies ([`Window::sealed_copy`]). The writer writes the whole window
//! to the file in one sorted pass ("flush") when it fills up and before every checkpoint, and then
//! starts a new one. A page that commits free and reuse while it sits in the window is written
//! once, at its last contents, and runs of neighbouring pages go out in few calls.
//!
//! Why one window serves every version that references it: a page is reused only once no live
//! snapshot reaches it (the reuse gates), so a reader never looks up a page number whose entry a
//! later commit replaced. Replaced contents are kept until every version that was alive when
//! they were replaced has ended anyway ([`Window::reclaim`]), so even a reader of damaged data,
//! which may look up any page number, can never be handed freed memory. Their buffers then go to
//! the next commits' page copies: a stream of small commits, which replace the pages of the
//! commits just before them, runs on a few dozen buffers instead of filling the window with
//! replaced contents (and fresh memory) until it is flushed.
//!
//! Concurrency: one writer inserts; any number of readers look up without locks. Each slot holds
//! a key (page number + 1; 0 is empty) and a pointer to a [`Held`] page. Keys only go from 0 to a
//! page number, never back; a pointer is stored before its key is published (release/acquire).
#![allow(unsafe_code)]

use super::hasher::bucket;
use super::PageBuf;
use parking_lot::Mutex;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::OnceLock;

/// Slots in a window's table: twice the most pages it holds, so probes stay short. With 16,384
/// pages the 64 MiB bound decides for 4 KiB pages: 100 commits of 1,000 random inserts into 1M
/// keys flush 7 windows instead of 17 (with 8,192 pages), write 371 MB of pages instead of 423,
/// and take 5-8% less time.
const SLOT_BITS: u32 = 15;
/// The most distinct pages (or runs) a window holds before it must be flushed.
pub(crate) const WINDOW_PAGES: usize = 1 << (SLOT_BITS - 1);
/// The most bytes a window holds (replaced contents included) before it must be flushed.
pub(crate) const WINDOW_BYTES: u64 = 64 << 20;

/// Page buffers of dropped windows, kept for the next commits' dirty pages ([`recycled_buffer`],
/// [`recycled_copy`]) (a process-wide cache, so that a busy writer does not return memory to the
/// system and fault it back in).
static SPARE_BUFFERS: Mutex<Vec<PageBuf>> = Mutex::new(Vec::new());
/// The most bytes [`SPARE_BUFFERS`] keeps.
const SPARE_BUFFER_BYTES: usize = 64 << 20;

/// Buffers of other lengths than [`SPARE_BUFFERS`]' (overflow runs, mostly) kept by
/// [`keep_buffers`] for the next commits' runs: without them, each commit of large values would
/// allocate fresh memory for them and fault every page of it in.
static SPARE_RUNS: Mutex<SpareRuns> = Mutex::new(SpareRuns {
    buffers: Vec::new(),
    bytes: 0,
});
/// The most bytes [`SPARE_RUNS`] keeps (a commit of 100 values of 64 KiB fits)...
const SPARE_RUN_BYTES: usize = 8 << 20;
/// ...and the most buffers (the lookup is linear).
const SPARE_RUN_COUNT: usize = 256;

/// A buffer of `len` bytes kept from a dropped window, if one of that length is.
fn spare_buffer(len: usize) -> Option<PageBuf> {
    let mut spare = SPARE_BUFFERS.lock();
    match spare.last() {
        Some(b) if b.len() == len => spare.pop(),
        _ => spare_run(len),
    }
}

/// The buffers [`SPARE_RUNS`] keeps, and their bytes in all.
struct SpareRuns {
    buffers: Vec<PageBuf>,
    bytes: usize,
}

/// A kept buffer of `len` bytes among [`SPARE_RUNS`], if one is.
fn spare_run(len: usize) -> Option<PageBuf> {
    let mut runs = SPARE_RUNS.lock();
    let i = runs.buffers.iter().rposition(|b| b.len() == len)?;
    runs.bytes -= len;
    Some(runs.buffers.swap_remove(i))
}

/// Keeps `b` among [`SPARE_RUNS`] if they have room for it.
fn keep_run(b: PageBuf) {
    let mut runs = SPARE_RUNS.lock();
    if runs.buffers.len() < SPARE_RUN_COUNT && runs.bytes + b.len() <= SPARE_RUN_BYTES {
        runs.bytes += b.len();
        runs.buffers.push(b);
    }
}

/// A copy of `src` in a buffer recycled from a dropped window if one of its length is kept, or
/// in a new one (which is not zeroed first).
pub(crate) fn recycled_copy(src: &[u8]) -> PageBuf {
    match spare_buffer(src.len()) {
        Some(mut b) => {
            crate::page::copy_used(&mut b, src);
            b
        }
        None => PageBuf::copy_of(src),
    }
}

/// A sealed copy (checksum computed, docs/FORMAT.md section 8) of the page (or run) `bytes` of
/// page `pgno` of a window, which holds its pages unsealed, in a recycled buffer if one is kept.
pub(crate) fn sealed_copy(bytes: &[u8], pgno: u64) -> PageBuf {
    let mut copy = recycled_copy(bytes);
    crate::page::seal(&mut copy, pgno);
    copy
}

/// A zeroed buffer of `len` bytes, recycled from a dropped window if one of that length is kept.
pub(crate) fn recycled_buffer(len: usize) -> PageBuf {
    match spare_buffer(len) {
        Some(mut b) => {
            b.fill(0);
            b
        }
        None => PageBuf::zeroed(len),
    }
}

/// Keeps `buffers` of one page (of the length of those kept already, if any) for
/// [`recycled_buffer`] and [`recycled_copy`], up to [`SPARE_BUFFER_BYTES`], and those of other
/// lengths (overflow runs) up to [`SPARE_RUN_BYTES`]; drops the others, and any shorter than the
/// smallest page.
pub(crate) fn keep_buffers(buffers: impl Iterator<Item = PageBuf>) {
    let mut spare = SPARE_BUFFERS.lock();
    // The kept buffers all have one length.
    let mut bytes = spare.len() * spare.last().map_or(0, |b| b.len());
    for b in buffers {
        let len = b.len();
        if len < crate::page::MIN_PAGE_SIZE {
            // Not a page (the window's unit tests hold smaller ones): it would only take room.
            continue;
        }
        let kept_len = spare.last().map_or(len, |b| b.len());
        if len != kept_len || len > crate::page::MAX_PAGE_SIZE {
            keep_run(b);
            continue;
        }
        if bytes + len > SPARE_BUFFER_BYTES {
            continue;
        }
        bytes += len;
        spare.push(b);
    }
}

impl Drop for Window {
    /// Hands the window's buffers to [`keep_buffers`].
    fn drop(&mut self) {
        let chunks = std::mem::take(&mut self.held.get_mut().chunks);
        let entries = chunks.into_iter().flat_map(|c| c.into_vec());
        // Reclaimed entries are left empty, and keep_buffers drops those (shorter than a page).
        keep_buffers(
            entries
                .filter_map(|e| e.into_inner())
                .map(|h| h.bytes.into_inner()),
        );
    }
}

/// One page or overflow run, owned by the window until it is dropped or reclaims it.
struct Held {
    /// The contents. Written once more, to take them out (leaving an empty buffer), by
    /// [`Window::reclaim`], when no reader can reach the entry any more; read-only before.
    bytes: UnsafeCell<PageBuf>,
    /// Insertion order: a later entry overlapping an earlier one at another page number (a run
    /// over pages freed while they sat here, or a page of a freed run) replaced its contents.
    /// Also the entry's index in [`HeldChunks`].
    seq: u64,
}

// SAFETY: `bytes` is only read through shared references, by any thread, until
// `Window::reclaim` takes it out, which it does only for an entry that no slot points to any
// more and that no reader can still hold (every version alive when the slot moved on has
// ended), under the window's lock, which every other writer of the window holds too.
unsafe impl Sync for Held {}

impl Held {
    /// The entry's contents.
    #[inline]
    fn bytes(&self) -> &[u8] {
        // SAFETY: see `impl Sync for Held`: the one write (`Window::reclaim`) happens when no
        // reader can reach this entry, so no shared reference is alive while it runs.
        unsafe { &*self.bytes.get() }
    }
}

/// Entries of a window per allocation of [`HeldChunks`].
const CHUNK_ENTRIES: usize = 512;

/// The window's entries, in insertion order, in chunks of [`CHUNK_ENTRIES`] allocated at once
/// (rather than one allocation per entry). The slots point into the chunks, whose entries stay
/// put when the list of chunks grows; each entry is set once.
#[derive(Default)]
struct HeldChunks {
    chunks: Vec<Box<[OnceLock<Held>]>>,
    /// Entries set, in all chunks.
    len: usize,
    /// Entries whose slot a later entry took, as (id of the commit that replaced them, index),
    /// until [`Window::reclaim`] takes their contents.
    replaced: Vec<(u64, usize)>,
}

impl HeldChunks {
    /// Appends `held` and returns a pointer to it, valid until the chunks are dropped.
    fn push(&mut self, held: Held) -> *const Held {
        let (chunk, i) = (self.len / CHUNK_ENTRIES, self.len % CHUNK_ENTRIES);
        if chunk == self.chunks.len() {
            self.chunks
                .push((0..CHUNK_ENTRIES).map(|_| OnceLock::new()).collect());
        }
        self.len += 1;
        let entry = &self.chunks[chunk][i];
        let _ = entry.set(held);
        entry.get().expect("an entry is set once, here") as *const Held
    }
}

/// A table slot.
struct Slot {
    /// Page number + 1, or 0 if the slot is empty.
    key: AtomicU64,
    /// The page's latest contents (valid once `key` is set).
    page: AtomicPtr<Held>,
}

/// Pages committed since the last flush (see the module docs).
pub(crate) struct Window {
    slots: Box<[Slot]>,
    /// Every page ever inserted, kept until the window is dropped (replaced contents: until
    /// [`Window::reclaim`] takes them).
    held: Mutex<HeldChunks>,
    /// Distinct page numbers inserted.
    len: AtomicU64,
    /// Bytes inserted, replaced contents included until [`Window::reclaim`] takes them.
    bytes: AtomicU64,
    /// Set once the window's pages are in the file: later commits start a new window.
    flushed: AtomicBool,
}

impl Default for Window {
    fn default() -> Self {
        Window::new()
    }
}

impl Window {
    /// An empty window.
    pub fn new() -> Window {
        let slots = (0..1usize << SLOT_BITS)
            .map(|_| Slot {
                key: AtomicU64::new(0),
                page: AtomicPtr::new(std::ptr::null_mut()),
            })
            .collect();
        Window {
            slots,
            held: Mutex::new(HeldChunks::default()),
            len: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            flushed: AtomicBool::new(false),
        }
    }

    /// The slot holding `pgno`, or the empty slot where it would go.
    #[inline]
    fn find(&self, pgno: u64) -> &Slot {
        let key = pgno.wrapping_add(1);
        let mask = self.slots.len() - 1;
        let mut i = bucket(pgno, SLOT_BITS);
        loop {
            let slot = &self.slots[i];
            let k = slot.key.load(Ordering::Acquire);
            if k == key || k == 0 {
                return slot;
            }
            i = (i + 1) & mask;
        }
    }

    /// The latest contents of page (or run) `pgno`, if the window holds it.
    #[inline]
    pub fn get(&self, pgno: u64) -> Option<&[u8]> {
        // Once flushed, the file holds the same contents: readers go there.
        if self.len.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.held_at(pgno).map(|h| h.bytes())
    }

    /// Whether `pages` more pages of `bytes` in all fit before the window must be flushed, if it
    /// may hold `max_bytes` (at most [`WINDOW_BYTES`]).
    pub fn has_room(&self, pages: usize, bytes: u64, max_bytes: u64) -> bool {
        self.len.load(Ordering::Relaxed) as usize + pages <= WINDOW_PAGES
            && self.bytes.load(Ordering::Relaxed) + bytes <= max_bytes.min(WINDOW_BYTES)
    }

    /// Inserts (or replaces) page (or run) `pgno`, for the commit `txn`, before that commit is
    /// published. Only the writer calls this, and only for pages no live snapshot reaches (new or
    /// reused ones). The caller checked [`Window::has_room`].
    pub fn insert(&self, pgno: u64, bytes: PageBuf, txn: u64) {
        let len = bytes.len() as u64;
        let mut all = self.held.lock();
        let seq = all.len as u64;
        let ptr = all.push(Held {
            bytes: UnsafeCell::new(bytes),
            seq,
        }) as *mut Held;
        let slot = self.find(pgno);
        let old = slot.page.swap(ptr, Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: a non-null slot pointer points to an entry of `all`, which lives as long
            // as the window (see `held_at`).
            let old_seq = unsafe { (*old).seq };
            all.replaced.push((txn, old_seq as usize));
        }
        drop(all);
        if slot.key.load(Ordering::Relaxed) == 0 {
            assert!(
                (self.len.load(Ordering::Relaxed) as usize) < WINDOW_PAGES,
                "write window over capacity"
            );
            slot.key.store(pgno.wrapping_add(1), Ordering::Release);
            self.len.fetch_add(1, Ordering::Relaxed);
        }
        self.bytes.fetch_add(len, Ordering::Relaxed);
    }

    /// Takes the contents of the entries that commits up to `oldest_live` replaced (see the
    /// module docs), and returns their buffers (for [`keep_buffers`]). `oldest_live` is the id
    /// of the oldest version that any reader (or writer) may still hold: an entry replaced by
    /// commit `t` may be held only by readers of versions older than `t`, which a slot lookup
    /// made before the replacement handed it. Only the writer calls this.
    pub fn reclaim(&self, oldest_live: u64) -> Vec<PageBuf> {
        // The caller saw the versions older than `oldest_live` dead (their counts at 0, after
        // the release decrements of their last holders): every read their readers made
        // happens before what follows.
        std::sync::atomic::fence(Ordering::Acquire);
        let mut all = self.held.lock();
        let HeldChunks {
            chunks, replaced, ..
        } = &mut *all;
        let mut buffers = Vec::new();
        replaced.retain(|&(txn, i)| {
            if txn > oldest_live {
                return true;
            }
            let held = chunks[i / CHUNK_ENTRIES][i % CHUNK_ENTRIES]
                .get()
                .expect("a replaced entry was set");
            // SAFETY: no slot points to this entry any more (a later one took its slot), so no
            // lookup from now on returns it, and every version older than the commit that
            // replaced it has ended, so no reader holds it from an earlier lookup (`insert` runs
            // before that commit is published; readers of it and later versions look up after).
            // The window's lock, held, serialises this with the writer's other uses.
            buffers.push(unsafe { std::mem::take(&mut *held.bytes.get()) });
            false
        });
        let bytes: u64 = buffers.iter().map(|b| b.len() as u64).sum();
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        buffers
    }

    /// Every page the window holds, at its latest contents, sorted by page number (to flush;
    /// empty once flushed), of `page_size` bytes each (runs: several). An entry overlapped by a
    /// later one at another page number is left out: its pages were freed before the later one
    /// took them (reuse gates), so no snapshot reads it, and writing it after the later one would
    /// overwrite live pages with dead contents.
    pub fn pages(&self, page_size: usize) -> Vec<(u64, &[u8])> {
        let mut pages: Vec<(u64, &Held)> = self
            .slots
            .iter()
            .filter_map(|s| {
                let k = s.key.load(Ordering::Acquire);
                (k != 0).then(|| k - 1)
            })
            .filter_map(|pgno| self.held_at(pgno).map(|h| (pgno, h)))
            .collect();
        pages.sort_unstable_by_key(|&(p, _)| p);
        let end = |&(p, h): &(u64, &Held)| p + (h.bytes().len() / page_size.max(1)).max(1) as u64;
        let mut kept: Vec<(u64, &Held)> = Vec::with_capacity(pages.len());
        'next: for e in pages {
            while let Some(&last) = kept.last() {
                if end(&last) <= e.0 {
                    break;
                }
                if last.1.seq > e.1.seq {
                    continue 'next;
                }
                kept.pop();
            }
            kept.push(e);
        }
        kept.into_iter().map(|(p, h)| (p, h.bytes())).collect()
    }

    /// The latest contents of page (or run) `pgno` as a sealed copy, if the window holds it: for
    /// a reader that verifies checksums or copies the page elsewhere (the integrity check, a
    /// backup).
    pub fn sealed_copy(&self, pgno: u64) -> Option<PageBuf> {
        self.get(pgno).map(|bytes| sealed_copy(bytes, pgno))
    }

    /// The entry of page (or run) `pgno`, if the window holds it and is not flushed.
    #[inline]
    fn held_at(&self, pgno: u64) -> Option<&Held> {
        if self.is_flushed() {
            return None;
        }
        let slot = self.find(pgno);
        if slot.key.load(Ordering::Acquire) != pgno.wrapping_add(1) {
            return None;
        }
        let p = slot.page.load(Ordering::Acquire);
        // SAFETY: a slot's pointer is set (to a `Held` in `self.held`) before its key is published
        // with release ordering, and our acquire load of the key saw it, so `p` is non-null and
        // points to a `Held` owned by `self.held`: an entry of one of its chunks, each a boxed
        // slice whose entries are set once and never moved or dropped before the window itself
        // (growing the list of chunks moves only the boxes' pointers). Its bytes are not
        // written while a reader may hold them (`Window::reclaim`); the returned reference
        // borrows `self`.
        Some(unsafe { &*p })
    }

    /// Whether the window's pages were written to the file.
    pub fn is_flushed(&self) -> bool {
        self.flushed.load(Ordering::Acquire)
    }

    /// Records that the window's pages are in the file.
    pub fn set_flushed(&self) {
        self.flushed.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An overflow run's buffer handed back is used again for the next run of its length,
    /// zeroed; a buffer of another length is not handed out for it.
    #[test]
    fn run_buffers_are_recycled() {
        // A run longer than any page (17 pages of 4 KiB: a 64 KiB value), of a length no other
        // test uses (the spare lists are process-wide).
        let len = 17 * 4096 + 24;
        let mut run: PageBuf = vec![0xA5u8; len].into();
        run[0] = 1;
        let addr = run.as_ptr();
        keep_buffers(std::iter::once(run));
        // Had the buffer been freed, the allocator would most likely hand its memory out here.
        let other_allocation = std::hint::black_box(vec![1u8; len]);
        let again = recycled_buffer(len);
        drop(other_allocation);
        assert_eq!(again.as_ptr(), addr, "the kept buffer is reused");
        assert!(again.iter().all(|&b| b == 0), "and handed out zeroed");
        keep_buffers(std::iter::once(vec![7u8; len + 1].into()));
        let other = recycled_buffer(len);
        assert!(other.len() == len && other.iter().all(|&b| b == 0));
    }

    #[test]
    fn holds_the_latest_contents_of_each_page() {
        let w = Window::new();
        assert!(w.get(7).is_none());
        w.insert(7, vec![1u8; 16].into(), 1);
        w.insert(9, vec![2u8; 32].into(), 1);
        w.insert(7, vec![3u8; 16].into(), 1);
        assert_eq!(w.get(7), Some(&[3u8; 16][..]));
        assert_eq!(w.get(9), Some(&[2u8; 32][..]));
        assert!(w.get(8).is_none());
        let pages: Vec<u64> = w.pages(16).iter().map(|&(p, _)| p).collect();
        assert_eq!(pages, vec![7, 9]);
        assert!(w.has_room(WINDOW_PAGES - 2, WINDOW_BYTES - 64, u64::MAX));
        assert!(!w.has_room(WINDOW_PAGES - 1, 0, u64::MAX));
        assert!(!w.has_room(1, WINDOW_BYTES - 63, u64::MAX));
        assert!(!w.has_room(1, 1, 64));
        w.set_flushed();
        assert!(w.get(7).is_none() && w.pages(16).is_empty());
    }

    #[test]
    fn replaced_contents_are_reclaimed_once_no_older_version_lives() {
        let w = Window::new();
        w.insert(7, vec![1u8; 16].into(), 3);
        w.insert(8, vec![2u8; 16].into(), 3);
        // Commit 5 replaces page 7: readers of versions up to 4 may hold the old contents.
        w.insert(7, vec![3u8; 16].into(), 5);
        assert!(w.reclaim(4).is_empty());
        assert_eq!(w.bytes.load(Ordering::Relaxed), 48);
        let taken = w.reclaim(5);
        assert_eq!(taken, vec![vec![1u8; 16].into()]);
        assert_eq!(w.bytes.load(Ordering::Relaxed), 32);
        // Once only: the latest contents stay, and the flush sees only them.
        assert!(w.reclaim(u64::MAX).is_empty());
        assert_eq!(w.get(7), Some(&[3u8; 16][..]));
        let pages: Vec<(u64, u8)> = w.pages(16).iter().map(|&(p, b)| (p, b[0])).collect();
        assert_eq!(pages, vec![(7, 3), (8, 2)]);
    }

    #[test]
    fn flushes_only_the_latest_of_overlapping_entries() {
        let w = Window::new();
        // Page 10 alone, then a run over 9..=12 (10 freed), then page 11 alone (the run freed).
        w.insert(10, vec![1u8; 16].into(), 1);
        w.insert(9, vec![2u8; 64].into(), 1);
        w.insert(11, vec![3u8; 16].into(), 1);
        w.insert(20, vec![4u8; 16].into(), 1);
        let pages: Vec<(u64, u8)> = w.pages(16).iter().map(|&(p, b)| (p, b[0])).collect();
        assert_eq!(pages, vec![(11, 3), (20, 4)]);
        // A run newer than the pages it covers is kept, the pages are not.
        let w = Window::new();
        w.insert(10, vec![1u8; 16].into(), 1);
        w.insert(12, vec![1u8; 16].into(), 1);
        w.insert(9, vec![2u8; 64].into(), 1);
        let pages: Vec<(u64, u8)> = w.pages(16).iter().map(|&(p, b)| (p, b[0])).collect();
        assert_eq!(pages, vec![(9, 2)]);
    }

    #[test]
    fn finds_every_page_up_to_capacity() {
        let w = Window::new();
        for p in 0..WINDOW_PAGES as u64 {
            w.insert(p * 3 + 2, p.to_le_bytes().to_vec().into(), 1);
        }
        for p in 0..WINDOW_PAGES as u64 {
            assert_eq!(w.get(p * 3 + 2), Some(&p.to_le_bytes()[..]));
            assert!(w.get(p * 3 + 3).is_none());
        }
        assert!(!w.has_room(1, 0, u64::MAX));
    }

    #[test]
    fn readers_see_pages_as_the_writer_inserts_them() {
        let w = std::sync::Arc::new(Window::new());
        let reader = {
            let w = w.clone();
            std::thread::spawn(move || {
                let mut seen = 0;
                while seen < 1000 {
                    seen = (0..1000u64).filter(|&p| w.get(p).is_some()).count();
                    for p in 0..1000u64 {
                        if let Some(b) = w.get(p) {
                            assert_eq!(b[0] as u64, p % 251);
                        }
                    }
                }
            })
        };
        for p in 0..1000u64 {
            w.insert(p, vec![(p % 251) as u8; 64].into(), 1);
        }
        reader.join().unwrap();
    }
}
