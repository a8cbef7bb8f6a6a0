//! Page allocation for a write transaction: dirty pages, free pages, and the freelist tree.
//!
//! The freelist is a B+tree (the same code as tables) keyed by
//! `freeing txn u64 BE | writing txn u64 BE | chunk u32 BE`, whose values are packed u64 LE page
//! numbers. Pages freed by commit T are reusable once no snapshot older than T can be read again.
//! Two kinds of freed pages wait for different things ([`Gates`]):
//! - *young* pages, written after the last checkpoint: recovery never reads them (it opens the
//!   checkpoint and replays the log), so only live snapshots hold them back;
//! - *old* pages, reachable from the last checkpoint: also held back until a newer checkpoint is
//!   durable (recovery may open the old one). Their keys carry [`OLD_FREE`] in the freeing txn, so
//!   they sort after every young entry.
//!
//! Free pages a transaction pulled but did not use stay in memory, with the version it commits
//! (its *spare* pages, which the next transaction takes first), until a checkpoint writes them back
//! under freeing txn 0. Recovery never misses them: each was free in the last checkpoint or lies
//! past its pages (see `docs/FORMAT.md`, section 13, step 3).
//!
//! Pages freed by a commit that goes to the log (not a checkpoint) do not go into the tree either:
//! they stay in memory with its version. Young ones are its *pending* frees (at most
//! [`MAX_PENDING`] of them), each with its freeing txn; the next transaction takes those its gates
//! allow first. Old ones cannot be reused before the next checkpoint anyway: they join a list the
//! versions share ([`OldFrees`], at most [`MAX_OLD_FREES`]), which no writer reads again. A commit
//! that would leave more than either bound, and every checkpoint, writes them all into the tree
//! under its own txn (which is at least each one's freeing txn, so no page becomes reusable
//! sooner). Recovery never misses them either: the log replays the commits that freed them. So
//! a small commit after a checkpoint edits no freelist page at all.
//!
//! A multi-page allocation (an overflow run) takes the best-fitting run of consecutive reusable
//! pages ([`runs`]), pulling freelist entries until one holds it; failing that, a free run at the
//! end of the file is extended, and only then does the file grow. A commit may also give back the
//! free run at the end of the file ([`WriterPages::trim_tail`]): `page_count` shrinks, and the
//! checkpoint that makes it durable truncates the file.
//!
//! While the freelist itself is being edited (`in_freelist_op`), allocation never pulls from it
//! and freed dirty pages are held as pending: that keeps the edits from recursing and makes the
//! commit-time fixed point terminate.

use crate::btree::cursor::Cursor;
use crate::btree::mutate::{self, Scratch};
use crate::btree::{PageSource, PageStore, TreeRoot};
use crate::error::{corrupted, Result};
use crate::page::layout::FreelistKey;
use crate::page::node::Node;
use crate::page::{PagePtr, OFF_TXN};
use crate::store::{PageBuf, TxnView, View};
use dirty::DirtyPages;
use std::ops::Bound;
use zerocopy::FromBytes;

mod dirty;
mod old_frees;
mod runs;

pub(crate) use old_frees::OldFrees;

/// Length of a freelist key.
pub(crate) const FREELIST_KEY_LEN: usize = 20;

/// Set in the freeing txn of entries whose pages the last checkpoint (when they were freed) could
/// reach: they wait for a newer checkpoint as well as for snapshots.
pub(crate) const OLD_FREE: u64 = 1 << 63;

/// The most pending frees (see the module docs) a version keeps in memory: past this, a commit
/// writes them into the freelist tree. Each commit copies them, so the bound stays small.
pub(crate) const MAX_PENDING: usize = 256;

/// The most old pages freed since the last checkpoint that the versions keep in memory
/// ([`OldFrees`]): past this, a commit writes them into the freelist tree. Commits do not copy
/// them, so the bound only limits the memory they take and the unrecorded free pages a version
/// published to read-only handles of other processes lists with its spare and pending ones
/// (beyond `store::readers::SPARE_MAX` in all, it is published as incomplete, and their `check`
/// does not report unaccounted pages).
pub(crate) const MAX_OLD_FREES: usize = 384;

