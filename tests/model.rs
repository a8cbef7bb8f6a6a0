//! Model tests: random operation sequences run against larchdb and against a `BTreeMap` model,
//! with several tables, commits (Immediate and Eventual), aborts, drops, reopens, and long-lived
//! snapshots each checked against its own copy of the model. `check()` runs at the end of each
//! case, and after every reopen.
//!
//! `PROPTEST_CASES` scales the number of cases (default 48 per page size).

use larchdb::testing::Rng;
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
    /// `replace` (true) or `take`, checking the old value they return.
    ReplaceTake(usize, KeySpec, u8, usize, bool),
    /// `update`: appends a byte to the value (or creates it), or removes the key if `remove`.
    Update(usize, KeySpec, bool),
    /// `remove_range` over the bounds.
    RemoveRange(usize, Bound<KeySpec>, Bound<KeySpec>),
    /// `retain_in` over the bounds, keeping entries whose value length is even; or `retain` if
    /// both bounds are unbounded.
    Retain(usize, Bound<KeySpec>, Bound<KeySpec>),
    /// `extract_if` over the bounds for odd value lengths, taking at most `n` items.
    ExtractIf(usize, Bound<KeySpec>, Bound<KeySpec>, usize),
    /// `pop_first` (true) or `pop_last`.
    Pop(usize, bool),
    Clear(usize),
    /// `prefix` scan.
    Prefix(usize, KeySpec),
    /// Two tables open at once: inserts into both, then a write while a read is borrowed.
    TwoTables(usize, usize, KeySpec, u8),
    /// `get_mut`: XORs every byte of the value with the byte.
    GetMut(usize, KeySpec, u8),
    /// `insert_reserve` of a value of this length, filled with the byte.
    InsertReserve(usize, KeySpec, usize, u8),
    /// Takes a savepoint in the write transaction.
    TakeSavepoint,
    /// Rolls back to the savepoint at this index (modulo the number alive).
    RollbackTo(usize),
    /// Drops the savepoint at this index.
    DropSavepoint(usize),
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
        3 => (t.clone(), key_strategy(), any::<u8>(), value_len(), any::<bool>()).prop_map(|(t, k, s, l, r)| Op::ReplaceTake(t, k, s, l, r)),
        2 => (t.clone(), key_strategy(), any::<bool>()).prop_map(|(t, k, r)| Op::Update(t, k, r)),
        1 => (t.clone(), bound(), bound()).prop_map(|(t, a, b)| Op::RemoveRange(t, a, b)),
        1 => (t.clone(), bound(), bound()).prop_map(|(t, a, b)| Op::Retain(t, a, b)),
        1 => (t.clone(), bound(), bound(), 0usize..100).prop_map(|(t, a, b, n)| Op::ExtractIf(t, a, b, n)),
        2 => (t.clone(), any::<bool>()).prop_map(|(t, f)| Op::Pop(t, f)),
        1 => t.clone().prop_map(Op::Clear),
        1 => (t.clone(), key_strategy()).prop_map(|(t, k)| Op::Prefix(t, k)),
        2 => (t.clone(), t.clone(), key_strategy(), any::<u8>()).prop_map(|(a, b, k, s)| Op::TwoTables(a, b, k, s)),
        2 => (t.clone(), key_strategy(), any::<u8>()).prop_map(|(t, k, b)| Op::GetMut(t, k, b)),
        2 => (t.clone(), key_strategy(), value_len(), any::<u8>()).prop_map(|(t, k, l, b)| Op::InsertReserve(t, k, l, b)),
        3 => Just(Op::TakeSavepoint),
        2 => (0usize..4).prop_map(Op::RollbackTo),
        1 => (0usize..4).prop_map(Op::DropSavepoint),
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
fn drain<B: std::ops::Deref<Target = [u8]>>(
    it: impl DoubleEndedIterator<Item = larchdb::Result<(B, B)>>,
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
    /// The database file; None for an in-memory database.
    path: Option<std::path::PathBuf>,
    page_size: usize,
    db: Option<Database>,
    wtx: Option<WriteTxn>,
    committed: Tables,
    pending: Tables,
    snapshots: Vec<(ReadTxn, Tables)>,
    /// Savepoints of the write transaction, each with the model as it was then.
    savepoints: Vec<(larchdb::Savepoint, Tables)>,
}

