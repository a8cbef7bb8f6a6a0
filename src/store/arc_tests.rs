//! Tests of [`ArcPolicy`]: a property test against a reference ARC read directly off the paper's
//! pseudo-code (Fig. 4), hand-computed unit tests of each case of the algorithm, the paper's
//! invariants after every step, and hit rates against [`LruPolicy`] on the shared traces.

use super::{ArcLens, ArcList, ArcPolicy};
use crate::rng::Rng;
use crate::store::lru::LruPolicy;
use crate::store::policy::trace::{hit_rate, Workload};
use crate::store::policy::ReplacementPolicy;
use proptest::prelude::*;
use std::collections::{HashMap, VecDeque};

/// Which branch of Fig. 4 a request took (for the coverage test, which counts the variants).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Branch {
    /// Case I: a hit in T1 or T2.
    Hit,
    /// Case II: a ghost in B1.
    GhostB1,
    /// Case III: a ghost in B2.
    GhostB2,
    /// Case IV.A, |T1| < c: delete the LRU of B1, then REPLACE.
    L1FullReplace,
    /// Case IV.A, |T1| = c: delete the LRU of T1.
    L1FullDropT1,
    /// Case IV.B, directory below c: no eviction.
    Filling,
    /// Case IV.B, directory at c or more but below 2c: REPLACE.
    MissReplace,
    /// Case IV.B, directory at 2c: delete the LRU of B2, then REPLACE.
    DirectoryFull,
    /// REPLACE took T1's LRU because |T1| > p.
    ReplaceT1OverTarget,
    /// REPLACE took T1's LRU because the request is in B2 and |T1| = p.
    ReplaceT1AtTarget,
    /// REPLACE took T2's LRU.
    ReplaceT2,
}

/// ARC as Fig. 4 of the paper writes it, with O(n) lists: each `VecDeque` holds its keys with
/// the LRU at the front and the MRU at the back.
struct Reference {
    /// The cache size c.
    c: usize,
    /// The target p, kept signed as the paper's `max(p - delta, 0)` reads.
    p: i64,
    /// T1, T2, B1, B2.
    t1: VecDeque<u64>,
    t2: VecDeque<u64>,
    b1: VecDeque<u64>,
    b2: VecDeque<u64>,
}

