//! The large-value section of `cache_reads` (`--large`): values of 64 KiB and 2 MiB (overflow
//! runs of 16 and 512 pages of 4 KiB) read through the map and through the cache, each backend in
//! a child process of its own, in rotated order over `--rounds` rounds, with a cache that holds
//! the data (twice its size) and one of a tenth of it.
//!
//! The database holds `--large` values of 64 KiB (table `v64k`) and a tenth as many of 2 MiB
//! (table `v2m`; BENCHMARKS.md's extra row: 4,000 and 400), under 8-byte keys in random order.
//! Each value's bytes come from a counter-based SplitMix64 stream, and the sum of its 64-bit words
//! is kept in a side file, so readers check every byte they read (the comparison package's
//! checksum) without generating the values again.
//!
//! A child reads every value once in key order (a warm-up that fills a cache that holds the data,
//! and faults the map's pages in), then runs each workload, with a new read transaction every
//! `TXN_OPS` operations:
//! - `64k get`: `2 x --large` gets of random 64 KiB values;
//! - `64k range`: `--large / 5` ranges of 10 values from a random key;
//! - `2m get`: `2 x --large / 10` gets of random 2 MiB values.

use super::{mix, rusage, spawn, status_bytes, GAMMA, SEED};
use larchdb::{Backend, Database, Durability};
use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Prefix of a large-value child's result line.
const TAG: &str = "cache_reads-large";
/// Bytes of values a read transaction reads at most (a frame evicted while a transaction is
/// inside the cache is freed when it ends: transactions that read less keep memory closer to the
/// capacity).
const TXN_BYTES: usize = 4 << 20;
/// Values per range read.
const RANGE_LEN: usize = 10;
/// The two value sizes and their tables.
const SIZES: [(&str, usize); 2] = [("v64k", 64 << 10), ("v2m", 2 << 20)];

/// The database of `count` 64 KiB values (and `count / 10` of 2 MiB) in `dir`.
fn path(dir: &Path, count: u64) -> PathBuf {
    dir.join(format!("cache_reads-large-{count}.larch"))
}

/// How many values of table `t` (index into [`SIZES`]) a database of `count` holds.
fn values(t: usize, count: u64) -> u64 {
    if t == 0 {
        count
    } else {
        (count / 10).max(1)
    }
}

/// The key of value `i`: 8 bytes in an order unrelated to `i`.
fn key(i: u64) -> [u8; 8] {
    mix(i ^ SEED).to_be_bytes()
}

/// Fills `out` with value `i` of table `t`; returns the sum of its 64-bit words.
fn value(t: usize, i: u64, out: &mut [u8]) -> u64 {
    let base = mix(SEED ^ ((t as u64) << 40) ^ i);
    let mut sum = 0u64;
    for (c, chunk) in out.chunks_exact_mut(8).enumerate() {
        let w = mix(base.wrapping_add((c as u64 + 1).wrapping_mul(GAMMA)));
        chunk.copy_from_slice(&w.to_le_bytes());
        sum = sum.wrapping_add(w);
    }
    sum
}

/// The sum of a value's 64-bit words (what readers check).
fn checksum(v: &[u8]) -> u64 {
    v.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .fold(0, u64::wrapping_add)
}

/// Builds the database (and the side file of checksums, by key) unless it is there. Returns the
/// bytes of values.
fn ensure(dir: &Path, count: u64) -> u64 {
    let db_path = path(dir, count);
    let sums_path = db_path.with_extension("sums");
    let bytes: u64 = (0..2).map(|t| values(t, count) * SIZES[t].1 as u64).sum();
    if db_path.exists() && sums_path.exists() {
        return bytes;
    }
    std::fs::create_dir_all(dir).expect("create --dir");
    let tmp = db_path.with_extension("building");
    let _ = std::fs::remove_file(&tmp);
    let mut sums = String::new();
    {
        let db = Database::builder()
            .durability(Durability::Immediate)
            .open(&tmp)
            .expect("create database");
        for (t, &(table, size)) in SIZES.iter().enumerate() {
            let mut buf = vec![0u8; size];
            let n = values(t, count);
            for from in (0..n).step_by(50) {
                let w = db.begin_write().expect("begin_write");
                {
                    let mut tab = w.open_table(table).expect("open_table");
                    for i in from..(from + 50).min(n) {
                        let sum = value(t, i, &mut buf);
                        tab.insert(&key(i), &buf).expect("insert");
                        sums.push_str(&format!("{t} {} {sum}\n", u64::from_be_bytes(key(i))));
                    }
                }
                w.commit().expect("commit");
            }
        }
    }
    std::fs::write(&sums_path, sums).expect("write the checksums");
    std::fs::rename(&tmp, &db_path).expect("rename the finished database");
    bytes
}

