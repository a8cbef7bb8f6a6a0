//! Bulk removals: a range removal that cuts whole subtrees off their branches without visiting
//! their entries (the sweep behind retain and extract_if, which also finishes a range removal's
//! ends, is in [`super::sweep`]), and pops.
//!
//! A range removal first finds, on the two paths that bound the range, the children whose keys
//! all lie inside it; it unlinks them from their branch in one step, frees their pages (reading
//! only what freeing needs: branch pointers and overflow references) and rebalances; what is
//! left of the range is then at most two leaves, which a sweep finishes.

use super::key::SmallKey;
use super::mutate::{descend_by, free_run, free_tree, overflow_run, rebalance, Scratch, Toward};
use super::sweep::{sweep, Budget};
use super::{node, value, Fence, PageSource, PageStore, TreeRoot, MAX_DEPTH};
use crate::error::{corrupted, Result};
use crate::page::node::{self as pn, BranchCell};
use crate::page::{cmp_keys, PagePtr};
use std::cmp::Ordering;
use std::ops::Bound;

/// A range as half-open byte bounds: keys `k` with `lo <= k` (None: no lower bound) and
/// `k < hi` (None: no upper bound). `Excluded(a)` below and `Included(b)` above become their
/// immediate successors, `a` and `b` followed by a zero byte.
struct HalfOpen {
    lo: Option<Vec<u8>>,
    hi: Option<Vec<u8>>,
}

impl HalfOpen {
    fn new(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> HalfOpen {
        let succ = |k: &[u8]| [k, &[0]].concat();
        HalfOpen {
            lo: match lower {
                Bound::Included(k) => Some(k.to_vec()),
                Bound::Excluded(k) => Some(succ(k)),
                Bound::Unbounded => None,
            },
            hi: match upper {
                Bound::Included(k) => Some(succ(k)),
                Bound::Excluded(k) => Some(k.to_vec()),
                Bound::Unbounded => None,
            },
        }
    }

    /// True if no key lies in the range.
    fn is_empty(&self) -> bool {
        matches!((&self.lo, &self.hi), (Some(l), Some(h)) if cmp_keys(l, h) != Ordering::Less)
    }

    /// True if every key a page with fence `lower..upper` may hold lies in the range.
    fn contains(&self, lower: Option<&[u8]>, upper: Option<&[u8]>) -> bool {
        let lo_ok = match (&self.lo, lower) {
            (None, _) => true,
            (Some(l), Some(f)) => cmp_keys(l, f) != Ordering::Greater,
            (Some(_), None) => false,
        };
        let hi_ok = match (&self.hi, upper) {
            (None, _) => true,
            (Some(h), Some(f)) => cmp_keys(f, h) != Ordering::Greater,
            (Some(_), None) => false,
        };
        lo_ok && hi_ok
    }
}

/// Children to cut: the branch reached by following `path` (child indices from the root) and
/// the run `a..b` of its children that lie wholly inside the range.
struct Cut {
    path: Vec<usize>,
    a: usize,
    b: usize,
}

/// Finds a run of children wholly inside `range` on the paths that bound it (depth first, the
/// lower path first), or None if every entry of the range lies in the (at most two) leaves at
/// its ends.
fn find_cut(src: &dyn PageSource, tree: TreeRoot, range: &HalfOpen) -> Result<Option<Cut>> {
    let mut stack = vec![(tree.root, Fence::root(src, Some(tree.count)), Vec::new())];
    while let Some((ptr, fence, path)) = stack.pop() {
        if path.len() >= MAX_DEPTH {
            return Err(corrupted(ptr.pgno, "tree deeper than the maximum depth"));
        }
        let n = node(src, ptr)?;
        fence.check(&n)?;
        if n.is_leaf() {
            continue;
        }
        let last = n.count() - 1;
        let i0 = match &range.lo {
            Some(l) => n.child_index(l)?,
            None => 0,
        };
        let i1 = match &range.hi {
            Some(h) => n.child_index(h)?,
            None => last,
        };
        let mut run: Option<(usize, usize)> = None;
        for i in i0..=i1.max(i0) {
            let f = fence.child(&n, i)?;
            if range.contains(f.lower(), f.upper()) {
                let a = run.map_or(i, |r| r.0);
                run = Some((a, i + 1));
            }
        }
        if let Some((a, b)) = run {
            return Ok(Some(Cut { path, a, b }));
        }
        // No child wholly inside: the range touches at most the two children at its ends.
        // The lower end goes on the stack last, so it is looked at first.
        let ends: &[usize] = if i1 > i0 { &[i1, i0] } else { &[i0] };
        for &i in ends {
            let mut p = path.clone();
            p.push(i);
            stack.push((n.child(i)?, fence.child(&n, i)?, p));
        }
    }
    Ok(None)
}

/// Copies the branches on `path` (child indices from the root) into the transaction, filling
/// `sc.path`; returns the page reached.
pub(super) fn cow_path<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    path: &[usize],
) -> Result<u64> {
    let txn = s.txn();
    let mut cur = s.cow(tree.root)?;
    tree.root = PagePtr { pgno: cur, txn };
    for (depth, &i) in path.iter().enumerate() {
        let child = node(s, PagePtr { pgno: cur, txn })?.child(i)?;
        let c = s.cow(child)?;
        let new = PagePtr { pgno: c, txn };
        if new != child {
            pn::set_child(s.page_mut(cur), i, new);
        }
        sc.path[depth] = (cur, i);
        cur = c;
    }
    Ok(cur)
}

