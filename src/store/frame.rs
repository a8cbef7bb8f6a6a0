//! The memory of the page cache's frames: a page on the heap (page frames are pooled and reused),
//! or a large value's run of pages in an anonymous mapping of its own, which goes back to the
//! system the moment it is freed.
//!
//! Runs are not put on the heap because the allocator keeps what they free: with glibc, runs of
//! one size freed in the middle of the heap are not reused for runs of another size, nor
//! returned to the system, so a cache that moved from 64 KiB values to 2 MiB ones held both
//! (measured: 180 MiB for a cache of 105 MiB).

use crate::error::Result;
use std::sync::Arc;

/// The bytes of a frame.
#[derive(Debug)]
pub(crate) enum Bytes {
    /// A page (or a small buffer) on the heap.
    Heap(Box<[u8]>),
    /// A run of pages in an anonymous mapping.
    Anon(memmap2::MmapMut),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Heap(b) => b,
            Bytes::Anon(m) => m,
        }
    }
}

impl std::ops::DerefMut for Bytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            Bytes::Heap(b) => b,
            Bytes::Anon(m) => m,
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
