//! Slotted leaf and branch pages: a read view ([`Node`]) and in-place edits of dirty pages.
//!
//! Layout (see `docs/FORMAT.md`): the 32-byte header (whose last field is the page's prefix
//! length), then an array of 6-byte slots in key order, each a cell offset and the key hint of
//! the key's bytes after the prefix, growing forward; cells are packed at the end of the page,
//! growing backward, with no gaps (a removal compacts the cell area).
//!
//! Leaf cell: `key_len u16 | flags u8 | reserved u8 | value_len u32 | key | value or overflow ref`.
//! Branch cell: `child pgno u64 | child txn u64 | key_len u16 | key`; cell 0's key is empty.

use super::layout::PageHeader;
use super::{
    cmp_keys, common_prefix, get_u16, get_u32, get_u64, key_hint, put_u16, put_u32, put_u64,
    suffix_hint, PagePtr, HEADER_LEN, KIND_BRANCH, KIND_LEAF, OFF_CELLS_START, OFF_COUNT, OFF_KIND,
    OFF_PREFIX_LEN, SLOT_LEN, SLOT_OFF_HINT,
};
use crate::error::{corrupted, Result};
use std::cmp::Ordering;
use zerocopy::FromBytes;

/// Offset of the key length in a leaf cell.
pub(crate) const LEAF_OFF_KEY_LEN: usize = 0;
/// Offset of the flags byte in a leaf cell.
pub(crate) const LEAF_OFF_FLAGS: usize = 2;
/// Offset of the value length in a leaf cell.
pub(crate) const LEAF_OFF_VALUE_LEN: usize = 4;
/// Length of a leaf cell's fixed part; the key follows.
pub(crate) const LEAF_CELL_HEADER: usize = 8;
/// Leaf flag: the value lives in an overflow run; the cell holds `pgno u64 | txn u64`.
pub(crate) const LEAF_FLAG_OVERFLOW: u8 = 1;
/// Length of an overflow reference in a leaf cell.
pub(crate) const OVERFLOW_REF_LEN: usize = 16;
/// Offset of the child page number in a branch cell.
pub(crate) const BRANCH_OFF_CHILD: usize = 0;
/// Offset of the child's txn id in a branch cell.
pub(crate) const BRANCH_OFF_CHILD_TXN: usize = 8;
/// Offset of the key length in a branch cell.
pub(crate) const BRANCH_OFF_KEY_LEN: usize = 16;
/// Length of a branch cell's fixed part; the key follows.
pub(crate) const BRANCH_CELL_HEADER: usize = 18;

/// A value as a leaf cell stores it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LeafValue<'a> {
    /// The value bytes, inside the leaf.
    Inline(&'a [u8]),
    /// A reference to an overflow run holding `len` bytes.
    Overflow { ptr: PagePtr, len: u64 },
}

/// Length of the cell at the start of `cell` for a page of `kind`, or None if it is cut short.
pub(crate) fn cell_len(kind: u8, cell: &[u8]) -> Option<usize> {
    if kind == KIND_LEAF {
        let klen = get_u16(cell, LEAF_OFF_KEY_LEN)? as usize;
        let flags = *cell.get(LEAF_OFF_FLAGS)?;
        let vlen = if flags & LEAF_FLAG_OVERFLOW != 0 {
            OVERFLOW_REF_LEN
        } else {
            get_u32(cell, LEAF_OFF_VALUE_LEN)? as usize
        };
        Some(LEAF_CELL_HEADER + klen + vlen)
    } else {
        Some(BRANCH_CELL_HEADER + get_u16(cell, BRANCH_OFF_KEY_LEN)? as usize)
    }
}

/// One slot of the slot array: the cell offset (u16 LE), then the key hint (u32 BE).
type Slot = [u8; SLOT_LEN];
// `Node::cell_offset` and `Node::hint` destructure a slot in this layout.
const _: () = assert!(SLOT_LEN == 6 && SLOT_OFF_HINT == 2);

/// A validated read-only view of a leaf or branch page.
#[derive(Clone, Copy)]
pub(crate) struct Node<'a> {
    pgno: u64,
    data: &'a [u8],
    /// The slot array: `count` slots, which `parse` checked lie before the cell area, so that a
    /// slot read is one comparison of its index with the count.
    slots: &'a [Slot],
    kind: u8,
    cells_start: usize,
    /// The length of the prefix that every key (but a branch's cell 0) starts with, after which
    /// the slots' hints are taken (0: hints of whole keys). Checked by `validate_cells`.
    prefix_len: usize,
}

