//! What a committed version reads through ([`View`]: the map or the page cache, and how many
//! pages are valid), and what one transaction reads through ([`TxnView`]: a view plus, with the
//! cache, its entry in the cache's epochs, which keeps the frames it was handed allocated until it
//! ends).
#![allow(unsafe_code)]

use super::cache::{Frame, PageCache};
use super::window::Window;
use super::PageBuf;
use super::{FileStore, Map, PageSource};
use crate::error::{corrupted, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Where a view's pages come from.
#[derive(Clone)]
pub(crate) enum Backing {
    /// Slices of a read-only memory map of the file.
    Map(Arc<Map>),
    /// Frames of a bounded page cache filled with `pread`.
    Cache(Arc<PageCache>),
}

/// Pages a read-only handle rebuilt in memory by replaying the commit log, by page number (a
/// page, or the first page of an overflow run): they are not in the file.
pub(crate) type Overlay = super::hasher::PgnoMap<PageBuf>;

/// The pages of one committed version: its backing and how many pages of the file it covers.
#[derive(Clone)]
pub(crate) struct View {
    backing: Backing,
    page_count: u64,
    page_size: usize,
    /// Pages held in memory instead of the file (a read-only handle's replay of the log), and
    /// how many pages of the file lie below them.
    overlay: Option<(Arc<Overlay>, u64)>,
    /// Pages of recent commits not written to the file yet (a writable handle's write window).
    window: Option<Arc<Window>>,
    /// The window before `window`, while the background flush writes it into the file: looked
    /// up after `window` (whose pages are newer), before the file.
    older: Option<Arc<Window>>,
}

impl View {
    /// A view of the first `page_count` pages; the caller ensures the file is that long.
    pub fn new(backing: Backing, page_count: u64, page_size: usize) -> View {
        View {
            backing,
            page_count,
            page_size,
            overlay: None,
            window: None,
            older: None,
        }
    }

    /// This view reading the pages `window` holds from it rather than from the file, and those
    /// `older` holds (the window before it, being flushed) if `window` lacks them.
    pub fn with_window(mut self, window: Arc<Window>, older: Option<Arc<Window>>) -> View {
        self.window = Some(window);
        self.older = older.filter(|w| !w.is_flushed());
        self
    }

    /// The write window this view reads through, if any.
    pub fn window(&self) -> Option<&Arc<Window>> {
        self.window.as_ref()
    }

    /// The window before [`Self::window`] this view reads through, if it was not flushed yet
    /// when the view was made.
    pub fn older_window(&self) -> Option<&Arc<Window>> {
        self.older.as_ref()
    }

    /// Whether every page of this view is in the file: no window it reads through holds pages
    /// not flushed yet (a read-only handle's overlay aside).
    pub fn windows_flushed(&self) -> bool {
        [&self.window, &self.older]
            .into_iter()
            .flatten()
            .all(|w| w.is_flushed())
    }

    /// This view with `pages` held in memory over it, covering `page_count` pages in all (some
    /// of them past the file's end, each of which is in `pages`).
    pub fn with_overlay(&self, page_count: u64, pages: Overlay) -> View {
        View {
            backing: self.backing.clone(),
            page_count,
            page_size: self.page_size,
            overlay: Some((Arc::new(pages), self.page_count)),
            window: None,
            older: None,
        }
    }

    /// The map, if every page of this view is read from it: no write window or overlay holds
    /// pages in memory (to be looked up there, [`View::overlaid`], before the file).
    fn map_only(&self) -> Option<Arc<Map>> {
        match &self.backing {
            Backing::Map(m)
                if self.window.is_none() && self.older.is_none() && self.overlay.is_none() =>
            {
                Some(m.clone())
            }
            _ => None,
        }
    }

    /// The overlay's copy of the `npages` pages at `pgno`, if it has them; `Ok(None)` if the file
    /// holds them. A page number past the file's pages that the overlay lacks is corrupt.
    fn overlaid(&self, pgno: u64, npages: u64) -> Result<Option<&[u8]>> {
        for w in [&self.window, &self.older].into_iter().flatten() {
            if let Some(b) = w.get(pgno) {
                return self.checked_len(pgno, npages, b).map(Some);
            }
        }
        let Some((pages, file_pages)) = &self.overlay else {
            return Ok(None);
        };
        match pages.get(&pgno) {
            Some(b) => self.checked_len(pgno, npages, b).map(Some),
            None if pgno.saturating_add(npages) > *file_pages => Err(corrupted(
                pgno,
                "page run lies past the end of the file's pages",
            )),
            None => Ok(None),
        }
    }

    /// `bytes`, the in-memory copy of the run at `pgno`, if it is `npages` pages long.
    fn checked_len<'a>(&self, pgno: u64, npages: u64, bytes: &'a [u8]) -> Result<&'a [u8]> {
        if bytes.len() as u64 == npages * self.page_size as u64 {
            Ok(bytes)
        } else {
            Err(corrupted(
                pgno,
                "page run length differs from its reference",
            ))
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
                Backing::Map(m.remapped(store, page_count * self.page_size as u64)?)
            }
            b => b.clone(),
        };
        Ok(View::new(backing, page_count, self.page_size))
    }

    /// After a commit wrote `pages` (`(pgno, bytes)`, whole pages, each a page or an overflow
    /// run): cached frames of those pages take the new contents, so later readers never see what
    /// the pages held before reuse; with the map, the pages (runs) count as verified.
    pub fn pages_written(&self, pages: &[(u64, &[u8])]) {
        match &self.backing {
            Backing::Cache(c) => c.overwrite(pages),
            Backing::Map(m) => m.mark_verified(pages.iter().map(|&(pgno, _)| pgno)),
        }
    }

    /// In a read-only handle, after the writer (another handle) rewrote the pages at `pgnos`
    /// (None: possibly any page): the cache drops its frames of them, the map verifies them again
    /// at their next touch.
    pub fn forget(&self, pgnos: Option<&[u64]>) {
        match &self.backing {
            Backing::Cache(c) => c.forget(pgnos),
            Backing::Map(m) => m.forget(pgnos),
        }
    }

    /// A reader for one transaction. A window already flushed is left out of its view: its
    /// pages are in the file, and a flushed window never takes pages again.
    pub fn reader(&self) -> TxnView {
        let mut view = self.clone();
        view.window = view.window.filter(|w| !w.is_flushed());
        view.older = view.older.filter(|w| !w.is_flushed());
        TxnView {
            map: view.map_only(),
            view,
            entered: OnceLock::new(),
            hits: AtomicU64::new(0),
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// Checks that `npages` pages from `pgno` lie inside the view (and past the meta pages), and
    /// returns their byte range.
    #[inline]
    fn bounds(&self, pgno: u64, npages: u64) -> Result<std::ops::Range<usize>> {
        match pgno.checked_add(npages) {
            Some(end) if end <= self.page_count && pgno >= 2 => {
                let ps = self.page_size;
                Ok(pgno as usize * ps..end as usize * ps)
            }
            _ => Err(self.outside(pgno, npages)),
        }
    }

    /// The error for a run of `npages` pages from `pgno` that [`View::bounds`] refused.
    #[cold]
    fn outside(&self, pgno: u64, npages: u64) -> crate::error::Error {
        corrupted(
            pgno,
            format!(
                "page run of {npages} is outside the file's {} pages",
                self.page_count
            ),
        )
    }
}

/// One transaction's reader of a [`View`]. With the map backend it returns slices of the map.
/// With the cached backend it enters the cache (see [`PageCache::enter`]) at its first read, so
/// the frames it is handed stay allocated until it leaves: when it is dropped, or through
/// `&mut self` ([`TxnView::release`]), either of which proves no slice it returned is borrowed.
/// Large values (multi-page runs) too large for the cache are read once per transaction and kept
/// here. Hits on pages are counted here, and added to the cache's counters when it leaves.
pub(crate) struct TxnView {
    view: View,
    /// The view's map, when it reads every page from it ([`View::map_only`]): then a page read
    /// is one test of this field, the bounds, and the map's verified bit.
    map: Option<Arc<Map>>,
    /// Once it has read through the cache: the epoch it entered at.
    entered: OnceLock<u64>,
    /// Page hits since it entered the cache. Counted with a relaxed load and store, not a
    /// read-modify-write (a hit costs no locked instruction): a transaction read by several
    /// threads at once may count fewer hits than it had.
    hits: AtomicU64,
    /// Multi-page runs, by (first page, pages).
    runs: Mutex<HashMap<(u64, u64), Frame>>,
}

impl TxnView {
    /// Number of pages the view covers.
    pub fn page_count(&self) -> u64 {
        self.view.page_count
    }

    /// Lets the cache free what this reader was handed (leaving it), and drops the large values
    /// read. `&mut self` proves that no slice handed out is still borrowed.
    pub fn release(&mut self) {
        if let (Some(epoch), Backing::Cache(c)) = (self.entered.take(), &self.view.backing) {
            c.add_hits(std::mem::take(self.hits.get_mut()));
            c.leave(epoch);
        }
        self.runs.get_mut().clear();
    }

    /// Enters `cache` at the first call (see [`PageCache::enter`]).
    #[inline]
    fn enter(&self, cache: &PageCache) {
        self.entered.get_or_init(|| cache.enter());
    }

    /// Page `pgno` from `cache`, borrowed for as long as `self`.
    #[inline]
    fn cached_page<'a>(&'a self, cache: &PageCache, pgno: u64) -> Result<&'a [u8]> {
        self.enter(cache);
        let page = match cache.page_entered(pgno) {
            Some(page) => {
                let nth = self.hits.load(Ordering::Relaxed);
                self.hits.store(nth + 1, Ordering::Relaxed);
                cache.record_hit(pgno, nth);
                page
            }
            None => match cache.get_entered(pgno, 1)? {
                Some(page) => page,
                None => return self.private_run(cache, pgno, 1),
            },
        };
        // SAFETY: this reader entered the cache (just above or earlier) and leaves it only when
        // dropped or through `release(&mut self)`, neither possible while the returned slice
        // (borrowing `self`) lives. While it has not left, the cache frees no frame that was in
        // its table when the reader looked it up, and a frame in the table is never written;
        // the pointer is to such a frame's bytes, of exactly the frame's length. The page's
        // contents cannot have changed for this reader either: a commit only rewrites pages
        // that no live snapshot reaches.
        Ok(unsafe { &*page })
    }

    /// The run of `npages` pages from `pgno` (a large value), from the cache, or read privately
    /// once per transaction if the cache does not take it; borrowed for as long as `self`.
    fn cached_run<'a>(&'a self, cache: &PageCache, pgno: u64, npages: u64) -> Result<&'a [u8]> {
        self.enter(cache);
        match cache.get_entered(pgno, npages)? {
            // SAFETY: as in `cached_page`: this reader entered the cache just above (or earlier)
            // and cannot leave while the returned slice borrows `self`, so the frame stays
            // allocated and unchanged.
            Some(run) => Ok(unsafe { &*run }),
            None => self.private_run(cache, pgno, npages),
        }
    }

    /// The run of `npages` pages from `pgno`, read from the file once per transaction and kept
    /// here, borrowed for as long as `self`: for a large value the cache does not take.
    fn private_run<'a>(&'a self, cache: &PageCache, pgno: u64, npages: u64) -> Result<&'a [u8]> {
        let lend = |f: &Frame| -> &'a [u8] {
            // SAFETY: `f` is an entry of `self.runs`. Its bytes live in the frame's own heap
            // allocation, which never moves and is never written once built; the entry keeps
            // it alive, and entries leave `self.runs` only through `&mut self` (`release`) or
            // drop, which the borrow checker forbids while the returned slice is alive.
            unsafe { std::slice::from_raw_parts(f.as_ptr(), f.len()) }
        };
        if let Some(f) = self.runs.lock().get(&(pgno, npages)) {
            return Ok(lend(f));
        }
        let fetched = cache.read_run(pgno, npages)?;
        // Another thread sharing the transaction may have read the run meanwhile: keep its frame
        // (its slices point into it) and drop ours.
        let mut runs = self.runs.lock();
        Ok(lend(runs.entry((pgno, npages)).or_insert(fetched)))
    }
}

