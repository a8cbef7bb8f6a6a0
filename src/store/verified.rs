//! Verify before trust: the checks a backend runs on a page (or overflow run) read from the file
//! before any read relies on it, and, for the map backend, the per-open bitmap of pages that have
//! passed them (a page is verified at its first touch; every later touch costs one relaxed load
//! and a branch).
//!
//! A bit means "the bytes at this page number are a page (or the first page of a run) that
//! larchdb wrote": set after the page's checksum verified, or when this handle's writer wrote the
//! page itself. The bytes of a page change only when a writer rewrites a free page, and what it
//! writes is again a page it sealed. The writer's own handle sets the bit; a read-only handle
//! beside a writer in another process clears the bits of the pages the lock file's written ring
//! says were rewritten, before it reads a version that may reach them (`readers.rs`). A failed
//! verification sets nothing, so every read of a damaged page fails again, and the rest of the
//! database keeps working.
//!
//! The check itself lives above this layer (it knows page formats): it is handed down as a
//! [`Verifier`] when the database opens.

use crate::error::Result;
use std::sync::atomic::{AtomicU64, Ordering};

/// Checks a page or overflow run read from the file: its page number and bytes (a run is all
/// its pages). `Err(Corrupted)` names the page.
pub(crate) type Verifier = fn(u64, &[u8]) -> Result<()>;

/// Which pages of the file have been verified since the open: one bit per page, for every page
/// the map's address-space reservation covers. Pages beyond it count as not verified.
pub(crate) struct VerifiedPages {
    words: Box<[AtomicU64]>,
}

impl VerifiedPages {
    /// A bitmap for `pages` pages, none verified.
    pub fn new(pages: u64) -> VerifiedPages {
        VerifiedPages {
            words: (0..pages.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Whether page `pgno` has been verified: one relaxed load. Relaxed is enough: a thread that
    /// sees a bit another thread set re-reads the same bytes that thread verified (the map is
    /// coherent, and the page cannot change while a snapshot can reach it).
    #[inline]
    pub fn contains(&self, pgno: u64) -> bool {
        let (word, bit) = Self::locate(pgno);
        self.words
            .get(word)
            .is_some_and(|w| w.load(Ordering::Relaxed) & bit != 0)
    }

    /// Records that page `pgno` verified (or was written by this handle).
    pub fn insert(&self, pgno: u64) {
        let (word, bit) = Self::locate(pgno);
        if let Some(w) = self.words.get(word) {
            w.fetch_or(bit, Ordering::Relaxed);
        }
    }

    /// Forgets that page `pgno` verified: another handle rewrote it (a read-only handle beside
    /// a writer in another process), so its next touch verifies it again.
    pub fn remove(&self, pgno: u64) {
        let (word, bit) = Self::locate(pgno);
        if let Some(w) = self.words.get(word) {
            w.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// Forgets every verified page.
    pub fn clear(&self) {
        self.words
            .iter()
            .for_each(|w| w.store(0, Ordering::Relaxed));
    }

    /// Carries the pages `old` has verified over into this (larger) bitmap, when the file is
    /// mapped again, so that growth does not make every page verify again.
    pub fn inherit(&self, old: &VerifiedPages) {
        for (new, old) in self.words.iter().zip(old.words.iter()) {
            new.fetch_or(old.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// The word index and bit mask of page `pgno`.
    #[inline]
    fn locate(pgno: u64) -> (usize, u64) {
        (
            usize::try_from(pgno / 64).unwrap_or(usize::MAX),
            1 << (pgno % 64),
        )
    }
}

/// How a map checks its pages: the verifier and the pages that passed it.
pub(crate) struct MapChecks {
    /// The check run at a page's first touch.
    pub verify: Verifier,
    /// The pages that passed it (or that this handle wrote).
    pub verified: VerifiedPages,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_set_once_and_inherited() {
        let a = VerifiedPages::new(130);
        assert!(!a.contains(5) && !a.contains(129));
        a.insert(5);
        a.insert(129);
        a.insert(10_000); // beyond the bitmap: ignored
        assert!(a.contains(5) && a.contains(129) && !a.contains(10_000) && !a.contains(6));
        let b = VerifiedPages::new(1000);
        b.inherit(&a);
        assert!(b.contains(5) && b.contains(129) && !b.contains(999));
    }
}
