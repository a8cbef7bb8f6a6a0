//! The integrity walk behind [`crate::Database::check`], [`crate::Database::stats`] and recovery.
//!
//! A full walk visits every page reachable from a commit (catalog, tables, overflow runs, the
//! freelist tree) and every page the freelist names, and verifies the invariants of
//! docs/ARCHITECTURE.md: checksums; each page accounted for exactly once; keys strictly
//! increasing and inside their parent's separator bounds; all leaves of a tree at one depth;
//! entry counts equal to the catalog's. Recovery runs a partial walk that only enters pages
//! written after a given txn.

use crate::alloc::{freelist_key_txn, freelist_pages};
use crate::btree::{self, PageSource, TreeRoot, MAX_DEPTH};
use crate::catalog;
use crate::error::{corrupted, Result};
use crate::page::node::{LeafValue, Node};
use crate::page::{overflow_pages, verify_checksum, PagePtr, HEADER_LEN};
use crate::store::cache::CacheStats;
use crate::store::TxnView;
use crate::txn::Version;
use std::rc::Rc;

/// Statistics of one table (or of the catalog or freelist tree).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Table name.
    pub name: String,
    /// Number of entries.
    pub entries: u64,
    /// Levels of the tree (0 for an empty table, 1 for a single leaf).
    pub depth: u32,
    /// Leaf pages.
    pub leaf_pages: u64,
    /// Branch pages.
    pub branch_pages: u64,
    /// Pages of overflow runs (large values).
    pub overflow_pages: u64,
    /// Bytes used by slots and cells in leaf and branch pages (for the fill factor).
    pub used_bytes: u64,
}

/// Statistics of a database, from [`crate::Database::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Format version of the file's newest checkpoint (its newest valid meta slot). An older file
    /// keeps its version until a writable handle's first commit (a checkpoint) upgrades it; a
    /// read-only handle never does.
    pub format_version: u32,
    /// Page size in bytes.
    pub page_size: usize,
    /// Id of the latest commit.
    pub txn_id: u64,
    /// Length of the file in bytes (including preallocated space).
    pub file_size: u64,
    /// Pages in use or free (the rest of the file is preallocated).
    pub page_count: u64,
    /// Meta pages (always 2).
    pub meta_pages: u64,
    /// Free pages, reusable now or once older snapshots end.
    pub free_pages: u64,
    /// Pages of the catalog tree.
    pub catalog_pages: u64,
    /// Pages of the freelist tree.
    pub freelist_pages: u64,
    /// Pages of the commit log's region.
    pub log_pages: u64,
    /// Leaf pages of all tables.
    pub leaf_pages: u64,
    /// Branch pages of all tables.
    pub branch_pages: u64,
    /// Overflow pages of all tables.
    pub overflow_pages: u64,
    /// Per-table statistics, by name.
    pub tables: Vec<TableStats>,
    /// The page cache's counters, with the cached backend (taken before the walk, which reads
    /// through the cache too).
    pub cache: Option<CacheStats>,
}

impl Stats {
    /// Fraction of the leaf and branch pages' space that holds data, in 0..=1.
    pub fn fill_factor(&self) -> f64 {
        let pages: u64 = self
            .tables
            .iter()
            .map(|t| t.leaf_pages + t.branch_pages)
            .sum();
        let used: u64 = self.tables.iter().map(|t| t.used_bytes).sum();
        if pages == 0 {
            return 0.0;
        }
        used as f64 / (pages * (self.page_size - HEADER_LEN) as u64) as f64
    }
}

/// Which pages a walk enters.
#[derive(Clone, Copy)]
enum Mode {
    /// Every page, with every invariant.
    Full,
    /// Only pages written by txns after this one, checksums only (recovery).
    Since(u64),
}

/// What a walk calls for each entry of a tree: key and value.
type Visit<'v> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'v;

/// A page still to visit: pointer, depth, and the key bounds its parent gives it (copied, so that
/// the parent's page need not stay in memory: with the cached backend a walk of the whole database
/// keeps only the pages it is looking at).
type Pending = (PagePtr, usize, Option<Rc<[u8]>>, Option<Rc<[u8]>>);

struct Walker<'a> {
    src: &'a TxnView,
    mode: Mode,
    seen: Vec<u64>,
    /// The pages and runs accounted for so far (full walks).
    extents: Vec<(u64, u64)>,
}