/// The checksums of the values, by table and key.
fn load_sums(dir: &Path, count: u64) -> [HashMap<u64, u64>; 2] {
    let text = std::fs::read_to_string(path(dir, count).with_extension("sums")).expect("sums");
    let mut sums = [HashMap::new(), HashMap::new()];
    for line in text.lines() {
        let w: Vec<u64> = line.split(' ').filter_map(|x| x.parse().ok()).collect();
        sums[w[0] as usize].insert(w[1], w[2]);
    }
    sums
}

/// Checks value `v` of key `k` against its checksum in `sums`.
fn check(sums: &HashMap<u64, u64>, k: &[u8], v: &[u8]) {
    let want = sums[&u64::from_be_bytes(k.try_into().expect("8-byte key"))];
    assert_eq!(
        checksum(v),
        want,
        "a value read differs from the one written"
    );
}

/// Operations per read transaction on table `t`, each reading `per_op` values.
fn txn_ops(t: usize, per_op: usize) -> u64 {
    (TXN_BYTES / (SIZES[t].1 * per_op)).max(1) as u64
}

/// One workload's pass: `ops` operations on table `t`, ranges of [`RANGE_LEN`] if `range`;
/// `draw` seeds the keys. Panics on a wrong value. Returns the seconds taken.
fn pass(db: &Database, sums: &HashMap<u64, u64>, t: usize, n: u64, w: Work, draw: u64) -> f64 {
    let (table, ops, range) = (SIZES[t].0, w.ops, w.range);
    let per_txn = txn_ops(t, if range { RANGE_LEN } else { 1 });
    let start = Instant::now();
    let mut done = 0;
    while done < ops {
        let rtx = db.begin_read().expect("begin_read");
        let tab = rtx.open_table(table).expect("open_table");
        for op in done..(done + per_txn).min(ops) {
            let k = key(mix(draw.wrapping_add(op.wrapping_mul(GAMMA))) % n);
            if range {
                let it = tab
                    .range((Bound::Included(&k[..]), Bound::Unbounded))
                    .expect("range");
                for item in it.take(RANGE_LEN) {
                    let (k, v) = item.expect("range item");
                    check(sums, k, v);
                }
            } else {
                let v = tab.get(&k).expect("get").expect("the key is there");
                check(sums, &k, v);
            }
        }
        done = (done + per_txn).min(ops);
    }
    start.elapsed().as_secs_f64()
}

/// Reads every value of table `t` once, in key order (in transactions of [`TXN_BYTES`]): the
/// map's pages are faulted in, and a cache that holds the data holds every value.
fn warm_up(db: &Database, sums: &HashMap<u64, u64>, t: usize) {
    let mut from: Option<Vec<u8>> = None;
    loop {
        let rtx = db.begin_read().expect("begin_read");
        let tab = rtx.open_table(SIZES[t].0).expect("open_table");
        let start = from.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let mut seen = 0;
        for item in tab
            .range((start, Bound::Unbounded))
            .expect("range")
            .take(txn_ops(t, 1) as usize)
        {
            let (k, v) = item.expect("item");
            check(sums, k, v);
            from = Some(k.to_vec());
            seen += 1;
        }
        if seen == 0 {
            return;
        }
    }
}

/// One measured workload.
#[derive(Clone, Copy)]
struct Work {
    /// The table it reads (index into [`SIZES`]).
    table: usize,
    /// Operations per pass.
    ops: u64,
    /// Ranges of [`RANGE_LEN`] values, or gets.
    range: bool,
}

/// The workloads of a database of `count`: each reads about twice the table's bytes.
fn workloads(count: u64) -> [Work; 3] {
    let work = |_name: &str, table, ops, range| Work { table, ops, range };
    [
        work("64k get", 0, 2 * count, false),
        work("64k range", 0, (count / 5).max(1), true),
        work("2m get", 1, 2 * values(1, count), false),
    ]
}

/// A large-value child: opens the database read-only with `backend`, runs every workload
/// (warm-up, then measured) and prints one [`TAG`] line.
pub fn child(dir: &Path, count: u64, backend: Backend) {
    let sums = load_sums(dir, count);
    let db = Database::builder()
        .backend(backend)
        .read_only(true)
        .open(path(dir, count))
        .expect("open the database read-only");
    let mut out = String::from(TAG);
    for (w, work) in workloads(count).into_iter().enumerate() {
        let t = work.table;
        // The peak RSS of each workload on its own (Linux: writing 5 resets VmHWM).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        warm_up(&db, &sums[t], t);
        let before = db.cache_stats().unwrap_or_default();
        let secs = pass(
            &db,
            &sums[t],
            t,
            values(t, count),
            work,
            mix(SEED ^ w as u64),
        );
        let after = db.cache_stats().unwrap_or_default();
        let (hits, misses) = (after.hits - before.hits, after.misses - before.misses);
        out.push_str(&format!(
            " {w}.secs={secs} {w}.hits={hits} {w}.misses={misses} {w}.hwm={} {w}.retired={}",
            status_bytes("VmHWM"),
            after.retired_frames
        ));
    }
    let (maxrss, _, _) = rusage();
    let s = db.cache_stats().unwrap_or_default();
    out.push_str(&format!(
        " hwm={} maxrss={maxrss} rss={} resident={} private={}",
        status_bytes("VmHWM"),
        status_bytes("VmRSS"),
        s.resident_frames,
        s.private_runs
    ));
    println!("{out}");
}

