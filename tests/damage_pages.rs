//! Using files with damaged tree pages: garbage and bit-flipped pages, misdirected writes, cycles,
//! writes over damage, and rollbacks of a damaged newest commit. (Damaged files as a whole and
//! meta slots are in `tests/damage.rs`.)
//!
//! Every case must end in a clean `Err` (never a panic) or in correct data. The on-disk facts used
//! here (from `docs/FORMAT.md` / `src/page`): meta slots at byte 0 and byte `page_size`, each
//! starting with `b"LARCHDB\0"`, txn id u64 LE at offset 16, page count u64 LE at offset 56, xxh3
//! checksum at offset 64 over bytes 0..64; tree pages have a 32-byte header with the kind at
//! offset 0 (1 leaf, 2 branch, 3 overflow), the writer's txn id at 8 and a checksum at 16.

use larchdb::{Error, Result};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::Duration;

mod common;

use common::damage::*;
use common::Rng;

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
                        let ordered = in_scan_order(p, k, forward);
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
    // A copy of the database named `name` with `mask` flipped in the byte at `at`.
    let flip = |name: String, at: usize, mask: u8, page: Option<u64>, what: String| {
        let path = damaged_copy(dir.path(), &name, &g.pristine, |b| b[at] ^= mask);
        run_case(path, &g, Expect::Flip { page }, what);
    };
    for pgno in pages {
        for off in [0usize, 2, 5, 9, 17, 25, 33, 40, PS / 2, PS - 30, PS - 1] {
            flip(
                format!("flip-{pgno}-{off}"),
                pgno as usize * PS + off,
                0x04,
                Some(pgno),
                format!("byte {off} of page {pgno} flipped"),
            );
        }
    }
    // Overflow runs: a flipped byte in the header, the value's first page, or a later page of the
    // run is caught by the run's checksum.
    for &pgno in &g.overflow[..2] {
        for off in [0usize, 9, 20, 25, 40, 1000, PS + 5, 2 * PS + 100] {
            flip(
                format!("oflip-{pgno}-{off}"),
                pgno as usize * PS + off,
                0x80,
                None,
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
                    let ordered = in_scan_order(p, k, forward);
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
    garbage_tree_pages,
    flipped_byte_in_tree_pages,
    misdirected_write_detected,
    cycle_from_misdirected_write_reported_by_iteration,
    write_does_not_launder_a_damaged_page,
    rollback_of_a_damaged_newest_commit_is_reported,
    delete_table_does_not_trust_a_damaged_page,
);
