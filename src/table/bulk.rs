//! Bulk operations on a [`TableMut`]: `retain`, `retain_in`, `extract_if`, `remove_range`,
//! `pop_first`, `pop_last` and `clear`.
//!
//! `retain`, `retain_in` and `extract_if` sweep the range a bottom branch at a time: each run of
//! leaves that lose entries is rewritten once, packed into fresh pages (`crate::btree::sweep`);
//! leaves that lose nothing are not copied. `remove_range` cuts
//! whole subtrees inside the range off their branches and frees them without reading their
//! entries; `clear` frees the whole tree.

use super::keys::KeyRange;
use super::TableMut;
use crate::btree::key::SmallKey;
use crate::btree::sweep::Budget;
use crate::error::Result;
use std::ops::Bound;

/// An owned copy of a lower bound.
fn own(b: Bound<&[u8]>) -> Bound<SmallKey> {
    b.map(SmallKey::from_slice)
}

/// A copied-out entry: key and value.
type Owned = (Vec<u8>, Vec<u8>);

impl<'txn> TableMut<'txn> {
    /// Removes the entries from `*lower` up to `upper` that `pick` selects, until `budget` is
    /// spent; returns how many and whether the range is done.
    fn sweep(
        &mut self,
        lower: &mut Bound<SmallKey>,
        upper: Bound<&[u8]>,
        budget: Budget,
        pick: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(u64, bool)> {
        let name = self.undo_name()?;
        let undo = &self.txn.undo;
        let mut core = self.txn.core_mut()?;
        match name {
            Some(name) => {
                let mut noted = |k: &[u8], v: &[u8]| {
                    let yes = pick(k, v);
                    if yes {
                        undo.kv(&name, k, Some(v));
                    }
                    yes
                };
                core.sweep(self.idx, lower, upper, budget, &mut noted)
            }
            None => core.sweep(self.idx, lower, upper, budget, pick),
        }
    }

    /// Removes every entry in `range` for which `pick` holds; returns how many.
    fn sweep_all(
        &mut self,
        range: &impl KeyRange,
        pick: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<u64> {
        let mut lower = own(range.lower());
        let (n, _) = self.sweep(&mut lower, range.upper(), Budget::UNLIMITED, pick)?;
        Ok(n)
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

    /// Removes every entry with a key in `range`; returns how many. Subtrees wholly inside the
    /// range are unlinked and freed without visiting their entries (a commit that did so is a
    /// checkpoint rather than a commit log record). Over the whole table it is
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
        let (lower, upper) = (range.lower(), range.upper());
        if self.txn.undo.active() {
            // Every entry removed must be recorded for a rollback: visit them.
            return self.sweep_all(&range, &mut |_, _| true);
        }
        if lower == Bound::Unbounded && upper == Bound::Unbounded {
            let n = self.len()?;
            self.clear()?;
            return Ok(n);
        }
        self.txn.core_mut()?.remove_range(self.idx, lower, upper)
    }

    /// Removes every entry, freeing the table's pages without visiting its entries one by one.
    pub fn clear(&mut self) -> Result<()> {
        if self.txn.undo.active() {
            return self.sweep_all(&.., &mut |_, _| true).map(|_| ());
        }
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

    /// Removes the first (or last) entry and returns a copy of it (one descent from the root).
    fn pop(&mut self, front: bool) -> Result<Option<Owned>> {
        let (name, undo) = (self.undo_name()?, &self.txn.undo);
        let mut found = None;
        let mut copy = |k: &[u8], v: &[u8]| {
            if let Some(name) = &name {
                undo.kv(name, k, Some(v));
            }
            found = Some((k.to_vec(), v.to_vec()))
        };
        self.txn.core_mut()?.pop(self.idx, front, &mut copy)?;
        Ok(found)
    }

    /// An iterator that removes the entries in `range` for which `pick(key, value)` is true and
    /// yields them (copied), in key order. Entries it has not yielded when dropped stay (it
    /// removes them a batch at a time, and puts back what it took but did not yield; should a
    /// [`crate::BytesRef`] of the transaction be alive at that moment, they cannot be put back
    /// and the transaction can only be aborted: its commit fails with
    /// [`crate::Error::TxnBorrowed`]).
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
            lower: own(range.lower()),
            upper: range.upper().map(<[u8]>::to_vec),
            table: self,
            pick,
            ready: Batch::default(),
            done: false,
        }
    }
}

/// Iterator returned by [`TableMut::extract_if`]: removes and yields matching entries.
pub struct ExtractIf<'a, 'txn, F> {
    table: &'a mut TableMut<'txn>,
    /// What is left of the range: from `lower` (which moves on with each sweep) to `upper`.
    lower: Bound<SmallKey>,
    upper: Bound<Vec<u8>>,
    pick: F,
    /// Entries removed by the last sweep, not yet yielded.
    ready: Batch,
    done: bool,
}

/// The entries a sweep of an [`ExtractIf`] removed: the bytes of small ones in one buffer
/// (reused from batch to batch), each copied out when yielded; large ones copied once, whole.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    entries: Vec<Slot>,
    /// The next entry to yield.
    next: usize,
}

