//! The sweep behind `retain`, `retain_in`, `extract_if` and the ends of a range removal: removes
//! the entries of a key range that a predicate selects, one bottom branch (a branch whose
//! children are leaves) at a time.
//!
//! For each bottom branch the sweep first only reads: it descends from the root without copying
//! anything, runs the predicate over the entries of the leaves in the range and notes which stay.
//! Leaves that lose nothing are left as they are (not copied). If anything goes, the path to the
//! branch is copied into the transaction, and each run of consecutive leaves that lost entries is
//! rewritten in one pass: the entries they keep are packed into as few fresh pages as hold them
//! (the last two balanced, so that neither is underfull; a run left with one underfull page or
//! none takes in a neighbouring leaf), the old leaves are freed, and the branch is rebuilt with
//! the new children and their separators. The branch is then rebalanced as after any removal
//! (split if its new separators outgrew it, unlinked if it lost every child).
//!
//! Each entry is looked at once, each leaf read once and written at most once, each branch
//! rebuilt once per pass, and a sweep writes fewer pages than it read.
//!
//! Compaction's [`repack`] is a sweep that removes nothing: it rewrites the leaves of each
//! bottom branch that would fit in fewer pages, packed as a sweep packs what stays.

use super::key::{shortest_separator, SmallKey};
use super::mutate::{free_run, leaf_cell_key, overflow_run, push_up, rebalance, Scratch};
use super::{node, value, Fence, PageStore, TreeRoot, MAX_DEPTH};
use crate::error::{corrupted, Result};
use crate::page::cells::{fits, CellList};
use crate::page::node::{self as pn, BranchCell, LeafValue, Node};
use crate::page::{cmp_keys, PagePtr, HEADER_LEN, KIND_BRANCH, KIND_LEAF};
use std::cmp::Ordering;
use std::ops::{Bound, Range};

/// When a sweep stops to hand back what it removed (checked after each leaf): once it removed
/// `entries` entries or `bytes` bytes of keys and values.
#[derive(Clone, Copy)]
pub(crate) struct Budget {
    /// Entries.
    pub entries: u64,
    /// Bytes of keys and values.
    pub bytes: u64,
}

impl Budget {
    /// No limit: the sweep goes to the end of its range.
    pub const UNLIMITED: Budget = Budget {
        entries: u64::MAX,
        bytes: u64::MAX,
    };
}

/// What a sweep learnt of one leaf of the bottom branch it reads.
struct Plan {
    /// The leaf.
    child: PagePtr,
    /// Its entries that stay, as `Sweep::keep[range]` (only for a leaf that lost entries).
    keep: Range<usize>,
    /// True if it lost entries.
    changed: bool,
}

/// A sweep's state and reusable buffers.
struct Sweep<'p> {
    pick: &'p mut dyn FnMut(&[u8], &[u8]) -> bool,
    /// A repack: nothing is removed, and every leaf of a bottom branch whose entries fit in fewer
    /// leaves is rewritten.
    repack: bool,
    /// Leaves fewer than before, after the bottom branches rewritten so far.
    leaves_saved: u64,
    /// A repack: some leaf read so far holds an overflow value.
    overflow: bool,
    /// A repack: the bytes of slots and cells of the bottom branch's leaves read so far.
    leaf_bytes: usize,
    upper: Bound<&'p [u8]>,
    removed: u64,
    bytes: u64,
    /// The last key looked at.
    last: SmallKey,
    looked: bool,
    /// Entry indices that stay, for the changed leaves of `plans`.
    keep: Vec<u16>,
    plans: Vec<Plan>,
    /// Overflow runs of removed values, freed once the leaves are rewritten.
    runs: Vec<(PagePtr, u64)>,
    /// The new cells of the bottom branch.
    branch: CellList,
    sep: SmallKey,
    first_sep: SmallKey,
}

/// Removes the entries of `tree` in `lower..upper` (after `*lower`, which moves past each entry
/// looked at) for which `pick(key, value)` holds, until the range is done or `budget` is spent.
/// Returns how many were removed and whether the range is done.
pub(crate) fn sweep<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    lower: &mut Bound<SmallKey>,
    upper: Bound<&[u8]>,
    budget: Budget,
    pick: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<(u64, bool)> {
    let mut st = Sweep::new(pick, upper, false);
    let done = drive(s, sc, &mut st, tree, lower, budget)?;
    Ok((st.removed, done))
}