/// Removes every entry of `tree` in `lower..upper`: cuts off whole subtrees while any lies
/// inside the range, then sweeps the leaves at its ends (calling `removed(key)` for each entry
/// they lose). Returns the number removed and whether any subtree was cut (its keys were not
/// visited).
pub(crate) fn remove_range<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
    removed: &mut dyn FnMut(&[u8]),
) -> Result<(u64, bool)> {
    let range = HalfOpen::new(lower, upper);
    if range.is_empty() {
        return Ok((0, false));
    }
    let (mut total, mut cut_any) = (0, false);
    sc.rightmost = None;
    while !tree.root.is_null() {
        let Some(cut) = find_cut(s, *tree, &range)? else {
            break;
        };
        let branch = cow_path(s, sc, tree, &cut.path)?;
        let txn = s.txn();
        let mut gone = 0;
        for i in (cut.a..cut.b).rev() {
            let child = node(s, PagePtr { pgno: branch, txn })?.child(i)?;
            gone += free_tree(
                s,
                TreeRoot {
                    root: child,
                    count: 0,
                },
            )?;
            pn::remove_cell(s.page_mut(branch), i);
        }
        if cut.a == 0 {
            // A branch's first cell has the empty key; its lower fence comes from above.
            let first = node(s, PagePtr { pgno: branch, txn })?.child(0)?;
            let cell = BranchCell {
                child: first,
                key: &[],
            };
            pn::replace_cell(s.page_mut(branch), 0, &cell);
        }
        tree.count = tree.count.saturating_sub(gone);
        total += gone;
        cut_any = true;
        rebalance(s, sc, tree, branch, cut.path.len())?;
    }
    // What is left lies in the leaves at the two ends.
    let mut lo = match lower {
        Bound::Included(k) => Bound::Included(SmallKey::from_slice(k)),
        Bound::Excluded(k) => Bound::Excluded(SmallKey::from_slice(k)),
        Bound::Unbounded => Bound::Unbounded,
    };
    let (n, _) = sweep(
        s,
        sc,
        tree,
        &mut lo,
        upper,
        Budget::UNLIMITED,
        &mut |k, _| {
            removed(k);
            true
        },
    )?;
    Ok((total + n, cut_any))
}

/// Removes the first (or last) entry of `tree` in one descent and hands its key and value to
/// `out` before they go; false if the tree is empty.
pub(crate) fn pop<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    first: bool,
    out: &mut dyn FnMut(&[u8], &[u8]),
) -> Result<bool> {
    if tree.root.is_null() {
        return Ok(false);
    }
    let edge = if first { Toward::First } else { Toward::Last };
    let (leaf, depth) = descend_by(s, sc, tree, edge)?;
    sc.rightmost = None;
    let txn = s.txn();
    let (pos, run) = {
        let n = node(s, PagePtr { pgno: leaf, txn })?;
        let Some(pos) = (if first {
            Some(0)
        } else {
            n.count().checked_sub(1)
        }) else {
            return Err(corrupted(leaf, "empty leaf in a non-empty tree"));
        };
        let (k, v) = n.leaf_entry(pos)?;
        out(k, value(s, v)?);
        (pos, overflow_run(v, s.page_size()))
    };
    free_run(s, run);
    pn::remove_cell(s.page_mut(leaf), pos);
    tree.count = tree.count.saturating_sub(1);
    rebalance(s, sc, tree, leaf, depth)?;
    Ok(true)
}
