//! Page buffers of the writer and the write window: a buffer whose length is a power of two from
//! 4 to 64 KiB (a page, or a short overflow run) in a slab of huge pages, any other (a longer run,
//! a test's few bytes) on the heap.
//!
//! **Why slabs.** A write transaction copies every page it changes into a buffer of its own, and
//! a large one (a bulk load) then touches hundreds of megabytes of them in random order. On the
//! heap, in 4 KiB pages, nearly every touch misses the TLB, and on a virtual machine the page walk
//! is several cache misses of its own. So page buffers are carved out of slabs of [`SLAB`] bytes,
//! aligned to it, that ask for transparent huge pages ([`new_slab`], which the page cache's frames
//! use too). Measured (harness, 1,000,000 random inserts in one transaction, six runs each,
//! alternating): 1.02-1.16 s against 1.27-1.38 s on the heap.
//!
//! **Memory goes back, after a while.** Unlike the cache's slabs, which live as long as their
//! cache, these are process-wide (buffers move between transactions, windows and the kept spares
//! of `window.rs`). A slab none of whose pages is handed out is kept for [`DECAY`], up to
//! [`MAX_KEPT_EMPTY`] of them per size class, and then unmapped by [`release_idle`] (which the
//! background sync thread of every database handle runs at each tick), but for [`KEEP_EMPTY`]
//! of them, kept for good (so that a commit freeing pages and the next one taking them do not map
//! and unmap a slab each time). So a large transaction that follows another one soon takes the
//! pages the first one gave back instead of faulting in fresh memory, which the kernel must zero
//! (and, in a virtual machine whose host takes back freed memory, fault in from the host): the
//! slowest part of a large removal after a bulk load. Measured (harness: a 1M-insert load, 1,000
//! single commits, 8 threads' commits, 100 batches, then 500,000 removals in one transaction,
//! three alternations): the removals 760-781 ms with the slabs kept against 776-963 ms without,
//! the peak resident size after the batches 615 MB against 440 MB. A time-based decay is what
//! jemalloc does with its freed dirty pages (10 s by default); LMDB keeps every freed dirty page
//! for good. A page is taken from the slab most recently found with a free page (the last
//! listed), so that new pages fill the holes of a few slabs before any other. A slab stays mapped
//! while any one of its pages is held, so pages kept long after a large transaction (the spares,
//! a reader's sealed copy) can pin more memory than they are.

#![allow(unsafe_code)]

use super::frame::{new_slab, SLAB};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

/// Empty slabs kept mapped for good per size class.
const KEEP_EMPTY: usize = 4;
/// The most empty slabs kept mapped per size class (256 MiB of them), however recently emptied.
const MAX_KEPT_EMPTY: usize = (256 << 20) / SLAB;
/// How long a slab beyond the [`KEEP_EMPTY`] stays mapped once empty, at least.
pub(crate) const DECAY: Duration = Duration::from_secs(10);
/// The smallest buffer served from slabs (size classes are powers of two up to 16 times this).
const MIN_SLAB_PAGE: usize = 4096;
/// Size classes served from slabs: 4, 8, 16, 32 and 64 KiB.
const CLASSES: usize = 5;

/// A buffer of bytes, owned like a `Box<[u8]>`: in a slab if its length is a power of two from
/// 4 to 64 KiB, else on the heap.
pub(crate) struct PageBuf {
    /// Its first byte.
    ptr: NonNull<u8>,
    len: usize,
    /// The slab class (index into [`SLABS`]), or None for a heap buffer (from a `Box<[u8]>`).
    class: Option<u8>,
}

// SAFETY: the bytes are owned by this value alone, as a `Box<[u8]>`'s are: a slab page is handed
// out to one `PageBuf` until it drops it.
unsafe impl Send for PageBuf {}
// SAFETY: shared access only reads the bytes.
unsafe impl Sync for PageBuf {}

impl PageBuf {
    /// A buffer of `len` zero bytes.
    pub fn zeroed(len: usize) -> PageBuf {
        match PageBuf::from_slab(len) {
            Some(mut b) => {
                b.fill(0);
                b
            }
            None => PageBuf::from(vec![0u8; len]),
        }
    }

    /// A buffer holding a copy of `src`.
    pub fn copy_of(src: &[u8]) -> PageBuf {
        match PageBuf::from_slab(src.len()) {
            Some(mut b) => {
                b.copy_from_slice(src);
                b
            }
            None => PageBuf::from(Box::<[u8]>::from(src)),
        }
    }

    /// A slab page of `len` bytes (contents unspecified), if `len` is a slab size class and a slab
    /// page could be had.
    fn from_slab(len: usize) -> Option<PageBuf> {
        let class = class_of(len)?;
        let ptr = SLABS[class].lock().take(len)?;
        Some(PageBuf {
            ptr,
            len,
            class: Some(class as u8),
        })
    }
}

/// The slab class of buffers of `len` bytes, if they come from slabs.
fn class_of(len: usize) -> Option<usize> {
    let class = len.checked_ilog2()?.checked_sub(MIN_SLAB_PAGE.ilog2())? as usize;
    (len.is_power_of_two() && class < CLASSES).then_some(class)
}

