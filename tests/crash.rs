//! Crash consistency on the simulated disk: a seeded workload (inserts, overwrites, removes, large
//! values, several tables, Immediate and Eventual commits, syncs) runs once through
//! `larchdb::testing::SimDisk`, which logs every change. Then, for many crash points (right after
//! every sync, right before it, and random points between) and several random outcomes per point
//! (each unsynced write applied, dropped, torn or garbled), the crash image is reopened and must:
//! open, pass `check()`, keep every commit that was durable, and equal exactly one committed state
//! between the last durable commit and the last one that had started writing (never a mixture).
//!
//! `LARCH_CRASH_SCALE=N` runs N times as many workloads (default 1; CI runs over 10,000 outcomes).

mod common;

use common::{read_state, State};
use larchdb::testing::{Rng, SimDisk};
use larchdb::{Database, Durability};
use std::sync::Arc;
use std::time::Duration;

const TABLES: [&str; 3] = ["a", "b", "c"];

/// How often the background thread syncs the log in most runs: the library's default
/// (`Builder::sync_interval`).
const SYNC_EVERY: Duration = Duration::from_millis(100);

/// One commit of the workload: its log range and the state it committed.
struct Commit {
    /// The simulated disk's log length when the commit started, and when it returned.
    start: usize,
    end: usize,
    /// An `Immediate` commit: if it changed the state, durable once it returned, so from log
    /// position `end` on.
    immediate: bool,
    state: State,
}

/// Commits a write transaction with `durability` and records the state it committed with the
/// log range its commit wrote: [`Commit`] 0 is the state the file opened at.
fn commit_and_record(
    mut w: larchdb::WriteTxn,
    durability: Durability,
    disk: &SimDisk,
    state: &State,
    commits: &mut Vec<Commit>,
) {
    w.set_durability(durability);
    let start = disk.log_len();
    w.commit().unwrap();
    commits.push(Commit {
        start,
        end: disk.log_len(),
        immediate: durability == Durability::Immediate,
        state: state.clone(),
    });
}

/// The state `db` opened at, as commit 0 of a run.
fn opened_state(db: &Database) -> (State, Vec<Commit>) {
    let state = read_state(db);
    let first = Commit {
        start: 0,
        end: 0,
        immediate: false,
        state: state.clone(),
    };
    (state, vec![first])
}

struct Run {
    disk: Arc<SimDisk>,
    /// Commit 0 is the empty database created on open.
    commits: Vec<Commit>,
    /// Compactions that truncated the file.
    shrunk: usize,
    /// Write windows handed off when full.
    hand_offs: u64,
}

/// A random value; with `big`, overflow values are long runs (up to 300 KB), so that removing
/// them frees runs that later values reuse and tails that compaction gives back.
fn value(rng: &mut Rng, big: bool) -> Vec<u8> {
    let len = match rng.below(20) {
        0 if big => 50_000 + rng.below(250_000) as usize,
        0 => 5_000 + rng.below(20_000) as usize, // an overflow value
        1..=4 => 0,
        _ => rng.below(300) as usize,
    };
    let b = rng.next_u64() as u8;
    (0..len).map(|i| b.wrapping_add(i as u8)).collect()
}

/// Runs the workload of `seed` through a simulated disk and records every commit.
fn workload(seed: u64, dir: &std::path::Path) -> Run {
    let path = dir.join(format!("work-{seed}.larch"));
    workload_on(seed, &path, SimDisk::new(), 40, false, SYNC_EVERY)
}

