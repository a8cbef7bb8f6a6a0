//! Transactions at their edges: aborts, the single writer, durability and snapshot isolation.
//!
//! Every test works in its own temporary directory.

use larchdb::{Database, Durability, Error};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::mpsc;
use std::time::Duration;

mod common;

use common::api::{dump, map, pattern, put, tmp};

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
        let db = common::open_eventual(&path);
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
    drop_and_abort_discard_changes,
    begin_write_blocks_while_a_writer_is_open,
    eventual_commits_visible_and_survive_reopen,
    snapshot_isolation,
);
