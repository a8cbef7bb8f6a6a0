//! Error paths of the public API: locking, read-only handles, invalid options, table names,
//! key and value limits, aborts, the single writer, durability and snapshot isolation.
//!
//! Every test works in its own temporary directory. The cross-process lock test re-runs this
//! test binary as a child process (see `child_open_helper`).

use larchdb::{Backend, Database, Durability, Error, ReadTxn};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

mod common;

/// A fresh temporary directory and a database path inside it.
fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("test.larch");
    (dir, path)
}

/// Inserts `entries` into `table` in one Immediate commit.
fn put(db: &Database, table: &str, entries: &[(&[u8], &[u8])]) {
    let wtx = db.begin_write().expect("begin_write");
    {
        let mut t = wtx.open_table(table).expect("open_table");
        for (k, v) in entries {
            t.insert(k, v).expect("insert");
        }
    }
    wtx.commit().expect("commit");
}

/// All entries of `table` in a read transaction, in key order.
fn dump(rtx: &ReadTxn, table: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let t = rtx.open_table(table).expect("open_table");
    let mut out = BTreeMap::new();
    let mut prev: Option<Vec<u8>> = None;
    for item in t.iter().expect("iter") {
        let (k, v) = item.expect("iteration item");
        if let Some(p) = &prev {
            assert!(p.as_slice() < k, "iteration out of order");
        }
        prev = Some(k.to_vec());
        out.insert(k.to_vec(), v.to_vec());
    }
    assert_eq!(
        out.len() as u64,
        t.len().unwrap(),
        "len() disagrees with iteration"
    );
    out
}

fn map(entries: &[(&[u8], &[u8])]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

/// A deterministic value of `len` bytes.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    larchdb::testing::Rng::new(seed).bytes(len)
}

// ---- DatabaseLocked -----------------------------------------------------------------------------

#[test]
fn locked_second_open_in_same_process() {
    let (_dir, path) = tmp();
    let db = Database::open(&path).unwrap();
    put(&db, "t", &[(b"k", b"v")]);

    let second = Database::open(&path);
    assert!(
        matches!(second, Err(Error::DatabaseLocked)),
        "second writable open: {second:?}"
    );
    // A read-only handle opens beside the writable one and follows its commits.
    let ro = Database::builder()
        .read_only(true)
        .open(&path)
        .expect("read-only open beside a writable handle");
    assert_eq!(dump(&ro.begin_read().unwrap(), "t"), map(&[(b"k", b"v")]));
    // The failed open changed nothing: the first handle still works.
    put(&db, "t", &[(b"k2", b"v2")]);
    db.check().unwrap();
    assert_eq!(
        dump(&ro.begin_read().unwrap(), "t"),
        map(&[(b"k", b"v"), (b"k2", b"v2")]),
        "the read-only handle sees the new commit"
    );
    ro.check().unwrap();
    drop(ro);

    drop(db);
    let db = Database::open(&path).expect("open after the first handle was dropped");
    let rtx = db.begin_read().unwrap();
    assert_eq!(
        dump(&rtx, "t"),
        map(&[(b"k", b"v"), (b"k2", b"v2")]),
        "data after reopening"
    );
    drop(rtx);
    drop(db);
    let ro = Database::builder()
        .read_only(true)
        .open(&path)
        .expect("read-only open after every writable handle is gone");
    ro.check().unwrap();
}

#[test]
fn locked_while_read_txn_outlives_database() {
    let (_dir, path) = tmp();
    let db = Database::open(&path).unwrap();
    put(&db, "t", &[(b"a", b"1"), (b"b", b"2")]);
    let rtx = db.begin_read().unwrap();
    drop(db);

    let again = Database::open(&path);
    assert!(
        matches!(again, Err(Error::DatabaseLocked)),
        "open while a ReadTxn of a dropped Database lives: {again:?}"
    );
    let ro = Database::builder().read_only(true).open(&path);
    assert!(
        ro.is_ok(),
        "read-only open while a ReadTxn of a dropped writable Database lives: {ro:?}"
    );
    drop(ro);
    // The snapshot still reads its data.
    assert_eq!(dump(&rtx, "t"), map(&[(b"a", b"1"), (b"b", b"2")]));
    let t = rtx.open_table("t").unwrap();
    assert_eq!(t.get(b"b").unwrap(), Some(&b"2"[..]));

    drop(rtx);
    let db = Database::open(&path).expect("open after the last ReadTxn was dropped");
    assert_eq!(
        dump(&db.begin_read().unwrap(), "t"),
        map(&[(b"a", b"1"), (b"b", b"2")])
    );
}