/// Runs `commits` steps of the workload of `seed` on the file at `path` (whose durable contents
/// `disk` knows), starting from whatever state the file opens at (commit 0), with the background
/// thread syncing the log every `sync_every`. Now and then it compacts the database (commits that
/// change no state, move pages and truncate the file).
fn workload_on(
    seed: u64,
    path: &std::path::Path,
    disk: Arc<SimDisk>,
    steps: usize,
    big: bool,
    sync_every: Duration,
) -> Run {
    // A small log region keeps the simulated disk's images small, and checkpoints frequent.
    let db = Database::builder()
        .log_capacity(256 << 10)
        .sync_interval(Some(sync_every))
        .open_simulated(path, disk.clone())
        .unwrap();
    let mut rng = Rng::new(seed);
    let mut shrunk = 0;
    let (mut state, mut commits) = opened_state(&db);
    for step in 0..steps {
        let mut next = state.clone();
        let mut w = db.begin_write().unwrap();
        for _ in 0..rng.below(60) + 1 {
            let t = TABLES[rng.below(3) as usize];
            let key = format!("k{:04}", rng.below(400)).into_bytes();
            let mut table = w.open_table(t).unwrap();
            let m = next.entry(t.to_string()).or_default();
            if rng.below(4) == 0 {
                assert_eq!(table.remove(&key).unwrap(), m.remove(&key).is_some());
            } else {
                let v = value(&mut rng, big);
                table.insert(&key, &v).unwrap();
                m.insert(key, v);
            }
        }
        if rng.below(25) == 0 || (big && step % 10 == 9) {
            let t = TABLES[rng.below(3) as usize];
            assert_eq!(w.delete_table(t).unwrap(), next.remove(t).is_some());
        }
        if rng.below(8) == 0 {
            w.abort().unwrap();
            continue;
        }
        let durability = if rng.below(2) == 0 {
            Durability::Immediate
        } else {
            Durability::Eventual
        };
        state = next;
        commit_and_record(w, durability, &disk, &state, &mut commits);
        let compact_now = big && step % 10 == 9;
        match if compact_now { 2 } else { rng.below(12) } {
            0 => db.sync().unwrap(),
            1 => db.checkpoint().unwrap(),
            2 => {
                let c = db.compact().unwrap();
                shrunk += usize::from(c.file_after < c.file_before);
            }
            _ => {}
        }
    }
    Run {
        disk,
        commits,
        shrunk,
        hand_offs: db.metrics().window_hand_offs,
    }
}

/// Checks one crash outcome; returns whether it recovered a commit newer than the last durable
/// one (an Eventual commit whose pages all happened to reach the disk).
fn check_outcome(
    run: &Run,
    point: usize,
    rng: &mut Rng,
    file: &std::path::Path,
    prefix: bool,
) -> bool {
    let image = if prefix {
        run.disk.prefix_image(point)
    } else {
        run.disk.crash_image(point, rng)
    };
    std::fs::write(file, &image).unwrap();
    // Durable: by the crash point, an `Immediate` commit that changed the state had returned
    // (one that changed nothing writes nothing: it makes no earlier `Eventual` commit durable), a
    // whole-file sync completed after the commit started writing, or a log sync wrote the
    // commit's record (a log sync that merely completed after the commit started may have taken
    // the log's tail before the record was appended).
    let acknowledged = |i: usize| {
        let c = &run.commits[i];
        c.immediate && c.end <= point && c.state != run.commits[i - 1].state
    };
    let durable = (1..run.commits.len())
        .rev()
        .find(|&i| {
            let c = &run.commits[i];
            acknowledged(i) || run.disk.durable_by(c.start, c.end, point)
        })
        .unwrap_or(0);
    // Possibly recovered: any commit that had started writing by the crash point.
    let started = run
        .commits
        .iter()
        .rposition(|c| c.start < point)
        .unwrap_or(0);
    let db = Database::open(file).unwrap_or_else(|e| panic!("crash at {point}: open failed: {e}"));
    db.check()
        .unwrap_or_else(|e| panic!("crash at {point}: check failed: {e}"));
    let got = read_state(&db);
    // Tables that exist but are empty are equal to absent ones only if the model has them too.
    let found = (durable..=started)
        .rev()
        .find(|&c| run.commits[c].state == got);
    match found {
        Some(c) => c > durable,
        None => panic!(
            "crash at {point}: recovered state matches no commit in {durable}..={started} \
             (durable..started); {} tables",
            got.len()
        ),
    }
}

/// Where to crash a run: just before and just after each sync completed, at `random` random
/// points, and at the end.
fn crash_points(run: &Run, rng: &mut Rng, random: usize) -> Vec<usize> {
    let len = run.disk.log_len();
    let mut points: Vec<usize> = Vec::new();
    for s in run.disk.sync_points() {
        points.extend([s - 1, s]);
    }
    for _ in 0..random {
        points.push(rng.below(len as u64 + 1) as usize);
    }
    points.push(len);
    points
}

