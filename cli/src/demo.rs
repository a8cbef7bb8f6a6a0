//! `larch demo [PATH]`: loads, reads back, scans and checks a database, and reports throughput.

use crate::fail::{CliResult, DbContext, Fail};
use crate::progress::{self, STEP};
use crate::stat::summary;
use indicatif::HumanCount;
use larchdb::Durability;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Key and value sizes of the demo.
const KEY_LEN: usize = 24;
const VALUE_LEN: usize = 150;
/// Seed of the generator; the read phase replays the same sequence.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// xorshift64*: a tiny seeded generator for reproducible keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Removes the demo's temporary database, and the lock file beside it (`PATH-lock`, named by
/// the file's canonical path), when the demo ends, however it ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let canonical = std::fs::canonicalize(&self.0).unwrap_or_else(|_| self.0.clone());
        let mut lock = canonical.into_os_string();
        lock.push("-lock");
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(lock);
    }
}

/// "1.23 M gets/s"-style rate of `n` things in `d`.
fn rate(n: u64, d: Duration, what: &str) -> String {
    let r = n as f64 / d.as_secs_f64().max(1e-9);
    if r >= 1e6 {
        format!("{:.2} M {what}/s", r / 1e6)
    } else {
        format!("{:.0} k {what}/s", r / 1e3)
    }
}

