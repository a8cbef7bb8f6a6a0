//! Tree mutations on a write transaction's pages: insert (with splits), remove (with merges and
//! rebalancing), and freeing a whole tree. Pages on the path are copied on first touch
//! ([`PageStore::cow`]) and edited in place afterwards.

use super::key::{shortest_separator, SmallKey};
use super::{find_checked, node, value_inline, Fence, PageStore, TreeRoot, MAX_DEPTH};
use crate::error::{corrupted, Result};
use crate::page::cells::{fits, CellList};
use crate::page::node::{self as pn, BranchCell, CellSrc, LeafCell, LeafValue, Node};
use crate::page::{
    cmp_keys, init_overflow, overflow_pages, PagePtr, HEADER_LEN, KIND_BRANCH, KIND_LEAF, SLOT_LEN,
};
use std::cmp::Ordering;

/// Reusable buffers for mutations, so that steady-state inserts allocate nothing but pages.
pub(crate) struct Scratch {
    pub(super) list: CellList,
    /// A second list, for a sibling's cells ([`spill`]).
    sibling: CellList,
    pub(super) path: [(u64, usize); MAX_DEPTH],
    sep: SmallKey,
    /// Where the last insert landed, if that was the rightmost leaf of its tree (the append
    /// path); `path` still holds the branches above it.
    pub(super) rightmost: Option<Rightmost>,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            list: CellList::default(),
            sibling: CellList::default(),
            path: [(0, 0); MAX_DEPTH],
            sep: SmallKey::default(),
            rightmost: None,
        }
    }
}

impl Scratch {
    /// This scratch space for another transaction: its buffers kept (emptied), nothing it
    /// remembered about a tree (the append path's leaf is a page of the transaction that ends).
    pub(crate) fn recycled(mut self: Box<Self>) -> Box<Scratch> {
        let (mut list, mut sibling) = (
            std::mem::take(&mut self.list),
            std::mem::take(&mut self.sibling),
        );
        list.clear();
        sibling.clear();
        *self = Scratch {
            list,
            sibling,
            ..Scratch::default()
        };
        self
    }

    /// Sets the separator that [`push_up`] inserts.
    pub(super) fn set_sep(&mut self, key: &[u8]) {
        self.sep.set(key);
    }
}

/// The rightmost leaf of a tree, remembered between inserts so that keys arriving in order skip
/// the descent from the root. Valid while the tree's root is `root` and no other mutation went
/// through the same [`Scratch`]: every insert or remove that does not take the append path
/// forgets it or records it anew, and so does every split. A tree whose root is a dirty page of
/// this transaction got that root from such a mutation, so `root` names one tree.
#[derive(Clone, Copy)]
pub(super) struct Rightmost {
    root: PagePtr,
    leaf: u64,
    depth: usize,
}

/// The key of an encoded leaf cell.
pub(super) fn leaf_cell_key(cell: &[u8]) -> &[u8] {
    pn::cell_key(KIND_LEAF, cell)
}

/// Copies the path to `key` into the transaction (root first) and returns the leaf and its depth;
/// `sc.path[..depth]` holds each branch and the index of the child taken. Remembers the leaf as
/// the tree's rightmost if every child taken was the last.
pub(super) fn descend_mut<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    key: &[u8],
) -> Result<(u64, usize)> {
    descend_by(s, sc, tree, Toward::Key(key))
}

/// Where a descent goes: to a key, or along the first or last child of each branch.
#[derive(Clone, Copy)]
pub(super) enum Toward<'k> {
    /// The leaf that holds (or would hold) the key.
    Key(&'k [u8]),
    /// The first leaf.
    First,
    /// The last leaf.
    Last,
}

/// [`descend_mut`] toward `to`.
pub(super) fn descend_by<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    to: Toward<'_>,
) -> Result<(u64, usize)> {
    let txn = s.txn();
    let mut cur = s.cow(tree.root)?;
    tree.root = PagePtr { pgno: cur, txn };
    let mut depth = 0;
    let mut rightmost = true;
    loop {
        let (i, child) = {
            let n = node(s, PagePtr { pgno: cur, txn })?;
            if n.is_leaf() {
                sc.rightmost = rightmost.then_some(Rightmost {
                    root: tree.root,
                    leaf: cur,
                    depth,
                });
                return Ok((cur, depth));
            }
            let i = match to {
                Toward::Key(key) => {
                    crate::store::prefetch(n.slot_bytes());
                    n.child_index(key)?
                }
                Toward::First => 0,
                Toward::Last => n.count() - 1,
            };
            rightmost &= i + 1 == n.count();
            (i, n.child(i)?)
        };
        if depth + 1 >= MAX_DEPTH {
            return Err(corrupted(
                cur,
                "tree deeper than the maximum depth (a cycle?)",
            ));
        }
        let c = s.cow(child)?;
        let new = PagePtr { pgno: c, txn };
        if new != child {
            pn::set_child(s.page_mut(cur), i, new);
        }
        sc.path[depth] = (cur, i);
        depth += 1;
        cur = c;
    }
}

