//! Cursors and the double-ended range iterator.
//!
//! A cursor keeps its root-to-leaf path as a stack of (branch, index) steps and the leaf it is
//! on. A step inside the leaf is an index increment and one entry decode (one slot read, one
//! bounds check per field; the slot array was bounded once, when the page was parsed). Stepping
//! past the end of a leaf pops to the nearest ancestor with a next child and descends from
//! there, so a scan visits each page once and never starts again from the root: amortised O(1)
//! pages per step. A scanning cursor touches the next leaf as it arrives at one, so that leaf's
//! cache misses overlap with the steps through the current one, and asks the store to map the
//! leaves ahead of it many at a time (`ahead.rs`).
//!
//! Every page a cursor arrives at is verified before it is trusted (docs/FORMAT.md section 8): a
//! page reached through a branch must hold keys within the separators above it (its [`Fence`]),
//! every leaf must be as deep as the first one reached, and a table's root, if a leaf, must hold
//! the catalog's entry count. A range also checks that keys keep increasing across pages.

use super::ahead::Ahead;
use super::key::SmallKey;
use super::{node, value, Fence, PageSource, MAX_DEPTH};
use crate::error::{corrupted, Result};
use crate::page::node::{LeafValue, Node};
use crate::page::{cmp_keys, PagePtr};
use std::cmp::Ordering;
use std::ops::Bound;

/// A branch on the cursor's path and the index of the child taken.
#[derive(Clone, Copy)]
struct Step<'a> {
    /// The branch.
    node: Node<'a>,
    /// The index of the child the path goes through.
    idx: usize,
}

/// Branches kept inline on a cursor's path: trees of up to this many levels above the leaves
/// (billions of entries) need no heap; deeper ones (long keys, small fan-out) spill to a `Vec`.
const INLINE_STEPS: usize = 6;

/// The branches from the root down to the leaf's parent. Small, so that a cursor (and a range
/// holding two) is cheap to create and move.
#[derive(Default)]
struct Path<'a> {
    /// The first [`INLINE_STEPS`] branches from the root (the first `len` of them are set).
    inline: [Option<Step<'a>>; INLINE_STEPS],
    /// The branches below the inline ones, in a path deeper than [`INLINE_STEPS`].
    deep: Vec<Step<'a>>,
    /// The number of branches on the path.
    len: usize,
}

impl<'a> Path<'a> {
    /// Forgets every step.
    fn clear(&mut self) {
        self.len = 0;
        self.deep.clear();
    }

    /// Adds `f` below the deepest branch; an error past [`MAX_DEPTH`] levels.
    fn push(&mut self, f: Step<'a>) -> Result<()> {
        if self.len + 1 >= MAX_DEPTH {
            return Err(corrupted(
                f.node.pgno(),
                "tree deeper than the maximum depth (a cycle?)",
            ));
        }
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = Some(f),
            None => self.deep.push(f),
        }
        self.len += 1;
        Ok(())
    }

    /// Drops the deepest branch.
    fn pop(&mut self) {
        if self.len > INLINE_STEPS {
            self.deep.pop();
        }
        self.len = self.len.saturating_sub(1);
    }

    /// The deepest branch, if any.
    fn top(&mut self) -> Option<&mut Step<'a>> {
        let i = self.len.checked_sub(1)?;
        match self.inline.get_mut(i) {
            Some(f) => f.as_mut(),
            None => self.deep.last_mut(),
        }
    }

    /// The branches from the root down.
    fn iter(&self) -> impl Iterator<Item = &Step<'a>> {
        let inline = self.inline.iter().take(self.len.min(INLINE_STEPS));
        inline.flatten().chain(&self.deep)
    }

    /// The fence of the child the deepest branch points at: the separators nearest above it on
    /// the path, inside `top` (no bounds for an empty path, whose child is the root).
    fn child_fence(&self, top: Fence<'a>) -> Result<Fence<'a>> {
        self.iter()
            .try_fold(top, |fence, f| fence.child(&f.node, f.idx))
    }
}

