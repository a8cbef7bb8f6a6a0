//! The `ops` target: operation sequences against a model, with fault injection.

use super::{scratch_path, Bytes, Scratch};
use crate::error::{Error, Result};
use crate::store::sim::SimDisk;
use crate::{Builder, Database, Durability, ReadTxn, WriteTxn};
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;

/// Contents of a database: table (index into [`OPS_TABLES`]) -> entries. A table that exists but
/// is empty is present with no entries.
type Model = BTreeMap<usize, BTreeMap<Vec<u8>, Vec<u8>>>;

const OPS_TABLES: [&str; 3] = ["t0", "t1", "t2"];
const EIO: i32 = 5;
const ENOSPC: i32 = 28;

/// A key: with the top bit set, 1..=64 bytes taken from the input; otherwise one of 128 fixed
/// keys chosen to share prefixes, tie on their key hints, and end in zero bytes.
fn op_key(r: &mut Bytes) -> Vec<u8> {
    let b = r.u8();
    if b & 0x80 != 0 {
        let k = r.take(1 + (b & 0x3f) as usize);
        return if k.is_empty() { vec![0] } else { k.to_vec() };
    }
    let id = b & 0x7f;
    let mut k = match id % 4 {
        0 => b"k".to_vec(),
        1 => b"key-".to_vec(),
        2 => b"ke".to_vec(),
        _ => Vec::new(),
    };
    k.push(id);
    k.resize(k.len() + (id as usize / 4) % 3, 0);
    k
}

/// A value: mostly small, some near the inline limit, some in one- or two-page overflow runs, and
/// now and then a large one (20..71 KB); its bytes are a pattern, not taken from the input.
fn op_value(r: &mut Bytes) -> Vec<u8> {
    let (c, seed) = (r.u8(), r.u8());
    let s = seed as usize;
    let len = match c & 0x0f {
        0 => 0,
        1..=7 => s % 64,
        8..=11 => s * 4,
        12..=13 => 1000 + s * 12,
        14 => 4000 + s * 16,
        _ if c >> 4 == 0x0f => 20_000 + s * 200,
        _ => s * 8,
    };
    (0..len)
        .map(|i| seed.wrapping_add((i as u8).wrapping_mul(c | 1)))
        .collect()
}

fn op_bound(r: &mut Bytes) -> Bound<Vec<u8>> {
    match r.u8() % 3 {
        0 => Bound::Unbounded,
        1 => Bound::Included(op_key(r)),
        _ => Bound::Excluded(op_key(r)),
    }
}

fn in_bounds(k: &[u8], lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    let above = match lo {
        Bound::Unbounded => true,
        Bound::Included(l) => k >= l.as_slice(),
        Bound::Excluded(l) => k > l.as_slice(),
    };
    let below = match hi {
        Bound::Unbounded => true,
        Bound::Included(h) => k <= h.as_slice(),
        Bound::Excluded(h) => k < h.as_slice(),
    };
    above && below
}

fn as_ref_bound(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
    }
}

/// Where a read goes: the open write transaction, a fresh snapshot, or the held snapshot.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Writer,
    Latest,
    Held,
}

/// The state of one `fuzz_ops` run.
struct Ops {
    path: PathBuf,
    disk: Arc<SimDisk>,
    db: Option<Database>,
    wtx: Option<WriteTxn>,
    /// The model of the open write transaction.
    pending: Model,
    /// The last acknowledged commit.
    acked: Model,
    /// A commit that failed: after a reopen the database may show it instead of `acked`.
    in_flight: Option<Model>,
    snapshot: Option<(ReadTxn, Model)>,
    commits: u32,
}

impl Ops {
    /// After an error: fine only if it is an I/O error and a fault was injected.
    fn expect_fault(&self, what: &str, e: &Error) {
        let injected = self.disk.faults_injected() > 0;
        assert!(
            injected && matches!(e, Error::Io(_) | Error::PreviousIo(_)),
            "{what} failed with {e:?} (faults injected so far: {})",
            self.disk.faults_injected()
        );
    }

    /// The open write transaction, beginning one if needed; None if the handle refuses.
    fn writer(&mut self) -> Option<&mut WriteTxn> {
        if self.wtx.is_none() {
            match self.db.as_ref()?.begin_write() {
                Ok(w) => {
                    self.wtx = Some(w);
                    self.pending = self.acked.clone();
                }
                Err(e) => {
                    self.expect_fault("begin_write", &e);
                    return None;
                }
            }
        }
        self.wtx.as_mut()
    }

    fn insert(&mut self, t: usize, key: &[u8], value: &[u8]) {
        let Some(w) = self.writer() else { return };
        let r = w
            .open_table(OPS_TABLES[t])
            .and_then(|mut tm| tm.insert(key, value));
        r.unwrap_or_else(|e| panic!("insert into {}: {e:?}", OPS_TABLES[t]));
        self.pending
            .entry(t)
            .or_default()
            .insert(key.to_vec(), value.to_vec());
    }

