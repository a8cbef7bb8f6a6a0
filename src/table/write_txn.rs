//! [`WriteTxn`]: the public write transaction. It wraps the transaction core
//! ([`crate::txn::write::WriteTxn`]) in a `RefCell` so that several [`TableMut`]s can be open at
//! once: each borrows the transaction shared, and borrows its pages mutably only for the length
//! of one call.

use super::{RawTable, TableMut};
use crate::error::{Error, Result};
use crate::options::Durability;
use crate::txn::write::WriteTxn as TxnCore;
use std::cell::{Cell, Ref, RefCell, RefMut};

/// A write transaction. Only one exists at a time per database: [`crate::Database::begin_write`]
/// blocks until the previous one ends, [`crate::Database::try_begin_write`] does not. Dropping it
/// without `commit` aborts it.
///
/// Any number of tables may be open at once ([`WriteTxn::open_table`] takes `&self`). Opening a
/// table that is already open gives a second handle on the same table: both see every write.
///
/// ```
/// # fn main() -> larchdb::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = larchdb::Database::open(dir.path().join("app.larch"))?;
/// let wtx = db.begin_write()?;
/// let mut users = wtx.open_table("users")?;
/// let mut by_email = wtx.open_table("users_by_email")?;
/// users.insert(b"u1", b"ada@example.com")?;
/// by_email.insert(b"ada@example.com", b"u1")?;
/// assert_eq!(wtx.open_table("users")?.len()?, 1); // a second handle shares the table
/// wtx.commit()?;
/// # Ok(()) }
/// ```
pub struct WriteTxn {
    core: RefCell<TxnCore>,
    /// Set when a change could not be completed (see [`WriteTxn::spoil`]): commit refuses.
    spoiled: Cell<bool>,
}

impl WriteTxn {
    /// The public transaction over `core`.
    pub(crate) fn new(core: TxnCore) -> WriteTxn {
        WriteTxn {
            core: RefCell::new(core),
            spoiled: Cell::new(false),
        }
    }

    /// The core, for reading. Never fails: mutable borrows last one call.
    pub(crate) fn core(&self) -> Ref<'_, TxnCore> {
        self.core.borrow()
    }

    /// The core, for writing; [`Error::TxnBorrowed`] while bytes read from it are alive.
    pub(crate) fn core_mut(&self) -> Result<RefMut<'_, TxnCore>> {
        self.core.try_borrow_mut().map_err(|_| Error::TxnBorrowed)
    }

    /// Marks the transaction as holding a half-done change (an unfinished `extract_if` that could
    /// not put back what it took): it can only be aborted.
    pub(crate) fn spoil(&self) {
        self.spoiled.set(true);
    }

    /// Id this transaction's commit will have.
    pub fn id(&self) -> u64 {
        self.core().id()
    }

    /// Sets the durability of this transaction's commit (the database's default otherwise).
    pub fn set_durability(&mut self, durability: Durability) {
        self.core.get_mut().set_durability(durability);
    }

    /// Opens table `name`, creating it (empty) if it does not exist. Any number of tables may be
    /// open at once; a second handle on an open table shares it.
    pub fn open_table(&self, name: &str) -> Result<TableMut<'_>> {
        let idx = RawTable::idx(&self.core_mut()?.open_table(name)?);
        Ok(TableMut::new(self, idx))
    }

    /// Deletes table `name` and frees its pages. Returns true if it existed. Takes `&mut self`:
    /// no table of the transaction may be open meanwhile.
    pub fn delete_table(&mut self, name: &str) -> Result<bool> {
        self.core.get_mut().delete_table(name)
    }

    /// Names of all tables as this transaction sees them, in byte order.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        self.core_mut()?.list_tables()
    }

    /// Discards the transaction's changes.
    pub fn abort(self) -> Result<()> {
        self.core.into_inner().abort()
    }

    /// Commits: after `Ok`, new read transactions see the changes; with `Immediate` durability
    /// they also survive power loss. On `Err` readers of this handle still see the previous
    /// commit. An I/O error while writing leaves this handle refusing writes (`PreviousIo`) until
    /// reopened; whether the failed commit reached the disk is then unknown, so a reopen shows
    /// either it or the previous commit, never a mixture. See `docs/FORMAT.md` for the steps.
    pub fn commit(self) -> Result<()> {
        if self.spoiled.get() {
            return Err(Error::TxnBorrowed);
        }
        self.core.into_inner().commit()
    }
}
