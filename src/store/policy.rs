//! Page replacement policies for the cached backend: the [`ReplacementPolicy`] trait the page
//! cache drives, and [`Lists`], the slab-backed intrusive doubly-linked lists that both policies
//! ([`ArcPolicy`](super::arc::ArcPolicy) and [`LruPolicy`](super::lru::LruPolicy)) keep their keys
//! in.
//!
//! A policy only decides which page numbers are resident; it holds no page data and takes no
//! locks. Every operation is O(1) and, after construction, allocates nothing: list nodes live in
//! one `Vec` whose freed slots are reused, and the key-to-node maps are sized up front.
//!
//! With the `testing` feature, [`trace`] generates the seeded workloads (zipfian reads, optionally
//! polluted by sequential scans) that the policy tests and `benches/cache_policy.rs` share.
#![forbid(unsafe_code)]

/// A cache replacement policy over `u64` keys (page numbers).
pub trait ReplacementPolicy {
    /// A request for `key`: true on a hit (key was resident). On a miss the key becomes resident;
    /// keys that stop being resident are pushed onto `evicted`.
    fn access(&mut self, key: u64, evicted: &mut Vec<u64>) -> bool;
    /// Number of resident keys.
    fn resident(&self) -> usize;
}

/// The index of no node: the end of a list, or of the free chain.
const NIL: u32 = u32::MAX;

/// One key's node in a [`Lists`] slab.
#[derive(Clone, Copy)]
struct Node {
    /// The key (page number).
    key: u64,
    /// The neighbour toward the LRU end, or `NIL`. Unused while the slot is free.
    older: u32,
    /// The neighbour toward the MRU end, or `NIL`. In a free slot: the next free slot.
    newer: u32,
    /// Which list the node is on.
    list: u8,
}

/// The two ends and the length of one list.
#[derive(Clone, Copy)]
struct Ends {
    /// The least recently used node, or `NIL` when empty.
    lru: u32,
    /// The most recently used node, or `NIL` when empty.
    mru: u32,
    /// Number of nodes on the list.
    len: usize,
}

/// `N` doubly-linked LRU lists of keys whose nodes share one slab, addressed by `u32` index.
///
/// A node stays at the same index while it moves between lists, so a key-to-index map needs no
/// update when a key changes lists. Removed nodes go on a free chain and are reused first, so a
/// slab created with enough capacity for the most nodes ever live never reallocates.
pub(crate) struct Lists<const N: usize> {
    /// Node storage: live nodes and free slots.
    nodes: Vec<Node>,
    /// The first free slot, chained through `Node::newer`, or `NIL`.
    free: u32,
    /// Each list's ends.
    ends: [Ends; N],
}