/// Environment variables that turn `child_open_helper` into a real test (in a child process).
const CHILD_PATH_VAR: &str = "LARCHDB_TEST_CHILD_OPEN_PATH";
const CHILD_MODE_VAR: &str = "LARCHDB_TEST_CHILD_OPEN_MODE";
const CHILD_TAG: &str = "LARCHDB_CHILD_RESULT=";

/// Not a test of its own: when the parent test sets `CHILD_PATH_VAR`, this opens that file (read-
/// only if `CHILD_MODE_VAR` is "ro") and reports the outcome on stdout. Otherwise it does nothing.
#[test]
fn child_open_helper() {
    let Ok(path) = std::env::var(CHILD_PATH_VAR) else {
        return;
    };
    let ro = std::env::var(CHILD_MODE_VAR).as_deref() == Ok("ro");
    let r = Database::builder().read_only(ro).open(&path);
    let kind = match &r {
        Ok(db) => match db.begin_read().and_then(|r| r.list_tables()) {
            Ok(names) => format!("ok:{}", names.join(",")),
            Err(e) => format!("ok-but-read-failed:{e}"),
        },
        Err(Error::DatabaseLocked) => "locked".to_string(),
        Err(Error::ReadOnly) => "readonly".to_string(),
        Err(Error::Io(e)) => format!("io:{e}"),
        Err(e) => format!("other:{e:?}"),
    };
    println!("{CHILD_TAG}{kind}");
}

/// Runs `child_open_helper` in a child process on `path`; returns what it reported.
fn child_open(path: &Path, read_only: bool) -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_open_helper",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_PATH_VAR, path)
        .env(CHILD_MODE_VAR, if read_only { "ro" } else { "rw" })
        .output()
        .expect("spawn child test process");
    let stdout = common::child_stdout("child process", &out);
    common::tagged(&stdout, CHILD_TAG)
        .map(|l| l[CHILD_TAG.len()..].to_string())
        .unwrap_or_else(|| panic!("child printed no result line:\n{stdout}"))
}

#[test]
fn locked_across_processes() {
    let (_dir, path) = tmp();
    let db = Database::open(&path).unwrap();
    put(&db, "shared", &[(b"k", b"v")]);

    assert_eq!(child_open(&path, false), "locked", "child writable open");
    assert_eq!(
        child_open(&path, true),
        "ok:shared",
        "child read-only open beside a writer"
    );

    // A ReadTxn keeps the lock after its Database is dropped, across processes too.
    let rtx = db.begin_read().unwrap();
    drop(db);
    assert_eq!(
        child_open(&path, false),
        "locked",
        "child open while a ReadTxn lives"
    );
    drop(rtx);

    assert_eq!(
        child_open(&path, false),
        "ok:shared",
        "child open after the parent let go"
    );
    assert_eq!(child_open(&path, true), "ok:shared", "child read-only open");

    // Two read-only handles in two processes share the file.
    let ro = Database::builder().read_only(true).open(&path).unwrap();
    assert_eq!(
        child_open(&path, true),
        "ok:shared",
        "child read-only open beside a read-only parent"
    );
    drop(ro);

    // And the parent can open again afterwards: the child's lock went away with it.
    let db = Database::open(&path).unwrap();
    db.check().unwrap();
}

// ---- ReadOnly -----------------------------------------------------------------------------------

#[test]
fn read_only_rejects_writes() {
    let (_dir, path) = tmp();
    {
        let db = Database::open(&path).unwrap();
        put(&db, "t", &[(b"x", b"1"), (b"y", b"2")]);
    }
    let before = std::fs::read(&path).unwrap();

    let ro = Database::builder().read_only(true).open(&path).unwrap();
    let w = ro.begin_write();
    assert!(
        matches!(w, Err(Error::ReadOnly)),
        "begin_write on read-only: {:?}",
        w.err()
    );
    // Still refused the second time, and reads keep working.
    assert!(matches!(ro.begin_write(), Err(Error::ReadOnly)));
    assert_eq!(
        dump(&ro.begin_read().unwrap(), "t"),
        map(&[(b"x", b"1"), (b"y", b"2")])
    );
    ro.check().unwrap();
    ro.sync().unwrap();

    // A second read-only handle at the same time.
    let ro2 = Database::builder().read_only(true).open(&path).unwrap();
    let r1 = ro.begin_read().unwrap();
    let r2 = ro2.begin_read().unwrap();
    assert_eq!(dump(&r1, "t"), dump(&r2, "t"));
    assert_eq!(r2.list_tables().unwrap(), vec!["t".to_string()]);
    assert_eq!(
        r2.open_table("t").unwrap().get(b"y").unwrap(),
        Some(&b"2"[..])
    );
    ro2.check().unwrap();
    drop((r1, r2, ro, ro2));

    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "read-only handles modified the file"
    );
}

