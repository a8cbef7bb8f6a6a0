//! The append path (keys arriving in order skip the descent from the root): sorted loads fill
//! leaves completely, and the remembered rightmost leaf is never used for the wrong tree or after
//! the tree changed under it (inserts elsewhere, removals, splits, a table deleted and another
//! created in the same transaction). Every case is checked against a `BTreeMap` and `check()`.

use larchdb::testing::Rng;
use larchdb::Database;
use std::collections::BTreeMap;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(i: u64) -> Vec<u8> {
    let mut k = i.to_be_bytes().to_vec();
    k.extend_from_slice(&[0xAB; 24]); // 32 bytes, the same hint for the first 2^32 keys
    k
}

fn assert_table(db: &Database, table: &str, model: &Model) {
    let rtx = db.begin_read().unwrap();
    let t = rtx.open_table(table).unwrap();
    assert_eq!(t.len().unwrap(), model.len() as u64, "{table}: len");
    let got: Vec<(Vec<u8>, Vec<u8>)> = t
        .iter()
        .unwrap()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    let want: Vec<(Vec<u8>, Vec<u8>)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(got, want, "{table}: contents");
    let back: Vec<Vec<u8>> = t
        .iter()
        .unwrap()
        .rev()
        .map(|e| e.unwrap().0.to_vec())
        .collect();
    assert!(back.iter().rev().eq(model.keys()), "{table}: reverse");
}

#[test]
fn sorted_load_fills_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("a.larch")).unwrap();
    let mut model = Model::new();
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for i in 0..50_000u64 {
            t.insert(&key(i), &i.to_le_bytes().repeat(4)).unwrap();
            model.insert(key(i), i.to_le_bytes().repeat(4));
        }
    }
    w.commit().unwrap();
    db.check().unwrap();
    assert_table(&db, "t", &model);
    let stats = db.stats().unwrap();
    let t = stats.tables.iter().find(|t| t.name == "t").unwrap();
    // 32-byte keys and values: 72-byte cells and 6-byte slots, 52 to a 4 KiB leaf.
    let full = 50_000u64.div_ceil((4096 - 32) / (72 + 6));
    assert!(
        t.leaf_pages <= full,
        "{} leaves for {full} full ones",
        t.leaf_pages
    );
}

#[test]
fn interleaved_tables_removals_and_out_of_order_inserts() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("b.larch")).unwrap();
    let mut rng = Rng::new(7);
    let mut models = [Model::new(), Model::new()];
    let names = ["a", "b"];
    for round in 0..3u64 {
        let w = db.begin_write().unwrap();
        for i in 0..6_000u64 {
            let n = round * 6_000 + i;
            let which = (rng.next_u64() % 4 == 0) as usize;
            let mut t = w.open_table(names[which]).unwrap();
            let m = &mut models[which];
            match rng.next_u64() % 16 {
                // Mostly appends, then an insert into the middle, a removal or an overwrite.
                0 => {
                    let k = key(rng.next_u64() % (n + 1));
                    t.insert(&k, b"middle").unwrap();
                    m.insert(k, b"middle".to_vec());
                }
                1 => {
                    if let Some(k) = m.keys().nth((rng.next_u64() as usize) % (m.len() + 1)) {
                        let k = k.clone();
                        assert!(t.remove(&k).unwrap());
                        m.remove(&k);
                    }
                }
                2 => {
                    if let Some(k) = m.keys().next_back().cloned() {
                        t.insert(&k, b"overwritten").unwrap();
                        m.insert(k, b"overwritten".to_vec());
                    }
                }
                _ => {
                    let k = key(n);
                    let v = vec![n as u8; (rng.next_u64() % 64) as usize];
                    t.insert(&k, &v).unwrap();
                    m.insert(k, v);
                }
            }
        }
        w.commit().unwrap();
        db.check().unwrap();
        for (name, m) in names.iter().zip(&models) {
            assert_table(&db, name, m);
        }
    }
}

#[test]
fn table_deleted_and_recreated_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("c.larch")).unwrap();
    let mut w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("gone").unwrap();
        for i in 0..3_000u64 {
            t.insert(&key(i), b"old").unwrap();
        }
    }
    assert!(w.delete_table("gone").unwrap());
    let mut model = Model::new();
    for name in ["new", "gone"] {
        let mut t = w.open_table(name).unwrap();
        for i in 0..3_000u64 {
            t.insert(&key(i * 2), name.as_bytes()).unwrap();
            if name == "new" {
                model.insert(key(i * 2), name.as_bytes().to_vec());
            }
        }
    }
    w.commit().unwrap();
    db.check().unwrap();
    assert_table(&db, "new", &model);
    let gone: Model = model
        .keys()
        .map(|k| (k.clone(), b"gone".to_vec()))
        .collect();
    assert_table(&db, "gone", &gone);
}

/// Kilobytes of the file at `path` that this process has mapped (pages with a page table entry
/// in its read-only map), from /proc/self/smaps.
#[cfg(target_os = "linux")]
fn mapped_kib(path: &std::path::Path) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let name = path.to_str().unwrap();
    let mut in_file = false;
    let mut kib = 0;
    for line in smaps.lines() {
        // A mapping's first line: "start-end perms offset dev inode [path]"; then "Key: value".
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            in_file = line.ends_with(name);
        } else if let (true, Some(rss)) = (in_file, line.strip_prefix("Rss:")) {
            kib += rss
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap();
        }
    }
    kib
}

/// A scan over leaves that lie together in the file (a sorted load) asks the map for the leaves
/// ahead of it in one call: a few leaves into a scan of leaves written by this handle (which the
/// map has not touched yet), many more pages are mapped than the leaves it has read (the page
/// faults of its first touches would each map at most 16 pages).
#[cfg(target_os = "linux")]
#[test]
fn a_scan_maps_the_leaves_ahead_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.larch");
    let db = Database::builder()
        .backend(larchdb::Backend::Mmap)
        .open(&path)
        .unwrap();
    for backward in [false, true] {
        let table = if backward { "backward" } else { "forward" };
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table(table).unwrap();
            for i in 0..50_000u64 {
                t.insert(&key(i), &i.to_le_bytes().repeat(4)).unwrap();
            }
        }
        w.commit().unwrap();
        let rtx = db.begin_read().unwrap();
        let t = rtx.open_table(table).unwrap();
        let mut it = t.iter().unwrap();
        let mut next = || {
            let e = if backward { it.next_back() } else { it.next() };
            e.unwrap().unwrap();
        };
        next();
        let before = mapped_kib(&path);
        // Eight leaves of 52 entries.
        (0..8 * 52).for_each(|_| next());
        let grown = mapped_kib(&path) - before;
        assert!(
            grown >= 192,
            "{table}: {grown} KiB mapped by a scan over 8 leaves"
        );
    }
}
