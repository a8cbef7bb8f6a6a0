//! [`WriteTxn`]: the single writer. Changes go to dirty pages owned by the transaction; `commit`
//! writes them and publishes the new version, in the numbered steps of `docs/FORMAT.md`.

use super::{Shared, Version, WriterGuard};
use crate::alloc::WriterPages;
use crate::btree::mutate::{self, Scratch};
use crate::btree::{self, PageSource, TreeRoot};
use crate::catalog;
use crate::error::{corrupted, Error, Result};
use crate::options::Durability;
use crate::page::meta::Meta;
use crate::table::TableMut;
use std::sync::Arc;

/// Largest value larchdb stores (values up to this size live in contiguous overflow pages).
pub const MAX_VALUE_LEN: usize = u32::MAX as usize;

/// A table opened in this transaction: its current root and whether the catalog must learn it.
struct OpenTable {
    name: String,
    tree: TreeRoot,
    dirty: bool,
}

/// A write transaction. Only one exists at a time per database; `begin_write` blocks until the
/// previous one ends. Dropping it without `commit` aborts it.
pub struct WriteTxn {
    shared: Arc<Shared>,
    base: Arc<Version>,
    pages: WriterPages,
    scratch: Scratch,
    catalog: TreeRoot,
    tables: Vec<OpenTable>,
    durability: Durability,
    /// First error that left the transaction's trees in an unknown state (a damaged page).
    failed: Option<(u64, String)>,
    /// Set once the commit starts writing: from then on this txn id may be on disk.
    wrote: bool,
    _guard: WriterGuard,
}

impl Drop for WriteTxn {
    /// A transaction that wrote nothing gives its id back, so the ids stamped on disk since the
    /// last durable commit stay consecutive (recovery relies on it, see `MAX_UNSYNCED_COMMITS`).
    fn drop(&mut self) {
        if !self.wrote {
            *self.shared.next_txn.lock() = self.pages.txn_id();
        }
    }
}

impl WriteTxn {
    /// Claims the writer role (waiting for it) and starts a transaction on the current version.
    pub(crate) fn begin(shared: Arc<Shared>) -> Result<WriteTxn> {
        if shared.read_only {
            return Err(Error::ReadOnly);
        }
        shared.check_poisoned()?;
        let guard = WriterGuard::acquire(shared.clone());
        shared.check_poisoned()?;
        let base = shared.current.load_full();
        let txn = {
            let mut next = shared.next_txn.lock();
            let t = *next;
            *next += 1;
            t
        };
        let gate = shared.reuse_gate();
        let pages = WriterPages::new(&base.view, txn, base.freelist, gate);
        Ok(WriteTxn {
            durability: shared.durability,
            catalog: TreeRoot {
                root: base.catalog,
                count: 0,
            },
            shared,
            base,
            pages,
            scratch: Scratch::default(),
            tables: Vec::new(),
            failed: None,
            wrote: false,
            _guard: guard,
        })
    }

    /// Id this transaction's commit will have.
    pub fn id(&self) -> u64 {
        self.pages.txn_id()
    }

    /// Sets the durability of this transaction's commit (the database's default otherwise).
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    pub(crate) fn pages(&self) -> &WriterPages {
        &self.pages
    }

    pub(crate) fn table_root(&self, idx: usize) -> TreeRoot {
        self.tables[idx].tree
    }

    fn check_failed(&self) -> Result<()> {
        match &self.failed {
            Some((page, reason)) => Err(corrupted(
                *page,
                format!("transaction stopped by an earlier error: {reason}"),
            )),
            None => Ok(()),
        }
    }