/// Up to this many reusable pending frees join a transaction's reusable pages by insertion into
/// their sorted order ([`runs::insert_tail`]); more are sorted with them.
const FEW_INSERTS: usize = 16;

/// A young page (written after the last checkpoint) freed since, and not yet in the freelist
/// tree (old ones are [`OldFrees`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingFree {
    /// The freeing txn.
    pub freeing: u64,
    /// The page.
    pub pgno: u64,
}

/// What a write transaction may reuse, fixed when it begins.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gates {
    /// Txn of the last durable checkpoint: a page whose writing txn is above it is young.
    pub checkpoint: u64,
    /// Young pages freed by a txn up to this one are reusable (the oldest live snapshot).
    pub young: u64,
    /// Old pages freed by a txn up to this one are reusable (that, and the checkpoint).
    pub old: u64,
    /// Pages stamped with this txn id or a later one were written by this handle since it opened
    /// (ids jump at every open): copying them into a transaction needs no re-verification.
    pub trusted: u64,
}

impl Gates {
    /// Whether pages freed under the freelist key field `freeing` ([`OLD_FREE`] set for old
    /// ones) are reusable.
    pub fn allow(&self, freeing: u64) -> bool {
        if freeing & OLD_FREE == 0 {
            freeing <= self.young
        } else {
            freeing & !OLD_FREE <= self.old
        }
    }
}

/// Encodes a freelist key (`page::layout::FreelistKey`).
pub(crate) fn freelist_key(
    freeing_txn: u64,
    writer_txn: u64,
    chunk: u32,
) -> [u8; FREELIST_KEY_LEN] {
    zerocopy::transmute!(FreelistKey {
        freeing: freeing_txn.into(),
        writer: writer_txn.into(),
        chunk: chunk.into(),
    })
}

/// The freeing txn of a freelist key (with [`OLD_FREE`] cleared), or None if the key is
/// malformed.
pub(crate) fn freelist_key_txn(key: &[u8]) -> Option<u64> {
    freelist_key_field(key).map(|t| t & !OLD_FREE)
}

/// The freeing-txn field of a freelist key as stored ([`OLD_FREE`] included).
#[deny(clippy::indexing_slicing)]
fn freelist_key_field(key: &[u8]) -> Option<u64> {
    FreelistKey::ref_from_bytes(key)
        .ok()
        .map(|k| k.freeing.get())
}

/// Decodes a freelist value into page numbers; None if its length is not a multiple of 8.
pub(crate) fn freelist_pages(value: &[u8]) -> Option<impl Iterator<Item = u64> + '_> {
    if value.len() % 8 != 0 {
        return None;
    }
    Some(
        value
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))),
    )
}

/// Page numbers per freelist entry, so that entries stay inline in their leaf.
fn chunk_len(page_size: usize) -> usize {
    (crate::btree::max_inline_cell(page_size)
        - crate::page::node::LEAF_CELL_HEADER
        - FREELIST_KEY_LEN)
        / 8
}

/// Page buffers a write transaction keeps for the next one ([`WriterPages::take_buffers`]).
const POOL_KEPT: usize = 64;

/// The longest lists of pages (in entries they have room for) that a write transaction keeps
/// for the next one ([`WriterPages::take_buffers`]); pending frees never exceed [`MAX_PENDING`]
/// by much.
const LIST_KEPT: usize = 4096;

/// The largest map of dirty pages (in entries it has room for) that a write transaction keeps
/// for the next one ([`WriterPages::take_buffers`]); a transaction whose map grew larger keeps
/// no buffers at all.
const DIRTY_KEPT: usize = 64;

