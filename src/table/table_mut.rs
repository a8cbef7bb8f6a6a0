//! [`TableMut`], a table in a write transaction, and [`RangeMut`], its iterator.
//!
//! Reads return [`BytesRef`]s: slices of the transaction's pages that keep them borrowed (see
//! [`crate::Error::TxnBorrowed`]). Writes borrow the pages mutably for one call.

use super::keys::{self, KeyBytes, KeyRange, OwnedRange};
use super::{BytesRef, WriteTxn};
use crate::btree::cursor::{finish_step, Cursor};
use crate::btree::{self, PageSource, TreeRoot};
use crate::error::Result;
use std::cell::Ref;

/// A key and its value, borrowed from a write transaction.
pub(crate) type EntryRef<'a> = (BytesRef<'a>, BytesRef<'a>);

/// A table in a write transaction: reads see the transaction's own writes. Several tables of one
/// transaction may be open at once (see [`WriteTxn::open_table`]); handles on the same table
/// share it.
pub struct TableMut<'txn> {
    pub(super) txn: &'txn WriteTxn,
    pub(super) idx: usize,
}

/// Runs `find` over the transaction's pages and the table's tree, and returns the entry it
/// finds as borrowed bytes.
pub(crate) fn entry_with<'a>(
    txn: &'a WriteTxn,
    idx: usize,
    find: impl for<'s> FnOnce(&'s dyn PageSource, TreeRoot) -> Result<Option<(&'s [u8], &'s [u8])>>,
) -> Result<Option<EntryRef<'a>>> {
    let core = txn.core()?;
    let tree = core.table_root(idx);
    let mut found: Result<bool> = Ok(false);
    let (k, v) = Ref::map_split(core, |c| match find(c.pages(), tree) {
        Ok(Some(kv)) => {
            found = Ok(true);
            kv
        }
        Ok(None) => (&[][..], &[][..]),
        Err(e) => {
            found = Err(e);
            (&[][..], &[][..])
        }
    });
    Ok(found?.then(|| (BytesRef(k), BytesRef(v))))
}

/// The first entry of `tree` in `range` (the last if `!front`).
pub(crate) fn end_in<'s>(
    src: &'s dyn PageSource,
    tree: TreeRoot,
    range: &(impl KeyRange + ?Sized),
    front: bool,
) -> Result<Option<(&'s [u8], &'s [u8])>> {
    if tree.root.is_null() {
        return Ok(None);
    }
    let (root, count) = (tree.root, Some(tree.count));
    let c = match front {
        true => Cursor::seek_lower(src, root, count, range.lower())?,
        false => Cursor::seek_upper(src, root, count, range.upper())?,
    };
    match c.current()? {
        Some((k, v)) if keys::contains(range, k) => Ok(Some((k, btree::value(src, v)?))),
        _ => Ok(None),
    }
}

impl<'txn> TableMut<'txn> {
    pub(crate) fn new(txn: &'txn WriteTxn, idx: usize) -> TableMut<'txn> {
        TableMut { txn, idx }
    }

    /// While a savepoint is alive: records the current value of `key`, to undo a change of it.
    pub(super) fn note_undo(&self, key: &[u8]) -> Result<()> {
        if self.txn.undo.active() {
            let core = self.txn.core()?;
            let old = btree::get_in(core.pages(), core.table_root(self.idx), key)?;
            self.txn.undo.kv(core.table_name(self.idx), key, old);
        }
        Ok(())
    }

    /// While a savepoint is alive: the table's name, to record the entries a change removes.
    pub(super) fn undo_name(&self) -> Result<Option<String>> {
        if !self.txn.undo.active() {
            return Ok(None);
        }
        Ok(Some(self.txn.core()?.table_name(self.idx).to_string()))
    }

    /// The table's root and entry count as this transaction sees them.
    fn tree(&self) -> Result<TreeRoot> {
        Ok(self.txn.core()?.table_root(self.idx))
    }

    /// Inserts `key` with `value`, overwriting any previous value (which is not copied; see
    /// [`TableMut::replace`]). Fails with `EmptyKey`, `KeyTooLarge` or `ValueTooLarge`
    /// (nothing changed, the transaction still usable) past the limits.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.note_undo(key)?;
        self.txn
            .core_mut()?
            .insert(self.idx, key, value)
            .map(|_| ())
    }

    /// Inserts `key` with `value` and returns a copy of the value it replaced, if any.
    ///
    /// ```
    /// # fn main() -> larchdb::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = larchdb::Database::open(dir.path().join("r.larch"))?;
    /// let wtx = db.begin_write()?;
    /// let mut t = wtx.open_table("t")?;
    /// assert_eq!(t.replace(b"k", b"1")?, None);
    /// assert_eq!(t.replace(b"k", b"2")?, Some(b"1".to_vec()));
    /// assert_eq!(t.take(b"k")?, Some(b"2".to_vec()));
    /// # Ok(()) }
    /// ```
    pub fn replace(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        self.note_undo(key)?;
        let mut core = self.txn.core_mut()?;
        let old = btree::get_in(core.pages(), core.table_root(self.idx), key)?.map(<[u8]>::to_vec);
        core.insert(self.idx, key, value)?;
        Ok(old)
    }

