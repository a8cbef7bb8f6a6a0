//! Error paths of opening a database: the lock (a second writable handle, in this process or
//! in another), read-only handles, invalid options.
//!
//! Every test works in its own temporary directory. The cross-process lock test re-runs this
//! test binary as a child process (see `child_open_helper`).

use larchdb::{Backend, Database, Error};
use std::path::Path;
use std::process::Command;

mod common;

use common::api::{dump, map, put, tmp};

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

crate::also_cached!(
    locked_second_open_in_same_process,
    locked_while_read_txn_outlives_database,
    read_only_rejects_writes,
    read_only_open_of_missing_file,
    invalid_page_sizes_rejected,
    valid_page_sizes_accepted,
);
