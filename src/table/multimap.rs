//! Multimap tables: each key has a sorted set of values (redb's `MultimapTable`, LMDB's
//! `DUP_SORT`), for secondary indexes.
//!
//! A multimap is a table of bytes whose stored keys are `escape(key) ++ value`: the key with
//! each 0x00 written as 0x00 0xFF, then the terminator 0x00 0x00 (the encoding of a byte string
//! inside a typed tuple key), then the value; the stored
//! value is empty. The escaping keeps byte order (keys in order, each key's values in order after
//! it), so a key's values are one range of the table. A pair must fit in one key:
//! `escaped key + 2 + value <= Database::max_key_len()`, else `KeyTooLarge`.

use super::keys::OwnedRange;
use super::{BytesRef, ReadableTable, Table, TableMut, WriteTxn};
use crate::error::{corrupted, Result};
use crate::txn::read::ReadTxn;
use std::cell::Ref;
use std::ops::Bound;

/// `key` escaped and terminated, followed by `value`.
fn pair(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2 + value.len());
    super::codec::escape_into(key, &mut out);
    out.extend_from_slice(value);
    out
}

/// The range of every stored pair of `key`.
fn pairs_of(key: &[u8]) -> OwnedRange {
    let lo = pair(key, &[]);
    let mut hi = lo.clone();
    *hi.last_mut().unwrap_or(&mut 0) = 1; // past the terminator 0x00 0x00
    OwnedRange::of(&(Bound::Included(lo), Bound::Excluded(hi)))
}

/// Splits a stored pair into its key (unescaped) and the offset of its value.
fn split(stored: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut key = Vec::new();
    let mut i = 0;
    while let Some(&b) = stored.get(i) {
        match (b, stored.get(i + 1)) {
            (0, Some(0)) => return Ok((key, i + 2)),
            (0, Some(0xFF)) => i += 2,
            (0, _) => break,
            _ => i += 1,
        }
        key.push(b);
    }
    Err(corrupted(0, "multimap entry without a key terminator"))
}

/// The offset of the value in a stored pair of a key of `key_len` escaped bytes.
fn value_at(stored: &[u8], escaped: usize) -> &[u8] {
    stored.get(escaped..).unwrap_or_default()
}

/// A multimap over a table of bytes `T`: [`Multimap`] or [`MultimapMut`].
pub struct MultimapOf<T> {
    raw: T,
}

/// A multimap table in a read transaction.
pub type Multimap<'txn> = MultimapOf<Table<'txn>>;

/// A multimap table in a write transaction.
pub type MultimapMut<'txn> = MultimapOf<TableMut<'txn>>;

impl ReadTxn {
    /// Opens the multimap table `name`; [`crate::Error::TableNotFound`] if it does not exist.
    pub fn open_multimap(&self, name: &str) -> Result<Multimap<'_>> {
        self.open_table(name).map(|raw| Multimap { raw })
    }
}

impl WriteTxn {
    /// Opens the multimap table `name`, creating it if it does not exist.
    ///
    /// ```
    /// # fn main() -> larchdb::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = larchdb::Database::open(dir.path().join("m.larch"))?;
    /// let wtx = db.begin_write()?;
    /// let mut tags = wtx.open_multimap("tags")?;
    /// tags.insert(b"rust", b"post-2")?;
    /// tags.insert(b"rust", b"post-1")?;
    /// tags.insert(b"db", b"post-2")?;
    /// let posts: Vec<Vec<u8>> = tags.get(b"rust")?.map(|v| v.map(|v| v.to_vec())).collect::<larchdb::Result<_>>()?;
    /// assert_eq!(posts, [b"post-1".to_vec(), b"post-2".to_vec()]); // sorted
    /// assert!(tags.remove(b"rust", b"post-2")?);
    /// assert_eq!(tags.remove_all(b"rust")?, 1);
    /// # Ok(()) }
    /// ```
    pub fn open_multimap(&self, name: &str) -> Result<MultimapMut<'_>> {
        self.open_table(name).map(|raw| MultimapMut { raw })
    }
}

impl<T: ReadableTable> MultimapOf<T> {
    /// The values of `key`, in order.
    pub fn get(&self, key: &[u8]) -> Result<Values<T::Iter<'_>>> {
        self.get_raw(key)
    }

    /// [`Self::get`], under a name a typed multimap (which derefs to this) does not shadow.
    pub(super) fn get_raw(&self, key: &[u8]) -> Result<Values<T::Iter<'_>>> {
        Ok(Values {
            raw: self.raw.range(pairs_of(key))?,
            escaped: pair(key, &[]).len(),
        })
    }

    /// True if `key` has `value`.
    pub fn contains(&self, key: &[u8], value: &[u8]) -> Result<bool> {
        Ok(self.raw.get(&pair(key, value))?.is_some())
    }

    /// Number of (key, value) pairs (O(1)).
    pub fn len(&self) -> Result<u64> {
        self.raw.len()
    }

    /// True if there are no pairs.
    pub fn is_empty(&self) -> Result<bool> {
        self.raw.is_empty()
    }
}

impl<'txn> MultimapOf<Table<'txn>> {
    /// Every (key, value) pair in order; keys are unescaped copies.
    pub fn iter(&self) -> Result<impl DoubleEndedIterator<Item = Result<(Vec<u8>, &'txn [u8])>>> {
        Ok(self.raw.iter()?.map(|e| {
            let (stored, _) = e?;
            let (key, at) = split(stored)?;
            Ok((key, value_at(stored, at)))
        }))
    }
}

impl MultimapOf<TableMut<'_>> {
    /// Adds `value` to the set of `key`; false if it was there already.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        let p = pair(key, value);
        let new = self.raw.get(&p)?.is_none();
        if new {
            self.raw.insert(&p, &[])?;
        }
        Ok(new)
    }

    /// Removes `value` from the set of `key`; false if it was not there.
    pub fn remove(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        self.raw.remove(&pair(key, value))
    }

    /// Removes every value of `key`; returns how many.
    pub fn remove_all(&mut self, key: &[u8]) -> Result<u64> {
        self.raw.remove_range(pairs_of(key))
    }
}

/// The values of one key of a multimap, in order (and reversible).
pub struct Values<I> {
    raw: I,
    /// Length of the escaped, terminated key before each value.
    escaped: usize,
}

/// The value part of a stored pair, for each kind of range item.
pub trait ValueOf: Sized {
    /// The value's bytes.
    type Value;
    /// Cuts the value out of the stored pair.
    fn value(self, escaped: usize) -> Self::Value;
}

impl<'a> ValueOf for (&'a [u8], &'a [u8]) {
    type Value = &'a [u8];
    fn value(self, escaped: usize) -> &'a [u8] {
        value_at(self.0, escaped)
    }
}

impl<'a> ValueOf for (BytesRef<'a>, BytesRef<'a>) {
    type Value = BytesRef<'a>;
    fn value(self, escaped: usize) -> BytesRef<'a> {
        BytesRef(Ref::map(self.0 .0, |k| value_at(k, escaped)))
    }
}

impl<I: Iterator<Item = Result<E>>, E: ValueOf> Iterator for Values<I> {
    type Item = Result<E::Value>;
    fn next(&mut self) -> Option<Self::Item> {
        let escaped = self.escaped;
        self.raw.next().map(|e| Ok(e?.value(escaped)))
    }
}

impl<I: DoubleEndedIterator<Item = Result<E>>, E: ValueOf> DoubleEndedIterator for Values<I> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let escaped = self.escaped;
        self.raw.next_back().map(|e| Ok(e?.value(escaped)))
    }
}
