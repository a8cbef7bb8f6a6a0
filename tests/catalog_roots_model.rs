//! A model test of table roots kept out of the catalog tree (docs/FORMAT.md section 13, step 1):
//! random write transactions over 12 tables (insert, remove, `clear`, deleting and re-creating
//! tables, listing them, savepoints and rollbacks, aborts), each checked against a model, with
//! in between checkpoints, older snapshots and their backups, `check` and `stats`, compaction,
//! crash copies and reopens. Also threads committing at once, and a catalog of several leaves
//! whose kept-out entries lie on different ones.

mod common;

use common::{opens_with, read_state, snapshot_state, State};
use larchdb::testing::{deferred_roots, Rng};
use larchdb::{Database, Durability};
use std::path::Path;

/// The tables the random steps pick from (the first four most often).
fn names() -> Vec<String> {
    (0..12).map(|i| format!("t{i:02}")).collect()
}

/// Opens `path` with commits of `dur` and no background thread (a copy of the file is then a
/// crash); with `small`, an 8 KiB log and a 64 KiB write window, so that many commits become
/// checkpoints in step 3 and windows are handed off.
fn open(path: &Path, dur: Durability, small: bool) -> Database {
    let mut b = Database::builder();
    if small {
        b.log_capacity(8 << 10).window_bytes(64 << 10);
    }
    b.durability(dur).sync_interval(None).open(path).unwrap()
}

/// `steps` random steps from `seed` (see the module docs), with commits of `dur`, and with a
/// small log and write window if `small`.
fn run(seed: u64, steps: usize, dur: Durability, small: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut db = open(&path, dur, small);
    let mut rng = Rng::new(seed);
    let mut model = State::new();
    let names = names();
    let mut snaps: Vec<(larchdb::ReadTxn, State)> = Vec::new();
    let mut max_deferred = 0;
    let mut copies = 0;
    for step in 0..steps {
        let what = rng.below(100);
        if what < 70 {
            // A write transaction with a few operations.
            let mut w = db.begin_write().unwrap();
            let mut m = model.clone();
            let nops = 1 + rng.below(4);
            let mut sp = None;
            let mut sp_model = None;
            for _ in 0..nops {
                let span = if rng.below(4) == 0 { 12 } else { 4 };
                let t = &names[rng.below(span) as usize];
                let op = rng.below(100);
                if op < 60 {
                    let k = rng.below(300).to_be_bytes();
                    let vl = 1 + rng.below(400) as usize;
                    let v = rng.bytes(vl);
                    w.open_table(t).unwrap().insert(&k, &v).unwrap();
                    m.entry(t.clone()).or_default().insert(k.to_vec(), v);
                } else if op < 75 {
                    let k = rng.below(300).to_be_bytes();
                    w.open_table(t).unwrap().remove(&k).unwrap();
                    m.entry(t.clone()).or_default().remove(&k[..]);
                } else if op < 80 {
                    let existed = w.delete_table(t).unwrap();
                    assert_eq!(existed, m.remove(t).is_some(), "step {step}");
                } else if op < 83 {
                    w.open_table(t).unwrap().clear().unwrap();
                    m.insert(t.clone(), Default::default());
                } else if op < 86 {
                    let got = w.list_tables().unwrap();
                    let want: Vec<String> = m.keys().cloned().collect();
                    assert_eq!(got, want, "step {step}");
                } else if op < 90 {
                    if sp.is_none() {
                        sp = Some(w.savepoint().unwrap());
                        sp_model = Some(m.clone());
                    }
                } else if op < 94 {
                    if let Some(s) = &sp {
                        w.rollback_to(s).unwrap();
                        m = sp_model.clone().unwrap();
                    }
                } else {
                    // Read through the write transaction.
                    let n = w.open_table(t).unwrap().len().unwrap();
                    let want = m.entry(t.clone()).or_default().len() as u64;
                    assert_eq!(n, want, "step {step} len of {t}");
                }
            }
            drop(sp);
            if rng.below(10) == 0 {
                drop(w); // abort
            } else {
                w.commit().unwrap();
                model = m;
            }
        } else if what < 74 {
            db.checkpoint().unwrap();
            assert_eq!(deferred_roots(&db), 0);
        } else if what < 78 {
            snaps.push((db.begin_read().unwrap(), model.clone()));
            if snaps.len() > 3 {
                snaps.remove(0);
            }
        } else if what < 81 {
            // Older snapshots still read what they saw; and their backups too.
            for (r, want) in &snaps {
                assert_eq!(&snapshot_state(r), want, "step {step} snapshot");
            }
            if let Some((r, want)) = snaps.first() {
                copies += 1;
                let p = dir.path().join(format!("copy{copies}"));
                r.backup_to(&p).unwrap();
                opens_with(&p, want, &format!("step {step} backup"));
            }
        } else if what < 84 {
            db.check().unwrap();
            let stats = db.stats().unwrap();
            for t in &stats.tables {
                assert_eq!(t.entries, model[&t.name].len() as u64, "step {step} stats");
            }
        } else if what < 86 {
            snaps.clear();
            db.compact().unwrap();
            db.check().unwrap();
        } else if what < 90 {
            // A crash: copy the file as it is (no background thread writes it).
            snaps.clear();
            copies += 1;
            let p = dir.path().join(format!("crash{copies}"));
            std::fs::copy(&path, &p).unwrap();
            // Eventual commits are in the log file already; Immediate ones are synced.
            opens_with(&p, &model, &format!("step {step} crash copy (seed {seed})"));
        } else if what < 92 {
            snaps.clear();
            drop(db);
            db = open(&path, dur, small);
            assert_eq!(read_state(&db), model, "step {step} reopen");
        } else {
            let got = read_state(&db);
            assert_eq!(got, model, "step {step}");
        }
        max_deferred = max_deferred.max(deferred_roots(&db));
    }
    assert!(max_deferred > 1, "{max_deferred}");
    db.check().unwrap();
    assert_eq!(read_state(&db), model);
    drop(snaps);
    drop(db);
    opens_with(&path, &model, "reopened at the end");
}