/// A position in a tree: the path from the root to an entry of a leaf. Steps inside a leaf read
/// one slot and one cell header; the page was parsed (its slot array bounded) once, on arrival.
pub(crate) struct Cursor<'a> {
    /// Where the pages come from.
    src: &'a dyn PageSource,
    /// The branches from the root down to the leaf's parent.
    path: Path<'a>,
    /// The leaf under the cursor; None once the cursor is past either end.
    leaf: Option<Node<'a>>,
    /// The index of the entry under the cursor in `leaf`.
    idx: usize,
    /// Leaves reached by stepping since the last seek: from the second on, the cursor is
    /// scanning, and warms the next leaf in its direction as it arrives at one.
    stepped: u32,
    /// The number of branches above the first leaf reached: every leaf must be as deep, so a
    /// leaf put in a branch's place (or the reverse) is an error when the cursor arrives at it.
    leaf_depth: Option<usize>,
    /// Set after a seek that found its key: the root's fence, for the checks of the pages on the
    /// path (and the leaf) against their fences, deferred until the cursor leaves the leaf.
    unchecked: Option<Fence<'a>>,
    /// The fence of the deepest branch on the path, once known: a step to a sibling leaf under
    /// the same branch computes the sibling's fence from it and that branch's separators alone,
    /// instead of from every branch on the path.
    parent_fence: Option<Fence<'a>>,
    /// The leaves a scanning cursor last asked the store to map ahead of it.
    ahead: Ahead,
}

/// Which way a seek descends at each branch.
#[derive(Clone, Copy)]
enum Edge<'k> {
    First,
    Last,
    Key(&'k [u8]),
}

/// An entry as a leaf stores it.
type RawEntry<'a> = (&'a [u8], LeafValue<'a>);

impl<'a> Cursor<'a> {
    /// A cursor on no entry, before its first seek.
    fn new(src: &'a dyn PageSource) -> Cursor<'a> {
        Cursor {
            src,
            path: Path::default(),
            leaf: None,
            idx: 0,
            stepped: 0,
            leaf_depth: None,
            unchecked: None,
            parent_fence: None,
            ahead: Ahead::default(),
        }
    }

    /// Descends from `ptr`, whose keys lie in `fence`, to a leaf, choosing children by `edge`
    /// and checking each page against its fence (unless `fenced` is false: then the caller checks
    /// the path later, with [`Cursor::check_path`]) and the leaf's depth, and makes the leaf the
    /// cursor's; the index in it is left for the caller to set.
    #[inline]
    fn descend(
        &mut self,
        mut ptr: PagePtr,
        mut fence: Fence<'a>,
        edge: Edge<'_>,
        fenced: bool,
    ) -> Result<Node<'a>> {
        loop {
            let n = node(self.src, ptr)?;
            if fenced {
                fence.check(&n)?;
            }
            if n.is_leaf() {
                if *self.leaf_depth.get_or_insert(self.path.len) != self.path.len {
                    return Err(corrupted(n.pgno(), "leaves at different depths"));
                }
                self.leaf = Some(n);
                return Ok(n);
            }
            let idx = match edge {
                Edge::First => 0,
                Edge::Last => n.count() - 1,
                Edge::Key(k) => n.child_index(k)?,
            };
            self.path.push(Step { node: n, idx })?;
            if fenced {
                self.parent_fence = Some(fence);
                fence = fence.child(&n, idx)?;
            }
            ptr = n.child(idx)?;
        }
    }

