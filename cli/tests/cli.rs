//! Runs the built `larch` binary: every subcommand's happy path, the dump format's round trips,
//! damage, compaction, and the errors for missing, foreign and locked files.

use larchdb::Database;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

type Contents = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Runs `larch ARGS`.
fn larch<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_larch"))
        .args(args)
        .output()
        .expect("run larch")
}

/// Runs `larch ARGS` with `input` on stdin.
fn larch_stdin<S: AsRef<std::ffi::OsStr>>(args: &[S], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_larch"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run larch");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts exit code `want`, showing the output otherwise.
#[track_caller]
fn expect(o: &Output, want: i32) {
    assert_eq!(
        code(o),
        want,
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every table and entry of the database at `path`.
fn contents(path: &Path) -> Contents {
    let db = Database::builder().read_only(true).open(path).unwrap();
    let rtx = db.begin_read().unwrap();
    let mut all = Contents::new();
    for name in rtx.list_tables().unwrap() {
        let t = rtx.open_table(&name).unwrap();
        let m = all.entry(name).or_default();
        for item in t.iter().unwrap() {
            let (k, v) = item.unwrap();
            m.insert(k.to_vec(), v.to_vec());
        }
    }
    all
}

/// Writes `data` into a new database at `path`, one transaction per table.
fn create(path: &Path, data: &Contents) {
    let db = Database::open(path).unwrap();
    for (name, entries) in data {
        let wtx = db.begin_write().unwrap();
        {
            let mut t = wtx.open_table(name).unwrap();
            for (k, v) in entries {
                t.insert(k, v).unwrap();
            }
        }
        wtx.commit().unwrap();
    }
}

/// xorshift64*, for test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Binary keys and values covering every byte value, odd table names, and an empty table.
fn binary_contents() -> Contents {
    let mut data = Contents::new();
    let all: Vec<u8> = (0..=255u8).collect();
    let t = data.entry("bin \\ täble\n".to_string()).or_default();
    for b in 0..=255u8 {
        t.insert(vec![b], vec![b; usize::from(b) % 7]);
        t.insert(vec![b, 255 - b, b' ', b'\\'], all.clone());
    }
    t.insert(all.clone(), all.iter().rev().copied().collect());
    t.insert(b"plain key".to_vec(), b"plain value with spaces".to_vec());
    data.entry("empty".to_string()).or_default();
    let mut rng = Rng(7);
    let r = data.entry("random".to_string()).or_default();
    for _ in 0..2000 {
        let klen = 1 + (rng.next() % 64) as usize;
        let vlen = (rng.next() % 300) as usize;
        r.insert(rng.bytes(klen), rng.bytes(vlen));
    }
    data
}

/// Makes a `demo` database of `keys` keys at `path`.
fn demo_db(path: &Path, keys: u32) {
    let o = larch(&["demo", "--keys", &keys.to_string(), s(path)]);
    expect(&o, 0);
}

#[test]
fn demo_with_a_path_keeps_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.larch");
    let o = larch(&["demo", "--keys", "20000", s(&db)]);
    expect(&o, 0);
    let out = stdout(&o);
    for want in [
        "insert",
        "20,000 keys",
        "get",
        "ns/get",
        "scan",
        "check   passed",
        "fill factor",
    ] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }
    assert!(db.exists());
    assert_eq!(contents(&db)["demo"].len(), 20000);
    // A second run refuses to overwrite the file, unless --force.
    let o = larch(&["demo", "--keys", "100", s(&db)]);
    expect(&o, 2);
    assert!(stderr(&o).contains("--force"));
    expect(&larch(&["demo", "--keys", "100", "--force", s(&db)]), 0);
    assert_eq!(contents(&db)["demo"].len(), 100);
}

#[test]
fn demo_without_a_path_removes_its_temporary_file() {
    let o = larch(&["demo", "--keys", "20000"]);
    expect(&o, 0);
    let out = stdout(&o);
    let first = out.lines().next().unwrap();
    let path = first
        .strip_prefix("larch demo: ")
        .and_then(|r| r.split(" (").next())
        .unwrap();
    assert!(out.contains("check   passed"), "{out}");
    assert!(!Path::new(path).exists(), "{path} was left behind");
    let lock = format!("{path}-lock");
    assert!(!Path::new(&lock).exists(), "{lock} was left behind");
}

