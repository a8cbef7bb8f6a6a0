//! Concurrency: readers check a constant-sum invariant and snapshot stability while one writer
//! moves money between accounts, committing and aborting.

use larchdb::{Database, Durability};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

mod common;

const ACCOUNTS: u64 = 500;
const START: u64 = 1_000;

fn key(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

fn total(rtx: &larchdb::ReadTxn) -> (u64, u64) {
    let t = rtx.open_table("bank").unwrap();
    let mut sum = 0;
    let mut n = 0;
    for e in t.iter().unwrap() {
        let (_, v) = e.unwrap();
        sum += u64::from_le_bytes(v.try_into().unwrap());
        n += 1;
    }
    (sum, n)
}

#[test]
fn readers_see_constant_total_while_writer_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(
        Database::builder()
            .durability(Durability::Eventual)
            .open(dir.path().join("bank.larch"))
            .unwrap(),
    );
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("bank").unwrap();
        for i in 0..ACCOUNTS {
            t.insert(&key(i), &START.to_le_bytes()).unwrap();
        }
    }
    w.commit().unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, stop, reads) = (db.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let rtx = db.begin_read().unwrap();
                    let first = total(&rtx);
                    assert_eq!(first, (ACCOUNTS * START, ACCOUNTS));
                    // A long-lived snapshot must read the same state later, whatever was committed.
                    held.push((rtx, first));
                    if held.len() > 8 {
                        let (old, expect) = held.remove(0);
                        assert_eq!(total(&old), expect);
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                for (rtx, expect) in held {
                    assert_eq!(total(&rtx), expect);
                }
            })
        })
        .collect();

    let mut rng = larchdb::testing::Rng::new(88172645463325252);
    for round in 0..4000u64 {
        let x = rng.next_u64();
        let (a, b) = (x % ACCOUNTS, (x >> 20) % ACCOUNTS);
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("bank").unwrap();
            let va = u64::from_le_bytes(t.get(&key(a)).unwrap().unwrap()[..].try_into().unwrap());
            let amount = (x >> 40) % (va + 1);
            t.insert(&key(a), &(va - amount).to_le_bytes()).unwrap();
            let vb = u64::from_le_bytes(t.get(&key(b)).unwrap().unwrap()[..].try_into().unwrap());
            t.insert(&key(b), &(vb + amount).to_le_bytes()).unwrap();
        }
        if round % 7 == 0 {
            w.abort().unwrap();
        } else {
            w.commit().unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert_eq!(
        total(&db.begin_read().unwrap()),
        (ACCOUNTS * START, ACCOUNTS)
    );
    db.check().unwrap();
}

/// A long-lived snapshot holds back page reuse; once it ends the file stops growing. While it
/// lives, growth is bounded by what was freed meanwhile.
#[test]
fn long_lived_reader_bounds_growth() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .durability(Durability::Eventual)
        .open(dir.path().join("grow.larch"))
        .unwrap();
    let update = |seed: u8| {
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            for i in 0..2000u32 {
                t.insert(&i.to_be_bytes(), &[seed; 100]).unwrap();
            }
        }
        w.commit().unwrap();
        db.sync().unwrap();
    };
    update(0);
    for s in 1..5 {
        update(s);
    }
    let steady = db.stats().unwrap().page_count;
    for s in 5..30 {
        update(s);
    }
    // Without readers, rewriting the same data reuses pages: the file does not keep growing.
    assert!(
        db.stats().unwrap().page_count <= steady + 8,
        "{} vs {steady}",
        db.stats().unwrap().page_count
    );

    let snapshot = db.begin_read().unwrap();
    let before = db.stats().unwrap();
    for s in 30..40 {
        update(s);
    }
    let during = db.stats().unwrap();
    // Each update rewrites the whole table: at most ~one table's worth of pages per update, plus
    // the commit log's region, which grows with the file (a quarter of it, in powers of two).
    let per_update = before.leaf_pages + before.branch_pages + 16;
    assert!(
        during.page_count <= before.page_count + 10 * per_update + during.log_pages,
        "{} vs {} + 10 * {per_update} (log {} -> {})",
        during.page_count,
        before.page_count,
        before.log_pages,
        during.log_pages
    );
    // The snapshot still reads its own version.
    let t = snapshot.open_table("t").unwrap();
    assert_eq!(t.get(&7u32.to_be_bytes()).unwrap(), Some(&[29u8; 100][..]));
    drop(snapshot);
    // Pages of the last checkpoint that commits free wait for the next checkpoint (at most a
    // quarter of the file): after one such cycle, the file stops growing.
    for s in 40..60 {
        update(s);
    }
    let settled = db.stats().unwrap();
    for s in 60..90 {
        update(s);
    }
    let after = db.stats().unwrap();
    assert!(
        after.page_count <= settled.page_count + 8,
        "{} vs {}",
        after.page_count,
        settled.page_count
    );
    assert!(settled.page_count <= during.page_count + during.page_count / 4 + 8);
    db.check().unwrap();
}

crate::also_cached!(
    readers_see_constant_total_while_writer_commits,
    long_lived_reader_bounds_growth,
);

/// Values read zero-copy stay intact while later small commits rewrite the pages around them:
/// the write window recycles the buffers of pages that commits replace (for the next commits'
/// page copies) only once no snapshot that may hold them is alive.
#[test]
fn values_held_from_a_snapshot_stay_intact_while_commits_recycle_window_pages() {
    const KEYS: u64 = 300;
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(
        Database::builder()
            .durability(Durability::Eventual)
            .open(dir.path().join("held.larch"))
            .unwrap(),
    );
    let value = |k: u64, round: u64| [(k ^ round) as u8; 120];
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for k in 0..KEYS {
            t.insert(&key(k), &value(k, 0)).unwrap();
        }
    }
    w.commit().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rng = larchdb::testing::Rng::new(7);
            let mut checked = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let rtx = db.begin_read().unwrap();
                let t = rtx.open_table("t").unwrap();
                let held: Vec<_> = (0..16)
                    .map(|_| t.get(&key(rng.next_u64() % KEYS)).unwrap().unwrap())
                    .collect();
                let copies: Vec<Vec<u8>> = held.iter().map(|v| v.to_vec()).collect();
                // Let the writer commit (and recycle) meanwhile.
                std::thread::sleep(std::time::Duration::from_micros(200));
                for (v, c) in held.iter().zip(&copies) {
                    assert_eq!(&v[..], &c[..], "a held value changed under its snapshot");
                }
                checked += held.len() as u64;
            }
            checked
        })
    };
    let mut rng = larchdb::testing::Rng::new(11);
    for round in 1..6000u64 {
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            let k = rng.next_u64() % KEYS;
            t.insert(&key(k), &value(k, round)).unwrap();
        }
        w.commit().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    db.check().unwrap();
}
