//! The transaction core's values written in place (`get_mut`, `insert_reserve`): the spot of a
//! value in the transaction's pages, its bytes, and the commit log record of its final contents.

use super::WriteTxn;
use crate::btree::inplace::{self, Spot};
use crate::btree::{PageSource, PageStore};
use crate::error::Result;

impl WriteTxn {
    /// The spot of `key`'s value in table `idx`, copied into the transaction to be written in
    /// place; None if absent. The caller logs the final value ([`WriteTxn::log_spot`]).
    pub(crate) fn value_mut(&mut self, idx: usize, key: &[u8]) -> Result<Option<Spot>> {
        self.check_failed()?;
        if key.is_empty() || key.len() > crate::btree::max_key_len(self.pages.page_size()) {
            return Ok(None);
        }
        let t = &mut self.tables[idx];
        let r = inplace::value_mut(
            &mut self.pages,
            super::scratch(&mut self.scratch),
            &mut t.tree,
            key,
        );
        if matches!(r, Ok(Some(_))) {
            t.dirty = true;
        }
        self.note(r)
    }

    /// Inserts `key` into table `idx` with `len` zero bytes and returns the value's spot. The
    /// caller logs the final value ([`WriteTxn::log_spot`]).
    pub(crate) fn reserve(&mut self, idx: usize, key: &[u8], len: usize) -> Result<Spot> {
        self.check_key_value(key, len)?;
        self.check_failed()?;
        let t = &mut self.tables[idx];
        t.dirty = true;
        let r = inplace::reserve(
            &mut self.pages,
            super::scratch(&mut self.scratch),
            &mut t.tree,
            key,
            len,
        );
        self.note(r)
    }

    /// The bytes at `spot`.
    pub(crate) fn spot(&self, spot: Spot) -> &[u8] {
        let run = self.pages.run(spot.pgno, spot.npages).unwrap_or_default();
        run.get(spot.off..spot.off + spot.len).unwrap_or_default()
    }

    /// The bytes at `spot`, to write.
    pub(crate) fn spot_mut(&mut self, spot: Spot) -> &mut [u8] {
        let buf = self.pages.page_mut(spot.pgno);
        buf.get_mut(spot.off..spot.off + spot.len)
            .unwrap_or_default()
    }

    /// Records in the commit log that `key` of table `idx` now holds the bytes at `spot`.
    pub(crate) fn log_spot(&mut self, idx: usize, key: &[u8], spot: Spot) {
        self.ops.table(idx, &self.tables[idx].name);
        let buf = self.pages.page_mut(spot.pgno);
        let value = buf.get(spot.off..spot.off + spot.len).unwrap_or_default();
        self.ops.insert(key, value);
    }
}