#[test]
fn stat_prints_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.larch");
    demo_db(&db, 20000);
    let o = larch(&["stat", s(&db)]);
    expect(&o, 0);
    let out = stdout(&o);
    for want in [
        "format        version 4, page size 4096",
        "last txn",
        "file size",
        "by kind",
        "free pages",
        "fill factor",
        "demo",
        "20000",
    ] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }

    let o = larch(&["stat", "--json", s(&db)]);
    expect(&o, 0);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["format_version"], 4);
    assert_eq!(j["page_size"], 4096);
    assert_eq!(j["tables"][0]["name"], "demo");
    assert_eq!(j["tables"][0]["entries"], 20000);
    assert!(j["tables"][0]["depth"].as_u64().unwrap() >= 2);
    assert!(j["pages"]["leaf"].as_u64().unwrap() > 100);
    assert_eq!(j["pages"]["meta"], 2);
    let fill = j["fill_factor"].as_f64().unwrap();
    assert!(fill > 0.3 && fill <= 1.0, "{fill}");
    assert_eq!(
        j["file_size"].as_u64().unwrap(),
        std::fs::metadata(&db).unwrap().len()
    );
    assert!(j["txn_id"].as_u64().unwrap() > 0);
}

#[test]
fn check_passes_on_a_healthy_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.larch");
    demo_db(&db, 5000);
    let o = larch(&["check", s(&db)]);
    expect(&o, 0);
    assert!(stdout(&o).contains("ok, no damage found"), "{}", stdout(&o));
}

/// A few thousand keys in table "a" in one commit, then a second commit that touches table "b"
/// only: the first commit's table pages stay reachable, and the open does not re-verify them.
/// Returns the number of pages before the commit log's region (which follows the tree pages).
fn two_commits(db: &Path) -> u64 {
    let mut rng = Rng(3);
    let mut data = Contents::new();
    let t = data.entry("a".to_string()).or_default();
    for _ in 0..4000 {
        t.insert(rng.bytes(16), rng.bytes(100));
    }
    data.entry("b".to_string())
        .or_default()
        .insert(b"k".to_vec(), b"v".to_vec());
    create(db, &data);
    let d = Database::builder().read_only(true).open(db).unwrap();
    let stats = d.stats().unwrap();
    stats.page_count - stats.log_pages
}

#[test]
fn check_finds_a_damaged_page_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.larch");
    let pages = two_commits(&db);
    expect(&larch(&["check", s(&db)]), 0);
    let page = pages / 2;
    assert!(page >= 2);
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(page * 4096 + 2000)).unwrap();
        f.write_all(&[0xA5; 100]).unwrap();
    }
    let o = larch(&["check", s(&db)]);
    expect(&o, 1);
    let out = stdout(&o);
    assert!(out.contains(&format!("page {page}")), "{out}");
    assert!(out.contains("DAMAGED"), "{out}");

    // Elsewhere, damage is an error (exit 2) naming the page; dump and copy check first.
    let o = larch(&["stat", s(&db)]);
    expect(&o, 2);
    assert!(
        stderr(&o).contains(&format!("page {page}")),
        "{}",
        stderr(&o)
    );
    let o = larch(&["dump", s(&db)]);
    expect(&o, 2);
    assert!(stderr(&o).contains("--no-check"), "{}", stderr(&o));
    let copy = dir.path().join("copy.larch");
    expect(&larch(&["copy", s(&db), s(&copy)]), 2);
    assert!(!copy.exists());
    // --no-check dumps what can be read.
    let o = larch(&["dump", "--no-check", "-t", "b", s(&db)]);
    expect(&o, 0);
}

