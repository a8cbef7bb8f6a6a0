//! [`Table`], a table in a read transaction, and [`Range`], its double-ended iterator.

use super::keys::{self, KeyBytes, KeyRange};
use crate::btree::cursor::{Cursor, RangeIter};
use crate::btree::{self, PageSource, TreeRoot};
use crate::error::Result;
use crate::store::TxnView;
use crate::txn::read::ReadTxn;
use std::ops::Bound;

/// Iterator over a range of a [`Table`]: `(key, value)` pairs in key order, from either end
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

/// The entry at the lower (`first`) or upper end of the tree.
fn end_of(src: &dyn PageSource, tree: TreeRoot, first: bool) -> Result<Option<(&[u8], &[u8])>> {
    let (root, count) = (tree.root, Some(tree.count));
    let c = match first {
        true => Cursor::seek_lower(src, root, count, Bound::Unbounded)?,
        false => Cursor::seek_upper(src, root, count, Bound::Unbounded)?,
    };
    c.current()?
        .map(|(k, v)| Ok((k, btree::value(src, v)?)))
        .transpose()
}

/// A table in a read transaction.
pub struct Table<'txn> {
    src: &'txn TxnView,
    tree: TreeRoot,
}

impl ReadTxn {
    /// Opens table `name`. Fails with [`crate::Error::TableNotFound`] if it does not exist.
    pub fn open_table(&self, name: &str) -> Result<Table<'_>> {
        Ok(Table::new(self.pages(), self.table_root(name)?))
    }
}

impl<'txn> Table<'txn> {
    pub(crate) fn new(src: &'txn TxnView, tree: TreeRoot) -> Table<'txn> {
        Table { src, tree }
    }

    /// The value of `key`, borrowed from the transaction (a slice of the map), or None.
    pub fn get(&self, key: &[u8]) -> Result<Option<&'txn [u8]>> {
        btree::get_in(self.src, self.tree, key)
    }

    /// Entries with keys in `range`: `a..b`, `a..=b`, `a..`, `..b`, `..` over `&[u8]`, `&str`,
    /// `Vec<u8>`, byte arrays, or `(Bound::Included(a), Bound::Excluded(b))`.
    ///
    /// ```
    /// # fn main() -> larchdb::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = larchdb::Database::open(dir.path().join("r.larch"))?;
    /// # let wtx = db.begin_write()?;
    /// # { let mut t = wtx.open_table("t")?; for k in ["a", "b", "c"] { t.insert(k.as_bytes(), b"")?; } }
    /// # wtx.commit()?;
    /// let rtx = db.begin_read()?;
    /// let t = rtx.open_table("t")?;
    /// assert_eq!(t.range("a".."c")?.count(), 2);
    /// assert_eq!(t.range(&b"b"[..]..)?.count(), 2);
    /// assert_eq!(t.range(..=b"b".to_vec())?.rev().next().unwrap()?.0, b"b");
    /// # Ok(()) }
    /// ```
    pub fn range<R: KeyRange>(&self, range: R) -> Result<Range<'txn>> {
        let (src, tree) = (self.src as &dyn PageSource, self.tree);
        let inner = RangeIter::new(
            src,
            tree.root,
            Some(tree.count),
            range.lower(),
            range.upper(),
        );
        Ok(Range { inner })
    }

    /// Entries whose keys start with `prefix`, in key order.
    pub fn prefix<K: KeyBytes + ?Sized>(&self, prefix: &K) -> Result<Range<'txn>> {
        self.range(keys::prefix(prefix.key_bytes()))
    }

    /// All entries in key order.
    pub fn iter(&self) -> Result<Range<'txn>> {
        self.range(..)
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
        end_of(self.src, self.tree, true)
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(&'txn [u8], &'txn [u8])>> {
        end_of(self.src, self.tree, false)
    }
}