// The decoder of pages read from the file: every access is checked (no indexing that can panic).
#[deny(clippy::indexing_slicing)]
impl<'a> Node<'a> {
    /// Checks the header of page `pgno` (kind, txn, slot array bounds) and returns a view of it.
    /// `expect_txn` is the txn id the pointer to this page recorded.
    #[inline(always)]
    pub fn parse(pgno: u64, data: &'a [u8], expect_txn: u64) -> Result<Node<'a>> {
        let Some(header) = PageHeader::read(data) else {
            return Err(bad_page(pgno, "page shorter than its header"));
        };
        let kind = header.kind;
        if kind != KIND_LEAF && kind != KIND_BRANCH {
            return Err(wrong_kind(pgno, kind));
        }
        let txn = header.txn.get();
        if txn != expect_txn {
            return Err(wrong_txn(pgno, txn, expect_txn));
        }
        let count = usize::from(header.count.get());
        let cells_start = header.cells_start.get() as usize;
        // The slot array, which must end at or before the cell area, inside the page.
        let Some((slots, _)) = data
            .get(HEADER_LEN..cells_start)
            .and_then(|b| <[Slot]>::ref_from_prefix_with_elems(b, count).ok())
        else {
            return Err(bad_page(pgno, "slot array and cell area overlap"));
        };
        if count == 0 && kind == KIND_BRANCH {
            return Err(bad_page(pgno, "branch page without children"));
        }
        Ok(Node {
            pgno,
            data,
            slots,
            kind,
            cells_start,
            prefix_len: header.value_len.get() as usize,
        })
    }

    /// Whether the page's checksum is seeded with its page number (flags bit 0): if that
    /// checksum was verified, the page lies where its writer put it.
    #[inline]
    pub fn seeded(&self) -> bool {
        self.data
            .get(crate::page::OFF_FLAGS)
            .is_some_and(|f| f & crate::page::PAGE_FLAG_PGNO_SEED != 0)
    }

    /// Checks every cell's bounds, the prefix length (every key starts with the first key's first
    /// `p` bytes), every slot's key hint, and that the cells fill the cell area exactly. Done once before a page is copied into a write transaction, so that in-place edits
    /// can trust it, and by `check()`.
    pub fn validate_cells(&self) -> Result<()> {
        // One bit per byte of the page: cells must not share a byte (two slots naming one cell,
        // or overlapping cells, would let an in-place edit change other entries).
        let mut used = [0u64; super::MAX_PAGE_SIZE / 64];
        let mut total = 0usize;
        let prefix = self.prefix()?;
        for i in 0..self.count() {
            let cell = self.cell(i)?;
            let start = cell.as_ptr() as usize - self.data.as_ptr() as usize;
            if !mark_used(&mut used, start, start + cell.len()) {
                return Err(corrupted(
                    self.pgno,
                    format!("cell {i} overlaps another cell"),
                ));
            }
            total += cell.len();
            let key = self.key(i)?;
            if i >= first_keyed(self.kind) && !key.starts_with(prefix) {
                return Err(corrupted(
                    self.pgno,
                    format!("key {i} does not start with the page's prefix"),
                ));
            }
            if self.hint(i) != suffix_hint(key, self.prefix_len) {
                return Err(corrupted(
                    self.pgno,
                    format!("slot {i} has a key hint that does not match its key"),
                ));
            }
        }
        if total != self.data.len() - self.cells_start {
            return Err(corrupted(
                self.pgno,
                "cell area has gaps or overlapping cells",
            ));
        }
        Ok(())
    }

    /// The prefix every key of the page starts with, as the page's first key holds it: empty
    /// when the prefix length is 0; Corrupted when the page has no key that long.
    fn prefix(&self) -> Result<&'a [u8]> {
        if self.prefix_len == 0 {
            return Ok(&[]);
        }
        let from = first_keyed(self.kind);
        if self.count() <= from {
            return Err(corrupted(
                self.pgno,
                "page without keys has a prefix length",
            ));
        }
        self.key(from)?.get(..self.prefix_len).ok_or_else(|| {
            corrupted(
                self.pgno,
                format!("prefix length {} is past the first key", self.prefix_len),
            )
        })
    }

    /// Page number of this page.
    pub fn pgno(&self) -> u64 {
        self.pgno
    }