/// The buffers of a finished write transaction's pages, emptied, for the next one
/// ([`WriterPages::new`]): a small transaction then allocates none of its lists, maps and
/// scratch space, and takes page buffers from the pool.
#[derive(Default)]
pub(crate) struct PageBuffers {
    dirty: DirtyPages,
    pool: Vec<PageBuf>,
    reusable: Vec<u64>,
    freed: Vec<u64>,
    freed_old: Vec<u64>,
    pending: Vec<PendingFree>,
    fl_scratch: Box<Scratch>,
}

/// A write transaction's view of the pages: its dirty pages over the committed snapshot, and
/// where new pages come from.
pub(crate) struct WriterPages {
    view: TxnView,
    txn: u64,
    page_size: usize,
    dirty: DirtyPages,
    pool: Vec<PageBuf>,
    /// Pages in use or free: the next page from the end of the file is this one.
    pub page_count: u64,
    reusable: Vec<u64>,
    /// Young pages this transaction freed, and old ones (see the module docs).
    freed: Vec<u64>,
    freed_old: Vec<u64>,
    /// Pending frees of earlier commits that the gates do not let this one reuse.
    pending: Vec<PendingFree>,
    /// Old pages freed since the last checkpoint by earlier commits, in no freelist entry.
    old_frees: OldFrees,
    /// The freelist tree.
    pub freelist: TreeRoot,
    gates: Gates,
    in_freelist_op: bool,
    freelist_exhausted: bool,
    /// The freelist's scratch space (None only while an edit of the freelist has it, or once
    /// the buffers are taken).
    fl_scratch: Option<Box<Scratch>>,
}

impl WriterPages {
    /// Pages for transaction `txn` over the committed `view`, reusing its `spare` pages and the
    /// `pending` frees that `gates` allow first, then freelist entries as they allow; in the
    /// `buffers` of an earlier transaction. Its `old_frees` wait for the next checkpoint.
    pub fn new(
        view: &View,
        txn: u64,
        freelist: PagePtr,
        gates: Gates,
        (spare, pending, old_frees): (&[u64], &[PendingFree], &OldFrees),
        buffers: PageBuffers,
    ) -> WriterPages {
        let page_size = view.page_size();
        let page_count = view.page_count();
        let PageBuffers {
            dirty,
            pool,
            mut reusable,
            freed,
            freed_old,
            pending: mut waiting,
            fl_scratch,
        } = buffers;
        reusable.extend_from_slice(spare);
        for &f in pending {
            match gates.allow(f.freeing) {
                true => reusable.push(f.pgno),
                false => waiting.push(f),
            }
        }
        // A small commit frees a few pages, which the next one may take: they join the spare
        // pages (kept sorted) one by one; many are sorted with them.
        if reusable.len() - spare.len() <= FEW_INSERTS {
            runs::insert_tail(&mut reusable, spare.len());
        } else {
            runs::sort_desc(&mut reusable);
        }
        WriterPages {
            view: view.reader(),
            txn,
            page_size,
            dirty: dirty.based_at(page_count),
            pool,
            page_count,
            reusable,
            freed,
            freed_old,
            pending: waiting,
            old_frees: old_frees.clone(),
            freelist: TreeRoot {
                root: freelist,
                count: 0,
            },
            gates,
            in_freelist_op: false,
            freelist_exhausted: false,
            fl_scratch: Some(fl_scratch),
        }
    }

