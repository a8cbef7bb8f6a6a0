//! Table roots kept out of the catalog tree (docs/FORMAT.md section 13, step 1): a small commit
//! that appends a log record keeps the roots of the tables it changed in its version instead of
//! copying the catalog's leaf, until a checkpoint writes them in. Everything that reads roots
//! (snapshots, the integrity check, backups, deleting a table, reopening) sees the newest ones.

mod common;

use common::api::tmp;
use common::{open_eventual, opens_with, read_state, State};
use larchdb::testing::deferred_roots;
use larchdb::Database;

/// One `Eventual` commit inserting `key` -> `value` into each of `tables`.
fn put_each(db: &Database, tables: &[&str], key: u64, value: &[u8]) {
    let w = db.begin_write().unwrap();
    for name in tables {
        w.open_table(name)
            .unwrap()
            .insert(&key.to_be_bytes(), value)
            .unwrap();
    }
    w.commit().unwrap();
}

/// Commits into tables "a" and "b" (created by the first commit): `rounds` single-insert
/// commits each, with values large enough that the trees grow branches. Returns the state.
fn history(db: &Database, rounds: u64) -> State {
    put_each(db, &["a", "b"], 0, b"first");
    for i in 1..rounds {
        put_each(db, &[["a", "b"][(i % 2) as usize]], i, &[i as u8; 300]);
    }
    read_state(db)
}

/// Closes `db` (a checkpoint), opens the file at `path` again, and checks that it holds what
/// `db` did and passes the integrity check.
fn closes_and_reopens_the_same(db: Database, path: &std::path::Path) {
    let want = read_state(&db);
    drop(db);
    opens_with(path, &want, "reopened");
}

#[test]
fn small_commits_keep_roots_out_of_the_catalog() {
    let (_dir, path) = tmp();
    let db = open_eventual(&path);
    put_each(&db, &["a", "b"], 0, b"first");
    // The first commit created the tables: their catalog entries had to be written.
    assert_eq!(deferred_roots(&db), 0);
    let before = db.begin_read().unwrap();
    let want_before = common::api::dump(&before, "a");
    let want = history(&db, 400);
    assert_eq!(deferred_roots(&db), 2, "both tables' roots kept out");
    assert_eq!(want["a"].len(), 200);
    assert_eq!(want["b"].len(), 201);
    // An older snapshot reads what it saw; the check walks the newest roots (it would find
    // the catalog's older roots freed, and the counts wrong).
    assert_eq!(common::api::dump(&before, "a"), want_before);
    drop(before);
    db.check().unwrap();
    let stats = db.stats().unwrap();
    let a = stats.tables.iter().find(|t| t.name == "a").unwrap();
    assert_eq!(a.entries, 200);
    // A checkpoint writes them in.
    db.checkpoint().unwrap();
    assert_eq!(deferred_roots(&db), 0);
    assert_eq!(read_state(&db), want);
    db.check().unwrap();
    put_each(&db, &["a"], 1_000, b"after");
    assert_eq!(deferred_roots(&db), 1);
    closes_and_reopens_the_same(db, &path);
}

/// A process that stops without closing loses nothing either: the log replays the commits
/// whose roots were kept out since the last checkpoint. Enough commits that the log fills up
/// several times, so that commits turned into checkpoints write the roots kept out before them.
#[test]
fn roots_kept_out_survive_a_crash() {
    let (dir, path) = tmp();
    // No background thread: nothing writes the file while it is copied.
    let db = Database::builder()
        .durability(larchdb::Durability::Eventual)
        .sync_interval(None)
        .open(&path)
        .unwrap();
    let want = history(&db, 3_000);
    assert!(db.metrics().checkpoints >= 2, "{:?}", db.metrics());
    assert!(deferred_roots(&db) > 0);
    db.check().unwrap();
    // Leak the handle as a crashed process would leave its file: no close, no checkpoint.
    std::mem::forget(db);
    let copy = dir.path().join("crashed");
    std::fs::copy(&path, &copy).unwrap();
    opens_with(&copy, &want, "crash copy");
}

/// A commit that changes more tables than a version keeps roots of, or creates one, writes
/// every root into the catalog.
#[test]
fn many_tables_and_new_tables_write_the_catalog() {
    let (_dir, path) = tmp();
    let db = open_eventual(&path);
    let names: Vec<String> = (0..12).map(|i| format!("t{i:02}")).collect();
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    put_each(&db, &all, 0, b"v");
    put_each(&db, &all[..3], 1, b"v");
    assert_eq!(deferred_roots(&db), 3);
    put_each(&db, &all, 2, b"v");
    assert_eq!(
        deferred_roots(&db),
        0,
        "12 roots are more than a version keeps"
    );
    put_each(&db, &all[..2], 3, b"v");
    assert_eq!(deferred_roots(&db), 2);
    put_each(&db, &["t00", "new"], 4, b"v");
    assert_eq!(deferred_roots(&db), 0, "a new table's entry is written");
    let state = read_state(&db);
    assert_eq!(state.len(), 13);
    assert_eq!(state["t00"].len(), 5);
    assert_eq!(state["t05"].len(), 2);
    db.check().unwrap();
}

