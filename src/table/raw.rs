//! [`RawTable`]: a table of the transaction core, for the crate's own use (the commit log's
//! replay); users get a [`crate::TableMut`].

use crate::error::Result;
use crate::txn::write::WriteTxn as TxnCore;

/// A table opened on the transaction core, borrowing it mutably.
pub(crate) struct RawTable<'txn> {
    txn: &'txn mut TxnCore,
    idx: usize,
}

impl TxnCore {
    /// Opens table `name`, creating it (empty) if it does not exist.
    pub(crate) fn open_table(&mut self, name: &str) -> Result<RawTable<'_>> {
        let idx = self.open_table_index(name)?;
        Ok(RawTable::new(self, idx))
    }
}

impl<'txn> RawTable<'txn> {
    /// The table at `idx` of `txn`'s open tables.
    pub(crate) fn new(txn: &'txn mut TxnCore, idx: usize) -> RawTable<'txn> {
        RawTable { txn, idx }
    }

    /// Inserts `key` with `value`, overwriting any previous value.
    pub(crate) fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.txn.insert(self.idx, key, value).map(|_| ())
    }

    /// Removes `key`; returns true if it was there.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Result<bool> {
        self.txn.remove(self.idx, key)
    }
}