    /// Descends from the child the deepest branch now points at, `child`, to a leaf reached by
    /// stepping, which must not be empty (only a root may be).
    fn descend_to_sibling(&mut self, child: PagePtr, edge: Edge<'_>) -> Result<Node<'a>> {
        let fence = match (self.parent_fence, self.path.top()) {
            (Some(pf), Some(f)) => pf.child(&f.node, f.idx)?,
            _ => self.path.child_fence(Fence::top(self.src))?,
        };
        nonempty(self.descend(child, fence, edge, true)?)
    }

    /// Runs the checks a seek deferred (see [`Cursor::seek_key`]): every page on the path, and
    /// the leaf, against its fence. Before the cursor leaves the leaf it found its key in, whose
    /// entries are right even if a page on the path was swapped with another of its tree (as
    /// for [`super::get`]: keys are unique in a tree); stepping on from there needs the path.
    #[cold]
    #[inline(never)]
    fn check_path(&mut self) -> Result<()> {
        let Some(mut fence) = self.unchecked.take() else {
            return Ok(());
        };
        for f in self.path.iter() {
            fence.check(&f.node)?;
            self.parent_fence = Some(fence);
            fence = fence.child(&f.node, f.idx)?;
        }
        match self.leaf {
            Some(leaf) => fence.check(&leaf),
            None => Ok(()),
        }
    }

    /// Descends to the leaf where `key` is or would be, without the fence checks, and returns
    /// the leaf and the search's result in it. If the key is there, the checks are deferred
    /// until the cursor leaves the leaf ([`Cursor::check_path`]); if not, they run now: the
    /// position of an absent key is only right in the right leaf.
    fn seek_key(
        &mut self,
        root: PagePtr,
        count: Option<u64>,
        key: &[u8],
    ) -> Result<(Node<'a>, std::result::Result<usize, usize>)> {
        let root_fence = Fence::root(self.src, count);
        let leaf = self.descend(root, root_fence, Edge::Key(key), false)?;
        let found = leaf.search(key)?;
        self.unchecked = Some(root_fence);
        if found.is_err() {
            self.check_path()?;
        }
        Ok((leaf, found))
    }

    /// Forgets the position, before a seek.
    fn reset(&mut self) {
        self.path.clear();
        self.leaf = None;
        self.stepped = 0;
        self.leaf_depth = None;
        self.unchecked = None;
        self.parent_fence = None;
        self.ahead = Ahead::default();
    }

    /// Page number of the leaf under the cursor (0 when it is past either end).
    pub fn leaf_pgno(&self) -> u64 {
        self.leaf.map_or(0, |n| n.pgno())
    }

    /// The entry under the cursor, or None when it is past either end.
    #[inline]
    pub fn current(&self) -> Result<Option<RawEntry<'a>>> {
        match self.leaf {
            Some(n) if self.idx < n.count() => n.leaf_entry(self.idx).map(Some),
            _ => Ok(None),
        }
    }