#[test]
fn read_only_open_of_missing_file() {
    let (dir, path) = tmp();
    let r = Database::builder().read_only(true).open(&path);
    assert!(
        matches!(r, Err(Error::Io(_))),
        "read-only open of a missing file: {r:?}"
    );
    assert!(!path.exists(), "read-only open created the file");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "read-only open created something in the directory"
    );
}

// ---- InvalidOption ------------------------------------------------------------------------------

#[test]
fn invalid_page_sizes_rejected() {
    let (dir, _) = tmp();
    for ps in [0usize, 1000, 2048, 4095, 4097, 131072] {
        let path = dir.path().join(format!("bad-{ps}.larch"));
        let r = Database::builder().page_size(ps).open(&path);
        assert!(
            matches!(r, Err(Error::InvalidOption(_))),
            "page size {ps}: {r:?}"
        );
    }
}

#[test]
fn valid_page_sizes_accepted() {
    let (dir, _) = tmp();
    for ps in [4096usize, 8192, 16384, 32768, 65536] {
        let path = dir.path().join(format!("ok-{ps}.larch"));
        {
            let db = Database::builder()
                .page_size(ps)
                .open(&path)
                .unwrap_or_else(|e| panic!("page size {ps}: {e:?}"));
            assert_eq!(db.page_size(), ps);
            assert_eq!(db.max_key_len(), ps / 4);
            put(&db, "t", &[(b"key", b"value")]);
            db.check().unwrap();
        }
        // An existing file keeps its page size, whatever the builder says.
        let other = if ps == 4096 { 8192 } else { 4096 };
        let db = Database::builder().page_size(other).open(&path).unwrap();
        assert_eq!(db.page_size(), ps, "reopened with page_size({other})");
        assert_eq!(
            dump(&db.begin_read().unwrap(), "t"),
            map(&[(b"key", b"value")])
        );
        db.check().unwrap();
    }
}

#[test]
fn cache_too_small_rejected_and_cached_backend_opens() {
    let (_dir, path) = tmp();
    for capacity in [0, 4095, 3 * 4096] {
        let r = Database::builder()
            .backend(Backend::Cached { capacity })
            .open(&path);
        assert!(
            matches!(r, Err(Error::InvalidOption(_))),
            "Backend::Cached {{ capacity: {capacity} }}: {r:?}"
        );
        assert!(!path.exists(), "a rejected open created the file");
    }
    // Both backends open the same file and see the same data.
    let db = Database::builder()
        .backend(Backend::Cached { capacity: 4 * 4096 })
        .open(&path)
        .unwrap();
    let w = db.begin_write().unwrap();
    w.open_table("t").unwrap().insert(b"key", b"value").unwrap();
    w.commit().unwrap();
    let stats = db
        .cache_stats()
        .expect("cache stats with the cached backend");
    assert_eq!(stats.capacity_frames, 4);
    drop(db);
    let db = Database::builder()
        .backend(Backend::Mmap)
        .open(&path)
        .unwrap();
    assert!(db.cache_stats().is_none());
    assert_eq!(
        dump(&db.begin_read().unwrap(), "t"),
        map(&[(b"key", b"value")])
    );
    db.check().unwrap();
}

// ---- Tables -------------------------------------------------------------------------------------

#[test]
fn table_not_found_and_invalid_names() {
    let (_dir, path) = tmp();
    let db = Database::open(&path).unwrap();
    let long = "n".repeat(256);
    let max = "m".repeat(larchdb::MAX_TABLE_NAME_LEN);
    assert_eq!(max.len(), 255);

    {
        let rtx = db.begin_read().unwrap();
        match rtx.open_table("missing") {
            Err(Error::TableNotFound(n)) => assert_eq!(n, "missing"),
            other => panic!("open of a missing table: {:?}", other.err()),
        }
        assert!(matches!(
            rtx.open_table(""),
            Err(Error::InvalidTableName(_))
        ));
        assert!(matches!(
            rtx.open_table(&long),
            Err(Error::InvalidTableName(_))
        ));
        assert_eq!(rtx.list_tables().unwrap(), Vec::<String>::new());
    }

    let mut wtx = db.begin_write().unwrap();
    assert!(matches!(
        wtx.open_table(""),
        Err(Error::InvalidTableName(_))
    ));
    assert!(matches!(
        wtx.open_table(&long),
        Err(Error::InvalidTableName(_))
    ));
    assert!(matches!(
        wtx.delete_table(""),
        Err(Error::InvalidTableName(_))
    ));
    assert!(matches!(
        wtx.delete_table(&long),
        Err(Error::InvalidTableName(_))
    ));
    // The transaction is still usable after those errors.
    wtx.open_table(&max).unwrap().insert(b"k", b"v").unwrap();
    wtx.commit().unwrap();

    let rtx = db.begin_read().unwrap();
    assert_eq!(rtx.list_tables().unwrap(), vec![max.clone()]);
    assert_eq!(
        rtx.open_table(&max).unwrap().get(b"k").unwrap(),
        Some(&b"v"[..])
    );
    match rtx.open_table("missing") {
        Err(Error::TableNotFound(n)) => assert_eq!(n, "missing"),
        other => panic!("open of a missing table: {:?}", other.err()),
    }
}

