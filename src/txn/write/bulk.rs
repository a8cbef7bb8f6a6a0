//! The transaction core's bulk removals on a table (clear, sweep for retain and extract_if,
//! range removal, pop) and what the table layer asks about its tables. Each logs what the commit log needs to replay it: a sweep logs each key it removes;
//! a clear logs the table's deletion and re-creation; a range removal that cut whole subtrees
//! (whose keys it never read) makes the commit a checkpoint.

use super::WriteTxn;
use crate::btree::bulk;
use crate::btree::key::SmallKey;
use crate::btree::mutate;
use crate::btree::sweep::{self, Budget};
use crate::error::Result;
use crate::txn::log::OpRecorder;
use std::ops::Bound;

impl WriteTxn {
    /// Empties the table at `idx`, freeing its pages without visiting its entries one by one.
    pub(crate) fn clear(&mut self, idx: usize) -> Result<()> {
        self.check_failed()?;
        let t = &mut self.tables[idx];
        let tree = std::mem::take(&mut t.tree);
        t.dirty = true;
        let r = mutate::free_tree(&mut self.pages, tree).map(|_| ());
        if r.is_ok() && tree.count > 0 {
            self.ops.delete_table(&t.name);
            self.ops.table(idx, &t.name);
        }
        self.note(r)
    }

    /// Removes the entries of the table at `idx` from `*lower` up to `upper` that `pick`
    /// selects, until `budget` is spent (see [`sweep::sweep`]).
    pub(crate) fn sweep(
        &mut self,
        idx: usize,
        lower: &mut Bound<SmallKey>,
        upper: Bound<&[u8]>,
        budget: Budget,
        pick: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(u64, bool)> {
        self.check_failed()?;
        let t = &mut self.tables[idx];
        let ops = &mut self.ops;
        ops.table(idx, &t.name);
        let mut logged = |k: &[u8], v: &[u8]| {
            let yes = pick(k, v);
            if yes {
                ops.remove(k);
            }
            yes
        };
        let (pages, sc) = (&mut self.pages, super::scratch(&mut self.scratch));
        let before = t.tree;
        let r = sweep::sweep(pages, sc, &mut t.tree, lower, upper, budget, &mut logged);
        if t.tree != before || r.is_err() {
            t.dirty = true;
        }
        self.note(r)
    }

    /// Removes every entry of the table at `idx` in `lower..upper`; returns how many.
    pub(crate) fn remove_range(
        &mut self,
        idx: usize,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<u64> {
        self.check_failed()?;
        let t = &mut self.tables[idx];
        let ops = &mut self.ops;
        ops.table(idx, &t.name);
        t.dirty = true;
        let (pages, sc) = (&mut self.pages, super::scratch(&mut self.scratch));
        let r = bulk::remove_range(pages, sc, &mut t.tree, lower, upper, &mut |k| ops.remove(k));
        if let Ok((_, true)) = r {
            // Keys went unread: no log record can replay this; commit as a checkpoint.
            self.ops = OpRecorder::new(0);
        }
        self.note(r.map(|(n, _)| n))
    }

    /// Removes the first (or last) entry of the table at `idx`, handing it to `out` first;
    /// false if the table is empty.
    pub(crate) fn pop(
        &mut self,
        idx: usize,
        first: bool,
        out: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<bool> {
        self.check_failed()?;
        let t = &mut self.tables[idx];
        let ops = &mut self.ops;
        ops.table(idx, &t.name);
        let (pages, sc) = (&mut self.pages, super::scratch(&mut self.scratch));
        let r = bulk::pop(pages, sc, &mut t.tree, first, &mut |k, v| {
            ops.remove(k);
            out(k, v)
        });
        if matches!(r, Ok(true)) {
            t.dirty = true;
        }
        self.note(r)
    }

    /// The name of the table at `idx`.
    pub(crate) fn table_name(&self, idx: usize) -> &str {
        &self.tables[idx].name
    }

    /// True if table `name` exists as this transaction sees it.
    pub(crate) fn has_table(&self, name: &str) -> Result<bool> {
        if self.tables.iter().any(|t| t.name == name) {
            return Ok(true);
        }
        Ok(crate::btree::get(&self.pages, self.catalog.root, name.as_bytes())?.is_some())
    }
}
