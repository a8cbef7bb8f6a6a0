//! The commit log (docs/FORMAT.md sections 13-15): what an `Immediate` commit makes durable with
//! one log sync, what readers see and when, group commit across threads, replay after a crash,
//! damaged records, read-only opens, space under `Eventual` commits, and version 1 files.

mod common;

use common::{read_state, State};
use larchdb::testing::{bound_syncs, SimDisk};
use larchdb::{Database, Durability, Error};
use std::path::Path;

/// Inserts `key -> value` into table "t" in one commit of `durability`.
fn put(db: &Database, key: &[u8], value: &[u8], durability: Durability) -> larchdb::Result<()> {
    let mut w = db.begin_write()?;
    w.set_durability(durability);
    w.open_table("t")?.insert(key, value)?;
    w.commit()
}

/// The value of `key` in table "t" as a new reader sees it.
fn get(db: &Database, key: &[u8]) -> Option<Vec<u8>> {
    let r = db.begin_read().unwrap();
    let t = r.open_table("t").ok()?;
    t.get(key).unwrap().map(|v| v.to_vec())
}

/// Polls `done` every 5 ms until it holds; fails with `what` if it does not within `secs`.
fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Opens the image `bytes` written to `path`.
fn reopen(path: &Path, bytes: &[u8]) -> Database {
    std::fs::write(path, bytes).unwrap();
    Database::open(path).unwrap()
}

/// A database on a simulated disk with a first commit (which creates the log region), and the
/// commits after it made with `durability`: returns the disk and the state after each commit.
fn history(
    path: &Path,
    commits: u32,
    durability: Durability,
) -> (std::sync::Arc<SimDisk>, Database, Vec<State>) {
    let disk = SimDisk::new();
    let db = Database::builder()
        .sync_interval(None)
        .log_capacity(256 << 10)
        .open_simulated(path, disk.clone())
        .unwrap();
    put(&db, b"first", b"commit", Durability::Immediate).unwrap();
    let mut states = vec![read_state(&db)];
    for i in 0..commits {
        let mut w = db.begin_write().unwrap();
        w.set_durability(durability);
        {
            let mut t = w.open_table("t").unwrap();
            t.insert(
                &i.to_be_bytes(),
                &vec![i as u8; 20 + (i as usize % 5) * 900],
            )
            .unwrap();
            if i % 3 == 0 {
                t.remove(b"first").unwrap();
            }
            if i % 7 == 0 {
                w.open_table(&format!("side{}", i % 2))
                    .unwrap()
                    .insert(b"k", b"v")
                    .unwrap();
            }
            if i % 11 == 10 {
                w.delete_table("side0").unwrap();
            }
        }
        w.commit().unwrap();
        states.push(read_state(&db));
    }
    (disk, db, states)
}

/// Every acknowledged `Immediate` commit survives a power cut that loses every write not synced:
/// the tree pages of every commit since the last checkpoint are gone, and replaying the log over
/// the checkpoint rebuilds them. One log sync per commit, and no checkpoint besides the first.
#[test]
fn immediate_commits_survive_losing_every_unsynced_page() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, db, states) = history(&dir.path().join("a.larch"), 40, Durability::Immediate);
    let m = db.metrics();
    assert_eq!(m.log_records, 40, "{m:?}");
    assert_eq!(
        m.checkpoints, 1,
        "the first commit's, which made the log region: {m:?}"
    );
    let crashed = reopen(&dir.path().join("b.larch"), &disk.durable_image());
    crashed.check().unwrap();
    assert!(read_state(&crashed) == *states.last().unwrap());
    assert!(crashed.recovery().is_none());
}

/// `Eventual` commits are in the log once `commit` returns: a process crash loses none, and a
/// power cut loses only those the log had not synced yet (`Database::sync` syncs them).
#[test]
fn eventual_commits_survive_a_process_crash_and_sync_makes_them_durable() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, db, states) = history(&dir.path().join("a.larch"), 30, Durability::Eventual);
    let crashed = reopen(&dir.path().join("b.larch"), &disk.current_image());
    assert!(read_state(&crashed) == states[30]);
    drop(crashed);
    let power_cut = reopen(&dir.path().join("c.larch"), &disk.durable_image());
    assert!(
        read_state(&power_cut) == states[0],
        "nothing was synced after the first commit"
    );
    drop(power_cut);
    db.sync().unwrap();
    let synced = reopen(&dir.path().join("d.larch"), &disk.durable_image());
    synced.check().unwrap();
    assert!(read_state(&synced) == states[30]);
}

