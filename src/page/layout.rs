//! The fixed layouts of the format as typed structs: the page header, the meta slot (both format
//! versions), the catalog value and the freelist key (`docs/FORMAT.md`).
//!
//! Each struct is `repr(C)` with byte-order field types (alignment 1, no padding), so its bytes
//! are exactly its form on disk: decoding is one length check (`ref_from_prefix` or
//! `ref_from_bytes`), never an offset computed by hand, and encoding writes the struct's bytes.
//! The const assertions below tie every field to the named offsets that the format tests
//! (`format_tests.rs`, `format_layout_tests.rs`) pin to FORMAT.md. Integers are little-endian,
//! but for the freelist key's, which are big-endian so that keys sort by their fields.
//!
//! This is the decoding side: nothing here indexes a slice (`clippy::indexing_slicing`).
#![deny(clippy::indexing_slicing)]

use super::meta::{
    META_LEN, META_OFF_CATALOG, META_OFF_CHECKSUM, META_OFF_FREELIST, META_OFF_LOG,
    META_OFF_LOG_GEN, META_OFF_MAGIC, META_OFF_PAGE_COUNT, META_OFF_PAGE_SIZE, META_OFF_TXN,
    META_OFF_VERSION, META_V1_OFF_CHECKSUM,
};
use super::{
    PagePtr, HEADER_LEN, OFF_CELLS_START, OFF_CHECKSUM, OFF_COUNT, OFF_FLAGS, OFF_KIND, OFF_TXN,
    OFF_VALUE_LEN,
};
use std::mem::{offset_of, size_of};
use zerocopy::byteorder::{big_endian, little_endian};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// A little-endian u16 of the format.
pub(crate) type U16 = little_endian::U16;
/// A little-endian u32 of the format.
pub(crate) type U32 = little_endian::U32;
/// A little-endian u64 of the format.
pub(crate) type U64 = little_endian::U64;

/// The header at the start of every leaf, branch and overflow page (32 bytes).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct PageHeader {
    /// The page kind (`KIND_LEAF`, `KIND_BRANCH`, `KIND_OVERFLOW`).
    pub kind: u8,
    /// Flags (`PAGE_FLAG_PGNO_SEED`).
    pub flags: u8,
    /// The cell count (leaf and branch).
    pub count: U16,
    /// The start of the cell area (leaf and branch) or the run's page count (overflow).
    pub cells_start: U32,
    /// The id of the transaction that wrote the page.
    pub txn: U64,
    /// The xxh3 checksum of the page (computed with this field taken as absent).
    pub checksum: U64,
    /// The value's length (overflow pages); the prefix length of a leaf or branch page
    /// (`OFF_PREFIX_LEN`, FORMAT.md section 5.1).
    pub value_len: U64,
}

impl PageHeader {
    /// The header at the start of `page`, or None if it is shorter than a header.
    pub fn read(page: &[u8]) -> Option<&PageHeader> {
        PageHeader::ref_from_prefix(page).ok().map(|(h, _)| h)
    }

    /// The header at the start of `page`, to edit, or None if it is shorter than a header.
    pub fn read_mut(page: &mut [u8]) -> Option<&mut PageHeader> {
        PageHeader::mut_from_prefix(page).ok().map(|(h, _)| h)
    }
}

const _: () = assert!(size_of::<PageHeader>() == HEADER_LEN);
const _: () = assert!(offset_of!(PageHeader, kind) == OFF_KIND);
const _: () = assert!(offset_of!(PageHeader, flags) == OFF_FLAGS);
const _: () = assert!(offset_of!(PageHeader, count) == OFF_COUNT);
const _: () = assert!(offset_of!(PageHeader, cells_start) == OFF_CELLS_START);
const _: () = assert!(offset_of!(PageHeader, txn) == OFF_TXN);
const _: () = assert!(offset_of!(PageHeader, checksum) == OFF_CHECKSUM);
const _: () = assert!(offset_of!(PageHeader, value_len) == OFF_VALUE_LEN);

/// A page pointer as stored (in the meta slot and the catalog value): page number, then the
/// writer's txn id.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct StoredPtr {
    /// The page number.
    pub pgno: U64,
    /// The id of the transaction that wrote the page.
    pub txn: U64,
}