    /// The slot array's bytes, which a search of the page reads (for a prefetch).
    pub fn slot_bytes(&self) -> &'a [u8] {
        self.slots.as_flattened()
    }

    /// True for a leaf page.
    pub fn is_leaf(&self) -> bool {
        self.kind == KIND_LEAF
    }

    /// Number of cells (entries in a leaf, children in a branch).
    pub fn count(&self) -> usize {
        self.slots.len()
    }

    /// Bytes in use by slots and cells (the header excluded).
    pub fn used(&self) -> usize {
        self.count() * SLOT_LEN + self.data.len() - self.cells_start
    }

    /// The byte offset of cell `i`, from its slot: checked to be a slot of this page (`i <
    /// count`) naming a byte of the cell area.
    #[inline(always)]
    fn cell_offset(&self, i: usize) -> Result<usize> {
        match self.slots.get(i) {
            Some(&[a, b, ..]) => {
                let off = usize::from(u16::from_le_bytes([a, b]));
                if off < self.cells_start {
                    return Err(self.slot_outside(i));
                }
                Ok(off)
            }
            None => Err(self.slot_out_of_range(i)),
        }
    }

    /// The error for a slot `i` past the page's count.
    #[cold]
    fn slot_out_of_range(&self, i: usize) -> crate::error::Error {
        corrupted(self.pgno, format!("slot {i} out of range"))
    }

    #[cold]
    fn slot_outside(&self, i: usize) -> crate::error::Error {
        corrupted(self.pgno, format!("slot {i} points outside the cell area"))
    }

    #[cold]
    fn cell_past_end(&self, i: usize) -> crate::error::Error {
        corrupted(self.pgno, format!("cell {i} runs past the end of the page"))
    }

    /// The raw bytes of cell `i`, bounds-checked.
    pub fn cell(&self, i: usize) -> Result<&'a [u8]> {
        let rest = self.data.get(self.cell_offset(i)?..).unwrap_or(&[]);
        cell_len(self.kind, rest)
            .and_then(|len| rest.get(..len))
            .ok_or_else(|| self.cell_past_end(i))
    }

    /// The key of entry `i` (empty for a branch's cell 0). Reads only the cell's key (a leaf
    /// value past the end of the page is reported by [`Node::leaf_entry`]).
    #[inline]
    pub fn key(&self, i: usize) -> Result<&'a [u8]> {
        let off = self.cell_offset(i)?;
        self.data
            .get(off..)
            .and_then(|cell| key_of(self.kind, cell))
            .ok_or_else(|| self.cell_past_end(i))
    }

    /// The key and value of leaf entry `i`: one slot read and one bounds check per field.
    #[inline(always)]
    pub fn leaf_entry(&self, i: usize) -> Result<(&'a [u8], LeafValue<'a>)> {
        let cell = self.data.get(self.cell_offset(i)?..).unwrap_or(&[]);
        let [k0, k1, flags, _, v0, v1, v2, v3, rest @ ..] = cell else {
            return Err(self.cell_past_end(i));
        };
        let klen = u16::from_le_bytes([*k0, *k1]) as usize;
        let vlen = u32::from_le_bytes([*v0, *v1, *v2, *v3]);
        let Some((key, rest)) = rest.split_at_checked(klen) else {
            return Err(self.cell_past_end(i));
        };
        let value = if flags & LEAF_FLAG_OVERFLOW != 0 {
            let Some((pgno, txn)) = rest
                .first_chunk::<OVERFLOW_REF_LEN>()
                .and_then(|r| r.split_first_chunk::<8>())
            else {
                return Err(self.cell_past_end(i));
            };
            let txn: [u8; 8] = txn.try_into().unwrap_or_default();
            LeafValue::Overflow {
                ptr: PagePtr {
                    pgno: u64::from_le_bytes(*pgno),
                    txn: u64::from_le_bytes(txn),
                },
                len: u64::from(vlen),
            }
        } else {
            match rest.get(..vlen as usize) {
                Some(v) => LeafValue::Inline(v),
                None => return Err(self.cell_past_end(i)),
            }
        };
        Ok((key, value))
    }

    /// The child pointer of branch cell `i`, whose cell must lie inside the page: the fixed part
    /// read as one 18-byte chunk, then the key's length checked against the page's end.
    #[inline(always)]
    pub fn child(&self, i: usize) -> Result<PagePtr> {
        let off = self.cell_offset(i)?;
        let rest = self.data.get(off..).unwrap_or_default();
        let Some((fixed, key)) = rest.split_first_chunk::<BRANCH_CELL_HEADER>() else {
            return Err(self.cell_past_end(i));
        };
        if usize::from(get_u16(fixed, BRANCH_OFF_KEY_LEN).unwrap_or(0)) > key.len() {
            return Err(self.cell_past_end(i));
        }
        let PagePtr { pgno, txn } = cell_child(fixed);
        if pgno < 2 {
            return Err(corrupted(
                self.pgno,
                format!("branch cell {i} points at page {pgno}"),
            ));
        }
        Ok(PagePtr { pgno, txn })
    }

    /// The key hint stored in slot `i` (0 past the last slot, which no search reaches).
    #[inline(always)]
    fn hint(&self, i: usize) -> u32 {
        match self.slots.get(i) {
            Some(&[_, _, a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
            None => 0,
        }
    }

    /// The first slot in `from..count` whose hint is not below `h` (`strict`: not at or below
    /// `h`), by a branch-free search over the slot array alone. It narrows the range to a
    /// quarter per round down to 4 slots: the three probes of a round are independent loads, so
    /// a round costs about one load's latency and halves the dependent steps of a binary search
    /// (which is faster even within a cache line or two, where the loads hit).
    #[inline]
    fn hint_bound(&self, from: usize, h: u32, strict: bool) -> usize {
        let (mut base, mut size) = (from, self.count().saturating_sub(from));
        if size == 0 {
            return from;
        }
        // 1 if a slot's hint comes before `h` (is at most `h`, when strict), else 0, by the sign
        // of a 64-bit difference: arithmetic, not a branch, whose outcome would be a coin toss
        // that the CPU cannot predict. The compiler, knowing that the bound fits in 33 bits,
        // would turn the sign test back into a comparison and then a branch; `black_box` hides
        // the bound's range from it.
        let bound = std::hint::black_box(u64::from(h) + u64::from(strict));
        let before = |x: u32| (u64::from(x).wrapping_sub(bound) >> 63) as usize;
        // Invariant: the answer lies in `base..=base + size`.
        while size >= 4 {
            let q = size / 4;
            // `q` for each probe before `h`, masked and summed: no multiplication (3 cycles)
            // between one round's loads and the next round's addresses.
            let step = |i: usize| q & before(self.hint(i)).wrapping_neg();
            base += step(base + q) + step(base + 2 * q) + step(base + 3 * q);
            // The next range is `q + size % 4` long whichever quarter the probes pick (short of
            // the last, it overlaps the next quarter by `size % 4`): the sizes, and so the rounds
            // of the loops, depend on the count alone, and the loops' exits are predicted rather
            // than missed.
            size -= 3 * q;
        }
        while size > 1 {
            let half = size / 2;
            base += half * before(self.hint(base + half));
            size -= half;
        }
        base + before(self.hint(base))
    }

    /// The slots `lo..hi` of `from..count` whose hints tie with `h`, `lo` being the first slot
    /// whose hint is not below `h` (so `lo == hi` when none ties): found in the slot array alone,
    /// touching no cell.
    #[inline]
    fn hint_ties(&self, from: usize, h: u32) -> (usize, usize) {
        let count = self.count();
        // Keys sharing a prefix of four bytes or more all tie: then skip the searches of the
        // hints, which could only return the whole range, and their slot-array misses.
        if let Some(last) = count.checked_sub(1).filter(|&l| l >= from) {
            if self.hint(from) == h && self.hint(last) == h {
                return (from, count);
            }
        }
        let lo = self.hint_bound(from, h, false);
        if lo == count || self.hint(lo) != h {
            return (lo, lo);
        }
        // Usually the tie is a single slot: look one slot further before searching for its end.
        let hi = if lo + 1 == count || self.hint(lo + 1) != h {
            lo + 1
        } else {
            self.hint_bound(lo + 1, h, true)
        };
        (lo, hi)
    }

    /// Binary search of `key` among the entries `from..count`, whose keys increase: Ok(index)
    /// of `key`, or Err(index where it would go). The hints narrow it to the slots whose hint
    /// ties with `key`'s, touching no cell; only those cells are read.
    #[inline(always)]
    fn search_from(&self, from: usize, key: &[u8]) -> Result<std::result::Result<usize, usize>> {
        if self.prefix_len != 0 {
            return self.search_after_prefix(from, key);
        }
        match self.hint_ties(from, key_hint(key)) {
            (lo, hi) if lo == hi => Ok(Err(lo)),
            (lo, hi) => self.search_tied(lo, hi, key),
        }
    }

    /// [`Node::search_from`] in a page whose keys share a prefix: the hints (of the bytes after
    /// the prefix) narrow the search as if `key` had the prefix too; then one key of the page
    /// tells whether it does: the first tied one, which a found key needs read anyway, or else
    /// the first key, whose cell many searches share (in a branch, where ties are rare, it stays
    /// in the cache where a key picked by the search would not). If `key` has not the prefix, it
    /// goes before or after every key of the page; if it has, the hints' answer stands.
    #[inline(never)]
    fn search_after_prefix(
        &self,
        from: usize,
        key: &[u8],
    ) -> Result<std::result::Result<usize, usize>> {
        let p = self.prefix_len;
        let count = self.count();
        if count <= from {
            return Ok(Err(from));
        }
        let (lo, hi) = self.hint_ties(from, suffix_hint(key, p));
        let witness = if lo < hi { lo } else { from };
        let found = self.key(witness)?;
        if found.len() < p {
            return Err(corrupted(
                self.pgno,
                format!("key {witness} is shorter than the page's prefix"),
            ));
        }
        let shared = common_prefix(key, found);
        let order = key.get(shared).cmp(&found.get(shared));
        if shared < p {
            return Ok(Err(if order == Ordering::Less { from } else { count }));
        }
        Ok(match (hi - lo, order) {
            (0, _) => Err(lo),
            (1, Ordering::Less) => Err(lo),
            (1, Ordering::Equal) => Ok(lo),
            (1, Ordering::Greater) => Err(lo + 1),
            _ => return self.search_tied(lo, hi, key),
        })
    }

    /// Search of `key` among the entries `lo..hi`, whose hints all tie with `key`'s (keys that
    /// share their first four bytes, as keys made of a fixed prefix and a counter do): by
    /// interpolation on the eight bytes after the common prefix of the range's end keys, which
    /// finds a key of evenly spread suffixes (counters, random bytes) in a probe or two where a
    /// binary search takes one per halving; a binary search of what is left after a few probes.
    #[inline(never)]
    fn search_tied(
        &self,
        mut lo: usize,
        mut hi: usize,
        key: &[u8],
    ) -> Result<std::result::Result<usize, usize>> {
        if hi - lo < INTERPOLATE_MIN {
            return self.search_cells(lo, hi, key);
        }
        // The end keys, as two independent loads.
        let (mut first, mut last) = (self.key(lo)?, self.key(hi - 1)?);
        match cmp_keys(key, first) {
            Ordering::Less => return Ok(Err(lo)),
            Ordering::Equal => return Ok(Ok(lo)),
            Ordering::Greater => {}
        }
        match cmp_keys(key, last) {
            Ordering::Greater => return Ok(Err(hi)),
            Ordering::Equal => return Ok(Ok(hi - 1)),
            Ordering::Less => {}
        }
        // Invariant: key(lo) = first < key < last = key(hi - 1), so the answer is in lo + 1..hi.
        // `p`: the length of a prefix `first` and `last` share (keys between them share it too).
        let mut p = 0;
        for _ in 0..INTERPOLATE_PROBES {
            if hi - lo <= 2 {
                return Ok(Err(lo + 1));
            }
            p += common_prefix(first.get(p..).unwrap_or(&[]), last.get(p..).unwrap_or(&[]));
            let (a, b, x) = (word_at(first, p), word_at(last, p), word_at(key, p));
            if b <= a || x < a || x > b {
                break;
            }
            // The slot `key` would hold if the suffixes were evenly spread, strictly inside.
            let span = (hi - lo - 2) as f64;
            let step = ((x - a) as f64 / (b - a) as f64 * span) as usize;
            let guess = lo + 1 + step.min(hi - lo - 3);
            let k = self.key(guess)?;
            match cmp_keys(k, key) {
                Ordering::Equal => return Ok(Ok(guess)),
                Ordering::Less => (lo, first) = (guess, k),
                Ordering::Greater => (hi, last) = (guess + 1, k),
            }
        }
        self.search_cells(lo + 1, hi - 1, key)
    }

    /// Binary search of `key` over the cells of entries `lo..hi`.
    fn search_cells(
        &self,
        mut lo: usize,
        mut hi: usize,
        key: &[u8],
    ) -> Result<std::result::Result<usize, usize>> {
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match cmp_keys(self.key(mid)?, key) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(Ok(mid)),
            }
        }
        Ok(Err(lo))
    }

    /// In a leaf: the bytes of the page that hold `key`'s value, if it is inline (a catalog
    /// entry, rewritten in a copy of the page by a backup); None if `key` is absent or its
    /// value is in an overflow run.
    pub fn inline_value_range(&self, key: &[u8]) -> Result<Option<std::ops::Range<usize>>> {
        match self.value_of(key)? {
            Some(LeafValue::Inline(v)) => {
                // `v` is a slice of `self.data`.
                let start = v.as_ptr() as usize - self.data.as_ptr() as usize;
                Ok(Some(start..start + v.len()))
            }
            _ => Ok(None),
        }
    }

    /// Binary search of a leaf: Ok(index) of `key`, or Err(index where it would go).
    pub fn search(&self, key: &[u8]) -> Result<std::result::Result<usize, usize>> {
        self.search_from(0, key)
    }

    /// In a leaf: the value of `key`, or None. When a single slot's hint ties with `key`'s (the
    /// common case), that entry is read once, for its key and value together.
    #[inline(always)]
    pub fn value_of(&self, key: &[u8]) -> Result<Option<LeafValue<'a>>> {
        // With a prefix, no prefix check: a key without the page's prefix is in no slot whose
        // hint ties with its own, and every tied entry is compared whole.
        let i = match self.hint_ties(0, suffix_hint(key, self.prefix_len)) {
            (lo, hi) if lo == hi => return Ok(None),
            (lo, hi) if hi == lo + 1 => lo,
            (lo, hi) => match self.search_tied(lo, hi, key)? {
                Ok(i) => i,
                Err(_) => return Ok(None),
            },
        };
        let (k, v) = self.leaf_entry(i)?;
        Ok((k == key).then_some(v))
    }

    /// In a branch: index of the child whose key range holds `key` (last separator <= key).
    /// Slot 0 (the empty key) is never consulted.
    pub fn child_index(&self, key: &[u8]) -> Result<usize> {
        Ok(match self.search_from(1, key)? {
            Ok(i) => i,
            Err(i) => i - 1,
        })
    }
}