/// The background thread syncs `Eventual` commits within its interval.
#[test]
fn the_background_sync_makes_eventual_commits_durable() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SimDisk::new();
    let db = Database::builder()
        .sync_interval(Some(std::time::Duration::from_millis(5)))
        .open_simulated(dir.path().join("a.larch"), disk.clone())
        .unwrap();
    put(&db, b"a", b"1", Durability::Immediate).unwrap();
    put(&db, b"b", b"2", Durability::Eventual).unwrap();
    wait_until(10, "never synced", || {
        let img = reopen(&dir.path().join("b.larch"), &disk.durable_image());
        get(&img, b"b").is_some()
    });
}

/// On a real file, with the background thread running, `Eventual` commits ask it to sync the
/// log before `MAX_UNSYNCED_COMMITS` (4096) records are unsynced, so that commits seldom have
/// to: with no tick of the thread's own in the test's time, most syncs are its early ones
/// (without them, 7 of 11 syncs here were made by commits at the bound). On the simulated disk
/// the commits sync at the bound themselves, as without the thread.
#[test]
fn eventual_commits_ask_the_background_thread_to_sync_before_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .durability(Durability::Eventual)
        .sync_interval(Some(std::time::Duration::from_secs(3600)))
        .open(dir.path().join("early.larch"))
        .unwrap();
    let commits = 40_000u32;
    let before = db.metrics();
    for i in 0..commits {
        put(&db, &i.to_be_bytes(), b"eventual", Durability::Eventual).unwrap();
    }
    // Commits that find the bound reached sync themselves; the thread's syncs come first.
    let (syncs, at_bound) = (db.metrics().syncs - before.syncs, bound_syncs(&db));
    assert!(
        at_bound * 2 < syncs,
        "{syncs} syncs for {commits} commits, {at_bound} of them by commits at the bound"
    );
    db.check().unwrap();
    drop(db);
    let db = Database::open(dir.path().join("early.larch")).unwrap();
    for i in (0..commits).step_by(997) {
        assert_eq!(
            get(&db, &i.to_be_bytes()).as_deref(),
            Some(&b"eventual"[..])
        );
    }
}