impl<'a> Walker<'a> {
    fn new(src: &'a TxnView, mode: Mode) -> Walker<'a> {
        let n = if matches!(mode, Mode::Full) {
            src.page_count().div_ceil(64) as usize
        } else {
            0
        };
        Walker {
            src,
            mode,
            seen: vec![0; n],
            extents: Vec::new(),
        }
    }

    fn enters(&self, ptr: PagePtr) -> bool {
        match self.mode {
            Mode::Full => true,
            Mode::Since(t) => ptr.txn > t,
        }
    }

    /// Accounts for pages `pgno..pgno + n`: each may be accounted for once only.
    fn mark(&mut self, pgno: u64, n: u64, what: &str) -> Result<()> {
        if !matches!(self.mode, Mode::Full) {
            return Ok(());
        }
        for p in pgno..pgno.saturating_add(n) {
            if p < 2 || p >= self.src.page_count() {
                return Err(corrupted(
                    p,
                    format!("{what} page outside the file's pages"),
                ));
            }
            let (w, b) = ((p / 64) as usize, p % 64);
            if self.seen[w] & (1 << b) != 0 {
                return Err(corrupted(
                    p,
                    format!("{what} page is reachable twice (or both used and free)"),
                ));
            }
            self.seen[w] |= 1 << b;
        }
        self.extents.push((pgno, n));
        Ok(())
    }

    /// Walks the tree at `root`, calling `visit` for each entry, and fills `stats`.
    fn tree(&mut self, root: PagePtr, stats: &mut TableStats, visit: &mut Visit<'_>) -> Result<()> {
        if root.is_null() || !self.enters(root) {
            return Ok(());
        }
        let ps = self.src.page_size();
        let full = matches!(self.mode, Mode::Full);
        let mut leaf_depth: Option<usize> = None;
        let mut stack: Vec<Pending> = vec![(root, 1, None, None)];
        while let Some((ptr, depth, lo, hi)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(corrupted(
                    ptr.pgno,
                    "tree deeper than the maximum depth (a cycle?)",
                ));
            }
            self.mark(ptr.pgno, 1, "tree")?;
            let data = self.src.lend(ptr.pgno, 1)?;
            verify_checksum(ptr.pgno, &data)?;
            let n = Node::parse(ptr.pgno, &data, ptr.txn)?;
            n.validate_cells()?;
            if full && n.count() < if n.is_leaf() { 1 } else { 2 } {
                return Err(corrupted(
                    ptr.pgno,
                    "page with too few entries (a leaf needs one, a branch two)",
                ));
            }
            stats.used_bytes += n.used() as u64;
            let first = if n.is_leaf() { 0 } else { 1 };
            let mut prev: Option<&[u8]> = None;
            for i in first..n.count() {
                let k = n.key(i)?;
                if prev.is_some_and(|p| p >= k) {
                    return Err(corrupted(
                        ptr.pgno,
                        format!("keys out of order at entry {i}"),
                    ));
                }
                if lo.as_ref().is_some_and(|l| k < &l[..])
                    || hi.as_ref().is_some_and(|h| k >= &h[..])
                {
                    return Err(corrupted(
                        ptr.pgno,
                        format!("key of entry {i} outside its parent's bounds"),
                    ));
                }
                prev = Some(k);
            }
            if n.is_leaf() {
                stats.leaf_pages += 1;
                if *leaf_depth.get_or_insert(depth) != depth && full {
                    return Err(corrupted(ptr.pgno, "leaves at different depths"));
                }
                stats.depth = stats.depth.max(depth as u32);
                for i in 0..n.count() {
                    stats.entries += 1;
                    match n.leaf_entry(i)? {
                        (k, LeafValue::Inline(v)) => visit(k, v)?,
                        (_, LeafValue::Overflow { ptr: run, .. }) if !self.enters(run) => {}
                        (k, LeafValue::Overflow { ptr: run, len }) => {
                            let np = overflow_pages(len, ps);
                            self.mark(run.pgno, np, "overflow")?;
                            stats.overflow_pages += np;
                            let bytes = self.src.lend(run.pgno, np)?;
                            verify_checksum(run.pgno, &bytes)?;
                            visit(k, btree::run_value(run, &bytes, np, len)?)?;
                        }
                    }
                }
            } else {
                stats.branch_pages += 1;
                // Children right to left, so the leftmost is visited first; each separator bounds
                // the child on its left (above) and the one on its right (below).
                let mut chi = hi;
                for i in (0..n.count()).rev() {
                    let child = n.child(i)?;
                    let clo = if i == 0 {
                        lo.clone()
                    } else {
                        Some(Rc::from(n.key(i)?))
                    };
                    if self.enters(child) {
                        stack.push((child, depth + 1, clo.clone(), chi));
                    }
                    chi = clo;
                }
            }
        }
        Ok(())
    }
}