/// The error for page `pgno` whose header is damaged: out of the inline path of [`Node::parse`].
#[cold]
#[inline(never)]
fn bad_page(pgno: u64, reason: &str) -> crate::error::Error {
    corrupted(pgno, reason)
}

/// The error for page `pgno` of `kind`, which is neither a leaf nor a branch.
#[cold]
#[inline(never)]
fn wrong_kind(pgno: u64, kind: u8) -> crate::error::Error {
    corrupted(
        pgno,
        format!("expected a leaf or branch page, found kind {kind}"),
    )
}

/// The error for page `pgno`, written by `txn` where its pointer says `expect_txn`.
#[cold]
#[inline(never)]
fn wrong_txn(pgno: u64, txn: u64, expect_txn: u64) -> crate::error::Error {
    corrupted(
        pgno,
        format!("page written by txn {txn}, but its pointer says {expect_txn}"),
    )
}

/// Entries below which a tied search is a plain binary search.
const INTERPOLATE_MIN: usize = 8;
/// Interpolation probes before a tied search falls back to a binary search.
const INTERPOLATE_PROBES: usize = 3;

/// The eight bytes of `key` from `at` (zero-padded past its end) as a big-endian word.
#[inline]
fn word_at(key: &[u8], at: usize) -> u64 {
    if let Some(w) = key.get(at..).and_then(|t| t.first_chunk::<8>()) {
        return u64::from_be_bytes(*w);
    }
    let mut w = [0u8; 8];
    let tail = key.get(at..).unwrap_or(&[]);
    let n = tail.len().min(8);
    w[..n].copy_from_slice(&tail[..n]);
    u64::from_be_bytes(w)
}

