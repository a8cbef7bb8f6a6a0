//! Scans, appends and hot searches (issue 14):
//!
//! - `scan/{random,sorted}_{forward,backward}`: a full scan of `N` entries, one iteration = the
//!   whole table, through `Table::iter` (and `.rev()`): 24 random key bytes and 150 value bytes
//!   loaded in random order, and the sorted 32-byte keys and values of `append` loaded in order.
//! - `append/sorted_32b`: `N` sorted 32-byte keys (a big-endian counter, then random bytes) with
//!   32-byte values inserted in one write transaction on an empty table; only the inserts are
//!   timed (the transaction is aborted afterwards, so every round starts from the same file).
//! - `prefix/{get,scan10}`: `N` 32-byte keys sharing a fixed 24-byte prefix, followed by a
//!   big-endian counter (values of 32 bytes): random gets, and 10-entry range reads from a random
//!   key. Every key's 4-byte hint is the same here.
//! - `hot/get_16b`: 10,000 keys of 16 random bytes with 100-byte values, read transaction held,
//!   random gets: a data set that lives in the CPU caches. Its entries take about 1.3 MB of
//!   leaf bytes (key, value, cell header, slot), so where a core's L2 cache is smaller (1 MiB on
//!   the AMD EPYC host of the README's runs), most gets wait on L3 for the leaf's header, slots
//!   and cell; `LARCH_BENCH_HOT_KEYS` changes the key count, to see how the rate follows the data
//!   set's size.
//!
//! `N` defaults to 1,000,000 and can be overridden with `LARCH_BENCH_KEYS`.
//! Run with `cargo bench --bench scans` (a group alone: `cargo bench --bench scans -- scan/`).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use larchdb::testing::Rng;
use larchdb::{Database, Durability};
use std::ops::Bound;
use std::time::{Duration, Instant};

const DEFAULT_KEYS: usize = 1_000_000;
const PREFIX: [u8; 24] = *b"tenant-0042/events/2026/";

/// The positive count in environment variable `name` (`_` may group digits), else `default`.
fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().replace('_', "").parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(default)
}

fn key_count() -> usize {
    env_count("LARCH_BENCH_KEYS", DEFAULT_KEYS)
}

/// Fills `buf` with bytes of the stream.
fn fill(rng: &mut Rng, buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes()[..chunk.len()]);
    }
}

/// `n` keys of `len` random bytes.
fn random_keys(n: usize, len: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let mut k = vec![0u8; len];
            fill(rng, &mut k);
            k
        })
        .collect()
}

/// A fresh database in a temporary directory (kept alive by the returned guard).
fn fresh_db(name: &str) -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::builder()
        .durability(Durability::Eventual)
        .open(dir.path().join(name))
        .expect("open");
    (dir, db)
}

/// Loads `keys` into `table` of `db` with values of `vlen` stream bytes, in one transaction.
fn load(db: &Database, table: &str, keys: &[Vec<u8>], vlen: usize, rng: &mut Rng) {
    let mut v = vec![0u8; vlen];
    let w = db.begin_write().expect("begin_write");
    {
        let mut t = w.open_table(table).expect("open_table");
        for k in keys {
            fill(rng, &mut v);
            t.insert(k, &v).expect("insert");
        }
    }
    w.commit().expect("commit");
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    elements: u64,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(10)
        .throughput(Throughput::Elements(elements));
    g
}

/// The keys of the sorted tables: a big-endian counter, then random bytes (32 in all), each
/// followed by a 32-byte value, in `n` pairs of 64 bytes.
fn sorted_pairs(n: usize, rng: &mut Rng) -> Vec<u8> {
    let mut data = vec![0u8; n * 64];
    for (i, pair) in data.chunks_exact_mut(64).enumerate() {
        pair[..8].copy_from_slice(&(i as u64).to_be_bytes());
        fill(rng, &mut pair[8..]);
    }
    data
}

