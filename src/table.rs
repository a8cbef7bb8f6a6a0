//! [`Table`] and [`TableMut`]: the user-facing ordered map of one named table, and [`Range`], its
//! double-ended iterator.
//!
//! Keys are ordered by unsigned byte-wise comparison (shorter prefix first). Every key and value
//! returned borrows the transaction: in mmap mode it is a slice of the mapping, with nothing copied.

use crate::btree::cursor::{Cursor, RangeIter};
use crate::btree::{self, PageSource, TreeRoot};
use crate::error::Result;
use crate::txn::write::WriteTxn;
use std::ops::{Bound, RangeBounds};

/// Iterator over a range of a table: `(key, value)` pairs in key order, from either end
/// (`.rev()` works), each borrowed from the transaction.
pub struct Range<'a> {
    inner: RangeIter<'a>,
}

impl<'a> Iterator for Range<'a> {
    type Item = Result<(&'a [u8], &'a [u8])>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back()
    }
}

fn bounds<R: RangeBounds<[u8]>>(r: &R) -> (Bound<&[u8]>, Bound<&[u8]>) {
    (r.start_bound(), r.end_bound())
}

/// The read operations shared by [`Table`] and [`TableMut`].
fn range_of<'a, R: RangeBounds<[u8]>>(src: &'a dyn PageSource, tree: TreeRoot, r: R) -> Range<'a> {
    let (lo, hi) = bounds(&r);
    Range {
        inner: RangeIter::new(src, tree.root, Some(tree.count), lo, hi),
    }
}

fn first_of(src: &dyn PageSource, tree: TreeRoot) -> Result<Option<(&[u8], &[u8])>> {
    let c = Cursor::seek_lower(src, tree.root, Some(tree.count), Bound::Unbounded)?;
    c.current()?
        .map(|(k, v)| Ok((k, btree::value(src, v)?)))
        .transpose()
}

fn last_of(src: &dyn PageSource, tree: TreeRoot) -> Result<Option<(&[u8], &[u8])>> {
    let c = Cursor::seek_upper(src, tree.root, Some(tree.count), Bound::Unbounded)?;
    c.current()?
        .map(|(k, v)| Ok((k, btree::value(src, v)?)))
        .transpose()
}

/// A table in a read transaction.
pub struct Table<'txn> {
    src: &'txn crate::store::TxnView,
    tree: TreeRoot,
}

impl<'txn> Table<'txn> {
    pub(crate) fn new(src: &'txn crate::store::TxnView, tree: TreeRoot) -> Table<'txn> {
        Table { src, tree }
    }

    /// The value of `key`, borrowed from the transaction (a slice of the map), or None.
    pub fn get(&self, key: &[u8]) -> Result<Option<&'txn [u8]>> {
        btree::get_in(self.src, self.tree, key)
    }

    /// Entries with keys in `range`, e.g. `(Bound::Included(a), Bound::Excluded(b))` or `..`.
    pub fn range<R: RangeBounds<[u8]>>(&self, range: R) -> Result<Range<'txn>> {
        Ok(range_of(self.src, self.tree, range))
    }

    /// All entries in key order.
    pub fn iter(&self) -> Result<Range<'txn>> {
        self.range::<std::ops::RangeFull>(..)
    }

    /// Number of entries (O(1): kept with the table's root).
    pub fn len(&self) -> Result<u64> {
        Ok(self.tree.count)
    }

    /// True if the table has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.tree.count == 0)
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(&'txn [u8], &'txn [u8])>> {
        first_of(self.src, self.tree)
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(&'txn [u8], &'txn [u8])>> {
        last_of(self.src, self.tree)
    }
}

/// A table in a write transaction: reads see the transaction's own writes.
pub struct TableMut<'txn> {
    txn: &'txn mut WriteTxn,
    idx: usize,
}

impl<'txn> TableMut<'txn> {
    pub(crate) fn new(txn: &'txn mut WriteTxn, idx: usize) -> TableMut<'txn> {
        TableMut { txn, idx }
    }

    fn tree(&self) -> TreeRoot {
        self.txn.table_root(self.idx)
    }

    /// Inserts `key` with `value`, overwriting any previous value. Fails with `KeyTooLarge` or
    /// `ValueTooLarge` (nothing changed, the transaction still usable) past the limits.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.txn.insert(self.idx, key, value).map(|_| ())
    }

    /// Removes `key`; returns true if it was there.
    pub fn remove(&mut self, key: &[u8]) -> Result<bool> {
        self.txn.remove(self.idx, key)
    }

    /// The value of `key` as this transaction sees it.
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        btree::get_in(self.txn.pages(), self.tree(), key)
    }

    /// Entries with keys in `range`, as this transaction sees them.
    pub fn range<R: RangeBounds<[u8]>>(&self, range: R) -> Result<Range<'_>> {
        Ok(range_of(self.txn.pages(), self.tree(), range))
    }

    /// All entries in key order.
    pub fn iter(&self) -> Result<Range<'_>> {
        self.range::<std::ops::RangeFull>(..)
    }

    /// Number of entries (O(1)).
    pub fn len(&self) -> Result<u64> {
        Ok(self.tree().count)
    }

    /// True if the table has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.tree().count == 0)
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(&[u8], &[u8])>> {
        first_of(self.txn.pages(), self.tree())
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(&[u8], &[u8])>> {
        last_of(self.txn.pages(), self.tree())
    }
}
