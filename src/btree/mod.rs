//! The B+tree: search, insert, split, delete, merge, overflow values and cursors.
//!
//! Generic over a [`PageSource`] (reads) and a [`PageStore`] (a write transaction's pages): this
//! layer knows nothing of files. Every page read from a source is validated before use, and every
//! descent is bounded by [`MAX_DEPTH`], so a damaged file yields `Error::Corrupted`, never a panic
//! or an endless loop.

pub(crate) mod cursor;
pub(crate) mod key;
pub(crate) mod mutate;

use crate::error::{corrupted, Result};
use crate::page::node::{LeafValue, Node};
use crate::page::{overflow_pages, overflow_value, PagePtr, HEADER_LEN, SLOT_LEN};
pub(crate) use crate::store::PageSource;

/// Deepest tree larchdb will descend. With at least two children per branch (usually over a
/// hundred) this is far more than any file can hold, so reaching it means a cycle or a damaged page.
pub(crate) const MAX_DEPTH: usize = 32;

/// Largest key for a page size: a quarter of the page.
pub(crate) fn max_key_len(page_size: usize) -> usize {
    page_size / 4
}

/// Largest leaf cell whose value stays inline; larger values move to an overflow run (unless the
/// value is at most [`crate::page::node::OVERFLOW_REF_LEN`] bytes, when a reference would not help).
pub(crate) fn max_inline_cell(page_size: usize) -> usize {
    (page_size - HEADER_LEN) / 4 - SLOT_LEN
}

/// True if a value of `vlen` bytes under a key of `klen` bytes is stored inside the leaf.
pub(crate) fn value_inline(klen: usize, vlen: usize, page_size: usize) -> bool {
    vlen <= crate::page::node::OVERFLOW_REF_LEN
        || crate::page::node::LEAF_CELL_HEADER + klen + vlen <= max_inline_cell(page_size)
}

/// A tree as a table (or the catalog, or the freelist) records it: root and entry count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TreeRoot {
    /// Root page, or null for an empty tree.
    pub root: PagePtr,
    /// Number of entries.
    pub count: u64,
}

/// Reads and validates the leaf or branch page `ptr` points at.
pub(crate) fn node<S: PageSource + ?Sized>(s: &S, ptr: PagePtr) -> Result<Node<'_>> {
    Node::parse(ptr.pgno, s.page(ptr.pgno)?, ptr.txn)
}

/// The bytes of a leaf value: a slice of the leaf, or of its overflow run.
#[inline]
pub(crate) fn value<'a, S: PageSource + ?Sized>(s: &'a S, v: LeafValue<'a>) -> Result<&'a [u8]> {
    match v {
        LeafValue::Inline(b) => Ok(b),
        LeafValue::Overflow { ptr, len } => overflow(s, ptr, len),
    }
}

/// The value of `len` bytes in the overflow run `ptr` points at.
fn overflow<S: PageSource + ?Sized>(s: &S, ptr: PagePtr, len: u64) -> Result<&[u8]> {
    let npages = overflow_pages(len, s.page_size());
    run_value(ptr, s.run(ptr.pgno, npages)?, npages, len)
}

/// The value of `len` bytes stored in `run`, the `npages`-page overflow run `ptr` points at.
pub(crate) fn run_value(ptr: PagePtr, run: &[u8], npages: u64, len: u64) -> Result<&[u8]> {
    if crate::page::get_u32(run, crate::page::OFF_CELLS_START) != Some(npages as u32) {
        return Err(corrupted(
            ptr.pgno,
            "overflow run page count differs from its value length",
        ));
    }
    overflow_value(ptr.pgno, run, ptr.txn, len)
}

/// Looks `key` up in the tree rooted at `root`.
pub(crate) fn get<'a, S: PageSource + ?Sized>(
    s: &'a S,
    root: PagePtr,
    key: &[u8],
) -> Result<Option<&'a [u8]>> {
    if root.is_null() {
        return Ok(None);
    }
    let mut ptr = root;
    for _ in 0..MAX_DEPTH {
        let n = node(s, ptr)?;
        if n.is_leaf() {
            return match n.search(key)? {
                Ok(i) => Ok(Some(value(s, n.leaf_entry(i)?.1)?)),
                Err(_) => Ok(None),
            };
        }
        ptr = n.child(n.child_index(key)?)?;
    }
    Err(corrupted(
        root.pgno,
        "tree deeper than the maximum depth (a cycle?)",
    ))
}

/// A write transaction's pages, as the tree mutations need them.
pub(crate) trait PageStore: PageSource {
    /// Id of the writing transaction.
    fn txn(&self) -> u64;
    /// Makes the leaf or branch page `ptr` writable in this transaction (copying a committed page
    /// into a new dirty page, and freeing the original) and returns its page number.
    fn cow(&mut self, ptr: PagePtr) -> Result<u64>;
    /// The bytes of dirty page (or run) `pgno`.
    fn page_mut(&mut self, pgno: u64) -> &mut [u8];
    /// Allocates `npages` consecutive zeroed dirty pages.
    fn alloc(&mut self, npages: u64) -> Result<u64>;
    /// Frees the page or run `ptr` of `npages` pages.
    fn free(&mut self, ptr: PagePtr, npages: u64);
}