/// Damage in the newest commit's pages makes the open roll back to the previous commit (it looks
/// exactly like a commit interrupted by a crash); `check` must still report it, exit 1, and name
/// the page and the discarded commit.
#[test]
fn check_reports_a_rolled_back_newest_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.larch");
    demo_db(&db, 20_000);
    // A last commit that is a checkpoint of its own (no log), with many pages: damage one of them.
    let newest = {
        let d = Database::builder().log_capacity(0).open(&db).unwrap();
        let w = d.begin_write().unwrap();
        {
            let mut t = w.open_table("last").unwrap();
            for i in 0..3000u32 {
                t.insert(&i.to_be_bytes(), &[7u8; 100]).unwrap();
            }
        }
        w.commit().unwrap();
        d.stats().unwrap().txn_id
    };
    let page = {
        let d = Database::builder().read_only(true).open(&db).unwrap();
        assert!(d.recovery().is_none());
        let bytes = std::fs::read(&db).unwrap();
        (2..d.stats().unwrap().page_count)
            .find(|&p| {
                let at = p as usize * 4096;
                bytes[at] == 1 && bytes[at + 8..at + 16] == newest.to_le_bytes()
            })
            .expect("a leaf of the last commit")
    };
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(page * 4096 + 2000)).unwrap();
        f.write_all(&[0xA5; 100]).unwrap();
    }
    let o = larch(&["check", s(&db)]);
    expect(&o, 1);
    let out = stdout(&o);
    assert!(out.contains("ROLLED BACK"), "{out}");
    assert!(out.contains(&format!("page {page}")), "{out}");
}

/// A newest meta slot zeroed after the fact (no magic: damage, not a torn write) rolls the open
/// back to the other slot's commit: `check` reports it and exits 1.
#[test]
fn check_reports_a_zeroed_newest_meta_slot() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.larch");
    demo_db(&db, 2000);
    let mut bytes = std::fs::read(&db).unwrap();
    let txn = |off: usize| u64::from_le_bytes(bytes[off + 16..off + 24].try_into().unwrap());
    let newest = if txn(0) > txn(4096) { 0 } else { 4096 };
    bytes[newest..newest + 4096].fill(0);
    std::fs::write(&db, &bytes).unwrap();
    let o = larch(&["check", s(&db)]);
    expect(&o, 1);
    assert!(stdout(&o).contains("ROLLED BACK"), "{}", stdout(&o));
    assert!(stdout(&o).contains("meta slot"), "{}", stdout(&o));
}

/// Even without the up-front check, dump and copy never write out data from a page that fails
/// its checksum: the read fails, naming the page.
#[test]
fn dump_and_copy_without_check_stop_at_a_damaged_page() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.larch");
    let page = two_commits(&db) / 2;
    // One flipped bit in a cell of a page of the first commit (not re-verified at open).
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[page as usize * 4096 + 4000] ^= 0x04;
    std::fs::write(&db, &bytes).unwrap();
    let o = larch(&["dump", "--no-check", "-t", "a", s(&db)]);
    expect(&o, 2);
    assert!(
        stderr(&o).contains(&format!("page {page}")),
        "{}",
        stderr(&o)
    );
    let copy = dir.path().join("copy.larch");
    let o = larch(&["copy", "--no-check", s(&db), s(&copy)]);
    expect(&o, 2);
    assert!(
        stderr(&o).contains(&format!("page {page}")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn dump_load_dump_round_trips_binary_data_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.larch"), dir.path().join("b.larch"));
    let data = binary_contents();
    create(&a, &data);
    let dump_file = dir.path().join("a.dump");
    let o = larch(&["dump", s(&a), "-o", s(&dump_file)]);
    expect(&o, 0);
    let first = std::fs::read(&dump_file).unwrap();
    assert!(first.starts_with(b"larch-dump 1\n"));
    assert!(first.ends_with(b"done 3\n"));
    // Everything but the newlines is printable ASCII.
    assert!(first
        .iter()
        .all(|&c| c == b'\n' || (b' '..0x7f).contains(&c)));

    let o = larch(&["load", s(&b), "-i", s(&dump_file)]);
    expect(&o, 0);
    assert_eq!(contents(&b), data);
    let o = larch(&["dump", s(&b)]);
    expect(&o, 0);
    assert!(o.stdout == first, "dump | load | dump differs");

    // Through pipes: stdout of dump into stdin of load.
    let c = dir.path().join("c.larch");
    let o = larch_stdin(&["load", s(&c)], &first);
    expect(&o, 0);
    assert_eq!(contents(&c), data);
}

#[test]
fn dump_load_round_trips_large_values() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.larch"), dir.path().join("b.larch"));
    let mut rng = Rng(11);
    let mut data = Contents::new();
    let t = data.entry("big".to_string()).or_default();
    t.insert(b"random 3 MiB".to_vec(), rng.bytes(3 << 20));
    t.insert(b"zeros 2 MiB".to_vec(), vec![0; 2 << 20]);
    t.insert(b"text 1 MiB".to_vec(), b"larch ".repeat((1 << 20) / 6));
    t.insert(b"small".to_vec(), b"v".to_vec());
    create(&a, &data);
    let o = larch(&["dump", s(&a)]);
    expect(&o, 0);
    let first = o.stdout;
    let o = larch_stdin(&["load", "--batch", "1", s(&b)], &first);
    expect(&o, 0);
    assert_eq!(contents(&b), data);
    let o = larch(&["dump", s(&b)]);
    expect(&o, 0);
    assert!(o.stdout == first, "dump | load | dump differs");
    expect(&larch(&["check", s(&b)]), 0);
}

