//! The workload of shared BENCHMARKS.md, run by a child process on one engine.
//!
//! Data comes from one seeded, counter-based PRNG stream (SplitMix64): pair `i` is a key of
//! `key_len` bytes followed by a value of `val_len` bytes, each filled from consecutive 64-bit
//! words. Because the generator is counter-based, pair `i` (or just its key) can be produced in
//! O(1), so reads replay the stream without storing it and without generating values they do
//! not need.

use crate::engines::{self, Compacted, Engine, OpenOptions, Result};
use crate::report::{Msg, Row, Unit};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded stream of (key, value) pairs with random access.
#[derive(Clone, Copy)]
pub struct Stream {
    seed: u64,
    key_len: usize,
    val_len: usize,
    key_words: u64,
    pair_words: u64,
}

impl Stream {
    pub fn new(seed: u64, key_len: usize, val_len: usize) -> Stream {
        let key_words = key_len.div_ceil(8) as u64;
        let val_words = val_len.div_ceil(8) as u64;
        Stream {
            seed: mix(seed),
            key_len,
            val_len,
            key_words,
            pair_words: key_words + val_words,
        }
    }

    fn word(&self, j: u64) -> u64 {
        mix(self
            .seed
            .wrapping_add(j.wrapping_add(1).wrapping_mul(GAMMA)))
    }

    fn fill(&self, first_word: u64, out: &mut [u8]) {
        for (c, chunk) in out.chunks_mut(8).enumerate() {
            let w = self.word(first_word + c as u64).to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }

    /// Writes key `i` into `out[..key_len]`.
    pub fn key(&self, i: u64, out: &mut [u8]) {
        self.fill(i * self.pair_words, &mut out[..self.key_len]);
    }

    /// Writes value `i` into `out[..val_len]`.
    pub fn value(&self, i: u64, out: &mut [u8]) {
        self.fill(
            i * self.pair_words + self.key_words,
            &mut out[..self.val_len],
        );
    }

    /// The first byte of value `i`, without generating the rest.
    pub fn value_first_byte(&self, i: u64) -> u8 {
        self.word(i * self.pair_words + self.key_words) as u8
    }

    /// A uniform pick in `0..n` for draw number `c` (a second stream derived from the seed).
    pub fn pick(&self, c: u64, n: u64) -> u64 {
        mix(self.seed ^ 0xA5A5_A5A5_5A5A_5A5A ^ c.wrapping_mul(GAMMA)) % n
    }
}

/// Sum of the little-endian 64-bit words of `v` (plus its tail bytes): touches every byte.
pub fn checksum(v: &[u8]) -> u64 {
    let mut chunks = v.chunks_exact(8);
    let mut s = 0u64;
    for c in &mut chunks {
        s = s.wrapping_add(u64::from_le_bytes(c.try_into().unwrap()));
    }
    for &b in chunks.remainder() {
        s = s.wrapping_add(b as u64);
    }
    s
}

/// Emits rows (as JSON lines on stdout) for the parent.
pub struct Rec {
    pub id_prefix: &'static str,
    pub label_prefix: &'static str,
}

pub fn emit(msg: &Msg) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::to_string(msg).unwrap());
    let _ = out.flush();
}

