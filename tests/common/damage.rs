//! Helpers of the damaged-file tests (`tests/damage.rs`, `tests/damage_pages.rs`): the on-disk
//! facts they use, opening without a commit log, reading meta slots, and databases built in
//! several commits.

use super::Rng;
use larchdb::{Database, Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

pub const PS: usize = 4096;
pub const META_OFF_TXN: usize = 16;
pub const META_OFF_PAGE_COUNT: usize = 56;
pub const PAGE_OFF_KIND: usize = 0;
pub const PAGE_OFF_TXN: usize = 8;
pub const KIND_LEAF: u8 = 1;
pub const KIND_BRANCH: u8 = 2;
pub const KIND_OVERFLOW: u8 = 3;

/// One item of a table iterator.
pub type Entry<'a> = Result<(&'a [u8], &'a [u8])>;

/// Opens `path` without a commit log: every commit is a checkpoint, so the newest commit is the
/// newest meta slot, the case these tests damage. (The log's own damage cases are in
/// `tests/commit_log.rs`.)
pub fn open_db(path: impl AsRef<Path>) -> larchdb::Result<Database> {
    Database::builder().log_capacity(0).open(path)
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

pub fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// The meta slots of a file image: (byte offset, txn id, page count), newest first.
pub fn slots_newest_first(file: &[u8], ps: usize) -> [(usize, u64, u64); 2] {
    let s = |off: usize| {
        assert_eq!(&file[off..off + 8], b"LARCHDB\0", "no magic at {off}");
        (
            off,
            u64_at(file, off + META_OFF_TXN),
            u64_at(file, off + META_OFF_PAGE_COUNT),
        )
    };
    let (a, b) = (s(0), s(ps));
    assert_ne!(a.1, b.1, "both slots hold the same commit");
    if a.1 > b.1 {
        [a, b]
    } else {
        [b, a]
    }
}

/// Unwraps `Ok`, maps `Err(Corrupted)` to None, and fails the test on any other error.
pub fn ok_or_corrupted<T>(what: &str, r: Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(Error::Corrupted { .. }) => None,
        Err(e) => panic!("{what}: expected Ok or Err(Corrupted), got Err({e:?})"),
    }
}

/// The page a `check()` result names; fails the test unless it is `Err(Corrupted)`.
pub fn corrupted_page(what: &str, r: Result<()>) -> u64 {
    match r {
        Err(Error::Corrupted { page, reason }) => {
            eprintln!("    {what}: Corrupted {{ page: {page}, reason: {reason:?} }}");
            page
        }
        other => panic!("{what}: expected Err(Corrupted), got {other:?}"),
    }
}

/// Every entry of `table`, checked for order; None if the table does not exist.
pub fn dump(db: &Database, table: &str) -> Option<Model> {
    let rtx = db.begin_read().unwrap();
    let t = match rtx.open_table(table) {
        Ok(t) => t,
        Err(Error::TableNotFound(_)) => return None,
        Err(e) => panic!("open_table({table}): {e:?}"),
    };
    let mut m = Model::new();
    for e in t.iter().unwrap() {
        let (k, v) = e.unwrap();
        if let Some((last, _)) = m.last_key_value() {
            assert!(last.as_slice() < k, "keys out of order");
        }
        m.insert(k.to_vec(), v.to_vec());
    }
    assert_eq!(m.len() as u64, t.len().unwrap());
    Some(m)
}

pub fn value_for(seed: u64, len: usize) -> Vec<u8> {
    Rng::new(seed).bytes(len)
}

/// Builds a database at `path` in several Immediate commits to table "t"; returns the table's
/// contents after each commit. Every commit stores its index under key "commit".
pub fn build_history(path: &Path, ps: usize, scale: usize) -> Vec<Model> {
    let db = Database::builder()
        .page_size(ps)
        .log_capacity(0)
        .open(path)
        .unwrap();
    let mut model = Model::new();
    let mut states = Vec::new();
    let mut rng = Rng::new(42);
    for c in 0..4usize {
        let wtx = db.begin_write().unwrap();
        {
            let mut t = wtx.open_table("t").unwrap();
            let mut set = |k: Vec<u8>, v: Vec<u8>| {
                t.insert(&k, &v).unwrap();
                model.insert(k, v);
            };
            match c {
                0 => {
                    for i in 0..scale {
                        let len = 10 + (rng.next_u64() % 60) as usize;
                        set(format!("k{i:07}").into_bytes(), value_for(i as u64, len));
                    }
                }
                1 => {
                    for i in scale..scale + scale / 2 {
                        set(format!("k{i:07}").into_bytes(), value_for(i as u64, 30));
                    }
                }
                2 => {
                    for i in (0..scale).step_by(5) {
                        set(format!("k{i:07}").into_bytes(), value_for(!(i as u64), 90));
                    }
                    set(b"big".to_vec(), value_for(7, 100_000));
                }
                _ => {
                    for i in 0..8u64 {
                        set(format!("m{i}").into_bytes(), value_for(i, 5));
                    }
                }
            }
            set(b"commit".to_vec(), c.to_string().into_bytes());
            if c == 3 {
                for i in (0..scale).step_by(7) {
                    let k = format!("k{i:07}").into_bytes();
                    assert!(t.remove(&k).unwrap());
                    model.remove(&k);
                }
            }
        }
        wtx.commit().unwrap();
        states.push(model.clone());
    }
    db.check().unwrap();
    assert_eq!(dump(&db, "t").as_ref(), states.last());
    states
}

/// Which recorded state `db`'s table "t" is in (by its "commit" key, then compared in full).
pub fn state_index(db: &Database, states: &[Model]) -> Option<usize> {
    let m = dump(db, "t")?;
    let c: usize = std::str::from_utf8(&m[&b"commit".to_vec()])
        .unwrap()
        .parse()
        .unwrap();
    assert!(m == states[c], "table contents do not match commit {c}");
    Some(c)
}

/// After a damaged file opened: a new commit works and survives a reopen.
pub fn commit_and_reopen(path: &Path, db: Database, expect: Option<&Model>) {
    let wtx = db.begin_write().unwrap();
    wtx.open_table("t")
        .unwrap()
        .insert(b"after-damage", b"1")
        .unwrap();
    wtx.open_table("extra").unwrap().insert(b"x", b"y").unwrap();
    wtx.commit().unwrap();
    db.check().unwrap();
    let mut expect = expect.cloned().unwrap_or_default();
    expect.insert(b"after-damage".to_vec(), b"1".to_vec());
    assert_eq!(dump(&db, "t"), Some(expect.clone()));
    drop(db);
    let db = open_db(path).unwrap();
    db.check().unwrap();
    assert_eq!(dump(&db, "t"), Some(expect));
    assert_eq!(dump(&db, "extra").unwrap().len(), 1);
}

/// Asserts `path` opens as a new, empty, usable database.
pub fn assert_opens_empty(path: &Path, what: &str) -> usize {
    let db = open_db(path).unwrap_or_else(|e| panic!("{what}: open failed: {e:?}"));
    let ps = db.page_size();
    assert_eq!(
        db.begin_read().unwrap().list_tables().unwrap(),
        Vec::<String>::new(),
        "{what}"
    );
    db.check().unwrap();
    commit_and_reopen(path, db, None);
    ps
}

/// Whether key `k` may follow `prev` in a scan: after it going forward, before it in reverse.
pub fn in_scan_order(prev: &[u8], k: &[u8], forward: bool) -> bool {
    if forward {
        prev < k
    } else {
        prev > k
    }
}