/// Checks `per_point` outcomes at each crash point of `run` (its syncs, and `random` random
/// points): the first keeps every change up to the point, the others garble unsynced ones.
/// Returns the outcomes checked and how many recovered a commit newer than the last durable one.
fn check_run(
    run: &Run,
    rng: &mut Rng,
    file: &std::path::Path,
    random: usize,
    per_point: usize,
) -> (u64, u64) {
    let (mut outcomes, mut beyond_durable) = (0u64, 0u64);
    for p in crash_points(run, rng, random) {
        for i in 0..per_point {
            outcomes += 1;
            if check_outcome(run, p, rng, file, i == 0) {
                beyond_durable += 1;
            }
        }
    }
    (outcomes, beyond_durable)
}

#[test]
fn crash_consistency() {
    let scale: u64 = std::env::var("LARCH_CRASH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crashed.larch");
    let (mut outcomes, mut beyond_durable) = (0u64, 0u64);
    for seed in 0..5 * scale {
        let run = workload(seed, dir.path());
        let (checked, beyond) = check_run(&run, &mut Rng::new(seed ^ 0xC0FFEE), &file, 250, 8);
        outcomes += checked;
        beyond_durable += beyond;
    }
    eprintln!("crash outcomes checked: {outcomes} ({beyond_durable} recovered a commit newer than the last durable one)");
    assert!(outcomes >= 10_000 * scale, "only {outcomes} outcomes");
    assert!(
        beyond_durable > 0,
        "no outcome ever kept an unsynced commit: the test is not probing that case"
    );
}

/// Run allocation, shrinking and compaction under power cuts: the workload with large values
/// (freed runs reused by later values, free tails given back by compaction and truncated after
/// its checkpoints), crashed right before and after every sync and at random points.
#[test]
fn crash_consistency_with_runs_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crashed-big.larch");
    let (mut outcomes, mut shrunk) = (0u64, 0);
    for seed in 0..2u64 {
        let path = dir.path().join(format!("big-{seed}.larch"));
        let run = workload_on(500 + seed, &path, SimDisk::new(), 40, true, SYNC_EVERY);
        shrunk += run.shrunk;
        outcomes += check_run(&run, &mut Rng::new(seed ^ 0xB16), &file, 40, 3).0;
    }
    eprintln!("crash outcomes with runs and compaction checked: {outcomes}; {shrunk} truncations");
    assert!(
        shrunk > 0,
        "no compaction truncated the file: the test is not probing it"
    );
}

/// The background thread syncing the log every 2 ms instead of every 100: its log syncs, which
/// run beside the commits, then come between a commit's writes far more often. The same checks.
/// (Runs like these caught the simulated disk logging such a sync's write and the mark that makes
/// it durable apart, with a commit's write between them taken for the synced one.)
#[test]
fn crash_consistency_with_a_busy_background_thread() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crashed-busy.larch");
    let mut outcomes = 0;
    for seed in 0..6u64 {
        let path = dir.path().join(format!("busy-{seed}.larch"));
        let every = Duration::from_millis(2);
        let run = workload_on(700 + seed, &path, SimDisk::new(), 40, false, every);
        outcomes += check_run(&run, &mut Rng::new(seed ^ 0xB5), &file, 40, 3).0;
    }
    eprintln!("crash outcomes with a busy background thread checked: {outcomes}");
}

