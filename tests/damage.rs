//! Opening and using damaged files: foreign files, empty and torn-at-creation files, truncation,
//! damaged meta slots, garbage and bit-flipped tree pages, misdirected writes.
//!
//! Every case must end in a clean `Err` (never a panic) or in correct data. The on-disk facts used
//! here (from `docs/FORMAT.md` / `src/page`): meta slots at byte 0 and byte `page_size`, each
//! starting with `b"LARCHDB\0"`, txn id u64 LE at offset 16, page count u64 LE at offset 56, xxh3
//! checksum at offset 64 over bytes 0..64; tree pages have a 32-byte header with the kind at
//! offset 0 (1 leaf, 2 branch, 3 overflow), the writer's txn id at 8 and a checksum at 16.

use larchdb::{Database, Error, Result};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::Duration;

mod common;

use common::Rng;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const PS: usize = 4096;
const META_OFF_TXN: usize = 16;
const META_OFF_PAGE_COUNT: usize = 56;
const PAGE_OFF_KIND: usize = 0;
const PAGE_OFF_TXN: usize = 8;
const KIND_LEAF: u8 = 1;
const KIND_BRANCH: u8 = 2;
const KIND_OVERFLOW: u8 = 3;

/// One item of a table iterator.
type Entry<'a> = Result<(&'a [u8], &'a [u8])>;

