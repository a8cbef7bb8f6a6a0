//! Error paths of tables and entries: table names (missing, invalid), creating, deleting and
//! listing tables, key and value limits.
//!
//! Every test works in its own temporary directory.

use larchdb::{Database, Error};
use std::collections::BTreeMap;

mod common;

use common::api::{dump, pattern, put, tmp};

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

crate::also_cached!(
    table_not_found_and_invalid_names,
    open_table_creates_empty_table,
    delete_table_and_list_tables,
    key_length_limits,
    key_length_limit_at_16k_pages,
    large_values_round_trip,
);