impl Rec {
    fn row(&self, id: &str, label: &str, unit: Unit, value: Option<f64>, note: Option<String>) {
        emit(&Msg::Row(Row {
            id: format!("{}{}", self.id_prefix, id),
            label: format!("{}{}", self.label_prefix, label),
            unit,
            value,
            note,
        }));
    }
    pub fn ms(&self, id: &str, label: &str, d: Duration) {
        self.row(id, label, Unit::Ms, Some(ms(d)), None);
    }
    pub fn ms_note(&self, id: &str, label: &str, v: Option<f64>, note: Option<String>) {
        self.row(id, label, Unit::Ms, v, note);
    }
    pub fn capped(&self, id: &str, label: &str, c: &Capped) {
        let (v, note) = c.report();
        self.row(id, label, Unit::Ms, Some(v), note);
    }
    pub fn bytes(&self, id: &str, label: &str, b: Option<u64>) {
        self.row(id, label, Unit::Bytes, b.map(|b| b as f64), None);
    }
    /// Two rows: the files' length and their allocated bytes (None: n/a).
    pub fn sizes(&self, id: &str, what: &str, s: Option<(u64, u64)>) {
        self.bytes(
            &format!("size_{id}"),
            &format!("file size {what}"),
            s.map(|s| s.0),
        );
        self.bytes(
            &format!("disk_{id}"),
            &format!("disk use {what}"),
            s.map(|s| s.1),
        );
    }
    pub fn rate(&self, id: &str, label: &str, per_sec: f64, note: Option<String>) {
        self.row(id, label, Unit::PerSec, Some(per_sec), note);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A loop that stops early once it has run longer than the cap.
pub struct Capped {
    pub elapsed: Duration,
    pub done: u64,
    pub total: u64,
}

impl Capped {
    /// Milliseconds per operation done (the loop must have done some).
    fn ms_per_op(&self) -> f64 {
        ms(self.elapsed) / self.done as f64
    }

    /// The time in ms (extrapolated to `total` when capped) and the note saying so.
    fn report(&self) -> (f64, Option<String>) {
        if self.done >= self.total || self.done == 0 {
            (ms(self.elapsed), None)
        } else {
            let full = self.ms_per_op() * self.total as f64;
            (
                full,
                Some(format!(
                    "capped by time: {} of {} in {:.1} s, extrapolated",
                    self.done,
                    self.total,
                    self.elapsed.as_secs_f64()
                )),
            )
        }
    }
}

/// How many times the commit rate of `single` (commits one after another on one thread) the
/// commits of `threaded` (several threads at once) reach: one thread's time per commit over the
/// threads' time per commit (wall time, all threads together). None if either did nothing.
fn own_rate(single: &Capped, threaded: &Capped) -> Option<f64> {
    match single.done > 0 && threaded.done > 0 && !threaded.elapsed.is_zero() {
        true => Some(single.ms_per_op() / threaded.ms_per_op()),
        false => None,
    }
}

/// Runs `f(j)` for `j in 0..total`, stopping once `cap` has passed; `f` returns the time to count.
fn capped_loop(
    total: u64,
    cap: Duration,
    mut f: impl FnMut(u64) -> Result<Duration>,
) -> Result<Capped> {
    let mut elapsed = Duration::ZERO;
    let mut done = 0;
    while done < total {
        elapsed += f(done)?;
        done += 1;
        if elapsed > cap {
            break;
        }
    }
    Ok(Capped {
        elapsed,
        done,
        total,
    })
}

/// Total length (as `ls -l` shows) and allocated bytes (as `du` shows) of the files under `dir`.
/// With `LARCH_COMPARE_LIST_FILES` set, also lists the files on stderr.
pub fn dir_size(dir: &Path) -> (u64, u64) {
    if std::env::var_os("LARCH_COMPARE_LIST_FILES").is_some() {
        list_files(dir);
    }
    dir_size_inner(dir)
}

fn list_files(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => list_files(&e.path()),
                Ok(m) => eprintln!(
                    "    {:>12} {:>12} {}",
                    m.len(),
                    m.blocks() * 512,
                    e.path().display()
                ),
                Err(_) => {}
            }
        }
    }
}

fn dir_size_inner(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut len, mut allocated) = (0, 0);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => {
                    let (l, a) = dir_size_inner(&e.path());
                    len += l;
                    allocated += a;
                }
                Ok(m) => {
                    len += m.len();
                    allocated += m.blocks() * 512;
                }
                Err(_) => {}
            }
        }
    }
    (len, allocated)
}

/// The standard workload's parameters (also used, scaled, for the 16/100 variant).
pub struct Standard {
    pub keys: u64,
    pub key_len: usize,
    pub val_len: usize,
    pub individual: u64,
    /// Writer threads and single-insert commits per thread of the "individual writes, N
    /// threads" row (run right after the individual writes), or None to skip it.
    pub threaded: Option<(u64, u64)>,
    pub batches: u64,
    pub batch_size: u64,
    pub reads: u64,
    pub ranges: u64,
    pub range_len: usize,
    /// Seconds of "reads while a writer commits", or None to skip it.
    pub writer_secs: Option<f64>,
    pub seed: u64,
    pub cap: Duration,
}

impl Standard {
    pub fn data_bytes(&self) -> u64 {
        let threaded = self.threaded.map_or(0, |(t, per)| t * per);
        (self.keys + self.individual + threaded + self.batches * self.batch_size)
            * (self.key_len + self.val_len) as u64
    }
}