#[test]
fn load_commits_in_batches_and_merges_into_existing_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.larch");
    let mut dump = String::from("larch-dump 1\ntable t\n");
    for i in 0..1000 {
        dump.push_str(&format!(" k{i:04} v{i}\n"));
    }
    dump.push_str("end 1000\ndone 1\n");
    expect(&larch(&["put", s(&db), "t", "k0000", "old"]), 0);
    expect(&larch(&["put", s(&db), "t", "extra", "kept"]), 0);
    let o = larch_stdin(&["load", "--batch", "64", s(&db)], dump.as_bytes());
    expect(&o, 0);
    assert!(stderr(&o).contains("16 transactions"), "{}", stderr(&o));
    let c = contents(&db);
    assert_eq!(c["t"].len(), 1001);
    assert_eq!(c["t"][&b"k0000"[..]], b"v0");
    assert_eq!(c["t"][&b"extra"[..]], b"kept");
    expect(&larch(&["check", s(&db)]), 0);
}

#[test]
fn load_rejects_bad_dumps() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.larch");
    let cases: [(&[u8], &str); 8] = [
        (b"hello\n", "not a larch dump"),
        (b"larch-dump 9\n", "unsupported dump version"),
        (b"larch-dump 1\ntable t\n a b\n", "no `done` line"),
        (
            b"larch-dump 1\ntable t\n a b\nend 2\ndone 1\n",
            "the dump says 2 entries",
        ),
        (b"larch-dump 1\ntable t\n a\\zz b\nend 1\ndone 1\n", ":3:"),
        (
            b"larch-dump 1\ntable t\n a b c\nend 1\ndone 1\n",
            "must be escaped",
        ),
        (b"larch-dump 1\ndone 0", "no newline"),
        // A bad input line, not a database error: the line number and the reason.
        (
            b"larch-dump 1\ntable t\n  b\nend 1\ndone 1\n",
            ":3: empty key",
        ),
    ];
    for (input, want) in cases {
        let o = larch_stdin(&["load", s(&db)], input);
        expect(&o, 2);
        assert!(
            stderr(&o).contains(want),
            "{want:?} missing from {}",
            stderr(&o)
        );
        // Nothing was committed, so the database the load created is gone again.
        assert!(!db.exists());
    }
}

#[test]
fn dump_selects_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.larch");
    create(&db, &binary_contents());
    let o = larch(&["dump", "--table", "empty", s(&db)]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "larch-dump 1\ntable empty\nend 0\ndone 1\n");
    let o = larch(&["dump", "--table", "missing", s(&db)]);
    expect(&o, 2);
    assert!(stderr(&o).contains("missing"), "{}", stderr(&o));
}