/// Removes `x` from `list` if it is there; true if it was.
fn take(list: &mut VecDeque<u64>, x: u64) -> bool {
    match list.iter().position(|&k| k == x) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

impl Reference {
    /// The empty ARC(c) with p = 0.
    fn new(c: usize) -> Reference {
        Reference {
            c,
            p: 0,
            t1: VecDeque::new(),
            t2: VecDeque::new(),
            b1: VecDeque::new(),
            b2: VecDeque::new(),
        }
    }

    /// Request `x`: returns (hit, keys that left the cache, branches taken).
    fn access(&mut self, x: u64) -> (bool, Vec<u64>, Vec<Branch>) {
        let mut out = (false, Vec::new(), Vec::new());
        let c = self.c;
        if take(&mut self.t1, x) || take(&mut self.t2, x) {
            // Case I: move x to the MRU position in T2.
            self.t2.push_back(x);
            out.0 = true;
            out.2.push(Branch::Hit);
        } else if self.b1.contains(&x) {
            // Case II: adapt p up, REPLACE, move x from B1 to the MRU position in T2.
            let delta = if self.b1.len() >= self.b2.len() {
                1
            } else {
                self.b2.len() / self.b1.len()
            };
            self.p = (self.p + delta as i64).min(c as i64);
            out.2.push(Branch::GhostB1);
            self.replace(x, &mut out);
            take(&mut self.b1, x);
            self.t2.push_back(x);
        } else if self.b2.contains(&x) {
            // Case III: adapt p down, REPLACE, move x from B2 to the MRU position in T2.
            let delta = if self.b2.len() >= self.b1.len() {
                1
            } else {
                self.b1.len() / self.b2.len()
            };
            self.p = (self.p - delta as i64).max(0);
            out.2.push(Branch::GhostB2);
            self.replace(x, &mut out);
            take(&mut self.b2, x);
            self.t2.push_back(x);
        } else {
            // Case IV.
            let total = self.t1.len() + self.t2.len() + self.b1.len() + self.b2.len();
            if self.t1.len() + self.b1.len() == c {
                if self.t1.len() < c {
                    out.2.push(Branch::L1FullReplace);
                    self.b1.pop_front();
                    self.replace(x, &mut out);
                } else {
                    out.2.push(Branch::L1FullDropT1);
                    out.1.push(self.t1.pop_front().unwrap());
                }
            } else if total >= c {
                if total == 2 * c {
                    out.2.push(Branch::DirectoryFull);
                    self.b2.pop_front();
                } else {
                    out.2.push(Branch::MissReplace);
                }
                self.replace(x, &mut out);
            } else {
                out.2.push(Branch::Filling);
            }
            self.t1.push_back(x);
        }
        out
    }

    /// REPLACE(x, p), recording the key that leaves the cache and the branch.
    fn replace(&mut self, x: u64, out: &mut (bool, Vec<u64>, Vec<Branch>)) {
        let t1 = self.t1.len() as i64;
        let x_in_b2 = self.b2.contains(&x);
        let key = if !self.t1.is_empty() && (t1 > self.p || (x_in_b2 && t1 == self.p)) {
            out.2.push(if t1 > self.p {
                Branch::ReplaceT1OverTarget
            } else {
                Branch::ReplaceT1AtTarget
            });
            let key = self.t1.pop_front().unwrap();
            self.b1.push_back(key);
            key
        } else {
            out.2.push(Branch::ReplaceT2);
            let key = self.t2.pop_front().expect("REPLACE from an empty T2");
            self.b2.push_back(key);
            key
        };
        out.1.push(key);
    }

    /// A hit outside the request path: case I if `x` is resident.
    fn touch(&mut self, x: u64) -> bool {
        let resident = take(&mut self.t1, x) || take(&mut self.t2, x);
        if resident {
            self.t2.push_back(x);
        }
        resident
    }

    /// T1, T2, B1, B2, each LRU first.
    fn lists(&self) -> [Vec<u64>; 4] {
        [&self.t1, &self.t2, &self.b1, &self.b2].map(|l| l.iter().copied().collect())
    }
}

/// T1, T2, B1, B2 of `arc`, each LRU first.
fn lists(arc: &ArcPolicy) -> [Vec<u64>; 4] {
    ArcList::ALL.map(|l| arc.keys(l).collect())
}

/// Asserts the paper's invariants on `arc`, and that its accessors agree with its lists.
/// `last` maps each key to the time of its last request (hit, miss or successful touch): the
/// keys of B1 then T1, and of B2 then T2, must be in strictly increasing recency (the paper's
/// condition A.4, plus LRU order within each list).
fn check_invariants(arc: &ArcPolicy, last: &HashMap<u64, u64>) {
    let c = arc.capacity();
    let [t1, t2, b1, b2] = lists(arc);
    let lens = ArcLens {
        t1: t1.len(),
        t2: t2.len(),
        b1: b1.len(),
        b2: b2.len(),
    };
    assert_eq!(arc.lens(), lens);
    let ArcLens {
        t1: n1,
        t2: n2,
        b1: g1,
        b2: g2,
    } = lens;
    let total = n1 + n2 + g1 + g2;
    assert!(n1 + n2 <= c, "|T1| + |T2| <= c: {lens:?}, c = {c}");
    assert!(n1 + g1 <= c, "|T1| + |B1| <= c: {lens:?}, c = {c}");
    assert!(n2 + g2 <= 2 * c, "|T2| + |B2| <= 2c: {lens:?}, c = {c}");
    assert!(total <= 2 * c, "directory <= 2c: {lens:?}, c = {c}");
    assert!(arc.target() <= c, "p = {} > c = {c}", arc.target());
    if total < c {
        assert_eq!(
            g1 + g2,
            0,
            "ghosts while the directory is below c: {lens:?}"
        );
    } else {
        assert_eq!(
            n1 + n2,
            c,
            "cache not full with a directory of c or more: {lens:?}"
        );
    }
    assert_eq!(arc.resident(), n1 + n2);
    let mut seen = HashMap::new();
    for (list, keys) in ArcList::ALL.into_iter().zip([&t1, &t2, &b1, &b2]) {
        for &k in keys {
            assert!(seen.insert(k, list).is_none(), "key {k} on two lists");
            assert_eq!(arc.list_of(k), Some(list));
            assert_eq!(
                arc.is_resident(k),
                matches!(list, ArcList::T1 | ArcList::T2)
            );
        }
    }
    for (ghosts, cached) in [(&b1, &t1), (&b2, &t2)] {
        let times: Vec<u64> = ghosts.iter().chain(cached).map(|k| last[k]).collect();
        assert!(
            times.windows(2).all(|w| w[0] < w[1]),
            "recency order broken: keys {ghosts:?} ++ {cached:?}, times {times:?}"
        );
    }
}

/// One operation of a random sequence.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// `access(key)`.
    Access(u64),
    /// `touch(key)`.
    Touch(u64),
}