/// Walks everything reachable from `v` and checks every invariant; returns the statistics.
pub(crate) fn check(v: &Version, file_size: u64) -> Result<Stats> {
    check_extents(v, file_size).map(|(stats, _)| stats)
}

/// [`check`], also returning the pages and runs (first page, pages) reachable from `v`'s trees
/// (catalog, tables and their overflow runs, freelist tree): what a copy of `v` must hold.
pub(crate) fn check_extents(v: &Version, file_size: u64) -> Result<(Stats, Vec<(u64, u64)>)> {
    let cache = v.view.cache().map(|c| c.stats());
    let reader = v.view.reader();
    let src = &reader;
    let mut w = Walker::new(src, Mode::Full);
    let mut stats = Stats {
        format_version: crate::page::meta::FORMAT_VERSION,
        page_size: src.page_size(),
        txn_id: v.txn,
        file_size,
        page_count: src.page_count(),
        meta_pages: 2,
        cache,
        ..Stats::default()
    };
    let mut tables = Vec::new();
    let mut cat = TableStats::default();
    w.tree(v.catalog, &mut cat, &mut |k, val| {
        let name = std::str::from_utf8(k)
            .map_err(|_| corrupted(v.catalog.pgno, "table name is not UTF-8"))?;
        tables.push((name.to_string(), catalog::decode(v.catalog.pgno, val)?));
        Ok(())
    })?;
    stats.catalog_pages = cat.leaf_pages + cat.branch_pages;
    // Roots that commits since the catalog was last written kept out of it replace its entries.
    for d in v.deferred.iter() {
        match tables.iter_mut().find(|(name, _)| *name == *d.name) {
            Some((_, tree)) => *tree = d.tree,
            None => {
                return Err(corrupted(
                    v.catalog.pgno,
                    format!("table {:?} has a root but no catalog entry", d.name),
                ))
            }
        }
    }
    for (name, tree) in tables {
        let mut t = TableStats {
            name,
            ..TableStats::default()
        };
        w.tree(tree.root, &mut t, &mut |_, _| Ok(()))?;
        if t.entries != tree.count {
            return Err(corrupted(
                tree.root.pgno,
                format!(
                    "table {:?} has {} entries, its catalog entry says {}",
                    t.name, t.entries, tree.count
                ),
            ));
        }
        stats.leaf_pages += t.leaf_pages;
        stats.branch_pages += t.branch_pages;
        stats.overflow_pages += t.overflow_pages;
        stats.tables.push(t);
    }
    let mut free = Vec::new();
    let mut fl = TableStats::default();
    w.tree(v.freelist, &mut fl, &mut |k, val| {
        let txn = freelist_key_txn(k)
            .ok_or_else(|| corrupted(v.freelist.pgno, "malformed freelist key"))?;
        if txn > v.txn {
            return Err(corrupted(
                v.freelist.pgno,
                "freelist entry from a future transaction",
            ));
        }
        free.extend(
            freelist_pages(val)
                .ok_or_else(|| corrupted(v.freelist.pgno, "malformed freelist entry"))?,
        );
        Ok(())
    })?;
    stats.freelist_pages = fl.leaf_pages + fl.branch_pages;
    let reachable = std::mem::take(&mut w.extents);
    // Free pages taken from the freelist since the last checkpoint and not used yet.
    free.extend(v.unrecorded_free());
    let (log_start, log_pages) = v.log;
    if log_pages > 0 {
        w.mark(log_start, log_pages, "commit log")?;
        stats.log_pages = log_pages;
    }
    for p in free {
        w.mark(p, 1, "free")?;
        stats.free_pages += 1;
    }
    for p in 2..src.page_count() {
        if v.spare_complete && w.seen[(p / 64) as usize] & (1 << (p % 64)) == 0 {
            return Err(corrupted(p, "page is neither reachable nor free (leaked)"));
        }
    }
    Ok((stats, reachable))
}

/// Verifies the checksums of every page reachable from `catalog` and `freelist` that was written
/// after txn `since`: the pages a crash could have left unwritten.
pub(crate) fn verify_since(
    src: &TxnView,
    catalog: PagePtr,
    freelist: PagePtr,
    since: u64,
) -> Result<()> {
    let mut w = Walker::new(src, Mode::Since(since));
    let mut roots = Vec::new();
    w.tree(catalog, &mut TableStats::default(), &mut |_, val| {
        roots.push(catalog::decode(catalog.pgno, val)?);
        Ok(())
    })?;
    for TreeRoot { root, .. } in roots {
        w.tree(root, &mut TableStats::default(), &mut |_, _| Ok(()))?;
    }
    w.tree(freelist, &mut TableStats::default(), &mut |_, _| Ok(()))
}