/// Sets the bits `start..end` of `bits`; false if any of them was set already.
fn mark_used(bits: &mut [u64], start: usize, end: usize) -> bool {
    let mut i = start;
    while i < end {
        let (w, b) = (i / 64, i % 64);
        let n = (64 - b).min(end - i);
        let mask = if n == 64 {
            u64::MAX
        } else {
            ((1u64 << n) - 1) << b
        };
        let Some(word) = bits.get_mut(w) else {
            return false;
        };
        if *word & mask != 0 {
            return false;
        }
        *word |= mask;
        i += n;
    }
    true
}

/// Something that can be written as one cell.
pub(crate) trait CellSrc {
    /// Encoded length of the cell.
    fn encoded_len(&self) -> usize;
    /// Writes the cell into `out`, which is exactly `encoded_len()` bytes.
    fn write_to(&self, out: &mut [u8]);
}

impl CellSrc for &[u8] {
    fn encoded_len(&self) -> usize {
        self.len()
    }
    fn write_to(&self, out: &mut [u8]) {
        out.copy_from_slice(self);
    }
}

/// A leaf cell to be written.
pub(crate) struct LeafCell<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value, inline or as an overflow reference.
    pub value: LeafValue<'a>,
}

impl CellSrc for LeafCell<'_> {
    fn encoded_len(&self) -> usize {
        LEAF_CELL_HEADER
            + self.key.len()
            + match self.value {
                LeafValue::Inline(v) => v.len(),
                LeafValue::Overflow { .. } => OVERFLOW_REF_LEN,
            }
    }
    fn write_to(&self, out: &mut [u8]) {
        let k = self.key.len();
        put_u16(out, LEAF_OFF_KEY_LEN, k as u16);
        out[LEAF_OFF_FLAGS + 1] = 0;
        out[LEAF_CELL_HEADER..LEAF_CELL_HEADER + k].copy_from_slice(self.key);
        let at = LEAF_CELL_HEADER + k;
        match self.value {
            LeafValue::Inline(v) => {
                out[LEAF_OFF_FLAGS] = 0;
                put_u32(out, LEAF_OFF_VALUE_LEN, v.len() as u32);
                out[at..].copy_from_slice(v);
            }
            LeafValue::Overflow { ptr, len } => {
                put_u64(out, at, ptr.pgno);
                put_u64(out, at + 8, ptr.txn);
                out[LEAF_OFF_FLAGS] = LEAF_FLAG_OVERFLOW;
                put_u32(out, LEAF_OFF_VALUE_LEN, len as u32);
            }
        }
    }
}