impl Harness {
    fn open(path: Option<&Path>, page_size: usize) -> Database {
        let mut b = Database::builder();
        b.page_size(page_size).durability(Durability::Eventual);
        match path {
            Some(path) => b.open(path).unwrap(),
            None => b.open_in_memory().unwrap(),
        }
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
                assert_eq!(table.get(&k).unwrap().as_deref(), Some(&v[..]));
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
            Op::ReplaceTake(..)
            | Op::Update(..)
            | Op::RemoveRange(..)
            | Op::Retain(..)
            | Op::ExtractIf(..)
            | Op::Pop(..)
            | Op::Clear(..)
            | Op::Prefix(..)
            | Op::GetMut(..)
            | Op::InsertReserve(..)
            | Op::TwoTables(..) => self.run_api(op, max),
            Op::TakeSavepoint => {
                let sp = self.wtx().savepoint().unwrap();
                self.savepoints.push((sp, self.pending.clone()));
            }
            Op::RollbackTo(i) => {
                if self.wtx.is_none() || self.savepoints.is_empty() {
                    return;
                }
                let i = i % self.savepoints.len();
                let w = self.wtx.as_mut().unwrap();
                w.rollback_to(&self.savepoints[i].0).unwrap();
                // The savepoints taken after it end.
                for (sp, _) in self.savepoints.drain(i + 1..) {
                    assert!(matches!(w.rollback_to(&sp), Err(Error::InvalidSavepoint)));
                }
                self.pending = self.savepoints[i].1.clone();
            }
            Op::DropSavepoint(i) => {
                if !self.savepoints.is_empty() {
                    self.savepoints.remove(i % self.savepoints.len());
                }
            }
            Op::DeleteTable(t) => {
                let existed = self.wtx().delete_table(TABLES[*t]).unwrap();
                assert_eq!(existed, self.pending.remove(TABLES[*t]).is_some());
            }
            Op::Commit(eventual) => {
                self.savepoints.clear();
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
                self.savepoints.clear();
                if let Some(w) = self.wtx.take() {
                    w.abort().unwrap();
                }
            }
            Op::Reopen => self.reopen(),
            Op::Compact => {
                // The commit ends the transaction's savepoints.
                self.savepoints.clear();
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

    /// The operations of the table API beyond insert, remove and reads.
    fn run_api(&mut self, op: &Op, max: usize) {
        let table_of = |t: usize| TABLES[t];
        let t = match op {
            Op::ReplaceTake(t, ..)
            | Op::Update(t, ..)
            | Op::RemoveRange(t, ..)
            | Op::Retain(t, ..)
            | Op::ExtractIf(t, ..)
            | Op::Pop(t, ..)
            | Op::Clear(t)
            | Op::Prefix(t, ..)
            | Op::GetMut(t, ..)
            | Op::InsertReserve(t, ..)
            | Op::TwoTables(t, ..) => *t,
            _ => unreachable!(),
        };
        self.wtx();
        let wtx = self.wtx.as_ref().unwrap();
        let mut table = wtx.open_table(table_of(t)).unwrap();
        let m = self.pending.entry(table_of(t).to_string()).or_default();
        match op {
            Op::ReplaceTake(_, k, seed, len, true) => {
                let (k, v) = (k.build(max), value(*seed, *len));
                assert_eq!(table.replace(&k, &v).unwrap(), m.insert(k, v));
            }
            Op::ReplaceTake(_, k, _, _, false) => {
                let k = k.build(max);
                assert_eq!(table.take(&k).unwrap(), m.remove(&k));
            }
            Op::Update(_, k, remove) => {
                let k = k.build(max);
                let existed = table
                    .update(&k, |old| match remove {
                        true => None,
                        false => Some([old.unwrap_or(b"").to_vec(), vec![7]].concat()),
                    })
                    .unwrap();
                assert_eq!(existed, m.contains_key(&k));
                match remove {
                    true => drop(m.remove(&k)),
                    false => m.entry(k).or_default().push(7),
                }
            }
            Op::RemoveRange(_, lo, hi) => {
                let (lo, hi) = (own(lo, max), own(hi, max));
                if !valid_range(&lo, &hi) {
                    return;
                }
                let n = table.remove_range((as_ref(&lo), as_ref(&hi))).unwrap();
                let gone: Vec<Vec<u8>> = m.range((lo, hi)).map(|(k, _)| k.clone()).collect();
                assert_eq!(n, gone.len() as u64);
                gone.iter().for_each(|k| drop(m.remove(k)));
            }
            Op::Retain(_, lo, hi) => {
                let (lo, hi) = (own(lo, max), own(hi, max));
                if !valid_range(&lo, &hi) {
                    return;
                }
                let keep = |_: &[u8], v: &[u8]| v.len() % 2 == 0;
                let n = match (&lo, &hi) {
                    (Bound::Unbounded, Bound::Unbounded) => table.retain(keep).unwrap(),
                    _ => table.retain_in((as_ref(&lo), as_ref(&hi)), keep).unwrap(),
                };
                let gone: Vec<Vec<u8>> = m
                    .range((lo, hi))
                    .filter(|(k, v)| !keep(k, v))
                    .map(|(k, _)| k.clone())
                    .collect();
                assert_eq!(n, gone.len() as u64);
                gone.iter().for_each(|k| drop(m.remove(k)));
            }
            Op::ExtractIf(_, lo, hi, n) => {
                let (lo, hi) = (own(lo, max), own(hi, max));
                if !valid_range(&lo, &hi) {
                    return;
                }
                let pick = |_: &[u8], v: &[u8]| v.len() % 2 == 1;
                let got: Vec<_> = table
                    .extract_if((as_ref(&lo), as_ref(&hi)), pick)
                    .take(*n)
                    .collect::<larchdb::Result<_>>()
                    .unwrap();
                let want: Vec<_> = m
                    .range((lo, hi))
                    .filter(|(k, v)| pick(k, v))
                    .take(*n)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want);
                // Entries it did not yield stay (it puts back what its last batch took).
                want.iter().for_each(|(k, _)| drop(m.remove(k)));
                assert_eq!(table.len().unwrap(), m.len() as u64);
            }
            Op::Pop(_, first) => {
                let got = match first {
                    true => table.pop_first().unwrap(),
                    false => table.pop_last().unwrap(),
                };
                let want = match first {
                    true => m.pop_first(),
                    false => m.pop_last(),
                };
                assert_eq!(got, want);
            }
            Op::Clear(_) => {
                table.clear().unwrap();
                m.clear();
                assert!(table.is_empty().unwrap());
            }
            Op::Prefix(_, p) => {
                let p = p.build(max);
                let got = drain(table.prefix(&p).unwrap(), 0);
                let want: Vec<_> = m
                    .range(p.clone()..)
                    .take_while(|(k, _)| k.starts_with(&p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want);
            }
            Op::GetMut(_, k, b) => {
                let k = k.build(max);
                match table.get_mut(&k).unwrap() {
                    Some(mut v) => {
                        // The rest of the transaction waits while a value is written in place.
                        assert!(matches!(wtx.list_tables(), Err(Error::TxnBorrowed)));
                        v.iter_mut().for_each(|x| *x ^= b);
                        let want = m.get_mut(&k).unwrap();
                        want.iter_mut().for_each(|x| *x ^= b);
                        assert_eq!(&v[..], &want[..]);
                    }
                    None => assert!(!m.contains_key(&k)),
                }
            }
            Op::InsertReserve(_, k, len, b) => {
                let k = k.build(max);
                let mut v = table.insert_reserve(&k, *len).unwrap();
                assert!(v.iter().all(|&x| x == 0) && v.len() == *len);
                v.fill(*b);
                drop(v);
                m.insert(k.clone(), vec![*b; *len]);
                assert_eq!(table.get(&k).unwrap().unwrap().len(), *len);
            }
            Op::TwoTables(_, other, k, seed) => {
                let k = k.build(max);
                let v = value(*seed, 10);
                let mut second = wtx.open_table(table_of(*other)).unwrap();
                table.insert(&k, &v).unwrap();
                second.insert(&k, &v).unwrap();
                m.insert(k.clone(), v.clone());
                self.pending
                    .entry(table_of(*other).to_string())
                    .or_default()
                    .insert(k.clone(), v.clone());
                // A write while bytes read from the transaction are borrowed is refused, and
                // changes nothing.
                let held = table.get(&k).unwrap().unwrap();
                assert!(matches!(
                    second.insert(b"borrowed", b"x"),
                    Err(Error::TxnBorrowed)
                ));
                assert_eq!(held, v);
                drop(held);
                assert_eq!(second.get(&k).unwrap().as_deref(), Some(&v[..]));
            }
            _ => unreachable!(),
        }
    }

    fn reopen(&mut self) {
        self.savepoints.clear();
        self.wtx = None; // dropping the write transaction aborts it
        let Some(path) = self.path.clone() else {
            // In memory: closing would lose everything; check what is there instead.
            self.db().check().unwrap();
            verify_snapshot(&self.db().begin_read().unwrap(), &self.committed);
            return;
        };
        self.db = None;
        if !self.snapshots.is_empty() {
            // Snapshots keep the file locked after the handle is gone.
            let err = Database::builder()
                .page_size(self.page_size)
                .open(&path)
                .unwrap_err();
            assert!(matches!(err, Error::DatabaseLocked), "{err}");
            for (rtx, model) in self.snapshots.drain(..) {
                verify_snapshot(&rtx, &model);
            }
        }
        let db = Self::open(Some(&path), self.page_size);
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

fn run_case(ops: &[Op], page_size: usize, in_memory: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = (!in_memory).then(|| dir.path().join("model.larch"));
    let mut h = Harness {
        db: Some(Harness::open(path.as_deref(), page_size)),
        path,
        page_size,
        wtx: None,
        committed: Tables::new(),
        pending: Tables::new(),
        snapshots: Vec::new(),
        savepoints: Vec::new(),
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
        run_case(&ops, 4096, false);
    }

    #[test]
    fn model_16k(ops in prop::collection::vec(op(), 1..250)) {
        run_case(&ops, 16384, false);
    }

    /// The model on an in-memory database (its reopens check instead of closing).
    #[test]
    fn model_in_memory(ops in prop::collection::vec(op(), 1..250)) {
        run_case(&ops, 4096, true);
    }
}

/// Asserts that table "t" of the latest commit holds exactly `model` (after round `round`).
fn assert_table_is(db: &Database, model: &BTreeMap<Vec<u8>, Vec<u8>>, round: u64) {
    let r = db.begin_read().unwrap();
    let t = r.open_table("t").unwrap();
    assert_eq!(t.len().unwrap(), model.len() as u64, "round {round}");
    assert!(drain(t.iter().unwrap(), 0)
        .into_iter()
        .eq(model.iter().map(|(k, v)| (k.clone(), v.clone()))));
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
    let mut rng = Rng::new(0x1234_5678_9abc_def0);
    let mut rnd = move || rng.next_u64();
    for round in 0..4u64 {
        let w = db.begin_write().unwrap();
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
        assert_table_is(&db, &model, round);
    }
    // Remove everything: the tree must shrink back to nothing and all pages become free.
    let w = db.begin_write().unwrap();
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
    let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
    let mut keys = Vec::new();
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for _ in 0..100_000 {
            let x = rng.next_u64();
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

/// Keys made of a fixed 24-byte prefix and a counter give pages whose key hints are taken after
/// a long prefix (FORMAT.md section 5.1); keys of other prefixes and shorter keys, inserted among
/// them later, lower it in the pages they reach, and removals leave it. Gets, range reads and
/// `check()` agree with the model after each round, and after a reopen.
#[test]
fn shared_prefix_keys_and_keys_that_break_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prefix.larch");
    let mut rng = Rng::new(0x9f1c);
    let mut model = BTreeMap::new();
    let key = |prefix: &[u8], c: u64| [prefix, &c.to_be_bytes()].concat();
    let base: &[u8] = b"tenant-0042/events/2026/";
    let others: [&[u8]; 4] = [
        b"tenant-0042/events/2025/",
        b"tenant-0042/events/2026",
        b"tenant-0042/",
        b"u",
    ];
    for round in 0..4u64 {
        let db = Database::builder()
            .durability(Durability::Eventual)
            .open(&path)
            .unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            for _ in 0..20_000 {
                let c = rng.next_u64() % 200_000;
                let k = match round {
                    0 => key(base, c),
                    1 => key(others[(c % 4) as usize], c),
                    _ => key(base, c * 7),
                };
                if round == 3 && c % 2 == 0 {
                    t.remove(&k).unwrap();
                    model.remove(&k);
                } else {
                    t.insert(&k, &k[k.len() - 4..]).unwrap();
                    model.insert(k.clone(), k[k.len() - 4..].to_vec());
                }
            }
        }
        w.commit().unwrap();
        db.check().unwrap();
        assert_table_is(&db, &model, round);
        let r = db.begin_read().unwrap();
        let t = r.open_table("t").unwrap();
        for _ in 0..2_000 {
            let c = rng.next_u64() % 1_400_000;
            let probe = key([base, others[0], others[3]][(c % 3) as usize], c);
            assert_eq!(t.get(&probe).unwrap(), model.get(&probe).map(|v| &v[..]));
            let got: Vec<(Vec<u8>, Vec<u8>)> = t
                .range(&probe[..]..)
                .unwrap()
                .take(10)
                .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect();
            let want: Vec<_> = model
                .range(probe..)
                .take(10)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(got, want, "round {round}");
        }
    }
}

/// Range removals, retains and extractions over a tree several levels deep, so whole subtrees
/// are cut off at every level, checked against the model after each, with commits (log records
/// and checkpoints), reopens (replaying the log) and `check()` between rounds.
#[test]
fn bulk_removals_on_a_deep_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulk_rm.larch");
    let open = || common::open_eventual(&path);
    let mut db = open();
    let mut model = BTreeMap::new();
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut rnd = move || rng.next_u64();
    for round in 0..6u64 {
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            for _ in 0..20_000 {
                let k = (rnd() % 100_000).to_be_bytes();
                let v = value(
                    k[7],
                    (rnd() % 60) as usize + if rnd() % 500 == 0 { 5000 } else { 0 },
                );
                t.insert(&k, &v).unwrap();
                model.insert(k.to_vec(), v);
            }
            for _ in 0..4 {
                let a = (rnd() % 100_000).to_be_bytes().to_vec();
                let b = (rnd() % 100_000).to_be_bytes().to_vec();
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let (n, gone): (u64, Vec<Vec<u8>>) = match rnd() % 3 {
                    0 => (
                        t.remove_range(&lo[..]..&hi[..]).unwrap(),
                        model
                            .range(lo.clone()..hi.clone())
                            .map(|e| e.0.clone())
                            .collect(),
                    ),
                    1 => (
                        t.remove_range(&lo[..]..=&hi[..]).unwrap(),
                        model
                            .range(lo.clone()..=hi.clone())
                            .map(|e| e.0.clone())
                            .collect(),
                    ),
                    _ => (
                        t.remove_range(..&hi[..]).unwrap(),
                        model.range(..hi.clone()).map(|e| e.0.clone()).collect(),
                    ),
                };
                assert_eq!(n, gone.len() as u64, "round {round}");
                for k in gone {
                    model.remove(&k);
                }
                assert_eq!(t.len().unwrap(), model.len() as u64);
            }
            for i in 0..300 {
                let (got, want) = match i % 2 {
                    0 => (t.pop_first().unwrap(), model.pop_first()),
                    _ => (t.pop_last().unwrap(), model.pop_last()),
                };
                assert_eq!(got, want);
            }
            let m = rnd() % 7 + 2;
            let n = t.retain(|k, _| k[7] as u64 % m != 0).unwrap();
            let before = model.len();
            model.retain(|k, _| k[7] as u64 % m != 0);
            assert_eq!(n, (before - model.len()) as u64);
            let got: Vec<_> = t
                .extract_if(&[0u8, 0, 0, 0, 0, 0][..].., |k, _| k[6] % 5 == 0)
                .take(3000)
                .collect::<larchdb::Result<_>>()
                .unwrap();
            for (k, v) in &got {
                assert_eq!(model.remove(k).as_ref(), Some(v));
            }
            assert_eq!(t.len().unwrap(), model.len() as u64);
        }
        w.commit().unwrap();
        db.check().unwrap();
        if round % 2 == 1 {
            drop(db);
            db = open();
            db.check().unwrap();
        }
        assert_table_is(&db, &model, round);
    }
}

/// Keys of 1002 bytes in groups of four that share all but their last byte, inserted in order:
/// each leaf holds one group, so the separators between leaves are a byte or two long. A retain
/// that keeps three of each four packs the rest four to a leaf, cutting every group, so the new
/// separators are a thousand bytes long: the bottom branches outgrow their pages many times
/// over and are split (and the tree grows) while the sweep runs. Then sweeps that empty whole
/// branches, runs of leaves and single leaves; a check and the model after each.
#[test]
fn sweeps_whose_separators_outgrow_their_branch() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_eventual(&dir.path().join("seps.larch"));
    let key = |g: u32, c: u8| -> Vec<u8> {
        let mut k = g.to_be_bytes()[2..].to_vec();
        k.extend_from_slice(&[b'x'; 999]);
        k.push(c);
        k
    };
    let mut model = BTreeMap::new();
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for g in 0..1500u32 {
            for c in 0..4u8 {
                t.insert(&key(g, c), b"").unwrap();
                model.insert(key(g, c), Vec::new());
            }
        }
    }
    w.commit().unwrap();
    db.check().unwrap();
    let depth_before = db.stats().unwrap().tables[0].depth;
    type Keep = fn(&[u8]) -> bool;
    let rounds: [(&str, Keep); 5] = [
        ("three of four", |k| k[1001] != 0),
        ("every other group", |k| k[1] % 2 == 0),
        ("a run of groups", |k| {
            !(200..900).contains(&u16::from_be_bytes([k[0], k[1]]))
        }),
        ("all but a few", |k| {
            u16::from_be_bytes([k[0], k[1]]) % 97 == 0
        }),
        ("all", |_| false),
    ];
    for (what, keep) in rounds {
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            let before = model.len();
            model.retain(|k, _| keep(k));
            let n = t.retain(|k, _| keep(k)).unwrap();
            assert_eq!(n, (before - model.len()) as u64, "{what}");
            assert_eq!(t.len().unwrap(), model.len() as u64, "{what}");
        }
        w.commit().unwrap();
        db.check().unwrap();
        assert_table_is(&db, &model, 0);
        if what == "three of four" {
            let depth = db.stats().unwrap().tables[0].depth;
            assert!(depth > depth_before, "{depth} vs {depth_before}");
        }
    }
    let s = db.stats().unwrap();
    assert_eq!(
        s.tables[0].leaf_pages + s.tables[0].branch_pages,
        0,
        "{s:?}"
    );
}

