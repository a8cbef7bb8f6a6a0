//! Space that comes back (issue 12): overflow runs reuse free runs, the file shrinks, and
//! compaction and backup keep it small. Sizes are asserted, never times.

mod common;

use larchdb::Database;
use std::time::Duration;

/// The file's length in bytes.
fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// Commits one insert into table "t".
fn put(db: &Database, key: &[u8], value: &[u8]) {
    let w = db.begin_write().unwrap();
    w.open_table("t").unwrap().insert(key, value).unwrap();
    w.commit().unwrap();
}

/// Commits one removal from table "t".
fn remove(db: &Database, key: &[u8]) {
    let w = db.begin_write().unwrap();
    w.open_table("t").unwrap().remove(key).unwrap();
    w.commit().unwrap();
}

/// Overwrites one value of `len` bytes `times` times, one commit each, checking the database at
/// the end; returns the largest file length seen.
fn overwrite(db: &Database, path: &std::path::Path, len: usize, times: usize) -> u64 {
    let mut max = 0;
    for i in 0..times {
        let w = db.begin_write().unwrap();
        w.open_table("t")
            .unwrap()
            .insert(b"blob", &vec![i as u8; len])
            .unwrap();
        w.commit().unwrap();
        max = max.max(file_len(path));
    }
    db.check().unwrap();
    let r = db.begin_read().unwrap();
    let t = r.open_table("t").unwrap();
    assert_eq!(
        t.get(b"blob").unwrap(),
        Some(&vec![(times - 1) as u8; len][..])
    );
    max
}

/// The scenario: a 1 MB value overwritten 1,000 times keeps the file under 4 MiB, with
/// the default options (commit log on).
#[test]
fn overwriting_a_large_value_reuses_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let max = overwrite(&db, &path, 1_000_000, 1_000);
    assert!(max < 4 << 20, "the file grew to {max} bytes");
    drop(db);
    let db = Database::open(&path).unwrap();
    db.check().unwrap();
}

/// Without a commit log (every commit a checkpoint) the same holds.
#[test]
fn overwriting_without_a_log_reuses_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::builder().log_capacity(0).open(&path).unwrap();
    let max = overwrite(&db, &path, 1_000_000, 300);
    assert!(max < 4 << 20, "the file grew to {max} bytes");
}

/// Runs of different lengths fit into each other's free space (best fit), and the file stays
/// within a small multiple of what is live.
#[test]
fn runs_of_mixed_sizes_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let mut rng = common::Rng::new(7);
    for i in 0..400u64 {
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            let key = (rng.next_u64() % 8).to_be_bytes();
            let len = 5_000 + (rng.next_u64() % 200_000) as usize;
            t.insert(&key, &vec![i as u8; len]).unwrap();
        }
        w.commit().unwrap();
    }
    db.check().unwrap();
    // Eight values of at most ~205 KB: 1.6 MB live.
    let len = file_len(&path);
    assert!(len < 8 << 20, "the file grew to {len} bytes");
}

/// A big value removed gives its pages back: the file shrinks at the next checkpoint.
#[test]
fn the_file_shrinks_when_its_end_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    put(&db, b"big", &vec![1u8; 50 << 20]);
    let big = file_len(&path);
    assert!(big > 50 << 20);
    remove(&db, b"big");
    put(&db, b"small", b"v");
    // The freed run is held back until a newer checkpoint is durable: compaction's first pass
    // is that checkpoint, its next one gives the run back.
    let c = db.compact().unwrap();
    assert!(c.file_after < c.file_before && c.pages_after < c.pages_before);
    assert_eq!(c.file_after, file_len(&path));
    for i in 0..3u8 {
        put(&db, b"small", &[i]);
    }
    db.check().unwrap();
    let small = file_len(&path);
    // What remains is mostly the 8 MiB commit log region, sized when the file was large.
    assert!(small < 12 << 20, "the file is still {small} bytes");
    drop(db);
    let db = Database::open(&path).unwrap();
    db.check().unwrap();
    let r = db.begin_read().unwrap();
    assert_eq!(
        r.open_table("t").unwrap().get(b"small").unwrap(),
        Some(&[2u8][..])
    );
}