/// A branch cell to be written.
pub(crate) struct BranchCell<'a> {
    /// The child page.
    pub child: PagePtr,
    /// The separator: the child holds keys >= it (empty for cell 0).
    pub key: &'a [u8],
}

impl CellSrc for BranchCell<'_> {
    fn encoded_len(&self) -> usize {
        BRANCH_CELL_HEADER + self.key.len()
    }
    fn write_to(&self, out: &mut [u8]) {
        put_u64(out, BRANCH_OFF_CHILD, self.child.pgno);
        put_u64(out, BRANCH_OFF_CHILD_TXN, self.child.txn);
        put_u16(out, BRANCH_OFF_KEY_LEN, self.key.len() as u16);
        out[BRANCH_CELL_HEADER..].copy_from_slice(self.key);
    }
}

// ---- in-place edits of dirty pages (trusted: validated when copied into the transaction) ----

/// Number of cells of a dirty page.
pub(crate) fn count(buf: &[u8]) -> usize {
    PageHeader::read(buf).map_or(0, |h| usize::from(h.count.get()))
}

/// Offset of the first byte of the cell area of a dirty page.
pub(crate) fn cells_start(buf: &[u8]) -> usize {
    PageHeader::read(buf).map_or(0, |h| h.cells_start.get() as usize)
}

/// The cell offset in slot `i` of a dirty page.
pub(crate) fn slot(buf: &[u8], i: usize) -> usize {
    get_u16(buf, HEADER_LEN + i * SLOT_LEN).unwrap_or(0) as usize
}