    fn remove(&mut self, t: usize, key: &[u8]) {
        let Some(w) = self.writer() else { return };
        let r = w
            .open_table(OPS_TABLES[t])
            .and_then(|mut tm| tm.remove(key));
        let found = r.unwrap_or_else(|e| panic!("remove from {}: {e:?}", OPS_TABLES[t]));
        let expected = self.pending.entry(t).or_default().remove(key).is_some();
        assert_eq!(
            found, expected,
            "remove({key:?}) from {} found the wrong thing",
            OPS_TABLES[t]
        );
    }

    /// Entries of table `t` in `lo..hi` as `src` sees them, taken front or back as `pattern`'s
    /// bits say, at most `limit`; compared with the model's.
    fn range(
        &mut self,
        src: Source,
        t: usize,
        lo: &Bound<Vec<u8>>,
        hi: &Bound<Vec<u8>>,
        pattern: u32,
        limit: usize,
    ) {
        let name = OPS_TABLES[t];
        if src == Source::Writer {
            if self.writer().is_none() {
                return;
            }
            self.pending.entry(t).or_default();
        }
        let model = match (src, &self.snapshot) {
            (Source::Writer, _) => &self.pending,
            (Source::Latest, _) => &self.acked,
            (Source::Held, Some((_, m))) => m,
            (Source::Held, None) => return,
        };
        let exists = model.contains_key(&t);
        let expect: VecDeque<(Vec<u8>, Vec<u8>)> = model
            .get(&t)
            .into_iter()
            .flatten()
            .filter(|(k, _)| in_bounds(k, lo, hi))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let bounds = (as_ref_bound(lo), as_ref_bound(hi));
        let what = format!("range of {name} {bounds:?}");
        match src {
            Source::Writer => {
                let Some(w) = self.wtx.as_mut() else { return };
                let tm = w.open_table(name).expect("open_table in the writer");
                let it = tm.range(bounds).expect("range");
                compare_range(it, expect, pattern, limit, &what);
            }
            Source::Latest | Source::Held => {
                let fresh;
                let rtx = match (src, &self.snapshot) {
                    (Source::Held, Some((r, _))) => r,
                    _ => {
                        let Some(db) = &self.db else { return };
                        fresh = db.begin_read().expect("begin_read");
                        &fresh
                    }
                };
                match rtx.open_table(name) {
                    Ok(table) => {
                        let it = table.range(bounds).expect("range");
                        compare_range(it, expect, pattern, limit, &what);
                    }
                    Err(Error::TableNotFound(_)) => {
                        assert!(!exists, "table {name} missing from a snapshot");
                    }
                    Err(e) => panic!("open_table({name}): {e:?}"),
                }
            }
        }
    }

    fn get(&mut self, src: Source, t: usize, key: &[u8]) {
        let name = OPS_TABLES[t];
        let got: Option<Vec<u8>> = match src {
            Source::Writer => {
                let Some(w) = self.writer() else { return };
                let tm = w.open_table(name).expect("open_table in the writer");
                let v = tm
                    .get(key)
                    .unwrap_or_else(|e| panic!("get in {name}: {e:?}"))
                    .as_deref()
                    .map(<[u8]>::to_vec);
                self.pending.entry(t).or_default();
                v
            }
            Source::Latest | Source::Held => {
                let fresh;
                let rtx = match (src, &self.snapshot) {
                    (Source::Held, Some((r, _))) => r,
                    (Source::Held, None) => return,
                    _ => {
                        let Some(db) = &self.db else { return };
                        fresh = db.begin_read().expect("begin_read");
                        &fresh
                    }
                };
                match rtx.open_table(name) {
                    Ok(table) => table
                        .get(key)
                        .unwrap_or_else(|e| panic!("get in {name}: {e:?}"))
                        .map(<[u8]>::to_vec),
                    Err(Error::TableNotFound(_)) => None,
                    Err(e) => panic!("open_table({name}): {e:?}"),
                }
            }
        };
        let model = match src {
            Source::Writer => &self.pending,
            Source::Latest => &self.acked,
            Source::Held => &self.snapshot.as_ref().expect("held snapshot").1,
        };
        let want = model.get(&t).and_then(|m| m.get(key));
        assert!(
            got.as_ref() == want,
            "get({key:?}) in {name}: got {:?} bytes, expected {:?}",
            got.map(|v| v.len()),
            want.map(Vec::len)
        );
    }

