//! [`WriteTxn`]: the public write transaction. It wraps the transaction core
//! ([`crate::txn::write::WriteTxn`]) in a `RefCell` so that several [`TableMut`]s can be open at
//! once: each borrows the transaction shared, and borrows its pages mutably only for the length
//! of one call.

use super::savepoint::{Step, UndoLog};
use super::{Savepoint, TableMut};
use crate::btree::cursor::RangeIter;
use crate::error::{Error, Result};
use crate::options::Durability;
use crate::txn::write::WriteTxn as TxnCore;
use std::cell::{Cell, Ref, RefCell, RefMut};
use std::ops::Bound;
use std::sync::Arc;

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
    /// How to undo the changes made since the oldest savepoint alive.
    pub(super) undo: Arc<UndoLog>,
    /// Id of the commit (kept here: the core may be borrowed).
    id: u64,
}

impl WriteTxn {
    /// The public transaction over `core`.
    pub(crate) fn new(core: TxnCore) -> WriteTxn {
        WriteTxn {
            id: core.id(),
            core: RefCell::new(core),
            spoiled: Cell::new(false),
            undo: Arc::default(),
        }
    }

    /// The core, for reading; [`Error::TxnBorrowed`] while a value is being written in place
    /// ([`crate::ValueMut`]).
    pub(crate) fn core(&self) -> Result<Ref<'_, TxnCore>> {
        self.core.try_borrow().map_err(|_| Error::TxnBorrowed)
    }

    /// The core, for writing; [`Error::TxnBorrowed`] while bytes read from it are alive (or a
    /// value is being written in place).
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
        self.id
    }

    /// Sets the durability of this transaction's commit (the database's default otherwise).
    pub fn set_durability(&mut self, durability: Durability) {
        self.core.get_mut().set_durability(durability);
    }

    /// Opens table `name`, creating it (empty) if it does not exist. Any number of tables may be
    /// open at once; a second handle on an open table shares it.
    pub fn open_table(&self, name: &str) -> Result<TableMut<'_>> {
        let mut core = self.core_mut()?;
        if self.undo.active() && !core.has_table(name)? {
            crate::catalog::check_name(name)?;
            self.undo.table(name, true);
        }
        let idx = core.open_table_index(name)?;
        Ok(TableMut::new(self, idx))
    }

    /// Deletes table `name` and frees its pages. Returns true if it existed. Takes `&mut self`:
    /// no table of the transaction may be open meanwhile.
    pub fn delete_table(&mut self, name: &str) -> Result<bool> {
        let core = self.core.get_mut();
        if self.undo.active() && core.has_table(name)? {
            // A rollback re-creates the table and puts its entries back.
            let idx = core.open_table_index(name)?;
            let tree = core.table_root(idx);
            let (lo, hi) = (Bound::Unbounded, Bound::Unbounded);
            for e in RangeIter::new(core.pages(), tree.root, Some(tree.count), lo, hi) {
                let (k, v) = e?;
                self.undo.kv(name, k, Some(v));
            }
            self.undo.table(name, false);
        }
        core.delete_table(name)
    }

    /// Takes a savepoint: [`WriteTxn::rollback_to`] it undoes every change made after it. While
    /// any savepoint is alive, changes record how to undo them (see [`Savepoint`]).
    pub fn savepoint(&self) -> Result<Savepoint> {
        Ok(self.undo.savepoint())
    }

    /// Undoes every change made since `savepoint` was taken (tables created since are deleted,
    /// tables deleted since come back). The savepoint stays, to roll back to again; those taken
    /// after it end. Takes `&mut self`: no table of the transaction may be open meanwhile.
    pub fn rollback_to(&mut self, savepoint: &Savepoint) -> Result<()> {
        let core = self.core.get_mut();
        self.undo.pause(true);
        let r = self.undo.roll_back(savepoint, &mut |step| match step {
            Step::Restore { table, key, old } => {
                let mut t = core.open_table(table)?;
                match old {
                    Some(v) => t.insert(key, v),
                    None => t.remove(key).map(|_| ()),
                }
            }
            Step::Drop(table) => core.delete_table(table).map(|_| ()),
            Step::Create(table) => core.open_table(table).map(|_| ()),
        });
        self.undo.pause(false);
        r
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
    ///
    /// A transaction that changed nothing writes and syncs nothing, whatever its durability: it
    /// does not make earlier `Eventual` commits durable ([`crate::Database::sync`] does).
    pub fn commit(self) -> Result<()> {
        if self.spoiled.get() {
            return Err(Error::TxnBorrowed);
        }
        self.core.into_inner().commit()
    }
}