/// Packs the leaves of `tree` densely (compaction): in each bottom branch whose leaves' entries
/// fit in fewer pages than it has, the leaves are rewritten into as few fresh pages as hold them
/// (the last two balanced). Overflow runs stay where they are. A tree whose root is a leaf is
/// left as it is. Starts at the bottom branch that holds `*from` (the first if None) and stops
/// after `branches` bottom branches, leaving in `*from` the key where the next one starts (None
/// once the tree is done). Returns how many leaves fewer the tree has, whether one of the leaves
/// read holds an overflow value, and how many bottom branches it went through.
pub(crate) fn repack<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    from: &mut Option<SmallKey>,
    branches: u64,
) -> Result<(u64, bool, u64)> {
    let mut keep_all = |_: &[u8], _: &[u8]| false;
    let mut st = Sweep::new(&mut keep_all, Bound::Unbounded, true);
    sc.rightmost = None;
    let mut seen = 0;
    while seen < branches {
        if tree.root.is_null() {
            *from = None;
            break;
        }
        let key = from.clone().unwrap_or_default();
        seen += 1;
        let unbounded = Bound::Unbounded;
        let step = bottom_branch(
            s,
            sc,
            &mut st,
            tree,
            &unbounded,
            key.as_slice(),
            Budget::UNLIMITED,
        )?;
        match step {
            Step::Next(k) => *from = Some(k),
            Step::Done | Step::Budget => {
                *from = None;
                break;
            }
        }
    }
    Ok((st.leaves_saved, st.overflow, seen))
}

impl<'p> Sweep<'p> {
    fn new(
        pick: &'p mut dyn FnMut(&[u8], &[u8]) -> bool,
        upper: Bound<&'p [u8]>,
        repack: bool,
    ) -> Sweep<'p> {
        Sweep {
            pick,
            repack,
            leaves_saved: 0,
            overflow: false,
            leaf_bytes: 0,
            upper,
            removed: 0,
            bytes: 0,
            last: SmallKey::default(),
            looked: false,
            keep: Vec::new(),
            plans: Vec::new(),
            runs: Vec::new(),
            branch: CellList::default(),
            sep: SmallKey::default(),
            first_sep: SmallKey::default(),
        }
    }
}

/// Runs the sweep `st` over `tree` from `*lower`, one bottom branch at a time, until the range
/// is done (true) or `budget` is spent (false).
fn drive<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    st: &mut Sweep<'_>,
    tree: &mut TreeRoot,
    lower: &mut Bound<SmallKey>,
    budget: Budget,
) -> Result<bool> {
    sc.rightmost = None;
    // Where the next descent aims: the lower bound, or (once a bottom branch is done within this
    // call) the separator above which the next one starts.
    let mut aim: Option<SmallKey> = None;
    loop {
        if st.removed >= budget.entries || st.bytes >= budget.bytes {
            return Ok(false);
        }
        if tree.root.is_null() {
            return Ok(true);
        }
        let key = match (&aim, &*lower) {
            (Some(k), _) => k.clone(),
            (None, Bound::Included(k) | Bound::Excluded(k)) => k.clone(),
            (None, Bound::Unbounded) => SmallKey::default(),
        };
        let step = bottom_branch(s, sc, st, tree, lower, key.as_slice(), budget)?;
        if st.looked {
            *lower = Bound::Excluded(st.last.clone());
        }
        match step {
            Step::Done => return Ok(true),
            Step::Budget => return Ok(false),
            Step::Next(k) => aim = Some(k),
        }
    }
}

/// Where a sweep goes after a bottom branch.
enum Step {
    /// The range (or the tree) is done.
    Done,
    /// The budget is spent.
    Budget,
    /// On to the bottom branch that starts at this separator.
    Next(SmallKey),
}

/// True if `key` is not beyond `upper`.
pub(super) fn below(key: &[u8], upper: Bound<&[u8]>) -> bool {
    match upper {
        Bound::Included(u) => cmp_keys(key, u) != Ordering::Greater,
        Bound::Excluded(u) => cmp_keys(key, u) == Ordering::Less,
        Bound::Unbounded => true,
    }
}

