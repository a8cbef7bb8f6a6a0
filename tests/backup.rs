//! Online backup (issue 12): a consistent copy of one snapshot while writers go on.

mod common;

use common::read_state;
use larchdb::{Database, Error};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Fills table "t" with `n` entries (some of them overflow values), in one commit.
fn fill(db: &Database, n: u64, tag: u8) {
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for i in 0..n {
            let len = if i % 50 == 0 { 9_000 } else { 60 };
            t.insert(&i.to_be_bytes(), &vec![tag; len]).unwrap();
        }
    }
    w.commit().unwrap();
}

/// A backup taken while another thread commits holds exactly the snapshot's state, opens, and
/// passes the integrity check; the compacted one holds the same in a smaller file.
#[test]
fn backup_while_writing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path().join("db")).unwrap());
    fill(&db, 5_000, 1);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut tag = 2u8;
            while !stop.load(Ordering::Relaxed) {
                fill(&db, 5_000, tag);
                tag = tag.wrapping_add(1);
            }
        })
    };
    let rtx = db.begin_read().unwrap();
    let copy = dir.path().join("copy");
    let b = rtx.backup_to(&copy).unwrap();
    assert_eq!(b.txn, rtx.id());
    let want = {
        let t = rtx.open_table("t").unwrap();
        t.iter()
            .unwrap()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<larchdb::Result<std::collections::BTreeMap<_, _>>>()
            .unwrap()
    };
    drop(rtx);
    let compacted = dir.path().join("compacted");
    let c = db.backup(&compacted, true).unwrap();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    let copy_db = Database::open(&copy).unwrap();
    copy_db.check().unwrap();
    assert!(copy_db.recovery().is_none());
    assert_eq!(read_state(&copy_db)["t"], want);
    drop(copy_db);

    let cdb = Database::open(&compacted).unwrap();
    cdb.check().unwrap();
    assert_eq!(read_state(&cdb)["t"].len(), 5_000);
    assert!(c.file_size <= std::fs::metadata(&compacted).unwrap().len());
    // The copy is writable like any database.
    fill(&cdb, 10, 9);
    cdb.check().unwrap();
}

/// A backup never overwrites an existing file.
#[test]
fn backup_refuses_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    fill(&db, 10, 1);
    let copy = dir.path().join("copy");
    std::fs::write(&copy, b"keep me").unwrap();
    let err = db.begin_read().unwrap().backup_to(&copy).unwrap_err();
    assert!(matches!(err, Error::Io(ref e) if e.kind() == std::io::ErrorKind::AlreadyExists));
    assert_eq!(std::fs::read(&copy).unwrap(), b"keep me");
}

/// A backup of a database with uncheckpointed commits (in the log only) holds them.
#[test]
fn backup_holds_commits_not_yet_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    for i in 0..20u8 {
        let w = db.begin_write().unwrap();
        w.open_table("t").unwrap().insert(&[i], &[i; 100]).unwrap();
        w.commit().unwrap();
    }
    let copy = dir.path().join("copy");
    db.backup(&copy, false).unwrap();
    let c = Database::open(&copy).unwrap();
    c.check().unwrap();
    assert_eq!(read_state(&c), read_state(&db));
}

also_cached!(
    backup_while_writing,
    backup_refuses_an_existing_file,
    backup_holds_commits_not_yet_checkpointed,
);
