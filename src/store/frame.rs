//! The memory of the page cache's frames: a page on the heap or in a slab of huge pages (page
//! frames are pooled and reused), or a large value's run of pages in an anonymous mapping of its
//! own, which goes back to the system the moment it is freed.
//!
//! **Slabs.** A cache of at least [`MIN_SLAB_CAPACITY`] bytes carves its page frames out of
//! slabs of [`SLAB`] bytes, aligned to it, that ask the kernel for transparent huge pages
//! (`MADV_HUGEPAGE`; without them they are ordinary memory). A hit then reads its page through a
//! TLB entry that covers 2 MiB of frames instead of 4 KiB: random reads over a cache of hundreds
//! of megabytes otherwise miss the TLB at nearly every page, and the page walk is a cache miss of
//! its own (measured with glibc's huge-page heap, which the allocator does not use by default:
//! 15-25% less CPU per cached random get). A freed slab page goes back to its slab's free list
//! for the next frame; slabs are returned to the system when the cache and its last frame are
//! dropped, so memory stays at the most page frames the cache ever had at once, rounded up to a
//! slab.
//!
//! Runs are not put on the heap because the allocator keeps what they free: with glibc, runs of
//! one size freed in the middle of the heap are not reused for runs of another size, nor
//! returned to the system, so a cache that moved from 64 KiB values to 2 MiB ones held both
//! (measured: 180 MiB for a cache of 105 MiB).

#![allow(unsafe_code)]

use crate::error::Result;
use parking_lot::Mutex;
use std::ptr::NonNull;
use std::sync::Arc;

/// Bytes of a slab: one transparent huge page on x86-64 and most arm64 kernels.
pub(crate) const SLAB: usize = 2 << 20;
/// Caches smaller than this take their page frames from the heap: a slab would be a large share
/// of their memory.
pub(crate) const MIN_SLAB_CAPACITY: usize = 8 * SLAB;

/// The bytes of a frame.
#[derive(Debug)]
pub(crate) enum Bytes {
    /// A page (or a small buffer) on the heap.
    Heap(Box<[u8]>),
    /// A run of pages in an anonymous mapping.
    Anon(memmap2::MmapMut),
    /// A page in a slab.
    Slab(SlabPage),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Heap(b) => b,
            Bytes::Anon(m) => m,
            Bytes::Slab(p) => p.bytes(),
        }
    }
}

impl std::ops::DerefMut for Bytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            Bytes::Heap(b) => b,
            Bytes::Anon(m) => m,
            Bytes::Slab(p) => p.bytes_mut(),
        }
    }
}

/// One cached page (or, for a large value, one run of pages): immutable once in the cache.
pub(crate) type Frame = Arc<Bytes>;

/// A zeroed page frame of `len` bytes, on the heap.
pub(crate) fn page(len: usize) -> Frame {
    Arc::new(Bytes::Heap(vec![0u8; len].into_boxed_slice()))
}

/// A zeroed run frame of `len` bytes, in an anonymous mapping.
pub(crate) fn run(len: usize) -> Result<Frame> {
    Ok(Arc::new(Bytes::Anon(
        memmap2::MmapOptions::new().len(len).populate().map_anon()?,
    )))
}

/// A frame holding a copy of `bytes`: on the heap if it is at most `page_size` long, else in an
/// anonymous mapping.
pub(crate) fn copy_of(bytes: &[u8], page_size: usize) -> Result<Frame> {
    if bytes.len() <= page_size {
        return Ok(Arc::new(Bytes::Heap(bytes.into())));
    }
    let mut map = memmap2::MmapOptions::new()
        .len(bytes.len())
        .populate()
        .map_anon()?;
    map.copy_from_slice(bytes);
    Ok(Arc::new(Bytes::Anon(map)))
}

/// Page frames carved out of slabs (see the module documentation), for pages of one size.
pub(crate) struct Slabs {
    /// The page size (a divisor of [`SLAB`]).
    page_size: usize,
    /// The slabs, and their pages not handed out.
    state: Mutex<SlabState>,
}

/// What [`Slabs`] guards.
struct SlabState {
    /// The slabs' memory, each [`SLAB`] bytes, aligned to it, from `mmap`.
    slabs: Vec<NonNull<u8>>,
    /// The pages not handed out (or handed back).
    free: Vec<NonNull<u8>>,
}

// SAFETY: the pointers are to memory this owns (the slabs) and pages of it it hands out, whose
// bytes are only reached through the `SlabPage` that holds each; the state is behind a mutex.
unsafe impl Send for Slabs {}
// SAFETY: as above.
unsafe impl Sync for Slabs {}

impl Slabs {
    /// Slabs for pages of `page_size` bytes, or None if the size does not divide a slab.
    pub fn new(page_size: usize) -> Option<Arc<Slabs>> {
        (page_size > 0 && SLAB % page_size == 0).then(|| {
            Arc::new(Slabs {
                page_size,
                state: Mutex::new(SlabState {
                    slabs: Vec::new(),
                    free: Vec::new(),
                }),
            })
        })
    }

