//! [`WriteTxn`]: the single writer. Changes go to dirty pages owned by the transaction; `commit`
//! writes them and publishes the new version, in the numbered steps of `docs/FORMAT.md`.

mod bulk;
mod inplace;
mod roots;

use super::log::{OpRecorder, REC_HEADER};
use super::{Shared, Version, WriterGuard};
use crate::alloc::{PageBuffers, WriterPages};
use crate::btree::mutate::{self, Scratch};
use crate::btree::{self, PageSource, TreeRoot};
use crate::catalog;
use crate::error::{corrupted, Error, Result};
use crate::options::Durability;
use std::sync::Arc;
use std::time::Instant;

/// The smallest commit log region larchdb allocates (unless the capacity is smaller): about 1,100
/// records of one small insert (a 24-byte key and a 150-byte value make a record of 232 bytes)
/// between checkpoints. The region is part of the file, so a small database keeps a small one; it
/// grows with the data, so from 32 MiB of data on it holds about 18,000 such records (SQLite's
/// default WAL checkpoint is at 4 MiB).
const MIN_LOG_BYTES: u64 = 256 << 10;

/// A burst of small commits may give a file a log region as large as the file, or this large
/// if the file is smaller (SQLite's WAL grows to 4 MiB whatever the database's size).
const MIN_BURST_CAP: u64 = 1 << 20;

/// The commit log region is sized at this fraction of the file (within [`MIN_LOG_BYTES`] ..= the
/// configured capacity): 16 MiB for the 1M-key load of the comparison (254 MiB after it), which
/// holds 72,000 single-insert records or 90 of 1,000 inserts. (An eighth, as before records were
/// packed, made that region 32 MiB, and after the comparison's writes the file 440 MiB instead of
/// 411, with as many checkpoints; `stats().log_pages`, harness `prof lstd`.)
const LOG_FRACTION: u64 = 16;

/// Without a commit log, every this many commits one looks for the whole free tail of the file.
const FULL_TRIM_EVERY: u64 = 64;

/// Largest value larchdb stores (values up to this size live in contiguous overflow pages).
pub const MAX_VALUE_LEN: usize = u32::MAX as usize;

/// A write transaction's buffers (its pages' lists and maps, its scratch space, its list of open
/// tables), emptied, kept in [`Shared`] for the next one.
#[derive(Default)]
pub(crate) struct WriterBuffers {
    pages: PageBuffers,
    scratch: Box<Scratch>,
    tables: Vec<OpenTable>,
}

/// A table opened in this transaction: its current root and whether the catalog must learn it.
struct OpenTable {
    name: String,
    tree: TreeRoot,
    dirty: bool,
    /// The catalog tree has an entry of this name (so a commit may keep its root out of it).
    stored: bool,
}

/// A transaction's scratch space (always there but while it is being dropped).
fn scratch(s: &mut Option<Box<Scratch>>) -> &mut Scratch {
    s.get_or_insert_with(Box::default)
}

/// A write transaction. Only one exists at a time per database; `begin_write` blocks until the
/// previous one ends. Dropping it without `commit` aborts it.
pub struct WriteTxn {
    shared: Arc<Shared>,
    base: Arc<Version>,
    pages: WriterPages,
    /// Boxed, like the freelist's: a transaction is moved by value a few times on its way to
    /// the caller, and without them it is much larger. Taken (None) only when it is dropped,
    /// into the buffers it leaves: [`scratch`] reaches it.
    scratch: Option<Box<Scratch>>,
    catalog: TreeRoot,
    tables: Vec<OpenTable>,
    durability: Durability,
    /// The logical operations, for the commit log record.
    ops: OpRecorder,
    /// Commit as a checkpoint, whatever the log (recovery's replay).
    checkpoint: bool,
    /// Commit even if nothing changed, as a checkpoint that gives back the free tail of the file
    /// ([`crate::Database::compact`]).
    compacting: bool,
    /// Commit even if nothing changed, as a checkpoint that records free pages handed in
    /// ([`WriteTxn::record_free`]).
    recording_free: bool,
    /// Live pages this commit moved lower in the file.
    moved: u64,
    /// First error that left the transaction's trees in an unknown state (a damaged page).
    failed: Option<(u64, String)>,
    /// Set once the commit starts writing: from then on this txn id may be on disk.
    id_may_be_on_disk: bool,
    /// The writer role, given up as soon as the commit no longer needs it.
    guard: Option<WriterGuard>,
    /// The base version's deferred table roots are written into this transaction's catalog
    /// tree (which is then complete: `roots.rs`).
    deferred_written: bool,
}

