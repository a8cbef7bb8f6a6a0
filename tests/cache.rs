//! The cached backend's own guarantees, beyond running every other suite on it: the cache really
//! evicts and stays within its capacity, slices handed out stay valid after their frames are
//! evicted, commits keep the cache coherent when pages are reused, and a file truncated under an
//! open handle gives an error instead of SIGBUS.

use larchdb::{Backend, Database, Durability};
use std::collections::BTreeMap;

mod common;

const FRAMES: usize = 16;

fn cached(path: &std::path::Path) -> Database {
    cached_with(path, FRAMES)
}

fn cached_with(path: &std::path::Path, frames: usize) -> Database {
    Database::builder()
        .backend(Backend::Cached {
            capacity: frames * 4096,
        })
        .open(path)
        .unwrap()
}

fn key(i: u64) -> [u8; 8] {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    vec![(i ^ round) as u8; 40 + (i % 200) as usize]
}

/// Loads `n` keys (value round `round`) in one transaction.
fn load(db: &Database, n: u64, round: u64) {
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for i in 0..n {
            t.insert(&key(i), &value(i, round)).unwrap();
        }
    }
    w.commit().unwrap();
}

/// One commit that changes keys `0..keys` of table "t" and `model` alike: `change(i)` is None to
/// leave key `i`, `Some(None)` to remove it, `Some(Some(v))` to insert `v`.
fn apply_round(
    db: &Database,
    model: &mut BTreeMap<[u8; 8], Vec<u8>>,
    keys: u64,
    change: impl Fn(u64) -> Option<Option<Vec<u8>>>,
) {
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for i in 0..keys {
            match change(i) {
                None => {}
                Some(None) => {
                    t.remove(&key(i)).unwrap();
                    model.remove(&key(i));
                }
                Some(Some(v)) => {
                    t.insert(&key(i), &v).unwrap();
                    model.insert(key(i), v);
                }
            }
        }
    }
    w.commit().unwrap();
}

#[test]
fn evicts_within_capacity_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    const FRAMES: usize = 64;
    let db = cached_with(&dir.path().join("c.larch"), FRAMES);
    load(&db, 20_000, 0);
    let s0 = db.cache_stats().unwrap();
    assert_eq!(s0.capacity_frames, FRAMES);
    // Short transactions: a transaction reads each page from the cache once, then from its own
    // pins, so the root and branch pages become hits in the next transaction.
    for chunk in (0..20_000u64).step_by(7).collect::<Vec<_>>().chunks(20) {
        let r = db.begin_read().unwrap();
        let t = r.open_table("t").unwrap();
        for &i in chunk {
            assert_eq!(t.get(&key(i)).unwrap(), Some(&value(i, 0)[..]));
        }
    }
    let s = db.cache_stats().unwrap();
    assert!(s.misses > s0.misses + 1000, "{s:?}");
    // Root and branch pages are read by every transaction: hits, promoted to T2.
    assert!(s.hits > s0.hits + 100, "{s:?}");
    assert!(s.arc_lists[1] > 0, "{s:?}");
    assert!(s.evictions > 1000, "{s:?}");
    assert!(s.resident_frames <= FRAMES, "{s:?}");
    let [t1, t2, b1, b2] = s.arc_lists;
    assert!(t1 + t2 < FRAMES && t1 + b1 < FRAMES && t1 + t2 + b1 + b2 <= 2 * FRAMES);
    assert!(s.target_t1 < FRAMES);
    let stats = db.stats().unwrap();
    assert!(stats.cache.is_some());
    assert!(
        stats.leaf_pages as usize > 10 * FRAMES,
        "the data must not fit"
    );
}