/// Writes `value` into a new overflow run and returns the reference a leaf cell stores.
fn write_overflow<S: PageStore>(s: &mut S, value: &[u8]) -> Result<LeafValue<'static>> {
    let ps = s.page_size();
    let len = value.len() as u64;
    let n = overflow_pages(len, ps);
    let pgno = s.alloc(n)?;
    let txn = s.txn();
    let buf = s.page_mut(pgno);
    init_overflow(buf, txn, n, len);
    buf[HEADER_LEN..HEADER_LEN + value.len()].copy_from_slice(value);
    Ok(LeafValue::Overflow {
        ptr: PagePtr { pgno, txn },
        len,
    })
}

/// The overflow run a leaf value refers to, if any, as (first page, page count).
pub(super) fn overflow_run(v: LeafValue<'_>, page_size: usize) -> Option<(PagePtr, u64)> {
    match v {
        LeafValue::Overflow { ptr, len } => Some((ptr, overflow_pages(len, page_size))),
        LeafValue::Inline(_) => None,
    }
}

/// Frees an overflow run found by [`overflow_run`].
pub(super) fn free_run<S: PageStore>(s: &mut S, run: Option<(PagePtr, u64)>) {
    if let Some((ptr, n)) = run {
        s.free(ptr, n);
    }
}

/// Inserts or overwrites `key`. Returns true if the key existed. Key and value sizes are checked
/// by the caller.
pub(crate) fn insert<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    key: &[u8],
    value: &[u8],
) -> Result<bool> {
    let val = if value_inline(key.len(), value.len(), s.page_size()) {
        LeafValue::Inline(value)
    } else {
        write_overflow(s, value)?
    };
    insert_leaf_value(s, sc, tree, key, val)
}

/// Inserts or overwrites `key` with `val`, a value inline or a reference to an overflow run
/// already written. Returns true if the key existed.
pub(super) fn insert_leaf_value<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    key: &[u8],
    val: LeafValue<'_>,
) -> Result<bool> {
    let ps = s.page_size();
    let txn = s.txn();
    let cell = LeafCell { key, value: val };
    if tree.root.is_null() {
        sc.rightmost = None;
        let pgno = s.alloc(1)?;
        let buf = s.page_mut(pgno);
        pn::init(buf, KIND_LEAF, txn);
        pn::insert_cell(buf, 0, &cell);
        *tree = TreeRoot {
            root: PagePtr { pgno, txn },
            count: 1,
        };
        return Ok(false);
    }
    let (leaf, depth, pos, old) = match append_target(s, sc, tree, key)? {
        Some((leaf, depth, pos)) => (leaf, depth, pos, None),
        None => {
            let (leaf, depth) = descend_mut(s, sc, tree, key)?;
            prefetch_for_insert(s.page(leaf)?, cell.encoded_len());
            let n = node(s, PagePtr { pgno: leaf, txn })?;
            match n.search(key)? {
                Ok(i) => (leaf, depth, i, Some(overflow_run(n.leaf_entry(i)?.1, ps))),
                Err(i) => (leaf, depth, i, None),
            }
        }
    };
    let existed = old.is_some();
    if let Some(run) = old {
        free_run(s, run);
        if pn::replace_cell(s.page_mut(leaf), pos, &cell) {
            return Ok(true);
        }
    } else {
        tree.count += 1;
        if pn::insert_cell(s.page_mut(leaf), pos, &cell) {
            return Ok(false);
        }
    }
    // Split the leaf (or move cells to a sibling). The paths above change: the next insert
    // descends from the root again.
    sc.rightmost = None;
    let appending = !existed && pos == pn::count(s.page(leaf)?);
    if !appending {
        // The leaf's cells with the new one, for a spill or else a balanced split.
        gather_with(s, &mut sc.list, leaf, pos, existed, &cell)?;
        if depth > 0 && spill(s, sc, leaf, depth)? {
            return Ok(existed);
        }
    }
    let right = s.alloc(1)?;
    if appending {
        append_split(s, sc, leaf, right, &cell)?;
    } else {
        balanced_split(s, sc, leaf, right);
    }
    let pos = if depth > 0 {
        sc.path[depth - 1].1 + 1
    } else {
        0
    };
    push_up(s, sc, tree, depth, pos, PagePtr { pgno: right, txn })?;
    Ok(existed)
}

