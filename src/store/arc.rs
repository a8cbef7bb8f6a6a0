//! ARC, the Adaptive Replacement Cache policy of Megiddo and Modha ("ARC: A Self-Tuning, Low
//! Overhead Replacement Cache", FAST 2003, Fig. 4), for a cache of `c` pages.
//!
//! Four LRU lists partition the directory of at most `2c` keys:
//! - `T1`: resident keys requested once since they last entered the directory (recency);
//! - `T2`: resident keys requested at least twice (frequency);
//! - `B1`, `B2`: ghosts, keys recently evicted from `T1` and `T2`; they hold no page.
//!
//! The target `p` (`0 <= p <= c`) is the size `T1` should have. A request for a ghost in `B1`
//! means `T1` was too small, so `p` grows; one for a ghost in `B2` shrinks it. `REPLACE` evicts
//! the LRU key of `T1` when `T1` is over target, else the LRU key of `T2`, and remembers it as a
//! ghost. Keys seen once (a scan) only ever displace `T1` beyond its target, so a scan cannot
//! flush the frequently used pages of `T2`: the reason larchdb's cached backend uses ARC.
//!
//! The paper's `p` is real; here it is an integer and the adaptation steps
//! `max(1, |B2| / |B1|)` and `max(1, |B1| / |B2|)` use integer division.
//!
//! After every call these invariants of the paper (Section IV) hold, and the tests check them:
//! `|T1| + |T2| <= c`, `|T1| + |B1| <= c`, `|T2| + |B2| <= 2c`, `|T1| + |T2| + |B1| + |B2| <= 2c`,
//! `0 <= p <= c`; the four lists are disjoint; while the directory holds fewer than `c` keys
//! there are no ghosts, and once it holds `c` or more the cache is full (`|T1| + |T2| = c`).
#![forbid(unsafe_code)]

use super::policy::{Lists, ReplacementPolicy};
use crate::store::hasher::PgnoMap;
use std::fmt;

/// One of ARC's four lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArcList {
    /// Resident, requested once.
    T1 = 0,
    /// Resident, requested at least twice.
    T2 = 1,
    /// Ghosts evicted from `T1`.
    B1 = 2,
    /// Ghosts evicted from `T2`.
    B2 = 3,
}

impl ArcList {
    /// The four lists, in the order `T1`, `T2`, `B1`, `B2`.
    pub const ALL: [ArcList; 4] = [ArcList::T1, ArcList::T2, ArcList::B1, ArcList::B2];

    /// The list with index `i` in [`ArcList::ALL`].
    fn from_index(i: usize) -> ArcList {
        ArcList::ALL[i]
    }
}

/// The lengths of ARC's four lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ArcLens {
    /// Resident keys requested once.
    pub t1: usize,
    /// Resident keys requested at least twice.
    pub t2: usize,
    /// Ghosts evicted from `T1`.
    pub b1: usize,
    /// Ghosts evicted from `T2`.
    pub b2: usize,
}

/// The ARC replacement policy over `u64` keys (page numbers). O(1) per request; allocates
/// only in [`ArcPolicy::new`].
pub struct ArcPolicy {
    /// The cache size `c`, in pages.
    capacity: usize,
    /// The adaptive target size `p` of `T1`.
    p: usize,
    /// Every key in the directory (`T1`, `T2`, `B1`, `B2`) to its node in `lists`.
    map: PgnoMap<u32>,
    /// `T1`, `T2`, `B1`, `B2`, indexed by `ArcList as usize`.
    lists: Lists<4>,
}

/// Index of `T1` in `ArcPolicy::lists`.
const T1: usize = ArcList::T1 as usize;
/// Index of `T2` in `ArcPolicy::lists`.
const T2: usize = ArcList::T2 as usize;
/// Index of `B1` in `ArcPolicy::lists`.
const B1: usize = ArcList::B1 as usize;
/// Index of `B2` in `ArcPolicy::lists`.
const B2: usize = ArcList::B2 as usize;