/// With `keep_awake_during_syncs` (the default), a thread of the handle keeps a processor awake
/// while a commit waits for the disk (on a machine with more than one): a durable commit's log
/// sync here. Not for the background thread's syncs of `Eventual` commits, nor while idle; and
/// turned off, never. The simulated disk's durable writes take 2 ms here, so that they are in
/// flight long enough to be seen.
#[test]
fn a_thread_stays_awake_only_while_commits_wait_for_the_disk_and_if_asked() {
    let processors = std::thread::available_parallelism().map_or(1, |n| n.get());
    let settle = || std::thread::sleep(std::time::Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap();
    for on in [true, false] {
        let disk = SimDisk::new();
        disk.delay_durable_writes(std::time::Duration::from_millis(2));
        let db = Database::builder()
            .keep_awake_during_syncs(on)
            .sync_interval(Some(std::time::Duration::from_millis(5)))
            .open_simulated(dir.path().join(format!("{on}.larch")), disk.clone())
            .unwrap();
        // The first commit gives the file its first log region (a checkpoint, whose sync also
        // makes the region's first 1 MiB of zeros durable): a wait for the disk.
        for i in 0..5u32 {
            put(&db, &i.to_be_bytes(), b"eventual", Durability::Eventual).unwrap();
        }
        settle();
        let before = db.metrics().kept_awake;
        put(&db, b"second", b"eventual", Durability::Eventual).unwrap();
        // The background thread's ticks sync it.
        wait_until(10, "the Eventual commit was never synced", || {
            let img = reopen(&dir.path().join("image.larch"), &disk.durable_image());
            get(&img, b"second").is_some()
        });
        settle();
        assert_eq!(db.metrics().kept_awake, before);
        for i in 0..20u32 {
            put(&db, &i.to_be_bytes(), b"immediate", Durability::Immediate).unwrap();
        }
        if on && processors > 1 {
            wait_until(10, "never kept awake", || db.metrics().kept_awake > before);
        } else {
            settle();
            assert_eq!(db.metrics().kept_awake, std::time::Duration::ZERO);
        }
    }
}

/// The background thread outlives an idle checkpoint that fails and leaves the handle usable: it
/// goes on syncing `Eventual` commits. The checkpoint's commit (which writes a table root kept
/// out of the catalog) copies the catalog's leaf, whose checksum is damaged on disk after this
/// handle read and trusted the leaf, so the copy fails as `Corrupted` every time.
#[test]
fn the_background_thread_outlives_a_failed_idle_checkpoint() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.larch");
    {
        // About 1,200 leaves, written and checkpointed by another handle.
        let db = Database::open(&path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            for i in 0..2_400u32 {
                t.insert(&i.to_be_bytes(), &[7u8; 1_800]).unwrap();
            }
        }
        w.commit().unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let [(newest, _, _), _] = common::damage::slots_newest_first(&bytes, common::damage::PS);
    let catalog = common::damage::u64_at(&bytes, newest + 24);
    let db = Database::builder()
        .durability(Durability::Eventual)
        .sync_interval(Some(std::time::Duration::from_millis(5)))
        .open(&path)
        .unwrap();
    // Reading the table verifies the catalog's leaf, which this handle then trusts.
    assert!(get(&db, &0u32.to_be_bytes()).is_some());
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let at = catalog * common::damage::PS as u64 + 16;
    file.write_all_at(&[0xA5; 8], at).unwrap();
    // Shortens one value in each leaf (a small log record): more than 1,024 pages of the last
    // checkpoint freed, so the first quiet tick of the background thread checkpoints (and fails).
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for i in (0..2_400u32).step_by(2) {
            t.insert(&i.to_be_bytes(), b"short").unwrap();
        }
    }
    w.commit().unwrap();
    assert_eq!(larchdb::testing::deferred_roots(&db), 1);
    assert!(
        matches!(db.checkpoint(), Err(Error::Corrupted { .. })),
        "the checkpoint's commit copies the damaged leaf"
    );
    // Each pause holds quiet ticks, whose idle checkpoints fail; each commit after it must still
    // be synced by the thread.
    for round in 0..3u8 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        put(&db, &[round], b"late", Durability::Eventual).unwrap();
        let syncs = db.metrics().syncs;
        let what = format!("the background thread stopped syncing the log (round {round})");
        wait_until(10, &what, || db.metrics().syncs != syncs);
    }
}

/// A reader never sees an `Immediate` commit whose log sync failed (readers see a commit once it
/// is durable), the handle refuses further writes, and a reopen shows either the failed commit
/// (its record may have reached the disk) or the one before it.
#[test]
fn a_commit_whose_sync_fails_is_never_seen() {
    let dir = tempfile::tempdir().unwrap();
    let mut failed_syncs = 0;
    for n in 1..=4u64 {
        let path = dir.path().join(format!("f{n}.larch"));
        let disk = SimDisk::new();
        let db = Database::builder()
            .sync_interval(None)
            .log_capacity(256 << 10)
            .open_simulated(&path, disk.clone())
            .unwrap();
        put(&db, b"k", b"old", Durability::Immediate).unwrap();
        put(&db, b"other", b"x", Durability::Immediate).unwrap();
        disk.fail_op(disk.op_count() + n, false, libc_eio());
        let r = put(&db, b"k", b"new", Durability::Immediate);
        disk.clear_fault();
        match r {
            Ok(()) => assert_eq!(get(&db, b"k").as_deref(), Some(&b"new"[..])),
            Err(_) => {
                failed_syncs += 1;
                assert_eq!(get(&db, b"k").as_deref(), Some(&b"old"[..]), "op {n}");
                assert!(matches!(db.begin_write(), Err(Error::PreviousIo(_))));
                drop(db);
                let again = reopen(&dir.path().join("re.larch"), &disk.current_image());
                let v = get(&again, b"k");
                assert!(v.as_deref() == Some(b"old") || v.as_deref() == Some(b"new"));
                again.check().unwrap();
            }
        }
    }
    // An `Immediate` commit's record is written once, by its sync: one of the four ops is it.
    assert!(failed_syncs >= 1, "the faults missed the commit's sync");
}

fn libc_eio() -> i32 {
    5
}

