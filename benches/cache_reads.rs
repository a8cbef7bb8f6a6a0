//! Random-read throughput and memory of the cached backend against the map (issue #5, part 4).
//!
//! The database is the standard workload: `--keys` pairs (default 1,000,000) of 24 random key
//! bytes and 150 random value bytes from one seeded, counter-based SplitMix64 stream (pair `i` is
//! its key's words followed by its value's words, as in the comparison package), so any pair can
//! be regenerated from its index and readers verify values without keeping the data in memory.
//! It is built once with the map backend, in transactions of 100,000 inserts, and reused by later
//! runs (`<dir>/cache_reads-<keys>.larch`; `--dir` defaults to cargo's `CARGO_TARGET_TMPDIR`).
//!
//! Then, for each backend — the map; a cache of twice the tree pages (everything fits); a cache
//! of a tenth of them — and for 1 and 2 reader threads, a child process (this program re-executed
//! with `--child`, so that its peak memory is that of reads alone) opens the database read-only
//! and runs two passes of `--reads` random gets (default 1,000,000, split evenly between the
//! threads; keys drawn uniformly, every value compared with the expected one):
//! - *cold*: the first pass of the process: a larchdb cache holding only what opening the file
//!   read (recovery verifies the pages of the latest commit), or a map not yet faulted in. The
//!   kernel's page cache is NOT dropped (the machine is shared), so once the file has been read
//!   "cold" misses are `pread`s or minor faults served from memory, not the disk;
//! - *warm*: the same number of gets right after it: the pass the table compares.
//!
//! Capacities are fractions of the tree pages (leaf and branch), not of the file: loading in
//! batches leaves the previous copy of most of the tree as free pages, which no read touches.
//!
//! Each thread reads through short transactions: a new `ReadTxn` (and table handle) every 1,000
//! gets. A frame evicted while a reader is inside the cache is freed only once that reader ends,
//! so short transactions keep memory close to the capacity.
//!
//! The parent (which never opens the database, so that its own peak RSS, which Linux hands down
//! to a spawned child's `getrusage` maxrss, stays small) prints one row per backend and thread
//! count: warm gets per second; the warm time relative to the map with the same number of
//! threads (BENCHMARKS.md's target for a cache that holds everything: at most 1.5x); the
//! 2-thread / 1-thread speed-up; CPU time per get and CPU time over wall time (on a shared
//! machine, how much of the cores the pass actually got); the cache's hit rate and evictions
//! (over every page lookup); and the child's peak RSS (VmHWM and
//! `getrusage` maxrss) next to the capacity and the tree's size. A second table gives the open
//! time, the cold pass, the memory split at the end, and the 1-minute load average when each
//! child started.
//!
//! Run with `cargo bench --bench cache_reads [-- --keys N --reads N --dir DIR]`. Without the
//! `--bench` argument that `cargo bench` passes (as `cargo test --benches` runs it), it is a smoke
//! run of 2,000 keys and 2,000 gets per pass unless `--keys` and `--reads` say otherwise.
#![allow(unsafe_code)] // getrusage

#[path = "cache_reads/large.rs"]
mod large;

use larchdb::{Backend, CacheStats, Database, Durability};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// The table every pair goes into.
const TABLE: &str = "bench";
/// Key length of the standard workload.
const KEY_LEN: usize = 24;
/// Value length of the standard workload.
const VALUE_LEN: usize = 150;
/// Keys loaded unless `--keys` says otherwise.
const DEFAULT_KEYS: u64 = 1_000_000;
/// Gets per pass unless `--reads` says otherwise.
const DEFAULT_READS: u64 = 1_000_000;
/// Keys and gets per pass of a smoke run (without `--bench`, as `cargo test --benches` runs it).
const SMOKE_SIZE: u64 = 2_000;
/// Inserts per write transaction while building the database.
const LOAD_BATCH: u64 = 100_000;
/// Gets per read transaction.
const TXN_GETS: u64 = 1_000;
/// Seed of the data stream.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
/// SplitMix64's increment.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
/// Prefix of the line a reading child prints its results on.
const RESULT_TAG: &str = "cache_reads-result";
/// Prefix of the line the `prepare` child prints the database's sizes on.
const SIZES_TAG: &str = "cache_reads-sizes";

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seeded stream of (key, value) pairs, with random access by pair index.
struct Stream {
    /// The mixed seed.
    seed: u64,
}