impl ArcPolicy {
    /// An empty policy for a cache of `capacity >= 1` pages (and `p = 0`).
    pub fn new(capacity: usize) -> ArcPolicy {
        assert!(capacity >= 1, "an ARC cache needs at least one page");
        let directory = capacity.checked_mul(2).expect("ARC capacity overflows");
        // Room for twice the directory: at most half full, the table never has to grow (tombstones
        // are cleared by rehashing in place), so requests never allocate.
        let mut map = PgnoMap::default();
        map.reserve(directory.saturating_mul(2));
        ArcPolicy {
            capacity,
            p: 0,
            map,
            lists: Lists::with_capacity(directory),
        }
    }

    /// The cache size `c`, in pages.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether `key` is resident (in `T1` or `T2`).
    pub fn is_resident(&self, key: u64) -> bool {
        matches!(self.list_of(key), Some(ArcList::T1 | ArcList::T2))
    }

    /// The list `key` is on, or `None` when it is not in the directory.
    pub fn list_of(&self, key: u64) -> Option<ArcList> {
        let idx = *self.map.get(&key)?;
        Some(ArcList::from_index(self.lists.list_of(idx)))
    }

    /// A hit noticed outside the request path: if `key` is resident, do ARC's case I (move it to
    /// the MRU end of `T2`) and return true; otherwise change nothing and return false.
    pub fn touch(&mut self, key: u64) -> bool {
        match self.map.get(&key) {
            Some(&idx) if matches!(self.lists.list_of(idx), T1 | T2) => {
                self.lists.move_to_mru(idx, T2);
                true
            }
            _ => false,
        }
    }

    /// The adaptive target `p`: the size `T1` should have.
    pub fn target(&self) -> usize {
        self.p
    }

    /// The lengths of the four lists.
    pub fn lens(&self) -> ArcLens {
        ArcLens {
            t1: self.lists.len(T1),
            t2: self.lists.len(T2),
            b1: self.lists.len(B1),
            b2: self.lists.len(B2),
        }
    }