/// Starts loading the lines of the dirty leaf `buf` that an insert of a cell of `len` bytes
/// reads or writes after its header: the slot array, the first cell (whose key the search of a
/// page with a prefix compares when no slot's hint ties) and the bytes below the cell area, where
/// the new cell goes. Their misses then overlap instead of following one another.
fn prefetch_for_insert(buf: &[u8], len: usize) {
    let count = pn::count(buf);
    let slots_end = (HEADER_LEN + count * SLOT_LEN).min(buf.len());
    crate::store::prefetch(buf.get(HEADER_LEN..slots_end).unwrap_or_default());
    if count > 0 {
        let first = pn::slot(buf, 0);
        crate::store::prefetch(buf.get(first..first + 1).unwrap_or_default());
    }
    let start = pn::cells_start(buf);
    crate::store::prefetch(
        buf.get(start.saturating_sub(len)..start)
            .unwrap_or_default(),
    );
}

/// The append path: if `key` goes after the last key of the tree's remembered rightmost leaf,
/// that leaf (dirty already), its depth and the position of `key` in it (its end). One
/// comparison, no search.
fn append_target<S: PageStore>(
    s: &S,
    sc: &Scratch,
    tree: &TreeRoot,
    key: &[u8],
) -> Result<Option<(u64, usize, usize)>> {
    let Some(rm) = sc.rightmost.filter(|rm| rm.root == tree.root) else {
        return Ok(None);
    };
    let n = node(
        s,
        PagePtr {
            pgno: rm.leaf,
            txn: s.txn(),
        },
    )?;
    let Some(last) = n.count().checked_sub(1).filter(|_| n.is_leaf()) else {
        return Ok(None);
    };
    if cmp_keys(key, n.key(last)?) != Ordering::Greater {
        return Ok(None);
    }
    Ok(Some((rm.leaf, rm.depth, n.count())))
}

/// Splits the full leaf `leaf` for `cell`, whose key goes after all of its keys: the leaf stays
/// as it is (full), the new page `right` gets the new cell alone, and `sc.sep` the separator.
fn append_split<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    leaf: u64,
    right: u64,
    cell: &LeafCell<'_>,
) -> Result<()> {
    let txn = s.txn();
    let n = node(s, PagePtr { pgno: leaf, txn })?;
    let last = n.count().checked_sub(1).map_or(Ok(&[][..]), |i| n.key(i))?;
    shortest_separator(last, cell.key, &mut sc.sep);
    let buf = s.page_mut(right);
    pn::init(buf, KIND_LEAF, txn);
    pn::insert_cell(buf, 0, cell);
    Ok(())
}

/// Fills `list` with the cells of the dirty leaf `leaf` and `cell` at `pos` (replacing the cell
/// there if `existed`).
fn gather_with<S: PageStore>(
    s: &S,
    list: &mut CellList,
    leaf: u64,
    pos: usize,
    existed: bool,
    cell: &LeafCell<'_>,
) -> Result<()> {
    let buf = s.page(leaf)?;
    crate::store::prefetch(buf);
    let n = pn::count(buf);
    list.clear();
    list.push_page(buf, 0..pos);
    list.push(cell);
    list.push_page(buf, pos + usize::from(existed)..n);
    Ok(())
}