impl Stream {
    /// 64-bit words per key.
    const KEY_WORDS: u64 = KEY_LEN.div_ceil(8) as u64;
    /// 64-bit words per pair.
    const PAIR_WORDS: u64 = Self::KEY_WORDS + VALUE_LEN.div_ceil(8) as u64;

    /// The stream of `seed`.
    fn new(seed: u64) -> Stream {
        Stream { seed: mix(seed) }
    }

    /// Fills `out` from consecutive words starting at word `first`.
    fn fill(&self, first: u64, out: &mut [u8]) {
        for (c, chunk) in out.chunks_mut(8).enumerate() {
            let j = first + c as u64 + 1;
            let w = mix(self.seed.wrapping_add(j.wrapping_mul(GAMMA))).to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }

    /// Key and value of pair `i`.
    fn pair(&self, i: u64, key: &mut [u8; KEY_LEN], value: &mut [u8; VALUE_LEN]) {
        self.fill(i * Self::PAIR_WORDS, key);
        self.fill(i * Self::PAIR_WORDS + Self::KEY_WORDS, value);
    }
}

/// What the command line asked for.
struct Args {
    /// Pairs in the database.
    keys: u64,
    /// Gets per pass (over all threads).
    reads: u64,
    /// Where the database lives.
    dir: PathBuf,
    /// Set in a child: what it does.
    child: Option<Child>,
    /// Rounds of the backends, in rotated order.
    rounds: u64,
    /// With `--large N`: the large-value section, with N values of 64 KiB.
    large: Option<u64>,
    /// Set in a large-value child: `prepare`, `mmap` or a capacity.
    child_large: Option<String>,
}

/// What a child process does.
#[derive(Clone, Copy)]
enum Child {
    /// Builds the database if it is missing and prints its sizes.
    Prepare,
    /// Measures reads with this backend and this many threads.
    Read(Backend, usize),
}

/// A positive integer argument (underscores allowed).
fn parse_count(flag: &str, s: Option<String>) -> Result<u64, String> {
    let s = s.ok_or_else(|| format!("{flag} needs a value"))?;
    s.replace('_', "")
        .parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{flag}: {s:?} is not a positive integer"))
}

/// A backend as children are given it: `mmap`, or a cache capacity in bytes.
fn parse_backend(spec: &str) -> Backend {
    match spec {
        "mmap" => Backend::Mmap,
        n => Backend::Cached {
            capacity: n.parse().expect("a capacity in bytes"),
        },
    }
}

/// Parses the command line; `Err` carries the message to print.
fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        keys: 0,
        reads: 0,
        dir: PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        child: None,
        rounds: 1,
        large: None,
        child_large: None,
    };
    let mut bench = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            // Passed by `cargo bench` to every benchmark binary.
            "--bench" => bench = true,
            "--keys" => a.keys = parse_count("--keys", it.next())?,
            "--reads" => a.reads = parse_count("--reads", it.next())?,
            "--dir" => a.dir = it.next().ok_or("--dir needs a value")?.into(),
            "--rounds" => a.rounds = parse_count("--rounds", it.next())?,
            "--large" => a.large = Some(parse_count("--large", it.next())?),
            "--child-large" => {
                a.child_large = Some(it.next().ok_or("--child-large needs a value")?)
            }
            "--child" => {
                let backend = match it.next().as_deref() {
                    Some("prepare") => {
                        a.child = Some(Child::Prepare);
                        continue;
                    }
                    Some(spec) => parse_backend(spec),
                    None => return Err("--child needs a backend".into()),
                };
                let threads = parse_count("--child", it.next())? as usize;
                a.child = Some(Child::Read(backend, threads));
            }
            "-h" | "--help" => {
                println!(
                    "usage: cache_reads [--keys N] [--reads N] [--dir DIR] [--rounds N] [--large N]\n\
                     (through cargo: cargo bench --bench cache_reads -- [OPTIONS])"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    // Children are always given both sizes.
    let (keys, reads) = if bench {
        (DEFAULT_KEYS, DEFAULT_READS)
    } else {
        (SMOKE_SIZE, SMOKE_SIZE)
    };
    if a.keys == 0 {
        a.keys = keys;
    }
    if a.reads == 0 {
        a.reads = reads;
    }
    Ok(a)
}

/// Runs the parent, or the child that `--child` names.
fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(count) = args.large {
        match args.child_large.as_deref() {
            Some("prepare") => large::prepare(&args.dir, count),
            Some(spec) => large::child(&args.dir, count, parse_backend(spec)),
            None => large::parent(&args.dir, count, args.rounds),
        }
        return ExitCode::SUCCESS;
    }
    match args.child {
        Some(Child::Prepare) => prepare(&args),
        Some(Child::Read(backend, threads)) => child(&args, backend, threads),
        None => parent(&args),
    }
    ExitCode::SUCCESS
}