    /// This transaction's buffers, emptied, for the next one ([`WriterPages::new`]): the dirty
    /// pages' buffers (up to [`POOL_KEPT`] single pages, with the pool's) go to its pool. None if
    /// it had more than [`DIRTY_KEPT`] dirty pages.
    pub fn take_buffers(&mut self) -> PageBuffers {
        if self.dirty.capacity() > DIRTY_KEPT {
            // A large transaction keeps nothing: each page it kept would keep the whole slab it
            // lies in (`PageBuf`) from going back to the system once the rest of it is freed.
            return PageBuffers::default();
        }
        let mut pool = std::mem::take(&mut self.pool);
        let page_size = self.page_size;
        pool.extend(self.dirty.drain().filter(|b| b.len() == page_size));
        pool.truncate(POOL_KEPT);
        // Lists a large transaction grew are not kept (their memory would stay).
        let emptied = |v: &mut Vec<u64>| match v.capacity() > LIST_KEPT {
            true => Vec::new(),
            false => {
                v.clear();
                std::mem::take(v)
            }
        };
        let mut pending = std::mem::take(&mut self.pending);
        pending.clear();
        PageBuffers {
            dirty: std::mem::take(&mut self.dirty),
            pool,
            reusable: emptied(&mut self.reusable),
            freed: emptied(&mut self.freed),
            freed_old: emptied(&mut self.freed_old),
            pending,
            fl_scratch: self.fl_scratch.take().unwrap_or_default().recycled(),
        }
    }

    /// Id of the writing transaction.
    pub fn txn_id(&self) -> u64 {
        self.txn
    }

    /// True if the transaction changed nothing.
    pub fn is_clean(&self) -> bool {
        self.dirty.is_empty() && self.freed.is_empty() && self.freed_old.is_empty()
    }

    /// Number of pages of the last checkpoint this transaction freed (held back until a newer
    /// checkpoint is durable).
    pub fn freed_old_count(&self) -> usize {
        self.freed_old.len()
    }

    /// Takes a run of `npages` pages for the commit log's region (a free run, best fit, or fresh
    /// pages at the end of the file): not a tree page, never sealed or written as one.
    pub fn alloc_region(&mut self, npages: u64) -> Result<u64> {
        if let Some(p) = self.take_run(npages)? {
            return Ok(p);
        }
        let p = self.page_count;
        self.page_count += npages;
        Ok(p)
    }

    /// If the log region `(start, npages)` ends the file (so no free tail can be given back) and
    /// at least `max(npages, page_count / 8)` pages are reusable (`npages` when `compacting`),
    /// takes a free run for it lower in the file and returns its first page; the caller frees
    /// the old one.
    pub fn move_region(
        &mut self,
        (start, npages): (u64, u64),
        compacting: bool,
    ) -> Result<Option<u64>> {
        if npages == 0 || start + npages != self.page_count {
            return Ok(None);
        }
        let worth = if compacting {
            npages
        } else {
            npages.max(self.page_count / 8)
        };
        if (self.reusable.len() as u64) < worth {
            return Ok(None);
        }
        self.take_run(npages)
    }

    /// Frees the old commit log region (pages of the last checkpoint).
    pub fn free_region(&mut self, (start, npages): (u64, u64)) {
        self.freed_old.extend(start..start + npages);
    }

    /// A zeroed buffer for `npages` new pages.
    fn new_buffer(&mut self, npages: u64) -> PageBuf {
        if npages == 1 {
            if let Some(mut b) = self.pool.pop() {
                b.fill(0);
                return b;
            }
        }
        crate::store::window::recycled_buffer(npages as usize * self.page_size)
    }

    /// Allocates `npages` pages (a reusable page or run, else the end of the file) and gives them
    /// a zeroed dirty buffer.
    fn alloc_pages(&mut self, npages: u64) -> Result<u64> {
        let pgno = self.alloc_pgno(npages)?;
        let buf = self.new_buffer(npages);
        self.dirty.insert(pgno, buf);
        Ok(pgno)
    }

    /// Picks the page number of `npages` new pages: a reusable page or run, else the end of the
    /// file. The caller gives them a dirty buffer.
    fn alloc_pgno(&mut self, npages: u64) -> Result<u64> {
        let pgno = if npages == 1 {
            match self.reusable.pop() {
                None if !self.in_freelist_op && self.pull()? => self.reusable.pop(),
                p => p,
            }
        } else {
            self.take_run(npages)?
        };
        Ok(match pgno {
            Some(p) => p,
            None => {
                let p = self.page_count;
                self.page_count += npages;
                p
            }
        })
    }

