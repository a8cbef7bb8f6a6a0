//! Recovery time with the largest log the bounds allow: a database of `--keys` keys (24-byte keys,
//! 150-byte values, default 1,000,000) gets durable commits of 1,000 inserts (keys after all the
//! others, so that they free few pages of the checkpoint, which would force a checkpoint first)
//! until its commit log region (a sixteenth of the file, rounded up to a power of two: 16 MiB
//! for the default 1,000,000 keys, and the largest, 64 MiB by default, from 4,000,000) is nearly
//! full; then the process "crashes" (the handle is leaked, so nothing is checkpointed),
//! the file is copied as it stands, and opening the copy (verification, replay of every record,
//! and the checkpoint of the result) is timed.
//!
//! `cargo bench --bench recovery [-- --keys N]`. Prints the log's size, the records replayed and
//! the open's time; also the time of a clean open of the same database, for comparison.

use larchdb::testing::Rng;
use larchdb::Database;
use std::time::Instant;

/// Inserts `n` pairs in one commit: random keys, or (`append`) keys after every random one.
fn insert_batch(db: &Database, rng: &mut Rng, n: u64, append: Option<&mut u64>) {
    let (mut k, mut v) = ([0xFFu8; 24], [0u8; 150]);
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        let mut next = append;
        for _ in 0..n {
            match next.as_deref_mut() {
                Some(c) => {
                    *c += 1;
                    k[16..].copy_from_slice(&c.to_be_bytes());
                }
                None => rng.fill(&mut k),
            }
            rng.fill(&mut v);
            t.insert(&k, &v).unwrap();
        }
    }
    w.commit().unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let keys: u64 = args
        .iter()
        .position(|a| a == "--keys")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crashed.larch");
    let copy = dir.path().join("copy.larch");
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let db = Database::open(&path).unwrap();
    insert_batch(&db, &mut rng, keys, None);
    let (mut counter, mut batches) = (0u64, 0u64);
    let mut m = db.metrics();
    // Commit batches while the log grows (stopping before the region's end: the batch that does
    // not fit is a checkpoint, which empties the log).
    let region = db.stats().unwrap().log_pages * db.page_size() as u64;
    while m.log_bytes + (1 << 20) < region {
        insert_batch(&db, &mut rng, 1000, Some(&mut counter));
        batches += 1;
        let now = db.metrics();
        if now.checkpoints != m.checkpoints {
            panic!("a checkpoint after {batches} batches: the log is not full");
        }
        m = now;
    }
    let replayed = m.log_records;
    std::mem::forget(db); // the crash: no checkpoint at close
    std::fs::copy(&path, &copy).unwrap();
    let t = Instant::now();
    let db = Database::open(&copy).unwrap();
    let recovery = t.elapsed();
    assert!(db.recovery().is_none());
    drop(db);
    let t = Instant::now();
    let db = Database::open(&copy).unwrap();
    let clean = t.elapsed();
    drop(db);
    println!(
        "{keys} keys, then {batches} commits of 1,000 inserts: {replayed} log records, {:.1} MiB \
         of log to replay",
        m.log_bytes as f64 / (1 << 20) as f64,
    );
    println!("open after the crash (replay + checkpoint): {recovery:.2?}");
    println!("clean open of the same file:                {clean:.2?}");
}