/// The database file for `keys` pairs in `dir`.
fn db_path(dir: &Path, keys: u64) -> PathBuf {
    dir.join(format!("cache_reads-{keys}.larch"))
}

/// Builds the database at `path` unless it is there already. The load goes to a temporary name,
/// renamed at the end, so an interrupted build is never taken for a finished one.
fn ensure_database(path: &Path, keys: u64) {
    if path.exists() {
        eprintln!("cache_reads: reusing {}", path.display());
        return;
    }
    std::fs::create_dir_all(path.parent().expect("file in a directory")).expect("create --dir");
    let tmp = path.with_extension("building");
    let _ = std::fs::remove_file(&tmp);
    let start = Instant::now();
    {
        let db = Database::builder()
            .durability(Durability::Immediate)
            .open(&tmp)
            .expect("create database");
        let s = Stream::new(SEED);
        let (mut k, mut v) = ([0u8; KEY_LEN], [0u8; VALUE_LEN]);
        let mut from = 0;
        while from < keys {
            let to = (from + LOAD_BATCH).min(keys);
            let wtx = db.begin_write().expect("begin_write");
            {
                let mut t = wtx.open_table(TABLE).expect("open_table");
                for i in from..to {
                    s.pair(i, &mut k, &mut v);
                    t.insert(&k, &v).expect("insert");
                }
            }
            wtx.commit().expect("commit");
            from = to;
        }
        let rtx = db.begin_read().expect("begin_read");
        let n = rtx.open_table(TABLE).expect("open_table").len();
        assert_eq!(
            n.expect("len"),
            keys,
            "every key of the load must be present"
        );
    }
    std::fs::rename(&tmp, path).expect("rename the finished database");
    eprintln!(
        "cache_reads: built {} ({keys} keys in transactions of {LOAD_BATCH}) in {:.1?}",
        path.display(),
        start.elapsed()
    );
}

/// One pass's numbers, as a child reports them.
#[derive(Debug, Default, Clone, Copy)]
struct Pass {
    /// Wall-clock seconds from the first thread's start to the last one's end.
    secs: f64,
    /// CPU seconds (user and system, all threads) the process spent during the pass.
    cpu: f64,
    /// System CPU seconds during the pass (`pread`s, page faults).
    sys: f64,
    /// Cache hits during the pass.
    hits: u64,
    /// Cache misses during the pass.
    misses: u64,
    /// Frames evicted during the pass.
    evictions: u64,
}

impl Pass {
    /// Hits over lookups, if the pass used the cache.
    fn hit_rate(&self) -> Option<f64> {
        let total = self.hits + self.misses;
        (total > 0).then(|| self.hits as f64 / total as f64)
    }

    /// The fields, as `name.field=value` words of a result line.
    fn words(&self, name: &str) -> String {
        format!(
            "{name}.secs={} {name}.cpu={} {name}.sys={} {name}.hits={} {name}.misses={} \
             {name}.evictions={}",
            self.secs, self.cpu, self.sys, self.hits, self.misses, self.evictions
        )
    }
}

/// Everything a reading child reports.
#[derive(Debug, Default, Clone, Copy)]
struct Report {
    /// The first pass.
    cold: Pass,
    /// The second pass, the one compared.
    warm: Pass,
    /// Seconds to open the database (recovery verifies the pages of the latest commit).
    open_secs: f64,
    /// VmRSS right after opening the database, in bytes.
    rss_open: u64,
    /// VmHWM at the end, in bytes.
    hwm: u64,
    /// `getrusage` maxrss at the end, in bytes.
    maxrss: u64,
    /// RssAnon at the end, in bytes.
    anon: u64,
    /// RssFile at the end, in bytes.
    file: u64,
    /// Frames resident in the cache at the end.
    resident: u64,
}