    /// Moves the first reusable freelist entry into `reusable`. False if there is none.
    fn pull(&mut self) -> Result<bool> {
        if self.freelist_exhausted || self.freelist.root.is_null() {
            return Ok(false);
        }
        self.in_freelist_op = true;
        let r = self.pull_entry();
        self.in_freelist_op = false;
        let pulled = r?;
        if !pulled {
            self.freelist_exhausted = true;
        }
        Ok(pulled)
    }

    fn pull_entry(&mut self) -> Result<bool> {
        let mut pulled = Vec::new();
        let key = {
            let mut c = Cursor::seek_lower(self, self.freelist.root, None, Bound::Unbounded)?;
            let malformed = || corrupted(self.freelist.root.pgno, "malformed freelist key");
            let Some((mut key, mut v)) = c.current()? else {
                return Ok(false);
            };
            let mut field = freelist_key_field(key).ok_or_else(malformed)?;
            if field & OLD_FREE == 0 && field > self.gates.young {
                // No young entry is reusable: try the first old one.
                let first_old = freelist_key(OLD_FREE, 0, 0);
                c = Cursor::seek_lower(
                    self,
                    self.freelist.root,
                    None,
                    Bound::Included(&first_old[..]),
                )?;
                let Some(next) = c.current()? else {
                    return Ok(false);
                };
                (key, v) = next;
                field = freelist_key_field(key).ok_or_else(malformed)?;
            }
            if !self.gates.allow(field) {
                return Ok(false);
            }
            let bytes = crate::btree::value(self, v)?;
            let pages = freelist_pages(bytes)
                .ok_or_else(|| corrupted(self.freelist.root.pgno, "malformed freelist entry"))?;
            for p in pages {
                if p < 2 || p >= self.view.page_count() {
                    return Err(corrupted(
                        self.freelist.root.pgno,
                        format!("freelist names page {p}, outside the file"),
                    ));
                }
                pulled.push(p);
            }
            let mut k = [0u8; FREELIST_KEY_LEN];
            k.copy_from_slice(key);
            k
        };
        self.reusable.extend(pulled);
        // Popped from the end: ascending page numbers, so a commit's pages tend to form runs that
        // one `pwritev` writes.
        runs::sort_desc(&mut self.reusable);
        self.edit_freelist(|s, sc, root| mutate::remove(s, sc, root, &key).map(|_| ()))?;
        Ok(true)
    }

    /// Takes a run of `npages` consecutive reusable pages (best fit), pulling freelist entries
    /// until one holds it; failing that, extends the free run at the end of the file, if any.
    /// None: the run must come from the end of the file.
    fn take_run(&mut self, npages: u64) -> Result<Option<u64>> {
        loop {
            runs::sort_desc(&mut self.reusable);
            if let Some(p) = runs::best_fit(&mut self.reusable, npages) {
                return Ok(Some(p));
            }
            if self.in_freelist_op || !self.pull()? {
                break;
            }
        }
        let k = runs::take_tail(&mut self.reusable, self.page_count);
        if k == 0 {
            return Ok(None);
        }
        let first = self.page_count - k;
        self.page_count += npages - k;
        Ok(Some(first))
    }

    /// Gives back the run of reusable pages at the end of the file: `page_count` shrinks by its
    /// length, which is returned. With `pull_all`, every reusable freelist entry is pulled first,
    /// so the whole free tail is found (the pages pulled but not trimmed go back to the freelist
    /// under freeing txn 0). The file itself is truncated by the checkpoint that makes the
    /// smaller `page_count` durable.
    pub fn trim_tail(&mut self, pull_all: bool) -> Result<u64> {
        if pull_all && !self.freelist_exhausted && !self.freelist.root.is_null() {
            self.in_freelist_op = true;
            let r = self.pull_all();
            self.in_freelist_op = false;
            r?;
            self.freelist_exhausted = true;
        }
        runs::sort_desc(&mut self.reusable);
        let k = runs::take_tail(&mut self.reusable, self.page_count);
        self.page_count -= k;
        Ok(k)
    }