/// Opens `path` without a commit log: every commit is a checkpoint, so the newest commit is the
/// newest meta slot, the case these tests damage. (The log's own damage cases are in
/// `tests/commit_log.rs`.)
fn open_db(path: impl AsRef<Path>) -> larchdb::Result<Database> {
    Database::builder().log_capacity(0).open(path)
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// The meta slots of a file image: (byte offset, txn id, page count), newest first.
fn slots_newest_first(file: &[u8], ps: usize) -> [(usize, u64, u64); 2] {
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
fn ok_or_corrupted<T>(what: &str, r: Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(Error::Corrupted { .. }) => None,
        Err(e) => panic!("{what}: expected Ok or Err(Corrupted), got Err({e:?})"),
    }
}

/// The page a `check()` result names; fails the test unless it is `Err(Corrupted)`.
fn corrupted_page(what: &str, r: Result<()>) -> u64 {
    match r {
        Err(Error::Corrupted { page, reason }) => {
            eprintln!("    {what}: Corrupted {{ page: {page}, reason: {reason:?} }}");
            page
        }
        other => panic!("{what}: expected Err(Corrupted), got {other:?}"),
    }
}

/// Every entry of `table`, checked for order; None if the table does not exist.
fn dump(db: &Database, table: &str) -> Option<Model> {
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

fn value_for(seed: u64, len: usize) -> Vec<u8> {
    Rng::new(seed).bytes(len)
}

/// Builds a database at `path` in several Immediate commits to table "t"; returns the table's
/// contents after each commit. Every commit stores its index under key "commit".
fn build_history(path: &Path, ps: usize, scale: usize) -> Vec<Model> {
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
fn state_index(db: &Database, states: &[Model]) -> Option<usize> {
    let m = dump(db, "t")?;
    let c: usize = std::str::from_utf8(&m[&b"commit".to_vec()])
        .unwrap()
        .parse()
        .unwrap();
    assert!(m == states[c], "table contents do not match commit {c}");
    Some(c)
}

/// After a damaged file opened: a new commit works and survives a reopen.
fn commit_and_reopen(path: &Path, db: Database, expect: Option<&Model>) {
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
fn assert_opens_empty(path: &Path, what: &str) -> usize {
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

// ---- Files that are not databases ---------------------------------------------------------------

#[test]
fn not_a_database_left_untouched() {
    let dir = tmp();
    let mut rng = Rng::new(0xDEC0DE);
    let mut text = String::new();
    for i in 0..200 {
        text.push_str(&format!(
            "line {i}: this is a plain text file, not a database\n"
        ));
    }
    let mut short = rng.bytes(100);
    short[0] = b'#';
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random-10000", rng.bytes(10_000)),
        ("text", text.into_bytes()),
        ("random-100", short),
        ("random-1MiB", rng.bytes(1 << 20)),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        for ro in [false, true] {
            let r = Database::builder().read_only(ro).open(&path);
            assert!(
                matches!(r, Err(Error::NotADatabase)),
                "{name} (read_only {ro}): {r:?}"
            );
            let after = std::fs::read(&path).unwrap();
            assert_eq!(after.len(), bytes.len(), "{name}: length changed");
            assert!(after == bytes, "{name}: contents changed");
        }
        // A different requested page size changes nothing either.
        let r = Database::builder().page_size(16384).open(&path);
        assert!(matches!(r, Err(Error::NotADatabase)), "{name}: {r:?}");
        assert!(
            std::fs::read(&path).unwrap() == bytes,
            "{name}: contents changed"
        );
    }
}

// ---- Empty and torn-at-creation files -----------------------------------------------------------

#[test]
fn empty_file_opens_as_new_database() {
    let dir = tmp();
    let path = dir.path().join("empty");
    std::fs::write(&path, b"").unwrap();
    assert_eq!(assert_opens_empty(&path, "0-byte file"), PS);

    // With a requested page size, the new database gets it.
    let path = dir.path().join("empty-16k");
    std::fs::write(&path, b"").unwrap();
    let db = Database::builder().page_size(16384).open(&path).unwrap();
    assert_eq!(db.page_size(), 16384);
    db.check().unwrap();
}

#[test]
fn torn_creation_opens_as_new_database() {
    let dir = tmp();
    let fresh = |ps: usize| -> Vec<u8> {
        let p = dir.path().join(format!("fresh-{ps}"));
        drop(Database::builder().page_size(ps).open(&p).unwrap());
        std::fs::read(&p).unwrap()
    };
    let fresh4 = fresh(4096);
    let fresh16 = fresh(16384);
    assert!(
        fresh4.len() >= 8192,
        "fresh 4 KiB database is {} bytes",
        fresh4.len()
    );

    let mut cases: Vec<(String, Vec<u8>, usize)> = vec![
        ("first 4096 bytes".into(), fresh4[..4096].to_vec(), 4096),
        ("8192 zero bytes".into(), vec![0u8; 8192], 4096),
        ("4096 zero bytes".into(), vec![0u8; 4096], 4096),
        (
            "first 4096 bytes of a 16 KiB-page database".into(),
            fresh16[..4096].to_vec(),
            16384,
        ),
        (
            "first 20000 bytes of a 16 KiB-page database".into(),
            fresh16[..20000].to_vec(),
            16384,
        ),
    ];
    for n in [1usize, 8, 50, 72, 100, 4096 + 40, 8191] {
        cases.push((format!("first {n} bytes"), fresh4[..n].to_vec(), 4096));
    }
    // Slot 1 written but slot 0 still zero.
    let mut only_slot1 = fresh4[..8192].to_vec();
    only_slot1[..4096].fill(0);
    cases.push(("slot 0 still zero".into(), only_slot1, 4096));

    for (i, (what, bytes, ps)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("torn-{i}"));
        std::fs::write(&path, &bytes).unwrap();
        let got = assert_opens_empty(&path, &what);
        assert_eq!(got, ps, "{what}: page size of the recreated database");
    }
}

// ---- Truncation ---------------------------------------------------------------------------------

#[test]
fn truncated_file() {
    let dir = tmp();
    let src = dir.path().join("src");
    let states = build_history(&src, PS, 12_000);
    let pristine = std::fs::read(&src).unwrap();
    let [newest, older] = slots_newest_first(&pristine, PS);
    let logical = newest.2 as usize * PS;
    let older_end = older.2 as usize * PS;
    eprintln!(
        "file {} bytes, newest commit ends at {logical}, older at {older_end}",
        pristine.len()
    );

    let lens = [
        pristine.len() / 2,
        logical / 2,
        logical - 1,
        logical - PS,
        older_end,
        older_end - 1,
        3 * PS,
        8192 + 100,
        8192,
        5000,
    ];
    for len in lens {
        let path = dir.path().join(format!("trunc-{len}"));
        std::fs::write(&path, &pristine[..len]).unwrap();
        eprintln!("truncated to {len}");
        let r = open_db(&path);
        let Some(db) = ok_or_corrupted(&format!("open truncated to {len}"), r) else {
            continue;
        };
        // It opened: it must be a consistent committed state.
        db.check()
            .unwrap_or_else(|e| panic!("truncated to {len}: opened but check() failed: {e:?}"));
        let idx = state_index(&db, &states);
        eprintln!("  opened at commit {idx:?}");
        if len >= logical {
            assert_eq!(
                idx,
                Some(states.len() - 1),
                "nothing of the newest commit was cut"
            );
        } else {
            assert!(
                idx.is_some_and(|i| i + 2 >= states.len()),
                "truncated to {len}: opened at {idx:?}, not one of the last two commits"
            );
        }
        let expect = idx.map(|i| states[i].clone());
        commit_and_reopen(&path, db, expect.as_ref());
    }
}

// ---- Meta slots ---------------------------------------------------------------------------------

#[test]
fn zeroed_meta_slot() {
    let dir = tmp();
    for ps in [4096usize, 16384] {
        let src = dir.path().join(format!("src-{ps}"));
        let states = build_history(&src, ps, 3000);
        let pristine = std::fs::read(&src).unwrap();
        let [newest, _older] = slots_newest_first(&pristine, ps);
        for slot in [0usize, 1] {
            let mut bytes = pristine.clone();
            bytes[slot * ps..(slot + 1) * ps].fill(0);
            let path = dir.path().join(format!("zeroed-{ps}-{slot}"));
            std::fs::write(&path, &bytes).unwrap();
            let db = open_db(&path)
                .unwrap_or_else(|e| panic!("page size {ps}, slot {slot} zeroed: {e:?}"));
            assert_eq!(db.page_size(), ps);
            db.check().unwrap();
            let want = if newest.0 == slot * ps {
                states.len() - 2
            } else {
                states.len() - 1
            };
            assert_eq!(
                state_index(&db, &states),
                Some(want),
                "page size {ps}, slot {slot} zeroed: opened at the wrong commit"
            );
            commit_and_reopen(&path, db, Some(&states[want]));
        }
    }
}

#[test]
fn torn_newest_meta_opens_older_commit() {
    let dir = tmp();
    let src = dir.path().join("src");
    let states = build_history(&src, PS, 3000);
    let pristine = std::fs::read(&src).unwrap();
    let [newest, older] = slots_newest_first(&pristine, PS);
    let want = states.len() - 2;
    for off in [
        0usize, 3, 7, 8, 12, 16, 17, 23, 24, 32, 40, 48, 56, 60, 63, 64, 71,
    ] {
        for xor in [0x01u8, 0xFF] {
            let mut bytes = pristine.clone();
            bytes[newest.0 + off] ^= xor;
            let path = dir.path().join(format!("torn-{off}-{xor}"));
            std::fs::write(&path, &bytes).unwrap();
            let db = open_db(&path).unwrap_or_else(|e| {
                panic!("newest meta (at byte {}) damaged at {off}: {e:?}", newest.0)
            });
            db.check().unwrap();
            assert_eq!(
                state_index(&db, &states),
                Some(want),
                "damaged newest meta at offset {off}: not at the older commit"
            );
            commit_and_reopen(&path, db, Some(&states[want]));
        }
    }
    // Damage to the older slot alone changes nothing.
    let mut bytes = pristine.clone();
    bytes[older.0 + 20] ^= 0x10;
    let path = dir.path().join("older-damaged");
    std::fs::write(&path, &bytes).unwrap();
    let db = open_db(&path).unwrap();
    db.check().unwrap();
    assert_eq!(state_index(&db, &states), Some(states.len() - 1));
    commit_and_reopen(&path, db, states.last());
}

#[test]
fn both_metas_damaged() {
    let dir = tmp();
    let src = dir.path().join("src");
    build_history(&src, PS, 2000);
    let pristine = std::fs::read(&src).unwrap();
    // (offset in slot 0, offset in slot 1): checksummed fields, the checksum, one magic byte.
    for (a, b) in [
        (20usize, 20usize),
        (16, 30),
        (64, 70),
        (0, 40),
        (45, 5),
        (12, 12),
    ] {
        let mut bytes = pristine.clone();
        bytes[a] ^= 0x40;
        bytes[PS + b] ^= 0x40;
        let path = dir.path().join(format!("both-{a}-{b}"));
        std::fs::write(&path, &bytes).unwrap();
        for ro in [true, false] {
            let r = Database::builder().read_only(ro).open(&path);
            assert!(
                matches!(r, Err(Error::Corrupted { .. })),
                "both metas damaged at {a}/{b} (read_only {ro}): {r:?}"
            );
            let after = std::fs::read(&path).unwrap();
            assert_eq!(after.len(), bytes.len(), "{a}/{b}: length changed");
            assert!(after == bytes, "{a}/{b}: file changed");
        }
    }
}

// ---- Damaged tree pages -------------------------------------------------------------------------

/// A database of ~20,000 keys in table "main" (one commit), then two small commits to "side", so
/// that the meta slots hold the two small commits and recovery does not re-verify "main".
struct Garbage {
    pristine: Vec<u8>,
    main: Model,
    side: Model,
    /// Leaf, branch and overflow pages of "main" (by page number).
    leaves: Vec<u64>,
    branches: Vec<u64>,
    overflow: Vec<u64>,
}

fn build_garbage(dir: &Path) -> Garbage {
    let path = dir.join("src");
    let db = open_db(&path).unwrap();
    let mut main = Model::new();
    let mut side = Model::new();
    let wtx = db.begin_write().unwrap();
    {
        let mut t = wtx.open_table("main").unwrap();
        let mut rng = Rng::new(9);
        for i in 0..20_000u64 {
            let k = format!("key{i:08}").into_bytes();
            let v = value_for(i, 8 + (rng.next_u64() % 40) as usize);
            t.insert(&k, &v).unwrap();
            main.insert(k, v);
        }
        for i in 0..4u64 {
            let k = format!("key-big{i}").into_bytes();
            let v = value_for(1000 + i, 9000 + 7000 * i as usize);
            t.insert(&k, &v).unwrap();
            main.insert(k, v);
        }
    }
    wtx.commit().unwrap();
    for c in 0..2u8 {
        let wtx = db.begin_write().unwrap();
        {
            let mut t = wtx.open_table("side").unwrap();
            for i in 0..10u8 {
                t.insert(&[c, i], &[c; 20]).unwrap();
                side.insert(vec![c, i], vec![c; 20]);
            }
        }
        wtx.commit().unwrap();
    }
    let stats = db.stats().unwrap();
    eprintln!(
        "built: {} pages, {} free, {} leaf, {} branch, {} overflow",
        stats.page_count,
        stats.free_pages,
        stats.leaf_pages,
        stats.branch_pages,
        stats.overflow_pages
    );
    drop(db);
    let pristine = std::fs::read(&path).unwrap();
    let [newest, older] = slots_newest_first(&pristine, PS);
    let (mut leaves, mut branches, mut overflow) = (Vec::new(), Vec::new(), Vec::new());
    for pgno in 2..newest.2 {
        let page = &pristine[pgno as usize * PS..(pgno as usize + 1) * PS];
        // Written by the big commit (older than both meta slots' commits), so not re-verified at
        // open, and part of table "main" (which the later commits did not touch).
        if u64_at(page, PAGE_OFF_TXN) >= older.1 {
            continue;
        }
        let is_main = page.windows(3).any(|w| w == b"key");
        match page[PAGE_OFF_KIND] {
            KIND_LEAF if is_main => leaves.push(pgno),
            KIND_BRANCH if is_main => branches.push(pgno),
            KIND_OVERFLOW => overflow.push(pgno),
            _ => {}
        }
    }
    eprintln!(
        "candidates: {} leaves, {} branches, {} overflow runs",
        leaves.len(),
        branches.len(),
        overflow.len()
    );
    assert!(
        leaves.len() > 100,
        "expected hundreds of leaves of table main"
    );
    assert!(!branches.is_empty(), "expected branch pages");
    assert_eq!(overflow.len(), 4, "expected four overflow runs");
    Garbage {
        pristine,
        main,
        side,
        leaves,
        branches,
        overflow,
    }
}

/// How strictly reads of a damaged database are judged.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// Garbage that cannot parse: a read returns the right data or Err(Corrupted), never wrong
    /// data; check() names `page`; the damage stays detected after writes and a reopen.
    Garbage { page: u64 },
    /// A flipped byte: reads verify checksums before trusting a page, so, as for garbage, a
    /// read returns the right data or Err(Corrupted); check() names `page` (if given).
    Flip { page: Option<u64> },
    /// A misdirected write (a valid page in the wrong place): check() reports Corrupted. Reads
    /// catch the cases below by fences and leaf depths (not every such case: docs/FORMAT.md,
    /// section 8).
    Misdirected,
}

/// Runs every operation on the damaged file at `path`: each returns Ok or Err(Corrupted).
fn gauntlet(path: &Path, g: &Garbage, expect: Expect, what: &str) {
    eprintln!("case: {what}");
    // Reads verify checksums, fences, root counts and leaf depths before trusting a page: every
    // kind of damage here gets the right data or Err(Corrupted).
    let strict = true;
    let Some(db) = ok_or_corrupted(&format!("{what}: open"), open_db(path)) else {
        eprintln!("    open: Corrupted");
        return;
    };
    {
        let rtx = db.begin_read().unwrap();
        assert_eq!(rtx.list_tables().unwrap(), ["main", "side"]);
        let Some(t) = ok_or_corrupted(&format!("{what}: open_table"), rtx.open_table("main"))
        else {
            return;
        };
        assert_eq!(t.len().unwrap(), g.main.len() as u64);

        // get of every key.
        let (mut good, mut bad, mut wrong) = (0usize, 0usize, 0usize);
        for (k, v) in &g.main {
            match ok_or_corrupted(&format!("{what}: get"), t.get(k)) {
                Some(Some(got)) if got == v.as_slice() => good += 1,
                Some(other) => {
                    assert!(
                        !strict,
                        "{what}: get({:?}) returned wrong data {:?}",
                        String::from_utf8_lossy(k),
                        other.map(|o| o.len())
                    );
                    wrong += 1;
                }
                None => bad += 1,
            }
        }
        for k in [&b"a"[..], b"key", b"key00000000x", b"zzz"] {
            let r = ok_or_corrupted(&format!("{what}: get absent"), t.get(k));
            if strict {
                assert!(matches!(r, None | Some(None)), "{what}: absent key found");
            }
        }
        eprintln!("    get: {good} right, {bad} Corrupted, {wrong} wrong");

        // Full iteration both ways, and a range through the middle.
        let check_iter =
            |name: &str, it: &mut dyn Iterator<Item = Result<(&[u8], &[u8])>>, forward: bool| {
                let mut prev: Option<Vec<u8>> = None;
                let mut n = 0usize;
                let mut out_of_order = 0usize;
                let mut distinct = std::collections::BTreeSet::new();
                for item in it {
                    let Some((k, v)) = ok_or_corrupted(&format!("{what}: {name}"), item) else {
                        break;
                    };
                    if let Some(p) = &prev {
                        let ordered = if forward {
                            p.as_slice() < k
                        } else {
                            p.as_slice() > k
                        };
                        if strict {
                            assert!(ordered, "{what}: {name} out of order");
                        }
                        out_of_order += usize::from(!ordered);
                    }
                    if strict {
                        assert_eq!(
                            g.main.get(k).map(|x| x.as_slice()),
                            Some(v),
                            "{what}: {name}"
                        );
                    }
                    distinct.insert(k.to_vec());
                    prev = Some(k.to_vec());
                    n += 1;
                    // Wrong data is allowed for some kinds of damage, but not without end.
                    if n > 64 * g.main.len() + 1000 {
                        panic!(
                            "{what}: {name} does not end: {n} entries yielded so far \
                             ({} distinct keys, {out_of_order} steps out of order), \
                             no Err(Corrupted)",
                            distinct.len()
                        );
                    }
                }
                if out_of_order > 0 {
                    eprintln!("    {name}: {out_of_order} steps out of order");
                }
                n
            };
        if let Some(mut it) = ok_or_corrupted(&format!("{what}: iter"), t.iter()) {
            let n = check_iter("forward iteration", &mut it, true);
            eprintln!("    forward: {n} entries");
        }
        if let Some(it) = ok_or_corrupted(&format!("{what}: iter"), t.iter()) {
            let n = check_iter("backward iteration", &mut it.rev(), false);
            eprintln!("    backward: {n} entries");
        }
        let range = t.range((
            Bound::Included(&b"key00005000"[..]),
            Bound::Excluded(&b"key00015000"[..]),
        ));
        if let Some(mut it) = ok_or_corrupted(&format!("{what}: range"), range) {
            check_iter("range", &mut it, true);
        }
        let _ = ok_or_corrupted(&format!("{what}: first"), t.first());
        let _ = ok_or_corrupted(&format!("{what}: last"), t.last());
        // The undamaged table reads fine.
        let side = rtx.open_table("side").unwrap();
        for (k, v) in &g.side {
            assert_eq!(side.get(k).unwrap(), Some(v.as_slice()));
        }
    }

    // check() and stats() find the damage.
    let page = corrupted_page(&format!("{what}: check"), db.check());
    match expect {
        Expect::Garbage { page: p } | Expect::Flip { page: Some(p) } => {
            assert_eq!(page, p, "{what}: check() names the wrong page")
        }
        _ => {}
    }
    assert!(
        matches!(db.stats(), Err(Error::Corrupted { .. })),
        "{what}: stats()"
    );

    // A write transaction inserting and removing keys.
    let wtx = db.begin_write().unwrap();
    let mut all_ok = true;
    if let Some(mut t) = ok_or_corrupted(&format!("{what}: wtx open_table"), wtx.open_table("main"))
    {
        for i in 0..300u64 {
            let k = format!("key{:08}", i * 67 % 20_000).into_bytes();
            let r = if i % 2 == 0 {
                t.remove(&k).map(|_| ())
            } else {
                t.insert(&k, b"rewritten")
            };
            all_ok &= ok_or_corrupted(&format!("{what}: write op {i}"), r).is_some();
            let r = t.insert(format!("new{i:05}").as_bytes(), &[i as u8; 30]);
            all_ok &= ok_or_corrupted(&format!("{what}: insert new {i}"), r).is_some();
        }
        let _ = ok_or_corrupted(&format!("{what}: wtx get"), t.get(b"key00000001"));
    }
    let committed = ok_or_corrupted(&format!("{what}: commit"), wtx.commit()).is_some();
    eprintln!("    write ops all ok: {all_ok}, committed: {committed}");
    if strict {
        corrupted_page(&format!("{what}: check after the write"), db.check());
    } else {
        // A committed write may have copied the damaged page (and so re-sealed it).
        let r = ok_or_corrupted(&format!("{what}: check after the write"), db.check());
        eprintln!(
            "    check after the write: {}",
            if r.is_some() { "Ok" } else { "Corrupted" }
        );
    }
    // Reads still behave.
    let rtx = db.begin_read().unwrap();
    if let Some(t) = ok_or_corrupted(&format!("{what}: reopen table"), rtx.open_table("main")) {
        for k in g.main.keys().step_by(97) {
            let _ = ok_or_corrupted(&format!("{what}: get after write"), t.get(k));
        }
    }
    drop(rtx);
    drop(db);

    // And after a reopen.
    if let Some(db) = ok_or_corrupted(&format!("{what}: reopen"), open_db(path)) {
        let r = db.check();
        if strict {
            corrupted_page(&format!("{what}: check after reopen"), r);
        } else {
            let _ = ok_or_corrupted(&format!("{what}: check after reopen"), r);
        }
        let rtx = db.begin_read().unwrap();
        if let Some(t) = ok_or_corrupted(
            &format!("{what}: table after reopen"),
            rtx.open_table("main"),
        ) {
            if let Some(it) = ok_or_corrupted(&format!("{what}: iter after reopen"), t.iter()) {
                for item in it {
                    if ok_or_corrupted(&format!("{what}: iterate after reopen"), item).is_none() {
                        break;
                    }
                }
            }
        }
    }
}

/// Runs [`gauntlet`] on another thread and fails if it does not finish in time (an endless loop
/// on a damaged file is a failure too, and must not hang the test run).
fn run_case(path: PathBuf, g: &Arc<Garbage>, expect: Expect, what: String) {
    let (tx, rx) = mpsc::channel();
    let (g2, w2, p2) = (g.clone(), what.clone(), path.clone());
    let h = std::thread::spawn(move || {
        gauntlet(&p2, &g2, expect, &w2);
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(()) => h.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = h.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not finish within 120 s (an endless loop?)")
        }
    }
    std::fs::remove_file(&path).unwrap();
}

/// Writes `bytes` with `edit` applied to a new file in `dir`.
fn damaged_copy(dir: &Path, name: &str, bytes: &[u8], edit: impl FnOnce(&mut [u8])) -> PathBuf {
    let mut b = bytes.to_vec();
    edit(&mut b);
    let path = dir.join(name);
    std::fs::write(&path, &b).unwrap();
    path
}

fn pick(v: &[u64]) -> Vec<u64> {
    let mut out = vec![v[0], v[v.len() / 3], v[v.len() / 2], v[v.len() - 1]];
    out.dedup();
    out
}

#[test]
fn garbage_tree_pages() {
    let dir = tmp();
    let g = Arc::new(build_garbage(dir.path()));
    let mut rng = Rng::new(0xBAD);
    let mut targets = pick(&g.leaves);
    targets.extend(&g.branches);
    for pgno in targets {
        let garbage = rng.bytes(PS);
        let path = damaged_copy(dir.path(), &format!("garbage-{pgno}"), &g.pristine, |b| {
            b[pgno as usize * PS..(pgno as usize + 1) * PS].copy_from_slice(&garbage)
        });
        run_case(
            path,
            &g,
            Expect::Garbage { page: pgno },
            format!("garbage over page {pgno}"),
        );
    }
    // Zeroed pages and pages of a plausible kind with garbage behind the header.
    for pgno in pick(&g.leaves) {
        let path = damaged_copy(dir.path(), &format!("zero-{pgno}"), &g.pristine, |b| {
            b[pgno as usize * PS..(pgno as usize + 1) * PS].fill(0)
        });
        run_case(
            path,
            &g,
            Expect::Garbage { page: pgno },
            format!("zeroed page {pgno}"),
        );
        let mut tail = rng.bytes(PS);
        let path = damaged_copy(dir.path(), &format!("tail-{pgno}"), &g.pristine, |b| {
            let page = &mut b[pgno as usize * PS..(pgno as usize + 1) * PS];
            tail[..16].copy_from_slice(&page[..16]);
            page.copy_from_slice(&tail);
        });
        run_case(
            path,
            &g,
            Expect::Flip { page: Some(pgno) },
            format!("valid header, garbage body on page {pgno}"),
        );
    }
}

#[test]
fn flipped_byte_in_tree_pages() {
    let dir = tmp();
    let g = Arc::new(build_garbage(dir.path()));
    let mut pages: Vec<u64> = pick(&g.leaves);
    pages.push(g.branches[0]);
    pages.push(*g.branches.last().unwrap());
    pages.dedup();
    for pgno in pages {
        for off in [0usize, 2, 5, 9, 17, 25, 33, 40, PS / 2, PS - 30, PS - 1] {
            let path = damaged_copy(
                dir.path(),
                &format!("flip-{pgno}-{off}"),
                &g.pristine,
                |b| b[pgno as usize * PS + off] ^= 0x04,
            );
            run_case(
                path,
                &g,
                Expect::Flip { page: Some(pgno) },
                format!("byte {off} of page {pgno} flipped"),
            );
        }
    }
    // Overflow runs: a flipped byte in the header, the value's first page, or a later page of the
    // run is caught by the run's checksum.
    for &pgno in &g.overflow[..2] {
        for off in [0usize, 9, 20, 25, 40, 1000, PS + 5, 2 * PS + 100] {
            let path = damaged_copy(
                dir.path(),
                &format!("oflip-{pgno}-{off}"),
                &g.pristine,
                |b| b[pgno as usize * PS + off] ^= 0x80,
            );
            run_case(
                path,
                &g,
                Expect::Flip { page: None },
                format!("byte {off} of overflow run at {pgno} flipped"),
            );
        }
    }
}

#[test]
fn misdirected_write_detected() {
    let dir = tmp();
    let g = Arc::new(build_garbage(dir.path()));
    let l = &g.leaves;
    let mut pairs = vec![
        (l[10], l[11]),
        (l[11], l[10]),
        (l[0], l[l.len() - 1]),
        (l[l.len() / 2], l[3]),
    ];
    if g.branches.len() >= 2 {
        pairs.push((g.branches[0], g.branches[1]));
        pairs.push((g.branches[1], g.branches[0]));
    }
    // A leaf over a branch and a branch over a leaf.
    pairs.push((g.branches[0], l[5]));
    pairs.push((l[5], g.branches[0]));
    for (dst, src) in pairs {
        let path = damaged_copy(dir.path(), &format!("mis-{dst}-{src}"), &g.pristine, |b| {
            let s = b[src as usize * PS..(src as usize + 1) * PS].to_vec();
            b[dst as usize * PS..(dst as usize + 1) * PS].copy_from_slice(&s);
        });
        run_case(
            path,
            &g,
            Expect::Misdirected,
            format!("page {dst} overwritten with a copy of page {src}"),
        );
    }
}

/// The children of branch page `page` (page numbers), from its slots (6 bytes each: u16 cell
/// offset, u32 key hint) and cells (docs/FORMAT.md).
fn branch_children(page: &[u8]) -> Vec<u64> {
    const SLOT_LEN: usize = 6;
    let count = u16::from_le_bytes([page[2], page[3]]) as usize;
    (0..count)
        .map(|i| {
            let at = 32 + SLOT_LEN * i;
            let off = u16::from_le_bytes([page[at], page[at + 1]]) as usize;
            u64_at(page, off)
        })
        .collect()
}

/// A misdirected write that makes a cycle: a leaf is overwritten with a copy of its own parent
/// (same txn id, valid checksum), so the parent's child pointer leads back to the parent's copy.
/// `check()` must report it, every `get` must end, and iteration must not return entries twice
/// or out of order: it must stop with `Err(Corrupted)` once it meets the cycle.
#[test]
fn cycle_from_misdirected_write_reported_by_iteration() {
    let dir = tmp();
    let g = build_garbage(dir.path());
    let page = |p: u64| &g.pristine[p as usize * PS..(p as usize + 1) * PS];
    // A branch whose children are leaves, and one of those leaves.
    let (parent, children) = g
        .branches
        .iter()
        .map(|&b| (b, branch_children(page(b))))
        .find(|(_, c)| c.iter().all(|x| g.leaves.contains(x)))
        .expect("a branch with leaf children");
    let mut failures = Vec::new();
    for leaf in [
        children[0],
        children[children.len() / 2],
        children[children.len() - 1],
    ] {
        let what = format!("leaf {leaf} overwritten with a copy of its parent {parent}");
        eprintln!("case: {what}");
        let path = damaged_copy(dir.path(), &format!("cycle-{leaf}"), &g.pristine, |b| {
            let s = b[parent as usize * PS..(parent as usize + 1) * PS].to_vec();
            b[leaf as usize * PS..(leaf as usize + 1) * PS].copy_from_slice(&s);
        });
        let db = open_db(&path).unwrap();
        corrupted_page(&format!("{what}: check"), db.check());
        let rtx = db.begin_read().unwrap();
        let t = rtx.open_table("main").unwrap();
        for k in g.main.keys() {
            let _ = ok_or_corrupted(&format!("{what}: get"), t.get(k));
        }
        for forward in [true, false] {
            let name = if forward { "forward" } else { "backward" };
            let it = t.iter().unwrap();
            let it: Box<dyn Iterator<Item = Entry<'_>>> = if forward {
                Box::new(it)
            } else {
                Box::new(it.rev())
            };
            let mut prev: Option<Vec<u8>> = None;
            let (mut n, mut ended_with) = (0usize, "the end of the table".to_string());
            for item in it {
                let Some((k, _)) = ok_or_corrupted(&format!("{what}: {name}"), item) else {
                    ended_with = "Err(Corrupted)".into();
                    break;
                };
                if let Some(p) = &prev {
                    let ordered = if forward {
                        p.as_slice() < k
                    } else {
                        p.as_slice() > k
                    };
                    if !ordered {
                        ended_with = format!(
                            "a step from key {:?} back to {:?} (the cycle was walked again \
                             instead of reported as Corrupted)",
                            String::from_utf8_lossy(p),
                            String::from_utf8_lossy(k)
                        );
                        failures.push(format!(
                            "{what}: {name} iteration: {n} entries, then {ended_with}"
                        ));
                        break;
                    }
                }
                prev = Some(k.to_vec());
                n += 1;
            }
            eprintln!("    {name}: {n} entries, then {ended_with}");
        }
    }
    assert!(
        failures.is_empty(),
        "iteration over a cycle:\n{}",
        failures.join("\n")
    );
}

/// Builds a database whose table `table` holds `n` keys (`key(i)`) from a first commit, then a
/// second commit to another table (so recovery does not fall back past the first one), and flips
/// one byte in the last leaf of the file. Returns the damaged page.
fn damaged_leaf_after_two_commits(
    path: &Path,
    table: &str,
    n: u32,
    key: impl Fn(u32) -> Vec<u8>,
) -> usize {
    {
        let db = open_db(path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table(table).unwrap();
            for i in 0..n {
                t.insert(&key(i), &[1u8; 40]).unwrap();
            }
        }
        w.commit().unwrap();
        let w = db.begin_write().unwrap();
        w.open_table("other").unwrap().insert(b"x", b"y").unwrap();
        w.commit().unwrap();
    }
    let mut bytes = std::fs::read(path).unwrap();
    let pages = bytes.len() / PS;
    let victim = (2..pages)
        .rev()
        .find(|&p| bytes[p * PS] == 1 && bytes[p * PS + 2] > 10)
        .expect("a leaf page");
    bytes[victim * PS + PS - 3] ^= 0x55;
    std::fs::write(path, &bytes).unwrap();
    victim
}

/// A write transaction that touches a damaged page must not reseal it: copying a page into a
/// transaction verifies its checksum first, so the damage stays visible instead of becoming
/// permanent, checksummed, wrong data.
#[test]
fn write_does_not_launder_a_damaged_page() {
    let dir = tmp();
    let path = dir.path().join("launder.larch");
    let key = |i: u32| format!("key{i:06}").into_bytes();
    let victim = damaged_leaf_after_two_commits(&path, "t", 5000, key);
    let db = open_db(&path).unwrap();
    assert!(matches!(db.check(), Err(Error::Corrupted { .. })));
    // Read the victim's keys to find one on it, then overwrite every key: some write must hit it.
    let w = db.begin_write().unwrap();
    let mut hit = false;
    {
        let mut t = w.open_table("t").unwrap();
        for i in 0..5000u32 {
            match t.insert(format!("key{i:06}").as_bytes(), &[2u8; 40]) {
                Ok(()) => {}
                Err(Error::Corrupted { page, .. }) => {
                    assert_eq!(page as usize, victim);
                    hit = true;
                    break;
                }
                Err(e) => panic!("unexpected error {e}"),
            }
        }
    }
    assert!(hit, "no write reached the damaged page");
    // The transaction is stopped: commit refuses, and the file still shows the damage.
    assert!(matches!(w.commit(), Err(Error::Corrupted { .. })));
    assert!(matches!(db.check(), Err(Error::Corrupted { .. })));
}

/// Damage in a page of the newest commit: the open rolls back to the previous commit (as after a
/// crash during that commit), and `Database::recovery` says so, naming the discarded commit and
/// the page. A clean open reports nothing.
#[test]
fn rollback_of_a_damaged_newest_commit_is_reported() {
    let dir = tmp();
    let path = dir.path().join("rollback.larch");
    let newest = {
        let db = open_db(&path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            for i in 0..3000u32 {
                t.insert(&i.to_be_bytes(), &[3u8; 60]).unwrap();
            }
        }
        w.commit().unwrap();
        db.begin_read().unwrap().id()
    };
    assert!(open_db(&path).unwrap().recovery().is_none());
    let mut bytes = std::fs::read(&path).unwrap();
    let pages = bytes.len() / PS;
    let victim = (2..pages).find(|&p| bytes[p * PS] == 1).expect("a leaf");
    bytes[victim * PS + PS - 10] ^= 0xFF;
    std::fs::write(&path, &bytes).unwrap();

    let db = open_db(&path).unwrap();
    let rec = db.recovery().expect("a rollback must be reported").clone();
    assert_eq!(rec.discarded_txn, Some(newest));
    assert_eq!(rec.opened_txn, db.begin_read().unwrap().id());
    assert!(
        rec.reason.contains(&format!("page {victim}")),
        "{}",
        rec.reason
    );
    db.check().unwrap(); // the commit it opened at is intact
}

/// Deleting a table frees every page its tree names, so a damaged page of it must be detected
/// first (its checksum), not trusted: otherwise pages still in use could be freed and reused.
#[test]
fn delete_table_does_not_trust_a_damaged_page() {
    let dir = tmp();
    let path = dir.path().join("delete.larch");
    damaged_leaf_after_two_commits(&path, "doomed", 4000, |i| i.to_be_bytes().to_vec());
    let db = open_db(&path).unwrap();
    let mut w = db.begin_write().unwrap();
    assert!(matches!(
        w.delete_table("doomed"),
        Err(Error::Corrupted { .. })
    ));
    assert!(matches!(w.commit(), Err(Error::Corrupted { .. })));
    assert!(matches!(db.check(), Err(Error::Corrupted { .. })));
}

crate::also_cached!(
    not_a_database_left_untouched,
    empty_file_opens_as_new_database,
    torn_creation_opens_as_new_database,
    truncated_file,
    zeroed_meta_slot,
    torn_newest_meta_opens_older_commit,
    both_metas_damaged,
    garbage_tree_pages,
    flipped_byte_in_tree_pages,
    misdirected_write_detected,
    cycle_from_misdirected_write_reported_by_iteration,
    write_does_not_launder_a_damaged_page,
    rollback_of_a_damaged_newest_commit_is_reported,
    delete_table_does_not_trust_a_damaged_page,
);