/// A snapshot keeps the pages it reaches: shrinking never cuts them, and the reader still reads
/// its value after the file shrank as far as it could.
#[test]
fn shrinking_never_cuts_what_a_snapshot_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    put(&db, b"big", &vec![9u8; 20 << 20]);
    let reader = db.begin_read().unwrap();
    remove(&db, b"big");
    for i in 0..4u8 {
        put(&db, b"k", &[i]);
        db.checkpoint().unwrap();
    }
    db.compact().unwrap();
    assert!(file_len(&path) > 20 << 20);
    let t = reader.open_table("t").unwrap();
    assert_eq!(t.get(b"big").unwrap(), Some(&vec![9u8; 20 << 20][..]));
    drop(reader);
    let c = db.compact().unwrap();
    db.check().unwrap();
    assert_eq!(c.file_after, file_len(&path));
    assert!(c.file_after < 8 << 20, "{c:?}");
}

/// Compaction moves live overflow runs that lie past where the file could end into free pages
/// below: values written after 8 MiB that were then freed end up below it, and read back intact.
#[test]
fn compaction_moves_live_overflow_runs_down() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    put(&db, b"filler", &vec![1u8; 8 << 20]);
    for i in 0..4u8 {
        put(&db, &[b'v', i], &vec![i; 300 << 10]);
    }
    remove(&db, b"filler");
    let c = db.compact().unwrap();
    db.check().unwrap();
    // Each value is a run of 76 pages; all four lay past the filler's 8 MiB.
    assert!(c.pages_moved >= 4 * 76, "{c:?}");
    assert!(c.file_after < 8 << 20, "{c:?}");
    let r = db.begin_read().unwrap();
    let t = r.open_table("t").unwrap();
    for i in 0..4u8 {
        assert_eq!(t.get(&[b'v', i]).unwrap(), Some(&vec![i; 300 << 10][..]));
    }
}

/// Compaction's passes skip reading the leaves that stay in place only when no leaf holds an
/// overflow value: here a leaf low in the file (many small entries, written first) points to
/// runs written past an 8 MiB filler, and the runs still move down once the filler is gone.
#[test]
fn compaction_moves_the_runs_of_leaves_that_stay_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let w = db.begin_write().unwrap();
    for i in 0..3_000u32 {
        w.open_table("t")
            .unwrap()
            .insert(&i.to_be_bytes(), &[7u8; 100])
            .unwrap();
    }
    w.commit().unwrap();
    put(&db, b"filler", &vec![1u8; 8 << 20]);
    let big = |i: u32| vec![i as u8; 300 << 10];
    for i in 0..4u32 {
        put(&db, &(5_000 + i).to_be_bytes(), &big(i));
    }
    // Rewrite that leaf a few times: its copies go to the low pages the copies before freed.
    for _ in 0..4 {
        put(&db, &5_010u32.to_be_bytes(), &[8u8; 100]);
    }
    remove(&db, b"filler");
    let c = db.compact().unwrap();
    db.check().unwrap();
    assert!(c.file_after < 6 << 20, "{c:?}");
    let r = db.begin_read().unwrap();
    let t = r.open_table("t").unwrap();
    for i in 0..4u32 {
        assert_eq!(
            t.get(&(5_000 + i).to_be_bytes()).unwrap(),
            Some(&big(i)[..])
        );
    }
    assert_eq!(t.len().unwrap(), 3_005);
}