    /// After a full [`Self::trim_tail`]: the page number at which the file could end if the live
    /// pages filled the reusable ones below it; compaction moves the live pages from there on.
    pub fn relocation_limit(&self) -> u64 {
        self.page_count.saturating_sub(self.reusable.len() as u64)
    }

    /// Moves the freelist tree's pages numbered `limit` or above lower (compaction), counting
    /// them in `moved`. Run after a full trim: no entry is pulled while the tree is walked.
    pub fn relocate_freelist(&mut self, limit: u64, moved: &mut u64) -> Result<()> {
        self.in_freelist_op = true;
        let root = self.freelist.root;
        let mut scan = crate::btree::relocate::LeafScan::new(true);
        let r = crate::btree::relocate::relocate(self, root, limit, moved, &mut scan);
        self.in_freelist_op = false;
        self.freelist.root = r?;
        Ok(())
    }

    /// Moves every reusable freelist entry into `reusable`: all are read first, then removed, so
    /// that the removals' own page allocations take the lowest pages of them all (rather than
    /// splitting runs high in the file).
    fn pull_all(&mut self) -> Result<()> {
        let (mut keys, mut pulled) = (Vec::new(), Vec::new());
        {
            let root = self.freelist.root;
            let mut c = Cursor::seek_lower(self, root, None, Bound::Unbounded)?;
            let mut entry = c.current()?;
            while let Some((key, v)) = entry {
                let field = freelist_key_field(key)
                    .ok_or_else(|| corrupted(root.pgno, "malformed freelist key"))?;
                if self.gates.allow(field) {
                    let bytes = crate::btree::value(self, v)?;
                    let pages = freelist_pages(bytes)
                        .ok_or_else(|| corrupted(root.pgno, "malformed freelist entry"))?;
                    for p in pages {
                        if p < 2 || p >= self.view.page_count() {
                            return Err(corrupted(
                                root.pgno,
                                format!("freelist names page {p}, outside the file"),
                            ));
                        }
                        pulled.push(p);
                    }
                    keys.push(key.to_vec());
                }
                entry = c.next()?;
            }
        }
        self.reusable.extend(pulled);
        runs::sort_desc(&mut self.reusable);
        for key in keys {
            self.edit_freelist(|s, sc, root| mutate::remove(s, sc, root, &key).map(|_| ()))?;
        }
        Ok(())
    }

    /// Runs an edit of the freelist tree with the freelist's own scratch buffers.
    fn edit_freelist(
        &mut self,
        f: impl FnOnce(&mut Self, &mut Scratch, &mut TreeRoot) -> Result<()>,
    ) -> Result<()> {
        let mut sc = self.fl_scratch.take().unwrap_or_default();
        let mut root = self.freelist;
        let r = f(self, &mut sc, &mut root);
        self.freelist = root;
        self.fl_scratch = Some(sc);
        r
    }

    /// Writes `pages` as the freelist entries (`freeing_txn`, this txn, 0..), removing entries of
    /// an earlier write beyond the new count. Returns the new chunk count.
    fn write_entries(&mut self, freeing_txn: u64, pages: &[u64], written: u32) -> Result<u32> {
        let per = chunk_len(self.page_size);
        let mut n = 0u32;
        let mut value = Vec::with_capacity(per * 8);
        for chunk in pages.chunks(per) {
            value.clear();
            for p in chunk {
                value.extend_from_slice(&p.to_le_bytes());
            }
            let key = freelist_key(freeing_txn, self.txn, n);
            self.edit_freelist(|s, sc, root| {
                mutate::insert(s, sc, root, &key, &value).map(|_| ())
            })?;
            n += 1;
        }
        for i in n..written {
            let key = freelist_key(freeing_txn, self.txn, i);
            self.edit_freelist(|s, sc, root| mutate::remove(s, sc, root, &key).map(|_| ()))?;
        }
        Ok(n)
    }