fn write_pairs(db: &dyn Engine, s: &Stream, from: u64, to: u64) -> Result<()> {
    let mut k = vec![0u8; s.key_len];
    let mut v = vec![0u8; s.val_len];
    db.write(&mut |w| {
        for i in from..to {
            s.key(i, &mut k);
            s.value(i, &mut v);
            w.insert(&k, &v)?;
        }
        Ok(())
    })
}

/// Runs `f(t)` for `t in 0..threads`, each on its own scoped thread, all at once; the results in
/// thread order.
fn on_threads<T: Send>(threads: u64, f: impl Fn(u64) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = (0..threads).map(|t| scope.spawn(move || f(t))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// `count` gets of keys `j % n` (replaying the stream), split over `threads` threads, each with
/// its own read transaction. Checks that every key is found with the right first byte.
fn random_reads(db: &dyn Engine, s: &Stream, n: u64, count: u64, threads: u64) -> Result<Duration> {
    let expected: u64 = (0..count).map(|j| s.value_first_byte(j % n) as u64).sum();
    let start = Instant::now();
    let results = on_threads(threads, |t| -> Result<(u64, u64)> {
        let (lo, hi) = (count * t / threads, count * (t + 1) / threads);
        let mut k = vec![0u8; s.key_len];
        let (mut sum, mut found) = (0u64, 0u64);
        db.read(&mut |r| {
            for j in lo..hi {
                s.key(j % n, &mut k);
                if r.get(&k, &mut |v| sum += v[0] as u64)? {
                    found += 1;
                }
            }
            Ok(())
        })?;
        Ok((sum, found))
    });
    let elapsed = start.elapsed();
    let (mut sum, mut found) = (0, 0);
    for r in results {
        let (s, f) = r?;
        sum += s;
        found += f;
    }
    if found != count || sum != expected {
        return Err(format!(
            "random reads: found {found} of {count}, checksum {sum} (expected {expected})"
        )
        .into());
    }
    Ok(elapsed)
}

fn range_reads(
    db: &dyn Engine,
    s: &Stream,
    live: u64,
    count: u64,
    len: usize,
    salt: u64,
) -> Result<Duration> {
    let mut k = vec![0u8; s.key_len];
    let (mut sum, mut seen) = (0u64, 0u64);
    let start = Instant::now();
    db.read(&mut |r| {
        for c in 0..count {
            s.key(s.pick(c + salt, live), &mut k);
            seen += r.range_from(&k, len, &mut |k, v| sum += (k[0] ^ v[0]) as u64)? as u64;
        }
        Ok(())
    })?;
    let elapsed = start.elapsed();
    std::hint::black_box(sum);
    if seen < count {
        return Err(format!("range reads: {seen} entries for {count} scans").into());
    }
    Ok(elapsed)
}

fn len_of(db: &dyn Engine) -> Result<u64> {
    let mut n = 0;
    db.read(&mut |r| {
        n = r.len()?;
        Ok(())
    })?;
    Ok(n)
}

/// The standard workload (phases 1-9, plus individual writes from several threads right after
/// phase 2 and reads while a writer commits at the end).
pub fn run_standard(db: &mut Box<dyn Engine>, dir: &Path, p: &Standard, rec: &Rec) -> Result<()> {
    let s = Stream::new(p.seed, p.key_len, p.val_len);
    let n = p.keys;

    // 1. bulk load
    let t = Instant::now();
    write_pairs(db.as_ref(), &s, 0, n)?;
    rec.ms("bulk_load", "bulk load", t.elapsed());
    let mut next = n;

    // 2. individual writes
    let single = capped_loop(p.individual, p.cap, |j| {
        let t = Instant::now();
        write_pairs(db.as_ref(), &s, next + j, next + j + 1)?;
        Ok(t.elapsed())
    })?;
    next += single.done;
    rec.capped(
        "individual_writes",
        &format!("individual writes ({} txns x 1)", p.individual),
        &single,
    );

    // 2b. individual writes from several threads sharing the handle; the note says how many
    // times the one-thread commit rate of the same process they reach (the "own rate").
    if let Some((threads, per_thread)) = p.threaded {
        let c = threaded_writes(db.as_ref(), &s, next, threads, per_thread, p.cap)?;
        next += c.done;
        let (v, capped) = c.report();
        let note = match own_rate(&single, &c) {
            Some(own) => Some(format!(
                "{own:.2}x the one-thread commit rate of the same process{}",
                capped.map(|n| format!("; {n}")).unwrap_or_default()
            )),
            None => capped,
        };
        rec.ms_note(
            &format!("individual_writes_{threads}t"),
            &format!("individual writes, {threads} threads ({threads} x {per_thread} txns x 1)"),
            Some(v),
            note,
        );
    }

    // 3. batch writes
    let c = capped_loop(p.batches, p.cap, |j| {
        let t = Instant::now();
        let from = next + j * p.batch_size;
        write_pairs(db.as_ref(), &s, from, from + p.batch_size)?;
        Ok(t.elapsed())
    })?;
    next += c.done * p.batch_size;
    rec.capped(
        "batch_writes",
        &format!("batch writes ({} txns x {})", p.batches, p.batch_size),
        &c,
    );
    rec.sizes("after_writes", "after writes", Some(dir_size(dir)));

    // 4. len
    let t = Instant::now();
    let len = len_of(db.as_ref())?;
    rec.ms("len", "len()", t.elapsed());
    if len != next {
        return Err(format!("len() = {len}, expected {next}").into());
    }

    // 5. random reads, twice
    for run in 1..=2 {
        let d = random_reads(db.as_ref(), &s, n, p.reads, 1)?;
        rec.ms(
            &format!("random_reads_{run}"),
            &format!("random reads ({} gets), run {run}", p.reads),
            d,
        );
    }

    // 6. random range reads, twice
    for run in 1..=2 {
        let d = range_reads(db.as_ref(), &s, next, p.ranges, p.range_len, run * p.ranges)?;
        rec.ms(
            &format!("range_reads_{run}"),
            &format!("range reads ({} x {}), run {run}", p.ranges, p.range_len),
            d,
        );
    }

    // 7. random reads with 1 and 2 threads
    for threads in 1..=2 {
        let d = random_reads(db.as_ref(), &s, n, p.reads, threads)?;
        rec.ms(
            &format!("reads_{threads}t"),
            &format!(
                "random reads, {threads} thread{}",
                if threads > 1 { "s" } else { "" }
            ),
            d,
        );
    }

    // 8. removals: the first half of the keys, one transaction
    let half = n / 2;
    let mut removed = 0u64;
    let t = Instant::now();
    let mut k = vec![0u8; s.key_len];
    db.write(&mut |w| {
        for i in 0..half {
            s.key(i, &mut k);
            if w.remove(&k)? {
                removed += 1;
            }
        }
        Ok(())
    })?;
    rec.ms(
        "removals",
        &format!("removals ({half} in one txn)"),
        t.elapsed(),
    );
    let len = len_of(db.as_ref())?;
    if removed != half || len != next - half {
        return Err(format!(
            "removals: removed {removed} of {half}, len() = {len} (expected {})",
            next - half
        )
        .into());
    }

    // 9. size after removals, compaction, size after
    rec.sizes("after_removals", "after removals", Some(dir_size(dir)));
    let t = Instant::now();
    let compacted = db.compact(dir)?;
    let d = t.elapsed();
    match compacted {
        Compacted::Unsupported => {
            rec.ms_note(
                "compaction",
                "compaction",
                None,
                Some("no compaction".into()),
            );
            rec.sizes("after_compaction", "after compaction", None);
        }
        Compacted::InPlace => {
            rec.ms("compaction", "compaction", d);
            rec.sizes("after_compaction", "after compaction", Some(dir_size(dir)));
        }
        Compacted::Copy { len, allocated } => {
            rec.ms("compaction", "compaction", d);
            rec.sizes(
                "after_compaction",
                "after compaction",
                Some((len, allocated)),
            );
        }
    }
    if len_of(db.as_ref())? != next - half {
        return Err("len() changed across compaction".into());
    }

    // 10. reads while a writer commits
    if let Some(secs) = p.writer_secs {
        reads_with_writer(db.as_ref(), &s, half, n, next, secs, rec)?;
    }
    Ok(())
}

/// `threads` threads share `db`, each committing `per_thread` write transactions of one insert
/// (durable unless the engine was opened relaxed). Each commit takes the next pair from a shared
/// counter starting at `next`, so the pairs written are `next..next + done` whatever the
/// interleaving (new keys when `next` is past the keys written so far). Timed from before the
/// threads start to the end of the last one; a thread stops early once `cap` has passed since
/// the start.
fn threaded_writes(
    db: &dyn Engine,
    s: &Stream,
    next: u64,
    threads: u64,
    per_thread: u64,
    cap: Duration,
) -> Result<Capped> {
    let counter = AtomicU64::new(next);
    let start = Instant::now();
    let results = on_threads(threads, |_| -> Result<(u64, Instant)> {
        let mut done = 0;
        while done < per_thread && start.elapsed() <= cap {
            let i = counter.fetch_add(1, Ordering::Relaxed);
            write_pairs(db, s, i, i + 1)?;
            done += 1;
        }
        Ok((done, Instant::now()))
    });
    let (mut done, mut end) = (0, start);
    for r in results {
        let (d, e) = r?;
        done += d;
        end = end.max(e);
    }
    Ok(Capped {
        elapsed: end - start,
        done,
        total: threads * per_thread,
    })
}

/// A reader thread does random gets (a fresh read transaction every 100 gets) among the live
/// keys `lo..hi` while a writer thread commits single inserts (durably) from pair `next` on.
fn reads_with_writer(
    db: &dyn Engine,
    s: &Stream,
    lo: u64,
    hi: u64,
    next: u64,
    secs: f64,
    rec: &Rec,
) -> Result<()> {
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let (reads, commits) = std::thread::scope(|scope| -> Result<(u64, u64)> {
        let stop = &stop;
        let writer = scope.spawn(move || -> Result<u64> {
            let mut c = 0;
            while !stop.load(Ordering::Relaxed) {
                write_pairs(db, s, next + c, next + c + 1)?;
                c += 1;
            }
            Ok(c)
        });
        let reader = scope.spawn(move || -> Result<u64> {
            let mut k = vec![0u8; s.key_len];
            let (mut reads, mut misses, mut sum) = (0u64, 0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                db.read(&mut |r| {
                    for _ in 0..100 {
                        s.key(lo + s.pick(reads, hi - lo), &mut k);
                        if !r.get(&k, &mut |v| sum += v[0] as u64)? {
                            misses += 1;
                        }
                        reads += 1;
                    }
                    Ok(())
                })?;
            }
            std::hint::black_box(sum);
            if misses > 0 {
                return Err(format!("reads with writer: {misses} misses").into());
            }
            Ok(reads)
        });
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
        let reads = reader.join().unwrap();
        let commits = writer.join().unwrap();
        Ok((reads?, commits?))
    })?;
    let elapsed = start.elapsed().as_secs_f64();
    rec.rate(
        "reads_with_writer",
        "reads/s while a writer commits",
        reads as f64 / elapsed,
        None,
    );
    rec.rate(
        "writer_commits_with_reader",
        "writer commits/s during those reads",
        commits as f64 / elapsed,
        None,
    );
    Ok(())
}

/// 50,000 single-insert commits with relaxed durability (on an engine opened relaxed).
pub fn run_relaxed(db: &dyn Engine, count: u64, seed: u64, cap: Duration, rec: &Rec) -> Result<()> {
    let s = Stream::new(seed ^ 0x5E1A, 24, 150);
    let c = capped_loop(count, cap, |j| {
        let t = Instant::now();
        write_pairs(db, &s, j, j + 1)?;
        Ok(t.elapsed())
    })?;
    rec.capped(
        "relaxed_commits",
        &format!("{count} single-insert commits, relaxed durability"),
        &c,
    );
    Ok(())
}

/// Sorted 32-byte keys (a big-endian counter then random bytes), 32-byte values, inserted in
/// order in one transaction; then a full scan, and one backward.
pub fn run_sorted(db: &dyn Engine, count: u64, seed: u64, rec: &Rec) -> Result<()> {
    let s = Stream::new(seed ^ 0x50_27ED, 24, 32);
    let mut k = [0u8; 32];
    let mut v = [0u8; 32];
    let t = Instant::now();
    db.write(&mut |w| {
        for i in 0..count {
            k[..8].copy_from_slice(&i.to_be_bytes());
            s.key(i, &mut k[8..]);
            s.value(i, &mut v);
            w.insert(&k, &v)?;
        }
        Ok(())
    })?;
    rec.ms(
        "sorted_insert",
        &format!("{count} sorted 32 B keys, one txn"),
        t.elapsed(),
    );

    // Forward, then backward (the second scan finds the pages mapped and cached).
    for backward in [false, true] {
        let (mut seen, mut sum) = (0usize, 0u64);
        let t = Instant::now();
        db.read(&mut |r| {
            let f = &mut |k: &[u8], v: &[u8]| sum += (k[31] ^ v[0]) as u64;
            seen = if backward {
                r.scan_back(f)?
            } else {
                r.scan(f)?
            };
            Ok(())
        })?;
        let (id, what) = match backward {
            false => ("full_scan", "full scan"),
            true => (
                "full_scan_back",
                "full scan backward, after the forward one",
            ),
        };
        rec.ms(id, &format!("{what} ({count} entries)"), t.elapsed());
        std::hint::black_box(sum);
        if seen as u64 != count {
            return Err(format!("{what} saw {seen} of {count}").into());
        }
    }
    Ok(())
}

/// The fixed first 24 bytes of every key of the shared-prefix section.
pub const SHARED_PREFIX: [u8; 24] = *b"tenant-0042/events/2026/";

/// Key `c` of the shared-prefix section: [`SHARED_PREFIX`], then `c` as a big-endian u64.
fn prefixed_key(c: u64, out: &mut [u8; 32]) {
    out[..24].copy_from_slice(&SHARED_PREFIX);
    out[24..].copy_from_slice(&c.to_be_bytes());
}

/// Keys with a long shared prefix (32 bytes: a fixed 24-byte prefix, then a big-endian counter
/// `0..count`), 32-byte values: loaded in one transaction in a random order (a seeded shuffle,
/// made before the timing), then `reads` random gets and `ranges` range reads of `range_len`
/// entries from random existing keys, in one read transaction each. Every key's first bytes are
/// the same, so a search that compares only key prefixes compares whole keys here.
pub fn run_prefix(
    db: &dyn Engine,
    count: u64,
    reads: u64,
    ranges: u64,
    range_len: usize,
    seed: u64,
    rec: &Rec,
) -> Result<()> {
    let s = Stream::new(seed ^ 0x9F1C, 8, 32);
    // Fisher-Yates over the counters, driven by the stream's picks.
    let mut order: Vec<u64> = (0..count).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, s.pick(i as u64, i as u64 + 1) as usize);
    }
    let mut k = [0u8; 32];
    let mut v = [0u8; 32];
    let t = Instant::now();
    db.write(&mut |w| {
        for &c in &order {
            prefixed_key(c, &mut k);
            s.value(c, &mut v);
            w.insert(&k, &v)?;
        }
        Ok(())
    })?;
    rec.ms(
        "prefix_load",
        &format!("load ({count} keys in random order, one txn)"),
        t.elapsed(),
    );
    drop(order);

    // Random reads: counters from a second stream of picks, so not the load's order.
    let pick = |j: u64| s.pick(j.wrapping_add(1 << 40), count);
    let expected: u64 = (0..reads).map(|j| s.value_first_byte(pick(j)) as u64).sum();
    let (mut sum, mut found) = (0u64, 0u64);
    let t = Instant::now();
    db.read(&mut |r| {
        for j in 0..reads {
            prefixed_key(pick(j), &mut k);
            if r.get(&k, &mut |v| sum += v[0] as u64)? {
                found += 1;
            }
        }
        Ok(())
    })?;
    rec.ms(
        "prefix_reads",
        &format!("random reads ({reads} gets)"),
        t.elapsed(),
    );
    if found != reads || sum != expected {
        return Err(format!(
            "prefix reads: found {found} of {reads}, checksum {sum} (expected {expected})"
        )
        .into());
    }

    // Range reads from random existing keys.
    let (mut sum, mut seen) = (0u64, 0u64);
    let t = Instant::now();
    db.read(&mut |r| {
        for j in 0..ranges {
            prefixed_key(pick(j.wrapping_add(1 << 41)), &mut k);
            seen += r.range_from(&k, range_len, &mut |k, v| sum += (k[31] ^ v[0]) as u64)? as u64;
        }
        Ok(())
    })?;
    rec.ms(
        "prefix_range_reads",
        &format!("range reads ({ranges} x {range_len})"),
        t.elapsed(),
    );
    std::hint::black_box(sum);
    if seen < ranges {
        return Err(format!("prefix range reads: {seen} entries for {ranges} scans").into());
    }
    Ok(())
}

