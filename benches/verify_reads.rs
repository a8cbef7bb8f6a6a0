//! What verifying pages before trusting them costs reads (issue 11): random gets, short range
//! reads and a full scan, with `Builder::verify_checksums` on and off, on the map and on a cache
//! that holds the whole file.
//!
//! The database is the standard workload: `--keys` pairs (default 1,000,000) of 24 random key
//! bytes and 150 random value bytes, loaded with the map backend in transactions of 100,000
//! inserts, once per process in a temporary directory. Every measurement opens the database
//! afresh (read-only), so it includes each page's first touch after the open, which is when
//! verification happens (on the map; with the cache, at each miss), then runs one pass:
//! - *gets*: `--keys` gets of keys drawn uniformly (through read transactions of 1,000 gets);
//! - *absent gets*: as many gets of keys that are not there (a present key plus one byte);
//! - *ranges*: `--keys / 10` range reads of 10 entries from random keys;
//! - *scan*: one iteration over the whole table.
//!
//! The kernel's page cache is not dropped (the machine is shared), so a first touch is a minor
//! fault or a `pread` from memory: the measurement isolates the CPU cost of hashing each page.
//! Each cell is the best of `--rounds` rounds (default 3), the two settings interleaved (in
//! alternating order) so that load from other processes falls on both alike; the table gives wall and CPU
//! times in milliseconds (CPU: the thread's run time as the scheduler counts it, which other
//! processes on a shared machine do not inflate) and the ratios on/off.
//!
//! Run with `cargo bench --bench verify_reads [-- --keys N --rounds R]`. Without the `--bench`
//! argument (as `cargo test --benches` runs it) it is a smoke run of 2,000 keys and one round.

use larchdb::{Backend, Database, ReadTxn};
use std::ops::Bound;
use std::path::Path;
use std::time::{Duration, Instant};

/// The table every pair goes into.
const TABLE: &str = "bench";
/// Key length of the standard workload.
const KEY_LEN: usize = 24;
/// Value length of the standard workload.
const VALUE_LEN: usize = 150;
/// Inserts per write transaction while loading.
const LOAD_BATCH: u64 = 100_000;
/// Gets per read transaction.
const TXN_GETS: u64 = 1_000;
/// Entries per range read.
const RANGE_LEN: usize = 10;

/// SplitMix64's finaliser: pair `i`'s bytes are words `mix(i * 32 + j)`.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` bytes of pair `i`'s stream from word `first`.
fn bytes(i: u64, first: u64, n: usize) -> Vec<u8> {
    (0..n.div_ceil(8) as u64)
        .flat_map(|j| mix(i * 32 + first + j).to_le_bytes())
        .take(n)
        .collect()
}

/// The key of pair `i`.
fn key(i: u64) -> Vec<u8> {
    bytes(i, 0, KEY_LEN)
}

/// Loads `keys` pairs into a new database at `path`.
fn load(path: &Path, keys: u64) {
    let db = Database::open(path).expect("create");
    for start in (0..keys).step_by(LOAD_BATCH as usize) {
        let w = db.begin_write().expect("begin");
        {
            let mut t = w.open_table(TABLE).expect("table");
            for i in start..(start + LOAD_BATCH).min(keys) {
                t.insert(&key(i), &bytes(i, 4, VALUE_LEN)).expect("insert");
            }
        }
        w.commit().expect("commit");
    }
}

/// A read workload: returns a checksum of what it read.
type Workload = dyn Fn(&Database) -> u64;