/// A heap buffer, taken over without a copy.
impl From<Box<[u8]>> for PageBuf {
    fn from(b: Box<[u8]>) -> PageBuf {
        let len = b.len();
        let raw = Box::into_raw(b);
        PageBuf {
            // SAFETY: a `Box`'s pointer is never null (a dangling, aligned one if it is empty).
            ptr: unsafe { NonNull::new_unchecked(raw.cast::<u8>()) },
            len,
            class: None,
        }
    }
}

/// A heap buffer, taken over (without a copy if the vector is full).
impl From<Vec<u8>> for PageBuf {
    fn from(v: Vec<u8>) -> PageBuf {
        PageBuf::from(v.into_boxed_slice())
    }
}

/// An empty buffer (no allocation).
impl Default for PageBuf {
    fn default() -> PageBuf {
        PageBuf::from(Box::<[u8]>::default())
    }
}

impl std::ops::Deref for PageBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is the first of `len` initialised bytes (a slab's pages start zeroed, and
        // are written only through this value) that this value owns until it drops.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for PageBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for PageBuf {
    fn drop(&mut self) {
        match self.class {
            Some(class) => SLABS[class as usize].lock().give_back(self.ptr, self.len),
            // SAFETY: the pointer and length are those of the `Box<[u8]>` this value took over
            // (`From<Box<[u8]>>`), which nothing else owns.
            None => drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    self.ptr.as_ptr(),
                    self.len,
                ))
            }),
        }
    }
}

impl std::fmt::Debug for PageBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl PartialEq for PageBuf {
    fn eq(&self, other: &PageBuf) -> bool {
        **self == **other
    }
}

/// The slabs of each size class (4, 8, 16, 32 and 64 KiB).
static SLABS: [Mutex<SlabClass>; CLASSES] = [const { Mutex::new(SlabClass::new()) }; CLASSES];

/// Unmaps the empty slabs of every size class that have been empty for `decay` or longer, but
/// for the [`KEEP_EMPTY`] of each class emptied last.
pub(crate) fn release_idle(decay: Duration) {
    let now = Instant::now();
    for class in &SLABS {
        class.lock().release_idle(now, decay);
    }
}

/// The slabs of one size class.
struct SlabClass {
    /// Each slab by its address.
    slabs: BTreeMap<usize, Slab>,
    /// The slabs with pages to hand out, the one to take from last (each listed once).
    with_free: Vec<usize>,
    /// Slabs none of whose pages is handed out.
    empty: usize,
}

// SAFETY: the slabs' pointers are to mappings this class owns; the bytes of a page handed out
// are reached only through the `PageBuf` that holds it, and the class itself only through its
// mutex.
unsafe impl Send for SlabClass {}

/// A slab: its first byte, its pages not handed out, and how many are.
struct Slab {
    base: NonNull<u8>,
    free: Vec<u32>,
    handed_out: u32,
    /// In [`SlabClass::with_free`].
    listed: bool,
    /// When its last page handed out came back (if none is now).
    emptied: Instant,
}

impl SlabClass {
    /// No slabs.
    const fn new() -> SlabClass {
        SlabClass {
            slabs: BTreeMap::new(),
            with_free: Vec::new(),
            empty: 0,
        }
    }

    /// Hands out a page of `len` bytes: from the last slab listed with a free page, or from a new
    /// slab; None if no slab could be mapped.
    fn take(&mut self, len: usize) -> Option<NonNull<u8>> {
        while let Some(&base) = self.with_free.last() {
            let slab = self.slabs.get_mut(&base)?;
            let Some(i) = slab.free.pop() else {
                // Never left listed without free pages; kept safe anyway.
                slab.listed = false;
                self.with_free.pop();
                continue;
            };
            if slab.handed_out == 0 {
                self.empty -= 1;
            }
            slab.handed_out += 1;
            if slab.free.is_empty() {
                slab.listed = false;
                self.with_free.pop();
            }
            // SAFETY: `i < SLAB / len`, so the page lies inside the slab's mapping.
            return Some(unsafe { slab.base.add(i as usize * len) });
        }
        let base = new_slab().ok()?;
        let pages = (SLAB / len) as u32;
        let slab = Slab {
            base,
            free: (1..pages).rev().collect(),
            handed_out: 1,
            listed: pages > 1,
            emptied: Instant::now(),
        };
        let addr = base.as_ptr() as usize;
        if slab.listed {
            self.with_free.push(addr);
        }
        self.slabs.insert(addr, slab);
        Some(base)
    }

    /// Takes back the page at `ptr` of `len` bytes; unmaps its slab if that leaves it empty while
    /// [`MAX_KEPT_EMPTY`] others are.
    fn give_back(&mut self, ptr: NonNull<u8>, len: usize) {
        let addr = ptr.as_ptr() as usize;
        let base = addr & !(SLAB - 1);
        let Some(slab) = self.slabs.get_mut(&base) else {
            // Not a page of ours: impossible (pages only come from `take`); leaked rather than
            // handed out twice.
            debug_assert!(false, "page buffer {addr:#x} is in no slab");
            return;
        };
        slab.free.push(((addr - base) / len) as u32);
        slab.handed_out -= 1;
        if !slab.listed {
            slab.listed = true;
            self.with_free.push(base);
        }
        if slab.handed_out > 0 {
            return;
        }
        slab.emptied = Instant::now();
        self.empty += 1;
        if self.empty > MAX_KEPT_EMPTY {
            self.unmap(base);
        }
    }