/// Deleting a table whose root a version keeps out frees the newest tree, not the catalog's
/// older one (the check would find pages leaked or freed twice).
#[test]
fn deleting_a_table_whose_root_is_kept_out() {
    let (_dir, path) = tmp();
    let db = open_eventual(&path);
    history(&db, 300);
    assert_eq!(deferred_roots(&db), 2);
    let mut w = db.begin_write().unwrap();
    assert!(w.delete_table("a").unwrap());
    w.commit().unwrap();
    db.check().unwrap();
    let state = read_state(&db);
    assert!(!state.contains_key("a"));
    assert_eq!(state["b"].len(), 151);
    // Recreated, it starts empty.
    put_each(&db, &["a"], 7, b"again");
    put_each(&db, &["a"], 8, b"again");
    assert_eq!(read_state(&db)["a"].len(), 2);
    db.check().unwrap();
    closes_and_reopens_the_same(db, &path);
}

/// A backup of a version that keeps roots out of its catalog writes them into the copy's
/// catalog, which opens and checks clean, plain and compacted.
#[test]
fn backup_of_roots_kept_out() {
    let (dir, path) = tmp();
    let db = open_eventual(&path);
    let want = history(&db, 400);
    assert_eq!(deferred_roots(&db), 2);
    let rtx = db.begin_read().unwrap();
    // Commits after the snapshot leave it with roots that are no longer the newest.
    put_each(&db, &["a", "b"], 5_000, b"later");
    let plain = dir.path().join("plain");
    rtx.backup_to(&plain).unwrap();
    drop(rtx);
    let compacted = dir.path().join("compacted");
    db.backup(&compacted, true).unwrap();
    let after = read_state(&db);
    for (path, want) in [(&plain, &want), (&compacted, &after)] {
        opens_with(path, want, &path.display().to_string());
    }
}

/// While a read-only handle is attached (it reads the version the lock file publishes, which
/// names the catalog alone), commits write every root into the catalog: the reader sees each
/// commit as soon as it is made. Once it is gone, commits keep roots out again.
#[test]
fn an_attached_reader_gets_complete_catalogs() {
    let (_dir, path) = tmp();
    let db = open_eventual(&path);
    history(&db, 50);
    assert_eq!(deferred_roots(&db), 2);
    let ro = Database::builder().read_only(true).open(&path).unwrap();
    assert_eq!(read_state(&ro), read_state(&db));
    for i in 0..20u64 {
        put_each(&db, &["a"], 10_000 + i, b"seen");
        assert_eq!(deferred_roots(&db), 0, "commit {i}");
        let r = ro.begin_read().unwrap();
        assert_eq!(r.id(), db.begin_read().unwrap().id());
        assert_eq!(
            r.open_table("a")
                .unwrap()
                .get(&(10_000 + i).to_be_bytes())
                .unwrap(),
            Some(&b"seen"[..])
        );
    }
    ro.check().unwrap();
    drop(ro);
    put_each(&db, &["a"], 20_000, b"alone");
    assert_eq!(deferred_roots(&db), 1);
    closes_and_reopens_the_same(db, &path);
}

also_cached!(
    small_commits_keep_roots_out_of_the_catalog,
    roots_kept_out_survive_a_crash,
    many_tables_and_new_tables_write_the_catalog,
    deleting_a_table_whose_root_is_kept_out,
    backup_of_roots_kept_out,
    an_attached_reader_gets_complete_catalogs,
);

/// Listing the tables, or deleting one that does not exist, reads the catalog without writing
/// it: the commit still keeps its roots out. The list shows what the transaction sees.
#[test]
fn listing_tables_and_deleting_a_missing_one_keep_roots_out() {
    let (_dir, path) = tmp();
    let db = open_eventual(&path);
    put_each(&db, &["a", "b"], 0, b"first");
    put_each(&db, &["a"], 1, b"v");
    assert_eq!(deferred_roots(&db), 1);

    let mut w = db.begin_write().unwrap();
    w.open_table("b").unwrap().insert(b"k", b"v").unwrap();
    assert!(!w.delete_table("missing").unwrap());
    assert_eq!(w.list_tables().unwrap(), ["a", "b"]);
    w.commit().unwrap();
    assert_eq!(deferred_roots(&db), 2, "both roots still kept out");

    // A table created here is listed before it reaches the catalog, and gone after an abort.
    let w = db.begin_write().unwrap();
    w.open_table("0-new").unwrap();
    assert_eq!(w.list_tables().unwrap(), ["0-new", "a", "b"]);
    drop(w);
    // A deleted one is gone from the list; one deleted and created again is back.
    let mut w = db.begin_write().unwrap();
    assert!(w.delete_table("a").unwrap());
    assert_eq!(w.list_tables().unwrap(), ["b"]);
    w.open_table("a").unwrap().insert(b"again", b"v").unwrap();
    assert_eq!(w.list_tables().unwrap(), ["a", "b"]);
    w.commit().unwrap();
    let r = db.begin_read().unwrap();
    assert_eq!(r.list_tables().unwrap(), ["a", "b"]);
    assert_eq!(common::api::dump(&r, "a").len(), 1);
    drop(r);
    db.check().unwrap();
    closes_and_reopens_the_same(db, &path);
}