#[test]
fn open_table_creates_empty_table() {
    let (_dir, path) = tmp();
    {
        let db = Database::open(&path).unwrap();
        let wtx = db.begin_write().unwrap();
        {
            let t = wtx.open_table("empty").unwrap();
            assert_eq!(t.len().unwrap(), 0);
            assert!(t.is_empty().unwrap());
            assert_eq!(t.first().unwrap(), None);
            assert_eq!(t.last().unwrap(), None);
            assert_eq!(t.iter().unwrap().count(), 0);
        }
        assert_eq!(wtx.list_tables().unwrap(), vec!["empty".to_string()]);
        // Not visible before commit.
        assert!(matches!(
            db.begin_read().unwrap().open_table("empty"),
            Err(Error::TableNotFound(_))
        ));
        wtx.commit().unwrap();

        let rtx = db.begin_read().unwrap();
        let t = rtx
            .open_table("empty")
            .expect("empty table visible after commit");
        assert_eq!(t.len().unwrap(), 0);
        assert!(t.is_empty().unwrap());
        assert_eq!(t.get(b"anything").unwrap(), None);
        assert_eq!(t.iter().unwrap().count(), 0);
        assert_eq!(t.iter().unwrap().rev().count(), 0);
        assert_eq!(t.first().unwrap(), None);
        assert_eq!(rtx.list_tables().unwrap(), vec!["empty".to_string()]);
        db.check().unwrap();
    }
    // And after reopening.
    let db = Database::open(&path).unwrap();
    let rtx = db.begin_read().unwrap();
    assert_eq!(rtx.list_tables().unwrap(), vec!["empty".to_string()]);
    assert!(rtx.open_table("empty").unwrap().is_empty().unwrap());
    db.check().unwrap();
}

#[test]
fn delete_table_and_list_tables() {
    let (_dir, path) = tmp();
    let db = Database::open(&path).unwrap();
    put(&db, "b", &[(b"1", b"one")]);
    put(&db, "a", &[(b"2", b"two")]);
    put(&db, "c", &[(b"3", b"three")]);

    let rtx_before = db.begin_read().unwrap();
    assert_eq!(rtx_before.list_tables().unwrap(), ["a", "b", "c"]);

    let mut wtx = db.begin_write().unwrap();
    assert_eq!(wtx.list_tables().unwrap(), ["a", "b", "c"]);
    assert!(wtx.delete_table("b").unwrap(), "deleting an existing table");
    assert!(!wtx.delete_table("b").unwrap(), "deleting it twice");
    assert!(
        !wtx.delete_table("nope").unwrap(),
        "deleting a missing table"
    );
    assert_eq!(wtx.list_tables().unwrap(), ["a", "c"]);
    // A table created and deleted in the same transaction.
    wtx.open_table("tmp").unwrap().insert(b"x", b"y").unwrap();
    assert_eq!(wtx.list_tables().unwrap(), ["a", "c", "tmp"]);
    assert!(wtx.delete_table("tmp").unwrap());
    assert_eq!(wtx.list_tables().unwrap(), ["a", "c"]);
    // Reopening a deleted table in the same transaction gives a new, empty table.
    assert!(wtx.open_table("b").unwrap().is_empty().unwrap());
    assert!(wtx.delete_table("b").unwrap());
    wtx.commit().unwrap();

    let rtx = db.begin_read().unwrap();
    assert_eq!(rtx.list_tables().unwrap(), ["a", "c"]);
    assert!(matches!(rtx.open_table("b"), Err(Error::TableNotFound(_))));
    assert!(matches!(
        rtx.open_table("tmp"),
        Err(Error::TableNotFound(_))
    ));
    assert_eq!(
        rtx.open_table("c").unwrap().get(b"3").unwrap(),
        Some(&b"three"[..])
    );
    // The old snapshot still has it.
    assert_eq!(
        rtx_before.open_table("b").unwrap().get(b"1").unwrap(),
        Some(&b"one"[..])
    );
    drop(rtx_before);
    db.check().unwrap();

    // Deleting a large table frees its pages (check() accounts for every page).
    let wtx = db.begin_write().unwrap();
    {
        let mut t = wtx.open_table("big").unwrap();
        for i in 0..3000u32 {
            t.insert(format!("key{i:06}").as_bytes(), &pattern(i as u64, 100))
                .unwrap();
        }
        t.insert(b"huge", &pattern(7, 100_000)).unwrap();
    }
    wtx.commit().unwrap();
    db.check().unwrap();
    let mut wtx = db.begin_write().unwrap();
    assert!(wtx.delete_table("big").unwrap());
    wtx.commit().unwrap();
    db.check().unwrap();
    drop(rtx);
    drop(db);
    let db = Database::open(&path).unwrap();
    assert_eq!(db.begin_read().unwrap().list_tables().unwrap(), ["a", "c"]);
    db.check().unwrap();
}

