//! Bulk operations on a [`TableMut`]: `retain`, `retain_in`, `extract_if`, `remove_range`,
//! `pop_first`, `pop_last` and `clear`.
//!
//! A sweep scans the range with one cursor, collects the keys to remove in a batch (one buffer,
//! reused), and removes them before scanning on past the last one: no key is copied twice and
//! removing while scanning needs no user-side `Vec`. `clear` (and `remove_range` over the whole
//! table) frees the tree page by page without visiting its entries one by one.

use super::keys::{self, KeyRange, OwnedRange};
use super::table_mut::end_in;
use super::TableMut;
use crate::btree::cursor::Cursor;
use crate::btree::{self, PageSource};
use crate::error::Result;
use std::collections::VecDeque;

/// Keys removed per scan of a sweep.
const BATCH: usize = 1024;

/// A copied-out entry: key and value.
type Owned = (Vec<u8>, Vec<u8>);

impl<'txn> TableMut<'txn> {
    /// Scans what is left of `range` from its lower end and removes the entries `pick` selects,
    /// at most `max` per scan, until the range is done or `max` were removed. Returns the number
    /// removed and whether the range is done.
    fn sweep(
        &mut self,
        range: &mut OwnedRange,
        max: usize,
        pick: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(u64, bool)> {
        let mut core = self.txn.core_mut()?;
        let (mut keys, mut ends) = (Vec::new(), Vec::new());
        let mut more = false;
        {
            let src: &dyn PageSource = core.pages();
            let tree = core.table_root(self.idx);
            if tree.root.is_null() {
                return Ok((0, true));
            }
            let mut c = Cursor::seek_lower(src, tree.root, Some(tree.count), range.lower())?;
            let mut cur = c.current()?;
            while let Some((k, raw)) = cur {
                if !keys::below_upper(k, range.upper()) {
                    break;
                }
                if pick(k, btree::value(src, raw)?) {
                    keys.extend_from_slice(k);
                    ends.push(keys.len());
                    if ends.len() == max {
                        range.past(k);
                        more = true;
                        break;
                    }
                }
                cur = c.next()?;
            }
        }
        let mut start = 0;
        for &end in &ends {
            core.remove(self.idx, &keys[start..end])?;
            start = end;
        }
        Ok((ends.len() as u64, !more))
    }

    /// Removes every entry in `range` for which `pick` holds; returns how many.
    fn sweep_all(
        &mut self,
        range: &impl KeyRange,
        pick: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<u64> {
        let mut range = OwnedRange::of(range);
        let mut removed = 0;
        loop {
            let (n, done) = self.sweep(&mut range, BATCH, pick)?;
            removed += n;
            if done {
                return Ok(removed);
            }
        }
    }

    /// Keeps only the entries for which `keep(key, value)` is true; returns how many it removed.
    ///
    /// ```
    /// # fn main() -> larchdb::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = larchdb::Database::open(dir.path().join("r.larch"))?;
    /// let wtx = db.begin_write()?;
    /// let mut t = wtx.open_table("t")?;
    /// for i in 0u8..10 {
    ///     t.insert(&[i], &[i % 2])?;
    /// }
    /// assert_eq!(t.retain(|_k, v| v == [0])?, 5);
    /// assert_eq!(t.retain_in(&[5u8][..].., |k, _v| k[0] < 8)?, 1); // removes 8
    /// assert_eq!(t.len()?, 4);
    /// # Ok(()) }
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], &[u8]) -> bool) -> Result<u64> {
        self.sweep_all(&.., &mut |k, v| !keep(k, v))
    }

    /// [`TableMut::retain`] over the entries in `range` only; the others stay.
    pub fn retain_in<R: KeyRange>(
        &mut self,
        range: R,
        mut keep: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<u64> {
        self.sweep_all(&range, &mut |k, v| !keep(k, v))
    }

    /// Removes every entry with a key in `range`; returns how many. Over the whole table it is
    /// [`TableMut::clear`].
    ///
    /// ```
    /// # fn main() -> larchdb::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = larchdb::Database::open(dir.path().join("r.larch"))?;
    /// let wtx = db.begin_write()?;
    /// let mut t = wtx.open_table("t")?;
    /// for k in ["a", "b", "c", "d"] {
    ///     t.insert(k.as_bytes(), b"")?;
    /// }
    /// assert_eq!(t.remove_range("b"..="c")?, 2);
    /// assert_eq!(t.remove_range(..)?, 2);
    /// assert!(t.is_empty()?);
    /// # Ok(()) }
    /// ```
    pub fn remove_range<R: KeyRange>(&mut self, range: R) -> Result<u64> {
        if range.lower() == std::ops::Bound::Unbounded
            && range.upper() == std::ops::Bound::Unbounded
        {
            let n = self.len()?;
            self.clear()?;
            return Ok(n);
        }
        self.sweep_all(&range, &mut |_, _| true)
    }

    /// Removes every entry, freeing the table's pages without visiting its entries one by one.
    pub fn clear(&mut self) -> Result<()> {
        self.txn.core_mut()?.clear(self.idx)
    }

    /// Removes and returns (copied) the entry with the smallest key.
    pub fn pop_first(&mut self) -> Result<Option<Owned>> {
        self.pop(true)
    }

    /// Removes and returns (copied) the entry with the largest key.
    ///
    /// ```
    /// # fn main() -> larchdb::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = larchdb::Database::open(dir.path().join("r.larch"))?;
    /// let wtx = db.begin_write()?;
    /// let mut queue = wtx.open_table("queue")?;
    /// queue.insert(b"1", b"first")?;
    /// queue.insert(b"2", b"second")?;
    /// assert_eq!(queue.pop_last()?, Some((b"2".to_vec(), b"second".to_vec())));
    /// assert_eq!(queue.pop_first()?, Some((b"1".to_vec(), b"first".to_vec())));
    /// assert_eq!(queue.pop_first()?, None);
    /// # Ok(()) }
    /// ```
    pub fn pop_last(&mut self) -> Result<Option<Owned>> {
        self.pop(false)
    }

    /// Removes the first (or last) entry and returns a copy of it.
    fn pop(&mut self, front: bool) -> Result<Option<Owned>> {
        let mut core = self.txn.core_mut()?;
        let tree = core.table_root(self.idx);
        let found = end_in(core.pages(), tree, &.., front)?.map(|(k, v)| (k.to_vec(), v.to_vec()));
        if let Some((k, _)) = &found {
            core.remove(self.idx, k)?;
        }
        Ok(found)
    }

    /// An iterator that removes the entries in `range` for which `pick(key, value)` is true and
    /// yields them (copied), in key order. Entries it has not reached when dropped stay.
    ///
    /// ```
    /// # fn main() -> larchdb::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = larchdb::Database::open(dir.path().join("r.larch"))?;
    /// let wtx = db.begin_write()?;
    /// let mut jobs = wtx.open_table("jobs")?;
    /// jobs.insert(b"j1", b"done")?;
    /// jobs.insert(b"j2", b"queued")?;
    /// jobs.insert(b"j3", b"done")?;
    /// let done: Vec<_> = jobs.extract_if(.., |_k, v| v == b"done").collect::<larchdb::Result<_>>()?;
    /// assert_eq!(done.len(), 2);
    /// assert_eq!(jobs.len()?, 1);
    /// # Ok(()) }
    /// ```
    pub fn extract_if<R: KeyRange, F: FnMut(&[u8], &[u8]) -> bool>(
        &mut self,
        range: R,
        pick: F,
    ) -> ExtractIf<'_, 'txn, F> {
        ExtractIf {
            range: OwnedRange::of(&range),
            table: self,
            pick,
            ready: VecDeque::new(),
            done: false,
        }
    }
}

