//! Commit log records (docs/FORMAT.md section 14): what a write transaction did, as logical
//! operations, so that an `Immediate` commit costs one small sequential write and one sync of that
//! write, while the tree's pages reach the disk at the next checkpoint. [`OpRecorder`] collects a
//! transaction's operations; [`encode`] seals them into a record; [`scan`] reads the records of a
//! region back on open, stopping at the first one that does not verify.

use crate::error::{corrupted, Result};
use crate::page::meta::RECORD_ALIGN;
use crate::page::{get_u16, get_u32, get_u64, put_u64};
use crate::store::FileStore;
use xxhash_rust::xxh3::Xxh3;

/// Largest record a commit appends; a transaction with more operations is a checkpoint instead
/// (a large commit writes its data once that way, rather than in the log and again in the tree).
pub(crate) const MAX_RECORD: usize = 1 << 20;
/// The eight bytes a record starts with.
pub(crate) const REC_MAGIC: [u8; 8] = *b"LARCHLOG";
/// Offset of the u64 log generation (the checkpoint's `log_gen`).
pub(crate) const REC_OFF_GEN: usize = 8;
/// Offset of the u64 id of the committing transaction.
pub(crate) const REC_OFF_TXN: usize = 16;
/// Offset of the u64 length of the operations after the header.
pub(crate) const REC_OFF_LEN: usize = 24;
/// Offset of the u64 xxh3 checksum of bytes `0..32` followed by the operations.
pub(crate) const REC_OFF_CHECKSUM: usize = 32;
/// Length of a record header; the operations follow it.
pub(crate) const REC_HEADER: usize = 40;

/// Operation: the following operations apply to table `name` (created if missing).
pub(crate) const OP_TABLE: u8 = 1;
/// Operation: insert or overwrite `key` with `value` in the current table.
pub(crate) const OP_INSERT: u8 = 2;
/// Operation: remove `key` from the current table.
pub(crate) const OP_REMOVE: u8 = 3;
/// Operation: delete table `name` and everything in it.
pub(crate) const OP_DELETE_TABLE: u8 = 4;

/// Bytes a record of `len` bytes occupies in the region (rounded up to [`RECORD_ALIGN`]: the
/// next record starts right after it). Writing a record never writes bytes of the one before it
/// (powersafe overwrite, FORMAT.md section 1), so it cannot tear a record that is already durable.
pub(crate) fn aligned(len: u64) -> u64 {
    len.next_multiple_of(RECORD_ALIGN)
}

/// Bytes reserved for a transaction's record when its first operation is recorded: a small
/// transaction's whole record, in one allocation.
const FIRST_RESERVE: usize = 512;

/// Collects the logical operations of one write transaction, in the order they were made, up to
/// a size limit; past it the transaction is committed by a checkpoint instead of a log record.
pub(crate) struct OpRecorder {
    /// Header space followed by the encoded operations.
    buf: Vec<u8>,
    /// Index (in the transaction's open tables) of the table the last operation named.
    table: Option<usize>,
    /// Largest record that fits in the log region.
    limit: usize,
    /// The operations outgrew `limit` (or there is no log): nothing is recorded any more.
    overflowed: bool,
}

impl OpRecorder {
    /// A recorder for records of at most `limit` bytes (and [`MAX_RECORD`]; 0: no log, record
    /// nothing).
    pub fn new(limit: usize) -> OpRecorder {
        let limit = limit.min(MAX_RECORD);
        OpRecorder {
            buf: Vec::new(),
            table: None,
            limit,
            overflowed: limit <= REC_HEADER,
        }
    }

    /// Appends `bytes`, giving up (and freeing the buffer) once the record would be too large.
    fn push(&mut self, parts: &[&[u8]]) {
        if self.overflowed {
            return;
        }
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if self.buf.is_empty() {
            // One allocation for a small transaction's whole record ([`FIRST_RESERVE`] bytes, or
            // what its first operation needs), rather than one per growth step of its first
            // operations.
            let first = (REC_HEADER + len).max(FIRST_RESERVE);
            self.buf.reserve_exact(first.min(self.limit));
            self.buf.resize(REC_HEADER, 0);
        }
        if self.buf.len() + len > self.limit {
            self.overflowed = true;
            self.buf = Vec::new();
            return;
        }
        for p in parts {
            self.buf.extend_from_slice(p);
        }
    }

    /// Notes that the next operations apply to the table at `idx`, named `name`.
    pub fn table(&mut self, idx: usize, name: &str) {
        if self.table != Some(idx) {
            self.table = Some(idx);
            let len = (name.len() as u16).to_le_bytes();
            self.push(&[&[OP_TABLE], &len, name.as_bytes()]);
        }
    }