/// What a child reported: its words by name.
fn parse(out: &str) -> HashMap<String, f64> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(TAG))
        .unwrap_or_else(|| panic!("a large-value child printed no result: {out}"));
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}

/// The parent of the large-value section: builds the database, runs `rounds` rounds of the
/// three backends in rotated order, and prints a table per round and the ratios to the map.
pub fn parent(dir: &Path, count: u64, rounds: u64) {
    let bytes = spawn_prepare(dir, count);
    let backends: [(&str, Option<u64>); 3] = [
        ("mmap", None),
        ("cached 200%", Some(2 * bytes)),
        ("cached 10%", Some(bytes / 10)),
    ];
    let mib = |b: f64| b / (1u64 << 20) as f64;
    println!(
        "\ncache_reads --large: {count} values of 64 KiB, {} of 2 MiB ({:.0} MiB of values); \
         cache capacities relative to that.\n",
        values(1, count),
        mib(bytes as f64)
    );
    println!(
        "| round | backend | capacity MiB | 64k get ms | 64k range ms | 2m get ms | \
         hit rate (64k get / range / 2m) | peak RSS MiB | RSS / capacity |"
    );
    println!("|---:|---|---:|---:|---:|---:|---|---:|---:|");
    let mut ratios: HashMap<(&str, usize), Vec<f64>> = HashMap::new();
    for round in 0..rounds as usize {
        let mut got: HashMap<&str, HashMap<String, f64>> = HashMap::new();
        for i in 0..backends.len() {
            let (name, capacity) = backends[(i + round) % backends.len()];
            let spec = capacity.map_or("mmap".to_string(), |c| c.to_string());
            let out = spawn_large(dir, count, &spec);
            got.insert(name, parse(&out));
        }
        for (name, capacity) in backends {
            let r = &got[name];
            let rate = |w: usize| {
                let (h, m) = (r[&format!("{w}.hits")], r[&format!("{w}.misses")]);
                if h + m == 0.0 {
                    "-".to_string()
                } else {
                    format!("{:.1}%", 100.0 * h / (h + m))
                }
            };
            let ms = |w: usize| r[&format!("{w}.secs")] * 1e3;
            println!(
                "| {round} | {name} | {} | {:.1} | {:.1} | {:.1} | {} / {} / {} | {:.1} | {} |",
                capacity.map_or("-".into(), |c| format!("{:.1}", mib(c as f64))),
                ms(0),
                ms(1),
                ms(2),
                rate(0),
                rate(1),
                rate(2),
                mib(r["hwm"]),
                capacity.map_or("-".into(), |c| format!("{:.2}", r["hwm"] / c as f64)),
            );
            for w in 0..3 {
                let base = got["mmap"][&format!("{w}.secs")];
                ratios
                    .entry((name, w))
                    .or_default()
                    .push(r[&format!("{w}.secs")] / base);
            }
        }
    }
    println!("\n| backend | 64k get / mmap | 64k range / mmap | 2m get / mmap |");
    println!("|---|---:|---:|---:|");
    for (name, _) in &backends[1..] {
        let cell = |w: usize| {
            let mut v = ratios[&(*name, w)].clone();
            v.sort_by(f64::total_cmp);
            let list: Vec<String> = v.iter().map(|x| format!("{x:.2}")).collect();
            format!("{:.2}x (rounds: {})", v[v.len() / 2], list.join(", "))
        };
        println!("| {name} | {} | {} | {} |", cell(0), cell(1), cell(2));
    }
}

/// Builds the database in a child (so the parent stays small); returns the bytes of values.
fn spawn_prepare(dir: &Path, count: u64) -> u64 {
    let out = spawn_large(dir, count, "prepare");
    out.lines()
        .find_map(|l| l.strip_prefix("cache_reads-large-bytes "))
        .and_then(|b| b.trim().parse().ok())
        .unwrap_or_else(|| panic!("the prepare child printed no size: {out}"))
}

/// Runs this program as a large-value child with `spec` (`prepare`, `mmap` or a capacity).
fn spawn_large(dir: &Path, count: u64, spec: &str) -> String {
    let count = count.to_string();
    let dir = dir.to_string_lossy().into_owned();
    spawn(&["--dir", &dir, "--large", &count, "--child-large", spec])
}

/// The `prepare` child of the large-value section.
pub fn prepare(dir: &Path, count: u64) {
    println!("cache_reads-large-bytes {}", ensure(dir, count));
}
