//! Savepoints: points inside a write transaction it can roll back to.
//!
//! While a savepoint is alive, every change made through the table API first records how to
//! undo it (a table's key and its previous value, a table created or deleted) in the
//! transaction's undo log; rolling back applies the records after the savepoint in reverse. With
//! no savepoint alive nothing is recorded, so the cost is only paid while one exists: a copy of
//! each overwritten or removed value, and range removals and `clear` visit their entries (they
//! cannot cut whole subtrees without reading them).

use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One undo record.
enum Undo {
    /// Key `key` of table `names[table]` held `old` (None: it was absent).
    Kv {
        table: usize,
        key: Vec<u8>,
        old: Option<Vec<u8>>,
    },
    /// Table `names[.0]` was created.
    Created(usize),
    /// Table `names[.0]` was deleted (its entries are recorded before this).
    Deleted(usize),
}

/// What a rollback does for one record, in order.
pub(crate) enum Step<'a> {
    /// Put `key` of `table` back to `old`.
    Restore {
        table: &'a str,
        key: &'a [u8],
        old: Option<&'a [u8]>,
    },
    /// Delete `table` again.
    Drop(&'a str),
    /// Create `table` again.
    Create(&'a str),
}

/// The undo records and the savepoints that may roll back over them.
#[derive(Default)]
struct Log {
    /// Ids of the savepoints alive.
    live: Vec<u64>,
    next_id: u64,
    /// Table names the records refer to.
    names: Vec<String>,
    records: Vec<Undo>,
}

impl Log {
    /// The index of table `name` in `names`.
    fn name(&mut self, name: &str) -> usize {
        match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        }
    }
}

/// A transaction's undo log, shared with its savepoints.
#[derive(Default)]
pub(crate) struct UndoLog {
    /// True while a savepoint is alive: changes record their undo.
    active: AtomicBool,
    log: Mutex<Log>,
}

impl UndoLog {
    /// True while changes must record how to undo them.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Records that `key` of `table` held `old`.
    pub fn kv(&self, table: &str, key: &[u8], old: Option<&[u8]>) {
        let mut log = self.log.lock();
        let table = log.name(table);
        log.records.push(Undo::Kv {
            table,
            key: key.to_vec(),
            old: old.map(<[u8]>::to_vec),
        });
    }

    /// Records that `table` was created (`true`) or deleted.
    pub fn table(&self, table: &str, created: bool) {
        let mut log = self.log.lock();
        let t = log.name(table);
        log.records.push(if created {
            Undo::Created(t)
        } else {
            Undo::Deleted(t)
        });
    }

    /// Runs `apply` on the records after savepoint `sp`, newest first, then forgets them.
    pub fn roll_back(
        self: &Arc<Self>,
        sp: &Savepoint,
        apply: &mut dyn FnMut(Step<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut log = self.log.lock();
        if !Arc::ptr_eq(self, &sp.log) || !log.live.contains(&sp.id) {
            return Err(Error::InvalidSavepoint);
        }
        // Savepoints taken after this one lie in the part rolled back: they end here.
        log.live.retain(|&id| id <= sp.id);
        let Log { names, records, .. } = &mut *log;
        for r in records[sp.pos.min(records.len())..].iter().rev() {
            apply(match r {
                Undo::Kv { table, key, old } => Step::Restore {
                    table: &names[*table],
                    key,
                    old: old.as_deref(),
                },
                Undo::Created(t) => Step::Drop(&names[*t]),
                Undo::Deleted(t) => Step::Create(&names[*t]),
            })?;
        }
        records.truncate(sp.pos);
        Ok(())
    }

    /// A new savepoint at the end of the log.
    pub fn savepoint(self: &Arc<Self>) -> Savepoint {
        let mut log = self.log.lock();
        let id = log.next_id;
        log.next_id += 1;
        log.live.push(id);
        self.active.store(true, Ordering::Relaxed);
        Savepoint {
            log: self.clone(),
            id,
            pos: log.records.len(),
        }
    }

    /// Suspends recording (while a rollback applies records) or resumes it.
    pub fn pause(&self, paused: bool) {
        let live = !self.log.lock().live.is_empty();
        self.active.store(live && !paused, Ordering::Relaxed);
    }
}

/// A point in a write transaction to roll back to ([`crate::WriteTxn::savepoint`],
/// [`crate::WriteTxn::rollback_to`]). Dropping it forgets the point; once no savepoint of the
/// transaction is alive, changes stop recording how to undo them. Rolling back to a savepoint
/// ends the savepoints taken after it (rolling back to one of them fails with
/// [`Error::InvalidSavepoint`]).
///
/// ```
/// # fn main() -> larchdb::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = larchdb::Database::open(dir.path().join("s.larch"))?;
/// let mut wtx = db.begin_write()?;
/// wtx.open_table("t")?.insert(b"kept", b"1")?;
/// let sp = wtx.savepoint()?;
/// wtx.open_table("t")?.insert(b"undone", b"2")?;
/// wtx.open_table("t")?.remove(b"kept")?;
/// wtx.rollback_to(&sp)?;
/// let t = wtx.open_table("t")?;
/// assert_eq!(t.get(b"kept")?.unwrap(), b"1");
/// assert!(t.get(b"undone")?.is_none());
/// # drop(t);
/// wtx.commit()?;
/// # Ok(()) }
/// ```
pub struct Savepoint {
    log: Arc<UndoLog>,
    id: u64,
    /// Records before this one stay on a rollback to this savepoint.
    pos: usize,
}

impl Drop for Savepoint {
    fn drop(&mut self) {
        let mut log = self.log.log.lock();
        log.live.retain(|&i| i != self.id);
        if log.live.is_empty() {
            log.records.clear();
            log.names.clear();
            self.log.active.store(false, Ordering::Relaxed);
        }
    }
}
