//! I/O faults on the simulated disk: for every N, the Nth write, sync or size change of a
//! workload fails (once, or from then on; EIO or ENOSPC). The failing call returns an error; the
//! handle then refuses writes (or, for a failure before anything was written, such as a full disk
//! while preallocating, simply reports it); reads still show the last good commit; and a reopen
//! shows the last acknowledged commit or the one in flight, and passes `check()`.

mod common;

use common::{read_state, State};
use larchdb::testing::{Rng, SimDisk};
use larchdb::{Database, Durability, Error};
use std::path::Path;

/// One step of the workload: the entries a commit writes or removes.
struct Step {
    puts: Vec<(String, Vec<u8>, Option<Vec<u8>>)>,
    durability: Durability,
    sync_after: bool,
}

fn steps(seed: u64) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    (0..40)
        .map(|i| Step {
            puts: (0..rng.below(40) + 1)
                .map(|_| {
                    let t = ["x", "y"][rng.below(2) as usize].to_string();
                    let k = format!("key{:03}", rng.below(150)).into_bytes();
                    let v = match rng.below(10) {
                        0 => None,
                        1 => Some(vec![i as u8; 9000]), // overflow
                        _ => Some(vec![i as u8; rng.below(200) as usize]),
                    };
                    (t, k, v)
                })
                .collect(),
            durability: if rng.below(3) == 0 {
                Durability::Eventual
            } else {
                Durability::Immediate
            },
            sync_after: rng.below(5) == 0,
        })
        .collect()
}

/// Applies a step to a model.
fn apply(state: &State, step: &Step) -> State {
    let mut s = state.clone();
    for (t, k, v) in &step.puts {
        let m = s.entry(t.clone()).or_default();
        match v {
            Some(v) => {
                m.insert(k.clone(), v.clone());
            }
            None => {
                m.remove(k);
            }
        }
    }
    s
}

/// Runs one step as a transaction (without its trailing sync).
fn run_step(db: &Database, step: &Step) -> larchdb::Result<()> {
    let mut w = db.begin_write()?;
    for (t, k, v) in &step.puts {
        let mut table = w.open_table(t)?;
        match v {
            Some(v) => table.insert(k, v)?,
            None => {
                table.remove(k)?;
            }
        }
    }
    w.set_durability(step.durability);
    w.commit()
}

/// Outcome of one faulty run.
struct Faulty {
    errors: u64,
}

/// Runs the workload with operation `n` failing; checks every invariant along the way and after
/// a reopen.
fn faulty_run(dir: &Path, steps: &[Step], n: u64, forever: bool, errno: i32) -> Faulty {
    let path = dir.join(format!("fault-{n}-{forever}-{errno}.larch"));
    let disk = SimDisk::new();
    disk.fail_op(n, forever, errno);
    let mut errors = 0;
    let mut acked = State::new();
    let mut in_flight: Option<State> = None;
    match Database::builder()
        .log_capacity(256 << 10)
        .open_simulated(&path, disk.clone())
    {
        Err(e) => {
            assert!(matches!(e, Error::Io(_)), "open failed with {e}");
            errors += 1;
        }
        Ok(db) => {
            for step in steps {
                let next = apply(&acked, step);
                let result = run_step(&db, step).and_then(|()| {
                    // Acknowledged: a failing sync afterwards cannot take it back.
                    acked = next.clone();
                    in_flight = None;
                    if step.sync_after {
                        db.sync()?;
                        db.checkpoint()?;
                        // Compaction: commits that move pages and truncate the file.
                        db.compact()?;
                    }
                    Ok(())
                });
                match result {
                    Ok(()) => {}
                    Err(e) => {
                        errors += 1;
                        assert!(
                            matches!(e, Error::Io(_) | Error::PreviousIo(_)),
                            "step failed with {e}"
                        );
                        // Readers of this handle still see the last good commit.
                        assert!(
                            read_state(&db) == acked,
                            "reads changed after a failed commit"
                        );
                        if acked != next {
                            in_flight = Some(next);
                        }
                        match db.begin_write() {
                            // Refused for good after a failure during or after writing...
                            Err(Error::PreviousIo(_)) => break,
                            // ...or the failure came before anything was written (preallocation).
                            Ok(w) => drop(w),
                            Err(e) => panic!("begin_write after a failed commit: {e}"),
                        }
                    }
                }
            }
        }
    }
    // Reopen the file as the operating system has it (no faults now).
    let db =
        Database::open(&path).unwrap_or_else(|e| panic!("fault at op {n}: reopen failed: {e}"));
    db.check()
        .unwrap_or_else(|e| panic!("fault at op {n}: check failed: {e}"));
    let got = read_state(&db);
    assert!(
        got == acked || in_flight.as_ref() == Some(&got),
        "fault at op {n} (forever: {forever}): reopened state is neither the last acknowledged \
         commit nor the one in flight"
    );
    Faulty { errors }
}

#[test]
fn every_io_fails_once_and_forever() {
    let dir = tempfile::tempdir().unwrap();
    let steps = steps(7);
    // Count the workload's operations with no fault.
    let disk = SimDisk::new();
    {
        let db = Database::builder()
            .log_capacity(256 << 10)
            .open_simulated(dir.path().join("count.larch"), disk.clone())
            .unwrap();
        for s in &steps {
            run_step(&db, s).unwrap();
            if s.sync_after {
                db.sync().unwrap();
            }
        }
    }
    let total = disk.op_count();
    assert!(total > 30, "workload too small: {total} operations");
    let mut runs = 0;
    let mut errors = 0;
    for n in 1..=total {
        for forever in [false, true] {
            let errno = if n % 2 == 0 {
                libc_eio()
            } else {
                libc_enospc()
            };
            errors += faulty_run(dir.path(), &steps, n, forever, errno).errors;
            runs += 1;
        }
    }
    eprintln!("fault runs: {runs} over {total} operations, {errors} failed calls, all consistent after reopen");
    assert!(errors >= total, "every run must see its fault");
}

/// A full disk while the file grows: the commit fails cleanly, the handle keeps working (nothing
/// was written), and nothing committed is lost.
#[test]
fn full_disk_at_growth_fails_the_commit_only() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SimDisk::new();
    let path = dir.path().join("full.larch");
    let db = Database::builder()
        .log_capacity(256 << 10)
        .open_simulated(&path, disk.clone())
        .unwrap();
    let w = db.begin_write().unwrap();
    w.open_table("t").unwrap().insert(b"a", b"1").unwrap();
    w.commit().unwrap();
    // The next operation is the preallocation of a big commit: make it fail with ENOSPC.
    let next = disk.op_count() + 1;
    disk.fail_op(next, false, libc_enospc());
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for i in 0..20_000u32 {
            t.insert(&i.to_be_bytes(), &[7u8; 200]).unwrap();
        }
    }
    let err = w.commit().unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.raw_os_error() == Some(libc_enospc())),
        "{err}"
    );
    // Nothing was written: the handle still accepts commits, and the data is intact.
    assert_eq!(
        db.begin_read()
            .unwrap()
            .open_table("t")
            .unwrap()
            .get(b"a")
            .unwrap(),
        Some(&b"1"[..])
    );
    let w = db.begin_write().unwrap();
    w.open_table("t").unwrap().insert(b"b", b"2").unwrap();
    w.commit().unwrap();
    db.check().unwrap();
}

fn libc_eio() -> i32 {
    5
}

fn libc_enospc() -> i32 {
    28
}

crate::also_cached!(
    every_io_fails_once_and_forever,
    full_disk_at_growth_fails_the_commit_only,
);