    /// A cursor on the first entry that satisfies `lower` (past the end if none does). `count`
    /// is the tree's entry count, if known (see [`Fence::root`]).
    pub fn seek_lower(
        src: &'a dyn PageSource,
        root: PagePtr,
        count: Option<u64>,
        lower: Bound<&[u8]>,
    ) -> Result<Cursor<'a>> {
        let mut c = Cursor::new(src);
        c.move_to_lower(root, count, lower)?;
        Ok(c)
    }

    /// Moves to the first entry that satisfies `lower` (past the end if none does) in the tree
    /// at `root`, holding `count` entries if known.
    fn move_to_lower(
        &mut self,
        root: PagePtr,
        count: Option<u64>,
        lower: Bound<&[u8]>,
    ) -> Result<()> {
        self.reset();
        if root.is_null() {
            return Ok(());
        }
        let (leaf, idx) = match lower {
            Bound::Unbounded => (
                self.descend(root, Fence::root(self.src, count), Edge::First, true)?,
                0,
            ),
            Bound::Included(k) | Bound::Excluded(k) => match self.seek_key(root, count, k)? {
                (leaf, Ok(i)) if matches!(lower, Bound::Included(_)) => (leaf, i),
                (leaf, Ok(i)) => (leaf, i + 1),
                (leaf, Err(i)) => (leaf, i),
            },
        };
        self.idx = idx;
        if self.idx >= leaf.count() {
            self.step_forward_leaf()?;
        }
        Ok(())
    }

    /// A cursor on the last entry that satisfies `upper` (before the start if none does). `count`
    /// is the tree's entry count, if known (see [`Fence::root`]).
    pub fn seek_upper(
        src: &'a dyn PageSource,
        root: PagePtr,
        count: Option<u64>,
        upper: Bound<&[u8]>,
    ) -> Result<Cursor<'a>> {
        let mut c = Cursor::new(src);
        c.move_to_upper(root, count, upper)?;
        Ok(c)
    }

    /// Moves to the last entry that satisfies `upper` (before the start if none does) in the
    /// tree at `root`, holding `count` entries if known.
    fn move_to_upper(
        &mut self,
        root: PagePtr,
        count: Option<u64>,
        upper: Bound<&[u8]>,
    ) -> Result<()> {
        self.reset();
        if root.is_null() {
            return Ok(());
        }
        // `below` = how many entries of the leaf satisfy the bound.
        let (below, _) = match upper {
            Bound::Unbounded => {
                let leaf = self.descend(root, Fence::root(self.src, count), Edge::Last, true)?;
                (leaf.count(), leaf)
            }
            Bound::Included(k) | Bound::Excluded(k) => match self.seek_key(root, count, k)? {
                (leaf, Ok(i)) if matches!(upper, Bound::Included(_)) => (i + 1, leaf),
                (leaf, Ok(i)) => (i, leaf),
                (leaf, Err(i)) => (i, leaf),
            },
        };
        match below.checked_sub(1) {
            Some(i) => self.idx = i,
            None => self.step_back_leaf()?,
        }
        Ok(())
    }

    /// Moves to the next entry and returns it (None past the end). Inside a leaf this is an
    /// index increment and one entry decode.
    #[inline]
    pub fn next(&mut self) -> Result<Option<RawEntry<'a>>> {
        let Some(leaf) = self.leaf else {
            return Ok(None);
        };
        self.idx += 1;
        if self.idx < leaf.count() {
            return leaf.leaf_entry(self.idx).map(Some);
        }
        self.step_forward_leaf()?;
        self.current()
    }

    /// Moves to the next entry of the current leaf and returns it; None, without moving, at the
    /// leaf's last entry or past either end (then [`Cursor::next`] moves on).
    #[inline(always)]
    fn next_in_leaf(&mut self) -> Option<Result<RawEntry<'a>>> {
        let leaf = self.leaf.as_ref()?;
        let i = self.idx + 1;
        if i >= leaf.count() {
            return None;
        }
        self.idx = i;
        Some(leaf.leaf_entry(i))
    }

    /// Moves to the previous entry of the current leaf and returns it; None, without moving, at
    /// the leaf's first entry or past either end (then [`Cursor::prev`] moves on).
    #[inline(always)]
    fn prev_in_leaf(&mut self) -> Option<Result<RawEntry<'a>>> {
        let leaf = self.leaf.as_ref()?;
        let i = self.idx.checked_sub(1)?;
        self.idx = i;
        Some(leaf.leaf_entry(i))
    }

    /// Moves to the previous entry and returns it (None before the start).
    #[inline]
    pub fn prev(&mut self) -> Result<Option<RawEntry<'a>>> {
        let Some(leaf) = self.leaf else {
            return Ok(None);
        };
        if let Some(i) = self.idx.checked_sub(1) {
            self.idx = i;
            return leaf.leaf_entry(i).map(Some);
        }
        self.step_back_leaf()?;
        self.current()
    }

    /// From the end of the current leaf, moves to the first entry of the next leaf, or empties
    /// the cursor at the end of the tree.
    #[cold]
    fn step_forward_leaf(&mut self) -> Result<()> {
        self.check_path()?;
        self.leaf = None;
        let child = loop {
            let Some(f) = self.path.top() else {
                return Ok(());
            };
            if f.idx + 1 < f.node.count() {
                f.idx += 1;
                break f.node.child(f.idx)?;
            }
            self.path.pop();
            self.parent_fence = None;
        };
        self.idx = 0;
        self.descend_to_sibling(child, Edge::First)?;
        self.warm_next(1);
        Ok(())
    }

    /// From the start of the current leaf, moves to the last entry of the previous leaf, or
    /// empties the cursor at the start of the tree.
    #[cold]
    fn step_back_leaf(&mut self) -> Result<()> {
        self.check_path()?;
        self.leaf = None;
        let child = loop {
            let Some(f) = self.path.top() else {
                return Ok(());
            };
            if f.idx > 0 {
                f.idx -= 1;
                break f.node.child(f.idx)?;
            }
            self.path.pop();
            self.parent_fence = None;
        };
        let leaf = self.descend_to_sibling(child, Edge::Last)?;
        self.idx = leaf.count() - 1;
        self.warm_next(-1);
        Ok(())
    }

    /// Once the cursor is scanning, prefetches the leaf after the one it just reached (`dir` 1:
    /// to the right, -1: to the left), so that its cache misses overlap with the steps through
    /// the current leaf instead of following them, after asking the store to map the leaves
    /// ahead ([`Ahead::before`]). A sibling under another parent, or one that cannot be read,
    /// is left alone: these are only hints.
    fn warm_next(&mut self, dir: isize) {
        self.stepped = self.stepped.saturating_add(1);
        if self.stepped < 2 {
            return;
        }
        let Some(f) = self.path.top() else {
            return;
        };
        let (node, next) = (f.node, f.idx.wrapping_add_signed(dir));
        if next >= node.count() {
            return;
        }
        self.ahead.before(self.src, node, next, dir);
        if let Some(page) = node
            .child(next)
            .ok()
            .and_then(|p| self.src.page(p.pgno).ok())
        {
            crate::store::prefetch(page);
        }
    }
}

