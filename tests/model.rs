//! Model tests: random operation sequences run against larchdb and against a `BTreeMap` model,
//! with several tables, commits (Immediate and Eventual), aborts, drops, reopens, and long-lived
//! snapshots each checked against its own copy of the model. `check()` runs at the end of each
//! case, and after every reopen.
//!
//! `PROPTEST_CASES` scales the number of cases (default 48 per page size).

use larchdb::{Database, Durability, Error, ReadTxn, WriteTxn};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

mod common;

type Tables = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

const TABLES: [&str; 3] = ["alpha", "beta", "gamma"];

/// A value of `len` bytes derived from `seed`, so strategies need not generate megabytes.
fn value(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[derive(Debug, Clone)]
enum KeySpec {
    /// A short key from a small alphabet, so operations hit the same keys often.
    Short(Vec<u8>),
    /// A key of `len` bytes (capped at the page's limit) from `seed`.
    Long(u8, usize),
}

impl KeySpec {
    fn build(&self, max: usize) -> Vec<u8> {
        match self {
            KeySpec::Short(k) => k.clone(),
            KeySpec::Long(seed, len) => value(*seed, (*len).clamp(1, max)),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(usize, KeySpec, u8, usize),
    Remove(usize, KeySpec),
    Get(usize, KeySpec),
    Range(usize, Bound<KeySpec>, Bound<KeySpec>, u8),
    FirstLast(usize),
    DeleteTable(usize),
    Commit(bool),
    Abort,
    Reopen,
    Snapshot,
    DropSnapshot(usize),
    /// Commits the open write transaction (if any), compacts, and verifies every snapshot.
    Compact,
}

fn key_strategy() -> impl Strategy<Value = KeySpec> {
    prop_oneof![
        8 => prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, b'a', b'b', 0x7f, 0xff]), 1..6).prop_map(KeySpec::Short),
        1 => (any::<u8>(), 1usize..5000).prop_map(|(s, l)| KeySpec::Long(s, l)),
    ]
}

fn value_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        10 => 0usize..40,
        4 => 40usize..1200,
        2 => 1200usize..20_000,
        1 => Just(3 << 20),
    ]
}

fn bound() -> impl Strategy<Value = Bound<KeySpec>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        2 => key_strategy().prop_map(Bound::Included),
        2 => key_strategy().prop_map(Bound::Excluded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0usize..TABLES.len();
    prop_oneof![
        30 => (t.clone(), key_strategy(), any::<u8>(), value_len()).prop_map(|(t, k, s, l)| Op::Insert(t, k, s, l)),
        12 => (t.clone(), key_strategy()).prop_map(|(t, k)| Op::Remove(t, k)),
        6 => (t.clone(), key_strategy()).prop_map(|(t, k)| Op::Get(t, k)),
        6 => (t.clone(), bound(), bound(), any::<u8>()).prop_map(|(t, a, b, m)| Op::Range(t, a, b, m)),
        2 => t.clone().prop_map(Op::FirstLast),
        1 => t.prop_map(Op::DeleteTable),
        6 => any::<bool>().prop_map(Op::Commit),
        2 => Just(Op::Abort),
        1 => Just(Op::Reopen),
        2 => Just(Op::Snapshot),
        1 => (0usize..4).prop_map(Op::DropSnapshot),
        1 => Just(Op::Compact),
    ]
}

fn own(b: &Bound<KeySpec>, max: usize) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(k.build(max)),
        Bound::Excluded(k) => Bound::Excluded(k.build(max)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// True if the bounds form a range BTreeMap accepts (it panics on inverted ones).
fn valid_range(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a <= b
        }
        _ => true,
    }
}

/// Reads a whole table in a given direction pattern: bit i of `mix` picks the end for step i.
fn drain<'a>(
    it: impl DoubleEndedIterator<Item = larchdb::Result<(&'a [u8], &'a [u8])>>,
    mix: u8,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut it = it;
    let (mut front, mut back) = (Vec::new(), Vec::new());
    let mut step = 0u32;
    loop {
        let from_back = mix != 0 && (mix >> (step % 8)) & 1 == 1;
        step += 1;
        let item = if from_back { it.next_back() } else { it.next() };
        match item {
            None => break,
            Some(r) => {
                let (k, v) = r.expect("iteration failed");
                if from_back {
                    back.push((k.to_vec(), v.to_vec()));
                } else {
                    front.push((k.to_vec(), v.to_vec()));
                }
            }
        }
    }
    back.reverse();
    front.extend(back);
    front
}

