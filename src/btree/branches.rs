//! Compaction's packing of the branch levels: once the leaves are packed
//! ([`super::sweep::repack`]), a tree's branches are rebuilt bottom-up, each level's cells (a
//! child and the separator below it) written into as few pages as hold them, the last two
//! balanced so that neither is underfull. The leaves stay where they are: only their pointers
//! move, unchanged, into the new bottom branches.
//!
//! The old bottom branches are read one at a time, in key order, and each new level is built as
//! its cells come: once a level holds more than [`HELD_PAGES`] pages' worth, all but the last
//! two pages' worth are written and their separators passed up. Memory is a few pages per level
//! plus one entry per old branch, whatever the number of leaves.

use super::mutate::Scratch;
use super::sweep::pack;
use super::{node, PageSource, PageStore, TreeRoot, MAX_DEPTH};
use crate::error::{corrupted, Result};
use crate::page::cells::{fits, CellList};
use crate::page::node::{cell_child, BranchCell, CellSrc};
use crate::page::{PagePtr, HEADER_LEN, KIND_BRANCH};

/// A new level's cells are written out (all but the last two pages' worth) once they take more
/// than this many pages.
const HELD_PAGES: usize = 3;

/// Rebuilds the branches of `tree` packed densely (see the module docs), if its bottom branches'
/// cells fit in at least two pages fewer than they take; returns how many branch pages fewer the
/// tree has. The old branches are freed. A tree whose root is a leaf is left as it is.
pub(crate) fn pack_branches<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
) -> Result<u64> {
    let levels = branch_levels(s, tree)?;
    let Some(bottom) = levels.last() else {
        return Ok(0);
    };
    let usable = s.page_size() - HEADER_LEN;
    let mut bytes = 0;
    for (ptr, _) in bottom {
        bytes += node(s, *ptr)?.used();
    }
    if bytes.div_ceil(usable) + 2 > bottom.len() {
        return Ok(0);
    }
    let mut b = Builder::new(s.page_size());
    let mut cells = CellList::default();
    for (ptr, lower) in bottom {
        cells.clear();
        {
            let n = node(s, *ptr)?;
            for i in 0..n.count() {
                let key = if i == 0 { lower.as_slice() } else { n.key(i)? };
                cells.push(&BranchCell {
                    child: n.child(i)?,
                    key,
                });
            }
        }
        for i in 0..cells.len() {
            b.add(s, 0, &cells.get(i))?;
        }
    }
    tree.root = b.finish(s)?;
    sc.rightmost = None; // it remembered a path through the old branches
    let old = levels.iter().map(|l| l.len() as u64).sum::<u64>();
    for (ptr, _) in levels.iter().flatten() {
        s.free(*ptr, 1);
    }
    Ok(old.saturating_sub(b.written))
}

/// How many bottom branches (branches whose children are leaves) `tree` has, from its branch
/// levels ([`branch_levels`]).
pub(crate) fn bottom_branches<S: PageSource>(s: &S, tree: &TreeRoot) -> Result<u64> {
    Ok(branch_levels(s, tree)?.last().map_or(0, |l| l.len() as u64))
}

/// One level of branches, in key order, each with its lower separator.
type Level = Vec<(PagePtr, Vec<u8>)>;

/// The branch levels of `tree` from the root down to the bottom branches (whose children are
/// leaves), each branch with its lower separator: the key its parent's cell holds (for a cell 0,
/// the one above it), empty for a level's first branch. Empty if the root is a leaf or the tree
/// is empty. Below the branches, only the first child of the first bottom branch is read.
fn branch_levels<S: PageSource>(s: &S, tree: &TreeRoot) -> Result<Vec<Level>> {
    let mut levels = Vec::new();
    if tree.root.is_null() || node(s, tree.root)?.is_leaf() {
        return Ok(levels);
    }
    let mut level = vec![(tree.root, Vec::new())];
    for _ in 0..MAX_DEPTH {
        let first = node(s, level[0].0)?.child(0)?;
        let leaves_below = node(s, first)?.is_leaf();
        let mut next = Vec::new();
        for (ptr, lower) in &level {
            let n = node(s, *ptr)?;
            if n.is_leaf() {
                return Err(corrupted(
                    ptr.pgno,
                    "a leaf among the branches of one level",
                ));
            }
            for i in (0..n.count()).filter(|_| !leaves_below) {
                let key = if i == 0 {
                    lower.clone()
                } else {
                    n.key(i)?.to_vec()
                };
                next.push((n.child(i)?, key));
            }
        }
        levels.push(std::mem::replace(&mut level, next));
        if leaves_below {
            return Ok(levels);
        }
    }
    Err(corrupted(
        tree.root.pgno,
        "tree deeper than the maximum depth",
    ))
}