/// Instead of a split, when a sibling of the full leaf `leaf` under the same parent has room:
/// moves cells of the leaf (gathered in `sc.list` with the new one, [`gather_with`]) to that
/// sibling so that both end about equally full, and updates the separator between them. Only
/// when the two pages' bytes fill at most 7/8 of both (so that neither is left full and the next
/// insert spills again), and the parent has room for the new separator. Random-order inserts
/// leave pages fuller than splits alone (about two-thirds). False if it did nothing.
fn spill<S: PageStore>(s: &mut S, sc: &mut Scratch, leaf: u64, depth: usize) -> Result<bool> {
    let txn = s.txn();
    let usable = s.page_size() - HEADER_LEN;
    let (parent, i) = sc.path[depth - 1];
    let pcount = pn::count(s.page(parent)?);
    // The right sibling first, then the left (cell 0's left sibling has another parent).
    for right in [true, false] {
        let j = match right {
            true if i + 1 < pcount => i + 1,
            false if i > 0 => i - 1,
            _ => continue,
        };
        let sib = node(s, PagePtr { pgno: parent, txn })?.child(j)?;
        let sib_used = {
            let n = node(s, sib)?;
            if !n.is_leaf() {
                return Err(corrupted(sib.pgno, "leaves at different depths"));
            }
            n.used()
        };
        let len = sc.list.len();
        let total = sc.list.size(0..len);
        if (total + sib_used) * 8 > 2 * usable * 7 {
            continue;
        }
        // Cells `..m` end on the left page, `m..` on the right, the bytes balanced.
        let left_target = match right {
            true => (total + sib_used) / 2,
            false => ((total + sib_used) / 2).saturating_sub(sib_used),
        };
        let (mut m, mut acc) = (0, 0);
        while m < len && acc < left_target {
            acc += sc.list.size(m..m + 1);
            m += 1;
        }
        let fits = |m: usize| match right {
            true => sc.list.size(0..m) <= usable && sc.list.size(m..len) + sib_used <= usable,
            false => sc.list.size(0..m) + sib_used <= usable && sc.list.size(m..len) <= usable,
        };
        if m == 0 || m >= len || !fits(m) {
            continue;
        }
        shortest_separator(
            leaf_cell_key(sc.list.get(m - 1)),
            leaf_cell_key(sc.list.get(m)),
            &mut sc.sep,
        );
        // The parent's cell for the right page of the two takes the new separator.
        let (at, child) = match right {
            true => (j, sib),
            false => (i, PagePtr { pgno: leaf, txn }),
        };
        let sep = BranchCell {
            child,
            key: sc.sep.as_slice(),
        };
        if !pn::replace_cell(s.page_mut(parent), at, &sep) {
            continue;
        }
        let copy = s.cow(sib)?;
        if copy != sib.pgno {
            pn::set_child(s.page_mut(parent), j, PagePtr { pgno: copy, txn });
        }
        let sib_buf = s.page(copy)?;
        crate::store::prefetch(sib_buf);
        let n = pn::count(sib_buf);
        sc.sibling.clear();
        if right {
            sc.sibling.push_list(&sc.list, m..len);
            sc.sibling.push_page(sib_buf, 0..n);
            sc.list.write_page(0..m, s.page_mut(leaf), KIND_LEAF, txn);
        } else {
            sc.sibling.push_page(sib_buf, 0..n);
            sc.sibling.push_list(&sc.list, 0..m);
            sc.list.write_page(m..len, s.page_mut(leaf), KIND_LEAF, txn);
        }
        let moved = sc.sibling.len();
        sc.sibling
            .write_page(0..moved, s.page_mut(copy), KIND_LEAF, txn);
        return Ok(true);
    }
    Ok(false)
}

/// Splits the leaf `leaf`: its cells and the new one (gathered in `sc.list`, [`gather_with`])
/// are divided byte-balanced between it and the new page `right`, and `sc.sep` gets the
/// separator.
fn balanced_split<S: PageStore>(s: &mut S, sc: &mut Scratch, leaf: u64, right: u64) {
    let txn = s.txn();
    let m = sc.list.split_point(s.page_size(), KIND_LEAF, false);
    sc.list.write_page(0..m, s.page_mut(leaf), KIND_LEAF, txn);
    sc.list
        .write_page(m..sc.list.len(), s.page_mut(right), KIND_LEAF, txn);
    shortest_separator(
        leaf_cell_key(sc.list.get(m - 1)),
        leaf_cell_key(sc.list.get(m)),
        &mut sc.sep,
    );
}