impl Drop for TxnView {
    fn drop(&mut self) {
        self.release();
    }
}

/// A page or run lent for a moment without pinning it to the transaction: a slice of the map, or
/// a reference to a cache frame that lives as long as this value. For walks over the whole
/// database (the integrity check), so that they stay within the cache's memory bound.
pub(crate) enum PageRef<'a> {
    /// A slice of the map.
    Slice(&'a [u8]),
    /// A cache frame.
    Frame(Frame),
    /// A sealed copy of a page of the write window, which holds its pages unsealed.
    Sealed(PageBuf),
}

impl std::ops::Deref for PageRef<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            PageRef::Slice(s) => s,
            PageRef::Frame(f) => f,
            PageRef::Sealed(b) => b,
        }
    }
}

impl TxnView {
    /// `npages` pages from `pgno`, lent without pinning (see [`PageRef`]), sealed: a page of the
    /// write window as a sealed copy.
    pub fn lend(&self, pgno: u64, npages: u64) -> Result<PageRef<'_>> {
        let range = self.view.bounds(pgno, npages)?;
        let windows = [&self.view.window, &self.view.older].into_iter().flatten();
        if let Some(copy) = windows.filter_map(|w| w.sealed_copy(pgno)).next() {
            self.view.checked_len(pgno, npages, &copy)?;
            return Ok(PageRef::Sealed(copy));
        }
        if let Some(b) = self.view.overlaid(pgno, npages)? {
            return Ok(PageRef::Slice(b));
        }
        match &self.view.backing {
            Backing::Map(m) => Ok(PageRef::Slice(m.page(pgno, range)?)),
            Backing::Cache(c) => Ok(PageRef::Frame(c.get(pgno, npages)?)),
        }
    }
}