impl Drop for WriteTxn {
    /// A transaction that wrote nothing gives its id back, so the ids stamped on disk since the
    /// last durable commit stay consecutive (recovery relies on it, see `MAX_UNSYNCED_COMMITS`).
    /// It also leaves its buffers, emptied, for the next transaction.
    fn drop(&mut self) {
        if !self.id_may_be_on_disk {
            *self.shared.next_txn.lock() = self.pages.txn_id();
        }
        let buffers = WriterBuffers {
            pages: self.pages.take_buffers(),
            scratch: self.scratch.take().unwrap_or_default().recycled(),
            tables: {
                let mut tables = std::mem::take(&mut self.tables);
                tables.clear();
                tables
            },
        };
        *self.shared.writer_buffers.lock() = Some(buffers);
    }
}

impl WriteTxn {
    /// Claims the writer role (waiting for it) and starts a transaction on the current version.
    pub(crate) fn begin(shared: Arc<Shared>) -> Result<WriteTxn> {
        if shared.config.read_only {
            return Err(Error::ReadOnly);
        }
        WriteTxn::begin_any(shared)
    }

    /// A transaction on a read-only handle, for its replay of the commit log, which it commits
    /// in memory ([`WriteTxn::commit_in_memory`]).
    pub(crate) fn begin_replay(shared: Arc<Shared>) -> Result<WriteTxn> {
        WriteTxn::begin_any(shared)
    }

    /// [`WriteTxn::begin`] if no write transaction is open, None otherwise.
    pub(crate) fn try_begin(shared: Arc<Shared>) -> Result<Option<WriteTxn>> {
        if shared.config.read_only {
            return Err(Error::ReadOnly);
        }
        shared.check_poisoned()?;
        match WriterGuard::try_acquire(shared.clone()) {
            Some(guard) => WriteTxn::begin_as(shared, guard).map(Some),
            None => Ok(None),
        }
    }

    fn begin_any(shared: Arc<Shared>) -> Result<WriteTxn> {
        shared.check_poisoned()?;
        let guard = WriterGuard::acquire(shared.clone());
        WriteTxn::begin_as(shared, guard)
    }

    /// A transaction for the holder of the writer role (`guard`).
    pub(crate) fn begin_as(shared: Arc<Shared>, guard: WriterGuard) -> Result<WriteTxn> {
        shared.check_poisoned()?;
        let base = shared.latest.lock().clone();
        let txn = {
            let mut next = shared.next_txn.lock();
            let t = *next;
            *next += 1;
            t
        };
        let gates = shared.gates();
        let buffers = shared.writer_buffers.lock().take().unwrap_or_default();
        let pages = WriterPages::new(
            &base.view,
            txn,
            base.freelist,
            gates,
            (&base.spare, &base.pending, &base.old_frees),
            buffers.pages,
        );
        // With a capacity of 0 (no log) every commit is a checkpoint, even on a file that has a
        // log region from an earlier open.
        let limit = shared.log.capacity().min(shared.config.log_capacity);
        let ops = OpRecorder::new(limit as usize);
        Ok(WriteTxn {
            durability: shared.config.durability,
            catalog: TreeRoot {
                root: base.catalog,
                count: 0,
            },
            shared,
            base,
            pages,
            scratch: Some(buffers.scratch),
            tables: buffers.tables,
            ops,
            checkpoint: false,
            compacting: false,
            recording_free: false,
            moved: 0,
            failed: None,
            id_may_be_on_disk: false,
            guard: Some(guard),
            deferred_written: false,
        })
    }