impl<const N: usize> Lists<N> {
    /// Empty lists with room for `capacity` live nodes before the slab grows.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        const { assert!(N <= 1 << u8::BITS, "a node's list index is a u8") };
        assert!(
            capacity < NIL as usize,
            "list capacity {capacity} does not fit u32 indices"
        );
        let empty = Ends {
            lru: NIL,
            mru: NIL,
            len: 0,
        };
        Lists {
            nodes: Vec::with_capacity(capacity),
            free: NIL,
            ends: [empty; N],
        }
    }

    /// Number of keys on `list`.
    pub(crate) fn len(&self, list: usize) -> usize {
        self.ends[list].len
    }

    /// The key of node `idx`.
    pub(crate) fn key(&self, idx: u32) -> u64 {
        self.nodes[idx as usize].key
    }

    /// The list node `idx` is on.
    pub(crate) fn list_of(&self, idx: u32) -> usize {
        usize::from(self.nodes[idx as usize].list)
    }

    /// The LRU node of `list`, if any.
    pub(crate) fn lru(&self, list: usize) -> Option<u32> {
        let idx = self.ends[list].lru;
        (idx != NIL).then_some(idx)
    }

    /// The node after `idx` toward the MRU end of its list, if any.
    pub(crate) fn newer(&self, idx: u32) -> Option<u32> {
        let next = self.nodes[idx as usize].newer;
        (next != NIL).then_some(next)
    }

    /// Adds `key` at the MRU end of `list` and returns its node's index.
    pub(crate) fn push_mru(&mut self, list: usize, key: u64) -> u32 {
        let node = Node {
            key,
            older: NIL,
            newer: NIL,
            list: list as u8,
        };
        let idx = if self.free != NIL {
            let idx = self.free;
            self.free = self.nodes[idx as usize].newer;
            self.nodes[idx as usize] = node;
            idx
        } else {
            let idx = u32::try_from(self.nodes.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("slab index fits below u32::MAX");
            self.nodes.push(node);
            idx
        };
        self.link_mru(list, idx);
        idx
    }

    /// Moves node `idx` from its list to the MRU end of `list` (which may be the same list).
    pub(crate) fn move_to_mru(&mut self, idx: u32, list: usize) {
        self.unlink(idx);
        self.link_mru(list, idx);
    }

    /// Takes node `idx` off its list, frees its slot and returns its key.
    pub(crate) fn remove(&mut self, idx: u32) -> u64 {
        self.unlink(idx);
        let node = &mut self.nodes[idx as usize];
        node.newer = self.free;
        self.free = idx;
        node.key
    }

    /// The keys of `list`, from the LRU end to the MRU end.
    pub(crate) fn keys(&self, list: usize) -> impl Iterator<Item = u64> + '_ {
        let mut idx = self.ends[list].lru;
        std::iter::from_fn(move || {
            (idx != NIL).then(|| {
                let node = &self.nodes[idx as usize];
                idx = node.newer;
                node.key
            })
        })
    }

    /// Slots the slab holds without reallocating (a test's handle on "allocates nothing").
    #[cfg(test)]
    pub(crate) fn slab_capacity(&self) -> usize {
        self.nodes.capacity()
    }

    /// Links the unlinked node `idx` at the MRU end of `list`.
    fn link_mru(&mut self, list: usize, idx: u32) {
        let ends = &mut self.ends[list];
        let old_mru = ends.mru;
        ends.mru = idx;
        if old_mru == NIL {
            ends.lru = idx;
        }
        ends.len += 1;
        if old_mru != NIL {
            self.nodes[old_mru as usize].newer = idx;
        }
        let node = &mut self.nodes[idx as usize];
        node.older = old_mru;
        node.newer = NIL;
        node.list = list as u8;
    }

    /// Takes node `idx` off its list (the node keeps its slot).
    fn unlink(&mut self, idx: u32) {
        let Node {
            older, newer, list, ..
        } = self.nodes[idx as usize];
        let ends = &mut self.ends[usize::from(list)];
        ends.len -= 1;
        if older == NIL {
            ends.lru = newer;
        } else {
            self.nodes[older as usize].newer = newer;
        }
        if newer == NIL {
            ends.mru = older;
        } else {
            self.nodes[newer as usize].older = older;
        }
    }
}

/// Seeded synthetic request traces for comparing policies: zipfian reads, optionally interleaved
/// with full sequential scans. Shared by the policy tests and `benches/cache_policy.rs`.
#[cfg(feature = "testing")]
pub mod trace {
    use super::ReplacementPolicy;
    use crate::rng::Rng;

    /// A zipfian distribution over ranks `0..n`: rank `r` has weight `1 / (r + 1)^skew`.
    /// Sampling is a binary search in the cumulative weights (exact, O(log n)).
    pub struct Zipf {
        /// `cdf[r]` is the total weight of ranks `0..=r`.
        cdf: Vec<f64>,
    }

    impl Zipf {
        /// The distribution over `n >= 1` ranks with exponent `skew`.
        pub fn new(n: u64, skew: f64) -> Zipf {
            assert!(n >= 1, "a zipfian distribution needs at least one rank");
            let mut total = 0.0;
            let cdf = (0..n)
                .map(|r| {
                    total += 1.0 / ((r + 1) as f64).powf(skew);
                    total
                })
                .collect();
            Zipf { cdf }
        }

        /// A random rank: 0 is the most likely.
        pub fn sample(&self, rng: &mut Rng) -> u64 {
            let total = self.cdf[self.cdf.len() - 1];
            // 53 random bits give a uniform float in [0, 1).
            let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * total;
            let rank = self.cdf.partition_point(|&c| c <= u);
            rank.min(self.cdf.len() - 1) as u64
        }
    }