/// Many threads committing `Immediate` share syncs: fewer syncs than commits (whose time the
/// metrics count), and every commit is there.
#[test]
fn group_commit_shares_syncs_between_threads() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("g.larch")).unwrap();
    put(&db, b"start", b"", Durability::Immediate).unwrap();
    let before = db.metrics();
    std::thread::scope(|s| {
        for t in 0..8u8 {
            let db = &db;
            s.spawn(move || {
                for i in 0..60u8 {
                    put(db, &[t, i], &[t; 30], Durability::Immediate).unwrap();
                }
            });
        }
    });
    let after = db.metrics();
    let commits = after.commits - before.commits;
    let syncs = after.syncs - before.syncs;
    assert_eq!(commits, 480);
    assert!(syncs < commits, "{syncs} syncs for {commits} commits");
    assert!(
        after.log_sync_time > before.log_sync_time,
        "the syncs' time is counted: {after:?}"
    );
    for t in 0..8u8 {
        for i in 0..60u8 {
            assert_eq!(get(&db, &[t, i]), Some(vec![t; 30]));
        }
    }
    db.check().unwrap();
    eprintln!("8 threads: {commits} commits, {syncs} syncs");
}

/// A damaged record in the middle of the log stops the replay there, and the open says so: the
/// acknowledged commits after it are reported, not silently dropped.
#[test]
fn a_damaged_log_record_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, db, states) = history(&dir.path().join("a.larch"), 10, Durability::Immediate);
    let mut image = disk.current_image();
    drop(db);
    // The 5th record after the checkpoint of the first commit.
    let at = (0..image.len() - 8)
        .step_by(8)
        .filter(|&o| &image[o..o + 8] == b"LARCHLOG")
        .nth(4)
        .unwrap();
    image[at + 60] ^= 0x40;
    let db = reopen(&dir.path().join("b.larch"), &image);
    db.check().unwrap();
    assert!(read_state(&db) == states[4]);
    let rec = db.recovery().expect("the lost commits must be reported");
    assert!(rec.reason.contains("commit log record"), "{}", rec.reason);
    assert!(rec.discarded_txn.is_some());
}

/// A read-only open replays the log in memory, writing nothing: it sees every acknowledged
/// commit, the file is unchanged, and a writable open later replays the same records.
#[test]
fn read_only_open_replays_the_log_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, db, states) = history(&dir.path().join("a.larch"), 5, Durability::Immediate);
    let image = disk.current_image();
    drop(db);
    let path = dir.path().join("b.larch");
    std::fs::write(&path, &image).unwrap();
    {
        let ro = Database::builder().read_only(true).open(&path).unwrap();
        assert!(read_state(&ro) == states[5]);
        ro.check().unwrap();
        assert!(matches!(ro.begin_write(), Err(Error::ReadOnly)));
    }
    assert!(
        std::fs::read(&path).unwrap() == image,
        "a read-only open wrote to the file"
    );
    drop(Database::open(&path).unwrap());
    let ro = Database::builder().read_only(true).open(&path).unwrap();
    assert!(read_state(&ro) == states[5]);
}

/// Relaxed commits do not leak space: the same work as `Eventual` commits leaves a file within
/// 1.5x of what `Immediate` commits leave.
#[test]
fn eventual_commits_do_not_grow_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let size = |durability: Durability, name: &str| {
        let path = dir.path().join(name);
        let db = Database::builder()
            .durability(durability)
            .open(&path)
            .unwrap();
        for i in 0..20_000u32 {
            let w = db.begin_write().unwrap();
            w.open_table("t")
                .unwrap()
                .insert(&(i % 5000).to_be_bytes(), &[7u8; 100])
                .unwrap();
            w.commit().unwrap();
        }
        db.check().unwrap();
        db.stats().unwrap().page_count
    };
    let eventual = size(Durability::Eventual, "e.larch");
    let immediate = size(Durability::Immediate, "i.larch");
    eprintln!("pages after 20,000 commits: Eventual {eventual}, Immediate {immediate}");
    assert!(eventual * 2 <= immediate * 3, "{eventual} vs {immediate}");
}

/// One `Eventual` commit writing `value` under `n` keys of table "t" spread over `0..40_000`
/// (a different spread for each `salt`).
fn put_spread(db: &Database, n: u32, salt: u32, value: &[u8]) {
    let mut w = db.begin_write().unwrap();
    w.set_durability(Durability::Eventual);
    {
        let mut t = w.open_table("t").unwrap();
        for i in 0..n {
            let k = (i * 7919 + salt * 104_729) % 40_000;
            t.insert(&k.to_be_bytes(), value).unwrap();
        }
    }
    w.commit().unwrap();
}

