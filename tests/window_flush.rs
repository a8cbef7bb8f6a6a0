//! A full write window is flushed beside the commits that follow it (`src/txn/flush.rs`): the
//! versions made meanwhile read through two windows, snapshots of every age read what they read
//! before, and the file ends up with the last contents of every page. On a real file the flush
//! runs on a thread of its own; on the simulated disk it runs at the next wait for it, so the
//! older window is not in the file while later commits are made.

use larchdb::testing::SimDisk;
use larchdb::{Backend, Database, Durability, ReadTxn};
use std::path::Path;

/// Keys the table holds.
const KEYS: u32 = 20_000;

/// The value byte of each key, as a reader of one version should see it.
type Model = Vec<u8>;

/// Sets `n` keys spread over the table (a different spread for each `round`) to a 100-byte
/// value of `round`'s byte, in one commit.
fn spread_commit(db: &Database, model: &mut Model, round: u32, n: u32, durability: Durability) {
    let mut w = db.begin_write().unwrap();
    w.set_durability(durability);
    {
        let mut t = w.open_table("t").unwrap();
        for i in 0..n {
            let k = (i * 7919 + round * 104_729) % KEYS;
            t.insert(&k.to_be_bytes(), &[round as u8; 100]).unwrap();
            model[k as usize] = round as u8;
        }
    }
    w.commit().unwrap();
}

/// Checks that `r` reads exactly `model`.
fn assert_reads(r: &ReadTxn, model: &Model, what: &str) {
    let t = r.open_table("t").unwrap();
    assert_eq!(t.len().unwrap(), u64::from(KEYS), "{what}");
    for k in 0..KEYS {
        let v = t.get(&k.to_be_bytes()).unwrap();
        assert_eq!(v, Some(&[model[k as usize]; 100][..]), "{what}: key {k}");
    }
}

/// Loads the table, then makes 200 small commits under snapshots taken along the way, with a
/// write window of 1 MiB (a cache of 8 MiB), so that the window fills and is handed off many
/// times; every snapshot and the newest version read what they should, and the integrity check
/// passes. The last commit is `Immediate`. Returns the newest model.
fn commits_under_snapshots(db: &Database) -> Model {
    let mut model = vec![0u8; KEYS as usize];
    spread_commit(db, &mut model, 0, KEYS, Durability::Immediate);
    let before = db.metrics();
    let mut snapshots = Vec::new();
    for round in 1..=200u32 {
        let durability = match round {
            200 => Durability::Immediate,
            _ => Durability::Eventual,
        };
        spread_commit(db, &mut model, round, 20, durability);
        if round % 25 == 0 {
            snapshots.push((db.begin_read().unwrap(), model.clone(), round));
        }
    }
    let hand_offs = db.metrics().window_hand_offs - before.window_hand_offs;
    assert!(hand_offs >= 4, "only {hand_offs} windows handed off");
    for (r, m, round) in &snapshots {
        assert_reads(r, m, &format!("snapshot after round {round}"));
    }
    drop(snapshots);
    assert_reads(&db.begin_read().unwrap(), &model, "newest version");
    db.check().unwrap();
    model
}

/// The builder of these tests: the cached backend with an 8 MiB cache (1 MiB windows), no
/// background sync.
fn builder() -> larchdb::Builder {
    let mut b = Database::builder();
    b.sync_interval(None)
        .backend(Backend::Cached { capacity: 8 << 20 });
    b
}

#[test]
fn windows_flushed_on_their_own_thread_keep_every_snapshot_and_the_file_right() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.larch");
    let model = commits_under_snapshots(&builder().open(&path).unwrap());
    for cached in [true, false] {
        let reopened = match cached {
            true => builder().open(&path).unwrap(),
            false => Database::open(&path).unwrap(),
        };
        assert_reads(&reopened.begin_read().unwrap(), &model, "reopened");
        reopened.check().unwrap();
    }
}

/// Opens the image `bytes` written to `path`.
fn reopen(path: &Path, bytes: &[u8]) -> Database {
    std::fs::write(path, bytes).unwrap();
    Database::open(path).unwrap()
}

#[test]
fn windows_flushed_at_the_next_wait_keep_every_snapshot_and_the_durable_state_right() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SimDisk::new();
    let db = builder()
        .open_simulated(dir.path().join("w.larch"), disk.clone())
        .unwrap();
    let model = commits_under_snapshots(&db);
    // The last commit was Immediate: what the disk holds durably replays to it, whatever
    // windows had reached the file.
    let img = reopen(&dir.path().join("durable.larch"), &disk.durable_image());
    assert_reads(&img.begin_read().unwrap(), &model, "durable image");
    img.check().unwrap();
    drop(db);
    let img = reopen(&dir.path().join("closed.larch"), &disk.durable_image());
    assert_reads(&img.begin_read().unwrap(), &model, "closed");
    img.check().unwrap();
}