    /// A synthetic workload over pages `0..pages`.
    #[derive(Clone, Copy, Debug)]
    pub struct Workload {
        /// Number of distinct pages.
        pub pages: u64,
        /// The zipfian exponent of the reads.
        pub skew: f64,
        /// Number of zipfian reads.
        pub reads: usize,
        /// A full sequential scan of all pages (in page order) after every `scan_every` reads,
        /// never after the last one; 0 for no scans.
        pub scan_every: usize,
        /// Seed of the read stream and of the rank-to-page permutation.
        pub seed: u64,
    }

    impl Workload {
        /// Trace (a): 1M zipfian reads (skew 0.99) over 100k pages.
        pub const ZIPF: Workload = Workload {
            pages: 100_000,
            skew: 0.99,
            reads: 1_000_000,
            scan_every: 0,
            seed: 0x5EED_A11C,
        };

        /// Trace (b): the reads of [`Workload::ZIPF`] with a full scan of all pages after every
        /// 100k reads (9 scans, 1.9M requests in all).
        pub const ZIPF_WITH_SCANS: Workload = Workload {
            scan_every: 100_000,
            ..Workload::ZIPF
        };

        /// The cache size the policy comparisons use: 10% of the pages.
        pub fn cache_pages(&self) -> usize {
            (self.pages / 10).max(1) as usize
        }

        /// The request trace. Ranks map to pages through a seeded random permutation, so hot
        /// pages are spread over the page space as they would be in a file.
        pub fn trace(&self) -> Vec<u64> {
            let mut rng = Rng::new(self.seed);
            let mut page_of: Vec<u64> = (0..self.pages).collect();
            for i in (1..page_of.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                page_of.swap(i, j);
            }
            let zipf = Zipf::new(self.pages, self.skew);
            let scans = match self.scan_every {
                0 => 0,
                n => (self.reads.max(1) - 1) / n,
            };
            let mut out = Vec::with_capacity(self.reads + scans * self.pages as usize);
            for i in 0..self.reads {
                if self.scan_every != 0 && i != 0 && i % self.scan_every == 0 {
                    out.extend(0..self.pages);
                }
                out.push(page_of[zipf.sample(&mut rng) as usize]);
            }
            out
        }
    }

    /// The fraction of `trace`'s requests that hit in `policy`.
    pub fn hit_rate<P: ReplacementPolicy + ?Sized>(policy: &mut P, trace: &[u64]) -> f64 {
        let mut evicted = Vec::new();
        let mut hits = 0usize;
        for &key in trace {
            evicted.clear();
            hits += usize::from(policy.access(key, &mut evicted));
        }
        hits as f64 / trace.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::Lists;

    /// The keys of every list, LRU first.
    fn all(l: &Lists<2>) -> [Vec<u64>; 2] {
        [l.keys(0).collect(), l.keys(1).collect()]
    }

    #[test]
    fn push_move_remove_keep_order_and_lengths() {
        let mut l = Lists::<2>::with_capacity(4);
        let a = l.push_mru(0, 10);
        let b = l.push_mru(0, 11);
        let c = l.push_mru(0, 12);
        assert_eq!(all(&l), [vec![10, 11, 12], vec![]]);
        l.move_to_mru(b, 1);
        assert_eq!(all(&l), [vec![10, 12], vec![11]]);
        l.move_to_mru(a, 0);
        assert_eq!(all(&l), [vec![12, 10], vec![11]]);
        assert_eq!((l.len(0), l.len(1)), (2, 1));
        assert_eq!(l.lru(0), Some(c));
        assert_eq!(l.list_of(b), 1);
        assert_eq!(l.remove(c), 12);
        assert_eq!(l.remove(b), 11);
        assert_eq!(all(&l), [vec![10], vec![]]);
        assert_eq!(l.lru(1), None);
        // Freed slots are reused, most recently freed first; the slab does not grow.
        assert_eq!(l.push_mru(1, 20), b);
        assert_eq!(l.push_mru(1, 21), c);
        assert_eq!(l.push_mru(1, 22), 3);
        assert_eq!(all(&l), [vec![10], vec![20, 21, 22]]);
        assert_eq!(l.key(3), 22);
        assert_eq!(l.slab_capacity(), 4);
    }
}