// ---- Limits -------------------------------------------------------------------------------------

#[test]
fn key_length_limits() {
    let (_dir, path) = tmp();
    let db = Database::open(&path).unwrap();
    let max = db.max_key_len();
    assert_eq!(max, 1024, "max key at 4 KiB pages");

    let max_key = vec![b'k'; max];
    let mut max_key2 = max_key.clone();
    *max_key2.last_mut().unwrap() = b'z';
    let too_long = vec![b'k'; max + 1];

    let wtx = db.begin_write().unwrap();
    {
        let mut t = wtx.open_table("t").unwrap();
        t.insert(b"before", b"0").unwrap();
        t.insert(&max_key, b"max").unwrap();
        // A maximal key with a value too big to stay inline.
        t.insert(&max_key2, &pattern(1, 5000)).unwrap();
        assert_eq!(t.get(&max_key).unwrap().as_deref(), Some(&b"max"[..]));

        match t.insert(&too_long, b"v") {
            Err(Error::KeyTooLarge { len, max: m }) => {
                assert_eq!(len, max + 1);
                assert_eq!(m, max);
            }
            other => panic!("key of max+1 bytes: {other:?}"),
        }
        match t.insert(b"", b"v") {
            Err(Error::EmptyKey) => {}
            other => panic!("empty key: {other:?}"),
        }
        // Nothing changed, and the table is still usable.
        assert_eq!(t.len().unwrap(), 3);
        assert_eq!(t.get(&too_long).unwrap(), None);
        assert_eq!(t.get(b"").unwrap(), None);
        t.insert(b"after", b"1").unwrap();
        assert_eq!(t.len().unwrap(), 4);
    }
    wtx.commit().unwrap();

    let expect: BTreeMap<Vec<u8>, Vec<u8>> = [
        (b"before".to_vec(), b"0".to_vec()),
        (b"after".to_vec(), b"1".to_vec()),
        (max_key.clone(), b"max".to_vec()),
        (max_key2.clone(), pattern(1, 5000)),
    ]
    .into_iter()
    .collect();
    assert_eq!(dump(&db.begin_read().unwrap(), "t"), expect);
    db.check().unwrap();

    // A transaction whose only operation failed commits nothing.
    let wtx = db.begin_write().unwrap();
    assert!(matches!(
        wtx.open_table("t").unwrap().insert(&too_long, b"v"),
        Err(Error::KeyTooLarge { .. })
    ));
    wtx.commit().unwrap();
    assert_eq!(db.begin_read().unwrap().list_tables().unwrap(), ["t"]);
    assert_eq!(dump(&db.begin_read().unwrap(), "t"), expect);
    db.check().unwrap();

    drop(db);
    let db = Database::open(&path).unwrap();
    assert_eq!(dump(&db.begin_read().unwrap(), "t"), expect);
    db.check().unwrap();
}

#[test]
fn key_length_limit_at_16k_pages() {
    let (_dir, path) = tmp();
    let db = Database::builder().page_size(16384).open(&path).unwrap();
    assert_eq!(db.max_key_len(), 4096);
    let key = vec![0xABu8; 4096];
    let wtx = db.begin_write().unwrap();
    {
        let mut t = wtx.open_table("t").unwrap();
        t.insert(&key, b"v").unwrap();
        assert!(matches!(
            t.insert(&[0xAB; 4097], b"v"),
            Err(Error::KeyTooLarge {
                len: 4097,
                max: 4096
            })
        ));
        // Many maximal keys force splits of pages holding them.
        for i in 0..40u8 {
            let mut k = vec![i; 4096];
            k[4095] = 0xFF;
            t.insert(&k, &[i; 10]).unwrap();
        }
    }
    wtx.commit().unwrap();
    let rtx = db.begin_read().unwrap();
    let t = rtx.open_table("t").unwrap();
    assert_eq!(t.get(&key).unwrap(), Some(&b"v"[..]));
    assert_eq!(t.len().unwrap(), 41);
    db.check().unwrap();
}