    /// The keys of `list`, from its LRU end to its MRU end.
    pub fn keys(&self, list: ArcList) -> impl Iterator<Item = u64> + '_ {
        self.lists.keys(list as usize)
    }

    /// Case IV of the paper: `key` is nowhere in the directory. Makes room, then puts `key` at the
    /// MRU end of `T1`.
    fn miss(&mut self, key: u64, evicted: &mut Vec<u64>) {
        let ArcLens { t1, t2, b1, b2 } = self.lens();
        let c = self.capacity;
        if t1 + b1 == c {
            // IV.A: L1 = T1 + B1 is full.
            if t1 < c {
                self.forget_lru(B1);
                self.replace(false, evicted);
            } else {
                // B1 is empty: the LRU page of T1 leaves the directory altogether.
                evicted.push(self.forget_lru(T1));
            }
        } else {
            // IV.B: L1 has room.
            let total = t1 + t2 + b1 + b2;
            if total >= c {
                if total == 2 * c {
                    self.forget_lru(B2);
                }
                self.replace(false, evicted);
            }
        }
        let idx = self.lists.push_mru(T1, key);
        self.map.insert(key, idx);
    }

    /// The paper's `REPLACE(x, p)`: moves the LRU key of `T1` (if `T1` is over target, or exactly
    /// at it when the request is a `B2` ghost) or else of `T2` to the MRU end of its ghost list,
    /// and reports it evicted.
    ///
    /// The paper calls it only when the cache is full, and its invariants then make the chosen
    /// list non-empty: T1 is passed over only while |T1| <= p, which leaves T2 with
    /// |T2| >= c - p >= 1 unless p = c with T1 full (then case IV.A deletes from T1 without calling
    /// REPLACE, and a B2 ghost takes the T1 branch).
    ///
    /// After [`ArcPolicy::evict`] the cache may hold fewer keys than `c` while the directory holds
    /// `c` or more (which the paper's requests alone never lead to): then there is room, and
    /// nothing is evicted. The other list is used if the chosen one is empty.
    fn replace(&mut self, request_in_b2: bool, evicted: &mut Vec<u64>) {
        if self.resident() < self.capacity {
            return;
        }
        let t1 = self.lists.len(T1);
        let (from, to) = if t1 > 0 && (t1 > self.p || (request_in_b2 && t1 == self.p)) {
            (T1, B1)
        } else {
            (T2, B2)
        };
        let idx = match self.lists.lru(from) {
            Some(idx) => idx,
            None => match self.lists.lru(T1 + T2 - from) {
                Some(idx) => idx,
                None => return,
            },
        };
        let to = if self.lists.list_of(idx) == T1 {
            B1
        } else {
            to
        };
        self.lists.move_to_mru(idx, to);
        evicted.push(self.lists.key(idx));
    }

    /// Evicts one resident key as `REPLACE` would, but never `avoid` (the key just requested):
    /// for a cache whose keys weigh more than one page each (a large value cached as one frame),
    /// which has to shed keys until its pages fit. Returns false if nothing but `avoid` is
    /// resident. The lists stay within the paper's bounds (a key moves to its ghost list), but
    /// the cache then holds fewer than `c` keys.
    pub fn evict(&mut self, avoid: u64, evicted: &mut Vec<u64>) -> bool {
        let t1 = self.lists.len(T1);
        let first = if t1 > 0 && t1 > self.p { T1 } else { T2 };
        for list in [first, T1 + T2 - first] {
            let Some(mut idx) = self.lists.lru(list) else {
                continue;
            };
            if self.lists.key(idx) == avoid {
                match self.lists.newer(idx) {
                    Some(next) => idx = next,
                    None => continue,
                }
            }
            self.lists
                .move_to_mru(idx, if list == T1 { B1 } else { B2 });
            evicted.push(self.lists.key(idx));
            return true;
        }
        false
    }

    /// Removes the LRU key of `list` from the directory and returns it.
    fn forget_lru(&mut self, list: usize) -> u64 {
        let idx = self.lists.lru(list).expect("forget_lru: list is non-empty");
        let key = self.lists.remove(idx);
        self.map.remove(&key);
        key
    }

    /// The key-map and node-slab capacities (a test's handle on "allocates nothing").
    #[cfg(test)]
    pub(crate) fn capacities(&self) -> (usize, usize) {
        (self.map.capacity(), self.lists.slab_capacity())
    }
}

impl ReplacementPolicy for ArcPolicy {
    fn access(&mut self, key: u64, evicted: &mut Vec<u64>) -> bool {
        let Some(&idx) = self.map.get(&key) else {
            self.miss(key, evicted);
            return false;
        };
        let (b1, b2) = (self.lists.len(B1), self.lists.len(B2));
        match self.lists.list_of(idx) {
            // Case I: a hit.
            T1 | T2 => {
                self.lists.move_to_mru(idx, T2);
                return true;
            }
            // Case II: a B1 ghost. T1 should have been larger.
            B1 => {
                let delta = if b1 >= b2 { 1 } else { b2 / b1 };
                self.p = (self.p + delta).min(self.capacity);
                self.replace(false, evicted);
            }
            // Case III: a B2 ghost. T2 should have been larger.
            _ => {
                let delta = if b2 >= b1 { 1 } else { b1 / b2 };
                self.p = self.p.saturating_sub(delta);
                self.replace(true, evicted);
            }
        }
        self.lists.move_to_mru(idx, T2);
        false
    }

    fn resident(&self) -> usize {
        self.lists.len(T1) + self.lists.len(T2)
    }
}

impl fmt::Debug for ArcPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArcPolicy")
            .field("capacity", &self.capacity)
            .field("p", &self.p)
            .field("lens", &self.lens())
            .finish()
    }
}

#[cfg(test)]
#[path = "arc_tests.rs"]
mod tests;