/// Runs `steps` small commits (one to three inserts or removes among 3,000 keys of table "a",
/// `Immediate` or `Eventual`, a sync now and then) on a simulated disk, with write windows of
/// `window` bytes: commits of up to a quarter of that go to the window, which fills every few
/// commits and is handed off (on the simulated disk, flushed at the next wait for it).
fn small_commits(seed: u64, path: &std::path::Path, steps: usize, window: u64) -> Run {
    let disk = SimDisk::new();
    let db = Database::builder()
        .log_capacity(256 << 10)
        .window_bytes(window)
        .open_simulated(path, disk.clone())
        .unwrap();
    let mut rng = Rng::new(seed);
    let (mut state, mut commits) = opened_state(&db);
    for _ in 0..steps {
        let w = db.begin_write().unwrap();
        {
            let mut table = w.open_table("a").unwrap();
            let m = state.entry("a".to_string()).or_default();
            for _ in 0..rng.below(3) + 1 {
                let key = format!("k{:05}", rng.below(3000)).into_bytes();
                if rng.below(5) == 0 {
                    assert_eq!(table.remove(&key).unwrap(), m.remove(&key).is_some());
                } else {
                    let v = vec![rng.next_u64() as u8; 20 + rng.below(100) as usize];
                    table.insert(&key, &v).unwrap();
                    m.insert(key, v);
                }
            }
        }
        let durability = match rng.below(3) {
            0 => Durability::Immediate,
            _ => Durability::Eventual,
        };
        commit_and_record(w, durability, &disk, &state, &mut commits);
        if rng.below(40) == 0 {
            db.sync().unwrap();
        }
    }
    Run {
        disk,
        commits,
        shrunk: 0,
        hand_offs: db.metrics().window_hand_offs,
    }
}

/// Write windows handed off when full under power cuts ([`small_commits`] with 64 KiB
/// windows): the older window is not in the file while later commits are made, and large
/// commits, checkpoints and the next hand-off wait for it.
#[test]
fn crash_consistency_with_window_hand_offs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crashed-windows.larch");
    let (mut outcomes, mut hand_offs) = (0u64, 0);
    for seed in 0..2u64 {
        let path = dir.path().join(format!("windows-{seed}.larch"));
        let run = small_commits(900 + seed, &path, 300, 64 << 10);
        hand_offs += run.hand_offs;
        outcomes += check_run(&run, &mut Rng::new(seed ^ 0x3D0), &file, 100, 3).0;
    }
    eprintln!("crash outcomes with window hand-offs checked: {outcomes}; {hand_offs} hand-offs");
    assert!(
        hand_offs >= 10,
        "windows were hardly ever handed off: the test is not probing it"
    );
}

/// A process crash (no power loss) loses nothing: every change the OS has is kept, including
/// Eventual commits never synced.
#[test]
fn process_crash_keeps_eventual_commits() {
    let dir = tempfile::tempdir().unwrap();
    let run = workload(99, dir.path());
    let file = dir.path().join("process-crash.larch");
    std::fs::write(&file, run.disk.current_image()).unwrap();
    let db = Database::open(&file).unwrap();
    db.check().unwrap();
    assert!(read_state(&db) == run.commits.last().unwrap().state);
}

/// Two crashes in a row, the second one during or right after recovery: a crash image is
/// reopened through a second simulated disk, which recovers it, commits more, and is crashed in
/// turn. The second recovery must again yield exactly one committed state: the first recovery's
/// (it is durable once the writable open has synced), or one of the later commits.
#[test]
fn crash_during_and_after_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.larch");
    let second = dir.path().join("second.larch");
    let mut outcomes = 0;
    for seed in 0..6u64 {
        let run = workload(100 + seed, dir.path());
        let mut rng = Rng::new(seed);
        for _ in 0..6 {
            let p1 = rng.below(run.disk.log_len() as u64 + 1) as usize;
            let image = run.disk.crash_image(p1, &mut rng);
            std::fs::write(&first, &image).unwrap();
            // Recover it through a second disk, then keep working on it.
            let disk2 = SimDisk::starting_from(image);
            let run2 = workload_on(seed + 7, &first, disk2, 8, false, SYNC_EVERY);
            for _ in 0..12 {
                let p2 = rng.below(run2.disk.log_len() as u64 + 1) as usize;
                let prefix = rng.below(4) == 0;
                check_outcome(&run2, p2, &mut rng, &second, prefix);
                outcomes += 1;
            }
        }
    }
    eprintln!("double-crash outcomes checked: {outcomes}");
}

crate::also_cached!(
    crash_consistency,
    crash_consistency_with_runs_and_compaction,
    crash_consistency_with_a_busy_background_thread,
    process_crash_keeps_eventual_commits,
    crash_during_and_after_recovery,
);
