//! The transaction's table roots and the catalog tree: where a table's root is looked up, and
//! how a commit records the roots it changed: in the catalog tree, or (a small commit that
//! appends a log record) kept out of it, as the new version's deferred roots
//! (`Version::deferred`), so that the catalog's leaf is not copied and written on every commit
//! (docs/FORMAT.md section 13, step 1).

use super::{scratch, WriteTxn};
use crate::btree::{mutate, TreeRoot};
use crate::catalog;
use crate::error::Result;
use crate::txn::{DeferredRoot, MAX_DEFERRED_ROOTS};
use std::sync::Arc;

impl WriteTxn {
    /// The root of table `name` as this transaction found it: the base version's deferred root
    /// (unless this transaction wrote those into its catalog tree), otherwise the catalog's
    /// entry; None if the table does not exist.
    pub(super) fn stored_root(&self, name: &str) -> Result<Option<TreeRoot>> {
        let deferred: &[DeferredRoot] = match self.deferred_written {
            false => &self.base.deferred,
            true => &[],
        };
        crate::txn::find_root(&self.pages, self.catalog.root, deferred, name)
    }

    /// Writes the roots of changed tables into the catalog tree, and first the roots the base
    /// version kept out of it: the catalog tree is complete afterwards.
    pub(super) fn flush_catalog(&mut self) -> Result<()> {
        if !self.deferred_written {
            let base = self.base.deferred.clone();
            for d in base.iter() {
                // An open table changed here is written below, with its newer root.
                let newer = self.tables.iter().any(|t| t.dirty && t.name == *d.name);
                if !newer {
                    self.write_root(&d.name, &d.tree)?;
                }
            }
            self.deferred_written = true;
        }
        for i in 0..self.tables.len() {
            if self.tables[i].dirty {
                let (name, tree) = (
                    std::mem::take(&mut self.tables[i].name),
                    self.tables[i].tree,
                );
                let r = self.write_root(&name, &tree);
                self.tables[i].name = name;
                r?;
                self.tables[i].dirty = false;
            }
        }
        Ok(())
    }

    /// Writes `tree` into the catalog tree as table `name`'s entry.
    pub(super) fn write_root(&mut self, name: &str, tree: &TreeRoot) -> Result<()> {
        let value = catalog::encode(tree);
        mutate::insert(
            &mut self.pages,
            scratch(&mut self.scratch),
            &mut self.catalog,
            name.as_bytes(),
            &value,
        )?;
        Ok(())
    }

    /// Commit step 1: records the roots of the tables this transaction changed. Returns the
    /// roots the new version keeps out of its catalog tree: if the commit may append a log
    /// record and every changed table already has a catalog entry, the changed roots and the
    /// base version's other deferred ones (at most [`MAX_DEFERRED_ROOTS`]), and the catalog
    /// tree is left as it is; otherwise none, after writing them all into the catalog tree.
    /// (Step 3 writes them in after all if the commit turns out to be a checkpoint:
    /// [`WriteTxn::write_deferred`].)
    pub(super) fn record_roots(&mut self) -> Result<Arc<[DeferredRoot]>> {
        if self.may_defer_roots() {
            if let Some(deferred) = self.deferred_roots() {
                for t in self.tables.iter_mut() {
                    t.dirty = false;
                }
                return Ok(deferred);
            }
        }
        self.flush_catalog()?;
        Ok(Arc::new([]))
    }

    /// Whether this commit may keep table roots out of the catalog tree: it is not forced to be
    /// a checkpoint, the database has a commit log, this transaction did not write the base
    /// version's deferred roots into its catalog, and no read-only handle in another process
    /// is attached (every version they read needs a complete catalog: docs/FORMAT.md section
    /// 18).
    fn may_defer_roots(&self) -> bool {
        !self.checkpoint
            && !self.compacting
            && !self.recording_free
            && !self.deferred_written
            && self.shared.config.log_capacity > 0
            && !self.shared.write_through()
    }

    /// The new version's deferred roots if this commit keeps its changed roots out of the
    /// catalog tree: None if a changed table has no catalog entry yet (a new one), or if they
    /// would be more than [`MAX_DEFERRED_ROOTS`].
    fn deferred_roots(&self) -> Option<Arc<[DeferredRoot]>> {
        let base = &self.base.deferred;
        let mut changed = self.tables.iter().filter(|t| t.dirty).peekable();
        if changed.peek().is_none() {
            return Some(base.clone());
        }
        if self.tables.iter().any(|t| t.dirty && !t.stored) {
            return None;
        }
        let is_changed = |name: &str| self.tables.iter().any(|t| t.dirty && t.name == name);
        let mut list: Vec<DeferredRoot> = (base.iter())
            .filter(|d| !is_changed(&d.name))
            .cloned()
            .collect();
        for t in changed {
            let name = match base.iter().find(|d| *d.name == t.name) {
                Some(d) => d.name.clone(),
                None => Arc::from(t.name.as_str()),
            };
            list.push(DeferredRoot { name, tree: t.tree });
        }
        (list.len() <= MAX_DEFERRED_ROOTS).then(|| list.into())
    }

    /// Commit step 3, for a commit that turned out to be a checkpoint after step 1 kept
    /// `deferred` out of the catalog tree: writes them into it.
    pub(super) fn write_deferred(&mut self, deferred: &[DeferredRoot]) -> Result<()> {
        for d in deferred {
            self.write_root(&d.name, &d.tree)?;
        }
        Ok(())
    }
}
