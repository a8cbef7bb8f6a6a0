//! Page formats: views over `&[u8]` and in-place edits of `&mut [u8]`.
//!
//! Every byte offset is a named constant here, pinned to `docs/FORMAT.md` by the tests in
//! `format_tests.rs` and the const assertions below (and in `layout.rs`, whose typed structs
//! hold the fixed layouts: the page header, the meta slot, the catalog value, the freelist key).
//! All integers are little-endian (but for the freelist key's); nothing is read by casting a
//! native struct: the typed layouts are of byte-order field types, alignment 1. Decoders never
//! index out of bounds (`clippy::indexing_slicing` is denied on them): a bad offset read from the
//! file becomes [`crate::Error::Corrupted`].

pub(crate) mod cells;
pub(crate) mod layout;
pub(crate) mod meta;
pub(crate) mod node;

use crate::error::{corrupted, Result};
use layout::PageHeader;
use zerocopy::IntoBytes;

/// Smallest accepted page size.
pub(crate) const MIN_PAGE_SIZE: usize = 4096;
/// Largest accepted page size.
pub(crate) const MAX_PAGE_SIZE: usize = 65536;

/// Whether `n` is an accepted page size: a power of two in `MIN_PAGE_SIZE..=MAX_PAGE_SIZE`.
pub(crate) fn is_page_size(n: usize) -> bool {
    n.is_power_of_two() && (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&n)
}

/// Length of the header at the start of every leaf, branch and overflow page.
pub(crate) const HEADER_LEN: usize = 32;
/// Offset of the page kind byte.
pub(crate) const OFF_KIND: usize = 0;
/// Offset of the header's flags byte.
pub(crate) const OFF_FLAGS: usize = 1;
/// Flag: the page's checksum is seeded with its page number (every page that format versions 2,
/// 3 and 4 write), so a page found at another page number than its own fails its checksum.
pub(crate) const PAGE_FLAG_PGNO_SEED: u8 = 1;
/// Offset of the u16 cell count (leaf and branch).
pub(crate) const OFF_COUNT: usize = 2;
/// Offset of the u32 start of the cell area (leaf and branch) or the run's page count (overflow).
pub(crate) const OFF_CELLS_START: usize = 4;
/// Offset of the u64 id of the transaction that wrote the page.
pub(crate) const OFF_TXN: usize = 8;
/// Offset of the u64 xxh3 checksum of the page (computed with this field taken as absent).
pub(crate) const OFF_CHECKSUM: usize = 16;
/// Offset of the u64 value length (overflow pages); in leaf and branch pages the same field is
/// the prefix length (`OFF_PREFIX_LEN`).
pub(crate) const OFF_VALUE_LEN: usize = 24;
/// Offset of the u64 prefix length `p` of a leaf or branch page: every key of the page (but a
/// branch's cell 0) starts with the same `p` bytes, and its slot's hint is taken after them
/// (format version 3; 0 in pages of older versions, whose hints are of the whole key).
pub(crate) const OFF_PREFIX_LEN: usize = OFF_VALUE_LEN;
/// Size of one slot in the slot array that follows the header: the u16 cell offset, then the
/// u32 key hint (the key's first four bytes, zero-padded, read big-endian).
pub(crate) const SLOT_LEN: usize = 6;
/// Offset of the key hint within a slot.
pub(crate) const SLOT_OFF_HINT: usize = 2;

/// The hint of a key: its first four bytes, zero-padded, as a big-endian u32. Hints order like
/// the keys they come from whenever they differ, so a search compares whole keys only on ties.
#[inline]
pub(crate) fn key_hint(key: &[u8]) -> u32 {
    if let Some(b) = key.first_chunk::<4>() {
        return u32::from_be_bytes(*b);
    }
    let mut b = [0u8; 4];
    let n = key.len().min(4);
    b[..n].copy_from_slice(&key[..n]);
    u32::from_be_bytes(b)
}

/// The hint of a key in a page whose keys share a prefix of `prefix_len` bytes: the hint of the
/// key's bytes after the prefix (of nothing, for a key no longer than the prefix).
#[inline]
pub(crate) fn suffix_hint(key: &[u8], prefix_len: usize) -> u32 {
    key_hint(key.get(prefix_len..).unwrap_or_default())
}

