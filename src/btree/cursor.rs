//! Cursors and the double-ended range iterator.
//!
//! A cursor keeps its root-to-leaf path as a stack of (page, index) frames. Stepping past the end
//! of a leaf pops to the nearest ancestor with a next child and descends from there, so a scan
//! visits each page once and never starts again from the root: amortised O(1) pages per step.

use super::key::SmallKey;
use super::{node, value, Fence, PageSource, MAX_DEPTH};
use crate::error::{corrupted, Result};
use crate::page::node::{LeafValue, Node};
use crate::page::PagePtr;
use std::ops::Bound;

#[derive(Clone, Copy)]
struct Frame<'a> {
    node: Option<Node<'a>>,
    idx: usize,
}

/// A position in a tree: the path from the root to an entry of a leaf.
pub(crate) struct Cursor<'a> {
    src: &'a dyn PageSource,
    stack: [Frame<'a>; MAX_DEPTH],
    depth: usize,
    /// The depth of the first leaf reached: every leaf must be at the same depth, so a leaf put
    /// in a branch's place (or the reverse) is an error when the cursor moves past it.
    leaf_depth: Option<usize>,
}

/// Which way a seek descends at each branch.
#[derive(Clone, Copy)]
enum Edge<'k> {
    First,
    Last,
    Key(&'k [u8]),
}

impl<'a> Cursor<'a> {
    fn new(src: &'a dyn PageSource) -> Cursor<'a> {
        Cursor {
            src,
            stack: [Frame { node: None, idx: 0 }; MAX_DEPTH],
            depth: 0,
            leaf_depth: None,
        }
    }

    fn push(&mut self, n: Node<'a>, idx: usize) -> Result<()> {
        let frame = self
            .stack
            .get_mut(self.depth)
            .ok_or_else(|| corrupted(n.pgno(), "tree deeper than the maximum depth (a cycle?)"))?;
        *frame = Frame { node: Some(n), idx };
        self.depth += 1;
        Ok(())
    }

    /// Descends from `ptr`, whose keys lie in `fence`, to a leaf, choosing children by `edge` and
    /// checking each page against its fence; the leaf's index is left for the caller to set.
    fn descend(
        &mut self,
        mut ptr: PagePtr,
        mut fence: Fence<'a>,
        edge: Edge<'_>,
    ) -> Result<Node<'a>> {
        loop {
            let n = node(self.src, ptr)?;
            fence.check(&n)?;
            if n.is_leaf() {
                self.push(n, 0)?;
                if *self.leaf_depth.get_or_insert(self.depth) != self.depth {
                    return Err(corrupted(n.pgno(), "leaves at different depths"));
                }
                return Ok(n);
            }
            let i = match edge {
                Edge::First => 0,
                Edge::Last => n.count() - 1,
                Edge::Key(k) => n.child_index(k)?,
            };
            self.push(n, i)?;
            fence = fence.child(&n, i)?;
            ptr = n.child(i)?;
        }
    }