    /// Records an insert into the current table.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) {
        let (k, v) = (key.len() as u32, value.len() as u32);
        self.push(&[&[OP_INSERT], &k.to_le_bytes(), &v.to_le_bytes(), key, value]);
    }

    /// Records a removal from the current table.
    pub fn remove(&mut self, key: &[u8]) {
        self.push(&[&[OP_REMOVE], &(key.len() as u32).to_le_bytes(), key]);
    }

    /// Records the deletion of table `name`. Table indices change with it, so the next operation
    /// names its table again.
    pub fn delete_table(&mut self, name: &str) {
        self.table = None;
        let len = (name.len() as u16).to_le_bytes();
        self.push(&[&[OP_DELETE_TABLE], &len, name.as_bytes()]);
    }

    /// Whether these operations will not make a record that fits in `room` bytes of the region
    /// (so the commit will be a checkpoint).
    pub fn exceeds(&self, room: u64) -> bool {
        self.overflowed || aligned(self.buf.len().max(REC_HEADER) as u64) > room
    }

    /// The sealed record of these operations for transaction `txn` in log generation `gen`, or
    /// None if they did not fit.
    pub fn finish(mut self, gen: u64, txn: u64) -> Option<Vec<u8>> {
        if self.overflowed {
            return None;
        }
        if self.buf.is_empty() {
            self.buf.resize(REC_HEADER, 0);
        }
        encode(&mut self.buf, gen, txn);
        Some(self.buf)
    }
}

/// Fills in the header of `rec` (header space followed by operations) and its checksum.
pub(crate) fn encode(rec: &mut [u8], gen: u64, txn: u64) {
    rec[..8].copy_from_slice(&REC_MAGIC);
    put_u64(rec, REC_OFF_GEN, gen);
    put_u64(rec, REC_OFF_TXN, txn);
    put_u64(rec, REC_OFF_LEN, (rec.len() - REC_HEADER) as u64);
    let sum = checksum(&rec[..REC_OFF_CHECKSUM], &rec[REC_HEADER..]);
    put_u64(rec, REC_OFF_CHECKSUM, sum);
}

/// The checksum of a record: xxh3-64 of its first 32 header bytes followed by its operations.
fn checksum(head: &[u8], ops: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(head);
    h.update(ops);
    h.digest()
}

/// One record read back from the log.
pub(crate) struct Record {
    /// Id of the transaction that wrote it.
    pub txn: u64,
    /// Its operations (decode with [`ops`]).
    pub ops: Vec<u8>,
}

/// What [`scan`] found in a log region.
pub(crate) struct Scan {
    /// The complete records from the start of the region, in order.
    pub records: Vec<Record>,
    /// If a complete record of the same generation lies beyond the first position that does not
    /// verify: that position's byte offset and the later record's txn. A crash only tears the
    /// tail of the log, so this means damage, and acknowledged commits that were not replayed.
    pub damaged: Option<(u64, u64)>,
}

/// Reads the records of generation `gen` from the region at byte `start`, `len` bytes long, in
/// order, each starting at the first multiple of `align` bytes after the one before, with a txn
/// id above the previous one (the first above `after`). Stops at the first position that does
/// not hold such a record whose checksum verifies: the log's end, or a record torn by a crash
/// before its sync (never acknowledged). Then looks further, at every multiple of `align`, for a
/// verifying record of the same generation, which would mean the stop was damage.
pub(crate) fn scan(
    store: &FileStore,
    (start, len): (u64, u64),
    gen: u64,
    after: u64,
    align: u64,
) -> Result<Scan> {
    let mut records = Vec::new();
    let (mut off, mut last) = (0u64, after);
    while let Some(r) = read_record(store, start, len, off, gen, last)? {
        off += (REC_HEADER as u64 + r.ops.len() as u64).next_multiple_of(align);
        last = r.txn;
        records.push(r);
    }
    let damaged = probe_damage(store, (start, len), off, gen, last, align)?;
    Ok(Scan { records, damaged })
}

/// Bytes of the region read at a time while looking for records past the log's end.
const PROBE_CHUNK: u64 = 1 << 20;