/// Makes `buf` an empty page of `kind` written by `txn`.
pub(crate) fn init(buf: &mut [u8], kind: u8, txn: u64) {
    let len = buf.len() as u32;
    if let Some(h) = PageHeader::read_mut(buf) {
        *h = PageHeader {
            kind,
            flags: 0,
            count: 0.into(),
            cells_start: len.into(),
            txn: txn.into(),
            checksum: 0.into(),
            value_len: 0.into(),
        };
    }
}

/// Free bytes between the slot array and the cell area.
pub(crate) fn free_space(buf: &[u8]) -> usize {
    cells_start(buf) - HEADER_LEN - count(buf) * SLOT_LEN
}

/// The bytes of cell `i` of a dirty page.
pub(crate) fn cell_bytes(buf: &[u8], i: usize) -> &[u8] {
    let off = slot(buf, i);
    let len = cell_len(buf[OFF_KIND], &buf[off..]).unwrap_or(0);
    &buf[off..off + len]
}

/// The key of the cell at the start of `cell`, in a page of `kind`; None if the cell is cut
/// short. The one decoder of a cell's key: for pages read ([`Node::key`]) and for encoded cells.
#[inline]
pub(crate) fn key_of(kind: u8, cell: &[u8]) -> Option<&[u8]> {
    let (len_at, start) = if kind == KIND_LEAF {
        (LEAF_OFF_KEY_LEN, LEAF_CELL_HEADER)
    } else {
        (BRANCH_OFF_KEY_LEN, BRANCH_CELL_HEADER)
    };
    let len = usize::from(get_u16(cell, len_at)?);
    cell.get(start..start + len)
}

/// The child pointer of the branch cell at the start of `cell` (zeros where it is cut short).
/// The one decoder of a branch cell's child.
pub(crate) fn cell_child(cell: &[u8]) -> PagePtr {
    PagePtr {
        pgno: get_u64(cell, BRANCH_OFF_CHILD).unwrap_or(0),
        txn: get_u64(cell, BRANCH_OFF_CHILD_TXN).unwrap_or(0),
    }
}

/// The key of an encoded cell of a page of `kind` that this process built or validated (empty
/// if the cell is cut short, which such a cell never is).
pub(crate) fn cell_key(kind: u8, cell: &[u8]) -> &[u8] {
    key_of(kind, cell).unwrap_or_default()
}

/// The first slot of a page of `kind` whose cell holds a key that searches consult: 1 in a
/// branch (cell 0's key is empty), 0 in a leaf.
pub(crate) fn first_keyed(kind: u8) -> usize {
    usize::from(kind == KIND_BRANCH)
}

/// The prefix length of a dirty page (FORMAT.md section 5.1).
pub(crate) fn prefix_len(buf: &[u8]) -> usize {
    get_u64(buf, OFF_PREFIX_LEN).unwrap_or(0) as usize
}

/// Sets the prefix length of a page that holds no keys yet (before its cells are inserted), or
/// lowers it: it must not exceed what the page's keys share.
pub(crate) fn set_prefix_len(buf: &mut [u8], len: usize) {
    put_u64(buf, OFF_PREFIX_LEN, len as u64);
}

/// Stores in slot `idx` the hint of the key of the cell at byte `off`, after the page's prefix.
fn set_hint(buf: &mut [u8], idx: usize, off: usize) {
    let hint = suffix_hint(cell_key(buf[OFF_KIND], &buf[off..]), prefix_len(buf));
    let s = HEADER_LEN + idx * SLOT_LEN + SLOT_OFF_HINT;
    buf[s..s + 4].copy_from_slice(&hint.to_be_bytes());
}

/// Makes the page's prefix cover the key of slot `idx`, just written: if the key shares fewer
/// bytes with another key of the page than the prefix length, lowers it to that and hints every
/// slot again (rare: an insert at the edge of the page's key range).
fn admit_key(buf: &mut [u8], idx: usize) {
    let (p, kind) = (prefix_len(buf), buf[OFF_KIND]);
    let from = first_keyed(kind);
    if p == 0 || idx < from {
        return;
    }
    let key = cell_key(kind, cell_bytes(buf, idx));
    let other = if idx == from { from + 1 } else { from };
    let shared = if other < count(buf) {
        common_prefix(key, cell_key(kind, cell_bytes(buf, other)))
    } else {
        key.len()
    };
    if shared < p {
        set_prefix_len(buf, shared);
        for i in 0..count(buf) {
            set_hint(buf, i, slot(buf, i));
        }
    }
}

/// Inserts `src` as cell `idx`; false (and nothing changed) if it does not fit.
pub(crate) fn insert_cell(buf: &mut [u8], idx: usize, src: &impl CellSrc) -> bool {
    let Some((n, start)) = place_cell(buf, src) else {
        return false;
    };
    let s = HEADER_LEN + idx * SLOT_LEN;
    buf.copy_within(s..HEADER_LEN + n * SLOT_LEN, s + SLOT_LEN);
    put_u16(buf, s, start as u16);
    admit_key(buf, idx);
    set_hint(buf, idx, start);
    true
}

