//! Moving the pages of a tree that lie at or past a page number into pages the store allocates
//! (lower free pages), for compaction: each such page is copied (copy-on-write, so snapshots keep
//! the old one), and so is every page on the path to it, whose pointer changes.
//!
//! A leaf below the limit is read only for the overflow runs its values point to. When the
//! caller knows the trees hold no overflow value (the walk before found none and nothing was
//! committed since), [`LeafScan::read_all`] false skips those leaves: most of a walk's time is
//! spent reading them. Skipping wrongly could only leave a run in place, which keeps the file
//! from shrinking past it, never a dangling pointer.

use super::{node, PageStore, MAX_DEPTH};
use crate::error::{corrupted, Result};
use crate::page::node::{self as pn, LeafValue};
use crate::page::{init_overflow, overflow_pages, PagePtr, HEADER_LEN};

/// Whether a relocation walk reads the leaves it does not move, and what it found in those it
/// read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeafScan {
    /// Read every leaf (for overflow runs to move), not only those at or past the limit.
    pub read_all: bool,
    /// Some leaf read held an overflow value (wherever its run lies).
    pub found_overflow: bool,
}

impl LeafScan {
    /// A walk that reads every leaf (`read_all`) or only those it moves, having found nothing yet.
    pub fn new(read_all: bool) -> LeafScan {
        LeafScan {
            read_all,
            found_overflow: false,
        }
    }
}

/// Moves every page of the tree at `root` numbered `limit` or above (tree pages and overflow
/// runs), and returns the new root; adds the pages moved to `moved`. A page the store allocates
/// at or past `limit` (no free page below it) is moved anyway: the tree stays correct. Leaves
/// below `limit` are read as `scan` says, and it records whether they held overflow values.
pub(crate) fn relocate<S: PageStore>(
    s: &mut S,
    root: PagePtr,
    limit: u64,
    moved: &mut u64,
    scan: &mut LeafScan,
) -> Result<PagePtr> {
    if root.is_null() {
        return Ok(root);
    }
    let mut walk = Walk {
        limit,
        moved,
        scan,
        leaf_depth: None,
    };
    relocate_node(s, &mut walk, root, 0)
}

/// The state of one tree's relocation walk.
struct Walk<'a> {
    limit: u64,
    moved: &'a mut u64,
    scan: &'a mut LeafScan,
    /// The depth of the tree's leaves, once a leaf was read (all leaves of a B+tree are at the
    /// same depth): a page there that stays in place need not be read when `scan` says so.
    leaf_depth: Option<usize>,
}

fn relocate_node<S: PageStore>(
    s: &mut S,
    walk: &mut Walk<'_>,
    ptr: PagePtr,
    depth: usize,
) -> Result<PagePtr> {
    let limit = walk.limit;
    if depth >= MAX_DEPTH {
        return Err(corrupted(
            ptr.pgno,
            "tree deeper than the maximum depth (a cycle?)",
        ));
    }
    let txn = s.txn();
    let mut cur = ptr;
    if ptr.pgno >= limit && ptr.txn != txn {
        cur = PagePtr {
            pgno: s.cow(ptr)?,
            txn,
        };
        *walk.moved += 1;
    } else if !walk.scan.read_all && walk.leaf_depth == Some(depth) {
        return Ok(cur); // a leaf that stays, with no overflow value to move
    }
    let n = node(s, cur)?;
    if n.is_leaf() {
        walk.leaf_depth = Some(depth);
        // The overflow runs to move, found in one pass over the leaf (most leaves have none).
        let mut runs = Vec::new();
        for i in 0..n.count() {
            if let LeafValue::Overflow { ptr: run, len } = n.leaf_entry(i)?.1 {
                walk.scan.found_overflow = true;
                if run.pgno >= limit {
                    runs.push((i, run, len));
                }
            }
        }
        for (i, run, len) in runs {
            let new = move_run(s, run, len)?;
            *walk.moved += overflow_pages(len, s.page_size());
            cur = PagePtr {
                pgno: s.cow(cur)?,
                txn,
            };
            pn::set_overflow_ref(s.page_mut(cur.pgno), i, new);
        }
        return Ok(cur);
    }
    for i in 0..n.count() {
        let child = node(s, cur)?.child(i)?;
        let new = relocate_node(s, walk, child, depth + 1)?;
        if new != child {
            cur = PagePtr {
                pgno: s.cow(cur)?,
                txn,
            };
            pn::set_child(s.page_mut(cur.pgno), i, new);
        }
    }
    Ok(cur)
}

/// Copies the overflow run at `run` (holding `len` bytes) into a newly allocated run, frees the
/// old one, and returns the new run's pointer.
fn move_run<S: PageStore>(s: &mut S, run: PagePtr, len: u64) -> Result<PagePtr> {
    let ps = s.page_size();
    let n = overflow_pages(len, ps);
    let bytes = s.run(run.pgno, n)?;
    if !s.wrote(run.txn) {
        // Copying and resealing would make damage permanent: verify first.
        crate::page::verify_checksum(run.pgno, bytes)?;
    }
    let value = crate::page::overflow_value(run.pgno, bytes, run.txn, len)?.to_vec();
    let txn = s.txn();
    let pgno = s.alloc(n)?;
    let buf = s.page_mut(pgno);
    init_overflow(buf, txn, n, len);
    buf[HEADER_LEN..HEADER_LEN + value.len()].copy_from_slice(&value);
    s.free(run, n);
    Ok(PagePtr { pgno, txn })
}