#[test]
fn large_values_round_trip() {
    let (_dir, path) = tmp();
    let five_mib = pattern(5, 5 << 20);
    let sixty_four_kib = pattern(64, 64 << 10);
    {
        let db = Database::open(&path).unwrap();
        let wtx = db.begin_write().unwrap();
        {
            let mut t = wtx.open_table("blobs").unwrap();
            t.insert(b"five", &five_mib).unwrap();
            t.insert(b"sixty-four", &sixty_four_kib).unwrap();
            t.insert(b"small", b"s").unwrap();
            // The writer reads its own large values.
            assert_eq!(t.get(b"five").unwrap().map(|v| v.len()), Some(5 << 20));
            assert!(t.get(b"five").unwrap().as_deref() == Some(&five_mib[..]));
        }
        wtx.commit().unwrap();
        let rtx = db.begin_read().unwrap();
        let t = rtx.open_table("blobs").unwrap();
        assert!(t.get(b"five").unwrap() == Some(&five_mib[..]));
        assert!(t.get(b"sixty-four").unwrap() == Some(&sixty_four_kib[..]));
        db.check().unwrap();
    }
    let db = Database::open(&path).unwrap();
    {
        let rtx = db.begin_read().unwrap();
        let t = rtx.open_table("blobs").unwrap();
        assert!(
            t.get(b"five").unwrap() == Some(&five_mib[..]),
            "5 MiB value after reopen"
        );
        assert!(
            t.get(b"sixty-four").unwrap() == Some(&sixty_four_kib[..]),
            "64 KiB value after reopen"
        );
        let lens: Vec<usize> = t.iter().unwrap().map(|e| e.unwrap().1.len()).collect();
        assert_eq!(lens, [5 << 20, 64 << 10, 1]);
        let last = t.last().unwrap().unwrap();
        assert_eq!(last.0, b"small");
    }
    db.check().unwrap();
    // Overwrite one and remove the other: their overflow pages are freed and accounted for.
    let wtx = db.begin_write().unwrap();
    {
        let mut t = wtx.open_table("blobs").unwrap();
        t.insert(b"five", b"short now").unwrap();
        assert!(t.remove(b"sixty-four").unwrap());
    }
    wtx.commit().unwrap();
    db.check().unwrap();
    let rtx = db.begin_read().unwrap();
    let t = rtx.open_table("blobs").unwrap();
    assert_eq!(t.get(b"five").unwrap(), Some(&b"short now"[..]));
    assert_eq!(t.get(b"sixty-four").unwrap(), None);
}

// ---- Abort and the single writer ----------------------------------------------------------------

#[test]
fn drop_and_abort_discard_changes() {
    let (_dir, path) = tmp();
    let db = Database::open(&path).unwrap();
    put(&db, "t", &[(b"keep", b"1")]);
    let base = map(&[(b"keep", b"1")]);

    // Dropped without commit.
    {
        let wtx = db.begin_write().unwrap();
        let mut t = wtx.open_table("t").unwrap();
        t.insert(b"dropped", b"x").unwrap();
        assert!(t.remove(b"keep").unwrap());
        wtx.open_table("new-by-drop")
            .unwrap()
            .insert(b"a", b"b")
            .unwrap();
    }
    assert_eq!(dump(&db.begin_read().unwrap(), "t"), base);

    // Explicit abort.
    let mut wtx = db.begin_write().unwrap();
    {
        let mut t = wtx.open_table("t").unwrap();
        t.insert(b"aborted", b"x").unwrap();
        t.insert(b"keep", b"changed").unwrap();
    }
    wtx.open_table("new-by-abort")
        .unwrap()
        .insert(b"a", b"b")
        .unwrap();
    assert!(wtx.delete_table("t").unwrap());
    wtx.abort().unwrap();

    let rtx = db.begin_read().unwrap();
    assert_eq!(dump(&rtx, "t"), base);
    assert_eq!(rtx.list_tables().unwrap(), ["t"]);
    // The next writer starts from the last commit, too.
    let wtx = db.begin_write().unwrap();
    assert_eq!(wtx.list_tables().unwrap(), ["t"]);
    {
        let t = wtx.open_table("t").unwrap();
        assert_eq!(t.get(b"dropped").unwrap(), None);
        assert_eq!(t.get(b"aborted").unwrap(), None);
        assert_eq!(t.get(b"keep").unwrap().as_deref(), Some(&b"1"[..]));
    }
    drop(wtx);
    db.check().unwrap();
    drop(rtx);
    drop(db);
    let db = Database::open(&path).unwrap();
    assert_eq!(dump(&db.begin_read().unwrap(), "t"), base);
    assert_eq!(db.begin_read().unwrap().list_tables().unwrap(), ["t"]);
    db.check().unwrap();
}

