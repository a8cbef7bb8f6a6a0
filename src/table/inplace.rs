//! [`ValueMut`]: a value written in place in its page (`TableMut::get_mut`,
//! `TableMut::insert_reserve`).

use super::TableMut;
use crate::btree::inplace::Spot;
use crate::error::Result;
use crate::txn::write::WriteTxn as TxnCore;
use std::cell::RefMut;
use std::ops::{Deref, DerefMut};

/// A value of a [`TableMut`] open for writing in place: it derefs (mutably) to the value's bytes
/// in the transaction's page (or overflow run), so nothing is copied. Its length is fixed. When
/// it is dropped, the commit log records the final value.
///
/// While it lives, the transaction's pages are borrowed: reads and writes through the other
/// tables of the transaction fail with [`crate::Error::TxnBorrowed`].
///
/// ```
/// # fn main() -> larchdb::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = larchdb::Database::open(dir.path().join("r.larch"))?;
/// let wtx = db.begin_write()?;
/// let mut t = wtx.open_table("t")?;
/// t.insert(b"counter", &0u64.to_be_bytes())?;
/// if let Some(mut v) = t.get_mut(b"counter")? {
///     let n = u64::from_be_bytes((*v).try_into().unwrap());
///     v.copy_from_slice(&(n + 1).to_be_bytes());
/// }
/// // A large value written straight into its page run: no second copy in memory.
/// let mut blob = t.insert_reserve(b"blob", 1 << 20)?;
/// blob.fill(7);
/// drop(blob);
/// assert_eq!(t.get(b"counter")?.unwrap(), 1u64.to_be_bytes());
/// assert_eq!(t.get(b"blob")?.unwrap().len(), 1 << 20);
/// # Ok(()) }
/// ```
pub struct ValueMut<'a> {
    core: RefMut<'a, TxnCore>,
    idx: usize,
    key: Vec<u8>,
    spot: Spot,
}

impl Deref for ValueMut<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.core.spot(self.spot)
    }
}

impl DerefMut for ValueMut<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.core.spot_mut(self.spot)
    }
}

impl Drop for ValueMut<'_> {
    fn drop(&mut self) {
        self.core.log_spot(self.idx, &self.key, self.spot);
    }
}

impl<'txn> TableMut<'txn> {
    /// The value of `key`, to change in place in its page (same length); None if absent.
    pub fn get_mut(&mut self, key: &[u8]) -> Result<Option<ValueMut<'_>>> {
        self.note_undo(key)?;
        let mut core = self.txn.core_mut()?;
        let Some(spot) = core.value_mut(self.idx, key)? else {
            return Ok(None);
        };
        Ok(Some(ValueMut {
            core,
            idx: self.idx,
            key: key.to_vec(),
            spot,
        }))
    }

    /// Inserts (or overwrites) `key` with a value of `len` bytes, zeroed, and returns it to
    /// write in place: a large value goes straight into its overflow run, with no buffer of
    /// that size besides it. Fails like [`TableMut::insert`] past the limits.
    pub fn insert_reserve(&mut self, key: &[u8], len: usize) -> Result<ValueMut<'_>> {
        self.note_undo(key)?;
        let mut core = self.txn.core_mut()?;
        let spot = core.reserve(self.idx, key, len)?;
        Ok(ValueMut {
            core,
            idx: self.idx,
            key: key.to_vec(),
            spot,
        })
    }
}