/// Runs `ops` on `ArcPolicy::new(c)` and on the reference side by side; after every step
/// asserts equal results and state and the invariants. Returns the branches the reference took.
fn run_against_reference(c: usize, ops: &[Op]) -> Vec<Branch> {
    let mut arc = ArcPolicy::new(c);
    let mut reference = Reference::new(c);
    let mut last = HashMap::new();
    let mut branches = Vec::new();
    let mut evicted = Vec::new();
    for (now, &op) in ops.iter().enumerate() {
        match op {
            Op::Access(key) => {
                evicted.clear();
                let hit = arc.access(key, &mut evicted);
                let (ref_hit, ref_evicted, taken) = reference.access(key);
                assert_eq!(
                    (hit, &evicted),
                    (ref_hit, &ref_evicted),
                    "step {now}: {op:?}"
                );
                branches.extend(taken);
                last.insert(key, now as u64);
            }
            Op::Touch(key) => {
                let hit = arc.touch(key);
                assert_eq!(hit, reference.touch(key), "step {now}: {op:?}");
                if hit {
                    last.insert(key, now as u64);
                }
            }
        }
        assert_eq!(
            arc.target() as i64,
            reference.p,
            "p after step {now}: {op:?}"
        );
        assert_eq!(
            lists(&arc),
            reference.lists(),
            "lists after step {now}: {op:?}"
        );
        check_invariants(&arc, &last);
    }
    branches
}

/// Capacities 1..=16, key spaces from one key to 4c + 2, up to 400 operations of which about
/// one in six is a touch.
fn scenario() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (1usize..=16).prop_flat_map(|c| {
        let keys = 1..=(4 * c as u64 + 2);
        let op = (prop::bool::weighted(1.0 / 6.0), any::<u64>());
        (Just(c), keys, prop::collection::vec(op, 1..400)).prop_map(|(c, keys, raw)| {
            let ops = raw
                .into_iter()
                .map(|(touch, r)| match touch {
                    true => Op::Touch(r % keys),
                    false => Op::Access(r % keys),
                })
                .collect();
            (c, ops)
        })
    })
}

/// Cases per property (default 2000); `PROPTEST_CASES` overrides.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The O(1) ARC and the paper's pseudo-code agree on every step.
    #[test]
    fn matches_reference((c, ops) in scenario()) {
        run_against_reference(c, &ops);
    }
}

/// The random sequences the property test draws from reach every branch of the algorithm (so the
/// property is not vacuous); checked on the same kind of sequences drawn from a seeded generator.
#[test]
fn random_sequences_reach_every_branch() {
    let mut rng = Rng::new(0xA5C);
    let mut seen = HashMap::new();
    for _ in 0..300 {
        let c = 1 + rng.below(16) as usize;
        let keys = 1 + rng.below(4 * c as u64 + 2);
        let ops: Vec<Op> = (0..1 + rng.below(400))
            .map(|_| match rng.below(6) {
                0 => Op::Touch(rng.below(keys)),
                _ => Op::Access(rng.below(keys)),
            })
            .collect();
        for b in run_against_reference(c, &ops) {
            *seen.entry(b).or_insert(0u64) += 1;
        }
    }
    // Branch has 11 variants; the counts show which ones were missed.
    assert_eq!(seen.len(), 11, "branches reached: {seen:?}");
}

/// Requests each of `keys` in turn, ignoring the results.
fn feed(arc: &mut ArcPolicy, keys: &[u64]) {
    let mut evicted = Vec::new();
    for &k in keys {
        arc.access(k, &mut evicted);
    }
}