/// The scenario: a long-lived reader holds a snapshot during 3,000 small commits; once it
/// ends, compaction brings the file within 2x of its live size (the live pages plus the commit
/// log region, which is part of the file).
#[test]
fn compaction_after_a_long_reader_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let mut rng = common::Rng::new(3);
    let w = db.begin_write().unwrap();
    for i in 0..10_000u64 {
        w.open_table("t")
            .unwrap()
            .insert(&i.to_be_bytes(), &rng.bytes(100))
            .unwrap();
    }
    w.commit().unwrap();
    let reader = db.begin_read().unwrap();
    for _ in 0..3_000 {
        let w = db.begin_write().unwrap();
        let k = rng.next_u64() % 10_000;
        w.open_table("t")
            .unwrap()
            .insert(&k.to_be_bytes(), &rng.bytes(100))
            .unwrap();
        w.commit().unwrap();
    }
    let grown = file_len(&path);
    drop(reader);
    let c = db.compact().unwrap();
    db.check().unwrap();
    let s = db.stats().unwrap();
    let live = (s.page_count - s.free_pages) * s.page_size as u64;
    eprintln!("{c:?}, live {live}, grown to {grown}");
    assert!(
        c.file_after <= 2 * live,
        "{c:?}, live {live}, grown to {grown}"
    );
    assert_eq!(
        db.begin_read()
            .unwrap()
            .open_table("t")
            .unwrap()
            .len()
            .unwrap(),
        10_000
    );
}

/// Compaction packs the leaves densely: random-order loads of three tables that lost half their
/// keys fill their pages to under a half; after `compact()` they are over 90% full (the packing
/// passes, a third of the bottom branches each, stop and resume inside tables and between them:
/// one left out would keep the fill under 80%), and a snapshot taken before still reads what it
/// saw. Once the snapshot ends, a second compaction leaves a file within 1.25x of the tree's pages
/// (its log region is the smallest).
#[test]
fn compaction_packs_the_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let mut rng = common::Rng::new(12);
    let keys: Vec<Vec<u8>> = (0..40_000).map(|_| rng.bytes(16)).collect();
    let side: Vec<Vec<u8>> = (0..20_000).map(|_| rng.bytes(16)).collect();
    let w = db.begin_write().unwrap();
    for k in &keys {
        w.open_table("t")
            .unwrap()
            .insert(k, &rng.bytes(100))
            .unwrap();
    }
    for (i, k) in side.iter().enumerate() {
        let table = ["a", "z"][i % 2];
        w.open_table(table).unwrap().insert(k, &[7; 100]).unwrap();
    }
    w.commit().unwrap();
    let w = db.begin_write().unwrap();
    for k in keys.iter().step_by(2) {
        w.open_table("t").unwrap().remove(k).unwrap();
    }
    // Every other key of each side table: "a" holds the even indices, "z" the odd ones.
    for (i, k) in side.iter().enumerate().filter(|(i, _)| i % 4 < 2) {
        let table = ["a", "z"][i % 2];
        w.open_table(table).unwrap().remove(k).unwrap();
    }
    w.commit().unwrap();
    let before = db.stats().unwrap().fill_factor();
    assert!(before < 0.5, "fill factor {before} before compaction");
    let snapshot = db.begin_read().unwrap();
    let seen = common::read_state(&db);
    let c = db.compact().unwrap();
    db.check().unwrap();
    let fill = db.stats().unwrap().fill_factor();
    assert!(fill > 0.9, "fill factor {fill} after {c:?}");
    assert!(c.leaves_saved > 0, "{c:?}");
    assert_eq!(common::read_state(&db), seen);
    {
        let t = snapshot.open_table("t").unwrap();
        assert_eq!(t.len().unwrap(), 20_000);
        for k in keys.iter().skip(1).step_by(2) {
            assert!(t.get(k).unwrap().is_some());
        }
    }
    drop(snapshot);
    let c = db.compact().unwrap();
    db.check().unwrap();
    let s = db.stats().unwrap();
    let tree_bytes = (s.leaf_pages + s.branch_pages) * s.page_size as u64;
    assert!(
        c.file_after * 4 <= tree_bytes * 5,
        "{c:?}, tree pages {tree_bytes} bytes, {s:?}"
    );
    assert_eq!(common::read_state(&db), seen);
}

/// Commits the removals of `keys` from table "t", in one transaction (the inserts go through
/// `common::api::put`).
fn remove_all<'a>(db: &Database, keys: impl IntoIterator<Item = &'a Vec<u8>>) {
    let w = db.begin_write().unwrap();
    let mut t = w.open_table("t").unwrap();
    for k in keys {
        t.remove(k).unwrap();
    }
    w.commit().unwrap();
}

/// Entries in table "t".
fn t_len(db: &Database) -> u64 {
    let r = db.begin_read().unwrap();
    let len = r.open_table("t").unwrap().len().unwrap();
    len
}

