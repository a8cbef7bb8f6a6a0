//! Compaction of a tree large enough that it packs leaves and branches, moves pages and
//! truncates the file, under power cuts and I/O faults on the simulated disk. Compaction changes
//! no data: whatever happens, the file reopens with exactly the entries it had and passes
//! `check()`. (The crash and fault suites compact too, but their trees are too small to have
//! branches worth packing.)

mod common;

use common::{read_state, State};
use larchdb::testing::{Rng, SimDisk};
use larchdb::{Database, Error};
use std::path::Path;

/// A closed database file whose table "t" compaction packs, leaves and branches: 12,000 keys
/// with 600-byte values (six to a leaf: about 2,000 leaves under 20 bottom branches), three of
/// every four removed. Returns its bytes and what it holds.
fn packable_image(dir: &Path) -> (Vec<u8>, State) {
    let path = dir.join("packable.larch");
    {
        let db = Database::open(&path).unwrap();
        let mut rng = Rng::new(31);
        let keys: Vec<Vec<u8>> = (0..12_000).map(|_| rng.bytes(16)).collect();
        let values: Vec<[u8; 600]> = keys.iter().map(|k| [k[0]; 600]).collect();
        let entries: Vec<(&[u8], &[u8])> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| (&k[..], &v[..]))
            .collect();
        common::api::put(&db, "t", &entries);
        let w = db.begin_write().unwrap();
        let mut t = w.open_table("t").unwrap();
        for k in keys
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 4 != 0)
            .map(|(_, k)| k)
        {
            t.remove(k).unwrap();
        }
        w.commit().unwrap();
    }
    let db = Database::open(&path).unwrap();
    let state = read_state(&db);
    drop(db);
    (std::fs::read(&path).unwrap(), state)
}

/// Opens `image`, written to `path`, on a simulated disk that starts from it.
fn open_on_sim(path: &Path, image: &[u8]) -> (Database, std::sync::Arc<SimDisk>) {
    std::fs::write(path, image).unwrap();
    let disk = SimDisk::starting_from(image.to_vec());
    let db = Database::builder()
        .log_capacity(256 << 10)
        .open_simulated(path, disk.clone())
        .unwrap();
    (db, disk)
}

/// Reopens the file at `path` (no simulated disk now) and checks that it holds `state`.
fn reopens_with(path: &Path, state: &State, what: &str) {
    let db = Database::open(path).unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
    db.check()
        .unwrap_or_else(|e| panic!("{what}: check failed: {e}"));
    assert!(read_state(&db) == *state, "{what}: the entries changed");
}

/// A power cut at every sync point of the compaction and at 40 points between them, each with
/// the unsynced writes all kept, and with them dropped, torn or garbled at random.
#[test]
fn power_cuts_while_compaction_packs_leaves_and_branches() {
    let dir = tempfile::tempdir().unwrap();
    let (image, state) = packable_image(dir.path());
    let (db, disk) = open_on_sim(&dir.path().join("compact.larch"), &image);
    let c = db.compact().unwrap();
    assert!(
        c.leaves_saved > 0 && c.branches_saved > 0 && c.file_after < c.file_before,
        "{c:?}"
    );
    assert!(read_state(&db) == state);
    drop(db);
    let len = disk.log_len();
    let mut points = disk.sync_points();
    points.extend((0..=40).map(|i| i * len / 40));
    points.sort_unstable();
    points.dedup();
    let (mut rng, file) = (Rng::new(32), dir.path().join("crashed.larch"));
    for &point in &points {
        for garble in [false, true] {
            let crashed = match garble {
                false => disk.prefix_image(point),
                true => disk.crash_image(point, &mut rng),
            };
            std::fs::write(&file, &crashed).unwrap();
            reopens_with(&file, &state, &format!("power cut at {point} of {len}"));
        }
    }
    eprintln!("{} power cuts over {len} changes", points.len() * 2);
}

/// Every operation of the compaction (write, sync or size change) fails once, and from then on
/// (EIO and ENOSPC in turn): compaction returns the error, the handle still reads every entry,
/// and the file reopens with them.
#[test]
fn io_faults_while_compaction_packs_leaves_and_branches() {
    let dir = tempfile::tempdir().unwrap();
    let (image, state) = packable_image(dir.path());
    let (first, total) = {
        let (db, disk) = open_on_sim(&dir.path().join("count.larch"), &image);
        let first = disk.op_count();
        let c = db.compact().unwrap();
        assert!(c.branches_saved > 0, "{c:?}");
        drop(db);
        (first, disk.op_count() - first)
    };
    assert!(total > 20, "compaction made only {total} operations");
    let mut errors = 0;
    for n in first + 1..=first + total {
        for forever in [false, true] {
            let errno = [5, 28][(n % 2) as usize]; // EIO, ENOSPC
            let path = dir.path().join(format!("fault-{n}-{forever}.larch"));
            let (db, disk) = open_on_sim(&path, &image);
            disk.fail_op(n, forever, errno);
            if let Err(e) = db.compact() {
                errors += 1;
                assert!(
                    matches!(e, Error::Io(_) | Error::PreviousIo(_)),
                    "fault at op {n}: compaction failed with {e}"
                );
            }
            assert!(
                read_state(&db) == state,
                "fault at op {n}: reads changed after a failed compaction"
            );
            drop(db);
            reopens_with(
                &path,
                &state,
                &format!("fault at op {n} (forever: {forever})"),
            );
        }
    }
    eprintln!(
        "{} fault runs over {total} operations: {errors} compactions failed",
        2 * total
    );
    assert!(
        errors >= total,
        "most faults must reach the caller: {errors}"
    );
}