/// Large values: `count` values of `size` bytes written in transactions of `per_txn`, then read
/// back (every byte summed) in one read transaction.
#[allow(clippy::too_many_arguments)]
pub fn run_large(
    db: &dyn Engine,
    id: &str,
    label: &str,
    count: u64,
    size: usize,
    per_txn: u64,
    seed: u64,
    cap: Duration,
    rec: &Rec,
) -> Result<()> {
    let s = Stream::new(seed ^ size as u64, 24, size);
    let txns = count.div_ceil(per_txn);
    let mut bufs: Vec<Vec<u8>> = (0..per_txn.min(count)).map(|_| vec![0u8; size]).collect();
    let mut keys: Vec<[u8; 24]> = vec![[0u8; 24]; per_txn.min(count) as usize];
    let mut expected = 0u64;
    let c = capped_loop(txns, cap, |t| {
        let from = t * per_txn;
        let to = (from + per_txn).min(count);
        for (slot, i) in (from..to).enumerate() {
            s.key(i, &mut keys[slot]);
            s.value(i, &mut bufs[slot]);
            expected = expected.wrapping_add(checksum(&bufs[slot]));
        }
        let start = Instant::now();
        db.write(&mut |w| {
            for slot in 0..(to - from) as usize {
                w.insert(&keys[slot], &bufs[slot])?;
            }
            Ok(())
        })?;
        Ok(start.elapsed())
    })?;
    let written = (c.done * per_txn).min(count);
    rec.capped(
        &format!("{id}_write"),
        &format!("{label} write ({count}, {per_txn} per txn)"),
        &c,
    );
    drop(bufs);

    let mut k = [0u8; 24];
    let (mut sum, mut found) = (0u64, 0u64);
    let t = Instant::now();
    db.read(&mut |r| {
        for i in 0..written {
            s.key(i, &mut k);
            if r.get(&k, &mut |v| sum = sum.wrapping_add(checksum(v)))? {
                found += 1;
            }
        }
        Ok(())
    })?;
    let d = t.elapsed();
    if found != written || sum != expected {
        return Err(format!("{label}: read back {found} of {written}, checksum mismatch").into());
    }
    let note = (written < count).then(|| format!("read back the {written} written"));
    rec.ms_note(
        &format!("{id}_read"),
        &format!("{label} read back"),
        Some(ms(d)),
        note,
    );
    Ok(())
}