/// Inserts the branch cell (`sc.sep`, `right`) at `pos` in the branch `sc.path[level - 1]`,
/// splitting upward as needed; at level 0 the tree grows a new root.
pub(super) fn push_up<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    mut level: usize,
    mut pos: usize,
    mut right: PagePtr,
) -> Result<()> {
    let ps = s.page_size();
    let txn = s.txn();
    loop {
        if level == 0 {
            let root = s.alloc(1)?;
            let buf = s.page_mut(root);
            pn::init(buf, KIND_BRANCH, txn);
            pn::insert_cell(
                buf,
                0,
                &BranchCell {
                    child: tree.root,
                    key: &[],
                },
            );
            pn::insert_cell(
                buf,
                1,
                &BranchCell {
                    child: right,
                    key: sc.sep.as_slice(),
                },
            );
            tree.root = PagePtr { pgno: root, txn };
            return Ok(());
        }
        let parent = sc.path[level - 1].0;
        let cell = BranchCell {
            child: right,
            key: sc.sep.as_slice(),
        };
        if pn::insert_cell(s.page_mut(parent), pos, &cell) {
            return Ok(());
        }
        let buf = s.page(parent)?;
        let n = pn::count(buf);
        sc.list.clear();
        sc.list.push_page(buf, 0..pos);
        sc.list.push(&cell);
        sc.list.push_page(buf, pos..n);
        let m = sc.list.split_point(ps, KIND_BRANCH, pos == n);
        let new = s.alloc(1)?;
        sc.list
            .write_page(0..m, s.page_mut(parent), KIND_BRANCH, txn);
        sc.list
            .write_page(m..sc.list.len(), s.page_mut(new), KIND_BRANCH, txn);
        sc.sep.set(sc.list.branch_key(m));
        right = PagePtr { pgno: new, txn };
        level -= 1;
        pos = if level > 0 {
            sc.path[level - 1].1 + 1
        } else {
            0
        };
    }
}

/// Removes `key`. Returns true if it was there.
pub(crate) fn remove<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    key: &[u8],
) -> Result<bool> {
    // One descent without copying finds the key and notes the path; only then is the path
    // copied, by the indices noted (no second search).
    let mut path = [0usize; MAX_DEPTH];
    let Some((depth, pos)) = find_path(s, tree.root, key, &mut path)? else {
        // A miss is checked as `get` checks one (with every page's fence): a swapped page must
        // not make a present key look absent.
        return match find_checked(s, tree.root, Fence::top(s), key)? {
            None => Ok(false),
            Some(_) => Err(corrupted(
                tree.root.pgno,
                "key found only by a checked descent",
            )),
        };
    };
    let txn = s.txn();
    let leaf = super::bulk::cow_path(s, sc, tree, &path[..depth])?;
    sc.rightmost = None; // merges below change the paths
    let old = overflow_run(
        node(s, PagePtr { pgno: leaf, txn })?.leaf_entry(pos)?.1,
        s.page_size(),
    );
    free_run(s, old);
    pn::remove_cell(s.page_mut(leaf), pos);
    tree.count = tree.count.saturating_sub(1); // the catalog and freelist do not track counts
    rebalance(s, sc, tree, leaf, depth)?;
    Ok(true)
}

/// Descends to `key` without copying, noting in `path` the index of the child taken in each
/// branch; returns the leaf's depth and the key's index in it, or None if it is absent.
fn find_path<S: PageStore>(
    s: &S,
    root: PagePtr,
    key: &[u8],
    path: &mut [usize; MAX_DEPTH],
) -> Result<Option<(usize, usize)>> {
    if root.is_null() {
        return Ok(None);
    }
    let mut ptr = root;
    for (depth, slot) in path.iter_mut().enumerate() {
        let n = node(s, ptr)?;
        if n.is_leaf() {
            return Ok(n.search(key)?.ok().map(|pos| (depth, pos)));
        }
        let i = n.child_index(key)?;
        *slot = i;
        ptr = n.child(i)?;
    }
    Err(corrupted(
        ptr.pgno,
        "tree deeper than the maximum depth (a cycle?)",
    ))
}

