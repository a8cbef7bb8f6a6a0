//! What a committed version reads through ([`View`]: the map or the page cache, and how many
//! pages are valid), and what one transaction reads through ([`TxnView`]: a view plus the cache
//! frames the transaction has been handed, kept alive until it ends).
#![allow(unsafe_code)]

use super::cache::{Frame, PageCache};
use super::{FileStore, Map, PageSource};
use crate::error::{corrupted, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// Where a view's pages come from.
#[derive(Clone)]
pub(crate) enum Backing {
    /// Slices of a read-only memory map of the file.
    Map(Arc<Map>),
    /// Frames of a bounded page cache filled with `pread`.
    Cache(Arc<PageCache>),
}

/// The pages of one committed version: its backing and how many pages of the file it covers.
#[derive(Clone)]
pub(crate) struct View {
    backing: Backing,
    page_count: u64,
    page_size: usize,
}

impl View {
    /// A view of the first `page_count` pages; the caller ensures the file is that long.
    pub fn new(backing: Backing, page_count: u64, page_size: usize) -> View {
        View {
            backing,
            page_count,
            page_size,
        }
    }

    /// Number of pages this view covers.
    pub fn page_count(&self) -> u64 {
        self.page_count
    }

    /// The page size.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// The page cache, for the cached backend.
    pub fn cache(&self) -> Option<&Arc<PageCache>> {
        match &self.backing {
            Backing::Map(_) => None,
            Backing::Cache(c) => Some(c),
        }
    }

    /// A view of the same backing covering `page_count` pages, after the file has grown to hold
    /// them: the map is replaced by a larger one if they lie beyond its reservation.
    pub fn resized(&self, store: &FileStore, page_count: u64) -> Result<View> {
        let backing = match &self.backing {
            Backing::Map(m) if page_count * self.page_size as u64 > m.reserved() => {
                Backing::Map(store.map(page_count * self.page_size as u64)?)
            }
            b => b.clone(),
        };
        Ok(View::new(backing, page_count, self.page_size))
    }

    /// After a commit wrote `pages` (`(pgno, bytes)`, whole pages): cached frames of those pages
    /// take the new contents, so later readers never see what the pages held before reuse.
    pub fn wrote(&self, pages: &[(u64, &[u8])]) {
        if let Backing::Cache(c) = &self.backing {
            c.overwrite(pages);
        }
    }

    /// A reader for one transaction.
    pub fn reader(&self) -> TxnView {
        TxnView {
            view: self.clone(),
            pins: Mutex::new(Pins::default()),
        }
    }

    /// Checks that `npages` pages from `pgno` lie inside the view (and past the meta pages), and
    /// returns their byte range.
    fn bounds(&self, pgno: u64, npages: u64) -> Result<std::ops::Range<usize>> {
        match pgno.checked_add(npages) {
            Some(end) if end <= self.page_count && pgno >= 2 => {
                let ps = self.page_size;
                Ok(pgno as usize * ps..end as usize * ps)
            }
            _ => Err(corrupted(
                pgno,
                format!(
                    "page run of {npages} is outside the file's {} pages",
                    self.page_count
                ),
            )),
        }
    }
}

/// Cache frames a transaction has been handed: they stay allocated while it lives, even if the
/// cache evicts them meanwhile.
#[derive(Default)]
struct Pins {
    /// Single pages, by page number.
    pages: crate::alloc::hasher::PgnoMap<Arc<Frame>>,
    /// Multi-page runs (large values), assembled once per transaction, by (first page, pages).
    runs: HashMap<(u64, u64), Arc<Frame>>,
}

/// One transaction's reader of a [`View`]. With the map backend it returns slices of the map;
/// with the cached backend it pins every frame it returns, so slices stay valid for as long as the
/// transaction (which owns this reader) lives, whatever the cache evicts.
pub(crate) struct TxnView {
    view: View,
    pins: Mutex<Pins>,
}

impl TxnView {
    /// Number of pages the view covers.
    pub fn page_count(&self) -> u64 {
        self.view.page_count
    }

    /// Forgets the pinned frames. `&mut self` proves that no slice handed out is still borrowed.
    pub fn unpin_all(&mut self) {
        let pins = self.pins.get_mut();
        pins.pages.clear();
        pins.runs.clear();
    }

    /// The bytes of the frame pinned under `key` in the map `select` picks, fetching and pinning
    /// it first if needed; borrowed for as long as `self`.
    fn pinned<K: std::hash::Hash + Eq, S: std::hash::BuildHasher>(
        &self,
        select: impl Fn(&mut Pins) -> &mut HashMap<K, Arc<Frame>, S>,
        key: K,
        fetch: impl FnOnce() -> Result<Arc<Frame>>,
    ) -> Result<&[u8]> {
        let lend = |f: &Arc<Frame>| -> &[u8] {
            let bytes = f.bytes();
            // SAFETY: `f` is an entry of `self.pins` (both callers below pass one). The bytes live
            // in the frame's own heap allocation, which never moves and is never written after
            // the frame is built; the entry's `Arc` keeps it alive, and entries leave `self.pins`
            // only through `&mut self` (`unpin_all`) or drop, which the borrow checker forbids
            // while the returned slice (borrowing `self`) is alive.
            unsafe { std::slice::from_raw_parts(bytes.as_ptr(), bytes.len()) }
        };
        if let Some(f) = select(&mut self.pins.lock()).get(&key) {
            return Ok(lend(f));
        }
        let fetched = fetch()?;
        // Another thread sharing the transaction may have pinned the frame meanwhile: keep its
        // frame (its slices point into it) and drop ours.
        let mut pins = self.pins.lock();
        Ok(lend(select(&mut pins).entry(key).or_insert(fetched)))
    }
}

/// A page or run lent for a moment without pinning it to the transaction: a slice of the map, or
/// a reference to a cache frame that lives as long as this value. For walks over the whole
/// database (the integrity check), so that they stay within the cache's memory bound.
pub(crate) enum PageRef<'a> {
    /// A slice of the map.
    Slice(&'a [u8]),
    /// A cache frame.
    Frame(Arc<Frame>),
}

impl std::ops::Deref for PageRef<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            PageRef::Slice(s) => s,
            PageRef::Frame(f) => f.bytes(),
        }
    }
}