    /// The fence of the child the top frame points at: the separators nearest above it.
    fn top_fence(&self) -> Result<Fence<'a>> {
        let mut fence = Fence::default();
        for f in self.stack[..self.depth].iter() {
            if let Some(n) = &f.node {
                fence = fence.child(n, f.idx)?;
            }
        }
        Ok(fence)
    }

    fn leaf_frame(&mut self) -> &mut Frame<'a> {
        &mut self.stack[self.depth - 1]
    }

    /// Page number of the leaf under the cursor (0 when it is past either end).
    pub fn leaf_pgno(&self) -> u64 {
        self.depth
            .checked_sub(1)
            .and_then(|d| self.stack[d].node)
            .map_or(0, |n| n.pgno())
    }

    /// The entry under the cursor, or None when it is past either end.
    pub fn current(&self) -> Result<Option<(&'a [u8], LeafValue<'a>)>> {
        if self.depth == 0 {
            return Ok(None);
        }
        let f = self.stack[self.depth - 1];
        match f.node {
            Some(n) if f.idx < n.count() => Ok(Some(n.leaf_entry(f.idx)?)),
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
        if root.is_null() {
            return Ok(c);
        }
        let (edge, key) = match lower {
            Bound::Unbounded => (Edge::First, None),
            Bound::Included(k) => (Edge::Key(k), Some((k, true))),
            Bound::Excluded(k) => (Edge::Key(k), Some((k, false))),
        };
        let leaf = c.descend(root, Fence::root(count), edge)?;
        let idx = match key {
            None => 0,
            Some((k, inclusive)) => match leaf.search(k)? {
                Ok(i) if inclusive => i,
                Ok(i) => i + 1,
                Err(i) => i,
            },
        };
        c.leaf_frame().idx = idx;
        if idx >= leaf.count() {
            c.step_forward_leaf()?;
        }
        Ok(c)
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
        if root.is_null() {
            return Ok(c);
        }
        let (edge, key) = match upper {
            Bound::Unbounded => (Edge::Last, None),
            Bound::Included(k) => (Edge::Key(k), Some((k, true))),
            Bound::Excluded(k) => (Edge::Key(k), Some((k, false))),
        };
        let leaf = c.descend(root, Fence::root(count), edge)?;
        // `below` = how many entries of this leaf satisfy the bound.
        let below = match key {
            None => leaf.count(),
            Some((k, inclusive)) => match leaf.search(k)? {
                Ok(i) if inclusive => i + 1,
                Ok(i) => i,
                Err(i) => i,
            },
        };
        if below == 0 {
            c.step_back_leaf()?;
        } else {
            c.leaf_frame().idx = below - 1;
        }
        Ok(c)
    }

    /// Moves to the next entry.
    pub fn next(&mut self) -> Result<()> {
        if self.depth == 0 {
            return Ok(());
        }
        let f = self.leaf_frame();
        f.idx += 1;
        if f.node.is_some_and(|n| f.idx < n.count()) {
            return Ok(());
        }
        self.step_forward_leaf()
    }

    /// Moves to the previous entry.
    pub fn prev(&mut self) -> Result<()> {
        if self.depth == 0 {
            return Ok(());
        }
        let f = self.leaf_frame();
        if f.idx > 0 {
            f.idx -= 1;
            return Ok(());
        }
        self.step_back_leaf()
    }

    /// From the end of the current leaf, moves to the first entry of the next leaf, or empties
    /// the cursor at the end of the tree.
    fn step_forward_leaf(&mut self) -> Result<()> {
        self.depth -= 1; // drop the leaf
        loop {
            if self.depth == 0 {
                return Ok(());
            }
            let f = &mut self.stack[self.depth - 1];
            let n = f
                .node
                .ok_or_else(|| corrupted(0, "cursor frame without a page"))?;
            if f.idx + 1 < n.count() {
                f.idx += 1;
                break;
            }
            self.depth -= 1;
        }
        self.descend_from_top(Edge::First)?;
        Ok(())
    }

    /// From the start of the current leaf, moves to the last entry of the previous leaf, or
    /// empties the cursor at the start of the tree.
    fn step_back_leaf(&mut self) -> Result<()> {
        self.depth -= 1; // drop the leaf
        loop {
            if self.depth == 0 {
                return Ok(());
            }
            let f = &mut self.stack[self.depth - 1];
            if f.idx > 0 {
                f.idx -= 1;
                break;
            }
            self.depth -= 1;
        }
        let leaf = self.descend_from_top(Edge::Last)?;
        self.leaf_frame().idx = leaf.count() - 1;
        Ok(())
    }

    /// Descends from the child the top frame points at to a leaf, which must not be empty (only
    /// a root may be).
    fn descend_from_top(&mut self, edge: Edge<'_>) -> Result<Node<'a>> {
        let f = self.stack[self.depth - 1];
        let child = f
            .node
            .ok_or_else(|| corrupted(0, "cursor frame without a page"))?
            .child(f.idx)?;
        let leaf = self.descend(child, self.top_fence()?, edge)?;
        if leaf.count() == 0 {
            return Err(empty_leaf(leaf.pgno()));
        }
        Ok(leaf)
    }
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

fn borrow(b: &Bound<SmallKey>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// True if `key` is not beyond `upper`.
fn below_upper(key: &[u8], upper: Bound<&[u8]>) -> bool {
    match upper {
        Bound::Included(u) => key <= u,
        Bound::Excluded(u) => key < u,
        Bound::Unbounded => true,
    }
}

/// True if `key` is not before `lower`.
fn above_lower(key: &[u8], lower: Bound<&[u8]>) -> bool {
    match lower {
        Bound::Included(l) => key >= l,
        Bound::Excluded(l) => key > l,
        Bound::Unbounded => true,
    }
}

/// Iterator over the entries of a tree between two bounds, from either end. The two ends meet in
/// the middle: no entry is yielded twice.
pub(crate) struct RangeIter<'a> {
    src: &'a dyn PageSource,
    root: PagePtr,
    /// The tree's entry count, if known (see [`Fence::root`]).
    count: Option<u64>,
    lower: Bound<SmallKey>,
    upper: Bound<SmallKey>,
    front: Option<Cursor<'a>>,
    back: Option<Cursor<'a>>,
    front_last: Option<&'a [u8]>,
    back_last: Option<&'a [u8]>,
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

    fn step_front(&mut self) -> Result<Option<Entry<'a>>> {
        match &mut self.front {
            Some(c) => c.next()?,
            None => {
                self.front = Some(Cursor::seek_lower(
                    self.src,
                    self.root,
                    self.count,
                    borrow(&self.lower),
                )?)
            }
        }
        let Some((k, v)) = self
            .front
            .as_ref()
            .and_then(|c| c.current().transpose())
            .transpose()?
        else {
            return Ok(None);
        };
        if self.front_last.is_some_and(|p| k <= p) {
            return Err(out_of_order(self.front.as_ref()));
        }
        let in_range = match self.back_last {
            Some(b) => k < b,
            None => below_upper(k, borrow(&self.upper)),
        };
        if !in_range {
            return Ok(None);
        }
        self.front_last = Some(k);
        Ok(Some((k, value(self.src, v)?)))
    }

    fn step_back(&mut self) -> Result<Option<Entry<'a>>> {
        match &mut self.back {
            Some(c) => c.prev()?,
            None => {
                self.back = Some(Cursor::seek_upper(
                    self.src,
                    self.root,
                    self.count,
                    borrow(&self.upper),
                )?)
            }
        }
        let Some((k, v)) = self
            .back
            .as_ref()
            .and_then(|c| c.current().transpose())
            .transpose()?
        else {
            return Ok(None);
        };
        if self.back_last.is_some_and(|p| k >= p) {
            return Err(out_of_order(self.back.as_ref()));
        }
        let in_range = match self.front_last {
            Some(f) => k > f,
            None => above_lower(k, borrow(&self.lower)),
        };
        if !in_range {
            return Ok(None);
        }
        self.back_last = Some(k);
        Ok(Some((k, value(self.src, v)?)))
    }

    fn finish(&mut self, r: Result<Option<Entry<'a>>>) -> Option<Result<Entry<'a>>> {
        match r {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
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