#[test]
fn begin_write_blocks_while_a_writer_is_open() {
    let (_dir, path) = tmp();
    let db = Database::open(&path).unwrap();
    put(&db, "t", &[(b"n", b"0")]);

    let wtx = db.begin_write().unwrap();
    wtx.open_table("t").unwrap().insert(b"first", b"1").unwrap();

    let (tx, rx) = mpsc::channel::<&'static str>();
    std::thread::scope(|s| {
        let db = &db;
        let handle = s.spawn(move || {
            tx.send("started").unwrap();
            let w2 = db.begin_write().unwrap();
            tx.send("acquired").unwrap();
            // It sees nothing of the dropped first transaction.
            {
                let mut t = w2.open_table("t").unwrap();
                assert_eq!(t.get(b"first").unwrap(), None);
                t.insert(b"second", b"2").unwrap();
            }
            w2.commit().unwrap();
            tx.send("committed").unwrap();
        });

        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("started"));
        // While the first writer is open the second stays blocked.
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(200)),
            Err(mpsc::RecvTimeoutError::Timeout),
            "second begin_write did not wait for the first writer"
        );
        // Readers are not blocked by either writer.
        let rtx = db.begin_read().unwrap();
        assert_eq!(dump(&rtx, "t"), map(&[(b"n", b"0")]));
        drop(wtx);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(30)),
            Ok("acquired"),
            "second writer did not proceed after the first was dropped"
        );
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok("committed"));
        handle.join().unwrap();
    });
    assert_eq!(
        dump(&db.begin_read().unwrap(), "t"),
        map(&[(b"n", b"0"), (b"second", b"2")])
    );

    // The same with commit() and abort() ending the first writer.
    for end_with_commit in [true, false] {
        let wtx = db.begin_write().unwrap();
        wtx.open_table("t").unwrap().insert(b"n", b"x").unwrap();
        let (tx, rx) = mpsc::channel::<&'static str>();
        std::thread::scope(|s| {
            let db = &db;
            s.spawn(move || {
                let w = db.begin_write().unwrap();
                tx.send("acquired").unwrap();
                drop(w);
            });
            assert_eq!(
                rx.recv_timeout(Duration::from_millis(150)),
                Err(mpsc::RecvTimeoutError::Timeout)
            );
            if end_with_commit {
                wtx.commit().unwrap();
            } else {
                wtx.abort().unwrap();
            }
            assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok("acquired"));
        });
    }
    db.check().unwrap();
}

// ---- Durability ---------------------------------------------------------------------------------

#[test]
fn eventual_commits_visible_and_survive_reopen() {
    let (_dir, path) = tmp();
    let mut expect = BTreeMap::new();
    {
        let db = Database::builder()
            .durability(Durability::Eventual)
            .open(&path)
            .unwrap();
        for i in 0..50u32 {
            let wtx = db.begin_write().unwrap();
            {
                let mut t = wtx.open_table("t").unwrap();
                let k = format!("k{i:04}").into_bytes();
                let v = pattern(i as u64, 10 + i as usize * 40);
                t.insert(&k, &v).unwrap();
                expect.insert(k, v);
                if i % 7 == 6 {
                    let gone = format!("k{:04}", i - 3).into_bytes();
                    assert!(t.remove(&gone).unwrap());
                    expect.remove(&gone);
                }
            }
            wtx.commit().unwrap();
            // Visible to a new reader at once.
            assert_eq!(
                dump(&db.begin_read().unwrap(), "t"),
                expect,
                "after commit {i}"
            );
        }
        db.check().unwrap();
        db.sync().unwrap();
        db.sync().unwrap();
        // More Eventual commits after the sync, then drop without syncing.
        let wtx = db.begin_write().unwrap();
        wtx.open_table("t")
            .unwrap()
            .insert(b"late", b"eventual")
            .unwrap();
        wtx.commit().unwrap();
        expect.insert(b"late".to_vec(), b"eventual".to_vec());
    }
    {
        let db = Database::open(&path).unwrap();
        assert_eq!(dump(&db.begin_read().unwrap(), "t"), expect, "after reopen");
        db.check().unwrap();

        // A per-transaction override on an Immediate database.
        let mut wtx = db.begin_write().unwrap();
        wtx.set_durability(Durability::Eventual);
        wtx.open_table("t")
            .unwrap()
            .insert(b"override", b"e")
            .unwrap();
        wtx.commit().unwrap();
        expect.insert(b"override".to_vec(), b"e".to_vec());
        assert_eq!(dump(&db.begin_read().unwrap(), "t"), expect);
        // And an Immediate one after it.
        let mut wtx = db.begin_write().unwrap();
        wtx.set_durability(Durability::Immediate);
        wtx.open_table("t")
            .unwrap()
            .insert(b"immediate", b"i")
            .unwrap();
        wtx.commit().unwrap();
        expect.insert(b"immediate".to_vec(), b"i".to_vec());
        db.sync().unwrap();
    }
    let db = Database::open(&path).unwrap();
    assert_eq!(
        dump(&db.begin_read().unwrap(), "t"),
        expect,
        "after second reopen"
    );
    db.check().unwrap();
}