/// After the log of the region (`start`, `len`) ended at byte `end`: the first record past it,
/// at a multiple of `align`, of generation `gen` with a txn above `last` that verifies, as
/// `(end, its txn)`. Reads the region in chunks and reads a record whole only where the chunk
/// shows its magic, generation and a txn above `last` (past the end lie records of older
/// generations, thousands per MiB).
fn probe_damage(
    store: &FileStore,
    (start, len): (u64, u64),
    end: u64,
    gen: u64,
    last: u64,
    align: u64,
) -> Result<Option<(u64, u64)>> {
    let mut buf = vec![0u8; PROBE_CHUNK as usize];
    let mut from = end + align;
    while from + (REC_HEADER as u64) <= len {
        let want = (len - from).min(PROBE_CHUNK) as usize;
        let got = store.read_at(&mut buf[..want], start + from)?;
        let chunk = &buf[..got];
        // `align` divides the chunk's length, so every position is looked at once; a header
        // cut by the chunk's end is judged by `read_record` alone.
        for at in (0..got).step_by(align as usize) {
            let head = &chunk[at..];
            let candidate = match head.get(..REC_HEADER) {
                Some(h) => {
                    h[..REC_MAGIC.len()] == REC_MAGIC
                        && get_u64(h, REC_OFF_GEN) == Some(gen)
                        && get_u64(h, REC_OFF_TXN).is_some_and(|t| t > last)
                }
                None => head.starts_with(&REC_MAGIC[..head.len().min(REC_MAGIC.len())]),
            };
            if candidate {
                if let Some(r) = read_record(store, start, len, from + at as u64, gen, last)? {
                    return Ok(Some((end, r.txn)));
                }
            }
        }
        if got < want {
            break;
        }
        from += PROBE_CHUNK;
    }
    Ok(None)
}

/// The record at byte `off` of the region (at `start`, `len` bytes long) if one of generation
/// `gen` with a txn above `last` verifies there.
fn read_record(
    store: &FileStore,
    start: u64,
    len: u64,
    off: u64,
    gen: u64,
    last: u64,
) -> Result<Option<Record>> {
    let mut head = [0u8; REC_HEADER];
    if off + REC_HEADER as u64 > len
        || store.read_at(&mut head, start + off)? < REC_HEADER
        || head[..8] != REC_MAGIC
    {
        return Ok(None);
    }
    let field = |o| get_u64(&head, o).unwrap_or(0);
    let (g, txn, n) = (field(REC_OFF_GEN), field(REC_OFF_TXN), field(REC_OFF_LEN));
    if g != gen || txn <= last || n > len - off - REC_HEADER as u64 {
        return Ok(None);
    }
    let mut ops = vec![0u8; n as usize];
    if store.read_at(&mut ops, start + off + REC_HEADER as u64)? < ops.len()
        || checksum(&head[..REC_OFF_CHECKSUM], &ops) != field(REC_OFF_CHECKSUM)
    {
        return Ok(None);
    }
    Ok(Some(Record { txn, ops }))
}