#[test]
fn the_write_window_fills_and_flushes_under_live_snapshots() {
    for cached in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.larch");
        let mut b = Database::builder();
        b.sync_interval(None);
        if cached {
            b.backend(larchdb::Backend::Cached { capacity: 32 << 20 });
        }
        let db = b.open(&path).unwrap();
        put_spread(&db, 40_000, 0, &[0; 100]);
        put_spread(&db, 1, 0, &[0; 100]);
        // A reader holds the first state while 150 commits each rewrite about 190 pages (none
        // reusable while the reader lives): the window fills (16,384 pages; 8 MiB with this
        // cache) before the log does (22 KiB records) and before the held-back pages call for
        // a checkpoint, and is flushed.
        let old = db.begin_read().unwrap();
        let first = db.metrics();
        for round in 1..=150u32 {
            put_spread(&db, 200, round, &[round as u8; 100]);
        }
        let m = db.metrics();
        let (flushes, checkpoints) = (
            m.window_flushes - first.window_flushes,
            m.checkpoints - first.checkpoints,
        );
        assert!(
            flushes > checkpoints,
            "{flushes} flushes, {checkpoints} checkpoints"
        );
        {
            let t = old.open_table("t").unwrap();
            for k in (0..40_000u32).step_by(7) {
                assert_eq!(t.get(&k.to_be_bytes()).unwrap(), Some(&[0u8; 100][..]));
            }
        }
        drop(old);
        let last = (199 * 7919 + 150 * 104_729) % 40_000u32;
        assert_eq!(get(&db, &last.to_be_bytes()), Some(vec![150u8; 100]));
        db.check().unwrap();
        drop(db);
        let db = Database::open(&path).unwrap();
        assert_eq!(get(&db, &last.to_be_bytes()), Some(vec![150u8; 100]));
        db.check().unwrap();
    }
}

#[test]
fn the_write_window_is_flushed_once_commits_pause() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .sync_interval(Some(std::time::Duration::from_millis(5)))
        .open(dir.path().join("w.larch"))
        .unwrap();
    // The first commit makes the log region: a checkpoint, which flushes.
    put(&db, b"j", b"v", Durability::Eventual).unwrap();
    put(&db, b"k", b"v", Durability::Eventual).unwrap();
    let before = db.metrics().window_flushes;
    // A tick with no commit, then the next tick flushes.
    wait_until(30, "the window was never flushed", || {
        db.metrics().window_flushes != before
    });
    assert_eq!(get(&db, b"k"), Some(b"v".to_vec()));
    db.check().unwrap();
}

#[test]
fn free_pages_held_in_memory_between_checkpoints_are_never_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.larch");
    let total_pages = |db: &Database| {
        let s = db.stats().unwrap();
        (s.page_count, s.free_pages)
    };
    for round in 0..3u32 {
        let db = Database::builder().sync_interval(None).open(&path).unwrap();
        // Commits that free pages and take free ones: some stay in memory, unused, between
        // checkpoints. check() counts them, and so must each way of checkpointing.
        // In memory too: pages freed since the checkpoint (pending), more of them while a
        // snapshot holds the young ones back (round 2).
        put_spread(&db, 3000, round, &[1; 100]);
        let held = (round == 2).then(|| db.begin_read().unwrap());
        for i in 0..300u32 {
            put_spread(&db, 3, round * 1000 + i, &[i as u8; 100]);
            if i % 100 == 0 {
                db.check().unwrap();
            }
        }
        // A backup of a version with free pages in memory accounts for every page too.
        let copy = dir.path().join(format!("copy{round}"));
        db.backup(&copy, false).unwrap();
        Database::open(&copy).unwrap().check().unwrap();
        drop(held);
        let (pages, free) = total_pages(&db);
        assert!(free > 0);
        match round {
            0 => db.checkpoint().unwrap(),
            1 => db.sync().unwrap(),
            _ => {}
        }
        db.check().unwrap();
        drop(db);
        let db = Database::open(&path).unwrap();
        db.check().unwrap();
        // Reopening found every free page: none leaked (check() would fail), none gained. (The
        // checkpoint that records the pages in memory may give back the free tail of the file.)
        let (reopened, _) = total_pages(&db);
        assert!(reopened <= pages, "round {round}: {reopened} > {pages}");
    }
}