/// Iterator returned by [`TableMut::extract_if`]: removes and yields matching entries.
pub struct ExtractIf<'a, 'txn, F> {
    table: &'a mut TableMut<'txn>,
    range: OwnedRange,
    pick: F,
    /// Entries removed by the last sweep, not yet yielded.
    ready: VecDeque<Owned>,
    done: bool,
}

/// Entries an [`ExtractIf`] removes per sweep.
const EXTRACT_BATCH: usize = 64;

impl<F: FnMut(&[u8], &[u8]) -> bool> Iterator for ExtractIf<'_, '_, F> {
    type Item = Result<Owned>;
    fn next(&mut self) -> Option<Self::Item> {
        while self.ready.is_empty() && !self.done {
            let (ready, pick) = (&mut self.ready, &mut self.pick);
            let mut take = |k: &[u8], v: &[u8]| {
                let yes = pick(k, v);
                if yes {
                    ready.push_back((k.to_vec(), v.to_vec()));
                }
                yes
            };
            match self.table.sweep(&mut self.range, EXTRACT_BATCH, &mut take) {
                Ok((_, done)) => self.done = done,
                Err(e) => {
                    self.done = true;
                    self.ready.clear();
                    return Some(Err(e));
                }
            }
        }
        self.ready.pop_front().map(Ok)
    }
}