/// One logical operation of a record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Op<'a> {
    /// Later operations apply to this table (created if missing).
    Table(&'a str),
    /// Insert or overwrite.
    Insert(&'a [u8], &'a [u8]),
    /// Remove.
    Remove(&'a [u8]),
    /// Delete this table.
    DeleteTable(&'a str),
}

/// Decodes the operations of a record. A record's checksum verified, so a malformed operation
/// means a bug or deliberate damage: `Corrupted` (naming the log region's first page, `page`).
pub(crate) fn ops(bytes: &[u8], page: u64) -> Result<Vec<Op<'_>>> {
    let bad = || corrupted(page, "malformed operation in a commit log record");
    let mut out = Vec::new();
    let mut rest = bytes;
    fn take<'a>(n: usize, rest: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (a, b) = rest.split_at_checked(n)?;
        *rest = b;
        Some(a)
    }
    while let Some((&kind, tail)) = rest.split_first() {
        rest = tail;
        let op = match kind {
            OP_TABLE | OP_DELETE_TABLE => {
                let n = get_u16(take(2, &mut rest).ok_or_else(bad)?, 0).ok_or_else(bad)? as usize;
                let name =
                    std::str::from_utf8(take(n, &mut rest).ok_or_else(bad)?).map_err(|_| bad())?;
                if kind == OP_TABLE {
                    Op::Table(name)
                } else {
                    Op::DeleteTable(name)
                }
            }
            OP_INSERT => {
                let lens = take(8, &mut rest).ok_or_else(bad)?;
                let k = get_u32(lens, 0).ok_or_else(bad)? as usize;
                let v = get_u32(lens, 4).ok_or_else(bad)? as usize;
                Op::Insert(
                    take(k, &mut rest).ok_or_else(bad)?,
                    take(v, &mut rest).ok_or_else(bad)?,
                )
            }
            OP_REMOVE => {
                let k = get_u32(take(4, &mut rest).ok_or_else(bad)?, 0).ok_or_else(bad)? as usize;
                Op::Remove(take(k, &mut rest).ok_or_else(bad)?)
            }
            _ => return Err(bad()),
        };
        out.push(op);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_round_trip() {
        let mut r = OpRecorder::new(1 << 20);
        r.table(0, "users");
        r.insert(b"alice", b"admin");
        r.table(0, "users");
        r.remove(b"bob");
        r.delete_table("old");
        r.table(1, "idx");
        r.insert(b"k", b"");
        let rec = r.finish(7, 42).unwrap();
        assert_eq!(&rec[..8], b"LARCHLOG");
        assert_eq!(get_u64(&rec, REC_OFF_GEN), Some(7));
        assert_eq!(get_u64(&rec, REC_OFF_TXN), Some(42));
        assert_eq!(
            get_u64(&rec, REC_OFF_LEN),
            Some((rec.len() - REC_HEADER) as u64)
        );
        let ops = ops(&rec[REC_HEADER..], 2).unwrap();
        assert_eq!(
            ops,
            [
                Op::Table("users"),
                Op::Insert(b"alice", b"admin"),
                Op::Remove(b"bob"),
                Op::DeleteTable("old"),
                Op::Table("idx"),
                Op::Insert(b"k", b""),
            ]
        );
    }

    #[test]
    fn a_recorder_past_its_limit_gives_up() {
        let mut r = OpRecorder::new(100);
        r.table(0, "t");
        r.insert(b"k", &[7u8; 200]);
        r.insert(b"k", b"v");
        assert!(r.finish(1, 2).is_none());
        assert!(OpRecorder::new(0).finish(1, 2).is_none());
    }

    #[test]
    fn truncated_operations_are_corrupt() {
        let mut r = OpRecorder::new(1 << 20);
        r.table(0, "t");
        r.insert(b"key", b"value");
        let rec = r.finish(1, 2).unwrap();
        // Cut anywhere inside the insert (1 + 8 + 3 + 5 bytes, after the table's 4).
        for cut in 1..17 {
            assert!(
                ops(&rec[REC_HEADER..rec.len() - cut], 2).is_err(),
                "cut {cut}"
            );
        }
        assert_eq!(ops(&rec[REC_HEADER..rec.len() - 17], 2).unwrap().len(), 1);
        assert!(ops(&[9], 2).is_err());
    }

    /// A store on a new temporary file of `len` zero bytes.
    fn zeroed_store(len: u64) -> FileStore {
        let file = tempfile::tempfile().unwrap();
        file.set_len(len).unwrap();
        FileStore::lock(crate::store::storage::PlainFile::new(file), false).unwrap()
    }

    /// A record of generation `gen` for transaction `txn`.
    fn record(gen: u64, txn: u64) -> Vec<u8> {
        let mut r = OpRecorder::new(1 << 20);
        r.table(0, "t");
        r.insert(b"key", b"value");
        r.finish(gen, txn).unwrap()
    }

    /// The scan past the log's end finds a later record wherever it lies: at the last position of
    /// a chunk, the first of the next, the region's last, for both record alignments; and not one
    /// of another generation, an older txn, or whose bytes do not verify.
    #[test]
    fn the_probe_past_the_end_finds_records_across_chunks() {
        let rec = record(3, 12);
        let len = 3 * PROBE_CHUNK;
        for align in [RECORD_ALIGN, 512] {
            // The log holds one record (txn 11); the probe starts one alignment past its end.
            let first = record(3, 11);
            let end = (first.len() as u64).next_multiple_of(align);
            let from = end + align;
            let last_fit = (len - rec.len() as u64) / align * align;
            for at in [
                from,
                from + PROBE_CHUNK - align,
                from + PROBE_CHUNK,
                from + 2 * PROBE_CHUNK - align,
                last_fit,
            ] {
                let store = zeroed_store(len);
                store.write_at(&first, 0).unwrap();
                store.write_at(&rec, at).unwrap();
                let scan = scan(&store, (0, len), 3, 10, align).unwrap();
                assert_eq!(scan.records.len(), 1, "align {align}, at {at}");
                assert_eq!(scan.damaged, Some((end, 12)), "align {align}, at {at}");
            }
            // Not found: another generation, a txn not above the log's last, damaged bytes (a
            // record with the magic but a wrong checksum before a good one is passed over).
            let store = zeroed_store(len);
            store.write_at(&first, 0).unwrap();
            store.write_at(&record(2, 12), from).unwrap();
            store.write_at(&record(3, 11), from + PROBE_CHUNK).unwrap();
            let mut bad = record(3, 13);
            bad[REC_HEADER] ^= 1;
            store.write_at(&bad, from + 2 * PROBE_CHUNK).unwrap();
            assert_eq!(scan(&store, (0, len), 3, 10, align).unwrap().damaged, None);
            store.write_at(&rec, last_fit).unwrap();
            let found = scan(&store, (0, len), 3, 10, align).unwrap();
            assert_eq!(found.damaged, Some((end, 12)), "align {align}");
        }
    }
}