/// Retains and extractions over random ranges with random predicates on a table of mixed
/// entries (a few overflow values), in several transactions, against the model; the sweep's
/// packing keeps every page but the root at least a quarter full apart from run ends.
#[test]
fn random_sweeps_against_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_eventual(&dir.path().join("sweeps.larch"));
    let mut model = BTreeMap::new();
    let mut rng = common::Rng::new(0x005e_ed0f_5eed);
    for round in 0..12u64 {
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table("t").unwrap();
            for _ in 0..(rng.next_u64() % 20_000) {
                let k = (rng.next_u64() % 50_000).to_be_bytes()[4..].to_vec();
                let len = (rng.next_u64() % 150) as usize
                    + if rng.next_u64() % 300 == 0 { 9000 } else { 0 };
                let v = value(k[3], len);
                t.insert(&k, &v).unwrap();
                model.insert(k, v);
            }
            for _ in 0..3 {
                let a = (rng.next_u64() % 50_000).to_be_bytes()[4..].to_vec();
                let b = (rng.next_u64() % 50_000).to_be_bytes()[4..].to_vec();
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let m = rng.next_u64() % 5 + 1;
                let r = rng.next_u64() % 3;
                let pick = move |k: &[u8], v: &[u8]| (k[3] as u64 + v.len() as u64) % m == r;
                if rng.next_u64() % 2 == 0 {
                    let n = t.retain_in(&lo[..]..&hi[..], |k, v| !pick(k, v)).unwrap();
                    let gone: Vec<_> = model
                        .range(lo.clone()..hi.clone())
                        .filter(|(k, v)| pick(k, v))
                        .map(|(k, _)| k.clone())
                        .collect();
                    assert_eq!(n, gone.len() as u64, "round {round}");
                    for k in gone {
                        model.remove(&k);
                    }
                } else {
                    let take = (rng.next_u64() % 6000) as usize;
                    let got: Vec<_> = t
                        .extract_if(&lo[..]..=&hi[..], pick)
                        .take(take)
                        .collect::<larchdb::Result<_>>()
                        .unwrap();
                    let want: Vec<_> = model
                        .range(lo.clone()..=hi.clone())
                        .filter(|(k, v)| pick(k, v))
                        .take(take)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    assert_eq!(got, want, "round {round}");
                    for (k, _) in got {
                        model.remove(&k);
                    }
                }
                assert_eq!(t.len().unwrap(), model.len() as u64, "round {round}");
            }
        }
        w.commit().unwrap();
        db.check().unwrap();
        assert_table_is(&db, &model, round);
    }
}

crate::also_cached!(
    model_in_memory,
    sweeps_whose_separators_outgrow_their_branch,
    random_sweeps_against_the_model,
    model_4k,
    model_16k,
    deep_tree_insert_remove_cycles,
    bulk_random_load_checks,
    bulk_removals_on_a_deep_tree,
);