/// A leaf reached by stepping: it must not be empty (only a root may be).
fn nonempty(leaf: Node<'_>) -> Result<Node<'_>> {
    if leaf.count() == 0 {
        return Err(empty_leaf(leaf.pgno()));
    }
    Ok(leaf)
}

/// Only the root may be an empty leaf (and an empty tree has no root at all).
fn empty_leaf(pgno: u64) -> crate::error::Error {
    corrupted(pgno, "empty leaf below the root")
}

/// A key that does not strictly follow the previous one in the direction of iteration: a page
/// reached twice (a cycle) or a misdirected write. Never yielded as data.
fn out_of_order(c: Option<&Cursor<'_>>) -> crate::error::Error {
    corrupted(
        c.map_or(0, Cursor::leaf_pgno),
        "keys out of order across pages (a cycle or a misdirected write)",
    )
}

/// An owned copy of a range bound (small keys stay on the stack).
fn own(b: Bound<&[u8]>) -> Bound<SmallKey> {
    match b {
        Bound::Included(k) => Bound::Included(SmallKey::from_slice(k)),
        Bound::Excluded(k) => Bound::Excluded(SmallKey::from_slice(k)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// A borrowed view of an owned range bound.
#[inline]
fn borrow(b: &Bound<SmallKey>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// True if `key` is not beyond `upper`.
#[inline]
fn below_upper(key: &[u8], upper: Bound<&[u8]>) -> bool {
    match upper {
        Bound::Included(u) => cmp_keys(key, u) != Ordering::Greater,
        Bound::Excluded(u) => cmp_keys(key, u) == Ordering::Less,
        Bound::Unbounded => true,
    }
}

/// True if `key` is not before `lower`.
#[inline]
fn above_lower(key: &[u8], lower: Bound<&[u8]>) -> bool {
    match lower {
        Bound::Included(l) => cmp_keys(key, l) != Ordering::Less,
        Bound::Excluded(l) => cmp_keys(key, l) == Ordering::Greater,
        Bound::Unbounded => true,
    }
}

/// Iterator over the entries of a tree between two bounds, from either end. The two ends meet in
/// the middle: no entry is yielded twice.
pub(crate) struct RangeIter<'a> {
    /// Where the pages come from.
    src: &'a dyn PageSource,
    /// The tree's root (null for an empty tree).
    root: PagePtr,
    /// The tree's entry count, if known (see [`Fence::root`]).
    count: Option<u64>,
    /// The range's lower bound.
    lower: Bound<SmallKey>,
    /// The range's upper bound.
    upper: Bound<SmallKey>,
    /// The cursor of the front end, once it has been seeked.
    front: Option<Cursor<'a>>,
    /// The cursor of the back end, once it has been seeked.
    back: Option<Cursor<'a>>,
    /// The last key yielded from the front: the next must follow it, and the back stops there.
    front_last: Option<&'a [u8]>,
    /// The last key yielded from the back: the next must precede it, and the front stops there.
    back_last: Option<&'a [u8]>,
    /// Set once the ends have met, the range is exhausted, or an error was yielded.
    done: bool,
}

/// One item of a range: a key and a value, both borrowed from the transaction.
pub(crate) type Entry<'a> = (&'a [u8], &'a [u8]);

impl<'a> RangeIter<'a> {
    /// A range over the tree at `root` (holding `count` entries, if known); seeks happen
    /// lazily, on the first step from each end.
    pub fn new(
        src: &'a dyn PageSource,
        root: PagePtr,
        count: Option<u64>,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> RangeIter<'a> {
        RangeIter {
            src,
            root,
            count,
            lower: own(lower),
            upper: own(upper),
            front: None,
            back: None,
            front_last: None,
            back_last: None,
            done: root.is_null(),
        }
    }

    /// The front cursor's next entry (its first: a seek, on the first call).
    #[inline]
    fn advance_front(&mut self) -> Result<Option<RawEntry<'a>>> {
        match &mut self.front {
            Some(c) => c.next(),
            None => {
                let c = self.front.insert(Cursor::new(self.src));
                c.move_to_lower(self.root, self.count, borrow(&self.lower))?;
                c.current()
            }
        }
    }

    /// The back cursor's previous entry (its first: a seek, on the first call).
    #[inline]
    fn advance_back(&mut self) -> Result<Option<RawEntry<'a>>> {
        match &mut self.back {
            Some(c) => c.prev(),
            None => {
                let c = self.back.insert(Cursor::new(self.src));
                c.move_to_upper(self.root, self.count, borrow(&self.upper))?;
                c.current()
            }
        }
    }

    /// The front cursor's next entry, at its first step or once it has left its leaf: checked
    /// to follow the last key yielded (a page reached twice, or a page in the wrong place, shows
    /// as a key that does not). Inside a leaf no check is needed: a leaf's keys increase, as
    /// part of the contents its checksum covers.
    #[inline(never)]
    fn front_arrive(&mut self) -> Result<Option<RawEntry<'a>>> {
        let Some((k, v)) = self.advance_front()? else {
            return Ok(None);
        };
        if self
            .front_last
            .is_some_and(|p| cmp_keys(k, p) != Ordering::Greater)
        {
            return Err(out_of_order(self.front.as_ref()));
        }
        Ok(Some((k, v)))
    }

    /// The back cursor's previous entry, at its first step or once it has left its leaf: checked
    /// to precede the last key yielded (see [`RangeIter::front_arrive`]).
    #[inline(never)]
    fn back_arrive(&mut self) -> Result<Option<RawEntry<'a>>> {
        let Some((k, v)) = self.advance_back()? else {
            return Ok(None);
        };
        if self
            .back_last
            .is_some_and(|p| cmp_keys(k, p) != Ordering::Less)
        {
            return Err(out_of_order(self.back.as_ref()));
        }
        Ok(Some((k, v)))
    }

    /// The next entry from the front (None once the range is exhausted from the front or the
    /// ends meet). A step inside the front cursor's leaf is an index increment, one entry
    /// decode and the range's bound check.
    #[inline]
    fn step_front(&mut self) -> Result<Option<Entry<'a>>> {
        let (k, v) = match self.front.as_mut().and_then(Cursor::next_in_leaf) {
            Some(e) => e?,
            None => match self.front_arrive()? {
                Some(e) => e,
                None => return Ok(None),
            },
        };
        let in_range = match self.back_last {
            Some(b) => cmp_keys(k, b) == Ordering::Less,
            None => below_upper(k, borrow(&self.upper)),
        };
        if !in_range {
            return Ok(None);
        }
        self.front_last = Some(k);
        Ok(Some((k, value(self.src, v)?)))
    }

    /// The next entry from the back (None once the range is exhausted from the back or the ends
    /// meet); see [`RangeIter::step_front`].
    #[inline]
    fn step_back(&mut self) -> Result<Option<Entry<'a>>> {
        let (k, v) = match self.back.as_mut().and_then(Cursor::prev_in_leaf) {
            Some(e) => e?,
            None => match self.back_arrive()? {
                Some(e) => e,
                None => return Ok(None),
            },
        };
        let in_range = match self.front_last {
            Some(f) => cmp_keys(k, f) == Ordering::Greater,
            None => above_lower(k, borrow(&self.lower)),
        };
        if !in_range {
            return Ok(None);
        }
        self.back_last = Some(k);
        Ok(Some((k, value(self.src, v)?)))
    }

    /// Turns a step's result into an iterator item; the range ends after None or an error.
    fn finish(&mut self, r: Result<Option<Entry<'a>>>) -> Option<Result<Entry<'a>>> {
        finish_step(&mut self.done, r)
    }
}

/// Turns a range step's result into an iterator item, setting `done` after None or an error (a
/// range ends there).
pub(crate) fn finish_step<T>(done: &mut bool, r: Result<Option<T>>) -> Option<Result<T>> {
    let item = r.transpose();
    if !matches!(item, Some(Ok(_))) {
        *done = true;
    }
    item
}

impl<'a> Iterator for RangeIter<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step_front();
        self.finish(r)
    }
}

impl DoubleEndedIterator for RangeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step_back();
        self.finish(r)
    }
}