/// The index of the first entry of `n` after the lower bound.
fn first_after(n: &Node<'_>, lower: &Bound<SmallKey>) -> Result<usize> {
    Ok(match lower {
        Bound::Unbounded => 0,
        Bound::Included(k) => match n.search(k.as_slice())? {
            Ok(i) | Err(i) => i,
        },
        Bound::Excluded(k) => match n.search(k.as_slice())? {
            Ok(i) => i + 1,
            Err(i) => i,
        },
    })
}

/// Reads the entries `from..` of leaf `n` (up to the upper bound), deciding with `pick` which
/// stay; appends the indices of those that stay (all of them, those before `from` and past the
/// bound included) to `st.keep`. Returns how many go and whether the upper bound was passed.
fn read_leaf<S: PageStore>(
    s: &S,
    st: &mut Sweep<'_>,
    n: &Node<'_>,
    from: usize,
) -> Result<(usize, bool)> {
    let ps = s.page_size();
    let count = n.count();
    if st.repack {
        // Everything stays; only the last key matters (where the next bottom branch starts).
        st.keep.extend((0..count).map(|i| i as u16));
        st.leaf_bytes += n.used();
        // Whether the tree holds overflow values (compaction's next pass need not read leaves
        // for their runs if none does).
        if !st.overflow {
            for i in 0..count {
                if let LeafValue::Overflow { .. } = n.leaf_entry(i)?.1 {
                    st.overflow = true;
                    break;
                }
            }
        }
        if count > from {
            st.last.set(n.key(count - 1)?);
            st.looked = true;
        }
        return Ok((0, false));
    }
    st.keep.extend((0..from).map(|i| i as u16));
    let mut gone = 0;
    let mut last = None;
    let mut past = false;
    for i in from..count {
        let (k, v) = n.leaf_entry(i)?;
        if !below(k, st.upper) {
            past = true;
            st.keep.extend((i..count).map(|i| i as u16));
            break;
        }
        last = Some(k);
        let val = value(s, v)?;
        if (st.pick)(k, val) {
            gone += 1;
            st.bytes += (k.len() + val.len()) as u64;
            if let Some(run) = overflow_run(v, ps) {
                st.runs.push(run);
            }
        } else {
            st.keep.push(i as u16);
        }
    }
    if let Some(k) = last {
        st.last.set(k);
        st.looked = true;
    }
    Ok((gone, past))
}