/// A format version 1 file (no log region) is read, and its first commit upgrades it.
#[test]
fn a_version_1_file_is_read_and_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.larch");
    {
        let db = Database::builder().log_capacity(0).open(&path).unwrap();
        put(&db, b"k", b"v1", Durability::Immediate).unwrap();
    }
    // Rewrite both meta slots as version 1 slots: 64 bytes, version 1, checksum at 64.
    let mut bytes = std::fs::read(&path).unwrap();
    for slot in 0..2 {
        let m = &mut bytes[slot * 4096..slot * 4096 + 96];
        assert_eq!(&m[64..80], &[0u8; 16], "no log region");
        m[8..12].copy_from_slice(&1u32.to_le_bytes());
        let sum = xxh3(&m[..64]);
        m[64..72].copy_from_slice(&sum.to_le_bytes());
        m[72..96].fill(0);
    }
    std::fs::write(&path, &bytes).unwrap();
    // A read-only handle reads it and says what it is; it writes nothing.
    {
        let ro = Database::builder().read_only(true).open(&path).unwrap();
        assert_eq!(get(&ro, b"k").as_deref(), Some(&b"v1"[..]));
        assert_eq!(ro.stats().unwrap().format_version, 1);
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let db = Database::open(&path).unwrap();
    assert_eq!(get(&db, b"k").as_deref(), Some(&b"v1"[..]));
    // Still version 1 on disk: the first commit upgrades it.
    assert_eq!(db.stats().unwrap().format_version, 1);
    put(&db, b"k", b"v2", Durability::Immediate).unwrap();
    assert_eq!(db.stats().unwrap().format_version, 4);
    drop(db);
    let db = Database::open(&path).unwrap();
    assert_eq!(get(&db, b"k").as_deref(), Some(&b"v2"[..]));
    db.check().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        (0..2).any(|s| bytes[s * 4096 + 8] == 4),
        "no slot was upgraded"
    );
}

/// A format version 2 file is read: its slots have the current layout, and its leaf and branch
/// pages prefix length 0 (header bytes 24..32), with hints of whole keys. A writable open
/// upgrades it to the current version, 4.
#[test]
fn a_version_2_file_is_read_and_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.larch");
    {
        let db = Database::open(&path).unwrap();
        for i in 0..50u32 {
            put(&db, &i.to_be_bytes(), b"v1", Durability::Immediate).unwrap();
        }
    }
    let mut bytes = std::fs::read(&path).unwrap();
    // One leaf per tree, grown by inserts: prefix length 0, as version 2 wrote every page.
    for (pgno, page) in bytes.chunks(4096).enumerate().skip(2) {
        if matches!(page[0], 1 | 2) {
            assert_eq!(&page[24..32], &[0; 8], "page {pgno}");
        }
    }
    // Rewrite both meta slots as version 2 slots: the same bytes, version 2.
    assert_eq!(bytes[8..12], 4u32.to_le_bytes());
    set_slot_versions(&mut bytes, 2);
    std::fs::write(&path, &bytes).unwrap();
    {
        let ro = Database::builder().read_only(true).open(&path).unwrap();
        assert_eq!(ro.stats().unwrap().format_version, 2);
    }
    // A writable open upgrades it before its first commit.
    let db = Database::open(&path).unwrap();
    db.check().unwrap();
    for i in 0..50u32 {
        assert_eq!(get(&db, &i.to_be_bytes()).as_deref(), Some(&b"v1"[..]));
    }
    assert_eq!(db.stats().unwrap().format_version, 4);
    put(&db, b"k", b"v2", Durability::Immediate).unwrap();
    assert_eq!(db.stats().unwrap().format_version, 4);
    drop(db);
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        (0..2).any(|s| bytes[s * 4096 + 8] == 4),
        "no slot was upgraded"
    );
    let db = Database::open(&path).unwrap();
    assert_eq!(get(&db, b"k").as_deref(), Some(&b"v2"[..]));
    assert_eq!(get(&db, &7u32.to_be_bytes()).as_deref(), Some(&b"v1"[..]));
    db.check().unwrap();
}

