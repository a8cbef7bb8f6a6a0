//! The two meta slots (pages 0 and 1): which commit is current, and where its trees are.
//!
//! Layout (see `docs/FORMAT.md`): magic, format version, page size, txn id, catalog root, freelist
//! root, page count, then an xxh3 checksum of the bytes before it.

use super::{get_u32, get_u64, put_u32, put_u64, PagePtr};

/// The eight bytes every larchdb file starts with.
pub(crate) const MAGIC: [u8; 8] = *b"LARCHDB\0";
/// Version of the on-disk format this code reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;

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
/// Offset of the u64 xxh3 checksum of bytes `0..META_OFF_CHECKSUM`.
pub(crate) const META_OFF_CHECKSUM: usize = 64;
/// Length of the encoded meta; the rest of the meta page is zero.
pub(crate) const META_LEN: usize = 72;
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
        let mut b = [0u8; META_LEN];
        b[META_OFF_MAGIC..META_OFF_MAGIC + 8].copy_from_slice(&MAGIC);
        put_u32(&mut b, META_OFF_VERSION, FORMAT_VERSION);
        put_u32(&mut b, META_OFF_PAGE_SIZE, self.page_size);
        put_u64(&mut b, META_OFF_TXN, self.txn);
        put_u64(&mut b, META_OFF_CATALOG, self.catalog.pgno);
        put_u64(&mut b, META_OFF_CATALOG + 8, self.catalog.txn);
        put_u64(&mut b, META_OFF_FREELIST, self.freelist.pgno);
        put_u64(&mut b, META_OFF_FREELIST + 8, self.freelist.txn);
        put_u64(&mut b, META_OFF_PAGE_COUNT, self.page_count);
        let sum = xxhash_rust::xxh3::xxh3_64(&b[..META_OFF_CHECKSUM]);
        put_u64(&mut b, META_OFF_CHECKSUM, sum);
        b
    }

    /// Decodes a meta slot, checking magic, checksum, version and field ranges.
    pub fn decode(b: &[u8]) -> MetaRead {
        if b.get(META_OFF_MAGIC..META_OFF_MAGIC + 8) != Some(&MAGIC[..]) {
            return MetaRead::Foreign;
        }
        let Some(head) = b.get(..META_OFF_CHECKSUM) else {
            return MetaRead::Damaged;
        };
        if get_u64(b, META_OFF_CHECKSUM) != Some(xxhash_rust::xxh3::xxh3_64(head)) {
            return MetaRead::Damaged;
        }
        let field = |off| get_u64(b, off).unwrap_or(0);
        let meta = Meta {
            page_size: get_u32(b, META_OFF_PAGE_SIZE).unwrap_or(0),
            txn: field(META_OFF_TXN),
            catalog: PagePtr {
                pgno: field(META_OFF_CATALOG),
                txn: field(META_OFF_CATALOG + 8),
            },
            freelist: PagePtr {
                pgno: field(META_OFF_FREELIST),
                txn: field(META_OFF_FREELIST + 8),
            },
            page_count: field(META_OFF_PAGE_COUNT),
        };
        let version = get_u32(b, META_OFF_VERSION).unwrap_or(0);
        if version != FORMAT_VERSION {
            return MetaRead::Unsupported(version);
        }
        let ps = meta.page_size as usize;
        let sane = ps.is_power_of_two()
            && (crate::options::MIN_PAGE_SIZE..=crate::options::MAX_PAGE_SIZE).contains(&ps)
            && meta.txn <= MAX_TXN
            && meta.page_count >= 2
            && meta.catalog.pgno < meta.page_count
            && meta.freelist.pgno < meta.page_count
            && meta.catalog.txn <= meta.txn
            && meta.freelist.txn <= meta.txn;
        if sane {
            MetaRead::Valid(meta)
        } else {
            MetaRead::Damaged
        }
    }
}
