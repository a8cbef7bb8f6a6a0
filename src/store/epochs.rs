//! Epoch-based reclamation for the page cache: who is reading, and which entries removed from the
//! cache wait for them.
//!
//! A transaction that reads through the cache first *enters* it under the current epoch. An
//! entry removed from the cache's table (evicted, or replaced by a commit) is *retired* under the
//! current epoch, and the epoch advances; it is freed only once every transaction that entered at
//! or before that epoch has left, so no pointer or slice a reader took from it can dangle.
//! (crossbeam-epoch's guards cannot be used here: they are tied to a thread, and a read
//! transaction may move between threads.)

// Entries are retired boxed: readers hold pointers to them, so they must not move.
#![allow(clippy::vec_box)]

use super::slots::Entry;
use std::collections::{BTreeMap, VecDeque};

/// Who is reading, and what waits for them: guarded by one lock (the page cache's), so an epoch
/// seen on entry and the retirements after it are ordered.
#[derive(Default)]
pub(crate) struct Epochs {
    /// The current epoch: advances at every retirement.
    current: u64,
    /// Transactions inside the cache, by the epoch they entered at.
    readers: BTreeMap<u64, usize>,
    /// Entries removed from the table, by the epoch they were retired at (ascending).
    retired: VecDeque<(u64, Vec<Box<Entry>>)>,
    /// How many pages the retired entries hold.
    retired_pages: usize,
}

impl Epochs {
    /// Registers a reader; returns the epoch to leave with.
    pub fn enter(&mut self) -> u64 {
        let epoch = self.current;
        *self.readers.entry(epoch).or_default() += 1;
        epoch
    }

    /// Unregisters a reader that entered at `epoch`.
    pub fn leave(&mut self, epoch: u64) {
        if let std::collections::btree_map::Entry::Occupied(mut o) = self.readers.entry(epoch) {
            *o.get_mut() -= 1;
            if *o.get() == 0 {
                o.remove();
            }
        }
    }

    /// Retires `entries` (holding `pages` pages) under the current epoch, and advances it.
    pub fn retire(&mut self, entries: Vec<Box<Entry>>, pages: usize) {
        let epoch = self.current;
        self.current += 1;
        self.retired_pages += pages;
        self.retired.push_back((epoch, entries));
    }

    /// Pages the retired entries hold.
    pub fn retired_pages(&self) -> usize {
        self.retired_pages
    }

    /// Hands every retired entry that no reader can hold any more to `free`, with its pages.
    pub fn collect(&mut self, page_size: usize, mut free: impl FnMut(Box<Entry>)) {
        let oldest = self.readers.keys().next().copied().unwrap_or(u64::MAX);
        while self
            .retired
            .front()
            .is_some_and(|(epoch, _)| *epoch < oldest)
        {
            let Some((_, entries)) = self.retired.pop_front() else {
                break;
            };
            for e in entries {
                self.retired_pages -= e.len() / page_size;
                free(e);
            }
        }
    }
}