    /// Records this transaction's freed pages, and the free pages it holds but did not use.
    ///
    /// With `keep_spare` (a commit to the log) both stay in memory ([`WriterPages::take_spare`],
    /// [`WriterPages::take_pending`]) unless the pending frees would pass [`MAX_PENDING`] or the
    /// old ones [`MAX_OLD_FREES`]; then, and always without it (a checkpoint), the freed, pending
    /// and old pages go into the freelist tree under this txn, and without `keep_spare` the
    /// unused free pages too. Editing the freelist allocates and frees pages itself, so that
    /// repeats until nothing moves.
    pub fn finish_freelist(&mut self, keep_spare: bool) -> Result<()> {
        let pending = self.pending.len() + self.freed.len();
        let old = self.old_frees.len() + self.freed_old.len();
        if keep_spare && pending <= MAX_PENDING && old <= MAX_OLD_FREES {
            let young = self.txn;
            let freed = self.freed.drain(..).map(|pgno| PendingFree {
                freeing: young,
                pgno,
            });
            self.pending.extend(freed);
            self.old_frees = self.old_frees.with(&self.freed_old);
            self.freed_old.clear();
            return Ok(());
        }
        self.freed.extend(self.pending.drain(..).map(|f| f.pgno));
        std::mem::take(&mut self.old_frees).copy_into(&mut self.freed_old);
        self.in_freelist_op = true;
        let r = (|| {
            let (mut freed_chunks, mut reuse_chunks) = (0, 0);
            let mut old_chunks = 0;
            loop {
                let lens = |s: &Self| (s.freed.len(), s.freed_old.len(), s.reusable.len());
                let before = lens(self);
                let freed = self.freed.clone();
                freed_chunks = self.write_entries(self.txn, &freed, freed_chunks)?;
                let freed_old = self.freed_old.clone();
                old_chunks = self.write_entries(self.txn | OLD_FREE, &freed_old, old_chunks)?;
                if !keep_spare {
                    let reusable = self.reusable.clone();
                    reuse_chunks = self.write_entries(0, &reusable, reuse_chunks)?;
                }
                if lens(self) == before {
                    return Ok(());
                }
            }
        })();
        self.in_freelist_op = false;
        r
    }

    /// The free pages this transaction holds but did not use (after `finish_freelist(true)`):
    /// in no tree, and reachable from no version. Hands them over (the list stays, empty).
    pub fn take_spare(&mut self) -> std::sync::Arc<[u64]> {
        let spare = self.reusable[..].into();
        self.reusable.clear();
        spare
    }

    /// Takes `pages` as free pages to record (free in the file, in no freelist entry, reachable
    /// from no tree: [`crate::txn::write::WriteTxn::record_free`]).
    pub fn adopt_free(&mut self, pages: &[u64]) {
        self.reusable
            .extend(pages.iter().filter(|&&p| p >= 2 && p < self.page_count));
        runs::sort_desc(&mut self.reusable);
    }

    /// The pages freed since the last checkpoint that are in no freelist entry (after
    /// `finish_freelist`): the new version's pending frees (young, with their freeing txns) and
    /// old frees.
    pub fn take_pending(&mut self) -> (std::sync::Arc<[PendingFree]>, OldFrees) {
        let pending = self.pending[..].into();
        self.pending.clear();
        (pending, std::mem::take(&mut self.old_frees))
    }

    /// Every dirty page, by page number, not sealed yet: for the commit to take (draining
    /// them), which seals each as it is written into the file (a page that a later commit
    /// replaces in the write window before it is written is never sealed); and the free pages
    /// this transaction holds but did not use, which no version and no checkpoint reaches
    /// (after `finish_freelist(false)`, which records them; none after [`Self::take_spare`]).
    pub fn dirty_and_unused(&mut self) -> (&mut crate::store::Overlay, &[u64]) {
        (self.dirty.as_map(), &self.reusable)
    }