fn model_range(
    m: &BTreeMap<Vec<u8>, Vec<u8>>,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    if !valid_range(lo, hi) {
        return Vec::new();
    }
    m.range::<Vec<u8>, _>((lo.clone(), hi.clone()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Verifies a read snapshot against a model, fully.
fn verify_snapshot(rtx: &ReadTxn, model: &Tables) {
    let mut names = rtx.list_tables().unwrap();
    names.sort();
    assert_eq!(names, model.keys().cloned().collect::<Vec<_>>());
    for (name, m) in model {
        let t = rtx.open_table(name).unwrap();
        assert_eq!(t.len().unwrap(), m.len() as u64);
        let all = drain(t.iter().unwrap(), 0);
        let expect: Vec<_> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert!(all == expect, "table {name} differs from the model");
        let rev = drain(t.iter().unwrap().rev(), 0);
        assert_eq!(rev.len(), expect.len());
        assert!(rev.iter().rev().eq(expect.iter()));
    }
}

struct Harness {
    path: std::path::PathBuf,
    page_size: usize,
    db: Option<Database>,
    wtx: Option<WriteTxn>,
    committed: Tables,
    pending: Tables,
    snapshots: Vec<(ReadTxn, Tables)>,
}

impl Harness {
    fn open(path: &Path, page_size: usize) -> Database {
        Database::builder()
            .page_size(page_size)
            .durability(Durability::Eventual)
            .open(path)
            .unwrap()
    }

    fn db(&self) -> &Database {
        self.db.as_ref().unwrap()
    }

    fn max_key(&self) -> usize {
        self.db().max_key_len()
    }

    fn wtx(&mut self) -> &mut WriteTxn {
        if self.wtx.is_none() {
            self.wtx = Some(self.db.as_ref().unwrap().begin_write().unwrap());
            self.pending = self.committed.clone();
        }
        self.wtx.as_mut().unwrap()
    }

    fn run(&mut self, op: &Op) {
        let max = self.max_key();
        match op {
            Op::Insert(t, k, seed, len) => {
                let (k, v) = (k.build(max), value(*seed, *len));
                let mut table = self.wtx().open_table(TABLES[*t]).unwrap();
                table.insert(&k, &v).unwrap();
                assert_eq!(table.get(&k).unwrap(), Some(&v[..]));
                self.pending
                    .entry(TABLES[*t].to_string())
                    .or_default()
                    .insert(k, v);
            }
            Op::Remove(t, k) => {
                let k = k.build(max);
                let existed = self
                    .wtx()
                    .open_table(TABLES[*t])
                    .unwrap()
                    .remove(&k)
                    .unwrap();
                let m = self.pending.entry(TABLES[*t].to_string()).or_default();
                assert_eq!(existed, m.remove(&k).is_some());
            }
            Op::Get(t, k) => {
                let k = k.build(max);
                let got = self
                    .wtx()
                    .open_table(TABLES[*t])
                    .unwrap()
                    .get(&k)
                    .unwrap()
                    .map(|v| v.to_vec());
                let m = self.pending.entry(TABLES[*t].to_string()).or_default();
                assert_eq!(got, m.get(&k).cloned());
            }
            Op::Range(t, lo, hi, mix) => {
                let (lo, hi) = (own(lo, max), own(hi, max));
                let table = self.wtx().open_table(TABLES[*t]).unwrap();
                let got = drain(table.range((as_ref(&lo), as_ref(&hi))).unwrap(), *mix);
                let m = self.pending.entry(TABLES[*t].to_string()).or_default();
                assert_eq!(
                    got,
                    model_range(m, &lo, &hi),
                    "range {lo:?}..{hi:?} mix {mix}"
                );
            }
            Op::FirstLast(t) => {
                let table = self.wtx().open_table(TABLES[*t]).unwrap();
                let first = table
                    .first()
                    .unwrap()
                    .map(|(k, v)| (k.to_vec(), v.to_vec()));
                let last = table.last().unwrap().map(|(k, v)| (k.to_vec(), v.to_vec()));
                let len = table.len().unwrap();
                let m = self.pending.entry(TABLES[*t].to_string()).or_default();
                assert_eq!(
                    first,
                    m.first_key_value().map(|(k, v)| (k.clone(), v.clone()))
                );
                assert_eq!(
                    last,
                    m.last_key_value().map(|(k, v)| (k.clone(), v.clone()))
                );
                assert_eq!(len, m.len() as u64);
            }
            Op::DeleteTable(t) => {
                let existed = self.wtx().delete_table(TABLES[*t]).unwrap();
                assert_eq!(existed, self.pending.remove(TABLES[*t]).is_some());
            }
            Op::Commit(eventual) => {
                if let Some(mut w) = self.wtx.take() {
                    w.set_durability(if *eventual {
                        Durability::Eventual
                    } else {
                        Durability::Immediate
                    });
                    w.commit().unwrap();
                    self.committed = std::mem::take(&mut self.pending);
                }
            }
            Op::Abort => {
                if let Some(w) = self.wtx.take() {
                    w.abort().unwrap();
                }
            }
            Op::Reopen => self.reopen(),
            Op::Compact => {
                if let Some(w) = self.wtx.take() {
                    w.commit().unwrap();
                    self.committed = std::mem::take(&mut self.pending);
                }
                self.db().compact().unwrap();
                for (rtx, model) in &self.snapshots {
                    verify_snapshot(rtx, model);
                }
            }
            Op::Snapshot => {
                let rtx = self.db().begin_read().unwrap();
                self.snapshots.push((rtx, self.committed.clone()));
            }
            Op::DropSnapshot(i) => {
                if !self.snapshots.is_empty() {
                    let (rtx, model) = self.snapshots.remove(i % self.snapshots.len());
                    verify_snapshot(&rtx, &model);
                }
            }
        }
    }

    fn reopen(&mut self) {
        self.wtx = None; // dropping the write transaction aborts it
        self.db = None;
        if !self.snapshots.is_empty() {
            // Snapshots keep the file locked after the handle is gone.
            let err = Database::builder()
                .page_size(self.page_size)
                .open(&self.path)
                .unwrap_err();
            assert!(matches!(err, Error::DatabaseLocked), "{err}");
            for (rtx, model) in self.snapshots.drain(..) {
                verify_snapshot(&rtx, &model);
            }
        }
        let db = Self::open(&self.path, self.page_size);
        db.check().unwrap();
        verify_snapshot(&db.begin_read().unwrap(), &self.committed);
        self.db = Some(db);
    }

    fn finish(&mut self) {
        for (rtx, model) in std::mem::take(&mut self.snapshots) {
            verify_snapshot(&rtx, &model);
        }
        self.run(&Op::Commit(false));
        self.db().check().unwrap();
        verify_snapshot(&self.db().begin_read().unwrap(), &self.committed);
        self.reopen();
    }
}

fn run_case(ops: &[Op], page_size: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.larch");
    let mut h = Harness {
        db: Some(Harness::open(&path, page_size)),
        path,
        page_size,
        wtx: None,
        committed: Tables::new(),
        pending: Tables::new(),
        snapshots: Vec::new(),
    };
    for op in ops {
        h.run(op);
    }
    h.finish();
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    ProptestConfig {
        cases,
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn model_4k(ops in prop::collection::vec(op(), 1..250)) {
        run_case(&ops, 4096);
    }

    #[test]
    fn model_16k(ops in prop::collection::vec(op(), 1..250)) {
        run_case(&ops, 16384);
    }
}

/// Many small keys in one table, so trees get deep and splits, merges and root collapses happen
/// at every level; deletes in a different order than inserts.
#[test]
fn deep_tree_insert_remove_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .durability(Durability::Eventual)
        .open(dir.path().join("deep.larch"))
        .unwrap();
    let mut model = BTreeMap::new();
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..4 {
        let mut w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            for _ in 0..30_000 {
                let k = (rnd() % 60_000).to_be_bytes();
                let v = value(k[7], (rnd() % 200) as usize);
                if rnd() % 3 == 0 {
                    assert_eq!(t.remove(&k).unwrap(), model.remove(k.as_slice()).is_some());
                } else {
                    t.insert(&k, &v).unwrap();
                    model.insert(k.to_vec(), v);
                }
            }
        }
        w.commit().unwrap();
        db.check().unwrap();
        let r = db.begin_read().unwrap();
        let t = r.open_table("t").unwrap();
        assert_eq!(t.len().unwrap(), model.len() as u64, "round {round}");
        assert!(drain(t.iter().unwrap(), 0)
            .into_iter()
            .eq(model.iter().map(|(k, v)| (k.clone(), v.clone()))));
    }
    // Remove everything: the tree must shrink back to nothing and all pages become free.
    let mut w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for k in model.keys() {
            assert!(t.remove(k).unwrap());
        }
        assert!(t.is_empty().unwrap());
    }
    w.commit().unwrap();
    let s = db.stats().unwrap();
    assert_eq!(s.leaf_pages + s.branch_pages, 0, "{s:?}");
}

/// Random bulk load large enough for a four-level tree, where the rightmost branch splits in
/// append mode (once left a branch with a single child), then a full check and read-back.
#[test]
fn bulk_random_load_checks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .durability(Durability::Eventual)
        .open(dir.path().join("bulk.larch"))
        .unwrap();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut keys = Vec::new();
    let mut w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // 200-byte keys sharing a 192-byte prefix: separators stay long, fanout small, and
            // the tree four or more levels deep.
            let k: Vec<u8> = [&[b'p'; 192][..], &x.to_be_bytes()].concat();
            t.insert(&k, &k[..20]).unwrap();
            keys.push(k);
        }
    }
    w.commit().unwrap();
    db.check().unwrap();
    let s = db.stats().unwrap();
    assert!(s.tables[0].depth >= 4, "{s:?}");
    let r = db.begin_read().unwrap();
    let t = r.open_table("t").unwrap();
    for k in keys.iter().step_by(7) {
        assert_eq!(t.get(k).unwrap(), Some(&k[..20]));
    }
}

crate::also_cached!(
    model_4k,
    model_16k,
    deep_tree_insert_remove_cycles,
    bulk_random_load_checks,
);