#[test]
fn slices_outlive_eviction_of_their_frames() {
    let dir = tempfile::tempdir().unwrap();
    let db = cached(&dir.path().join("c.larch"));
    load(&db, 20_000, 0);
    let held = db.begin_read().unwrap();
    let t = held.open_table("t").unwrap();
    let kept: Vec<(u64, &[u8])> = (0..50)
        .map(|i| (i, t.get(&key(i)).unwrap().unwrap()))
        .collect();
    let before = db.cache_stats().unwrap().evictions;
    // Other readers sweep the whole table many times over, evicting every frame `held` read; a
    // writer overwrites everything (its pages go elsewhere: `held` keeps the old ones alive).
    // (Once the frames waiting for `held` reach the cache's limit, later misses are read into
    // the reading transaction instead of the cache: the last sweeps may evict nothing.)
    for _ in 0..3 {
        let r = db.begin_read().unwrap();
        let n = r.open_table("t").unwrap().iter().unwrap().count();
        assert_eq!(n, 20_000);
    }
    assert!(db.cache_stats().unwrap().evictions > before + FRAMES as u64);
    load(&db, 20_000, 1);
    let r = db.begin_read().unwrap();
    assert_eq!(r.open_table("t").unwrap().iter().unwrap().count(), 20_000);
    for (i, v) in kept {
        assert_eq!(
            v,
            &value(i, 0)[..],
            "slice of key {i} changed after eviction"
        );
    }
    // The held snapshot still reads the old data, the new one the new data.
    assert_eq!(t.get(&key(7)).unwrap(), Some(&value(7, 0)[..]));
    let new = r.open_table("t").unwrap();
    assert_eq!(new.get(&key(7)).unwrap(), Some(&value(7, 1)[..]));
}

#[test]
fn reused_pages_are_never_read_stale() {
    // Rounds of overwrites and removals free pages that later commits reuse; every read goes
    // through a small cache that held the pages' old contents.
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .backend(Backend::Cached {
            capacity: FRAMES * 4096,
        })
        .durability(Durability::Eventual)
        .open(dir.path().join("c.larch"))
        .unwrap();
    let mut model = BTreeMap::new();
    for round in 0..30u64 {
        apply_round(&db, &mut model, 3_000, |i| {
            if (i + round) % 5 == 0 {
                Some(None)
            } else {
                ((i * 7 + round) % 3 == 0).then(|| Some(value(i, round)))
            }
        });
        let r = db.begin_read().unwrap();
        let t = r.open_table("t").unwrap();
        let got: Vec<_> = t
            .iter()
            .unwrap()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<larchdb::Result<_>>()
            .unwrap();
        let want: Vec<_> = model.iter().map(|(k, v)| (k.to_vec(), v.clone())).collect();
        assert!(got == want, "round {round}: contents differ from the model");
        for (k, v) in model.iter().step_by(11) {
            assert_eq!(t.get(k).unwrap(), Some(&v[..]), "round {round}");
        }
    }
    let s = db.stats().unwrap();
    assert!(s.free_pages > 0, "the workload must free pages");
    db.check().unwrap();
}

#[test]
fn large_values_are_zero_copy_within_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = cached(&dir.path().join("c.larch"));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let w = db.begin_write().unwrap();
    w.open_table("t").unwrap().insert(b"big", &big).unwrap();
    w.commit().unwrap();
    let r = db.begin_read().unwrap();
    let t = r.open_table("t").unwrap();
    let a = t.get(b"big").unwrap().unwrap();
    let b = t.get(b"big").unwrap().unwrap();
    assert_eq!(a, &big[..]);
    assert_eq!(
        a.as_ptr(),
        b.as_ptr(),
        "a large value is assembled once per transaction"
    );
    assert_eq!(db.cache_stats().unwrap().run_reads, 1);
}

#[test]
fn release_pages_keeps_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = cached(&dir.path().join("c.larch"));
    load(&db, 5_000, 0);
    let mut r = db.begin_read().unwrap();
    load(&db, 5_000, 1);
    for round in 0..3 {
        {
            let t = r.open_table("t").unwrap();
            for i in (0..5_000).step_by(3) {
                assert_eq!(t.get(&key(i)).unwrap(), Some(&value(i, 0)[..]), "{round}");
            }
        }
        r.release_pages();
    }
}