/// `larch demo [PATH] [--keys N] [--force]`.
pub fn demo(path: Option<&Path>, keys: u64, force: bool, quiet: bool) -> CliResult {
    let (path, _temp) = match path {
        Some(p) => {
            if p.exists() {
                if !force {
                    return Err(Fail::error(format!(
                        "{}: exists; the demo writes a fresh database (use --force to replace it)",
                        p.display()
                    )));
                }
                std::fs::remove_file(p).map_err(|e| Fail::io(p.display(), e))?;
            }
            (p.to_path_buf(), None)
        }
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let p = std::env::temp_dir()
                .join(format!("larch-demo-{}-{nanos}.larch", std::process::id()));
            (p.clone(), Some(TempFile(p)))
        }
    };
    let path = path.as_path();
    let kept = if _temp.is_some() {
        "a temporary file, removed at the end"
    } else {
        "kept afterwards"
    };
    println!("larch demo: {} ({kept})", path.display());
    let db = crate::backend::builder()
        .durability(Durability::Immediate)
        .open(path)
        .on(path)?;
    let (mut key, mut value) = ([0u8; KEY_LEN], [0u8; VALUE_LEN]);

    // 1. Load, in one transaction.
    let mut rng = Rng(SEED);
    let pb = progress::bar(quiet, keys, "insert");
    let t = Instant::now();
    let wtx = db.begin_write().on(path)?;
    {
        let mut table = wtx.open_table("demo").on(path)?;
        for i in 1..=keys {
            rng.fill(&mut key);
            rng.fill(&mut value);
            table.insert(&key, &value).on(path)?;
            if i % STEP == 0 {
                pb.inc(STEP);
            }
        }
    }
    pb.set_message("commit");
    wtx.commit().on(path)?;
    let load = t.elapsed();
    pb.finish_and_clear();
    println!(
        "  insert  {} keys ({KEY_LEN} B keys, {VALUE_LEN} B random values) in one transaction, \
         commit included: {load:.2?} ({})",
        HumanCount(keys),
        rate(keys, load, "inserts")
    );

    // 2. Read every key back, in the (random) order written, and verify its value.
    let mut rng = Rng(SEED);
    let rtx = db.begin_read().on(path)?;
    let table = rtx.open_table("demo").on(path)?;
    let pb = progress::bar(quiet, keys, "get");
    let t = Instant::now();
    for i in 1..=keys {
        rng.fill(&mut key);
        rng.fill(&mut value);
        match table.get(&key).on(path)? {
            Some(v) if v == value => {}
            Some(_) => {
                return Err(Fail::found(
                    "demo: a value read back differs from the one written",
                ))
            }
            None => return Err(Fail::found("demo: a key written is missing")),
        }
        if i % STEP == 0 {
            pb.inc(STEP);
        }
    }
    let read = t.elapsed();
    pb.finish_and_clear();
    println!(
        "  get     {} random keys, every value verified: {read:.2?} ({:.0} ns/get, {})",
        HumanCount(keys),
        read.as_nanos() as f64 / keys.max(1) as f64,
        rate(keys, read, "gets")
    );

    // 3. Scan a quarter of the key space, in order.
    let (lo, hi) = ([0x40u8], [0x80u8]);
    let t = Instant::now();
    let mut count = 0u64;
    let mut prev = Vec::new();
    for item in table
        .range((Bound::Included(&lo[..]), Bound::Excluded(&hi[..])))
        .on(path)?
    {
        let (k, _) = item.on(path)?;
        if k < &lo[..] || k >= &hi[..] || (count > 0 && k <= &prev[..]) {
            return Err(Fail::found(
                "demo: the range scan returned a key out of order",
            ));
        }
        prev.clear();
        prev.extend_from_slice(k);
        count += 1;
    }
    let scan = t.elapsed();
    println!(
        "  scan    {} keys in [0x40, 0x80): {scan:.2?} ({})",
        HumanCount(count),
        rate(count, scan, "keys")
    );
    if table.len().on(path)? != keys {
        return Err(Fail::found(
            "demo: the table's length differs from the keys written",
        ));
    }
    drop(rtx);

    // 4. Small durable commits from several threads: the commit log and group commit.
    let t = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..COMMIT_THREADS)
            .map(|thread| {
                let db = &db;
                scope.spawn(move || -> larchdb::Result<()> {
                    for i in 0..COMMITS / COMMIT_THREADS {
                        let wtx = db.begin_write()?;
                        let key = (thread * COMMITS + i).to_be_bytes();
                        wtx.open_table("demo-commits")?
                            .insert(&key, &[thread as u8; 100])?;
                        wtx.commit()?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or(Ok(())))
    })
    .on(path)?;
    let commits = t.elapsed();
    let m = db.metrics();
    println!(
        "  commit  {} durable single-insert commits from {COMMIT_THREADS} threads: {commits:.2?} \
         ({}, {} log syncs)",
        HumanCount(COMMITS),
        rate(COMMITS, commits, "commits"),
        HumanCount(m.syncs)
    );

    // 5. Full integrity check, then the statistics.
    let sp = progress::spinner(quiet, "checking");
    let t = Instant::now();
    let r = db.check();
    let check = t.elapsed();
    sp.finish_and_clear();
    if let Err(e) = r {
        return Err(Fail::found(format!(
            "demo: the integrity check failed: {e}"
        )));
    }
    println!("  check   passed: {check:.2?}");
    let s = db.stats().on(path)?;
    println!();
    print!("{}", summary(path, &s));
    print!("{}", metrics(&db.metrics()));
    Ok(())
}

/// Durable commits the demo makes, and the threads that make them.
const COMMITS: u64 = 1000;
const COMMIT_THREADS: u64 = 4;

/// `n` and the noun that goes with it: "1 record", "2 records".
fn counted(n: u64, one: &str, many: &str) -> String {
    let noun = if n == 1 { one } else { many };
    format!("{} {noun}", HumanCount(n))
}

/// The write path's counters ([`larchdb::Database::metrics`]), as text.
fn metrics(m: &larchdb::Metrics) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<14}{v}\n"));
    line("commits", HumanCount(m.commits).to_string());
    line(
        "commit time",
        format!(
            "p50 {:.2?}, p95 {:.2?}, p99 {:.2?}, max {:.2?}",
            m.commit_p50, m.commit_p95, m.commit_p99, m.commit_max
        ),
    );
    line(
        "log",
        format!(
            "{}, {} bytes, {} ({:.2?} in log syncs; {:.2?} kept awake for the disk)",
            counted(m.log_records, "record", "records"),
            HumanCount(m.log_bytes),
            counted(m.syncs, "sync", "syncs"),
            m.log_sync_time,
            m.kept_awake
        ),
    );
    line(
        "checkpoints",
        format!(
            "{} in {:.2?}, {} bytes of pages, {} ({} handed off when full)",
            m.checkpoints,
            m.checkpoint_time,
            HumanCount(m.checkpoint_bytes),
            counted(m.window_flushes, "window flush", "window flushes"),
            m.window_hand_offs
        ),
    );
    if let Some(rate) = m.cache_hit_rate {
        line("cache hits", format!("{:.1}%", rate * 100.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn counts_take_the_noun_that_goes_with_them() {
        assert_eq!(
            counted(1, "window flush", "window flushes"),
            "1 window flush"
        );
        assert_eq!(counted(0, "sync", "syncs"), "0 syncs");
        assert_eq!(counted(1_000, "record", "records"), "1,000 records");
    }
}
