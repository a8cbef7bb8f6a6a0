//! The two meta slots (pages 0 and 1): which commit is current, and where its trees are.
//!
//! Layout (see `docs/FORMAT.md`): magic, format version, page size, txn id, catalog root, freelist
//! root, page count, the commit log's region and generation, then an xxh3 checksum of the bytes
//! before it. Slots of format versions 3 (the same layout; their log's records are sector-aligned),
//! 2 (as 3; their pages hint whole keys) and 1 (no log fields, checksum at byte 64) are still read.
//! The typed layouts are in `layout.rs`.
#![deny(clippy::indexing_slicing)]

use super::layout::{MetaBody, MetaHead, MetaSlot, MetaSlotV1};
use super::PagePtr;
use zerocopy::{FromBytes, IntoBytes};

/// The eight bytes every larchdb file starts with.
pub(crate) const MAGIC: [u8; 8] = *b"LARCHDB\0";
/// Version of the on-disk format this code reads and writes: 4 packed the commit log's records
/// (each at a multiple of [`RECORD_ALIGN`] bytes after the one before, FORMAT.md section 14).
pub(crate) const FORMAT_VERSION: u32 = 4;
/// The previous format version: slots laid out as version 4's, whose log records each start at a
/// multiple of [`RECORD_ALIGN_V3`] bytes. Read (its log replayed as such), and upgraded by the
/// first checkpoint. Version 3 added the prefix length of leaf and branch pages, after which their
/// key hints are taken (FORMAT.md section 5.1).
pub(crate) const FORMAT_VERSION_3: u32 = 3;
/// The format version before: as version 3, naming pages whose prefix length is 0, which is what
/// version 3 pages with whole-key hints say. Read, and upgraded by the first checkpoint.
pub(crate) const FORMAT_VERSION_2: u32 = 2;
/// The first format version, whose slots (72 bytes, no commit log) are read and upgraded by the
/// first checkpoint.
pub(crate) const FORMAT_VERSION_1: u32 = 1;
/// Records of a version 4 log start at multiples of this many bytes from the region's start.
pub(crate) const RECORD_ALIGN: u64 = 8;
/// Records of a version 2 or 3 log start at multiples of this many bytes (a sector).
pub(crate) const RECORD_ALIGN_V3: u64 = 512;

/// Offset of the magic bytes.
pub(crate) const META_OFF_MAGIC: usize = 0;
/// Offset of the u32 format version.
pub(crate) const META_OFF_VERSION: usize = 8;
/// Offset of the u32 page size.
pub(crate) const META_OFF_PAGE_SIZE: usize = 12;
/// Offset of the u64 txn id of the commit this slot describes.
pub(crate) const META_OFF_TXN: usize = 16;
/// Offset of the catalog root pointer (pgno u64, txn u64).
pub(crate) const META_OFF_CATALOG: usize = 24;
/// Offset of the freelist root pointer (pgno u64, txn u64).
pub(crate) const META_OFF_FREELIST: usize = 40;
/// Offset of the u64 page count: pages `0..count` are in use or free; the rest of the file is
/// preallocated space.
pub(crate) const META_OFF_PAGE_COUNT: usize = 56;
/// Offset of the commit log's region: first page (u64, 0 if there is none) and page count (u64).
pub(crate) const META_OFF_LOG: usize = 64;
/// Offset of the u64 generation of the commit log: records after this checkpoint carry it.
pub(crate) const META_OFF_LOG_GEN: usize = 80;
/// Offset of the u64 xxh3 checksum of bytes `0..META_OFF_CHECKSUM`.
pub(crate) const META_OFF_CHECKSUM: usize = 88;
/// Length of the encoded meta; the rest of the meta page is zero.
pub(crate) const META_LEN: usize = 96;
/// Offset of the checksum in a format version 1 slot (which ends there, 72 bytes long).
pub(crate) const META_V1_OFF_CHECKSUM: usize = 64;
/// Largest txn id a valid slot may carry: far beyond any real file (2^62 commits), and leaves room
/// for the id arithmetic of a reopen (`txn + MAX_UNSYNCED_COMMITS + 2`) without overflow.
pub(crate) const MAX_TXN: u64 = u64::MAX >> 2;