    /// A page frame (its bytes unspecified: the caller fills them): a free page of a slab, or of
    /// a new slab.
    pub fn page(self: &Arc<Self>) -> Result<Frame> {
        let mut state = self.state.lock();
        let ptr = match state.free.pop() {
            Some(p) => p,
            None => {
                let slab = new_slab()?;
                state.slabs.push(slab);
                let pages = SLAB / self.page_size;
                state.free.extend((1..pages).rev().map(|i| {
                    // SAFETY: `i * page_size` is below `SLAB`: inside the slab just mapped.
                    unsafe { slab.add(i * self.page_size) }
                }));
                slab
            }
        };
        drop(state);
        Ok(Arc::new(Bytes::Slab(SlabPage {
            slabs: Arc::clone(self),
            ptr,
        })))
    }
}

impl Drop for Slabs {
    fn drop(&mut self) {
        for slab in self.state.get_mut().slabs.drain(..) {
            // SAFETY: each slab was mapped by `new_slab` with this length; the last `SlabPage`
            // (which holds an `Arc` of this) is gone, so nothing points into it any more.
            unsafe { libc::munmap(slab.as_ptr().cast(), SLAB) };
        }
    }
}

/// `SLAB` bytes aligned to `SLAB`, mapped anonymous and private, with huge pages asked for.
pub(crate) fn new_slab() -> Result<NonNull<u8>> {
    let len = 2 * SLAB;
    // SAFETY: a new private anonymous mapping at an address of the kernel's choice: it touches
    // no memory of ours.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error().into());
    }
    let addr = p as usize;
    let start = addr.next_multiple_of(SLAB);
    let (head, tail) = (start - addr, addr + len - (start + SLAB));
    // SAFETY: the head and tail are whole pages of the mapping just made (the kernel's page
    // size divides `SLAB` and the mapping's address), outside the slab, which nothing uses; the
    // slab itself is ours. `madvise` only changes how the kernel backs the slab.
    unsafe {
        if head > 0 {
            libc::munmap(p, head);
        }
        if tail > 0 {
            libc::munmap((start + SLAB) as *mut libc::c_void, tail);
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        libc::madvise(start as *mut libc::c_void, SLAB, libc::MADV_HUGEPAGE);
    }
    NonNull::new(start as *mut u8).ok_or_else(|| std::io::Error::other("mmap returned null").into())
}

/// A page of a slab, handed back to its slab's free list when dropped.
#[derive(Debug)]
pub(crate) struct SlabPage {
    /// The slabs it belongs to (kept alive while any of their pages is).
    slabs: Arc<Slabs>,
    /// Its first byte.
    ptr: NonNull<u8>,
}

// SAFETY: the page's bytes are owned by this value alone (the slabs hand each page out once
// until it is dropped) and live as long as `slabs`, which this keeps.
unsafe impl Send for SlabPage {}
// SAFETY: shared access only reads the bytes.
unsafe impl Sync for SlabPage {}

impl std::fmt::Debug for Slabs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slabs")
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl SlabPage {
    /// The page's bytes.
    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is the first of `page_size` bytes of a slab that `slabs` keeps mapped,
        // handed to this value alone; they are initialised (anonymous memory starts zeroed).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.slabs.page_size) }
    }

    /// The page's bytes, to fill.
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.slabs.page_size) }
    }
}

impl Drop for SlabPage {
    fn drop(&mut self) {
        self.slabs.state.lock().free.push(self.ptr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slab_pages_are_distinct_reused_and_outlive_their_handle() {
        assert!(Slabs::new(3000).is_none() && Slabs::new(0).is_none());
        let ps = 4096;
        let slabs = Slabs::new(ps).unwrap();
        // More than a slab's pages: a second slab is mapped.
        let mut frames: Vec<Frame> = (0..SLAB / ps + 3).map(|_| slabs.page().unwrap()).collect();
        for (i, f) in frames.iter_mut().enumerate() {
            let bytes = Arc::get_mut(f).unwrap();
            assert_eq!(bytes.len(), ps);
            bytes.fill(i as u8);
        }
        for (i, f) in frames.iter().enumerate() {
            assert!(f.iter().all(|&b| b == i as u8), "page {i} kept its bytes");
        }
        let mut addrs: Vec<usize> = frames.iter().map(|f| f.as_ptr() as usize).collect();
        assert_eq!(addrs[0] % SLAB, 0, "slabs are aligned");
        addrs.sort_unstable();
        addrs.dedup();
        assert_eq!(addrs.len(), frames.len(), "every page is handed out once");
        assert_eq!(slabs.state.lock().slabs.len(), 2);
        // A page dropped goes back to the free list, and is the next one handed out.
        let gone = frames.pop().unwrap();
        let addr = gone.as_ptr();
        drop(gone);
        let again = slabs.page().unwrap();
        assert_eq!(again.as_ptr(), addr);
        // Pages keep the slabs mapped after the handle is dropped.
        drop(slabs);
        assert!(frames[5].iter().all(|&b| b == 5));
        drop(frames);
        drop(again);
    }
}