/// The new branch levels as they are built, from the bottom one (level 0, whose cells point at
/// the leaves) up.
struct Builder {
    /// The cells of each level not written yet.
    levels: Vec<CellList>,
    /// Whether each level wrote a page already.
    wrote: Vec<bool>,
    page_size: usize,
    /// Branch pages written.
    written: u64,
}

impl Builder {
    fn new(page_size: usize) -> Builder {
        Builder {
            levels: Vec::new(),
            wrote: Vec::new(),
            page_size,
            written: 0,
        }
    }

    /// Adds a cell to level `level`, writing the level's first pages once it holds more than
    /// [`HELD_PAGES`] pages' worth.
    fn add<S: PageStore>(&mut self, s: &mut S, level: usize, cell: &impl CellSrc) -> Result<()> {
        if level == self.levels.len() {
            if level >= MAX_DEPTH {
                return Err(corrupted(
                    0,
                    "packed branches deeper than the maximum depth",
                ));
            }
            self.levels.push(CellList::default());
            self.wrote.push(false);
        }
        let list = &mut self.levels[level];
        list.push(cell);
        if list.size(0..list.len()) > HELD_PAGES * (self.page_size - HEADER_LEN) {
            self.write(s, level, true)?;
        }
        Ok(())
    }

    /// Writes the cells of `level` as packed pages (all but the last two pages' worth, with
    /// `keep_two`, which stay in the level), adding a cell for each page to the level above.
    fn write<S: PageStore>(&mut self, s: &mut S, level: usize, keep_two: bool) -> Result<()> {
        let list = std::mem::take(&mut self.levels[level]);
        let mut ends = Vec::new();
        let threshold = (self.page_size - HEADER_LEN) / 4;
        pack(&list, self.page_size, threshold, 2, &mut ends);
        let pages = match keep_two {
            true => ends.len().saturating_sub(2),
            false => ends.len(),
        };
        let txn = s.txn();
        let mut start = 0;
        for &end in &ends[..pages] {
            let pgno = s.alloc(1)?;
            list.write_page(start..end, s.page_mut(pgno), KIND_BRANCH, txn);
            self.written += 1;
            self.wrote[level] = true;
            let up = BranchCell {
                child: PagePtr { pgno, txn },
                key: list.branch_key(start),
            };
            self.add(s, level + 1, &up)?;
            start = end;
        }
        let mut rest = CellList::default();
        rest.push_list(&list, start..list.len());
        self.levels[level] = rest;
        Ok(())
    }

    /// Writes what the levels hold and returns the new root: the first level whose cells fit in
    /// one page with none written before (the leaf itself, if the tree has a single leaf).
    fn finish<S: PageStore>(&mut self, s: &mut S) -> Result<PagePtr> {
        let mut level = 0;
        // Each level holds fewer cells than the one below (two or more per page), and a level
        // that fits in one page ends it.
        while level < self.levels.len() && level < MAX_DEPTH {
            let top = level + 1 == self.levels.len();
            if top && !self.wrote[level] && fits(&self.levels[level], self.page_size) {
                let list = &self.levels[level];
                if list.len() == 1 {
                    return Ok(cell_child(list.get(0)));
                }
                let (pgno, txn) = (s.alloc(1)?, s.txn());
                list.write_page(0..list.len(), s.page_mut(pgno), KIND_BRANCH, txn);
                self.written += 1;
                return Ok(PagePtr { pgno, txn });
            }
            self.write(s, level, false)?;
            level += 1;
        }
        Err(corrupted(
            0,
            "packed branches deeper than the maximum depth",
        ))
    }
}
