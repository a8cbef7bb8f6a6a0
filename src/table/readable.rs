//! [`ReadableTable`]: the read operations [`Table`] and [`TableMut`] share, so that a helper can
//! take either.

use super::keys::{KeyBytes, KeyRange};
use super::{BytesRef, Range, RangeMut, Table, TableMut};
use crate::error::Result;
use std::ops::Deref;

/// The read side of a table, implemented by [`Table`] (a snapshot) and [`TableMut`] (a write
/// transaction's view, with its own writes).
///
/// ```
/// use larchdb::{ReadableTable, Result};
///
/// /// Sums the big-endian u64 values of any table.
/// fn total(t: &impl ReadableTable) -> Result<u64> {
///     let mut sum = 0;
///     for e in t.iter()? {
///         let (_k, v) = e?;
///         sum += u64::from_be_bytes((*v).try_into().unwrap());
///     }
///     Ok(sum)
/// }
/// # fn main() -> Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = larchdb::Database::open(dir.path().join("r.larch"))?;
/// let wtx = db.begin_write()?;
/// {
///     let mut t = wtx.open_table("amounts")?;
///     t.insert(b"a", &5u64.to_be_bytes())?;
///     t.insert(b"b", &7u64.to_be_bytes())?;
///     assert_eq!(total(&t)?, 12);
/// }
/// wtx.commit()?;
/// let rtx = db.begin_read()?;
/// assert_eq!(total(&rtx.open_table("amounts")?)?, 12);
/// # Ok(()) }
/// ```
pub trait ReadableTable {
    /// A key or value as this table returns it.
    type Bytes<'a>: Deref<Target = [u8]>
    where
        Self: 'a;
    /// The iterator `range` returns.
    type Iter<'a>: DoubleEndedIterator<Item = Result<(Self::Bytes<'a>, Self::Bytes<'a>)>>
    where
        Self: 'a;

    /// The value of `key`, or None.
    fn get(&self, key: &[u8]) -> Result<Option<Self::Bytes<'_>>>;
    /// Entries with keys in `range`, in key order (and reversible).
    fn range<R: KeyRange>(&self, range: R) -> Result<Self::Iter<'_>>;
    /// Number of entries (O(1)).
    fn len(&self) -> Result<u64>;
    /// The entry with the smallest key.
    #[allow(clippy::type_complexity)]
    fn first(&self) -> Result<Option<(Self::Bytes<'_>, Self::Bytes<'_>)>>;
    /// The entry with the largest key.
    #[allow(clippy::type_complexity)]
    fn last(&self) -> Result<Option<(Self::Bytes<'_>, Self::Bytes<'_>)>>;

    /// All entries in key order.
    fn iter(&self) -> Result<Self::Iter<'_>> {
        self.range(..)
    }
    /// Entries whose keys start with `prefix`.
    fn prefix<K: KeyBytes + ?Sized>(&self, prefix: &K) -> Result<Self::Iter<'_>> {
        self.range(super::keys::prefix(prefix.key_bytes()))
    }
    /// True if the table has no entries.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}

impl ReadableTable for Table<'_> {
    type Bytes<'a>
        = &'a [u8]
    where
        Self: 'a;
    type Iter<'a>
        = Range<'a>
    where
        Self: 'a;

    fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        Table::get(self, key)
    }
    fn range<R: KeyRange>(&self, range: R) -> Result<Range<'_>> {
        Table::range(self, range)
    }
    fn len(&self) -> Result<u64> {
        Table::len(self)
    }
    fn first(&self) -> Result<Option<(&[u8], &[u8])>> {
        Table::first(self)
    }
    fn last(&self) -> Result<Option<(&[u8], &[u8])>> {
        Table::last(self)
    }
}

impl ReadableTable for TableMut<'_> {
    type Bytes<'a>
        = BytesRef<'a>
    where
        Self: 'a;
    type Iter<'a>
        = RangeMut<'a>
    where
        Self: 'a;

    fn get(&self, key: &[u8]) -> Result<Option<BytesRef<'_>>> {
        TableMut::get(self, key)
    }
    fn range<R: KeyRange>(&self, range: R) -> Result<RangeMut<'_>> {
        TableMut::range(self, range)
    }
    fn len(&self) -> Result<u64> {
        TableMut::len(self)
    }
    fn first(&self) -> Result<Option<(BytesRef<'_>, BytesRef<'_>)>> {
        TableMut::first(self)
    }
    fn last(&self) -> Result<Option<(BytesRef<'_>, BytesRef<'_>)>> {
        TableMut::last(self)
    }
}