impl TxnView {
    /// Page `pgno` when it may be held in memory or cached: [`PageSource::page`] off its inline
    /// path (a map without memory pages).
    #[inline(never)]
    fn page_held(&self, pgno: u64) -> Result<&[u8]> {
        let range = self.view.bounds(pgno, 1)?;
        if let Some(b) = self.view.overlaid(pgno, 1)? {
            return Ok(b);
        }
        match &self.view.backing {
            Backing::Map(m) => m.page(pgno, range),
            Backing::Cache(c) => self.cached_page(c, pgno),
        }
    }
}

impl PageSource for TxnView {
    #[inline(always)]
    fn page(&self, pgno: u64) -> Result<&[u8]> {
        match &self.map {
            Some(m) => m.page(pgno, self.view.bounds(pgno, 1)?),
            None => self.page_held(pgno),
        }
    }

    fn run(&self, pgno: u64, npages: u64) -> Result<&[u8]> {
        if npages == 1 {
            return self.page(pgno);
        }
        let range = self.view.bounds(pgno, npages)?;
        if let Some(b) = self.view.overlaid(pgno, npages)? {
            return Ok(b);
        }
        match &self.view.backing {
            Backing::Map(m) => m.page(pgno, range),
            Backing::Cache(c) => self.cached_run(c, pgno, npages),
        }
    }

    fn page_size(&self) -> usize {
        self.view.page_size
    }

    fn verifies_checksums(&self) -> bool {
        match &self.view.backing {
            Backing::Map(m) => m.verifies(),
            Backing::Cache(c) => c.verifies(),
        }
    }

    /// On a map without memory pages, maps the pages now (see [`Map::will_need`]); the cached
    /// backend reads a page when it misses, and ignores the hint.
    fn will_need(&self, pgno: u64, npages: u64) {
        if let (Some(m), Ok(range)) = (&self.map, self.view.bounds(pgno, npages)) {
            m.will_need(range);
        }
    }
}

/// Asks the CPU to fetch every 64-byte line of `bytes` into its caches, without waiting for
/// them: a hint, with no effect on what a later read returns. A cursor calls it for the leaf
/// after the one it arrived at, so that leaf's misses overlap with the steps through this one.
#[inline]
pub(crate) fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has; a prefetch never faults
        // and reads nothing the program sees, and `line` points into a live slice anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // Elsewhere, touch one byte of each line: the loads are independent, so their misses
        // overlap with each other.
        let sum = bytes
            .iter()
            .step_by(64)
            .fold(0u8, |acc, &b| acc.wrapping_add(b));
        std::hint::black_box(sum);
    }
}