/// Where an entry of a [`Batch`] is.
enum Slot {
    /// In the buffer: where its key starts, its key and value lengths.
    Buffer(usize, usize, usize),
    /// Copied on its own (a value of [`OWN_COPY`] bytes or more); None once yielded.
    Own(Option<Owned>),
}

/// Values at least this long are copied once into their own buffer rather than twice.
const OWN_COPY: usize = 16 << 10;

impl Batch {
    fn is_empty(&self) -> bool {
        self.next == self.entries.len()
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
        self.next = 0;
    }

    fn push(&mut self, k: &[u8], v: &[u8]) {
        if v.len() >= OWN_COPY {
            self.entries.push(Slot::Own(Some((k.to_vec(), v.to_vec()))));
            return;
        }
        self.entries
            .push(Slot::Buffer(self.bytes.len(), k.len(), v.len()));
        self.bytes.extend_from_slice(k);
        self.bytes.extend_from_slice(v);
    }

    /// The entries not yet yielded.
    fn rest(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries[self.next..].iter().map(|e| match e {
            Slot::Buffer(at, kl, vl) => (
                &self.bytes[*at..at + kl],
                &self.bytes[at + kl..at + kl + vl],
            ),
            Slot::Own(Some((k, v))) => (&k[..], &v[..]),
            Slot::Own(None) => (&[][..], &[][..]), // yielded: before `next`, never here
        })
    }

    /// Yields the next entry.
    fn pop(&mut self) -> Option<Owned> {
        let e = match self.entries.get_mut(self.next)? {
            Slot::Own(own) => own.take()?,
            Slot::Buffer(at, kl, vl) => {
                let (at, kl, vl) = (*at, *kl, *vl);
                (
                    self.bytes[at..at + kl].to_vec(),
                    self.bytes[at + kl..at + kl + vl].to_vec(),
                )
            }
        };
        self.next += 1;
        Some(e)
    }
}

impl<F> Drop for ExtractIf<'_, '_, F> {
    /// Puts back the entries the last sweep removed but the iterator did not yield, so that
    /// entries it did not reach stay, as with `BTreeMap::extract_if`.
    fn drop(&mut self) {
        if self.ready.is_empty() {
            return;
        }
        let restored = self.table.txn.core_mut().and_then(|mut core| {
            self.ready
                .rest()
                .try_for_each(|(k, v)| core.insert(self.table.idx, k, v).map(|_| ()))
        });
        if restored.is_err() {
            self.table.txn.spoil();
        }
    }
}

/// What an [`ExtractIf`] removes per sweep (at least a leaf's worth; the sweep stops after the
/// leaf that reaches either bound): entries, and bytes of keys and values.
const EXTRACT_BATCH: Budget = Budget {
    entries: 4096,
    bytes: 1 << 20,
};

impl<F: FnMut(&[u8], &[u8]) -> bool> Iterator for ExtractIf<'_, '_, F> {
    type Item = Result<Owned>;
    fn next(&mut self) -> Option<Self::Item> {
        while self.ready.is_empty() && !self.done {
            self.ready.clear();
            let (ready, pick) = (&mut self.ready, &mut self.pick);
            let mut take = |k: &[u8], v: &[u8]| {
                let yes = pick(k, v);
                if yes {
                    ready.push(k, v);
                }
                yes
            };
            let upper = self.upper.as_ref().map(Vec::as_slice);
            match self
                .table
                .sweep(&mut self.lower, upper, EXTRACT_BATCH, &mut take)
            {
                Ok((_, done)) => self.done = done,
                Err(e) => {
                    self.done = true;
                    self.ready.clear();
                    return Some(Err(e));
                }
            }
        }
        self.ready.pop().map(Ok)
    }
}