/// The contents of one meta slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Page size of the file.
    pub page_size: u32,
    /// Id of the commit.
    pub txn: u64,
    /// Root of the catalog tree (table name -> table root and entry count).
    pub catalog: PagePtr,
    /// Root of the freelist tree (freeing txn id -> page numbers).
    pub freelist: PagePtr,
    /// Number of pages in use or free (the high-water mark).
    pub page_count: u64,
    /// The commit log's region (pages `log.0 .. log.0 + log.1`); `(0, 0)` if the file has none.
    pub log: (u64, u64),
    /// Generation of the commit log: the records written after this checkpoint carry it.
    pub log_gen: u64,
    /// Records in the log after this checkpoint start at multiples of this many bytes:
    /// [`RECORD_ALIGN`], or [`RECORD_ALIGN_V3`] in a slot of an older version (whose log, if any,
    /// that version wrote). Not stored: it follows from the slot's version; only a version 4 meta
    /// is encoded.
    pub log_align: u64,
}

/// What a meta slot's bytes turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MetaRead {
    /// A valid meta.
    Valid(Meta),
    /// The magic is there but the checksum or a field is wrong (a torn or damaged slot).
    Damaged,
    /// No larchdb magic at all.
    Foreign,
    /// A valid slot of another format version.
    Unsupported(u32),
}

impl Meta {
    /// Encodes the meta with its checksum.
    pub fn encode(&self) -> [u8; META_LEN] {
        let body = MetaBody {
            head: MetaHead {
                magic: MAGIC,
                version: FORMAT_VERSION.into(),
                page_size: self.page_size.into(),
                txn: self.txn.into(),
                catalog: self.catalog.into(),
                freelist: self.freelist.into(),
                page_count: self.page_count.into(),
            },
            log_start: self.log.0.into(),
            log_pages: self.log.1.into(),
            log_gen: self.log_gen.into(),
        };
        let checksum = xxhash_rust::xxh3::xxh3_64(body.as_bytes()).into();
        zerocopy::transmute!(MetaSlot { body, checksum })
    }

    /// Decodes a meta slot, checking magic, checksum, version and field ranges. A format
    /// version 2 slot decodes as a version 3 one, a version 1 slot with no log region.
    pub fn decode(b: &[u8]) -> MetaRead {
        if b.get(META_OFF_MAGIC..META_OFF_MAGIC + 8) != Some(&MAGIC[..]) {
            return MetaRead::Foreign;
        }
        // Both versions' slots are at least as long as a version 1 slot.
        let Ok((v1, _)) = MetaSlotV1::ref_from_prefix(b) else {
            return MetaRead::Damaged;
        };
        let v2 = MetaSlot::ref_from_prefix(b).ok().map(|(slot, _)| slot);
        let v1_ok = v1.checksum.get() == xxhash_rust::xxh3::xxh3_64(v1.head.as_bytes());
        let v2_ok =
            v2.is_some_and(|s| s.checksum.get() == xxhash_rust::xxh3::xxh3_64(s.body.as_bytes()));
        let head = &v1.head;
        let version = head.version.get();
        let ok = match version {
            FORMAT_VERSION | FORMAT_VERSION_3 | FORMAT_VERSION_2 => v2_ok,
            FORMAT_VERSION_1 => v1_ok,
            v if v2_ok || v1_ok => return MetaRead::Unsupported(v),
            _ => false,
        };
        if !ok {
            return MetaRead::Damaged;
        }
        let (log, log_gen) = match v2 {
            Some(s) if version != FORMAT_VERSION_1 => (
                (s.body.log_start.get(), s.body.log_pages.get()),
                s.body.log_gen.get(),
            ),
            _ => ((0, 0), 0),
        };
        let meta = Meta {
            page_size: head.page_size.get(),
            txn: head.txn.get(),
            catalog: head.catalog.into(),
            freelist: head.freelist.into(),
            page_count: head.page_count.get(),
            log,
            log_gen,
            log_align: match version {
                FORMAT_VERSION => RECORD_ALIGN,
                _ => RECORD_ALIGN_V3,
            },
        };
        if meta.is_sane() {
            MetaRead::Valid(meta)
        } else {
            MetaRead::Damaged
        }
    }

    /// True if every field is in range (FORMAT.md section 3).
    fn is_sane(&self) -> bool {
        let ps = self.page_size as usize;
        let (log_start, log_pages) = self.log;
        let log_ok = if log_start == 0 {
            log_pages == 0
        } else {
            log_start >= 2
                && log_pages >= 1
                && log_start
                    .checked_add(log_pages)
                    .is_some_and(|end| end <= self.page_count)
        };
        super::is_page_size(ps)
            && self.txn <= MAX_TXN
            && self.log_gen <= MAX_TXN
            && self.page_count >= 2
            && self.catalog.pgno < self.page_count
            && self.freelist.pgno < self.page_count
            && self.catalog.txn <= self.txn
            && self.freelist.txn <= self.txn
            && log_ok
    }
}