// ---- Snapshot isolation -------------------------------------------------------------------------

#[test]
fn snapshot_isolation() {
    let (_dir, path) = tmp();
    let db = Database::open(&path).unwrap();
    put(&db, "t", &[(b"a", b"1")]);

    let before = db.begin_read().unwrap();
    let wtx = db.begin_write().unwrap();
    {
        let mut t = wtx.open_table("t").unwrap();
        t.insert(b"b", b"2").unwrap();
        t.insert(b"a", b"changed").unwrap();
    }
    wtx.open_table("u").unwrap().insert(b"x", b"y").unwrap();
    // A reader begun while the writer is open but before commit.
    let during = db.begin_read().unwrap();
    wtx.commit().unwrap();
    let after = db.begin_read().unwrap();

    for (name, r) in [("before", &before), ("during", &during)] {
        assert_eq!(dump(r, "t"), map(&[(b"a", b"1")]), "{name}");
        assert!(
            matches!(r.open_table("u"), Err(Error::TableNotFound(_))),
            "{name} sees a table created later"
        );
        assert_eq!(r.list_tables().unwrap(), ["t"], "{name}");
    }
    assert_eq!(dump(&after, "t"), map(&[(b"a", b"changed"), (b"b", b"2")]));
    assert_eq!(after.list_tables().unwrap(), ["t", "u"]);

    // Many later commits (which free and reuse pages) do not disturb the old snapshot.
    for i in 0..200u32 {
        let mut wtx = db.begin_write().unwrap();
        {
            let mut t = wtx.open_table("t").unwrap();
            t.insert(format!("k{i:05}").as_bytes(), &pattern(i as u64, 300))
                .unwrap();
            t.insert(b"a", format!("v{i}").as_bytes()).unwrap();
        }
        if i % 50 == 0 {
            wtx.delete_table("u").unwrap();
        }
        wtx.commit().unwrap();
    }
    assert_eq!(dump(&before, "t"), map(&[(b"a", b"1")]));
    assert_eq!(dump(&after, "t"), map(&[(b"a", b"changed"), (b"b", b"2")]));
    assert_eq!(
        after.open_table("u").unwrap().get(b"x").unwrap(),
        Some(&b"y"[..])
    );
    let t = before.open_table("t").unwrap();
    let range: Vec<_> = t
        .range((Bound::Included(&b"a"[..]), Bound::Excluded(&b"z"[..])))
        .unwrap()
        .map(|e| e.unwrap().0.to_vec())
        .collect();
    assert_eq!(range, [b"a".to_vec()]);
    let latest = db.begin_read().unwrap();
    assert_eq!(latest.open_table("t").unwrap().len().unwrap(), 202);
    assert_eq!(
        latest.open_table("t").unwrap().get(b"a").unwrap(),
        Some(&b"v199"[..])
    );
    drop((before, during, after, latest));
    db.check().unwrap();
}

crate::also_cached!(
    locked_second_open_in_same_process,
    locked_while_read_txn_outlives_database,
    read_only_rejects_writes,
    read_only_open_of_missing_file,
    invalid_page_sizes_rejected,
    valid_page_sizes_accepted,
    table_not_found_and_invalid_names,
    open_table_creates_empty_table,
    delete_table_and_list_tables,
    key_length_limits,
    key_length_limit_at_16k_pages,
    large_values_round_trip,
    drop_and_abort_discard_changes,
    begin_write_blocks_while_a_writer_is_open,
    eventual_commits_visible_and_survive_reopen,
    snapshot_isolation,
);