    /// Unmaps the slabs empty since `now - decay` or earlier, but for the [`KEEP_EMPTY`] emptied
    /// last.
    fn release_idle(&mut self, now: Instant, decay: Duration) {
        let excess = self.empty.saturating_sub(KEEP_EMPTY);
        if excess == 0 {
            return;
        }
        let mut empty: Vec<(Instant, usize)> = (self.slabs.iter())
            .filter(|(_, s)| s.handed_out == 0)
            .map(|(&base, s)| (s.emptied, base))
            .collect();
        empty.sort_unstable();
        for &(emptied, base) in empty.iter().take(excess) {
            if now.duration_since(emptied) >= decay {
                self.unmap(base);
            }
        }
    }

    /// Unmaps the empty slab at `base`.
    fn unmap(&mut self, base: usize) {
        self.empty -= 1;
        self.slabs.remove(&base);
        self.with_free.retain(|&b| b != base);
        // SAFETY: the slab was mapped by `new_slab` with `SLAB` bytes, and none of its pages is
        // handed out: nothing points into it any more.
        unsafe { libc::munmap(base as *mut libc::c_void, SLAB) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_come_from_slabs_and_others_from_the_heap() {
        assert_eq!(class_of(4096), Some(0));
        assert_eq!(class_of(65536), Some(4));
        for len in [0, 16, 4095, 6144, 131072] {
            assert_eq!(class_of(len), None, "{len}");
        }
        let page = PageBuf::copy_of(&[7u8; 8192]);
        assert!(page.class.is_some() && page.iter().all(|&b| b == 7));
        let run = PageBuf::zeroed(3 * 4096);
        assert!(run.class.is_none() && run.len() == 3 * 4096 && run.iter().all(|&b| b == 0));
        let small = PageBuf::from(vec![1u8, 2, 3]);
        assert_eq!(&small[..], &[1, 2, 3]);
        assert_eq!(PageBuf::from(Vec::new()).len(), 0);
    }

    #[test]
    fn slab_pages_are_distinct_and_zeroed_when_asked() {
        let len = 32 << 10;
        let pages: Vec<PageBuf> = (0..SLAB / len + 3)
            .map(|i| {
                let mut p = PageBuf::zeroed(len);
                assert!(p.iter().all(|&b| b == 0));
                p.fill(i as u8);
                p
            })
            .collect();
        for (i, p) in pages.iter().enumerate() {
            assert!(
                p.class.is_some() && p.iter().all(|&b| b == i as u8),
                "page {i}"
            );
        }
        let mut addrs: Vec<usize> = pages.iter().map(|p| p.as_ptr() as usize).collect();
        addrs.sort_unstable();
        addrs.dedup();
        assert_eq!(addrs.len(), pages.len(), "every page is handed out once");
    }

    #[test]
    fn a_slab_goes_back_once_empty_for_the_decay_beyond_the_empty_ones_kept() {
        // A class of this test's own: the process-wide ones serve other tests meanwhile.
        let mut class = SlabClass::new();
        let len = 32 << 10;
        let per_slab = SLAB / len;
        let mut taken: Vec<NonNull<u8>> = (0..6 * per_slab + 1)
            .map(|_| class.take(len).unwrap())
            .collect();
        assert_eq!(class.slabs.len(), 7);
        for &p in &taken {
            assert_eq!(p.as_ptr() as usize % len, 0);
        }
        let mut addrs: Vec<usize> = taken.iter().map(|p| p.as_ptr() as usize).collect();
        addrs.sort_unstable();
        addrs.dedup();
        assert_eq!(addrs.len(), taken.len(), "every page is handed out once");
        // A page given back is the next one handed out.
        let last = taken.pop().unwrap();
        class.give_back(last, len);
        assert_eq!(class.take(len), Some(last));
        taken.push(last);
        for p in taken {
            class.give_back(p, len);
        }
        // All 7 empty slabs are kept until they have been empty for the decay.
        assert_eq!((class.slabs.len(), class.empty), (7, 7));
        class.release_idle(Instant::now(), DECAY);
        assert_eq!(class.slabs.len(), 7, "emptied just now: kept");
        class.release_idle(Instant::now() + DECAY, DECAY);
        assert_eq!(class.slabs.len(), KEEP_EMPTY);
        assert_eq!(class.empty, KEEP_EMPTY);
        assert_eq!(class.with_free.len(), KEEP_EMPTY);
        for (base, _) in std::mem::take(&mut class.slabs) {
            // SAFETY: a slab of this test's class, mapped by `new_slab`, none of whose pages is
            // handed out.
            unsafe { libc::munmap(base as *mut libc::c_void, SLAB) };
        }
    }
}