/// CPU time this thread has run, from the scheduler's account (`/proc/thread-self/sched`,
/// nanosecond resolution, page faults included): on a shared machine, the time the pass really
/// took, whatever other processes took from it.
fn cpu_time() -> Duration {
    let sched = std::fs::read_to_string("/proc/thread-self/sched").unwrap_or_default();
    let ms = sched
        .lines()
        .find(|l| l.starts_with("se.sum_exec_runtime"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    Duration::from_secs_f64(ms / 1e3)
}

/// One pass of a workload over a fresh read-only open; returns its wall and CPU times (open
/// included).
fn pass(path: &Path, backend: Backend, verify: bool, run: &Workload) -> [Duration; 2] {
    let (t, cpu) = (Instant::now(), cpu_time());
    let db = Database::builder()
        .read_only(true)
        .backend(backend)
        .verify_checksums(verify)
        .open(path)
        .expect("open");
    std::hint::black_box(run(&db));
    [t.elapsed(), cpu_time() - cpu]
}

/// `n` gets of uniformly drawn keys; returns a checksum of what was read.
fn gets(db: &Database, keys: u64, n: u64) -> u64 {
    let mut sum = 0u64;
    let mut rtx: Option<ReadTxn> = None;
    for g in 0..n {
        if g % TXN_GETS == 0 {
            rtx = Some(db.begin_read().expect("read"));
        }
        let t = rtx.as_ref().unwrap().open_table(TABLE).expect("table");
        let v = t.get(&key(mix(g) % keys)).expect("get").expect("present");
        sum = sum.wrapping_add(v[0] as u64);
    }
    sum
}

/// `n` gets of absent keys (each a present key with one more byte): every one a miss, which
/// checks the pages it read again (fences, leaf depths) before it answers None.
fn misses(db: &Database, keys: u64, n: u64) -> u64 {
    let mut found = 0u64;
    let mut rtx: Option<ReadTxn> = None;
    for g in 0..n {
        if g % TXN_GETS == 0 {
            rtx = Some(db.begin_read().expect("read"));
        }
        let t = rtx.as_ref().unwrap().open_table(TABLE).expect("table");
        let mut k = key(mix(g) % keys);
        k.push(0);
        found += u64::from(t.get(&k).expect("get").is_some());
    }
    assert_eq!(found, 0, "absent keys are absent");
    found
}

/// `n` range reads of [`RANGE_LEN`] entries from random keys.
fn ranges(db: &Database, keys: u64, n: u64) -> u64 {
    let rtx = db.begin_read().expect("read");
    let t = rtx.open_table(TABLE).expect("table");
    let mut sum = 0u64;
    for r in 0..n {
        let k = key(mix(r ^ 0xABCD) % keys);
        let range = t
            .range::<(Bound<&[u8]>, Bound<&[u8]>)>((Bound::Included(&k), Bound::Unbounded))
            .expect("range");
        for e in range.take(RANGE_LEN) {
            sum = sum.wrapping_add(e.expect("entry").1[0] as u64);
        }
    }
    sum
}

/// One iteration over the whole table; returns a checksum of what was read.
fn scan(db: &Database, keys: u64) -> u64 {
    let rtx = db.begin_read().expect("read");
    let t = rtx.open_table(TABLE).expect("table");
    let (mut n, mut sum) = (0u64, 0u64);
    for e in t.iter().expect("iter") {
        n += 1;
        sum = sum.wrapping_add(e.expect("entry").1[0] as u64);
    }
    assert_eq!(n, keys, "the scan saw every entry");
    sum
}

/// Prints what hashing every tree page once costs (what verification adds to an open that reads
/// the whole tree, at most): xxh3 over one 4 KiB page, timed over the file's pages in memory.
fn hash_cost(path: &Path) {
    let db = Database::builder()
        .read_only(true)
        .open(path)
        .expect("open");
    let s = db.stats().expect("stats");
    let pages = s.leaf_pages + s.branch_pages + s.overflow_pages;
    let file = std::fs::read(path).expect("read");
    let (t, cpu) = (Instant::now(), cpu_time());
    let mut sum = 0u64;
    for _ in 0..3 {
        for page in file.chunks_exact(s.page_size) {
            sum ^= xxhash_rust::xxh3::xxh3_64(std::hint::black_box(page));
        }
    }
    std::hint::black_box(sum);
    let n = 3 * file.len() as u64 / s.page_size as u64;
    let (wall, cpu) = (t.elapsed() / n as u32, (cpu_time() - cpu) / n as u32);
    println!(
        "xxh3 of one {} B page: {:.0} ns wall, {:.0} ns CPU; the {pages} tree pages: {:.1} ms CPU \
         per open that touches them all",
        s.page_size,
        wall.as_nanos(),
        cpu.as_nanos(),
        (cpu * pages as u32).as_secs_f64() * 1e3
    );
}

/// The value after `flag` on the command line, if any.
fn arg(args: &[String], flag: &str) -> Option<u64> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1)?.replace('_', "").parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let keys = arg(&args, "--keys").unwrap_or(if bench { 1_000_000 } else { 2_000 });
    let rounds = arg(&args, "--rounds").unwrap_or(if bench { 3 } else { 1 });
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("verify_reads.larch");
    load(&path, keys);
    let file = std::fs::metadata(&path).expect("stat").len() as usize;
    let backends = [
        ("map", Backend::Mmap),
        ("cache (whole file)", Backend::Cached { capacity: 2 * file }),
    ];
    let workloads: [(&str, &Workload); 4] = [
        ("random gets", &move |db| gets(db, keys, keys)),
        ("absent gets", &move |db| misses(db, keys, keys)),
        ("range reads", &move |db| ranges(db, keys, keys / 10)),
        ("full scan", &move |db| scan(db, keys)),
    ];
    println!(
        "verify_reads: {keys} keys, {} MiB file, best of {rounds} rounds (open included)",
        file >> 20
    );
    println!(
        "{:<20} {:<12} {:>9} {:>9} {:>7} {:>9} {:>9} {:>7}",
        "backend", "workload", "wall on", "wall off", "on/off", "CPU on", "CPU off", "on/off"
    );
    hash_cost(&path);
    for (bname, backend) in backends {
        for (wname, run) in workloads {
            // [verify on, off] x [wall, CPU]: the best of the rounds.
            let mut best = [[Duration::MAX; 2]; 2];
            for r in 0..rounds as usize {
                // On first in even rounds, off first in odd ones: no setting always follows.
                for i in [r % 2, 1 - r % 2] {
                    let times = pass(&path, backend, i == 0, run);
                    best[i] = [0, 1].map(|j| best[i][j].min(times[j]));
                }
            }
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let ratio = |j: usize| best[0][j].as_secs_f64() / best[1][j].as_secs_f64();
            println!(
                "{bname:<20} {wname:<12} {:>9.1} {:>9.1} {:>7.3} {:>9.1} {:>9.1} {:>7.3}",
                ms(best[0][0]),
                ms(best[1][0]),
                ratio(0),
                ms(best[0][1]),
                ms(best[1][1]),
                ratio(1)
            );
        }
    }
}
