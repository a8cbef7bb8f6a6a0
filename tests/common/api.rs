//! Helpers of the API tests (`errors_*.rs`): a temporary database path, one-commit inserts,
//! table dumps, deterministic values.

use larchdb::{Database, ReadTxn};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A fresh temporary directory and a database path inside it.
pub fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("test.larch");
    (dir, path)
}

/// Inserts `entries` into `table` in one Immediate commit.
pub fn put(db: &Database, table: &str, entries: &[(&[u8], &[u8])]) {
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
pub fn dump(rtx: &ReadTxn, table: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
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

/// `entries` as a map.
pub fn map(entries: &[(&[u8], &[u8])]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

/// A deterministic value of `len` bytes.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    larchdb::testing::Rng::new(seed).bytes(len)
}
