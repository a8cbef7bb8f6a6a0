//! Readers in other processes beside a writer (issue 16).
//!
//! The stress test runs one writer process committing bank transfers and four read-only reader
//! processes (two on the map, one on a small page cache, one that takes a snapshot and holds it)
//! that check on every snapshot that the balances add up to the constant total. The parent kills
//! the holding reader with SIGKILL while it holds its snapshot, then checks that its slot is
//! found stale and that the writer reuses space again: the file stops growing. Every child has a
//! deadline and is killed if it overstays it, so the test cannot hang.
//!
//! The children are this test binary run again with `LARCH_MP_ROLE` set (see `child`).

mod common;

use larchdb::{Backend, Database, Durability, Error};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROLE_ENV: &str = "LARCH_MP_ROLE";
const PATH_ENV: &str = "LARCH_MP_PATH";
/// Accounts in the bank table, each starting with `START` units.
const ACCOUNTS: u64 = 400;
const START: u64 = 1000;
/// Bytes of padding after each balance, so the table spans a few dozen pages.
const PAD: usize = 120;
/// The longest a child may live.
const CHILD_DEADLINE: Duration = Duration::from_secs(40);

fn value(balance: u64) -> Vec<u8> {
    let mut v = balance.to_le_bytes().to_vec();
    v.resize(8 + PAD, 0xab);
    v
}

fn balance(v: &[u8]) -> u64 {
    u64::from_le_bytes(v[..8].try_into().expect("8-byte balance"))
}

/// The stop file: children end their loops once it exists.
fn stop_file(path: &Path) -> PathBuf {
    path.with_extension("stop")
}

/// Runs only as a child process.
#[test]
fn child() {
    let (Ok(role), Ok(path)) = (std::env::var(ROLE_ENV), std::env::var(PATH_ENV)) else {
        return;
    };
    let path = PathBuf::from(path);
    let started = Instant::now();
    let stop = || stop_file(&path).exists() || started.elapsed() > CHILD_DEADLINE;
    match role.as_str() {
        "writer" => writer(&path, stop),
        "reader-map" => reader(&path, Backend::Mmap, stop),
        "reader-cached" => reader(
            &path,
            Backend::Cached {
                capacity: 256 << 10,
            },
            stop,
        ),
        "holder" => holder(&path),
        "doomed-writer" => doomed_writer(&path),
        other => panic!("unknown role {other}"),
    }
}

/// Commits transfers between random accounts until told to stop; reports its commits.
fn writer(path: &Path, stop: impl Fn() -> bool) {
    // The log region the ballast gave the file is the largest it may get, so that the region
    // does not grow (a one-time jump of the page count) when the held snapshot makes the file
    // grow.
    let db = Database::builder()
        .durability(Durability::Eventual)
        .log_capacity(8 << 20)
        .open(path)
        .expect("writer open");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut commits = 0u64;
    while !stop() {
        let wtx = db.begin_write().expect("begin_write");
        {
            let mut t = wtx.open_table("bank").expect("open bank");
            for _ in 0..2 {
                let (a, b) = (rand() % ACCOUNTS, rand() % ACCOUNTS);
                let ka = a.to_be_bytes();
                let kb = b.to_be_bytes();
                let ba = balance(&t.get(&ka).expect("get").expect("account"));
                let amount = rand() % (ba + 1);
                t.insert(&ka, &value(ba - amount)).expect("debit");
                let bb = balance(&t.get(&kb).expect("get").expect("account"));
                t.insert(&kb, &value(bb + amount)).expect("credit");
            }
        }
        if commits % 16 == 0 {
            let mut wtx = wtx;
            wtx.set_durability(Durability::Immediate);
            wtx.commit().expect("commit");
        } else {
            wtx.commit().expect("commit");
        }
        commits += 1;
        // About 1,000 commits a second: enough churn, without flooding the disk.
        std::thread::sleep(Duration::from_micros(800));
    }
    say(&format!("WRITER_COMMITS {commits}"));
}