    /// Seals every dirty page (checksum) and hands them all over, by page number: to a
    /// read-only handle's replay, which keeps them in memory.
    pub fn take_sealed(&mut self) -> crate::store::Overlay {
        let mut dirty = self.dirty.take_map();
        for (&pgno, buf) in dirty.iter_mut() {
            crate::page::seal(buf, pgno);
        }
        dirty
    }
}

impl PageSource for WriterPages {
    fn page(&self, pgno: u64) -> Result<&[u8]> {
        match self.dirty.get(pgno) {
            Some(b) => Ok(&b[..self.page_size]),
            None => self.view.page(pgno),
        }
    }

    fn run(&self, pgno: u64, npages: u64) -> Result<&[u8]> {
        match self.dirty.get(pgno) {
            Some(b) if b.len() as u64 == npages * self.page_size as u64 => Ok(b),
            Some(_) => Err(corrupted(
                pgno,
                "overflow run length differs from its reference",
            )),
            None => self.view.run(pgno, npages),
        }
    }

    fn page_size(&self) -> usize {
        self.page_size
    }

    fn will_need(&self, pgno: u64, npages: u64) {
        self.view.will_need(pgno, npages);
    }

    fn verifies_checksums(&self) -> bool {
        self.view.verifies_checksums()
    }
}

impl PageStore for WriterPages {
    fn txn(&self) -> u64 {
        self.txn
    }

    fn cow(&mut self, ptr: PagePtr) -> Result<u64> {
        if ptr.txn == self.txn && self.dirty.contains(ptr.pgno) {
            return Ok(ptr.pgno);
        }
        self.check_copy(ptr)?;
        let new = self.alloc_pgno(1)?;
        let src = self.view.page(ptr.pgno)?;
        // The copy is made as the buffer is filled: never zeroed first.
        let mut dst = match self.pool.pop() {
            Some(mut b) => {
                crate::page::copy_used(&mut b, src);
                b
            }
            None => crate::store::window::recycled_copy(src),
        };
        crate::page::put_u64(&mut dst, OFF_TXN, self.txn);
        self.dirty.insert(new, dst);
        self.free(ptr, 1);
        Ok(new)
    }

    fn page_mut(&mut self, pgno: u64) -> &mut [u8] {
        self.dirty
            .get_mut(pgno)
            .map(|b| &mut b[..])
            .unwrap_or(&mut [])
    }

    fn check_copy(&self, ptr: PagePtr) -> Result<()> {
        // A page copied is resealed, so verify it first: resealing a damaged page would make
        // the damage permanent and invisible to check(). Pages this handle wrote itself are
        // trusted.
        if !self.wrote(ptr.txn) {
            let page = self.view.page(ptr.pgno)?;
            crate::page::verify_checksum(ptr.pgno, page)?;
            Node::parse(ptr.pgno, page, ptr.txn)?.validate_cells()?;
        }
        Ok(())
    }

    fn alloc(&mut self, npages: u64) -> Result<u64> {
        self.alloc_pages(npages)
    }

    fn wrote(&self, txn: u64) -> bool {
        txn >= self.gates.trusted
    }

    fn free(&mut self, ptr: PagePtr, npages: u64) {
        let pages = ptr.pgno..ptr.pgno + npages;
        if ptr.txn == self.txn {
            if let Some(buf) = self.dirty.remove(ptr.pgno) {
                if buf.len() == self.page_size {
                    self.pool.push(buf);
                }
                // Never visible to any snapshot: reusable at once, except while the freelist is
                // being edited (see the module docs).
                if self.in_freelist_op {
                    self.freed.extend(pages);
                } else {
                    self.reusable.extend(pages);
                }
                return;
            }
        }
        if ptr.txn > self.gates.checkpoint {
            self.freed.extend(pages);
        } else {
            self.freed_old.extend(pages);
        }
    }
}