    /// Makes the commit a checkpoint (recovery's replay, which must be durable at once).
    pub(crate) fn force_checkpoint(&mut self) {
        self.checkpoint = true;
    }

    /// Makes the commit a checkpoint that records `pages` in the freelist: pages of this file
    /// that are free but in no freelist entry (a backup of a version with unrecorded free pages).
    pub(crate) fn record_free(&mut self, pages: &[u64]) {
        self.pages.adopt_free(pages);
        self.checkpoint = true;
        self.recording_free = true;
    }

    /// Makes the commit a checkpoint that looks for the whole free tail of the file and gives it
    /// back, even if the transaction changed nothing (compaction).
    pub(crate) fn compact_on_commit(&mut self) {
        self.checkpoint = true;
        self.compacting = true;
    }

    /// Compaction: gives back the free tail, then moves every live page (of the tables, the
    /// catalog and the freelist) that lies past where the file could end into free pages below,
    /// copying it, so snapshots keep the old copy. Reads the tables' leaves that stay in place
    /// (for the overflow runs their values point to) only if `read_leaves`. Returns whether a
    /// leaf it read held an overflow value, or None if nothing could move (no tree was walked).
    pub(crate) fn relocate_tail(&mut self, read_leaves: bool) -> Result<Option<bool>> {
        self.check_failed()?;
        let r = self.relocate_steps(read_leaves);
        self.note(r)
    }

    /// The commit this transaction began on.
    pub(crate) fn base_txn(&self) -> u64 {
        self.base.txn
    }

    /// One of compaction's packing passes: packs the leaves of the tables densely
    /// ([`crate::btree::sweep::repack`]) into the lowest free pages (every reusable freelist
    /// entry is pulled first), from where `cursor` says, for at most `branches` bottom branches,
    /// and moves `cursor` on (`cursor.done` once every table is packed). The old leaves are
    /// freed, reusable once this checkpoint is durable. Returns how many leaves fewer the tables
    /// have, and whether a leaf it read holds an overflow value.
    pub(crate) fn repack_tables(
        &mut self,
        cursor: &mut RepackCursor,
        branches: u64,
    ) -> Result<(u64, bool)> {
        self.check_failed()?;
        let r = self.repack_steps(cursor, branches);
        self.note(r)
    }

    fn repack_steps(&mut self, cursor: &mut RepackCursor, branches: u64) -> Result<(u64, bool)> {
        self.flush_catalog()?;
        self.pages.trim_tail(true)?;
        let (mut saved, mut overflow, mut left, mut stopped) = (0, false, branches, false);
        self.rewrite_tables(|name, pages, sc, tree| {
            // Tables in name order: those before the cursor's are done (and its own, if done).
            match &cursor.at {
                Some((t, None)) if name <= t.as_str() => return Ok(()),
                Some((t, Some(_))) if name < t.as_str() => return Ok(()),
                _ => {}
            }
            if left == 0 || stopped {
                stopped = true;
                return Ok(());
            }
            let mut from = match &cursor.at {
                Some((t, Some(k))) if t == name => Some(k.clone()),
                _ => None,
            };
            let (fewer, held, seen) =
                crate::btree::sweep::repack(pages, sc, tree, &mut from, left)?;
            left -= seen.min(left);
            saved += fewer;
            overflow |= held;
            cursor.at = Some((name.to_string(), from));
            Ok(())
        })?;
        cursor.done = !stopped && cursor.at.as_ref().is_none_or(|(_, from)| from.is_none());
        Ok((saved, overflow))
    }

    /// How many bottom branches (branches whose children are leaves) the tables have in all.
    pub(crate) fn bottom_branches(&mut self) -> Result<u64> {
        self.flush_catalog()?;
        let mut count = 0;
        self.rewrite_tables(|_, pages, _, tree| {
            count += crate::btree::branches::bottom_branches(pages, tree)?;
            Ok(())
        })?;
        Ok(count)
    }

    /// Packs the branches of every table densely (compaction, once the leaves are packed:
    /// [`crate::btree::branches`]); returns how many branch pages fewer the tables have.
    pub(crate) fn pack_branches(&mut self) -> Result<u64> {
        self.check_failed()?;
        let r = self.pack_branch_steps();
        self.note(r)
    }