    fn commit(&mut self, durability: Durability) {
        let Some(mut w) = self.wtx.take() else { return };
        w.set_durability(durability);
        self.commits += 1;
        match w.commit() {
            Ok(()) => {
                self.acked = std::mem::take(&mut self.pending);
                self.in_flight = None;
            }
            Err(e) => {
                self.expect_fault("commit", &e);
                self.in_flight = Some(std::mem::take(&mut self.pending));
                // Readers of this handle still see the last acknowledged commit.
                let db = self.db.as_ref().expect("a write txn implies a handle");
                assert_state(db, &self.acked, "reads after a failed commit");
            }
        }
    }

    fn delete_table(&mut self, t: usize) {
        let Some(w) = self.writer() else { return };
        let found = w
            .delete_table(OPS_TABLES[t])
            .unwrap_or_else(|e| panic!("delete_table: {e:?}"));
        let expected = self.pending.remove(&t).is_some();
        assert_eq!(
            found, expected,
            "delete_table({}) found the wrong thing",
            OPS_TABLES[t]
        );
    }

    /// Closes the handle and opens the file again through the simulated disk.
    fn reopen(&mut self) {
        self.wtx = None;
        self.snapshot = None;
        self.db = None;
        match Database::builder().open_simulated(&self.path, self.disk.clone()) {
            Ok(db) => {
                let got = read_state(&db).unwrap_or_else(|e| panic!("reads after a reopen: {e:?}"));
                self.settle(got, "reopen");
                self.db = Some(db);
            }
            Err(e) => self.expect_fault("reopen", &e),
        }
    }

    /// A reopened database shows `got`: the last acknowledged commit, or the one in flight.
    fn settle(&mut self, got: Model, what: &str) {
        if got != self.acked {
            assert!(
                self.in_flight.as_ref() == Some(&got),
                "{what}: the database is neither at the last acknowledged commit nor the one in \
                 flight (tables {:?}, acknowledged {:?})",
                got.keys().collect::<Vec<_>>(),
                self.acked.keys().collect::<Vec<_>>()
            );
            self.acked = got;
        }
        self.in_flight = None;
    }
}

/// Takes up to `limit` entries from `it`, from the front or the back as the bits of `pattern` say,
/// and compares each with the model's `expect`.
fn compare_range<B: std::ops::Deref<Target = [u8]>>(
    mut it: impl DoubleEndedIterator<Item = Result<(B, B)>>,
    mut expect: VecDeque<(Vec<u8>, Vec<u8>)>,
    pattern: u32,
    limit: usize,
    what: &str,
) {
    for step in 0..limit {
        let back = (pattern >> (step % 32)) & 1 != 0;
        let got = if back { it.next_back() } else { it.next() };
        let want = if back {
            expect.pop_back()
        } else {
            expect.pop_front()
        };
        let got = got.transpose().unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let same = match (&got, &want) {
            (Some((gk, gv)), Some((wk, wv))) => **gk == wk[..] && **gv == wv[..],
            (None, None) => true,
            _ => false,
        };
        assert!(
            same,
            "{what}: step {step} ({}) got key {:?}, expected {:?}",
            if back { "back" } else { "front" },
            got.map(|e| e.0.to_vec()),
            want.map(|e| e.0)
        );
        if want.is_none() {
            break;
        }
    }
}

/// Reads tables `OPS_TABLES` of the latest commit.
fn read_state(db: &Database) -> Result<Model> {
    let rtx = db.begin_read()?;
    let mut m = Model::new();
    for (t, name) in OPS_TABLES.iter().enumerate() {
        match rtx.open_table(name) {
            Ok(table) => {
                let entries = table
                    .iter()?
                    .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())));
                m.insert(t, entries.collect::<Result<_>>()?);
            }
            Err(Error::TableNotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(m)
}

fn assert_state(db: &Database, model: &Model, what: &str) {
    let got = read_state(db).unwrap_or_else(|e| panic!("{what}: {e:?}"));
    assert!(got == *model, "{what}: the database differs from the model");
}