/// A field of /proc/self/status given in kB, in bytes (0 if missing).
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// `getrusage(RUSAGE_SELF)`: (maxrss in bytes, user seconds, system seconds).
fn rusage() -> (u64, f64, f64) {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage` for the call to fill.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        ru.ru_maxrss as u64 * 1024,
        secs(ru.ru_utime),
        secs(ru.ru_stime),
    )
}

/// `gets` verified random gets of pairs below `keys` by one thread, a new read transaction every
/// [`TXN_GETS`] gets; `draw` seeds the choice of keys. Panics on a missing or wrong value.
fn read_thread(db: &Database, keys: u64, gets: u64, draw: u64) {
    let s = Stream::new(SEED);
    let (mut k, mut v) = ([0u8; KEY_LEN], [0u8; VALUE_LEN]);
    let mut c = 0u64;
    while c < gets {
        let rtx = db.begin_read().expect("begin_read");
        let t = rtx.open_table(TABLE).expect("open_table");
        let end = (c + TXN_GETS).min(gets);
        while c < end {
            let i = mix(draw.wrapping_add(c.wrapping_mul(GAMMA))) % keys;
            s.pair(i, &mut k, &mut v);
            match t.get(&k).expect("get") {
                Some(got) if got == v => {}
                Some(_) => panic!("pair {i}: the value read differs from the one written"),
                None => panic!("pair {i}: the key is missing"),
            }
            c += 1;
        }
    }
}

/// One pass of `reads` gets over `threads` threads; `pass` varies the keys drawn.
fn read_pass(db: &Database, keys: u64, reads: u64, threads: usize, pass: u64) -> Pass {
    let stats = || db.cache_stats().unwrap_or_default();
    let before = stats();
    let (_, user0, sys0) = rusage();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads as u64 {
            let gets = reads * (t + 1) / threads as u64 - reads * t / threads as u64;
            let draw = mix(SEED ^ (pass << 32) ^ t);
            scope.spawn(move || read_thread(db, keys, gets, draw));
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let (_, user1, sys1) = rusage();
    let after: CacheStats = stats();
    Pass {
        secs,
        cpu: (user1 - user0) + (sys1 - sys0),
        sys: sys1 - sys0,
        hits: after.hits - before.hits,
        misses: after.misses - before.misses,
        evictions: after.evictions - before.evictions,
    }
}

/// A reading child: opens the database read-only with `backend`, runs the cold and warm passes
/// with `threads` threads and prints its [`Report`] as one [`RESULT_TAG`] line of `name=value`
/// words.
fn child(a: &Args, backend: Backend, threads: usize) {
    let start = Instant::now();
    let db = Database::builder()
        .backend(backend)
        .read_only(true)
        .open(db_path(&a.dir, a.keys))
        .expect("open the database read-only");
    let open_secs = start.elapsed().as_secs_f64();
    let rss_open = status_bytes("VmRSS");
    let cold = read_pass(&db, a.keys, a.reads, threads, 1);
    let warm = read_pass(&db, a.keys, a.reads, threads, 2);
    let (maxrss, _, _) = rusage();
    let resident = db.cache_stats().map_or(0, |c| c.resident_frames);
    println!(
        "{RESULT_TAG} {} {} open_secs={open_secs} rss_open={rss_open} hwm={} maxrss={maxrss} \
         anon={} file={} resident={resident}",
        cold.words("cold"),
        warm.words("warm"),
        status_bytes("VmHWM"),
        status_bytes("RssAnon"),
        status_bytes("RssFile"),
    );
}

/// Parses a reading child's result line.
fn parse_report(line: &str) -> Option<Report> {
    let f: HashMap<&str, &str> = line
        .strip_prefix(RESULT_TAG)?
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect();
    let u = |k: &str| f.get(k)?.parse::<u64>().ok();
    let x = |k: &str| f.get(k)?.parse::<f64>().ok();
    let pass = |n: &str| -> Option<Pass> {
        Some(Pass {
            secs: x(&format!("{n}.secs"))?,
            cpu: x(&format!("{n}.cpu"))?,
            sys: x(&format!("{n}.sys"))?,
            hits: u(&format!("{n}.hits"))?,
            misses: u(&format!("{n}.misses"))?,
            evictions: u(&format!("{n}.evictions"))?,
        })
    };
    Some(Report {
        cold: pass("cold")?,
        warm: pass("warm")?,
        open_secs: x("open_secs")?,
        rss_open: u("rss_open")?,
        hwm: u("hwm")?,
        maxrss: u("maxrss")?,
        anon: u("anon")?,
        file: u("file")?,
        resident: u("resident")?,
    })
}

/// The 1-minute load average.
fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The three load averages, as /proc/loadavg shows them.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// One measured configuration.
struct Row {
    /// Backend name.
    name: &'static str,
    /// Cache capacity in bytes (None for the map).
    capacity: Option<u64>,
    /// Reader threads.
    threads: usize,
    /// 1-minute load when the child started.
    load: f64,
    /// What the child reported.
    r: Report,
}

/// Runs this program again with `a`'s settings and `extra` arguments; its stdout. Panics if it
/// fails.
fn spawn_child(a: &Args, extra: &[&str]) -> String {
    let (keys, reads) = (a.keys.to_string(), a.reads.to_string());
    let dir = a.dir.to_string_lossy().into_owned();
    let mut args = vec!["--keys", &keys, "--reads", &reads, "--dir", &dir];
    args.extend_from_slice(extra);
    spawn(&args)
}

/// Runs this program again with `args`; its stdout. Panics if it fails.
fn spawn(args: &[&str]) -> String {
    let exe = std::env::current_exe().expect("own executable");
    let extra = args;
    let out = Command::new(exe)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("start the child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child {extra:?} failed ({}): {stdout}",
        out.status
    );
    stdout
}

/// Runs one reading child for `backend` with `threads` threads and returns its report.
fn run_child(a: &Args, backend: Backend, threads: usize) -> Report {
    let spec = match backend {
        Backend::Mmap => "mmap".to_string(),
        Backend::Cached { capacity } => capacity.to_string(),
    };
    let out = spawn_child(a, &["--child", &spec, &threads.to_string()]);
    out.lines()
        .find_map(parse_report)
        .unwrap_or_else(|| panic!("child {spec} x{threads} printed no result: {out}"))
}

/// Mebibytes.
fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1u64 << 20) as f64)
}

/// Millions of gets per second for `n` gets in `secs`.
fn mgets(n: u64, secs: f64) -> f64 {
    n as f64 / secs / 1e6
}

/// The `prepare` child: builds the database if it is missing, then prints a [`SIZES_TAG`] line:
/// the bytes of its pages in use or free, of its tree pages, and the file's length.
fn prepare(a: &Args) {
    let path = db_path(&a.dir, a.keys);
    ensure_database(&path, a.keys);
    let file_len = std::fs::metadata(&path).expect("stat the database").len();
    let db = Database::builder()
        .read_only(true)
        .open(&path)
        .expect("open the database");
    let s = db.stats().expect("stats");
    let ps = s.page_size as u64;
    println!(
        "{SIZES_TAG} {} {} {file_len}",
        s.page_count * ps,
        (s.leaf_pages + s.branch_pages) * ps
    );
}

/// The parent: has the database built and measured by a child, runs every reading child and
/// prints the tables. It never opens the database itself: Linux carries a process's peak RSS
/// into the `getrusage` maxrss of the children it spawns (through `execve`), so the parent stays
/// small.
fn parent(a: &Args) {
    let out = spawn_child(a, &["--child", "prepare"]);
    let sizes: Vec<u64> = out
        .lines()
        .find_map(|l| l.strip_prefix(SIZES_TAG))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let [size, tree, file_len] = sizes[..] else {
        panic!("the prepare child printed no sizes: {out}");
    };
    // Capacities are relative to the tree pages, what reads can reach: a database loaded in
    // batches also holds the free pages of the last batch's copy-on-write (a large share).
    let backends: [(&str, Backend); 3] = [
        ("mmap", Backend::Mmap),
        (
            "cached 200%",
            Backend::Cached {
                capacity: 2 * tree as usize,
            },
        ),
        (
            "cached 10%",
            Backend::Cached {
                // At least 16 pages: tiny smoke databases stay above the cache's minimum.
                capacity: (tree as usize / 10).max(16 << 12),
            },
        ),
    ];
    let db = DbSize {
        pages: size,
        tree,
        file: file_len,
    };
    let load_start = loadavg();
    eprintln!(
        "cache_reads: {} keys, {} gets per pass; {}; load {load_start}",
        a.keys,
        a.reads,
        db.describe()
    );
    for round in 0..a.rounds as usize {
        let mut rows = Vec::new();
        // Rotated order: each backend runs first in some round (the machine is shared).
        for i in 0..backends.len() {
            let (name, backend) = backends[(i + round) % backends.len()];
            for threads in [1, 2] {
                let load = load1();
                let r = run_child(a, backend, threads);
                eprintln!(
                    "cache_reads: round {round}: {name} x{threads}: warm {:.3} M gets/s, peak RSS \
                     {} MiB (load {load:.2})",
                    mgets(a.reads, r.warm.secs),
                    mib(r.hwm)
                );
                let capacity = match backend {
                    Backend::Mmap => None,
                    Backend::Cached { capacity } => Some(capacity as u64),
                };
                rows.push(Row {
                    name,
                    capacity,
                    threads,
                    load,
                    r,
                });
            }
        }
        // Printed in the same order every round.
        rows.sort_by_key(|r| backends.iter().position(|(n, _)| *n == r.name));
        println!("\nround {round} (backends in rotated order)");
        print_tables(a, &rows, &db, &load_start);
    }
}

/// The database's sizes, in bytes.
struct DbSize {
    /// Pages in use or free.
    pages: u64,
    /// Leaf and branch pages of the tables.
    tree: u64,
    /// The file's length (with the preallocated tail).
    file: u64,
}

impl DbSize {
    /// "tree X MiB, pages Y MiB, file Z MiB".
    fn describe(&self) -> String {
        format!(
            "database: {} MiB of tree pages (leaf and branch), {} MiB of pages in use or free, \
             file {} MiB",
            mib(self.tree),
            mib(self.pages),
            mib(self.file)
        )
    }
}

/// `x` as a percentage with two decimals, or "-".
fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |h| format!("{:.2}%", h * 100.0))
}

/// Prints the result tables (markdown) to stdout.
fn print_tables(a: &Args, rows: &[Row], db: &DbSize, load_start: &str) {
    let warm = |name: &str, threads: usize| {
        rows.iter()
            .find(|r| r.name == name && r.threads == threads)
            .map(|r| mgets(a.reads, r.r.warm.secs))
    };
    println!(
        "\ncache_reads: {} keys (24 B keys, 150 B values), {} verified uniform random gets per \
         pass, a new ReadTxn every {TXN_GETS} gets; {}; capacities are relative to the tree \
         pages. Load average at start: {load_start}; at end: {}.\n",
        a.keys,
        a.reads,
        db.describe(),
        loadavg()
    );
    println!(
        "| backend | capacity MiB | threads | warm M gets/s | time / mmap | 2T / 1T | \
         CPU us/get | CPU / wall | hit rate | evictions | peak RSS MiB (VmHWM) | maxrss MiB | \
         RSS / capacity | RSS / tree |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let (r, w) = (&row.r, &row.r.warm);
        let g = mgets(a.reads, w.secs);
        let vs_mmap = warm("mmap", row.threads).map_or("-".into(), |m| format!("{:.2}x", m / g));
        let scaling = match (row.threads, warm(row.name, 1)) {
            (2, Some(one)) => format!("{:.2}x", g / one),
            _ => "-".into(),
        };
        println!(
            "| {} | {} | {} | {g:.3} | {vs_mmap} | {scaling} | {:.2} | {:.2} | {} | {} | {} | {} \
             | {} | {:.2} |",
            row.name,
            row.capacity.map_or("-".into(), mib),
            row.threads,
            w.cpu * 1e6 / a.reads as f64,
            w.cpu / w.secs,
            pct(w.hit_rate()),
            row.capacity.map_or("-".into(), |_| w.evictions.to_string()),
            mib(r.hwm),
            mib(r.maxrss),
            row.capacity
                .map_or("-".into(), |c| format!("{:.2}", r.hwm as f64 / c as f64)),
            r.hwm as f64 / db.tree as f64,
        );
    }
    println!(
        "\n| backend | threads | open s | cold M gets/s | cold CPU us/get | cold hit rate | \
         cold evictions | warm sys s | RSS after open MiB | end RssAnon MiB | end RssFile MiB | \
         resident frames | load (1 min) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let (r, c) = (&row.r, &row.r.cold);
        println!(
            "| {} | {} | {:.2} | {:.3} | {:.2} | {} | {} | {:.2} | {} | {} | {} | {} | {:.2} |",
            row.name,
            row.threads,
            r.open_secs,
            mgets(a.reads, c.secs),
            c.cpu * 1e6 / a.reads as f64,
            pct(c.hit_rate()),
            row.capacity.map_or("-".into(), |_| c.evictions.to_string()),
            r.warm.sys,
            mib(r.rss_open),
            mib(r.anon),
            mib(r.file),
            row.capacity.map_or("-".into(), |_| r.resident.to_string()),
            row.load,
        );
    }
}
