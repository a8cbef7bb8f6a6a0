//! In-memory databases (`Builder::open_in_memory`): the same API as a file, on both backends,
//! independent of each other, leaving no file behind; clear errors for what they cannot do.
//! (The model test `model_in_memory` in model.rs runs the full operation mix on one.)

mod common;

use larchdb::{Backend, Database, Durability, Error, TableDef};
use std::collections::BTreeMap;

/// Entries in the temporary directory whose name an in-memory database's fallback file uses.
fn leftovers() -> usize {
    std::fs::read_dir(std::env::temp_dir())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".larchdb-memory-")
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn in_memory_databases_work_and_are_independent() {
    let before = leftovers();
    let a = Database::in_memory().unwrap();
    let b = Database::builder()
        .durability(Durability::Immediate)
        .open_in_memory()
        .unwrap();
    let mut model = BTreeMap::new();
    for round in 0..5u32 {
        let w = a.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            for i in 0..20_000u32 {
                let k = (i * 7919 % 100_003 + round).to_be_bytes();
                let v = vec![round as u8; (i % 300) as usize];
                t.insert(&k, &v).unwrap();
                model.insert(k.to_vec(), v);
            }
            let n = t.retain(|k, _| k[3] % 3 != 0).unwrap();
            let before = model.len();
            model.retain(|k, _| k[3] % 3 != 0);
            assert_eq!(n, (before - model.len()) as u64);
        }
        w.commit().unwrap();
        a.check().unwrap();
    }
    // A large value (overflow pages) and a typed table.
    const NAMES: TableDef<u64, str> = TableDef::new("names");
    let w = a.begin_write().unwrap();
    w.open_table("big")
        .unwrap()
        .insert(b"v", &vec![7u8; 5 << 20])
        .unwrap();
    w.open_typed(NAMES).unwrap().insert(&1, "one").unwrap();
    w.commit().unwrap();
    let r = a.begin_read().unwrap();
    let t = r.open_table("t").unwrap();
    assert_eq!(t.len().unwrap(), model.len() as u64);
    assert!(t
        .iter()
        .unwrap()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .eq(model.clone()));
    assert_eq!(
        r.open_table("big")
            .unwrap()
            .get(b"v")
            .unwrap()
            .unwrap()
            .len(),
        5 << 20
    );
    assert_eq!(r.open_typed(NAMES).unwrap().get(&1).unwrap(), Some("one"));
    // The other database saw none of it.
    assert!(b.begin_read().unwrap().list_tables().unwrap().is_empty());
    let w = b.begin_write().unwrap();
    w.open_table("t").unwrap().insert(b"x", b"y").unwrap();
    w.commit().unwrap();
    assert_eq!(
        b.begin_read()
            .unwrap()
            .open_table("t")
            .unwrap()
            .len()
            .unwrap(),
        1
    );
    // Checkpoints, compaction and syncs run (and have nothing to make durable).
    a.checkpoint().unwrap();
    a.sync().unwrap();
    a.compact().unwrap();
    a.check().unwrap();
    drop(r);
    drop((a, b));
    assert_eq!(leftovers(), before);
}

#[test]
fn an_in_memory_database_can_be_backed_up_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::in_memory().unwrap();
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for i in 0..5000u32 {
            t.insert(&i.to_be_bytes(), &i.to_le_bytes()).unwrap();
        }
    }
    w.commit().unwrap();
    let path = dir.path().join("copy.larch");
    db.backup(&path, true).unwrap();
    drop(db);
    let copy = Database::open(&path).unwrap();
    copy.check().unwrap();
    let r = copy.begin_read().unwrap();
    let t = r.open_table("t").unwrap();
    assert_eq!(t.len().unwrap(), 5000);
    assert_eq!(
        t.get(&77u32.to_be_bytes()).unwrap(),
        Some(&77u32.to_le_bytes()[..])
    );
}

#[test]
fn in_memory_errors() {
    let err = Database::builder()
        .read_only(true)
        .open_in_memory()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
    assert!(err.to_string().contains("in-memory"), "{err}");
    let err = Database::builder()
        .page_size(1000)
        .open_in_memory()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
    let err = Database::builder()
        .backend(Backend::Cached { capacity: 1024 })
        .open_in_memory()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
}

crate::also_cached!(
    in_memory_databases_work_and_are_independent,
    an_in_memory_database_can_be_backed_up_to_a_file,
);