#[test]
fn truncated_file_is_an_error_not_sigbus() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.larch");
    load(&cached(&path), 20_000, 0);
    let db = Database::builder()
        .backend(Backend::Cached {
            capacity: FRAMES * 4096,
        })
        .read_only(true)
        .open(&path)
        .unwrap();
    let r = db.begin_read().unwrap();
    let t = r.open_table("t").unwrap();
    // Another process (ignoring the advisory lock) cuts the file to a tenth.
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 10)
        .unwrap();
    let mut errors = 0;
    for i in 0..20_000 {
        match t.get(&key(i)) {
            Ok(Some(v)) => assert_eq!(v, &value(i, 0)[..]),
            Ok(None) => panic!("key {i} silently missing"),
            Err(larchdb::Error::Corrupted { .. }) => errors += 1,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert!(errors > 0, "reads past the new end must fail");
    assert!(db.check().is_err());
}

/// Large value `i` of round `round`: `len` bytes that differ by key and round.
fn large(i: u64, round: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|b| (b.wrapping_mul(31) ^ i.wrapping_mul(7) ^ round.wrapping_mul(13)) as u8)
        .collect()
}

/// Inserts `values` (key index, bytes) into table `t` in one transaction.
fn put(db: &Database, values: &[(u64, Vec<u8>)]) {
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for (i, v) in values {
            t.insert(&key(*i), v).unwrap();
        }
    }
    w.commit().unwrap();
}

#[test]
fn large_values_are_cached_and_shared_between_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let db = cached_with(&dir.path().join("c.larch"), 256);
    put(
        &db,
        &(0..4)
            .map(|i| (i, large(i, 0, 64 << 10)))
            .collect::<Vec<_>>(),
    );
    let first = {
        let r = db.begin_read().unwrap();
        let v = r.open_table("t").unwrap().get(&key(2)).unwrap().unwrap();
        assert_eq!(v, &large(2, 0, 64 << 10)[..]);
        v.as_ptr() as usize
    };
    let s0 = db.cache_stats().unwrap();
    // The commit cached the values it wrote (the cache had room): no read of the file.
    assert_eq!((s0.run_reads, s0.private_runs), (0, 0), "{s0:?}");
    assert!(
        s0.resident_frames >= 4 * 16,
        "the runs' pages count: {s0:?}"
    );
    for _ in 0..3 {
        let r = db.begin_read().unwrap();
        let v = r.open_table("t").unwrap().get(&key(2)).unwrap().unwrap();
        assert_eq!(v, &large(2, 0, 64 << 10)[..]);
        assert_eq!(
            v.as_ptr() as usize,
            first,
            "later transactions read the cached frame, without copying"
        );
    }
    let s = db.cache_stats().unwrap();
    assert_eq!(s.run_reads, 0, "{s:?}");
    assert!(s.hits >= s0.hits + 3, "{s:?}");
}

#[test]
fn large_values_are_evicted_within_capacity() {
    const FRAMES: usize = 256;
    let dir = tempfile::tempdir().unwrap();
    let db = cached_with(&dir.path().join("c.larch"), FRAMES);
    let n = 40u64; // 40 runs of 17 pages: far more than the cache holds
    put(
        &db,
        &(0..n)
            .map(|i| (i, large(i, 0, 64 << 10)))
            .collect::<Vec<_>>(),
    );
    // A reader holds a slice of a cached run while others evict it.
    let held = db.begin_read().unwrap();
    let held_t = held.open_table("t").unwrap();
    let kept = held_t.get(&key(0)).unwrap().unwrap();
    for round in 0..3 {
        for i in 0..n {
            let r = db.begin_read().unwrap();
            let v = r.open_table("t").unwrap().get(&key(i)).unwrap().unwrap();
            assert_eq!(v, &large(i, 0, 64 << 10)[..], "round {round}, value {i}");
            let s = db.cache_stats().unwrap();
            // Within the capacity, plus what one reader has in flight (a run and a page).
            assert!(s.resident_frames <= FRAMES + 18, "{s:?}");
        }
    }
    let s = db.cache_stats().unwrap();
    assert!(s.evictions > n, "{s:?}");
    assert!(s.run_reads > n && s.private_runs == 0, "{s:?}");
    assert!(
        s.retired_frames >= 17,
        "the held run waits for its reader: {s:?}"
    );
    assert_eq!(
        kept,
        &large(0, 0, 64 << 10)[..],
        "a held slice outlives eviction"
    );
    drop(held);
    assert_eq!(db.cache_stats().unwrap().retired_frames, 0);
}

