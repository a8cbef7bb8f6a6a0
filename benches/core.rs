//! Core criterion benchmarks for larchdb: point gets, inserts inside one large write
//! transaction, range iteration (per step and 10-entry scans) and single-insert commits with
//! Immediate and Eventual durability.
//!
//! All groups share one database, built once per process in a temporary directory, loaded with
//! the standard workload: `N` pairs of 24 random key bytes and 150 random value bytes from one
//! seeded xorshift64* stream (key, then value, per pair). `N` defaults to 1,000,000 and can be
//! overridden with the `LARCH_BENCH_KEYS` environment variable. With `LARCH_BENCH_CACHE=BYTES`
//! the database is opened with `Backend::Cached { capacity: BYTES }` instead of the map (the
//! `get` group then reads through one transaction's pinned frames after the first pass; see
//! `benches/cache_reads.rs` for reads in short transactions and for memory).
//!
//! Run with `cargo bench --bench core`.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use larchdb::testing::Rng;
use larchdb::{Backend, Database, Durability};
use std::ops::Bound;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TABLE: &str = "bench";
const KEY_LEN: usize = 24;
const VALUE_LEN: usize = 150;
const DEFAULT_KEYS: usize = 1_000_000;
/// Seed of the stream that builds the database (and that reads replay).
const LOAD_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// The next (key, value) pair of the stream: key bytes first, then value bytes.
fn pair(rng: &mut Rng) -> ([u8; KEY_LEN], [u8; VALUE_LEN]) {
    let mut k = [0u8; KEY_LEN];
    let mut v = [0u8; VALUE_LEN];
    rng.fill(&mut k);
    rng.fill(&mut v);
    (k, v)
}

/// A number in `0..n` (n > 0).
fn below(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

struct Env {
    // Kept alive so the directory (and the database file) outlive the benchmarks.
    _dir: tempfile::TempDir,
    db: Database,
    /// Every key of the database, in the order of the load stream.
    keys: Vec<[u8; KEY_LEN]>,
}

fn key_count() -> usize {
    match std::env::var("LARCH_BENCH_KEYS") {
        Ok(s) => s
            .trim()
            .replace('_', "")
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("LARCH_BENCH_KEYS must be a positive integer, got {s:?}")),
        Err(_) => DEFAULT_KEYS,
    }
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let n = key_count();
        let dir = tempfile::tempdir().expect("create temp dir");
        let path = dir.path().join("core.larch");
        let mut builder = Database::builder();
        if let Ok(bytes) = std::env::var("LARCH_BENCH_CACHE") {
            let capacity = bytes
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("LARCH_BENCH_CACHE must be a byte count, got {bytes:?}"));
            builder.backend(Backend::Cached { capacity });
        }
        let db = builder.open(&path).expect("open database");
        let mut rng = Rng::new(LOAD_SEED);
        let mut keys = Vec::with_capacity(n);
        let start = Instant::now();
        let mut wtx = db.begin_write().expect("begin_write");
        {
            let mut t = wtx.open_table(TABLE).expect("open_table");
            for _ in 0..n {
                let (k, v) = pair(&mut rng);
                t.insert(&k, &v).expect("insert");
                keys.push(k);
            }
        }
        wtx.set_durability(Durability::Immediate);
        wtx.commit().expect("commit");
        let elapsed = start.elapsed();
        {
            let rtx = db.begin_read().expect("begin_read");
            let t = rtx.open_table(TABLE).expect("open_table");
            assert_eq!(t.len().expect("len"), n as u64, "every key of the load must be present");
        }
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "larchdb core bench: loaded {n} keys in {:.2?} (one txn, Immediate commit), file {:.1} MiB at {}",
            elapsed,
            size as f64 / (1 << 20) as f64,
            path.display()
        );
        Env {
            _dir: dir,
            db,
            keys,
        }
    })
}

fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
        .throughput(Throughput::Elements(1));
    g
}