impl From<PagePtr> for StoredPtr {
    fn from(p: PagePtr) -> StoredPtr {
        StoredPtr {
            pgno: p.pgno.into(),
            txn: p.txn.into(),
        }
    }
}

impl From<StoredPtr> for PagePtr {
    fn from(p: StoredPtr) -> PagePtr {
        PagePtr {
            pgno: p.pgno.get(),
            txn: p.txn.get(),
        }
    }
}

/// The fields both meta slot format versions share (64 bytes).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct MetaHead {
    /// `MAGIC`.
    pub magic: [u8; 8],
    /// The format version.
    pub version: U32,
    /// The page size.
    pub page_size: U32,
    /// The id of the commit the slot describes.
    pub txn: U64,
    /// The catalog tree's root.
    pub catalog: StoredPtr,
    /// The freelist tree's root.
    pub freelist: StoredPtr,
    /// The page count.
    pub page_count: U64,
}

/// What a meta slot's checksum covers in format versions 2, 3 and 4 (88 bytes).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct MetaBody {
    /// The fields of both versions.
    pub head: MetaHead,
    /// The commit log region's first page (0: none).
    pub log_start: U64,
    /// The commit log region's page count.
    pub log_pages: U64,
    /// The commit log's generation.
    pub log_gen: U64,
}

/// A meta slot of format versions 2, 3 and 4 (96 bytes): its body, then the body's xxh3 checksum.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct MetaSlot {
    /// The checksummed fields.
    pub body: MetaBody,
    /// xxh3-64 of `body`.
    pub checksum: U64,
}

/// A meta slot of format version 1 (72 bytes, no commit log): the shared fields, then their
/// xxh3 checksum.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct MetaSlotV1 {
    /// The checksummed fields.
    pub head: MetaHead,
    /// xxh3-64 of `head`.
    pub checksum: U64,
}

const _: () = assert!(size_of::<MetaSlot>() == META_LEN);
const _: () = assert!(size_of::<MetaSlotV1>() == META_V1_OFF_CHECKSUM + 8);
const _: () = assert!(offset_of!(MetaSlot, body.head.magic) == META_OFF_MAGIC);
const _: () = assert!(offset_of!(MetaSlot, body.head.version) == META_OFF_VERSION);
const _: () = assert!(offset_of!(MetaSlot, body.head.page_size) == META_OFF_PAGE_SIZE);
const _: () = assert!(offset_of!(MetaSlot, body.head.txn) == META_OFF_TXN);
const _: () = assert!(offset_of!(MetaSlot, body.head.catalog) == META_OFF_CATALOG);
const _: () = assert!(offset_of!(MetaSlot, body.head.freelist) == META_OFF_FREELIST);
const _: () = assert!(offset_of!(MetaSlot, body.head.page_count) == META_OFF_PAGE_COUNT);
const _: () = assert!(offset_of!(MetaSlot, body.log_start) == META_OFF_LOG);
const _: () = assert!(offset_of!(MetaSlot, body.log_pages) == META_OFF_LOG + 8);
const _: () = assert!(offset_of!(MetaSlot, body.log_gen) == META_OFF_LOG_GEN);
const _: () = assert!(offset_of!(MetaSlot, checksum) == META_OFF_CHECKSUM);
const _: () = assert!(offset_of!(MetaSlotV1, checksum) == META_V1_OFF_CHECKSUM);

/// A catalog value (24 bytes): the table's root, then its entry count.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct CatalogValue {
    /// The table tree's root.
    pub root: StoredPtr,
    /// The table's entry count.
    pub count: U64,
}

/// A freelist key (20 bytes, big-endian, so that keys sort by freeing txn, then writer, then
/// chunk).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct FreelistKey {
    /// The txn that freed the pages (with `OLD_FREE` set for old frees).
    pub freeing: big_endian::U64,
    /// The txn that wrote the entry.
    pub writer: big_endian::U64,
    /// The entry's chunk number among those of one freeing txn and writer.
    pub chunk: big_endian::U32,
}