/// A format version 3 file's log, whose records each start at a multiple of 512 bytes, is replayed
/// as such; the same records under a version 4 slot (records packed) end the log after the first.
#[test]
fn a_version_3_log_is_replayed_with_its_sector_aligned_records() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, db, states) = history(&dir.path().join("a.larch"), 6, Durability::Immediate);
    let mut image = disk.current_image();
    drop(db);
    let u64_at = common::damage::u64_at;
    // The newer slot names the log region and its generation.
    let slot = (0..2)
        .max_by_key(|&s| (u64_at(&image, s * 4096 + 16), u64_at(&image, s * 4096 + 80)))
        .unwrap();
    let m = slot * 4096;
    let (start, pages, gen) = (
        u64_at(&image, m + 64) as usize * 4096,
        u64_at(&image, m + 72) as usize * 4096,
        u64_at(&image, m + 80),
    );
    // This generation's records, packed from the region's start (8-byte multiples).
    let mut records = Vec::new();
    let mut at = start;
    while &image[at..at + 8] == b"LARCHLOG" && u64_at(&image, at + 8) == gen {
        let len = 40 + u64_at(&image, at + 24) as usize;
        assert!(len > 40 && at % 8 == 0);
        records.push(image[at..at + len].to_vec());
        at += len.next_multiple_of(8);
    }
    assert!(records.len() >= 3, "{} records", records.len());
    let replayed = states.len() - 1 - records.len();
    // Moved to multiples of 512, as version 3 placed them: each at the first after the one before.
    image[start..start + pages].fill(0);
    let mut at = start;
    for r in &records {
        image[at..at + r.len()].copy_from_slice(r);
        at += r.len().next_multiple_of(512);
    }
    let with_version = |version: u32| {
        let mut bytes = image.clone();
        set_slot_versions(&mut bytes, version);
        bytes
    };
    let v3 = reopen(&dir.path().join("v3.larch"), &with_version(3));
    assert!(read_state(&v3) == states[states.len() - 1]);
    assert!(v3.recovery().is_none());
    v3.check().unwrap();
    drop(v3);
    let v4 = reopen(&dir.path().join("v4.larch"), &with_version(4));
    assert!(read_state(&v4) == states[replayed + 1]);
    let report = v4
        .recovery()
        .expect("the records after the first are reported");
    assert!(
        report.reason.contains("commit log record"),
        "{}",
        report.reason
    );
}

/// Gives both meta slots of the 4 KiB-page image `bytes` format version `version` (a layout like
/// the current one's), with their checksums made anew.
fn set_slot_versions(bytes: &mut [u8], version: u32) {
    for slot in 0..2 {
        let m = &mut bytes[slot * 4096..slot * 4096 + 96];
        m[8..12].copy_from_slice(&version.to_le_bytes());
        let sum = xxh3(&m[..88]);
        m[88..96].copy_from_slice(&sum.to_le_bytes());
    }
}

/// xxh3-64, as the meta slots use it (through the fuzzing API's re-export of the format).
fn xxh3(b: &[u8]) -> u64 {
    larchdb::testing::xxh3_64(b)
}

crate::also_cached!(
    immediate_commits_survive_losing_every_unsynced_page,
    eventual_commits_survive_a_process_crash_and_sync_makes_them_durable,
    a_commit_whose_sync_fails_is_never_seen,
    a_damaged_log_record_is_reported,
    read_only_open_replays_the_log_in_memory,
);