/// Commits transfers (Eventual, never checkpointed) and says how many, until killed.
fn doomed_writer(path: &Path) {
    let db = Database::builder()
        .durability(Durability::Eventual)
        .sync_interval(None)
        .open(path)
        .expect("writer open");
    for i in 0..200u64 {
        let wtx = db.begin_write().expect("begin_write");
        {
            let mut t = wtx.open_table("bank").expect("open bank");
            let (a, b) = ((i * 7) % ACCOUNTS, (i * 13 + 1) % ACCOUNTS);
            let ba = balance(&t.get(&a.to_be_bytes()).expect("get").expect("account"));
            t.insert(&a.to_be_bytes(), &value(ba - 1)).expect("debit");
            let bb = balance(&t.get(&b.to_be_bytes()).expect("get").expect("account"));
            t.insert(&b.to_be_bytes(), &value(bb + 1)).expect("credit");
        }
        wtx.commit().expect("commit");
    }
    say("COMMITTED 200");
    loop {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sums the bank in one snapshot; returns (sum, snapshot id).
fn audit(db: &Database) -> (u64, u64) {
    let rtx = db.begin_read().expect("begin_read");
    let t = rtx.open_table("bank").expect("open bank");
    let mut sum = 0;
    let mut n = 0;
    for item in t.iter().expect("iter") {
        let (_, v) = item.expect("item");
        sum += balance(v);
        n += 1;
    }
    assert_eq!(n, ACCOUNTS, "accounts in snapshot {}", rtx.id());
    (sum, rtx.id())
}

/// Audits snapshots until told to stop; exits non-zero on a broken invariant.
fn reader(path: &Path, backend: Backend, stop: impl Fn() -> bool) {
    let db = Database::builder()
        .read_only(true)
        .backend(backend)
        .open(path)
        .expect("reader open");
    let (mut snapshots, mut distinct, mut last) = (0u64, 0u64, 0u64);
    while !stop() {
        let (sum, id) = audit(&db);
        if sum != ACCOUNTS * START {
            say(&format!("BROKEN sum {sum} in snapshot {id}"));
            std::process::exit(3);
        }
        snapshots += 1;
        if id != last {
            distinct += 1;
            last = id;
        }
    }
    db.check()
        .expect("check of the latest commit from a reader process");
    say(&format!("READER_OK {snapshots} {distinct}"));
}

/// Takes a snapshot, says so, and holds it until killed.
fn holder(path: &Path) {
    let started = Instant::now();
    let db = Database::builder()
        .read_only(true)
        .open(path)
        .expect("holder open");
    let rtx = db.begin_read().expect("begin_read");
    let (sum, id) = audit(&db);
    assert_eq!(sum, ACCOUNTS * START);
    say(&format!("HOLDING {} {id}", std::process::id()));
    while started.elapsed() < CHILD_DEADLINE {
        std::thread::sleep(Duration::from_millis(50));
        // Keep reading the held snapshot: it must stay intact while we hold it.
        let t = rtx.open_table("bank").expect("open bank");
        let s: u64 = t
            .iter()
            .expect("iter")
            .map(|i| balance(i.expect("item").1))
            .sum();
        if s != ACCOUNTS * START {
            say(&format!("BROKEN held snapshot sum {s}"));
            std::process::exit(3);
        }
    }
}

/// Writes a line to the real stdout (not the test harness's capture), flushed.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .expect("stdout");
}

/// A child process, killed if it is still running when this is dropped (a failed assertion in
/// the parent must not leave children behind).
struct Kid(Option<Child>);

impl Drop for Kid {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Spawns this binary as the child `role`.
fn spawn(role: &str, path: &Path) -> Kid {
    Kid(Some(
        Command::new(std::env::current_exe().expect("current_exe"))
            .args(["--exact", "child", "--nocapture", "--test-threads", "1"])
            .env(ROLE_ENV, role)
            .env(PATH_ENV, path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn child"),
    ))
}

/// Waits for `child` to exit within `limit` (killing it otherwise); returns its stdout.
fn finish(mut kid: Kid, what: &str, limit: Duration) -> String {
    let mut child = kid.0.take().expect("a running child");
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "{what} overstayed its deadline\nstdout:\n{}\nstderr:\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    let out = child.wait_with_output().expect("output");
    common::child_stdout(what, &out)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("metadata").len()
}

#[test]
fn bank_across_processes_with_a_killed_reader() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bank.larch");
    {
        let db = Database::open(&path).expect("create");
        let wtx = db.begin_write().expect("begin_write");
        {
            let mut t = wtx.open_table("bank").expect("open bank");
            for a in 0..ACCOUNTS {
                t.insert(&a.to_be_bytes(), &value(START)).expect("insert");
            }
            // Ballast: a 48 MiB file from the start has the commit log region the file keeps
            // while it grows during the test, so the page counts below show reuse only.
            let mut b = wtx.open_table("ballast").expect("open ballast");
            for i in 0..12_000u32 {
                b.insert(&i.to_be_bytes(), &[7u8; 4000]).expect("ballast");
            }
        }
        wtx.commit().expect("commit");
    }
    let writer = spawn("writer", &path);
    let readers = [
        spawn("reader-map", &path),
        spawn("reader-map", &path),
        spawn("reader-cached", &path),
    ];
    let mut holder = spawn("holder", &path);
    // Wait for the holder's snapshot.
    let out = (holder.0.as_mut().unwrap().stdout.take()).expect("holder stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
            if let Some(i) = line.find("HOLDING") {
                let _ = tx.send(line[i..].to_string());
            }
        }
    });
    let Ok(holding) = rx.recv_timeout(Duration::from_secs(20)) else {
        let mut h = holder.0.take().unwrap();
        let _ = h.kill();
        let out = h.wait_with_output().expect("holder output");
        panic!(
            "the holder did not take its snapshot:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let holder_pid: u64 = holding.split(' ').nth(1).unwrap().parse().unwrap();

    // A read-only handle of the parent's own watches the writer's page count (and checks each
    // commit it looks at).
    let observer = Database::builder()
        .read_only(true)
        .open(&path)
        .expect("observer open");
    // (page count, commit id): commit ids are consecutive.
    let pages = || {
        let s = observer.stats().expect("stats from a read-only handle");
        (s.page_count, s.txn_id)
    };
    // While the snapshot is held, freed pages cannot be reused: the file grows.
    std::thread::sleep(Duration::from_millis(1000));
    let pinned_before = pages();
    std::thread::sleep(Duration::from_millis(1500));
    let pinned_after = pages();

    // Kill the holder while it holds its snapshot.
    let mut h = holder.0.take().unwrap();
    h.kill().expect("kill -9 the holder");
    h.wait().expect("reap the holder");
    // Its slot is found stale (within the writer's liveness check interval) and no longer pins.
    let deadline = Instant::now() + Duration::from_secs(5);
    while observer.readers().iter().any(|&(pid, _)| pid == holder_pid) {
        assert!(Instant::now() < deadline, "the killed reader's slot stays");
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = observer.readers().len();
    // Let the writer take up what was held back, then watch the page count.
    std::thread::sleep(Duration::from_millis(1500));
    let free_before = pages();
    std::thread::sleep(Duration::from_millis(2500));
    let free_after = pages();
    let file_size = file_len(&path);
    drop(observer);

    std::fs::write(stop_file(&path), b"stop").expect("stop file");
    let wrote = finish(writer, "writer", Duration::from_secs(20));
    let mut snapshots = 0;
    for (i, r) in readers.into_iter().enumerate() {
        let out = finish(r, &format!("reader {i}"), Duration::from_secs(20));
        let line = common::tagged(&out, "READER_OK")
            .unwrap_or_else(|| panic!("reader {i} reported nothing:\n{out}"));
        let mut f = line.split(' ').skip(1).map(|n| n.parse::<u64>().unwrap());
        let (n, distinct) = (f.next().unwrap(), f.next().unwrap());
        assert!(n > 10 && distinct > 5, "reader {i}: {line}");
        snapshots += n;
    }
    let commits: u64 = common::tagged(&wrote, "WRITER_COMMITS")
        .expect("writer report")
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    println!(
        "{commits} commits, {snapshots} audited snapshots in {:.1?}; (pages, txn) while pinned \
         {pinned_before:?} -> {pinned_after:?}, after the kill {free_before:?} -> \
         {free_after:?}; file {file_size} bytes",
        started.elapsed()
    );
    assert!(commits > 1000, "writer made {commits} commits");
    assert_eq!(
        left, 3,
        "three readers left once the holder's slot was reclaimed"
    );
    // Pages the file grew by per commit: while the snapshot was held (every commit's pages are
    // new), and once the killed reader's slot was reclaimed (freed pages are reused).
    let rate = |(p0, t0): (u64, u64), (p1, t1): (u64, u64)| {
        p1.saturating_sub(p0) as f64 / t1.saturating_sub(t0).max(1) as f64
    };
    let (pinned, freed) = (
        rate(pinned_before, pinned_after),
        rate(free_before, free_after),
    );
    println!("growth: {pinned:.2} pages per commit while pinned, {freed:.3} after the kill");
    assert!(
        pinned > 1.0,
        "the held snapshot should pin space: {pinned_before:?} -> {pinned_after:?}"
    );
    // (Not exactly 0: with tens of thousands of free pages, edits of the freelist tree take some
    // pages from the end of the file for a few thousand commits, about 1 page per commit and
    // decaying to 0.1, as they do in one process after a long-lived snapshot ends.)
    assert!(
        freed < pinned / 8.0,
        "the file keeps growing after the killed reader's slot was reclaimed: \
         {free_before:?} -> {free_after:?}"
    );
    let db = Database::open(&path).expect("reopen");
    db.check().expect("check");
    let (sum, _) = audit(&db);
    assert_eq!(sum, ACCOUNTS * START);
}

#[test]
fn readers_full_and_two_writers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.larch");
    let db = Database::builder().max_readers(2).open(&path).unwrap();
    let a = Database::builder().read_only(true).open(&path).unwrap();
    let b = Database::builder().read_only(true).open(&path).unwrap();
    let c = Database::builder().read_only(true).open(&path);
    assert!(matches!(c, Err(Error::ReadersFull(2))), "{c:?}");
    assert!(matches!(Database::open(&path), Err(Error::DatabaseLocked)));
    drop(a);
    let c = Database::builder().read_only(true).open(&path).unwrap();
    drop((b, c, db));
}

#[test]
fn links_find_the_same_lock_or_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.larch");
    let sym = dir.path().join("sym.larch");
    let hard = dir.path().join("hard.larch");
    drop(Database::open(&path).unwrap());
    std::os::unix::fs::symlink(&path, &sym).unwrap();
    std::fs::hard_link(&path, &hard).unwrap();
    // A writer through the symbolic link, a reader through the real path: one lock file.
    let db = Database::open(&sym).unwrap();
    let ro = Database::builder().read_only(true).open(&path).unwrap();
    let wtx = db.begin_write().unwrap();
    wtx.open_table("t").unwrap().insert(b"k", b"v").unwrap();
    wtx.commit().unwrap();
    let rtx = ro.begin_read().unwrap();
    assert_eq!(
        rtx.open_table("t").unwrap().get(b"k").unwrap(),
        Some(&b"v"[..])
    );
    // Two writers are refused through any path.
    assert!(matches!(Database::open(&hard), Err(Error::DatabaseLocked)));
    assert!(matches!(Database::open(&path), Err(Error::DatabaseLocked)));
    // A reader through a hard link cannot see the writer's lock file: refused.
    let r = Database::builder().read_only(true).open(&hard);
    assert!(matches!(r, Err(Error::LockFile(_))), "{r:?}");
}

/// Creates the bank at `path`, starts `doomed_writer` on it and waits for its 200 commits.
fn doomed_writer_committed(path: &Path) -> Kid {
    {
        let db = Database::open(path).expect("create");
        let wtx = db.begin_write().expect("begin_write");
        {
            let mut t = wtx.open_table("bank").expect("open bank");
            for a in 0..ACCOUNTS {
                t.insert(&a.to_be_bytes(), &value(START)).expect("insert");
            }
        }
        wtx.commit().expect("commit");
    }
    let mut writer = spawn("doomed-writer", path);
    let out = (writer.0.as_mut().unwrap().stdout.take()).expect("writer stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
            if line.contains("COMMITTED") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the writer did not commit");
    writer
}

/// Kills `kid` with SIGKILL and reaps it.
fn kill(mut kid: Kid) {
    let mut c = kid.0.take().unwrap();
    c.kill().expect("kill -9");
    c.wait().expect("reap");
}

/// The balances after `doomed_writer`'s 200 transfers.
fn doomed_model() -> Vec<u64> {
    let mut model = vec![START; ACCOUNTS as usize];
    for i in 0..200u64 {
        model[((i * 7) % ACCOUNTS) as usize] -= 1;
        model[((i * 13 + 1) % ACCOUNTS) as usize] += 1;
    }
    model
}

/// Checks `db`'s newest commit against `doomed_model`.
fn check_doomed(db: &Database) {
    let rtx = db.begin_read().unwrap();
    let t = rtx.open_table("bank").unwrap();
    for (a, want) in doomed_model().iter().enumerate() {
        let got = balance(t.get(&(a as u64).to_be_bytes()).unwrap().unwrap());
        assert_eq!(got, *want, "account {a} after the 200 transfers");
    }
}

/// A writer killed with SIGKILL after commits it never checkpointed: a read-only handle keeps
/// reading its last published commit; a new writer opens once that handle's snapshots end,
/// recovers the commits from the log, and the reader follows it.
#[test]
fn a_killed_writer_and_its_successor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.larch");
    let writer = doomed_writer_committed(&path);
    let ro = Database::builder()
        .read_only(true)
        .open(&path)
        .expect("read-only open");
    let held = ro.begin_read().expect("begin_read");
    let seen = held.id();
    kill(writer);
    // The killed writer's last commit stays readable.
    let (sum, id) = audit(&ro);
    assert_eq!((sum, id), (ACCOUNTS * START, seen));
    drop(held);
    // A new writer recovers the commits from the log, and the reader follows it.
    let db = Database::open(&path).expect("writable open after the kill");
    check_doomed(&db);
    let wtx = db.begin_write().unwrap();
    wtx.open_table("after").unwrap().insert(b"k", b"v").unwrap();
    wtx.commit().unwrap();
    let rtx = ro
        .begin_read()
        .expect("begin_read after the new writer opened");
    assert!(rtx.id() > seen);
    assert_eq!(
        rtx.open_table("after").unwrap().get(b"k").unwrap(),
        Some(&b"v"[..])
    );
    drop(rtx);
    let (sum, _) = audit(&ro);
    assert_eq!(sum, ACCOUNTS * START);
    ro.check().expect("check from the reader");
}

/// A read-only handle on a small page cache beside a writer that keeps reusing pages: every
/// snapshot reads exactly the writer's commit, never a cached copy of a page from before its
/// reuse (the handle drops the pages the lock file's written ring lists).
#[test]
fn a_cached_reader_never_serves_a_reused_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.larch");
    let db = Database::builder()
        .durability(Durability::Eventual)
        .open(&path)
        .unwrap();
    let ro = Database::builder()
        .read_only(true)
        .backend(Backend::Cached { capacity: 1 << 20 })
        .open(&path)
        .unwrap();
    let mut model = std::collections::BTreeMap::new();
    for round in 0..300u32 {
        let wtx = db.begin_write().unwrap();
        {
            let mut t = wtx.open_table("t").unwrap();
            for k in 0..40u32 {
                let key = ((k * 37 + round * 11) % 400).to_be_bytes();
                let v = vec![(round % 251) as u8; 60 + (k as usize % 5) * 30];
                t.insert(&key, &v).unwrap();
                model.insert(key.to_vec(), v);
            }
        }
        wtx.commit().unwrap();
        let rtx = ro.begin_read().unwrap();
        let t = rtx.open_table("t").unwrap();
        let seen: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = t
            .iter()
            .unwrap()
            .map(|i| {
                let (k, v) = i.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect();
        assert!(
            seen == model,
            "round {round}: the reader's snapshot differs"
        );
    }
    ro.check().unwrap();
}

/// Commits made while no read-only handle was attached wait in the writer's write window, not
/// in the file, and keep the table's root out of the catalog; a read-only handle that opens
/// then still sees the newest of them (the writer's background thread checkpoints, with a
/// commit that writes the root into the catalog, and publishes that).
#[test]
fn a_late_reader_sees_commits_from_the_write_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("late.larch");
    let db = Database::builder()
        .durability(Durability::Eventual)
        .open(&path)
        .unwrap();
    for i in 0..50u32 {
        let wtx = db.begin_write().unwrap();
        wtx.open_table("t")
            .unwrap()
            .insert(&i.to_be_bytes(), b"v")
            .unwrap();
        wtx.commit().unwrap();
    }
    let newest = db.begin_read().unwrap().id();
    let ro = Database::builder().read_only(true).open(&path).unwrap();
    let rtx = ro.begin_read().unwrap();
    assert_eq!(rtx.id(), newest + 1, "the checkpoint's commit");
    assert_eq!(rtx.id(), db.begin_read().unwrap().id());
    assert_eq!(rtx.open_table("t").unwrap().len().unwrap(), 50);
    // From now on every commit is published at once.
    let wtx = db.begin_write().unwrap();
    wtx.open_table("t").unwrap().insert(b"new", b"v").unwrap();
    wtx.commit().unwrap();
    let rtx = ro.begin_read().unwrap();
    assert_eq!(rtx.id(), db.begin_read().unwrap().id());
    assert_eq!(rtx.open_table("t").unwrap().len().unwrap(), 51);
}

/// With nothing published (no writer has run since the lock file was made), a read-only handle
/// reads the file: the last checkpoint and the log replayed in memory. A writer that opens later
/// recovers the same commits, and the reader follows it.
#[test]
fn a_reader_with_nothing_published_replays_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.larch");
    let writer = doomed_writer_committed(&path);
    kill(writer);
    std::fs::remove_file(dir.path().join("f.larch-lock")).expect("remove the lock file");
    let ro = Database::builder().read_only(true).open(&path).unwrap();
    check_doomed(&ro);
    let held = ro.begin_read().unwrap();
    let db = Database::open(&path).expect("writable open beside the reader");
    check_doomed(&db);
    let wtx = db.begin_write().unwrap();
    wtx.open_table("after").unwrap().insert(b"k", b"v").unwrap();
    wtx.commit().unwrap();
    // The held snapshot still reads the replayed state; a new one follows the writer.
    assert!(held.open_table("after").is_err());
    let (sum, _) = audit(&ro);
    assert_eq!(sum, ACCOUNTS * START);
    let rtx = ro.begin_read().unwrap();
    assert_eq!(
        rtx.open_table("after").unwrap().get(b"k").unwrap(),
        Some(&b"v"[..])
    );
    drop((rtx, held));
    ro.check().unwrap();
    db.check().unwrap();
}