/// Six runs with `Eventual` commits.
#[test]
fn random_eventual() {
    for seed in 1..=6 {
        run(seed, 600, Durability::Eventual, false);
    }
}

/// Three runs with `Immediate` commits.
#[test]
fn random_immediate() {
    for seed in 11..=13 {
        run(seed, 400, Durability::Immediate, false);
    }
}

/// Runs with a log that fills all the time.
#[test]
fn random_small_log() {
    for seed in 21..=26 {
        run(seed, 600, Durability::Eventual, true);
    }
    for seed in 27..=28 {
        run(seed, 300, Durability::Immediate, true);
    }
}

/// Four threads committing at once (group commit), `Immediate` and `Eventual`, into six tables;
/// after a sync, a copy of the file (a crash) opens with the same state.
#[test]
fn threads_committing_then_a_crash_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = std::sync::Arc::new(open(&path, Durability::Immediate, false));
    let w = db.begin_write().unwrap();
    for t in 0..6 {
        w.open_table(&format!("t{t}")).unwrap();
    }
    w.commit().unwrap();
    let hs: Vec<_> = (0..4u64)
        .map(|th| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..400u64 {
                    let mut w = db.begin_write().unwrap();
                    if i % 3 == 0 {
                        w.set_durability(Durability::Eventual);
                    }
                    let t = format!("t{}", (th + i) % 6);
                    w.open_table(&t)
                        .unwrap()
                        .insert(&(th * 1000 + i).to_be_bytes(), &[th as u8; 100])
                        .unwrap();
                    w.commit().unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert!(deferred_roots(&db) > 0, "the newest commit keeps roots out");
    db.sync().unwrap();
    let want = read_state(&db);
    assert_eq!(want.values().map(|t| t.len()).sum::<usize>(), 1600);
    db.check().unwrap();
    let p = dir.path().join("crash");
    std::fs::copy(&path, &p).unwrap();
    opens_with(&p, &want, "crash copy");
}

/// Many tables, so that the catalog has several leaves; deferred tables on different leaves.
#[test]
fn backup_with_catalog_of_many_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = open(&path, Durability::Eventual, false);
    let w = db.begin_write().unwrap();
    let names: Vec<String> = (0..600)
        .map(|i| format!("table-{i:05}-{}", "x".repeat(40)))
        .collect();
    for n in &names {
        w.open_table(n).unwrap().insert(b"k", b"v").unwrap();
    }
    w.commit().unwrap();
    let pick = [0usize, 150, 299, 450, 599];
    for round in 0..50u64 {
        let w = db.begin_write().unwrap();
        let n = &names[pick[(round % 5) as usize]];
        w.open_table(n)
            .unwrap()
            .insert(&round.to_be_bytes(), &[1u8; 200])
            .unwrap();
        w.commit().unwrap();
    }
    assert_eq!(deferred_roots(&db), 5);
    let want = read_state(&db);
    let p = dir.path().join("copy");
    db.backup(&p, false).unwrap();
    opens_with(&p, &want, "plain backup");
    let p2 = dir.path().join("copy2");
    db.backup(&p2, true).unwrap();
    opens_with(&p2, &want, "compacted backup");
}

also_cached!(random_eventual, backup_with_catalog_of_many_leaves);