/// Compacts `db` and checks it, and that it holds what it held; returns what compaction did,
/// with the statistics before and after.
fn compact_checked(db: &Database) -> (larchdb::Compaction, larchdb::Stats, larchdb::Stats) {
    let (before, seen) = (db.stats().unwrap(), common::read_state(db));
    let c = db.compact().unwrap();
    db.check().unwrap();
    assert_eq!(common::read_state(db), seen);
    (c, before, db.stats().unwrap())
}

/// Compaction packs the branches as well as the leaves: after three of every four keys go, each
/// branch level is rebuilt full (a bottom branch holds about 150 of these short separators), a
/// snapshot taken before still reads what it saw, the tree takes inserts again (its full
/// branches split), and a second compaction finds nothing to pack.
#[test]
fn compaction_packs_the_branches() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    let mut rng = common::Rng::new(21);
    // Six 600-byte values per leaf: 40,000 keys make about 7,000 leaves and 64 bottom branches.
    let keys: Vec<Vec<u8>> = (0..40_000).map(|_| rng.bytes(16)).collect();
    let entries: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (&k[..], &[5u8; 600][..])).collect();
    common::api::put(&db, "t", &entries);
    remove_all(
        &db,
        keys.iter()
            .enumerate()
            .filter(|(i, _)| i % 4 != 0)
            .map(|(_, k)| k),
    );
    let snapshot = db.begin_read().unwrap();
    let (c, before, s) = compact_checked(&db);
    assert!(c.branches_saved > 0, "{c:?}");
    // Full bottom branches hold over 100 children each; the levels above add one or two pages
    // (without the branches packed: 34 over 1,695 leaves).
    assert!(
        s.branch_pages <= s.leaf_pages / 100 + 2,
        "{} branch pages over {} leaves after {c:?} (before: {} over {})",
        s.branch_pages,
        s.leaf_pages,
        before.branch_pages,
        before.leaf_pages
    );
    {
        let t = snapshot.open_table("t").unwrap();
        assert_eq!(t.len().unwrap(), 10_000);
        for k in keys.iter().step_by(4) {
            assert!(t.get(k).unwrap().is_some());
        }
    }
    drop(snapshot);
    let entries: Vec<(&[u8], &[u8])> = keys
        .iter()
        .skip(1)
        .step_by(4)
        .map(|k| (&k[..], &k[..]))
        .collect();
    common::api::put(&db, "t", &entries);
    db.check().unwrap();
    assert_eq!(t_len(&db), 20_000);
    let (c, ..) = compact_checked(&db);
    let (again, ..) = compact_checked(&db);
    assert_eq!(again.branches_saved, 0, "{c:?} then {again:?}");
}

/// Branch packing with long separators, of one length and of many: keys that share a 500-byte
/// prefix make separators of over 500 bytes, seven to a branch page, so the tree is five levels
/// deep and each level is packed in several pages (236 branch pages become 94); keys made of a
/// run of 0 to 600 equal bytes and a short random tail make separators of every length from one
/// byte to 600 (107 become 42). Each rebuilt tree passes the checker and holds what it held,
/// before and after more inserts.
#[test]
fn compaction_packs_branches_of_long_separators() {
    for mixed in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("db")).unwrap();
        let mut rng = common::Rng::new(22);
        let mut key = || match mixed {
            false => [vec![b'p'; 500], rng.bytes(8)].concat(),
            true => {
                let (run, tail) = (rng.below(601) as usize, rng.below(8) as usize + 1);
                [vec![b'q'; run], rng.bytes(tail)].concat()
            }
        };
        let keys: Vec<Vec<u8>> = (0..6_000).map(|_| key()).collect();
        let entries: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (&k[..], &b"value"[..])).collect();
        common::api::put(&db, "t", &entries);
        remove_all(&db, keys.iter().skip(1).step_by(2));
        let (c, before, after) = compact_checked(&db);
        assert!(c.branches_saved > 0, "mixed: {mixed}, {c:?}");
        assert!(
            after.branch_pages < before.branch_pages,
            "mixed: {mixed}: {} branch pages before, {} after {c:?}",
            before.branch_pages,
            after.branch_pages
        );
        assert!(mixed || after.tables[0].depth >= 4, "{after:?}");
        let more: Vec<Vec<u8>> = (0..2_000).map(|_| key()).collect();
        let entries: Vec<(&[u8], &[u8])> = more.iter().map(|k| (&k[..], &b"more"[..])).collect();
        common::api::put(&db, "t", &entries);
        db.check().unwrap();
        let expected = common::read_state(&db)["t"].len() as u64;
        assert_eq!(t_len(&db), expected);
        assert!(expected >= 4_900, "{expected} entries"); // random keys rarely collide
    }
}

