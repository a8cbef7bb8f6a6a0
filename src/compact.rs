//! [`Database::compact`](crate::Database::compact): giving the free space of a file back to the
//! filesystem, in place, while readers keep their snapshots.
//!
//! The first three passes pack the leaves of every table densely
//! ([`crate::btree::sweep::repack`]) into the lowest free pages, a third of the bottom branches
//! each; the last of them then rebuilds every table's branch levels packed as densely
//! ([`crate::btree::branches`]). Each later pass is a write transaction committed as a
//! checkpoint that pulls every reusable freelist entry, gives back the free run at the end of
//! the file (`page_count` shrinks; the file itself is truncated once, at the end), copies the
//! live pages that lie past where the file could end (page_count minus the reusable pages) into
//! free pages below ([`crate::btree::relocate`]), and replaces the commit log region with the
//! smallest one (commits that fill it make it grow again), lower in the file. Pages a pass frees
//! (old pages of the last checkpoint) become reusable only once its checkpoint is durable, so
//! passes repeat while they gain something.

use crate::error::Result;
use crate::txn::write::{RepackCursor, WriteTxn};
use crate::txn::Shared;
use std::sync::Arc;

/// At most this many relocation passes: each one makes the previous one's freed pages reusable.
const MAX_PASSES: usize = 8;

/// The leaves are packed in this many passes ([`pack`]).
const REPACK_PASSES: u64 = 3;

/// What [`Database::compact`](crate::Database::compact) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// Length of the file before, in bytes.
    pub file_before: u64,
    /// Length of the file after, in bytes.
    pub file_after: u64,
    /// Pages in use or free before (the high-water mark, `page_count`).
    pub pages_before: u64,
    /// Pages in use or free after.
    pub pages_after: u64,
    /// Live pages moved to a lower page number (the commit log region's pages count too).
    pub pages_moved: u64,
    /// Leaves fewer after the first passes packed them densely (each bottom branch's leaves
    /// rewritten into as few pages as hold them, where that saves at least two).
    pub leaves_saved: u64,
    /// Branch pages fewer after the last packing pass rebuilt each table's branch levels
    /// packed densely (where its bottom branches' cells fit in at least two pages fewer).
    pub branches_saved: u64,
    /// Transactions committed (passes).
    pub passes: usize,
}

/// Pages in use or free in the newest commit.
fn page_count(shared: &Shared) -> u64 {
    shared.current.load_full().view.page_count()
}

/// Compacts the database of `shared` in place (see the module docs).
pub(crate) fn compact(shared: &Arc<Shared>) -> Result<Compaction> {
    let mut c = Compaction {
        file_before: shared.store.len()?,
        file_after: 0,
        pages_before: page_count(shared),
        pages_after: 0,
        pages_moved: 0,
        leaves_saved: 0,
        branches_saved: 0,
        passes: 0,
    };
    // Truncating is slow on some filesystems (ext4 mounted with `discard` waits for the
    // journal): the passes leave the length alone, and the end truncates once.
    shared.meta.lock().keep_length = true;
    let r = passes(shared, &mut c);
    shared.meta.lock().keep_length = false;
    r?;
    shared.checkpoint_and_truncate()?;
    c.file_after = shared.store.len()?;
    c.pages_after = page_count(shared);
    Ok(c)
}

/// After a pass (packing or relocation) that began on commit `base` and committed as `txn` (or
/// wrote nothing, leaving `base`), with `now` the newest commit: the commit whose tables are known
/// to hold no overflow value, if any. `read_leaves`: the pass read every leaf; `found`: whether a
/// leaf it read held an overflow value (None: it walked no tree, and learnt nothing). Another
/// writer's commit since (`now` neither) may have added overflow values.
fn clean_commit(
    read_leaves: bool,
    found: Option<bool>,
    (base, txn): (u64, u64),
    now: u64,
) -> Option<u64> {
    let clean = match found {
        Some(found_overflow) => !found_overflow,
        // Clean only if the base was known to be.
        None => !read_leaves,
    };
    (clean && (now == txn || now == base)).then_some(now)
}

/// A write transaction that commits as one of compaction's passes.
fn pass_txn(shared: &Arc<Shared>) -> Result<WriteTxn> {
    let mut w = WriteTxn::begin(shared.clone())?;
    w.compact_on_commit();
    Ok(w)
}