/// Opens `engine` in `dir` (helper for the sections).
pub fn open(engine: &str, dir: &Path, relaxed: bool, data_bytes: u64) -> Result<Box<dyn Engine>> {
    engines::open(
        engine,
        dir,
        OpenOptions {
            relaxed,
            data_bytes,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threaded_writes_insert_the_next_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let db = open("larchdb", dir.path(), false, 1 << 20).unwrap();
        let s = Stream::new(3, 24, 150);
        write_pairs(db.as_ref(), &s, 0, 10).unwrap();
        let c = threaded_writes(db.as_ref(), &s, 10, 4, 5, Duration::from_secs(60)).unwrap();
        assert_eq!((c.done, c.total), (20, 20));
        assert_eq!(len_of(db.as_ref()).unwrap(), 30);
        // Every pair of 10..30 is there with its own value.
        let d = random_reads(db.as_ref(), &s, 30, 30, 2).unwrap();
        assert!(d > Duration::ZERO);
    }

    #[test]
    fn own_rate_compares_time_per_commit() {
        let run = |ms: u64, done: u64, total: u64| Capped {
            elapsed: Duration::from_millis(ms),
            done,
            total,
        };
        // One thread: 1,000 commits in 200 ms (200 us each); 8 threads: 2,000 in 100 ms (50 us).
        let own = own_rate(&run(200, 1000, 1000), &run(100, 2000, 2000)).unwrap();
        assert!((own - 4.0).abs() < 1e-9, "{own}");
        // Capped runs count what was done, not what was planned.
        let own = own_rate(&run(200, 500, 1000), &run(100, 1000, 2000)).unwrap();
        assert!((own - 4.0).abs() < 1e-9, "{own}");
        assert_eq!(own_rate(&run(200, 0, 1000), &run(100, 2000, 2000)), None);
        assert_eq!(own_rate(&run(200, 1000, 1000), &run(0, 0, 2000)), None);
    }
}