/// After a removal from page `cur` at `level`: merges or rebalances underfull pages with a sibling,
/// walking up while parents underflow, and shrinks the root when it has a single child.
pub(super) fn rebalance<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    mut cur: u64,
    mut level: usize,
) -> Result<()> {
    let ps = s.page_size();
    let txn = s.txn();
    let threshold = (ps - HEADER_LEN) / 4;
    loop {
        let (used, count, leaf) = {
            let n = node(s, PagePtr { pgno: cur, txn })?;
            (n.used(), n.count(), n.is_leaf())
        };
        if level == 0 {
            if leaf && count == 0 {
                s.free(tree.root, 1);
                tree.root = PagePtr::NULL;
            } else if !leaf && count == 1 {
                let child = node(s, tree.root)?.child(0)?;
                s.free(tree.root, 1);
                tree.root = child;
            }
            return Ok(());
        }
        if used >= threshold {
            return Ok(());
        }
        let (parent, idx) = sc.path[level - 1];
        let (li, ri, lptr, rptr) = {
            let p = node(s, PagePtr { pgno: parent, txn })?;
            if p.count() < 2 {
                return Err(corrupted(
                    parent,
                    "branch with a single child below the root",
                ));
            }
            let (li, ri) = if idx + 1 < p.count() {
                (idx, idx + 1)
            } else {
                (idx - 1, idx)
            };
            (li, ri, p.child(li)?, p.child(ri)?)
        };
        let l = s.cow(lptr)?;
        let r = s.cow(rptr)?;
        pn::set_child(s.page_mut(parent), li, PagePtr { pgno: l, txn });
        pn::set_child(s.page_mut(parent), ri, PagePtr { pgno: r, txn });
        let kind = if leaf { KIND_LEAF } else { KIND_BRANCH };
        sc.list.clear();
        let lbuf = s.page(l)?;
        sc.list.push_page(lbuf, 0..pn::count(lbuf));
        let rbuf = s.page(r)?;
        let rn = pn::count(rbuf);
        if leaf {
            sc.list.push_page(rbuf, 0..rn);
        } else {
            // The parent's separator comes down as the key of the right page's first child.
            let p = s.page(parent)?;
            let sep = Node::parse(parent, p, txn)?.key(ri)?;
            let first = Node::parse(r, rbuf, txn)?.child(0)?;
            sc.list.push(&BranchCell {
                child: first,
                key: sep,
            });
            sc.list.push_page(rbuf, 1..rn);
        }
        if fits(&sc.list, ps) {
            sc.list
                .write_page(0..sc.list.len(), s.page_mut(l), kind, txn);
            s.free(PagePtr { pgno: r, txn }, 1);
            pn::remove_cell(s.page_mut(parent), ri);
            cur = parent;
            level -= 1;
            continue;
        }
        let m = sc.list.split_point(ps, kind, false);
        sc.list.write_page(0..m, s.page_mut(l), kind, txn);
        sc.list
            .write_page(m..sc.list.len(), s.page_mut(r), kind, txn);
        if leaf {
            shortest_separator(
                leaf_cell_key(sc.list.get(m - 1)),
                leaf_cell_key(sc.list.get(m)),
                &mut sc.sep,
            );
        } else {
            sc.sep.set(sc.list.branch_key(m));
        }
        let right = PagePtr { pgno: r, txn };
        if pn::replace_cell(
            s.page_mut(parent),
            ri,
            &BranchCell {
                child: right,
                key: sc.sep.as_slice(),
            },
        ) {
            cur = parent;
            level -= 1;
            continue;
        }
        // The new separator does not fit: take the entry out and insert it with splits.
        pn::remove_cell(s.page_mut(parent), ri);
        return push_up(s, sc, tree, level, ri, right);
    }
}

/// Frees every page of the tree (a dropped table, or a subtree a range removal cut off);
/// returns the number of entries it held.
pub(crate) fn free_tree<S: PageStore>(s: &mut S, tree: TreeRoot) -> Result<u64> {
    if tree.root.is_null() {
        return Ok(0);
    }
    let mut entries = 0;
    let ps = s.page_size();
    let mut stack: Vec<(PagePtr, usize)> = vec![(tree.root, 0)];
    let mut children = Vec::new();
    while let Some((ptr, depth)) = stack.pop() {
        if depth >= MAX_DEPTH {
            return Err(corrupted(
                ptr.pgno,
                "tree deeper than the maximum depth (a cycle?)",
            ));
        }
        children.clear();
        {
            // Freeing trusts the page's pointers, so a committed page must verify first: a
            // damaged one could otherwise free pages that are still in use.
            if !s.wrote(ptr.txn) {
                crate::page::verify_checksum(ptr.pgno, s.page(ptr.pgno)?)?;
            }
            let n = node(s, ptr)?;
            if n.is_leaf() {
                entries += n.count() as u64;
            }
            for i in 0..n.count() {
                if n.is_leaf() {
                    if let LeafValue::Overflow { ptr, len } = n.leaf_entry(i)?.1 {
                        children.push((ptr, overflow_pages(len, ps)));
                    }
                } else {
                    stack.push((n.child(i)?, depth + 1));
                }
            }
        }
        for &(p, npages) in &children {
            s.free(p, npages);
        }
        s.free(ptr, 1);
    }
    Ok(entries)
}
