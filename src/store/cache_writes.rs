//! What a commit does to the page cache: the frames of the pages it wrote take their new contents,
//! and the large values it wrote are cached while the cache has room for them.
#![allow(unsafe_code)]

use super::{Frame, PageCache, Policy};
use crate::store::frame::copy_of;
use crate::store::policy::ReplacementPolicy;
use crate::store::slots::Entry;
use std::sync::atomic::Ordering;

impl PageCache {
    /// After a commit wrote `pages` (`(pgno, bytes)`, whole pages, each a page or an overflow
    /// run), before it publishes them: every cached frame at those page numbers takes its new
    /// contents (a frame of another length than what was written there leaves the cache), and
    /// each large value written is cached if it fits in the room the cache has left (a write
    /// evicts nothing). Readers still holding an old frame cannot reach these pages (they were
    /// free in every live snapshot), so they are unaffected.
    pub fn overwrite(&self, pages: &[(u64, &[u8])]) {
        let ps = self.page_size;
        let mut policy = self.policy.lock();
        let mut replaced = Vec::new();
        for &(first, bytes) in pages {
            for (i, page) in bytes.chunks_exact(ps).enumerate() {
                let pgno = first + i as u64;
                let current = self.slots.get(pgno);
                if current.is_null() {
                    if i == 0 && bytes.len() > ps {
                        self.cache_written_run(&mut policy, first, bytes);
                    }
                    continue;
                }
                // SAFETY: entries leave the table only under the policy lock, which this holds,
                // so `current` is allocated until it is retired below.
                let len = unsafe { &*current }.len();
                // (A frame that cannot be allocated leaves the cache instead.)
                let new = if len == ps {
                    // A page frame as a read takes one (the pool, the slabs): counted.
                    Some(self.frame_copy(page))
                } else if i == 0 && len == bytes.len() {
                    copy_of(bytes, ps).ok().inspect(|f| {
                        let pages = f.len() / ps;
                        self.counters.allocated.fetch_add(pages, Ordering::Relaxed);
                    })
                } else {
                    None
                };
                match new {
                    Some(frame) => {
                        if let Some(old) = self.put(pgno, current, frame) {
                            replaced.push(old);
                        }
                    }
                    None => {
                        // A large value's run cached at a page now written as something else
                        // (or a frame that could not be replaced): it leaves the cache; the
                        // policy keeps its key, weighing nothing.
                        replaced.extend(self.slots.take(pgno));
                        if policy.arc.is_resident(pgno) {
                            policy.set_weight(pgno, 0);
                        }
                    }
                }
            }
        }
        drop(policy);
        self.retire(replaced);
    }

    /// In a read-only handle, after the writer (another handle) rewrote the pages at `pgnos`,
    /// or, with `pgnos` None, any page: their cached frames leave the cache (readers still
    /// holding them keep them until they leave; they cannot reach these pages), so the next read
    /// of each takes its new contents from the file. The policy keeps their keys, weighing
    /// nothing.
    pub fn forget(&self, pgnos: Option<&[u64]>) {
        let mut policy = self.policy.lock();
        let all: Vec<u64>;
        let pgnos = match pgnos {
            Some(p) => p,
            None => {
                use crate::store::arc::ArcList;
                all = (policy.arc.keys(ArcList::T1))
                    .chain(policy.arc.keys(ArcList::T2))
                    .collect();
                &all
            }
        };
        let mut gone = Vec::new();
        for &pgno in pgnos {
            if let Some(e) = self.slots.take(pgno) {
                gone.push(e);
                if policy.arc.is_resident(pgno) {
                    policy.set_weight(pgno, 0);
                }
            }
        }
        drop(policy);
        self.retire(gone);
    }

    /// Under the policy lock: puts `frame` (counted as allocated) in page `pgno`'s slot if it
    /// still holds `current`; returns the entry it replaced.
    fn put(&self, pgno: u64, current: *const Entry, frame: Frame) -> Option<Box<Entry>> {
        let pages = frame.len() / self.page_size;
        let entry = Entry::new(frame);
        // Readers only fill empty slots, and entries leave the table only under the policy lock:
        // the slot still holds `current`.
        let Ok(old) = self.slots.replace_if(pgno, current, entry) else {
            self.counters.allocated.fetch_sub(pages, Ordering::Relaxed);
            return None;
        };
        self.counters.resident.fetch_add(pages, Ordering::Relaxed);
        old
    }

    /// Under the policy lock: caches the large value's run `bytes` just written at `first`
    /// (whose slot is empty) if the cache takes runs that large and has room for it without
    /// evicting anything, so that reading a value just written costs no read of the file.
    fn cache_written_run(&self, policy: &mut Policy, first: u64, bytes: &[u8]) {
        let pages = bytes.len() / self.page_size;
        let queued = self.queued.lock().pages;
        let room = policy.arc.capacity() - policy.pages.min(policy.arc.capacity());
        if pages as u64 > self.max_run || pages + queued > room || policy.arc.is_resident(first) {
            return;
        }
        let Ok(frame) = copy_of(bytes, self.page_size) else {
            return;
        };
        let entry = Entry::new(frame);
        if self
            .slots
            .replace_if(first, std::ptr::null(), entry)
            .is_err()
        {
            return;
        }
        self.counters.allocated.fetch_add(pages, Ordering::Relaxed);
        self.counters.resident.fetch_add(pages, Ordering::Relaxed);
        // As a replayed miss would: a new key of the policy, weighing its pages.
        let hit = policy.arc.access(first, &mut policy.evicted);
        debug_assert!(policy.evicted.is_empty(), "room was checked");
        policy.admitted(first, pages, hit);
        self.drop_evicted(policy);
    }
}