/// Sweeps the bottom branch on the way to `key` (or the root, if it is a leaf).
fn bottom_branch<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    st: &mut Sweep<'_>,
    tree: &mut TreeRoot,
    lower: &Bound<SmallKey>,
    key: &[u8],
    budget: Budget,
) -> Result<Step> {
    let mut path = [0usize; MAX_DEPTH];
    let before = st.removed;
    st.keep.clear();
    st.leaf_bytes = 0;
    st.plans.clear();
    st.runs.clear();
    // Read: descend without copying, then decide which entries of which leaves go.
    let (depth, i0, step) = {
        let src: &S = s;
        let mut ptr = tree.root;
        let mut fence = Fence::root(src, Some(tree.count));
        let mut depth = 0;
        let b = loop {
            let n = node(src, ptr)?;
            fence.check(&n)?;
            if n.is_leaf() {
                // Only a root can be a leaf here: the descent stops above the leaves.
                return root_leaf(s, sc, st, tree, lower);
            }
            let i = n.child_index(key)?;
            if node(src, n.child(i)?)?.is_leaf() {
                break n;
            }
            if depth + 1 >= MAX_DEPTH {
                return Err(corrupted(ptr.pgno, "tree deeper than the maximum depth"));
            }
            path[depth] = i;
            fence = fence.child(&n, i)?;
            ptr = n.child(i)?;
            depth += 1;
        };
        let i0 = b.child_index(key)?;
        let mut i = i0;
        let mut past = false;
        while i < b.count() {
            let child = b.child(i)?;
            let leaf = node(src, child)?;
            if !leaf.is_leaf() {
                return Err(corrupted(child.pgno, "leaves at different depths"));
            }
            fence.child(&b, i)?.check(&leaf)?;
            let from = if i == i0 {
                first_after(&leaf, lower)?
            } else {
                0
            };
            let start = st.keep.len();
            let (gone, p) = read_leaf(src, st, &leaf, from)?;
            past = p;
            if gone == 0 && !st.repack {
                st.keep.truncate(start);
            } else if gone > 0 {
                // The leaf's entries are copied into new pages: it must verify first, as for
                // a copy-on-write.
                src.check_copy(child)?;
            }
            st.plans.push(Plan {
                child,
                keep: start..st.keep.len(),
                changed: gone > 0,
            });
            st.removed += gone as u64;
            i += 1;
            if past || st.removed >= budget.entries || st.bytes >= budget.bytes {
                break;
            }
        }
        let step = if past {
            Step::Done
        } else if i == b.count() {
            match fence.upper() {
                Some(u) => Step::Next(SmallKey::from_slice(u)),
                None => Step::Done,
            }
        } else {
            Step::Budget
        };
        (depth, i0, step)
    };
    // A repack rewrites the branch's leaves if their bytes fit in at least two pages fewer
    // (one to spare for the greedy packing).
    let usable = s.page_size() - HEADER_LEN;
    if st.repack && st.leaf_bytes.div_ceil(usable) + 1 < st.plans.len() {
        for plan in &mut st.plans {
            // As above: copied leaves verify first.
            s.check_copy(plan.child)?;
            plan.changed = true;
        }
    }
    if !st.plans.iter().any(|p| p.changed) {
        return Ok(step);
    }
    // Write: copy the path, rewrite each run of changed leaves, rebuild the branch.
    let b = super::bulk::cow_path(s, sc, tree, &path[..depth])?;
    let children = pn::count(s.page(b)?);
    rewrite_branch(s, sc, st, b, i0)?;
    st.leaves_saved += children.saturating_sub(st.branch.len()) as u64;
    for run in st.runs.drain(..) {
        free_run(s, Some(run));
    }
    tree.count = tree.count.saturating_sub(st.removed - before);
    finish_branch(s, sc, st, tree, b, depth)?;
    Ok(step)
}

/// Rebuilds the cells of the bottom branch `b` (dirty) into `st.branch`: children outside the
/// runs of changed leaves stay; each run is packed into new leaves.
fn rewrite_branch<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    st: &mut Sweep<'_>,
    b: u64,
    i0: usize,
) -> Result<()> {
    let txn = s.txn();
    let ps = s.page_size();
    let threshold = (ps - HEADER_LEN) / 4;
    let count = pn::count(s.page(b)?);
    st.branch.clear();
    let mut next = 0; // the first child of `b` not yet in `st.branch`
    let mut p = 0;
    let mut ends = Vec::new();
    while p < st.plans.len() {
        if !st.plans[p].changed {
            p += 1;
            continue;
        }
        let mut q = p;
        while q + 1 < st.plans.len() && st.plans[q + 1].changed {
            q += 1;
        }
        // The run is children lo..=hi of `b`.
        let (mut lo, mut hi) = (i0 + p, i0 + q);
        sc.list.clear();
        gather_run(s, st, &mut sc.list, p..q + 1)?;
        pack(&sc.list, ps, threshold, 1, &mut ends);
        let underfull = match ends.len() {
            0 => true,
            1 => sc.list.size(0..sc.list.len()) < threshold,
            _ => false,
        };
        // Leaves whose cells the new pages take: the run's, and a neighbour taken in.
        let mut taken = None;
        if underfull {
            // Take in a neighbouring leaf: the next one, else the previous one (unless an
            // earlier run took it).
            if hi + 1 < count {
                hi += 1;
                let child = neighbour(s, b, hi)?;
                taken = Some(child);
                let n = pn::count(s.page(child.pgno)?);
                sc.list.push_page(s.page(child.pgno)?, 0..n);
            } else if lo > next {
                lo -= 1;
                let child = neighbour(s, b, lo)?;
                taken = Some(child);
                sc.list.clear();
                let n = pn::count(s.page(child.pgno)?);
                sc.list.push_page(s.page(child.pgno)?, 0..n);
                gather_run(s, st, &mut sc.list, p..q + 1)?;
            }
            pack(&sc.list, ps, threshold, 1, &mut ends);
        }
        // The children before the run stay as they are.
        {
            let bbuf = s.page(b)?;
            st.branch.push_page(bbuf, next..lo);
            st.first_sep.set(Node::parse(b, bbuf, txn)?.key(lo)?);
        }
        // Free the run's leaves (their cells are in `sc.list`), then write the new ones.
        for plan in &st.plans[p..q + 1] {
            s.free(plan.child, 1);
        }
        if let Some(child) = taken {
            s.free(child, 1);
        }
        let mut start = 0;
        for &end in &ends {
            let pgno = s.alloc(1)?;
            sc.list
                .write_page(start..end, s.page_mut(pgno), KIND_LEAF, txn);
            let key = if start == 0 {
                st.first_sep.as_slice()
            } else {
                shortest_separator(
                    leaf_cell_key(sc.list.get(start - 1)),
                    leaf_cell_key(sc.list.get(start)),
                    &mut st.sep,
                );
                st.sep.as_slice()
            };
            st.branch.push(&BranchCell {
                child: PagePtr { pgno, txn },
                key,
            });
            start = end;
        }
        next = hi + 1;
        p = (hi + 1).saturating_sub(i0).max(q + 1);
    }
    let bbuf = s.page(b)?;
    st.branch.push_page(bbuf, next..count);
    Ok(())
}

