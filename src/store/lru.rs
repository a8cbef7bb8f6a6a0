//! A plain LRU replacement policy: the baseline ARC is measured against. One list of resident
//! keys; a hit moves its key to the MRU end, a miss in a full cache evicts the LRU key.
#![forbid(unsafe_code)]

use super::policy::{Lists, ReplacementPolicy};
use crate::store::hasher::PgnoMap;
use std::fmt;

/// The one list of an `LruPolicy`.
const LIST: usize = 0;

/// Least-recently-used replacement over `u64` keys (page numbers). O(1) per request; allocates
/// only in [`LruPolicy::new`].
pub struct LruPolicy {
    /// The cache size, in pages.
    capacity: usize,
    /// Every resident key to its node in `list`.
    map: PgnoMap<u32>,
    /// The resident keys, LRU first.
    list: Lists<1>,
}

impl LruPolicy {
    /// An empty policy for a cache of `capacity >= 1` pages.
    pub fn new(capacity: usize) -> LruPolicy {
        assert!(capacity >= 1, "an LRU cache needs at least one page");
        // Room for twice the keys: at most half full, the table never has to grow.
        let mut map = PgnoMap::default();
        map.reserve(capacity.saturating_mul(2));
        LruPolicy {
            capacity,
            map,
            list: Lists::with_capacity(capacity),
        }
    }

    /// The cache size, in pages.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether `key` is resident.
    pub fn is_resident(&self, key: u64) -> bool {
        self.map.contains_key(&key)
    }

    /// The resident keys, from the LRU end to the MRU end.
    pub fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.list.keys(LIST)
    }

    /// The key-map and node-slab capacities (a test's handle on "allocates nothing").
    #[cfg(test)]
    pub(crate) fn capacities(&self) -> (usize, usize) {
        (self.map.capacity(), self.list.slab_capacity())
    }
}

impl ReplacementPolicy for LruPolicy {
    fn access(&mut self, key: u64, evicted: &mut Vec<u64>) -> bool {
        if let Some(&idx) = self.map.get(&key) {
            self.list.move_to_mru(idx, LIST);
            return true;
        }
        if self.list.len(LIST) == self.capacity {
            let lru = self.list.lru(LIST).expect("a full list is non-empty");
            let old = self.list.remove(lru);
            self.map.remove(&old);
            evicted.push(old);
        }
        let idx = self.list.push_mru(LIST, key);
        self.map.insert(key, idx);
        false
    }

    fn resident(&self) -> usize {
        self.list.len(LIST)
    }
}

impl fmt::Debug for LruPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LruPolicy")
            .field("capacity", &self.capacity)
            .field("resident", &self.resident())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{LruPolicy, ReplacementPolicy};

    /// Requests `keys` in order; returns each request's (hit, evicted keys).
    fn run(lru: &mut LruPolicy, keys: &[u64]) -> Vec<(bool, Vec<u64>)> {
        keys.iter()
            .map(|&k| {
                let mut ev = Vec::new();
                (lru.access(k, &mut ev), ev)
            })
            .collect()
    }

    #[test]
    fn fills_then_evicts_least_recently_used() {
        let mut lru = LruPolicy::new(3);
        let out = run(&mut lru, &[1, 2, 3, 4]);
        let misses: Vec<_> = out.iter().map(|(hit, _)| *hit).collect();
        assert_eq!(misses, [false; 4]);
        assert_eq!(out[3].1, [1]);
        assert!(out[..3].iter().all(|(_, ev)| ev.is_empty()));
        assert_eq!(lru.keys().collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!((lru.resident(), lru.capacity()), (3, 3));
        assert!(!lru.is_resident(1) && lru.is_resident(2));
    }

    #[test]
    fn a_hit_moves_the_key_to_the_mru_end() {
        let mut lru = LruPolicy::new(3);
        run(&mut lru, &[1, 2, 3]);
        assert_eq!(run(&mut lru, &[1]), [(true, vec![])]);
        assert_eq!(lru.keys().collect::<Vec<_>>(), [2, 3, 1]);
        // 2 is now the LRU key; 1 survives the next miss.
        assert_eq!(run(&mut lru, &[4]), [(false, vec![2])]);
        assert_eq!(lru.keys().collect::<Vec<_>>(), [3, 1, 4]);
        // A hit on the MRU key changes nothing.
        assert_eq!(run(&mut lru, &[4]), [(true, vec![])]);
        assert_eq!(lru.keys().collect::<Vec<_>>(), [3, 1, 4]);
    }

    #[test]
    fn capacity_one_keeps_only_the_last_key() {
        let mut lru = LruPolicy::new(1);
        assert_eq!(
            run(&mut lru, &[7, 7, 8, 7]),
            [
                (false, vec![]),
                (true, vec![]),
                (false, vec![7]),
                (false, vec![8])
            ]
        );
        assert_eq!(lru.keys().collect::<Vec<_>>(), [7]);
    }

    #[test]
    fn a_scan_larger_than_the_cache_flushes_it() {
        let mut lru = LruPolicy::new(4);
        run(&mut lru, &[1, 2, 1, 2, 1, 2]);
        let out = run(&mut lru, &[10, 11, 12, 13]);
        assert!(out.iter().all(|(hit, _)| !hit));
        assert_eq!(lru.keys().collect::<Vec<_>>(), [10, 11, 12, 13]);
        assert_eq!(run(&mut lru, &[1]), [(false, vec![10])]);
    }

    #[test]
    #[should_panic(expected = "at least one page")]
    fn zero_capacity_is_rejected() {
        LruPolicy::new(0);
    }
}
