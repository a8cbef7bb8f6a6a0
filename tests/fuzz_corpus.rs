//! Replays the fuzzers' corpora without the fuzzer: every file of `fuzz/corpus/<target>/` (and of
//! `fuzz/artifacts/<target>/`, where a local fuzzing run leaves the inputs it crashed on) goes
//! through the same function the cargo-fuzz target calls (`larchdb::testing::fuzz_*`, in
//! `src/fuzz_api.rs`), so CI exercises every seed and every committed regression input.
//!
//! `fuzz/regressions/<target>/` holds inputs that reproduce bugs found by fuzzing and not fixed
//! yet; the normal run skips them. `cargo test --test fuzz_corpus -- --ignored regressions`
//! replays them (and fails while a bug is open). Once a bug is fixed, move its input into
//! `fuzz/corpus/<target>/` so it is replayed on every run.
//!
//! `cargo test --test fuzz_corpus -- --ignored regenerate_seeds` rewrites the seed files (the
//! `seed-*` files of each corpus) from a real database.

use std::path::{Path, PathBuf};

mod common;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 6] = [
    ("ops", larchdb::testing::fuzz_ops),
    ("open_damaged", larchdb::testing::fuzz_open_damaged),
    ("node", larchdb::testing::fuzz_node),
    ("meta", larchdb::testing::fuzz_meta),
    ("freelist", larchdb::testing::fuzz_freelist),
    ("catalog", larchdb::testing::fuzz_catalog_value),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files directly in `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name() != Some("README.md".as_ref()))
        .collect();
    v.sort();
    v
}

/// Runs every file of `dirs` through `target`; a failure names the file. Returns the file count.
fn replay(name: &str, target: Target, dirs: &[PathBuf]) -> usize {
    let mut n = 0;
    for dir in dirs {
        for path in files(dir) {
            let data = std::fs::read(&path).unwrap();
            let r = std::panic::catch_unwind(|| target(&data));
            if let Err(e) = r {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{name}: {} failed: {msg}", path.display());
            }
            n += 1;
        }
    }
    n
}

fn replay_target(name: &str) {
    let (_, target) = TARGETS.iter().find(|(t, _)| *t == name).unwrap();
    let dirs = [
        fuzz_dir().join("corpus").join(name),
        fuzz_dir().join("artifacts").join(name),
    ];
    let n = replay(name, *target, &dirs);
    assert!(n > 0, "no corpus files for {name} in {}", dirs[0].display());
    eprintln!("{name}: {n} inputs replayed");
}

#[test]
fn corpus_ops() {
    replay_target("ops");
}

#[test]
fn corpus_open_damaged() {
    replay_target("open_damaged");
}

#[test]
fn corpus_node() {
    replay_target("node");
}

#[test]
fn corpus_meta() {
    replay_target("meta");
}

#[test]
fn corpus_freelist() {
    replay_target("freelist");
}

#[test]
fn corpus_catalog() {
    replay_target("catalog");
}

/// Inputs that reproduce open bugs (see `fuzz/regressions/README.md`); fails until they are fixed.
#[test]
#[ignore = "reproduces bugs found by fuzzing that are not fixed yet"]
fn regressions() {
    let mut failures = Vec::new();
    for (name, target) in TARGETS {
        for path in files(&fuzz_dir().join("regressions").join(name)) {
            let data = std::fs::read(&path).unwrap();
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failures.push(path.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "still failing: {failures:#?}");
}

// ---- seed generation -------------------------------------------------------------------------

/// Builds an ops input: a header, then operations.
struct OpsInput(Vec<u8>);

impl OpsInput {
    fn new(header: &[u8]) -> OpsInput {
        OpsInput(header.to_vec())
    }
    fn op(mut self, code: u8, table: u8, args: &[u8]) -> OpsInput {
        self.0.push(code);
        self.0.push(table);
        self.0.extend_from_slice(args);
        self
    }
    fn insert(self, t: u8, key_id: u8, class: u8, seed: u8) -> OpsInput {
        self.op(0, t, &[key_id, class, seed])
    }
    fn commit(self, immediate: bool) -> OpsInput {
        self.op(10, if immediate { 1 } else { 0 }, &[])
    }
}

fn write_seeds(target: &str, seeds: &[(&str, Vec<u8>)]) {
    let dir = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for f in files(&dir) {
        if f.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seed-")
        {
            std::fs::remove_file(f).unwrap();
        }
    }
    for (name, data) in seeds {
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    }
}

/// A small real database's file, cut to its pages (4 KiB).
fn sample_database() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.larch");
    let db = larchdb::Database::open(&path).unwrap();
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("names").unwrap();
        for i in 0..400u32 {
            t.insert(
                format!("user-{i:05}").as_bytes(),
                format!("v{i}").as_bytes(),
            )
            .unwrap();
        }
        t.insert(b"big", &vec![3u8; 6000]).unwrap();
        // Keys whose hints tie: same first four bytes, and trailing zeros.
        for k in [&b"a"[..], b"a\0", b"a\0\0\0", b"abcd1", b"abcd2"] {
            t.insert(k, b"tie").unwrap();
        }
    }
    w.commit().unwrap();
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("names").unwrap();
        for i in (0..400u32).step_by(2) {
            t.remove(format!("user-{i:05}").as_bytes()).unwrap();
        }
    }
    w.commit().unwrap();
    drop(db);
    let mut bytes = std::fs::read(&path).unwrap();
    let count = u64::from_le_bytes(bytes[56..64].try_into().unwrap()) as usize;
    let count1 = u64::from_le_bytes(bytes[4096 + 56..4096 + 64].try_into().unwrap()) as usize;
    bytes.truncate(count.max(count1) * 4096);
    bytes
}

#[test]
#[ignore = "rewrites the seed files under fuzz/corpus"]
fn regenerate_seeds() {
    let image = sample_database();
    let pages: Vec<&[u8]> = image.chunks(4096).collect();

    // node: a leaf, a branch, an overflow page, a freelist leaf, a hint-tie leaf, an empty page.
    let mut node = Vec::new();
    let kinds: Vec<u8> = pages.iter().map(|p| p[0]).collect();
    let first_of = |k: u8| kinds.iter().skip(2).position(|&x| x == k).map(|i| i + 2);
    let leaf = first_of(1).unwrap();
    node.push(("leaf", pages[leaf].to_vec()));
    node.push(("branch", pages[first_of(2).unwrap()].to_vec()));
    node.push(("overflow", pages[first_of(3).unwrap()].to_vec()));
    let last_leaf = kinds.iter().rposition(|&x| x == 1).unwrap();
    node.push(("leaf-last", pages[last_leaf].to_vec()));
    let tie = pages
        .iter()
        .position(|p| p[0] == 1 && p.windows(5).any(|w| w == b"abcd1"))
        .unwrap();
    node.push(("leaf-hint-ties", pages[tie].to_vec()));
    node.push(("short-leaf", pages[leaf][..200].to_vec()));
    write_seeds("node", &node);

    // meta: both slots of the sample, a new database's slot, and a damaged one (flags byte first).
    let meta = |flags: u8, b: &[u8]| [&[flags][..], b].concat();
    let mut fresh = image[..72].to_vec();
    fresh[8] = 2; // format version 2
    write_seeds(
        "meta",
        &[
            ("slot0", meta(0, &image[..72])),
            ("slot1", meta(0, &image[4096..4096 + 72])),
            ("version2-resealed", meta(1, &fresh)),
            ("short", meta(0, &image[..40])),
        ],
    );

    // freelist: key length byte, key (freeing txn, writing txn, chunk; big-endian), value.
    let key = |f: u64, w: u64, c: u32| {
        [&f.to_be_bytes()[..], &w.to_be_bytes(), &c.to_be_bytes()].concat()
    };
    let entry = |k: &[u8], pages: &[u64]| {
        let v: Vec<u8> = pages.iter().flat_map(|p| p.to_le_bytes()).collect();
        [&[k.len() as u8][..], k, &v].concat()
    };
    write_seeds(
        "freelist",
        &[
            ("entry", entry(&key(7, 7, 0), &[5, 9, 12])),
            ("reusable", entry(&key(0, 9, 1), &[3])),
            ("empty-value", entry(&key(1, 2, 0), &[])),
            ("bad-lengths", [&[19u8][..], &[1; 19], &[2; 12]].concat()),
        ],
    );

    // catalog: a value (root pgno, root txn, count), an empty table's, and a table name.
    let value = |p: u64, t: u64, c: u64| {
        [&p.to_le_bytes()[..], &t.to_le_bytes(), &c.to_le_bytes()].concat()
    };
    write_seeds(
        "catalog",
        &[
            ("table", value(14, 3, 400)),
            ("empty-table", value(0, 0, 0)),
            ("short", value(1, 2, 3)[..20].to_vec()),
            ("name", b"users".to_vec()),
        ],
    );

    // open_damaged: flags, [truncation], then (page, offset u16 LE, len, bytes) overwrites.
    let w = |page: u8, off: u16, bytes: &[u8]| {
        [&[page][..], &off.to_le_bytes(), &[bytes.len() as u8], bytes].concat()
    };
    write_seeds(
        "open_damaged",
        &[
            ("intact", vec![0]),
            ("intact-then-write", vec![16]),
            ("read-only", vec![8]),
            ("meta0-magic", [&[0u8][..], &w(0, 0, b"XX")].concat()),
            (
                "both-metas",
                [&[0u8][..], &w(0, 20, b"\xff"), &w(1, 20, b"\xff")].concat(),
            ),
            (
                "meta0-page-count-resealed",
                [&[1u8][..], &w(0, 56, &[0xff; 8])].concat(),
            ),
            (
                "meta1-version-resealed",
                [&[1u8][..], &w(1, 8, &[9])].concat(),
            ),
            (
                "leaf-count-resealed",
                [&[2u8 | 16][..], &w(23, 2, &[0xff, 0])].concat(),
            ),
            ("page-kind-resealed", [&[2u8][..], &w(12, 0, &[2])].concat()),
            (
                "old-leaf-cells",
                [&[16u8][..], &w(5, 4000, &[0xee; 32])].concat(),
            ),
            ("truncated", [&[4u8][..], &20_000u32.to_le_bytes()].concat()),
        ],
    );

    // ops: header (fault flags), then operations.
    let basic = OpsInput::new(&[0])
        .insert(1, 5, 3, 1)
        .insert(1, 6, 12, 2)
        .commit(true)
        .op(8, 1, &[1, 5]) // get from a fresh snapshot
        .op(0, 2, &[0x85, b'h', b'e', b'l', b'l', b'o', b'!', 1, 9]) // an explicit 6-byte key
        .commit(false)
        .op(0, 2, &[0x85, b'x']); // an explicit key cut short by the end of the input
    let mut rich = OpsInput::new(&[0])
        .op(17, 1, &[3, 40, 2, 7]) // fill 41 keys in t1
        .insert(1, 9, 0xff, 4) // a large value
        .commit(true)
        .op(15, 1, &[]) // hold a snapshot
        .op(18, 1, &[1, 5, 0]) // remove keys >= key 5
        .op(9, 1, &[2, 0, 0, 0x55, 0, 0, 0, 60]) // range from the held snapshot, both ends
        .op(9, 1, &[0, 1, 3, 2, 20, 0xff, 0, 0, 0, 30]) // range in the writer
        .op(16, 2, &[]) // delete table t2
        .commit(false)
        .op(14, 0, &[]) // sync
        .op(13, 0, &[]) // reopen
        .op(8, 1, &[1, 9])
        .op(19, 0, &[]); // check
    rich.0.extend_from_slice(&[12, 0, 0, 1, 1, 1]); // abort (nothing open), an insert left open
    let faulty = |header: &[u8]| {
        let mut i = OpsInput::new(header);
        for round in 0..6u8 {
            i = i
                .insert(round % 3, round * 7, 12, round)
                .insert(0, round, 2, 1)
                .commit(round % 2 == 0);
            if round == 3 {
                i = i.op(14, 0, &[]).op(13, 0, &[]);
            }
        }
        i.0
    };
    write_seeds(
        "ops",
        &[
            ("basic", basic.0),
            ("rich", rich.0),
            ("eio-once-op6", faulty(&[1, 5])),
            ("eio-forever-op9", faulty(&[3, 8])),
            ("enospc-once-op12", faulty(&[5, 11])),
            ("fail-creation", faulty(&[3, 0])),
        ],
    );
}

crate::also_cached!(corpus_ops, corpus_open_damaged,);