    fn pack_branch_steps(&mut self) -> Result<u64> {
        self.flush_catalog()?;
        let mut saved = 0;
        self.rewrite_tables(|_, pages, sc, tree| {
            saved += crate::btree::branches::pack_branches(pages, sc, tree)?;
            Ok(())
        })?;
        Ok(saved)
    }

    fn relocate_steps(&mut self, read_leaves: bool) -> Result<Option<bool>> {
        use crate::btree::relocate::{relocate, LeafScan};
        self.flush_catalog()?;
        self.pages.trim_tail(true)?;
        let mut limit = self.pages.relocation_limit();
        let (log_start, log_pages) = self.base.log;
        if log_pages > 0 && log_start + log_pages == self.pages.page_count {
            // The log region ends the file: clear a run below it for the region to move into
            // (the next pass moves it, and the one after gives its old place back).
            limit = limit.saturating_sub(log_pages);
        }
        let mut moved = 0;
        if limit >= self.pages.page_count {
            return Ok(None); // nothing reusable: no page can move lower
        }
        let mut tables = LeafScan::new(read_leaves);
        self.rewrite_tables(|_, pages, _, tree| {
            tree.root = relocate(pages, tree.root, limit, &mut moved, &mut tables)?;
            Ok(())
        })?;
        let (catalog, mut scan) = (self.catalog.root, LeafScan::new(true));
        self.catalog.root = relocate(&mut self.pages, catalog, limit, &mut moved, &mut scan)?;
        self.pages.relocate_freelist(limit, &mut moved)?;
        self.moved += moved;
        Ok(Some(tables.found_overflow))
    }

