//! Transactions: the state shared by a database's handles, published versions, the single-writer
//! lock, and meta-slot bookkeeping. [`read::ReadTxn`] reads one version; [`write::WriteTxn`] builds
//! the next one and commits it in one function, steps numbered.

pub(crate) mod read;
mod versions;
pub(crate) mod write;

use crate::error::{Error, Result};
use crate::options::Durability;
use crate::page::meta::{Meta, META_LEN};
use crate::page::PagePtr;
use crate::store::{FileStore, View};
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use versions::Versions;

/// At most this many Eventual commits follow the last durable one before larchdb syncs by
/// itself. Recovery relies on it: no page on disk can carry a txn id above
/// `last commit + MAX_UNSYNCED_COMMITS + 1`, so a reopened writer starts its ids above that and
/// never stamps a page with an id a lost commit already used.
pub(crate) const MAX_UNSYNCED_COMMITS: u64 = 4096;

/// Pages freed by not-yet-durable commits that may be held back before an automatic sync.
fn max_held_back(page_count: u64) -> u64 {
    (page_count / 8).max(1024)
}

/// One committed state of the database, as readers see it.
pub(crate) struct Version {
    /// Id of the commit.
    pub txn: u64,
    /// Root of the catalog tree.
    pub catalog: PagePtr,
    /// Root of the freelist tree.
    pub freelist: PagePtr,
    /// The pages of this commit.
    pub view: View,
}

/// Which commits are durable and which meta slot holds them.
pub(crate) struct MetaState {
    /// Last commit known to be on stable storage, and its slot.
    pub durable_txn: u64,
    durable_slot: u64,
    latest_txn: u64,
    latest_slot: u64,
    unsynced_commits: u64,
    held_back: u64,
}

/// State shared by a database handle, its transactions, and snapshots that outlive the handle.
pub(crate) struct Shared {
    /// The locked file.
    pub store: FileStore,
    /// Page size of the file.
    pub page_size: usize,
    /// Opened with `read_only(true)`.
    pub read_only: bool,
    /// Default durability of write transactions.
    pub durability: Durability,
    /// The latest committed version, which readers load without a lock, and the registry of
    /// those a snapshot may still hold.
    pub current: Versions<Version>,
    writer_busy: Mutex<bool>,
    writer_released: Condvar,
    /// Id the next write transaction gets (handed back by a transaction that wrote nothing).
    pub(crate) next_txn: Mutex<u64>,
    /// Meta-slot and durability bookkeeping.
    pub meta: Mutex<MetaState>,
    poisoned: Mutex<Option<String>>,
    /// What opening the file rolled back or repaired.
    pub recovery: Option<crate::recovery::Recovery>,
}

impl Shared {
    /// Shared state for a freshly opened file whose current commit `meta` is in `slot`.
    pub fn new(
        store: FileStore,
        meta: &Meta,
        slot: u64,
        view: View,
        durability: Durability,
        read_only: bool,
    ) -> Shared {
        let version = Arc::new(Version {
            txn: meta.txn,
            catalog: meta.catalog,
            freelist: meta.freelist,
            view,
        });
        Shared {
            store,
            page_size: meta.page_size as usize,
            read_only,
            durability,
            current: Versions::new(meta.txn, version),
            writer_busy: Mutex::new(false),
            writer_released: Condvar::new(),
            next_txn: Mutex::new(meta.txn + MAX_UNSYNCED_COMMITS + 2),
            meta: Mutex::new(MetaState {
                durable_txn: meta.txn,
                durable_slot: slot,
                latest_txn: meta.txn,
                latest_slot: slot,
                unsynced_commits: 0,
                held_back: 0,
            }),
            poisoned: Mutex::new(None),
            recovery: None,
        }
    }

    /// Blocks until no other write transaction is open, then claims the writer role.
    fn acquire_writer(&self) {
        let mut busy = self.writer_busy.lock();
        while *busy {
            self.writer_released.wait(&mut busy);
        }
        *busy = true;
    }

    /// Gives the writer role up.
    fn release_writer(&self) {
        *self.writer_busy.lock() = false;
        self.writer_released.notify_one();
    }

    /// Fails with `PreviousIo` if an earlier commit hit an I/O error.
    pub fn check_poisoned(&self) -> Result<()> {
        match &*self.poisoned.lock() {
            Some(msg) => Err(Error::PreviousIo(msg.clone())),
            None => Ok(()),
        }
    }

    /// Disables writes after an I/O error in a commit.
    fn poison(&self, err: &Error) {
        self.poisoned.lock().get_or_insert_with(|| err.to_string());
    }

    /// Oldest txn id whose pages must stay intact: the oldest live snapshot or the last durable
    /// commit (recovery may fall back to it), whichever is older.
    fn reuse_gate(&self) -> u64 {
        let durable = self.meta.lock().durable_txn;
        self.current.reuse_gate(durable)
    }

    /// Publishes a committed version to readers.
    fn publish(&self, v: Arc<Version>) {
        self.current.publish(v.txn, v);
    }

    /// Step 5 of a commit: writes `meta` to the slot that does not hold the last durable commit,
    /// then syncs if the commit must be durable, or if too much is held back waiting for a sync.
    fn write_meta(&self, meta: &Meta, durability: Durability, freed: u64) -> Result<()> {
        let mut st = self.meta.lock();
        let slot = 1 - st.durable_slot;
        let mut page = [0u8; META_LEN];
        page.copy_from_slice(&meta.encode());
        self.store.write_at(&page, slot * self.page_size as u64)?;
        st.latest_txn = meta.txn;
        st.latest_slot = slot;
        st.unsynced_commits += 1;
        st.held_back += freed;
        let must_sync = durability == Durability::Immediate
            || st.unsynced_commits >= MAX_UNSYNCED_COMMITS
            || st.held_back > max_held_back(meta.page_count);
        if must_sync {
            self.sync_locked(&mut st)?;
        }
        Ok(())
    }

    /// Makes every commit so far durable.
    pub fn sync(&self) -> Result<()> {
        // After a failed commit, what reached the disk is unknown: do not declare it durable.
        self.check_poisoned()?;
        let mut st = self.meta.lock();
        self.sync_locked(&mut st).inspect_err(|e| self.poison(e))
    }

    fn sync_locked(&self, st: &mut MetaState) -> Result<()> {
        if st.latest_txn == st.durable_txn {
            return Ok(());
        }
        self.store.sync()?;
        st.durable_txn = st.latest_txn;
        st.durable_slot = st.latest_slot;
        st.unsynced_commits = 0;
        st.held_back = 0;
        Ok(())
    }
}

/// Holds the writer role; gives it up when dropped (commit, abort, or drop of the transaction).
pub(crate) struct WriterGuard(Arc<Shared>);

impl WriterGuard {
    /// Waits for the writer role.
    pub fn acquire(shared: Arc<Shared>) -> WriterGuard {
        shared.acquire_writer();
        WriterGuard(shared)
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.0.release_writer();
    }
}