/// Appends `src` after the last cell of a page being built in key order, whose prefix length
/// was set for all the keys it will hold (as [`CellList::write_page`](super::cells::CellList)
/// does): unlike [`insert_cell`], no slot moves and no key is compared with the page's prefix.
/// False (and nothing changed) if it does not fit.
pub(crate) fn push_cell(buf: &mut [u8], src: &impl CellSrc) -> bool {
    let Some((n, start)) = place_cell(buf, src) else {
        return false;
    };
    put_u16(buf, HEADER_LEN + n * SLOT_LEN, start as u16);
    set_hint(buf, n, start);
    true
}

/// Writes `src` at the front of the cell area and counts it, leaving the slot array to the
/// caller: the old count and the cell's offset, or None (nothing changed) if cell and slot do
/// not fit.
fn place_cell(buf: &mut [u8], src: &impl CellSrc) -> Option<(usize, usize)> {
    let len = src.encoded_len();
    if free_space(buf) < len + SLOT_LEN {
        return None;
    }
    let n = count(buf);
    let start = cells_start(buf) - len;
    src.write_to(&mut buf[start..start + len]);
    put_u16(buf, OFF_COUNT, (n + 1) as u16);
    put_u32(buf, OFF_CELLS_START, start as u32);
    Some((n, start))
}

/// Removes cell `idx`, compacting the cell area: the cell at the front of the area moves into
/// the hole if it has the same length (one cell copied: entries of one size, as many tables
/// have), otherwise every cell in front of the hole moves by its length (half the area on
/// average). Measured (harness, 500,000 random removals in one transaction from 1M entries of
/// one size): 392-418 ms of CPU against 446-537 ms when the cells in front always moved (four
/// alternations), and 505-554 against 547-565 ms in a later sitting where both were slower
/// (five alternations).
pub(crate) fn remove_cell(buf: &mut [u8], idx: usize) {
    let n = count(buf);
    let cs = cells_start(buf);
    let off = slot(buf, idx);
    let len = cell_bytes(buf, idx).len();
    let front_fits =
        off != cs && buf.get(cs..).and_then(|c| cell_len(buf[OFF_KIND], c)) == Some(len);
    let front = match front_fits {
        true => (0..n).find(|&i| slot(buf, i) == cs),
        false => None,
    };
    match front {
        Some(j) => {
            buf.copy_within(cs..cs + len, off);
            put_u16(buf, HEADER_LEN + j * SLOT_LEN, off as u16);
        }
        None => {
            buf.copy_within(cs..off, cs + len);
            for i in 0..n {
                let o = slot(buf, i);
                if o < off {
                    put_u16(buf, HEADER_LEN + i * SLOT_LEN, (o + len) as u16);
                }
            }
        }
    }
    let s = HEADER_LEN + idx * SLOT_LEN;
    buf.copy_within(s + SLOT_LEN..HEADER_LEN + n * SLOT_LEN, s);
    put_u16(buf, OFF_COUNT, (n - 1) as u16);
    put_u32(buf, OFF_CELLS_START, (cs + len) as u32);
    // The prefix of keys that remain is still theirs; a page left without keys has none.
    if n - 1 <= first_keyed(buf[OFF_KIND]) {
        set_prefix_len(buf, 0);
    }
}

/// Replaces cell `idx` by `src`: in place when the length is unchanged. False (page unchanged)
/// if the new cell does not fit.
pub(crate) fn replace_cell(buf: &mut [u8], idx: usize, src: &impl CellSrc) -> bool {
    let off = slot(buf, idx);
    let old = cell_bytes(buf, idx).len();
    let len = src.encoded_len();
    if len == old {
        src.write_to(&mut buf[off..off + len]);
        admit_key(buf, idx);
        set_hint(buf, idx, off);
        return true;
    }
    if len > old && free_space(buf) < len - old {
        return false;
    }
    remove_cell(buf, idx);
    insert_cell(buf, idx, src)
}

/// Points branch cell `idx` at `child`.
pub(crate) fn set_child(buf: &mut [u8], idx: usize, child: PagePtr) {
    let off = slot(buf, idx);
    put_u64(buf, off + BRANCH_OFF_CHILD, child.pgno);
    put_u64(buf, off + BRANCH_OFF_CHILD_TXN, child.txn);
}

/// Points the overflow reference of leaf cell `idx` (a cell whose value is in an overflow run)
/// at `run`.
pub(crate) fn set_overflow_ref(buf: &mut [u8], idx: usize, run: PagePtr) {
    let off = slot(buf, idx);
    let klen = get_u16(buf, off + LEAF_OFF_KEY_LEN).unwrap_or(0) as usize;
    let at = off + LEAF_CELL_HEADER + klen;
    put_u64(buf, at, run.pgno);
    put_u64(buf, at + 8, run.txn);
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod search_tests;