/// `get/random`: one `Table::get` of an existing key per iteration.
fn bench_get(c: &mut Criterion) {
    let env = env();
    let rtx = env.db.begin_read().expect("begin_read");
    let t = rtx.open_table(TABLE).expect("open_table");
    let keys = &env.keys;
    let mut g = configure(c, "get");
    g.bench_function("random", |b| {
        let mut i = 0usize;
        b.iter(|| {
            let k = &keys[i];
            i += 1;
            if i == keys.len() {
                i = 0;
            }
            let v = t.get(black_box(&k[..])).expect("get");
            black_box(v.map(|v| v[0]))
        })
    });
    g.finish();
}

/// `insert/large_txn`: inserts of new random keys inside one big write transaction on the loaded
/// database; only the inserts are timed, and the transaction is aborted afterwards.
fn bench_insert(c: &mut Criterion) {
    let env = env();
    let mut rng = Rng::new(0xD1B5_4A32_D192_ED03);
    let mut g = configure(c, "insert");
    g.bench_function("large_txn", |b| {
        b.iter_custom(|iters| {
            let n = iters as usize;
            let mut data = vec![0u8; n * (KEY_LEN + VALUE_LEN)];
            rng.fill(&mut data);
            let wtx = env.db.begin_write().expect("begin_write");
            let elapsed = {
                let mut t = wtx.open_table(TABLE).expect("open_table");
                let start = Instant::now();
                for pair in data.chunks_exact(KEY_LEN + VALUE_LEN) {
                    let (k, v) = pair.split_at(KEY_LEN);
                    t.insert(black_box(k), black_box(v)).expect("insert");
                }
                start.elapsed()
            };
            wtx.abort().expect("abort");
            elapsed
        })
    });
    g.finish();
}

/// `range/step`: one step of a full-table iterator per iteration; `range/scan10`: a range scan
/// from a random existing key, taking 10 entries.
fn bench_range(c: &mut Criterion) {
    let env = env();
    let keys = &env.keys;
    let mut g = configure(c, "range");
    g.bench_function("step", |b| {
        b.iter_custom(|iters| {
            let rtx = env.db.begin_read().expect("begin_read");
            let t = rtx.open_table(TABLE).expect("open_table");
            let start = Instant::now();
            let mut it = t.iter().expect("iter");
            let mut done = 0u64;
            while done < iters {
                match it.next() {
                    Some(item) => {
                        let (k, v) = item.expect("step");
                        black_box((k, v));
                        done += 1;
                    }
                    None => it = t.iter().expect("iter"),
                }
            }
            let elapsed = start.elapsed();
            drop(it);
            elapsed
        })
    });

    let rtx = env.db.begin_read().expect("begin_read");
    let t = rtx.open_table(TABLE).expect("open_table");
    let mut rng = Rng::new(0x94D0_49BB_1331_11EB);
    g.bench_function("scan10", |b| {
        b.iter(|| {
            let k = &keys[below(&mut rng, keys.len())];
            let mut sum = 0u64;
            let mut taken = 0;
            for item in t
                .range((Bound::Included(black_box(&k[..])), Bound::Unbounded))
                .expect("range")
                .take(10)
            {
                let (k, v) = item.expect("step");
                sum = sum.wrapping_add(k[0] as u64 + v[0] as u64);
                taken += 1;
            }
            black_box((sum, taken))
        })
    });
    g.finish();
}

/// `commit/{immediate,eventual}_single_insert`: one write transaction inserting one new random
/// key, committed with the given durability, per iteration.
fn bench_commit(c: &mut Criterion) {
    let env = env();
    let mut rng = Rng::new(0xBF58_476D_1CE4_E5B9);
    let mut g = configure(c, "commit");
    for (name, durability) in [
        ("immediate_single_insert", Durability::Immediate),
        ("eventual_single_insert", Durability::Eventual),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || pair(&mut rng),
                |(k, v): ([u8; KEY_LEN], [u8; VALUE_LEN])| {
                    let mut wtx = env.db.begin_write().expect("begin_write");
                    wtx.open_table(TABLE)
                        .expect("open_table")
                        .insert(&k, &v)
                        .expect("insert");
                    wtx.set_durability(durability);
                    wtx.commit().expect("commit")
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
    env.db.sync().expect("sync");
}

criterion_group!(benches, bench_get, bench_range, bench_insert, bench_commit);
criterion_main!(benches);