#[test]
fn copy_compact_shrinks_after_deletes_and_keeps_contents() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src.larch"), dir.path().join("dst.larch"));
    demo_db(&src, 20000);
    {
        // Delete 90% of the keys, in several commits.
        let db = Database::open(&src).unwrap();
        let keys: Vec<Vec<u8>> = {
            let rtx = db.begin_read().unwrap();
            let t = rtx.open_table("demo").unwrap();
            t.iter().unwrap().map(|e| e.unwrap().0.to_vec()).collect()
        };
        for chunk in keys.chunks(2000) {
            let wtx = db.begin_write().unwrap();
            {
                let mut t = wtx.open_table("demo").unwrap();
                for k in chunk.iter().skip(1).take(1800) {
                    assert!(t.remove(k).unwrap());
                }
            }
            wtx.commit().unwrap();
        }
        let wtx = db.begin_write().unwrap();
        wtx.open_table("empty").unwrap();
        wtx.commit().unwrap();
    }
    let o = larch(&["copy", "--compact", s(&src), s(&dst)]);
    expect(&o, 0);
    let out = stdout(&o);
    // The demo's tables ("demo", and "demo-commits" with its 1,000 commits) and "empty".
    assert!(out.contains("compacted 3 tables, 3,000 entries"), "{out}");
    assert!(out.contains("smaller"), "{out}");
    expect(&larch(&["check", s(&dst)]), 0);
    assert_eq!(contents(&dst), contents(&src));
    let (a, b) = (
        std::fs::metadata(&src).unwrap().len(),
        std::fs::metadata(&dst).unwrap().len(),
    );
    assert!(b < a, "copy {b} bytes, source {a}");

    // The destination is never overwritten unless --force, and never the source itself.
    let o = larch(&["copy", s(&src), s(&dst)]);
    expect(&o, 2);
    assert!(stderr(&o).contains("--force"));
    let o = larch(&["copy", "--force", s(&src), s(&dst)]);
    expect(&o, 0);
    assert!(stdout(&o).starts_with("copied"));
    assert_eq!(contents(&dst), contents(&src));
    expect(&larch(&["copy", "--force", s(&src), s(&src)]), 2);
    assert_eq!(contents(&src)["demo"].len(), 2000);
}