/// The length of the longest common prefix of `a` and `b`, eight bytes at a time.
#[inline]
pub(crate) fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a8, b8) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    let mut at = 0;
    for (x, y) in a8.zip(b8) {
        let x = u64::from_be_bytes(x.try_into().unwrap_or_default());
        let y = u64::from_be_bytes(y.try_into().unwrap_or_default());
        if x != y {
            return at + ((x ^ y).leading_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + a[at..n]
        .iter()
        .zip(&b[at..n])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Compares two keys as memcmp would (a shorter prefix first), eight bytes at a time as
/// big-endian words, inline: searches and scans compare keys of a few dozen bytes, for which a
/// call into the C library's `memcmp` costs more than the comparison.
#[inline]
pub(crate) fn cmp_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    let (a8, b8) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    let (ta, tb) = (a8.remainder(), b8.remainder());
    for (x, y) in a8.zip(b8) {
        let x = u64::from_be_bytes(x.try_into().unwrap_or_default());
        let y = u64::from_be_bytes(y.try_into().unwrap_or_default());
        if x != y {
            return x.cmp(&y);
        }
    }
    // The tails have the same length (under 8), so as big-endian numbers they order like their
    // bytes. Byte by byte, not by a copy into a word: a copy of a length unknown at compile time
    // is a call to `memcpy`, even for the empty tails of keys a multiple of 8 bytes long.
    let word = |t: &[u8]| t.iter().fold(0u64, |w, &b| (w << 8) | u64::from(b));
    word(ta).cmp(&word(tb)).then(a.len().cmp(&b.len()))
}

/// Page kind: a leaf of a B+tree.
pub(crate) const KIND_LEAF: u8 = 1;
/// Page kind: a branch (interior node) of a B+tree.
pub(crate) const KIND_BRANCH: u8 = 2;
/// Page kind: the first page of a run of overflow pages holding one large value.
pub(crate) const KIND_OVERFLOW: u8 = 3;

const _: () = assert!(OFF_VALUE_LEN + 8 == HEADER_LEN);
const _: () = assert!(OFF_CHECKSUM + 8 == OFF_VALUE_LEN);

/// A pointer to a page: its number and the id of the transaction that wrote it.
///
/// Recording the writer's txn id in every pointer lets a reader notice a stale or misdirected page
/// (the header's txn must match) and lets recovery verify exactly the pages of recent commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PagePtr {
    /// Page number; 0 means "no page" (an empty tree).
    pub pgno: u64,
    /// Id of the transaction that wrote the page.
    pub txn: u64,
}

impl PagePtr {
    /// The null pointer of an empty tree.
    pub const NULL: PagePtr = PagePtr { pgno: 0, txn: 0 };

    /// True for the null pointer.
    pub fn is_null(&self) -> bool {
        self.pgno == 0
    }
}

/// Reads a little-endian u16 at `off`, or None past the end.
#[deny(clippy::indexing_slicing)]
pub(crate) fn get_u16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

/// Reads a little-endian u32 at `off`, or None past the end.
#[deny(clippy::indexing_slicing)]
pub(crate) fn get_u32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// Reads a little-endian u64 at `off`, or None past the end.
#[deny(clippy::indexing_slicing)]
pub(crate) fn get_u64(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// Writes a little-endian u16 at `off` of a buffer the caller sized.
pub(crate) fn put_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

/// Writes a little-endian u32 at `off` of a buffer the caller sized.
pub(crate) fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Writes a little-endian u64 at `off` of a buffer the caller sized.
pub(crate) fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Where the used bytes of the leaf or branch page `page` end and resume: its header and slots
/// fill `..head`, its cells `tail..`; between them lies the free gap (section 5 of FORMAT.md).
/// None for another kind of page, or counts that do not fit it.
#[deny(clippy::indexing_slicing)]
fn used_spans(page: &[u8]) -> Option<(usize, usize)> {
    let h = PageHeader::read(page)?;
    if h.kind != KIND_LEAF && h.kind != KIND_BRANCH {
        return None;
    }
    let head = HEADER_LEN + SLOT_LEN * usize::from(h.count.get());
    let tail = h.cells_start.get() as usize;
    (head <= tail && tail <= page.len()).then_some((head, tail))
}

/// Copies the page `src` into `dst`, a buffer of its length, but for a leaf or branch page reads
/// only its used bytes: the free gap, whose contents are unspecified, is zeroed instead. Copy-on-
/// write copies a page at each level of every path a commit changes, often from memory no cache
/// holds, and the gap is often a third of a leaf and most of a small tree's root.
#[deny(clippy::indexing_slicing)]
pub(crate) fn copy_used(dst: &mut [u8], src: &[u8]) {
    let Some((head, tail)) = used_spans(src).filter(|_| dst.len() == src.len()) else {
        dst.copy_from_slice(src);
        return;
    };
    // `used_spans`: head <= tail <= src.len() == dst.len().
    let (d_used, d_rest) = dst.split_at_mut(head);
    let (d_gap, d_cells) = d_rest.split_at_mut(tail - head);
    let (s_used, s_rest) = src.split_at(head);
    d_used.copy_from_slice(s_used);
    d_gap.fill(0);
    d_cells.copy_from_slice(s_rest.split_at(tail - head).1);
}

/// Checksum of the page or overflow run `bytes` found at page `pgno`: xxh3-64 over `bytes`
/// without the checksum field, seeded with `pgno` when the page's flags say so.
#[deny(clippy::indexing_slicing)]
pub(crate) fn checksum(bytes: &[u8], pgno: u64) -> u64 {
    let head = bytes.get(..OFF_CHECKSUM).unwrap_or(bytes);
    let tail = bytes.get(OFF_CHECKSUM + 8..).unwrap_or(&[]);
    let mut seed = xxhash_rust::xxh3::xxh3_64(tail);
    if bytes
        .get(OFF_FLAGS)
        .is_some_and(|f| f & PAGE_FLAG_PGNO_SEED != 0)
    {
        seed ^= pgno;
    }
    xxhash_rust::xxh3::xxh3_64_with_seed(head, seed)
}

/// The bytes a page's checksum covers: the whole page, or for an overflow run the header and value.
#[deny(clippy::indexing_slicing)]
pub(crate) fn checksummed_len(buf: &[u8]) -> usize {
    match PageHeader::read(buf) {
        // The length comes from the file: saturate rather than overflow on a damaged header.
        Some(h) if h.kind == KIND_OVERFLOW => usize::try_from(h.value_len.get())
            .unwrap_or(usize::MAX)
            .saturating_add(HEADER_LEN)
            .min(buf.len()),
        _ => buf.len(),
    }
}

/// Stores the checksum of a finished dirty page (or overflow run), to be written at page `pgno`,
/// in its header, seeded with `pgno`.
pub(crate) fn seal(buf: &mut [u8], pgno: u64) {
    let header = PageHeader::read_mut(buf).expect("a dirty page is longer than its header");
    header.flags |= PAGE_FLAG_PGNO_SEED;
    let n = checksummed_len(buf);
    let sum = checksum(&buf[..n], pgno);
    put_u64(buf, OFF_CHECKSUM, sum);
}

/// Verifies the stored checksum of a page or overflow run read from the file.
#[deny(clippy::indexing_slicing)]
pub(crate) fn verify_checksum(pgno: u64, buf: &[u8]) -> Result<()> {
    let stored = PageHeader::read(buf)
        .ok_or_else(|| corrupted(pgno, "page shorter than its header"))?
        .checksum
        .get();
    let covered = buf.get(..checksummed_len(buf)).unwrap_or(buf);
    if checksum(covered, pgno) != stored {
        return Err(corrupted(pgno, "page checksum mismatch"));
    }
    Ok(())
}

/// Number of pages an overflow run holding `len` value bytes occupies.
pub(crate) fn overflow_pages(len: u64, page_size: usize) -> u64 {
    (HEADER_LEN as u64 + len).div_ceil(page_size as u64)
}

/// Writes the header of an overflow run holding `len` bytes over `npages` pages.
pub(crate) fn init_overflow(buf: &mut [u8], txn: u64, npages: u64, len: u64) {
    let header = PageHeader {
        kind: KIND_OVERFLOW,
        flags: 0,
        count: 0.into(),
        cells_start: (npages as u32).into(),
        txn: txn.into(),
        checksum: 0.into(),
        value_len: len.into(),
    };
    header
        .write_to_prefix(buf)
        .expect("an overflow run is longer than its header");
}

/// Validates an overflow run's header against the pointer that led to it and returns its value.
#[deny(clippy::indexing_slicing)]
pub(crate) fn overflow_value(pgno: u64, run: &[u8], txn: u64, len: u64) -> Result<&[u8]> {
    let header = PageHeader::read(run)
        .filter(|h| h.kind == KIND_OVERFLOW)
        .ok_or_else(|| corrupted(pgno, "expected an overflow page"))?;
    if header.txn.get() != txn {
        return Err(corrupted(
            pgno,
            "overflow page written by another transaction than its pointer says",
        ));
    }
    if header.value_len.get() != len {
        return Err(corrupted(
            pgno,
            "overflow value length differs from its leaf cell",
        ));
    }
    run.get(HEADER_LEN..HEADER_LEN + len as usize)
        .ok_or_else(|| corrupted(pgno, "overflow value runs past its pages"))
}

#[cfg(test)]
mod format_tests;