/// `scan/{random,sorted}_{forward,backward}`: whole-table iteration of a table loaded with
/// random 24-byte keys and 150-byte values, and of one loaded in key order with 32-byte keys
/// and values (the comparison package's full-scan row).
fn bench_scan(c: &mut Criterion) {
    let n = key_count();
    let (_dir, db) = fresh_db("scan.larch");
    let mut rng = Rng::new(0x5CA7);
    let keys = random_keys(n, 24, &mut rng);
    load(&db, "random", &keys, 150, &mut rng);
    let sorted: Vec<Vec<u8>> = sorted_pairs(n, &mut rng)
        .chunks_exact(64)
        .map(|p| p[..32].to_vec())
        .collect();
    load(&db, "sorted", &sorted, 32, &mut rng);
    let rtx = db.begin_read().expect("begin_read");
    let mut g = group(c, "scan", n as u64);
    for table in ["random", "sorted"] {
        let t = rtx.open_table(table).expect("open_table");
        let consume = |it: &mut dyn Iterator<Item = larchdb::Result<(&[u8], &[u8])>>| {
            let (mut seen, mut sum) = (0usize, 0u64);
            for item in it {
                let (k, v) = item.expect("step");
                sum += u64::from(k[k.len() - 1] ^ v[0]);
                seen += 1;
            }
            assert_eq!(seen, n);
            black_box(sum)
        };
        g.bench_function(format!("{table}_forward"), |b| {
            b.iter(|| consume(&mut t.iter().expect("iter")))
        });
        g.bench_function(format!("{table}_backward"), |b| {
            b.iter(|| consume(&mut t.iter().expect("iter").rev()))
        });
    }
    g.finish();
}

/// `append/sorted_32b`: sorted inserts into an empty table in one transaction.
fn bench_append(c: &mut Criterion) {
    let n = key_count();
    let (_dir, db) = fresh_db("append.larch");
    let mut rng = Rng::new(0xA99E);
    let data = sorted_pairs(n, &mut rng);
    let mut g = group(c, "append", n as u64);
    g.bench_function("sorted_32b", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let w = db.begin_write().expect("begin_write");
                {
                    let mut t = w.open_table("t").expect("open_table");
                    let start = Instant::now();
                    for pair in data.chunks_exact(64) {
                        let (k, v) = pair.split_at(32);
                        t.insert(k, v).expect("insert");
                    }
                    total += start.elapsed();
                }
                w.abort().expect("abort");
            }
            total
        })
    });
    g.finish();
}

/// `prefix/get` and `prefix/scan10`: keys with a long shared prefix.
fn bench_prefix(c: &mut Criterion) {
    let n = key_count();
    let (_dir, db) = fresh_db("prefix.larch");
    let mut rng = Rng::new(0x9F1C);
    let mut keys: Vec<Vec<u8>> = (0..n as u64)
        .map(|i| [&PREFIX[..], &i.to_be_bytes()].concat())
        .collect();
    // Insert in random order, as point writes of such keys arrive.
    for i in (1..keys.len()).rev() {
        keys.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    load(&db, "t", &keys, 32, &mut rng);
    let rtx = db.begin_read().expect("begin_read");
    let t = rtx.open_table("t").expect("open_table");
    let mut g = group(c, "prefix", 1);
    g.sample_size(20);
    let mut i = 0usize;
    g.bench_function("get", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(t.get(black_box(&keys[i])).expect("get").map(|v| v[0]))
        })
    });
    g.bench_function("scan10", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            let lo = Bound::Included(black_box(&keys[i][..]));
            let mut sum = 0u64;
            for item in t.range((lo, Bound::Unbounded)).expect("range").take(10) {
                let (k, v) = item.expect("step");
                sum += u64::from(k[31] ^ v[0]);
            }
            black_box(sum)
        })
    });
    g.finish();
}

/// `hot/get_16b`: random gets on a small data set that stays in the CPU caches.
fn bench_hot(c: &mut Criterion) {
    let (_dir, db) = fresh_db("hot.larch");
    let mut rng = Rng::new(0x407);
    let keys = random_keys(env_count("LARCH_BENCH_HOT_KEYS", 10_000), 16, &mut rng);
    load(&db, "t", &keys, 100, &mut rng);
    // A random visiting order, fixed up front, so the loop does no work besides the gets.
    let order: Vec<usize> = (0..1 << 16)
        .map(|_| (rng.next_u64() % keys.len() as u64) as usize)
        .collect();
    let rtx = db.begin_read().expect("begin_read");
    let t = rtx.open_table("t").expect("open_table");
    let mut g = group(c, "hot", 1);
    g.sample_size(20);
    let mut i = 0usize;
    g.bench_function("get_16b", |b| {
        b.iter(|| {
            i = (i + 1) & (order.len() - 1);
            let v = t.get(black_box(&keys[order[i]])).expect("get");
            black_box(v.map(|v| v[0]))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_scan, bench_append, bench_prefix, bench_hot);
criterion_main!(benches);