impl TxnView {
    /// `npages` pages from `pgno`, lent without pinning (see [`PageRef`]).
    pub fn lend(&self, pgno: u64, npages: u64) -> Result<PageRef<'_>> {
        let range = self.view.bounds(pgno, npages)?;
        match &self.view.backing {
            Backing::Map(m) => Ok(PageRef::Slice(&m.bytes()[range])),
            Backing::Cache(c) if npages == 1 => Ok(PageRef::Frame(c.get(pgno)?)),
            Backing::Cache(c) => Ok(PageRef::Frame(c.read_run(pgno, npages)?)),
        }
    }
}

impl PageSource for TxnView {
    fn page(&self, pgno: u64) -> Result<&[u8]> {
        let range = self.view.bounds(pgno, 1)?;
        match &self.view.backing {
            Backing::Map(m) => Ok(&m.bytes()[range]),
            Backing::Cache(c) => self.pinned(|p| &mut p.pages, pgno, || c.get(pgno)),
        }
    }

    fn run(&self, pgno: u64, npages: u64) -> Result<&[u8]> {
        if npages == 1 {
            return self.page(pgno);
        }
        let range = self.view.bounds(pgno, npages)?;
        match &self.view.backing {
            Backing::Map(m) => Ok(&m.bytes()[range]),
            Backing::Cache(c) => {
                self.pinned(|p| &mut p.runs, (pgno, npages), || c.read_run(pgno, npages))
            }
        }
    }

    fn page_size(&self) -> usize {
        self.view.page_size
    }
}