/// The packing passes of [`compact`], adding what they did to `c`: the leaves packed densely into
/// the lowest free pages, a third of the tables' bottom branches per pass (counted before the
/// first; the last pass takes whatever is left, which commits in between may have added, and the
/// leaves' packing may have counted differently). In thirds because a pass
/// can place its new leaves only in pages free before it (the leaves it replaces wait for its
/// checkpoint), and the low free pages of one pass are too few for every table's new leaves,
/// which then land past the new end and had to be moved again (a third of them with 1M keys,
/// half removed). Each pass frees the leaves it replaced for the next. The last one also packs
/// the branches, which the leaves' packing left with fewer children each. Returns the commit
/// known to hold no overflow value ([`clean_commit`]), if the passes read every leaf between
/// them.
fn pack(shared: &Arc<Shared>, c: &mut Compaction) -> Result<Option<u64>> {
    let (mut cursor, mut overflow, mut chained) = (RepackCursor::default(), false, true);
    let (mut per_pass, mut first_base, mut last) = (0, 0, 0);
    for pass in 0..REPACK_PASSES {
        let mut w = pass_txn(shared)?;
        let (base, txn) = (w.base_txn(), w.id());
        if pass == 0 {
            per_pass = w.bottom_branches()?.div_ceil(REPACK_PASSES).max(1);
            first_base = base;
        } else {
            // The passes read every leaf between them only if no other commit came in between.
            chained &= base == last;
        }
        let last_pass = pass + 1 == REPACK_PASSES;
        let budget = if last_pass { u64::MAX } else { per_pass };
        let (saved, found) = w.repack_tables(&mut cursor, budget)?;
        c.leaves_saved += saved;
        overflow |= found;
        let done = cursor.done; // always after the last pass, which has no budget
        if done {
            c.branches_saved += w.pack_branches()?;
        }
        c.pages_moved += w.commit_counting_moves()?;
        c.passes += 1;
        last = txn;
        if done {
            break;
        }
    }
    let now = shared.current.load_full().txn;
    Ok(chained
        .then(|| clean_commit(true, Some(overflow), (first_base, last), now))
        .flatten())
}

/// The passes of [`compact`], adding what they did to `c`.
fn passes(shared: &Arc<Shared>, c: &mut Compaction) -> Result<()> {
    // Pack the leaves densely first, into the lowest free pages; the passes below then move
    // what is left past the new end of the file.
    //
    // A pass reads the leaves it does not move only for their overflow values: once a pass
    // (the packing passes, together, read every leaf too) read them all and found none, the
    // passes after it skip them, unless another commit comes in between.
    let mut no_overflow_at = pack(shared, c)?;
    let mut idle = 0;
    for _ in 0..MAX_PASSES {
        let before = page_count(shared);
        let mut w = pass_txn(shared)?;
        let (base, txn) = (w.base_txn(), w.id());
        let read_leaves = no_overflow_at != Some(base);
        let found = w.relocate_tail(read_leaves)?;
        let moved = w.commit_counting_moves()?;
        let now = shared.current.load_full().txn;
        no_overflow_at = clean_commit(read_leaves, found, (base, txn), now);
        c.passes += 1;
        c.pages_moved += moved;
        // A pass that gained nothing may still have freed pages (its copies of the freelist's
        // pages) that only the next pass can give back: stop after two such passes in a row.
        if page_count(shared) < before || moved > 0 {
            idle = 0;
        } else {
            idle += 1;
            if idle == 2 {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clean_commit;

    #[test]
    fn a_pass_that_read_every_leaf_and_found_no_overflow_value_is_clean() {
        assert_eq!(clean_commit(true, Some(false), (10, 11), 11), Some(11));
        // It wrote nothing: its base is the newest commit, and clean.
        assert_eq!(clean_commit(true, Some(false), (10, 11), 10), Some(10));
        assert_eq!(clean_commit(true, Some(true), (10, 11), 11), None);
    }

    #[test]
    fn a_pass_that_walked_no_tree_keeps_what_was_known() {
        // Nothing known before: still nothing (the next pass reads every leaf).
        assert_eq!(clean_commit(true, None, (10, 11), 10), None);
        // Its base was clean, and so is what it committed.
        assert_eq!(clean_commit(false, None, (10, 11), 10), Some(10));
        assert_eq!(clean_commit(false, None, (10, 11), 11), Some(11));
    }

    #[test]
    fn a_skipping_pass_stays_clean_unless_a_leaf_it_moved_held_an_overflow_value() {
        assert_eq!(clean_commit(false, Some(false), (10, 11), 11), Some(11));
        assert_eq!(clean_commit(false, Some(true), (10, 11), 11), None);
    }

    #[test]
    fn another_writers_commit_makes_nothing_known() {
        assert_eq!(clean_commit(true, Some(false), (10, 11), 12), None);
        assert_eq!(clean_commit(false, None, (10, 11), 12), None);
    }
}