/// Runs a sequence of operations against a `BTreeMap` model, on a database opened through the
/// simulated disk with an optional injected fault.
///
/// Input: a header byte (bit 0: inject a fault; bit 1: keep failing from then on; bit 2: ENOSPC
/// instead of EIO); with a fault, a byte `a`: the fault hits I/O operation number
/// `1 + a + 256 * (header >> 6)`. Then operations until the input ends (at most 1000), each an
/// opcode byte (mod 20), a table byte (mod 3) and the opcode's arguments: insert (key, value),
/// remove, get and range (from the write transaction, a fresh snapshot, or a held one), commit
/// (Immediate or Eventual), abort, reopen, sync, take or drop a held snapshot, delete a table, fill
/// (up to 64 sequential keys), remove a range, check. A key is a byte with the top bit set followed by 1..=64 key bytes, or
/// else one of 128 fixed keys that share prefixes and end in zero bytes; a value is two bytes
/// choosing a size class (empty to 71 KB) and a byte pattern.
///
/// Checks: without a fault, every read matches the model, `check()` passes, and a reopen shows the
/// last commit. Once a fault was injected, errors must be `Io` or `PreviousIo`, reads of the handle
/// still match the last acknowledged commit, and a reopen (a plain `Database::open` at the end)
/// passes `check()` and shows the last acknowledged commit or the one that failed.
pub fn fuzz_ops(data: &[u8]) {
    let mut r = Bytes::new(data);
    let header = r.u8();
    let path = scratch_path("ops");
    let _cleanup = Scratch(path.clone());
    let disk = SimDisk::new();
    if header & 1 != 0 {
        let n = 1 + r.u8() as u64 + 256 * (header >> 6) as u64;
        disk.fail_op(
            n,
            header & 2 != 0,
            if header & 4 != 0 { ENOSPC } else { EIO },
        );
    }
    let mut ops = Ops {
        path: path.clone(),
        disk: disk.clone(),
        db: None,
        wtx: None,
        pending: Model::new(),
        acked: Model::new(),
        in_flight: None,
        snapshot: None,
        commits: 0,
    };
    match Builder::default().open_simulated(&path, disk.clone()) {
        Ok(db) => ops.db = Some(db),
        Err(e) => ops.expect_fault("open", &e),
    }
    let mut steps = 0;
    while !r.is_empty() && steps < 1000 && ops.commits < 200 {
        steps += 1;
        let op = r.u8() % 20;
        let t = r.u8() as usize % OPS_TABLES.len();
        match op {
            0..=5 => {
                let (k, v) = (op_key(&mut r), op_value(&mut r));
                ops.insert(t, &k, &v);
            }
            6 | 7 => {
                let k = op_key(&mut r);
                ops.remove(t, &k);
            }
            8 | 9 => {
                let src = [Source::Writer, Source::Latest, Source::Held][r.u8() as usize % 3];
                if op == 8 {
                    let k = op_key(&mut r);
                    ops.get(src, t, &k);
                } else {
                    let (lo, hi) = (op_bound(&mut r), op_bound(&mut r));
                    let (pattern, limit) = (r.u32(), 1 + r.u8() as usize);
                    ops.range(src, t, &lo, &hi, pattern, limit);
                }
            }
            10 | 11 => ops.commit(if t == 0 {
                Durability::Eventual
            } else {
                Durability::Immediate
            }),
            12 => {
                if let Some(w) = ops.wtx.take() {
                    w.abort().expect("abort");
                }
            }
            13 => ops.reopen(),
            14 => {
                if let Some(Err(e)) = ops.db.as_ref().map(Database::sync) {
                    ops.expect_fault("sync", &e);
                }
            }
            15 => {
                ops.snapshot = None;
                if t != 0 {
                    if let Some(db) = &ops.db {
                        ops.snapshot =
                            Some((db.begin_read().expect("begin_read"), ops.acked.clone()));
                    }
                }
            }
            16 => ops.delete_table(t),
            17 => {
                let (base, count) = (r.u8(), 1 + r.u8() as usize % 64);
                let v = op_value(&mut r);
                for i in 0..count {
                    let mut k = b"fill-".to_vec();
                    k.extend_from_slice(&(base as u16 * 16 + i as u16).to_be_bytes());
                    ops.insert(t, &k, &v);
                }
            }
            18 => {
                let (lo, hi) = (op_bound(&mut r), op_bound(&mut r));
                let model = if ops.wtx.is_some() {
                    &ops.pending
                } else {
                    &ops.acked
                };
                let keys: Vec<Vec<u8>> = model
                    .get(&t)
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .filter(|k| in_bounds(k, &lo, &hi))
                    .take(64)
                    .cloned()
                    .collect();
                for k in keys {
                    ops.remove(t, &k);
                }
            }
            _ => {
                if let Some(db) = &ops.db {
                    db.check().unwrap_or_else(|e| panic!("check: {e:?}"));
                }
            }
        }
    }
    ops.wtx = None;
    ops.snapshot = None;
    if let Some(db) = ops.db.take() {
        assert_state(&db, &ops.acked, "final reads");
        db.check().unwrap_or_else(|e| panic!("final check: {e:?}"));
    }
    let db = Database::open(&path).unwrap_or_else(|e| panic!("final reopen: {e:?}"));
    db.check()
        .unwrap_or_else(|e| panic!("check after the final reopen: {e:?}"));
    let got = read_state(&db).unwrap_or_else(|e| panic!("reads after the final reopen: {e:?}"));
    if disk.faults_injected() == 0 {
        assert!(
            got == ops.acked,
            "final reopen: the database differs from the model"
        );
    } else {
        ops.settle(got, "final reopen");
    }
}