    /// Runs `edit` on the name and tree of every table in the catalog, in name order (not
    /// through open tables: the caller flushed them), recording each tree that changed.
    fn rewrite_tables(
        &mut self,
        mut edit: impl FnMut(&str, &mut WriterPages, &mut Scratch, &mut TreeRoot) -> Result<()>,
    ) -> Result<()> {
        for name in super::read::list_tables(&self.pages, self.catalog)? {
            let Some(b) = btree::get(&self.pages, self.catalog.root, name.as_bytes())? else {
                continue;
            };
            let mut tree = catalog::decode(self.catalog.root.pgno, b)?;
            let before = tree;
            edit(
                &name,
                &mut self.pages,
                scratch(&mut self.scratch),
                &mut tree,
            )?;
            if tree != before {
                self.write_root(&name, &tree)?;
            }
        }
        Ok(())
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

    /// Opens table `name`, creating it (empty) if it does not exist; returns its index among
    /// the open tables. (`open_table`, which makes a `RawTable` of it, lives with the tables, in
    /// `table/raw.rs`.)
    pub(crate) fn open_table_index(&mut self, name: &str) -> Result<usize> {
        catalog::check_name(name)?;
        self.check_failed()?;
        let idx = match self.tables.iter().position(|t| t.name == name) {
            Some(i) => i,
            None => {
                let found = self.stored_root(name)?;
                self.tables.push(OpenTable {
                    name: name.to_string(),
                    tree: found.unwrap_or_default(),
                    dirty: found.is_none(),
                    stored: found.is_some(),
                });
                self.tables.len() - 1
            }
        };
        self.ops.table(idx, name);
        Ok(idx)
    }

    /// Deletes table `name` and frees its pages. Returns true if it existed.
    pub fn delete_table(&mut self, name: &str) -> Result<bool> {
        catalog::check_name(name)?;
        self.check_failed()?;
        let r = self.delete_table_inner(name);
        if matches!(r, Ok(true)) {
            self.ops.delete_table(name);
        }
        self.note(r)
    }

    fn delete_table_inner(&mut self, name: &str) -> Result<bool> {
        // A table that does not exist: nothing to do (the catalog keeps its kept-out roots).
        if !self.tables.iter().any(|t| t.name == name) && self.stored_root(name)?.is_none() {
            return Ok(false);
        }
        // The catalog tree must hold every root, so that the deleted table's is gone from all.
        self.flush_catalog()?;
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
                scratch(&mut self.scratch),
                &mut self.catalog,
                name.as_bytes(),
            )?;
        }
        mutate::free_tree(&mut self.pages, tree)?;
        Ok(true)
    }

    /// Names of all tables as this transaction sees them, in byte order: the catalog's names
    /// and those of the tables it created and has not written into the catalog yet. (The
    /// catalog names every other table, those whose roots are kept out of it included, and a
    /// deleted table is gone from both.)
    pub fn list_tables(&mut self) -> Result<Vec<String>> {
        self.check_failed()?;
        let mut names = super::read::list_tables(&self.pages, self.catalog)?;
        let new = self.tables.iter().filter(|t| !t.stored);
        names.extend(new.map(|t| t.name.clone()));
        names.sort_unstable(); // `String`'s order is its bytes'
        names.dedup();
        Ok(names)
    }

    fn check_key_value(&self, key: &[u8], value_len: usize) -> Result<()> {
        let max = btree::max_key_len(self.pages.page_size());
        if key.is_empty() {
            return Err(Error::EmptyKey);
        }
        if key.len() > max {
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
        let r = mutate::insert(
            &mut self.pages,
            scratch(&mut self.scratch),
            &mut t.tree,
            key,
            value,
        );
        t.dirty = true;
        if r.is_ok() {
            self.ops.table(idx, &self.tables[idx].name);
            self.ops.insert(key, value);
        }
        self.note(r)
    }

    pub(crate) fn remove(&mut self, idx: usize, key: &[u8]) -> Result<bool> {
        if key.is_empty() || key.len() > btree::max_key_len(self.pages.page_size()) {
            return Ok(false);
        }
        self.check_failed()?;
        let t = &mut self.tables[idx];
        let r = mutate::remove(
            &mut self.pages,
            scratch(&mut self.scratch),
            &mut t.tree,
            key,
        );
        if matches!(r, Ok(true)) {
            t.dirty = true;
            self.ops.table(idx, &self.tables[idx].name);
            self.ops.remove(key);
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
    ///
    /// A commit normally appends one record to the commit log (and, if `Immediate`, waits for a
    /// sync that covers it, shared with the commits of other threads); its tree pages join the write
    /// window (readers find them there), reach the file when the window is flushed, and the disk
    /// at the next checkpoint. A commit too large for the log,
    /// or one that finds the log full, is a checkpoint itself (docs/FORMAT.md section 13).
    pub fn commit(mut self) -> Result<()> {
        self.commit_steps()
    }

    /// Commits ([`Self::commit`]) and returns how many live pages the commit moved to lower page
    /// numbers (compaction).
    pub(crate) fn commit_counting_moves(mut self) -> Result<u64> {
        self.commit_steps()?;
        Ok(self.moved)
    }

    /// The steps of [`Self::commit`].
    fn commit_steps(&mut self) -> Result<()> {
        let started = Instant::now();
        self.check_failed()?;
        self.shared.check_poisoned()?;
        // Step 1: record changed table roots, in the catalog or kept out of it.
        let r = self.record_roots();
        let mut deferred = self.note(r)?;
        // (A checkpoint forced to record the base version's spare pages has work to do.)
        let records_spare = self.checkpoint && self.base.has_unrecorded_free();
        if self.pages.is_clean() && !self.compacting && !records_spare && !self.recording_free {
            return Ok(());
        }
        // Step 2: give back the free run at the end of the file (all of it when this commit will
        // likely be a checkpoint, which then truncates the file; spare pages in that run go with
        // it); then the log region: allocate one, or a larger one, if this file needs it.
        let pull_all = self.full_trim_due();
        let r = self.pages.trim_tail(pull_all);
        self.note(r)?;
        let r = self.plan_log_region(pull_all);
        let region = self.note(r)?;
        let shared = self.shared.clone();
        // Step 3: decide between a log record and a checkpoint (step 6), then record freed pages
        // in the freelist tree; free pages taken but unused too at a checkpoint, otherwise they
        // stay in memory with the new version (its spare pages).
        let record = self.log_record(region.is_some());
        if record.is_none() && !deferred.is_empty() {
            // A checkpoint's catalog is complete.
            let r = self.write_deferred(&deferred);
            self.note(r)?;
            deferred = Arc::new([]);
        }
        let r = self.pages.finish_freelist(record.is_some());
        self.note(r)?;
        let spare: Arc<[u64]> = match record {
            Some(_) => self.pages.take_spare(),
            None => Arc::new([]),
        };
        let (pending, old_frees) = self.pages.take_pending();
        let ps = shared.page_size;
        let log = region.unwrap_or(self.base.log);
        let page_count = self.pages.page_count;
        // Step 4: make room (preallocation fails cleanly on a full disk), map any new space.
        shared.store.grow(page_count * ps as u64, ps)?;
        let view = self.base.view.resized(&shared.store, page_count)?;
        // Step 5: the pages go to the write window (or, for a large commit, into the file, each
        // sealed with its checksum), into space no snapshot and no checkpoint reads. (A new log
        // region is zeroed later, as records reach it.)
        self.id_may_be_on_disk = true;
        let (txn, checkpoint) = (self.pages.txn_id(), record.is_none());
        let (dirty, unused) = self.pages.dirty_and_unused();
        // Free pages no version reaches: the spare pages a log record leaves with the version.
        let unused = if checkpoint { unused } else { &spare[..] };
        let placed = shared.place_pages(&self.base.view, dirty, view, txn, checkpoint, unused);
        let view = match placed {
            Ok(view) => view,
            Err(e) => {
                shared.poison(&e);
                return Err(e);
            }
        };
        let version = Arc::new(Version {
            txn,
            catalog: self.catalog.root,
            freelist: self.pages.freelist.root,
            log,
            view,
            spare,
            pending,
            old_frees,
            spare_complete: true,
            deferred,
        });
        // Step 6: append the log record, or checkpoint.
        match record {
            Some(rec) => {
                let need = shared.append(&rec, version, self.durability)?;
                // The next writer may start while this commit waits for its sync.
                self.guard = None;
                if need > 0 {
                    shared.wait_durable(need)?;
                }
            }
            None => shared.checkpoint(&version)?,
        }
        shared.metrics.committed(started.elapsed());
        Ok(())
    }

    /// This commit's log record, or None if the commit is to be a checkpoint (step 6 of
    /// [`WriteTxn::commit`]): forced, a new log region, too many held-back pages of the last
    /// checkpoint, or operations that do not fit in the record or in what is left of the log.
    fn log_record(&mut self, new_region: bool) -> Option<Vec<u8>> {
        let shared = &self.shared;
        let freed_old = self.pages.freed_old_count() as u64;
        let held_back = shared.hold_back(freed_old, self.pages.page_count);
        let ops = std::mem::replace(&mut self.ops, OpRecorder::new(0));
        if held_back || new_region || self.checkpoint {
            return None;
        }
        ops.finish(shared.meta.lock().log_gen, self.pages.txn_id())
            .filter(|rec| super::log::aligned(rec.len() as u64) <= shared.log.room())
    }

    /// Commits without writing: the new version's pages stay in memory, over the file's (a
    /// read-only handle replaying the commit log), and it is published at once.
    pub(crate) fn commit_in_memory(mut self) -> Result<()> {
        self.flush_catalog()?;
        self.pages.finish_freelist(false)?;
        let (txn, catalog) = (self.pages.txn_id(), self.catalog.root);
        let (page_count, freelist) = (self.pages.page_count, self.pages.freelist.root);
        let view = self
            .base
            .view
            .with_overlay(page_count, self.pages.take_sealed());
        let version = Arc::new(Version {
            txn,
            catalog,
            freelist,
            log: self.base.log,
            view,
            spare: Arc::new([]),
            pending: Arc::new([]),
            old_frees: Default::default(),
            spare_complete: true,
            deferred: Arc::new([]),
        });
        *self.shared.latest.lock() = version.clone();
        // Registered under the checkpoint's txn: the pages this version reads from the file are
        // the checkpoint's (a read-only handle pins that txn in its reader slot).
        self.shared.current.publish(self.base.txn, version);
        self.id_may_be_on_disk = true;
        Ok(())
    }

    /// Decides whether this commit gives the file a (larger) commit log region: none yet, or one
    /// much smaller than the file now calls for (a sixteenth of the file, or what bursts of small
    /// commits called for, up to the file's size or [`MIN_BURST_CAP`]: [`Shared::log_burst`];
    /// within [`MIN_LOG_BYTES`] ..=
    /// the configured capacity). Returns the new region (first page, pages)
    /// after allocating it and freeing the old one; such a commit is a checkpoint.
    ///
    /// After a full trim (`moved`), a region that ends the file with a free tail below it moves
    /// into a free run lower in the file, so that the next checkpoint can give that tail back;
    /// and one more than four times what the live pages call for is replaced by a smaller one.
    /// Compaction replaces any larger region by the smallest, [`MIN_LOG_BYTES`].
    fn plan_log_region(&mut self, moved: bool) -> Result<Option<(u64, u64)>> {
        let ps = self.shared.page_size as u64;
        let max = self.shared.config.log_capacity;
        if max == 0 {
            return Ok(None);
        }
        // After a full trim the live pages are known (all but the reusable ones): size the
        // region from them, without itself, so that a region sized when the file was large
        // shrinks with it.
        let data = match moved {
            true => (self.pages.relocation_limit()).saturating_sub(self.base.log.1),
            false => self.pages.page_count,
        } * ps;
        let have = self.base.log.1 * ps;
        // A full log (the only reason for a full trim besides these two) may call for more.
        let full = moved && !self.checkpoint && !self.compacting;
        let burst = (self.shared.log_burst(full, have)).min(data.max(MIN_BURST_CAP));
        let want = match self.compacting {
            // Compaction leaves the smallest region: the log grows again when commits fill it.
            true => MIN_LOG_BYTES.min(max),
            false => (data / LOG_FRACTION)
                .next_power_of_two()
                .max(burst)
                .clamp(MIN_LOG_BYTES.min(max), max),
        };
        let oversized = moved && (have > 4 * want || (self.compacting && have > want));
        if !oversized
            && (have >= want || (have > 0 && have * 4 > want && have >= MIN_LOG_BYTES.min(max)))
        {
            if !moved {
                return Ok(None);
            }
            let Some(start) = self.pages.move_region(self.base.log, self.compacting)? else {
                return Ok(None);
            };
            self.pages.free_region(self.base.log);
            self.moved += self.base.log.1;
            return Ok(Some((start, self.base.log.1)));
        }
        let npages = want.div_ceil(ps).max((REC_HEADER as u64).div_ceil(ps));
        if self.base.log.1 > 0 {
            self.pages.free_region(self.base.log);
        }
        Ok(Some((self.pages.alloc_region(npages)?, npages)))
    }

    /// Whether this commit looks for the whole free tail of the file (pulling every reusable
    /// freelist entry, which it then writes back): when it will be a checkpoint, which truncates
    /// the file. Without a log every commit is one, so there only every
    /// [`FULL_TRIM_EVERY`]th commit does it, to keep small commits from rewriting the freelist.
    fn full_trim_due(&self) -> bool {
        if self.compacting || self.checkpoint {
            return true;
        }
        if self
            .shared
            .log
            .capacity()
            .min(self.shared.config.log_capacity)
            == 0
        {
            return self.pages.txn_id() % FULL_TRIM_EVERY == 0;
        }
        self.ops.exceeds(self.shared.log.room())
    }
}

/// Where compaction's packing of the leaves ([`WriteTxn::repack_tables`]) goes on in its next
/// pass: the table being packed (by name) and the key of the bottom branch to start at (None:
/// that table is done). A new cursor starts at the first table.
#[derive(Default)]
pub(crate) struct RepackCursor {
    at: Option<(String, Option<crate::btree::key::SmallKey>)>,
    /// Every table is packed.
    pub done: bool,
}