#[test]
fn a_value_larger_than_the_cache_does_not_flush_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = cached_with(&dir.path().join("c.larch"), 256);
    let big = large(99, 0, 2 << 20);
    let mut values: Vec<(u64, Vec<u8>)> = (0..200).map(|i| (i, value(i, 0))).collect();
    values.push((1000, big.clone()));
    put(&db, &values);
    let read_small = || {
        let r = db.begin_read().unwrap();
        let t = r.open_table("t").unwrap();
        for i in 0..200 {
            assert_eq!(t.get(&key(i)).unwrap(), Some(&value(i, 0)[..]));
        }
    };
    read_small();
    let s0 = db.cache_stats().unwrap();
    for _ in 0..3 {
        let r = db.begin_read().unwrap();
        let t = r.open_table("t").unwrap();
        let a = t.get(&key(1000)).unwrap().unwrap();
        let b = t.get(&key(1000)).unwrap().unwrap();
        assert_eq!(a, &big[..]);
        assert_eq!(a.as_ptr(), b.as_ptr(), "read once per transaction");
    }
    let s = db.cache_stats().unwrap();
    assert_eq!(s.private_runs, s0.private_runs + 3, "{s:?}");
    assert_eq!(
        s.evictions, s0.evictions,
        "nothing was evicted for it: {s:?}"
    );
    assert!(s.resident_frames <= 256, "{s:?}");
    read_small();
    assert_eq!(
        db.cache_stats().unwrap().misses,
        s.misses,
        "the small values stayed cached"
    );
}

#[test]
fn large_values_stay_coherent_when_their_pages_are_reused() {
    // Rounds of overwrites with values of changing sizes, and removals, free runs that later
    // commits reuse as other runs or as tree pages; every read goes through a cache that held
    // the old runs.
    let dir = tempfile::tempdir().unwrap();
    let db = cached_with(&dir.path().join("c.larch"), 512);
    let mut model = BTreeMap::new();
    for round in 0..40u64 {
        apply_round(&db, &mut model, 24, |i| {
            if (i + round) % 7 == 0 {
                return Some(None);
            }
            let len = match (i + round) % 4 {
                0 => 100,
                1 => 9_000,
                2 => 40_000,
                _ => 70_000,
            };
            ((i * 5 + round) % 3 != 0).then(|| Some(large(i, round, len)))
        });
        // Pages freed since the last checkpoint are reused only after the next one.
        db.checkpoint().unwrap();
        // Two readers, one after the other: the second reads what the first cached.
        for _ in 0..2 {
            let r = db.begin_read().unwrap();
            let t = r.open_table("t").unwrap();
            for (k, v) in &model {
                assert_eq!(t.get(k).unwrap(), Some(&v[..]), "round {round}");
            }
            let n = t.iter().unwrap().count();
            assert_eq!(n, model.len(), "round {round}");
        }
    }
    let s = db.cache_stats().unwrap();
    assert!(s.run_reads > 0 && s.hits > 0, "{s:?}");
    assert!(
        db.stats().unwrap().free_pages > 0,
        "the workload must free pages"
    );
    db.check().unwrap();
}