#[test]
fn get_put_del_scan() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("i.larch");
    let db = s(&db);
    // put creates the database and the table.
    let o = larch(&["put", db, "users", "alice", "admin"]);
    expect(&o, 0);
    assert!(stdout(&o).contains("new key"));
    expect(&larch(&["put", db, "users", "bob", "reader and writer"]), 0);
    expect(&larch(&["put", db, "users", "carol", "reader"]), 0);
    expect(
        &larch(&["put", "--hex", db, "users", "0x00ff", "0xdeadbeef"]),
        0,
    );
    let o = larch(&["put", db, "users", "alice", "root"]);
    expect(&o, 0);
    assert!(stdout(&o).contains("replaced a value of 5 bytes"));
    let file = dir.path().join("value.bin");
    std::fs::write(&file, [0u8, 1, 2, 255]).unwrap();
    expect(&larch(&["put", db, "files", "f", "--input", s(&file)]), 0);
    expect(
        &larch_stdin(&["put", db, "files", "g", "-i", "-"], b"from stdin"),
        0,
    );

    let o = larch(&["get", db, "users", "alice"]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "root\n");
    let o = larch(&["get", db, "users", "bob"]);
    assert_eq!(stdout(&o), "reader\\20and\\20writer\n");
    let o = larch(&["get", "--hex", db, "users", "00ff"]);
    assert_eq!(stdout(&o), "deadbeef\n");
    let o = larch(&["get", "--raw", db, "files", "f"]);
    assert_eq!(o.stdout, [0u8, 1, 2, 255]);
    let o = larch(&["get", db, "files", "f"]);
    assert_eq!(stdout(&o), "\\00\\01\\02\\ff\n");
    let o = larch(&["get", "--raw", db, "files", "g"]);
    assert_eq!(o.stdout, b"from stdin");
    let o = larch(&["get", db, "users", "nobody"]);
    expect(&o, 1);
    assert!(stderr(&o).contains("not found"));
    let o = larch(&["get", db, "nope", "alice"]);
    expect(&o, 2);
    assert!(stderr(&o).contains("files, users"), "{}", stderr(&o));

    let o = larch(&["scan", db, "users"]);
    expect(&o, 0);
    assert_eq!(
        stdout(&o),
        "\\00\\ff \\de\\ad\\be\\ef\nalice root\nbob reader\\20and\\20writer\ncarol reader\n"
    );
    let o = larch(&["scan", db, "users", "--from", "alice", "--to", "carol"]);
    assert_eq!(stdout(&o), "alice root\nbob reader\\20and\\20writer\n");
    let o = larch(&[
        "scan",
        db,
        "users",
        "--reverse",
        "--limit",
        "2",
        "--keys-only",
    ]);
    assert_eq!(stdout(&o), "carol\nbob\n");
    let o = larch(&["scan", "--hex", db, "users", "--to", "0x01"]);
    assert_eq!(stdout(&o), "00ff deadbeef\n");

    let o = larch(&["del", db, "users", "bob"]);
    expect(&o, 0);
    assert!(stdout(&o).contains("deleted"));
    expect(&larch(&["del", db, "users", "bob"]), 1);
    expect(&larch(&["del", "--hex", db, "users", "00ff"]), 0);
    let o = larch(&["scan", db, "users", "--keys-only"]);
    assert_eq!(stdout(&o), "alice\ncarol\n");
    expect(&larch(&["check", db]), 0);

    // Bad arguments are usage errors.
    expect(&larch(&["get", "--hex", db, "users", "xyz"]), 2);
    expect(&larch(&["put", db, "users", "k"]), 2);
    expect(&larch(&["scan", db, "users", "--limit", "many"]), 2);
    expect(&larch(&["frobnicate"]), 2);
    expect(&larch(&["--help"]), 0);
}