/// Child `i` of the bottom branch `b`, a leaf whose cells are about to be copied: checked.
fn neighbour<S: PageStore>(s: &S, b: u64, i: usize) -> Result<PagePtr> {
    let parent = node(
        s,
        PagePtr {
            pgno: b,
            txn: s.txn(),
        },
    )?;
    let child = parent.child(i)?;
    let n = node(s, child)?;
    if !n.is_leaf() {
        return Err(corrupted(child.pgno, "leaves at different depths"));
    }
    Fence::top(s).child(&parent, i)?.check(&n)?;
    s.check_copy(child)?;
    Ok(child)
}

/// Appends to `list` the cells that stay of the changed leaves `plans`.
fn gather_run<S: PageStore>(
    s: &S,
    st: &Sweep<'_>,
    list: &mut CellList,
    plans: Range<usize>,
) -> Result<()> {
    for plan in &st.plans[plans] {
        let buf = s.page(plan.child.pgno)?;
        for &i in &st.keep[plan.keep.clone()] {
            list.push(&pn::cell_bytes(buf, i as usize));
        }
    }
    Ok(())
}

/// Writes `st.branch` as the bottom branch `b` at `depth` and restores the tree's shape: the
/// branch is split if its cells outgrew a page, unlinked if it has none, rebalanced if it is
/// underfull.
fn finish_branch<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    st: &mut Sweep<'_>,
    tree: &mut TreeRoot,
    b: u64,
    depth: usize,
) -> Result<()> {
    let txn = s.txn();
    let ps = s.page_size();
    if st.branch.len() == 0 {
        return unlink(s, sc, tree, b, depth);
    }
    if fits(&st.branch, ps) {
        st.branch
            .write_page(0..st.branch.len(), s.page_mut(b), KIND_BRANCH, txn);
        return rebalance(s, sc, tree, b, depth);
    }
    // Longer separators made the branch outgrow its page: write it as several, linking each
    // after the previous one (found again from the root, as a split above may move it).
    let mut ends = Vec::new();
    pack(&st.branch, ps, (ps - HEADER_LEN) / 4, 2, &mut ends);
    st.branch
        .write_page(0..ends[0], s.page_mut(b), KIND_BRANCH, txn);
    for w in ends.windows(2) {
        let (start, end) = (w[0], w[1]);
        let pgno = s.alloc(1)?;
        st.branch
            .write_page(start..end, s.page_mut(pgno), KIND_BRANCH, txn);
        st.sep.set(st.branch.branch_key(start));
        let level = path_to_bottom(s, sc, tree, st.sep.as_slice())?;
        let pos = if level > 0 {
            sc.path[level - 1].1 + 1
        } else {
            0
        };
        sc.set_sep(st.sep.as_slice());
        push_up(s, sc, tree, level, pos, PagePtr { pgno, txn })?;
    }
    Ok(())
}

