//! Process-level crash test: a child process runs six threads that commit concurrently in loops
//! (four with Immediate durability, so their syncs are shared by group commit, and two with
//! Eventual durability, whose records are in the file once `commit` returns, so that a process
//! crash loses none of them either), each to its own table, and reports each acknowledged commit
//! on stdout; the parent kills it with SIGKILL at a random
//! moment, then reopens the file (replaying the commit log) and verifies that every acknowledged
//! commit of every thread is there, that nothing beyond the one in flight per thread is, and that
//! `check()` passes. Many rounds, on one file.
//!
//! The child is this test binary run again with `LARCH_KILL_CHILD` set (see `child`); odd rounds
//! run it on the cached backend.

use larchdb::{Database, Durability};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

const CHILD_ENV: &str = "LARCH_KILL_CHILD";
/// Set for the child (odd rounds) to open the database with the cached backend.
const CACHED_ENV: &str = "LARCH_KILL_CACHED";

/// Runs only as the child: commits forever, printing the id of each acknowledged commit.
#[test]
fn child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    if std::env::var(CACHED_ENV).is_ok() {
        common::cached(|| commit_forever(&path));
    } else {
        commit_forever(&path);
    }
}

/// Threads committing in the child, each to table `t{thread}`.
const THREADS: usize = 6;
/// Threads `0..IMMEDIATE` commit with Immediate durability, the others with Eventual.
const IMMEDIATE: usize = 4;

fn commit_forever(path: &str) {
    let db = Database::open(path).unwrap();
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let db = &db;
            s.spawn(move || commit_loop(db, thread));
        }
    });
}

/// One thread of the child: commits key after key to its table, printing `thread i` after each;
/// durably if `thread < IMMEDIATE`.
fn commit_loop(db: &Database, thread: usize) {
    let durability = match thread < IMMEDIATE {
        true => Durability::Immediate,
        false => Durability::Eventual,
    };
    let table = format!("t{thread}");
    let start = db
        .begin_read()
        .unwrap()
        .open_table(&table)
        .map(|t| t.len().unwrap())
        .unwrap_or(0);
    for i in start.. {
        let mut w = db.begin_write().unwrap();
        w.set_durability(durability);
        {
            let mut t = w.open_table(&table).unwrap();
            t.insert(&i.to_be_bytes(), &value(i)).unwrap();
            // Churn: rewrite a few older keys so pages are freed and reused.
            for j in (0..i).rev().step_by(97).take(3) {
                t.insert(&j.to_be_bytes(), &value(j)).unwrap();
            }
        }
        w.commit().unwrap();
        let mut out = std::io::stdout().lock();
        writeln!(out, "{thread} {i}").unwrap();
        out.flush().unwrap();
    }
}

/// The value of key `i`.
fn value(i: u64) -> Vec<u8> {
    vec![(i % 251) as u8; 50 + (i % 7) as usize * 1000]
}

#[test]
fn kill_minus_nine_loses_no_acknowledged_commit() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kill.larch");
    let rounds: u64 = std::env::var("LARCH_KILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    let mut rng = larchdb::testing::Rng::new(0x5EED);
    let mut totals = [0u64; THREADS];
    for round in 0..rounds {
        let seed = rng.next_u64();
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        if round % 2 == 1 {
            cmd.env(CACHED_ENV, "1");
        } else {
            cmd.env_remove(CACHED_ENV);
        }
        let mut child = cmd
            .args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut words = line.split_whitespace().map(|w| w.parse::<u64>());
                if let (Some(Ok(t)), Some(Ok(i))) = (words.next(), words.next()) {
                    let _ = tx.send((t as usize, i));
                }
            }
        });
        // Let it commit for a random while (at least one commit), then kill it mid-flight.
        let mut acked: [Option<u64>; THREADS] = [None; THREADS];
        let (t, i) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("child made no commit");
        acked[t] = Some(i);
        let deadline = Instant::now() + Duration::from_millis(20 + seed % 150);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok((t, i)) => acked[t] = Some(i),
                Err(_) => break,
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        while let Ok((t, i)) = rx.try_recv() {
            acked[t] = Some(i); // printed before the kill landed
        }
        let reopen = || {
            Database::open(&path).unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"))
        };
        let db = if round % 2 == 1 {
            common::cached(reopen)
        } else {
            reopen()
        };
        db.check()
            .unwrap_or_else(|e| panic!("round {round}: check failed: {e}"));
        let r = db.begin_read().unwrap();
        for (thread, last_acked) in acked.iter().enumerate() {
            let n = r
                .open_table(&format!("t{thread}"))
                .map(|t| t.len().unwrap())
                .unwrap_or(0);
            // Keys 0..n exist with their values: every acknowledged commit, plus perhaps the one
            // in flight, and never a gap. (A thread may not have acknowledged anything this round;
            // its table then holds what earlier rounds acknowledged, and perhaps one more.)
            if let Some(last) = *last_acked {
                assert!(
                    n > last && n <= last + 2,
                    "round {round}, thread {thread}: {n} keys after ack of {last}"
                );
            }
            assert!(
                n >= totals[thread],
                "round {round}, thread {thread}: {n} keys, fewer than before"
            );
            if n > 0 {
                let t = r.open_table(&format!("t{thread}")).unwrap();
                for i in 0..n {
                    let v = t.get(&i.to_be_bytes()).unwrap();
                    let v = v.unwrap_or_else(|| panic!("round {round}: key {i} lost"));
                    assert_eq!(v, &value(i)[..], "round {round}, thread {thread}, key {i}");
                }
            }
            totals[thread] = n;
        }
    }
    let total_acked: u64 = totals.iter().sum();
    eprintln!("{rounds} SIGKILL rounds, {total_acked} commits acknowledged and verified");
}