/// Requests `key` and asserts the result, the target and the lists (T1, T2, B1, B2, LRU first).
#[track_caller]
fn step(arc: &mut ArcPolicy, key: u64, hit: bool, evicted: &[u64], p: usize, l: [&[u64]; 4]) {
    let mut ev = Vec::new();
    assert_eq!(arc.access(key, &mut ev), hit, "hit flag of {key}");
    assert_eq!(ev, evicted, "evicted by {key}");
    assert_eq!(arc.target(), p, "p after {key}");
    assert_eq!(lists(arc), l.map(<[u64]>::to_vec), "lists after {key}");
}

#[test]
fn case_i_hits_and_touches_move_keys_to_the_mru_end_of_t2() {
    let mut arc = ArcPolicy::new(4);
    feed(&mut arc, &[1, 2, 3]);
    step(&mut arc, 2, true, &[], 0, [&[1, 3], &[2], &[], &[]]);
    step(&mut arc, 2, true, &[], 0, [&[1, 3], &[2], &[], &[]]);
    step(&mut arc, 1, true, &[], 0, [&[3], &[2, 1], &[], &[]]);
    step(&mut arc, 2, true, &[], 0, [&[3], &[1, 2], &[], &[]]);
    assert!(arc.touch(3));
    assert_eq!(lists(&arc), [vec![], vec![1, 2, 3], vec![], vec![]]);
    assert!(arc.touch(1));
    assert_eq!(lists(&arc), [vec![], vec![2, 3, 1], vec![], vec![]]);
    // Not in the directory: nothing changes.
    assert!(!arc.touch(9));
    assert_eq!(lists(&arc), [vec![], vec![2, 3, 1], vec![], vec![]]);
    assert_eq!((arc.resident(), arc.capacity()), (3, 4));
}

#[test]
fn touch_leaves_ghosts_alone() {
    let mut arc = ArcPolicy::new(1);
    feed(&mut arc, &[1, 1, 2]);
    // 1 went T1 -> T2 -> B2 (REPLACE took T2's LRU to make room for 2).
    assert_eq!(lists(&arc), [vec![2], vec![], vec![], vec![1]]);
    assert!(!arc.touch(1));
    assert_eq!(lists(&arc), [vec![2], vec![], vec![], vec![1]]);
    assert_eq!(arc.target(), 0);
}

#[test]
fn case_iv_b_fills_then_iv_a_drops_the_lru_of_a_full_t1() {
    let mut arc = ArcPolicy::new(4);
    // IV.B with a directory below c: no eviction.
    step(&mut arc, 1, false, &[], 0, [&[1], &[], &[], &[]]);
    step(&mut arc, 2, false, &[], 0, [&[1, 2], &[], &[], &[]]);
    step(&mut arc, 3, false, &[], 0, [&[1, 2, 3], &[], &[], &[]]);
    step(&mut arc, 4, false, &[], 0, [&[1, 2, 3, 4], &[], &[], &[]]);
    // IV.A with |T1| = c: the LRU of T1 leaves the directory, it does not become a ghost.
    step(&mut arc, 5, false, &[1], 0, [&[2, 3, 4, 5], &[], &[], &[]]);
    assert_eq!(arc.list_of(1), None);
    step(&mut arc, 1, false, &[2], 0, [&[3, 4, 5, 1], &[], &[], &[]]);
}

#[test]
fn case_iv_b_replaces_then_iv_a_deletes_a_b1_ghost_and_replaces() {
    let mut arc = ArcPolicy::new(4);
    feed(&mut arc, &[1, 2, 1, 3, 4]);
    assert_eq!(lists(&arc), [vec![2, 3, 4], vec![1], vec![], vec![]]);
    // IV.B, directory of c = 4: REPLACE moves T1's LRU (|T1| = 3 > p = 0) to B1.
    step(&mut arc, 5, false, &[2], 0, [&[3, 4, 5], &[1], &[2], &[]]);
    // IV.A, |T1| + |B1| = c and |T1| < c: 2 leaves B1, then REPLACE moves 3 to B1.
    step(&mut arc, 6, false, &[3], 0, [&[4, 5, 6], &[1], &[3], &[]]);
    assert_eq!(arc.list_of(2), None);
    // Case II: 3 is a B1 ghost; |B1| >= |B2| so p grows by 1; REPLACE takes T1's LRU (3 > 1);
    // 3 comes back at the MRU end of T2.
    step(&mut arc, 3, false, &[4], 1, [&[5, 6], &[1, 3], &[4], &[]]);
}