/// Copies the path from the root to the bottom branch on the way to `key` into the transaction,
/// filling `sc.path` above it; returns the branch's depth.
fn path_to_bottom<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    key: &[u8],
) -> Result<usize> {
    let mut path = [0usize; MAX_DEPTH];
    let mut ptr = tree.root;
    for depth in 0..MAX_DEPTH {
        let n = node(s, ptr)?;
        let i = n.child_index(key)?;
        let child = n.child(i)?;
        if node(s, child)?.is_leaf() {
            super::bulk::cow_path(s, sc, tree, &path[..depth])?;
            return Ok(depth);
        }
        path[depth] = i;
        ptr = child;
    }
    Err(corrupted(ptr.pgno, "tree deeper than the maximum depth"))
}

/// Frees the page `page` at `depth`, which lost every cell, and takes it out of its parent
/// (then the parent, if that was its only child), rebalancing what is left.
fn unlink<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    mut page: u64,
    mut depth: usize,
) -> Result<()> {
    let txn = s.txn();
    loop {
        s.free(PagePtr { pgno: page, txn }, 1);
        if depth == 0 {
            tree.root = PagePtr::NULL;
            return Ok(());
        }
        let (parent, idx) = sc.path[depth - 1];
        pn::remove_cell(s.page_mut(parent), idx);
        depth -= 1;
        if pn::count(s.page(parent)?) == 0 {
            page = parent;
            continue;
        }
        if idx == 0 {
            // A branch's first cell has the empty key.
            let first = node(s, PagePtr { pgno: parent, txn })?.child(0)?;
            let cell = BranchCell {
                child: first,
                key: &[],
            };
            pn::replace_cell(s.page_mut(parent), 0, &cell);
        }
        return rebalance(s, sc, tree, parent, depth);
    }
}

/// Sweeps a tree whose root is a leaf: the whole tree.
fn root_leaf<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    st: &mut Sweep<'_>,
    tree: &mut TreeRoot,
    lower: &Bound<SmallKey>,
) -> Result<Step> {
    let txn = s.txn();
    let root = tree.root;
    let gone = {
        let src: &S = s;
        let n = node(src, root)?;
        let from = first_after(&n, lower)?;
        let (gone, _) = read_leaf(src, st, &n, from)?;
        if gone > 0 {
            src.check_copy(root)?;
            sc.list.clear();
            let buf = src.page(root.pgno)?;
            for &i in &st.keep {
                sc.list.push(&pn::cell_bytes(buf, i as usize));
            }
        }
        gone
    };
    if gone == 0 {
        return Ok(Step::Done);
    }
    st.removed += gone as u64;
    s.free(root, 1);
    for run in st.runs.drain(..) {
        free_run(s, Some(run));
    }
    tree.count = tree.count.saturating_sub(gone as u64);
    if sc.list.len() == 0 {
        tree.root = PagePtr::NULL;
    } else {
        let pgno = s.alloc(1)?;
        sc.list
            .write_page(0..sc.list.len(), s.page_mut(pgno), KIND_LEAF, txn);
        tree.root = PagePtr { pgno, txn };
    }
    Ok(Step::Done)
}

/// Greedy page boundaries for the cells of `list`: as many as fit on each page in turn, the
/// last two rebalanced so that the last is not underfull (below `threshold` bytes), each keeping
/// at least `min` cells. Fills `out` with the end index of each page (nothing for an empty list).
pub(super) fn pack(
    list: &CellList,
    page_size: usize,
    threshold: usize,
    min: usize,
    out: &mut Vec<usize>,
) {
    out.clear();
    let usable = page_size - HEADER_LEN;
    let n = list.len();
    let mut used = 0;
    for i in 0..n {
        let size = list.size(i..i + 1);
        if used + size > usable && used > 0 {
            out.push(i);
            used = 0;
        }
        used += size;
    }
    if n > 0 {
        out.push(n);
    }
    let k = out.len();
    if k >= 2 && used < threshold {
        // Split the last two pages' cells start..n where the bytes balance, both halves fitting.
        let start = if k >= 3 { out[k - 3] } else { 0 };
        let total = list.size(start..n);
        let (mut m, mut left) = (start, 0);
        while m < n && left + list.size(m..m + 1) <= total / 2 {
            left += list.size(m..m + 1);
            m += 1;
        }
        m = m.clamp(start + min, n - min);
        while m < n - min && list.size(m..n) > usable {
            m += 1;
        }
        while m > start + min && list.size(start..m) > usable {
            m -= 1;
        }
        out[k - 2] = m;
    }
}