/// `Database::checkpoint()` at a quiet moment moves the checkpoint a full log would force onto
/// a later commit (README, "Limits and behaviour"): the log starts over there, so a whole log's
/// worth of commits follows it before one of them checkpoints.
#[test]
fn a_checkpoint_at_a_quiet_moment_moves_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    // The smallest region, which bursts cannot grow: a checkpoint every so many commits.
    let db = Database::builder()
        .log_capacity(256 << 10)
        .sync_interval(None)
        .open(dir.path().join("q.larch"))
        .unwrap();
    let mut i = 0u32;
    // One `Eventual` commit; the checkpoints made so far. 500 keys, rewritten: the table stays
    // small, so only a full log calls for checkpoints.
    let mut commit = || {
        let value = [i as u8; 120];
        put(&db, &(i % 500).to_be_bytes(), &value, Durability::Eventual).unwrap();
        i += 1;
        db.metrics().checkpoints
    };
    // Commits until one checkpoints; how many it took (at most `limit`).
    let until_checkpoint = |commit: &mut dyn FnMut() -> u64, limit: u64| {
        let before = db.metrics().checkpoints;
        let n = (1..=limit).find(|_| commit() > before);
        n.unwrap_or_else(|| panic!("no checkpoint in {limit} commits"))
    };
    // The first full log, then a whole log's worth of commits.
    until_checkpoint(&mut commit, 100_000);
    let period = until_checkpoint(&mut commit, 100_000);
    assert!(period > 100, "a checkpoint every {period} commits");
    // Half a log, a checkpoint at a quiet moment, then three quarters of a log: past the point
    // where the full log would have called for one, and no commit did.
    for _ in 0..period / 2 {
        commit();
    }
    let before = db.metrics().checkpoints;
    db.checkpoint().unwrap();
    let after = db.metrics().checkpoints;
    assert_eq!(
        after,
        before + 1,
        "Database::checkpoint made one checkpoint"
    );
    for k in 0..period * 3 / 4 {
        assert_eq!(
            commit(),
            after,
            "commit {k} after the checkpoint made another"
        );
    }
    // And the log fills again a whole log after the quiet checkpoint.
    until_checkpoint(&mut commit, period);
    db.check().unwrap();
}

/// Many small commits on a small file grow its log region beyond a sixteenth of the file (up to
/// the file's size, or 1 MiB), so that they need fewer checkpoints; the file stays within that
/// bound.
#[test]
fn bursts_of_small_commits_get_a_larger_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .sync_interval(None)
        .durability(Durability::Eventual)
        .open(dir.path().join("b.larch"))
        .unwrap();
    for i in 0..20_000u32 {
        put(&db, &i.to_be_bytes(), &[3u8; 100], Durability::Eventual).unwrap();
    }
    let m = db.metrics();
    let s = db.stats().unwrap();
    eprintln!(
        "20,000 small commits: {} checkpoints, {} pages, {} log pages",
        m.checkpoints, s.page_count, s.log_pages
    );
    // 20,000 records of 160 bytes each (3.2 MB): 12 checkpoints with a 256 KiB region, 4 once it
    // has grown to 1 MiB.
    assert!(m.checkpoints < 8, "{} checkpoints", m.checkpoints);
    // A 3.4 MB file: the region stops at 1 MiB (4 MiB would be larger than the file).
    assert!(s.log_pages * 4096 <= 1 << 20, "{} log pages", s.log_pages);
    db.check().unwrap();
}

/// A commit too large for a log record is a checkpoint: its pages (64 KiB values in overflow
/// runs) go to the file directly, sealed in place, instead of into the write window and out of it
/// again in sealed copies at once. A window of earlier commits is flushed first. Readers of the
/// version before and after see their values; the file checks and reopens clean.
#[test]
fn a_checkpoint_commit_writes_its_pages_without_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.larch");
    let db = Database::builder()
        .sync_interval(None)
        .durability(Durability::Immediate)
        .open(&path)
        .unwrap();
    put(&db, b"small", b"v", Durability::Immediate).unwrap();
    put(&db, b"small", b"w", Durability::Immediate).unwrap();
    let value = |i: u32| vec![i as u8; 64 << 10];
    let before = db.metrics();
    let old = db.begin_read().unwrap();
    for round in 0..3u32 {
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            for i in round * 100..(round + 1) * 100 {
                t.insert(&i.to_be_bytes(), &value(i)).unwrap();
            }
        }
        w.commit().unwrap();
    }
    let m = db.metrics();
    assert_eq!(m.checkpoints - before.checkpoints, 3, "{m:?}");
    assert_eq!(
        m.window_flushes - before.window_flushes,
        1,
        "only the window of the small commit's log record: {m:?}"
    );
    assert_eq!(get(&db, b"small").as_deref(), Some(&b"w"[..]));
    assert_eq!(old.open_table("t").unwrap().len().unwrap(), 1);
    let check = |db: &Database| {
        let r = db.begin_read().unwrap();
        let t = r.open_table("t").unwrap();
        assert_eq!(t.len().unwrap(), 301);
        for i in 0..300u32 {
            assert_eq!(t.get(&i.to_be_bytes()).unwrap(), Some(&value(i)[..]));
        }
        db.check().unwrap();
    };
    check(&db);
    drop(old);
    drop(db);
    check(&Database::open(&path).unwrap());
}