#[test]
fn missing_files_are_errors_and_are_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.larch");
    let m = s(&missing);
    let other = dir.path().join("other.larch");
    let cases: Vec<Vec<&str>> = vec![
        vec!["stat", m],
        vec!["stat", "--json", m],
        vec!["check", m],
        vec!["dump", m],
        vec!["copy", m, s(&other)],
        vec!["get", m, "t", "k"],
        vec!["del", m, "t", "k"],
        vec!["scan", m, "t"],
    ];
    for args in cases {
        let o = larch(&args);
        expect(&o, 2);
        assert!(
            stderr(&o).contains("no such file"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(!missing.exists(), "{args:?} created the file");
        assert!(!other.exists(), "{args:?} created the destination");
    }
}

#[test]
fn foreign_files_are_errors_and_are_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.txt");
    let bytes: Vec<u8> = b"this is not a database\n".repeat(1000);
    std::fs::write(&junk, &bytes).unwrap();
    let j = s(&junk);
    let other = dir.path().join("other.larch");
    let cases: Vec<Vec<&str>> = vec![
        vec!["stat", j],
        vec!["check", j],
        vec!["dump", j],
        vec!["copy", j, s(&other)],
        vec!["get", j, "t", "k"],
        vec!["put", j, "t", "k", "v"],
        vec!["del", j, "t", "k"],
        vec!["scan", j, "t"],
    ];
    for args in cases {
        let o = larch(&args);
        expect(&o, 2);
        assert!(
            stderr(&o).contains("not a larchdb database"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert_eq!(
            std::fs::read(&junk).unwrap(),
            bytes,
            "{args:?} changed the file"
        );
        assert!(!other.exists());
    }
    // load refuses it as a dump without creating a database.
    let db = dir.path().join("new.larch");
    let o = larch(&["load", s(&db), "-i", j]);
    expect(&o, 2);
    assert!(stderr(&o).contains("not a larch dump"));
    assert!(!db.exists());
}

#[test]
fn a_database_open_for_writing_is_locked_for_writes_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.larch");
    create(&path, &binary_contents());
    let holder = Database::open(&path).unwrap();
    let p = s(&path);
    let dump = dir.path().join("x.dump");
    std::fs::write(&dump, "larch-dump 1\ndone 0\n").unwrap();
    let writes: Vec<Vec<&str>> = vec![
        vec!["put", p, "t", "k", "v"],
        vec!["del", p, "t", "k"],
        vec!["load", p, "-i", s(&dump)],
    ];
    for args in writes {
        let o = larch(&args);
        expect(&o, 2);
        assert!(stderr(&o).contains("locked"), "{args:?}: {}", stderr(&o));
    }
    // Read commands run beside the writer, on its newest commit (not checkpointed yet).
    let wtx = holder.begin_write().unwrap();
    wtx.open_table("live")
        .unwrap()
        .insert(b"k", b"fresh")
        .unwrap();
    wtx.commit().unwrap();
    let other = dir.path().join("other.larch");
    let copy = dir.path().join("copy.larch");
    let reads: Vec<Vec<&str>> = vec![
        vec!["stat", p],
        vec!["check", p],
        vec!["dump", p],
        vec!["scan", p, "live"],
        vec!["copy", "--compact", p, s(&other)],
        vec!["copy", p, s(&copy)],
    ];
    for args in reads {
        let o = larch(&args);
        expect(&o, 0);
    }
    let o = larch(&["get", p, "live", "k"]);
    expect(&o, 0);
    assert!(stdout(&o).contains("fresh"), "{}", stdout(&o));
    drop(holder);
    for copied in [&other, &copy] {
        let o = larch(&["get", s(copied), "live", "k"]);
        expect(&o, 0);
        assert!(stdout(&o).contains("fresh"), "{}", stdout(&o));
        expect(&larch(&["check", s(copied)]), 0);
    }
    expect(&larch(&["stat", p]), 0);
}

#[test]
fn outputs_to_a_file_never_overwrite_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("o.larch");
    demo_db(&db, 1000);
    let before = std::fs::read(&db).unwrap();
    expect(&larch(&["dump", s(&db), "-o", s(&db)]), 2);
    expect(&larch(&["load", s(&db), "-i", s(&db)]), 2);
    assert!(std::fs::read(&db).unwrap() == before);
}

#[test]
fn cache_option_reads_through_the_page_cache() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.larch");
    demo_db(&db, 30_000);
    // stat shows the cache's counters; check and a chunked dump run within a 256 KiB cache
    // (the database is about 8 MiB) and give the same dump as the map.
    let o = larch(&["--cache", "256K", "stat", s(&db)]);
    expect(&o, 0);
    assert!(stdout(&o).contains("page cache"), "{}", stdout(&o));
    let o = larch(&["--cache", "256K", "stat", "--json", s(&db)]);
    expect(&o, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["cache"]["capacity_frames"], 64);
    assert!(v["cache"]["misses"].as_u64().unwrap() > 0);
    expect(&larch(&["--cache", "256K", "check", s(&db)]), 0);
    let cached = larch(&["--cache", "256K", "dump", s(&db)]);
    expect(&cached, 0);
    let mapped = larch(&["dump", s(&db)]);
    expect(&mapped, 0);
    assert!(
        cached.stdout == mapped.stdout,
        "dumps differ between backends"
    );
    assert!(stdout(&cached).contains("end 30000"));
    let copy = dir.path().join("copy.larch");
    expect(&larch(&["--cache", "256K", "copy", s(&db), s(&copy)]), 0);
    assert!(larch(&["dump", s(&copy)]).stdout == mapped.stdout);
    // Bad sizes are usage errors; a cache too small for 4 pages is a clear error.
    expect(&larch(&["--cache", "12 parsecs", "stat", s(&db)]), 2);
    let o = larch(&["--cache", "4K", "stat", s(&db)]);
    expect(&o, 2);
    assert!(stderr(&o).contains("cache capacity"), "{}", stderr(&o));
}