#[test]
fn case_iv_b_deletes_the_lru_of_b2_when_the_directory_is_full() {
    let mut arc = ArcPolicy::new(2);
    feed(&mut arc, &[1, 2, 1, 2]);
    assert_eq!(lists(&arc), [vec![], vec![1, 2], vec![], vec![]]);
    // IV.B, directory of c: REPLACE with T1 empty takes T2's LRU.
    step(&mut arc, 3, false, &[1], 0, [&[3], &[2], &[], &[1]]);
    // IV.B (|T1| + |B1| = 1 < c), directory of 3: REPLACE takes T1's LRU (|T1| = 1 > p = 0).
    step(&mut arc, 4, false, &[3], 0, [&[4], &[2], &[3], &[1]]);
    // Case II: |B1| = |B2| so p = 1; REPLACE: |T1| = 1 is not over p, so T2's LRU goes to B2.
    step(&mut arc, 3, false, &[2], 1, [&[4], &[3], &[], &[1, 2]]);
    // IV.B with a directory of 2c = 4: 1 (B2's LRU) is forgotten, then REPLACE takes T2's LRU
    // (|T1| = 1 = p and the request is not in B2).
    step(&mut arc, 5, false, &[3], 1, [&[4, 5], &[], &[], &[2, 3]]);
    assert_eq!(arc.list_of(1), None);
}

#[test]
fn case_ii_steps_p_by_b2_over_b1() {
    let mut arc = ArcPolicy::new(4);
    feed(&mut arc, &[1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7]);
    assert_eq!(lists(&arc), [vec![7], vec![4, 5, 6], vec![], vec![1, 2, 3]]);
    step(
        &mut arc,
        8,
        false,
        &[7],
        0,
        [&[8], &[4, 5, 6], &[7], &[1, 2, 3]],
    );
    // Case II with |B1| = 1 < |B2| = 3: p grows by 3 / 1 = 3. |T1| = 1 <= 3: T2's LRU goes.
    step(
        &mut arc,
        7,
        false,
        &[4],
        3,
        [&[8], &[5, 6, 7], &[], &[1, 2, 3, 4]],
    );
    // Case III with |B2| >= |B1|: p shrinks by 1 to 2. |T1| = 1 is neither over p nor equal to
    // it, so REPLACE takes T2's LRU.
    step(
        &mut arc,
        2,
        false,
        &[5],
        2,
        [&[8], &[6, 7, 2], &[], &[1, 3, 4, 5]],
    );
}

#[test]
fn case_iii_steps_p_by_b1_over_b2() {
    let mut arc = ArcPolicy::new(5);
    feed(&mut arc, &[10, 9, 1, 1, 12, 11, 2, 10, 8, 12]);
    assert_eq!(arc.target(), 2);
    assert_eq!(
        lists(&arc),
        [vec![2, 8], vec![1, 10, 12], vec![9, 11], vec![]]
    );
    // IV.B, directory of 7: |T1| = 2 = p, not over it, so T2's LRU goes to B2.
    step(
        &mut arc,
        6,
        false,
        &[1],
        2,
        [&[2, 8, 6], &[10, 12], &[9, 11], &[1]],
    );
    // Case III with |B2| = 1 < |B1| = 2: p shrinks by 2 / 1 = 2 to 0; REPLACE takes T1's LRU.
    step(
        &mut arc,
        1,
        false,
        &[2],
        0,
        [&[8, 6], &[10, 12, 1], &[9, 11, 2], &[]],
    );
}

#[test]
fn replace_takes_t1_at_target_for_a_b2_ghost() {
    let mut arc = ArcPolicy::new(3);
    feed(&mut arc, &[1, 2, 3, 3, 4, 1]);
    assert_eq!(arc.target(), 1);
    assert_eq!(lists(&arc), [vec![4], vec![3, 1], vec![2], vec![]]);
    // Case II: p = 2; |T1| = 1 <= p so T2's LRU (3) becomes a B2 ghost.
    step(&mut arc, 2, false, &[3], 2, [&[4], &[1, 2], &[], &[3]]);
    // Case III: p = 1 = |T1| and the request is in B2: REPLACE takes T1's LRU, not T2's.
    step(&mut arc, 3, false, &[4], 1, [&[], &[1, 2, 3], &[4], &[]]);
}