/// Random-order inserts fill pages to over 72% (splits alone leave about two-thirds): a leaf
/// that overflows first moves cells to a sibling with room. In one transaction and in many.
#[test]
fn random_order_loads_fill_pages() {
    for txns in [1, 100] {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("db")).unwrap();
        let mut rng = common::Rng::new(5);
        for _ in 0..txns {
            let w = db.begin_write().unwrap();
            for _ in 0..40_000 / txns {
                let (k, v) = (rng.bytes(16), rng.bytes(100));
                w.open_table("t").unwrap().insert(&k, &v).unwrap();
            }
            w.commit().unwrap();
        }
        db.check().unwrap();
        let fill = db.stats().unwrap().fill_factor();
        assert!(fill > 0.72, "fill factor {fill} after {txns} transactions");
    }
}

/// Pages of the last checkpoint that commits freed become reusable once the commits pause: a
/// quiet tick of the background thread checkpoints, so the next large transaction takes them
/// instead of growing the file. Without the thread (no sync interval) it grows by about the
/// tree's leaves.
#[test]
fn pages_freed_before_a_pause_are_reused_after_it() {
    let growth = |interval: Option<Duration>| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let db = Database::builder()
            .sync_interval(interval)
            .open(&path)
            .unwrap();
        let mut rng = common::Rng::new(9);
        let keys: Vec<Vec<u8>> = (0..40_000).map(|_| rng.bytes(16)).collect();
        let rewrite = |keys: &[Vec<u8>], byte: u8| {
            let w = db.begin_write().unwrap();
            {
                let mut t = w.open_table("t").unwrap();
                for k in keys {
                    t.insert(k, &[byte; 100]).unwrap();
                }
            }
            w.commit().unwrap();
        };
        rewrite(&keys, 0);
        // Small commits (log records, not checkpoints) that rewrite nearly every leaf of the
        // checkpoint above: every tenth key, 100 to a commit.
        let tenth: Vec<Vec<u8>> = keys.iter().step_by(10).cloned().collect();
        for (i, chunk) in tenth.chunks(100).enumerate() {
            rewrite(chunk, i as u8 + 1);
        }
        assert_eq!(
            db.metrics().checkpoints,
            1,
            "the small commits were log records"
        );
        if interval.is_some() {
            let before = db.metrics().checkpoints;
            let waited = std::time::Instant::now();
            while db.metrics().checkpoints == before {
                assert!(
                    waited.elapsed() < Duration::from_secs(20),
                    "no idle checkpoint"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let len = file_len(&path);
        rewrite(&keys, 99);
        db.check().unwrap();
        file_len(&path).saturating_sub(len)
    };
    let without = growth(None);
    // Ticks of 100 ms: with 10 ms, a small commit slowed that long (the suite runs tests two at
    // a time on two processors) made a quiet tick, and an idle checkpoint, among the small
    // commits.
    let with = growth(Some(Duration::from_millis(100)));
    assert!(
        with * 2 < without,
        "the file grew by {with} bytes after a pause, {without} without the background thread"
    );
}

also_cached!(
    overwriting_a_large_value_reuses_its_run,
    runs_of_mixed_sizes_are_reused,
    the_file_shrinks_when_its_end_is_free,
    shrinking_never_cuts_what_a_snapshot_reads,
    compaction_after_a_long_reader_ends,
    compaction_packs_the_leaves,
    compaction_packs_the_branches,
    random_order_loads_fill_pages,
    pages_freed_before_a_pause_are_reused_after_it,
);