    /// Removes `key`; returns true if it was there (the value is not copied; see
    /// [`TableMut::take`]).
    pub fn remove(&mut self, key: &[u8]) -> Result<bool> {
        self.note_undo(key)?;
        self.txn.core_mut()?.remove(self.idx, key)
    }

    /// Removes `key` and returns a copy of its value, if it was there.
    pub fn take(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.note_undo(key)?;
        let mut core = self.txn.core_mut()?;
        let old = btree::get_in(core.pages(), core.table_root(self.idx), key)?.map(<[u8]>::to_vec);
        if old.is_some() {
            core.remove(self.idx, key)?;
        }
        Ok(old)
    }

    /// Updates `key` from its current value: `f` gets the value (None if absent) and returns
    /// the new one, or None to remove the key. Returns true if the key existed.
    ///
    /// ```
    /// # fn main() -> larchdb::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = larchdb::Database::open(dir.path().join("r.larch"))?;
    /// let wtx = db.begin_write()?;
    /// let mut counters = wtx.open_table("counters")?;
    /// for _ in 0..3 {
    ///     counters.update(b"hits", |old| {
    ///         let n = old.map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()));
    ///         Some((n + 1).to_be_bytes())
    ///     })?;
    /// }
    /// assert_eq!(counters.get(b"hits")?.unwrap(), 3u64.to_be_bytes());
    /// # Ok(()) }
    /// ```
    pub fn update<V: AsRef<[u8]>>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Option<V>,
    ) -> Result<bool> {
        self.note_undo(key)?;
        let mut core = self.txn.core_mut()?;
        let (existed, new) = {
            let old = btree::get_in(core.pages(), core.table_root(self.idx), key)?;
            (old.is_some(), f(old))
        };
        match new {
            Some(v) => core.insert(self.idx, key, v.as_ref())?,
            None if existed => core.remove(self.idx, key)?,
            None => false,
        };
        Ok(existed)
    }

    /// The value of `key` as this transaction sees it, borrowed from its pages.
    pub fn get(&self, key: &[u8]) -> Result<Option<BytesRef<'_>>> {
        let core = self.txn.core()?;
        let tree = core.table_root(self.idx);
        let mut err = None;
        let found = Ref::filter_map(core, |c| match btree::get_in(c.pages(), tree, key) {
            Ok(v) => v,
            Err(e) => {
                err = Some(e);
                None
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(found.ok().map(BytesRef)),
        }
    }

    /// Entries with keys in `range` (any [`KeyRange`]), as this transaction sees them.
    pub fn range<R: KeyRange>(&self, range: R) -> Result<RangeMut<'_>> {
        Ok(RangeMut {
            txn: self.txn,
            idx: self.idx,
            range: OwnedRange::of(&range),
            done: false,
        })
    }

    /// Entries whose keys start with `prefix`, in key order.
    pub fn prefix<K: KeyBytes + ?Sized>(&self, prefix: &K) -> Result<RangeMut<'_>> {
        self.range(keys::prefix(prefix.key_bytes()))
    }

    /// All entries in key order.
    pub fn iter(&self) -> Result<RangeMut<'_>> {
        self.range(..)
    }

    /// Number of entries (O(1)).
    pub fn len(&self) -> Result<u64> {
        Ok(self.tree()?.count)
    }

    /// True if the table has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.tree()?.count == 0)
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<EntryRef<'_>>> {
        entry_with(self.txn, self.idx, |src, tree| end_in(src, tree, &.., true))
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<EntryRef<'_>>> {
        entry_with(self.txn, self.idx, |src, tree| {
            end_in(src, tree, &.., false)
        })
    }
}

/// Iterator over a range of a [`TableMut`], from either end; items borrow the transaction's
/// pages. Each step seeks from the root (O(log n)): the pages may change between steps, through
/// other tables of the transaction.
pub struct RangeMut<'a> {
    txn: &'a WriteTxn,
    idx: usize,
    /// What is left of the range: its ends move past each entry yielded.
    range: OwnedRange,
    done: bool,
}

impl<'a> RangeMut<'a> {
    /// The next entry from the front or the back.
    fn step(&mut self, front: bool) -> Option<Result<EntryRef<'a>>> {
        if self.done {
            return None;
        }
        let range = &self.range;
        let r = entry_with(self.txn, self.idx, |src, tree| {
            end_in(src, tree, range, front)
        });
        if let Ok(Some((k, _))) = &r {
            match front {
                true => self.range.past(k),
                false => self.range.before(k),
            }
        }
        finish_step(&mut self.done, r)
    }
}

impl<'a> Iterator for RangeMut<'a> {
    type Item = Result<EntryRef<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.step(true)
    }
}

impl DoubleEndedIterator for RangeMut<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(false)
    }
}