    /// Records an error from a tree edit: the trees may be half-changed, so the transaction can
    /// only be aborted from now on.
    fn note<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(Error::Corrupted { page, reason }) = &r {
            self.failed.get_or_insert((*page, reason.clone()));
        }
        r
    }

    /// Opens table `name`, creating it (empty) if it does not exist.
    pub fn open_table(&mut self, name: &str) -> Result<TableMut<'_>> {
        catalog::check_name(name)?;
        self.check_failed()?;
        let idx = match self.tables.iter().position(|t| t.name == name) {
            Some(i) => i,
            None => {
                let found = btree::get(&self.pages, self.catalog.root, name.as_bytes())?;
                let (tree, dirty) = match found {
                    Some(b) => (catalog::decode(self.catalog.root.pgno, b)?, false),
                    None => (TreeRoot::default(), true),
                };
                self.tables.push(OpenTable {
                    name: name.to_string(),
                    tree,
                    dirty,
                });
                self.tables.len() - 1
            }
        };
        Ok(TableMut::new(self, idx))
    }

    /// Deletes table `name` and frees its pages. Returns true if it existed.
    pub fn delete_table(&mut self, name: &str) -> Result<bool> {
        catalog::check_name(name)?;
        self.check_failed()?;
        let r = self.delete_table_inner(name);
        self.note(r)
    }

    fn delete_table_inner(&mut self, name: &str) -> Result<bool> {
        let cached = self
            .tables
            .iter()
            .position(|t| t.name == name)
            .map(|i| self.tables.remove(i).tree);
        let stored = match btree::get(&self.pages, self.catalog.root, name.as_bytes())? {
            Some(b) => Some(catalog::decode(self.catalog.root.pgno, b)?),
            None => None,
        };
        let Some(tree) = cached.or(stored) else {
            return Ok(false);
        };
        if stored.is_some() {
            mutate::remove(
                &mut self.pages,
                &mut self.scratch,
                &mut self.catalog,
                name.as_bytes(),
            )?;
        }
        mutate::free_tree(&mut self.pages, tree)?;
        Ok(true)
    }

    /// Names of all tables as this transaction sees them, in byte order.
    pub fn list_tables(&mut self) -> Result<Vec<String>> {
        self.check_failed()?;
        let r = self.flush_catalog();
        self.note(r)?;
        super::read::list_tables(&self.pages, self.catalog)
    }

    /// Writes the roots of changed tables into the catalog tree.
    fn flush_catalog(&mut self) -> Result<()> {
        for i in 0..self.tables.len() {
            if self.tables[i].dirty {
                let value = catalog::encode(&self.tables[i].tree);
                let name = std::mem::take(&mut self.tables[i].name);
                let r = mutate::insert(
                    &mut self.pages,
                    &mut self.scratch,
                    &mut self.catalog,
                    name.as_bytes(),
                    &value,
                );
                self.tables[i].name = name;
                r?;
                self.tables[i].dirty = false;
            }
        }
        Ok(())
    }

    fn check_key_value(&self, key: &[u8], value_len: usize) -> Result<()> {
        let max = btree::max_key_len(self.pages.page_size());
        if key.is_empty() || key.len() > max {
            return Err(Error::KeyTooLarge {
                len: key.len(),
                max,
            });
        }
        if value_len > MAX_VALUE_LEN {
            return Err(Error::ValueTooLarge {
                len: value_len,
                max: MAX_VALUE_LEN,
            });
        }
        Ok(())
    }

    pub(crate) fn insert(&mut self, idx: usize, key: &[u8], value: &[u8]) -> Result<bool> {
        self.check_key_value(key, value.len())?;
        self.check_failed()?;
        let t = &mut self.tables[idx];
        let r = mutate::insert(&mut self.pages, &mut self.scratch, &mut t.tree, key, value);
        t.dirty = true;
        self.note(r)
    }

    pub(crate) fn remove(&mut self, idx: usize, key: &[u8]) -> Result<bool> {
        if key.is_empty() || key.len() > btree::max_key_len(self.pages.page_size()) {
            return Ok(false);
        }
        self.check_failed()?;
        let t = &mut self.tables[idx];
        let r = mutate::remove(&mut self.pages, &mut self.scratch, &mut t.tree, key);
        if matches!(r, Ok(true)) {
            t.dirty = true;
        }
        self.note(r)
    }

    /// Discards the transaction's changes.
    pub fn abort(self) -> Result<()> {
        Ok(())
    }

    /// Commits: after `Ok`, new read transactions see the changes; with `Immediate` durability
    /// they also survive power loss. On `Err` readers of this handle still see the previous
    /// commit. An I/O error while writing leaves this handle refusing writes (`PreviousIo`) until
    /// reopened; whether the failed commit reached the disk is then unknown, so a reopen shows
    /// either it or the previous commit, never a mixture.
    pub fn commit(mut self) -> Result<()> {
        self.check_failed()?;
        self.shared.check_poisoned()?;
        // Step 1: record changed table roots in the catalog.
        let r = self.flush_catalog();
        self.note(r)?;
        if self.pages.is_clean() {
            return Ok(());
        }
        // Step 2: record freed pages (and free pages pulled but unused) in the freelist tree.
        let r = self.pages.finish_freelist();
        self.note(r)?;
        let shared = self.shared.clone();
        let ps = shared.page_size;
        let meta = Meta {
            page_size: ps as u32,
            txn: self.pages.txn_id(),
            catalog: self.catalog.root,
            freelist: self.pages.freelist.root,
            page_count: self.pages.page_count,
        };
        // Step 3: make room (preallocation fails cleanly on a full disk), map any new space.
        let file_bytes = meta.page_count * ps as u64;
        shared.store.grow(file_bytes, ps)?;
        let view = self.base.view.resized(&shared.store, meta.page_count)?;
        // Step 4: write the pages, each sealed with its checksum, into space no snapshot reads.
        let freed = self.pages.freed_count() as u64;
        self.wrote = true;
        let pages = self.pages.sealed_pages();
        if let Err(e) = shared.store.write_pages(&pages, ps) {
            shared.poison(&e);
            return Err(e);
        }
        // The page cache (cached backend) takes the new contents of the pages it holds.
        view.wrote(&pages);
        // Step 5: write the meta slot, and sync (Immediate: one fdatasync covers pages and meta).
        if let Err(e) = shared.write_meta(&meta, self.durability, freed) {
            shared.poison(&e);
            return Err(e);
        }
        // Step 6: publish the new version to readers.
        shared.publish(Arc::new(Version {
            txn: meta.txn,
            catalog: meta.catalog,
            freelist: meta.freelist,
            view,
        }));
        Ok(())
    }
}