#[test]
fn capacity_one() {
    let mut arc = ArcPolicy::new(1);
    step(&mut arc, 1, false, &[], 0, [&[1], &[], &[], &[]]);
    step(&mut arc, 2, false, &[1], 0, [&[2], &[], &[], &[]]);
    step(&mut arc, 2, true, &[], 0, [&[], &[2], &[], &[]]);
    step(&mut arc, 3, false, &[2], 0, [&[3], &[], &[], &[2]]);
    // Case III at p = 0: p stays 0; |T1| = 1 > p so T1's LRU becomes a B1 ghost.
    step(&mut arc, 2, false, &[3], 0, [&[], &[2], &[3], &[]]);
    // Case II: p = 1; |T1| = 0, so T2's LRU goes.
    step(&mut arc, 3, false, &[2], 1, [&[], &[3], &[], &[2]]);
    // IV.B with a directory of 2c = 2: 2 (B2's LRU) is forgotten, then REPLACE takes T2's LRU.
    step(
        &mut arc,
        u64::MAX,
        false,
        &[3],
        1,
        [&[u64::MAX], &[], &[], &[3]],
    );
}

#[test]
#[should_panic(expected = "at least one page")]
fn zero_capacity_is_rejected() {
    ArcPolicy::new(0);
}

/// After `new`, no request allocates: the key map and the node slab keep their capacities over
/// a long scan-polluted trace.
#[test]
fn requests_never_grow_the_map_or_the_slab() {
    for c in [1, 7, 1000] {
        let mut arc = ArcPolicy::new(c);
        let mut lru = LruPolicy::new(c);
        let (arc_caps, lru_caps) = (arc.capacities(), lru.capacities());
        let trace = Workload {
            pages: 20 * c as u64 + 3,
            reads: 100_000,
            scan_every: 30_000,
            ..Workload::ZIPF
        }
        .trace();
        hit_rate(&mut arc, &trace);
        hit_rate(&mut lru, &trace);
        // A resize at least doubles the map's capacity; tombstones only lower it until the
        // table is rehashed in place.
        for (now, before, what) in [
            (arc.capacities(), arc_caps, "ARC"),
            (lru.capacities(), lru_caps, "LRU"),
        ] {
            assert!(
                now.0 <= before.0,
                "{what} {c}: the key map grew: {before:?} -> {now:?}"
            );
            assert_eq!(now.1, before.1, "{what} {c}: the slab grew");
        }
        assert_eq!(arc.resident(), c);
    }
}

/// ARC resists scans: on zipfian reads it is at least within 1 percentage point of LRU, and
/// when full scans are mixed in it beats LRU.
#[test]
fn hit_rate_versus_lru() {
    let rates = |w: Workload| {
        let trace = w.trace();
        let arc = hit_rate(&mut ArcPolicy::new(w.cache_pages()), &trace);
        let lru = hit_rate(&mut LruPolicy::new(w.cache_pages()), &trace);
        (arc, lru)
    };
    let (arc, lru) = rates(Workload::ZIPF);
    assert!(arc >= lru - 0.01, "zipf: ARC {arc:.4} vs LRU {lru:.4}");
    let (arc, lru) = rates(Workload::ZIPF_WITH_SCANS);
    assert!(arc > lru, "zipf with scans: ARC {arc:.4} vs LRU {lru:.4}");
}

#[test]
fn evict_sheds_lru_keys_to_their_ghosts_but_never_the_one_avoided() {
    let mut arc = ArcPolicy::new(4);
    feed(&mut arc, &[1, 2, 3]);
    arc.touch(2);
    // T1 = [1, 3] is over its target p = 0: its LRU key goes to B1.
    let mut ev = Vec::new();
    assert!(arc.evict(3, &mut ev));
    assert_eq!(ev, [1]);
    assert_eq!(lists(&arc), [vec![3], vec![2], vec![1], vec![]]);
    // The LRU of T1 is the key to avoid, and nothing is newer in T1: T2's LRU goes.
    assert!(arc.evict(3, &mut ev));
    assert_eq!(ev, [1, 2]);
    assert_eq!(lists(&arc), [vec![3], vec![], vec![1], vec![2]]);
    // Only the avoided key is resident.
    assert!(!arc.evict(3, &mut ev));
    // The cache holds fewer keys than c now; misses fill it without evicting, and a ghost hit
    // with room left evicts nothing either.
    step(&mut arc, 4, false, &[], 0, [&[3, 4], &[], &[1], &[2]]);
    step(&mut arc, 1, false, &[], 1, [&[3, 4], &[1], &[], &[2]]);
}
