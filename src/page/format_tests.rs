//! Pins the on-disk format to `docs/FORMAT.md`: every named constant is compared with the number
//! the document gives, and real structures are encoded by the code and checked byte by byte at the
//! documented offsets. A failure here means the code and FORMAT.md disagree: fix one of them (and
//! bump `FORMAT_VERSION` if the bytes on disk change).

use crate::alloc::{freelist_key, freelist_key_txn, freelist_pages, FREELIST_KEY_LEN};
use crate::btree::key::{shortest_separator, SmallKey};
use crate::btree::{max_inline_cell, max_key_len, value_inline, TreeRoot, MAX_DEPTH};
use crate::catalog::{self, CATALOG_VALUE_LEN, MAX_TABLE_NAME_LEN};
use crate::page::cells::CellList;
use crate::page::meta::{
    Meta, MetaRead, FORMAT_VERSION, FORMAT_VERSION_1, FORMAT_VERSION_2, FORMAT_VERSION_3, MAGIC,
    META_LEN, META_OFF_CATALOG, META_OFF_CHECKSUM, META_OFF_FREELIST, META_OFF_LOG,
    META_OFF_LOG_GEN, META_OFF_MAGIC, META_OFF_PAGE_COUNT, META_OFF_PAGE_SIZE, META_OFF_TXN,
    META_OFF_VERSION, META_V1_OFF_CHECKSUM, RECORD_ALIGN, RECORD_ALIGN_V3,
};
use crate::page::node::{
    self, BranchCell, LeafCell, LeafValue, Node, BRANCH_CELL_HEADER, BRANCH_OFF_CHILD,
    BRANCH_OFF_CHILD_TXN, BRANCH_OFF_KEY_LEN, LEAF_CELL_HEADER, LEAF_FLAG_OVERFLOW, LEAF_OFF_FLAGS,
    LEAF_OFF_KEY_LEN, LEAF_OFF_VALUE_LEN, OVERFLOW_REF_LEN,
};
use crate::page::{
    checksum, checksummed_len, init_overflow, key_hint, overflow_pages, overflow_value, seal,
    verify_checksum, PagePtr, HEADER_LEN, KIND_BRANCH, KIND_LEAF, KIND_OVERFLOW, MAX_PAGE_SIZE,
    MIN_PAGE_SIZE, OFF_CELLS_START, OFF_CHECKSUM, OFF_COUNT, OFF_KIND, OFF_TXN, OFF_VALUE_LEN,
    SLOT_LEN, SLOT_OFF_HINT,
};
use crate::rng::Rng;
use crate::txn::write::MAX_VALUE_LEN;
use crate::txn::MAX_UNSYNCED_COMMITS;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Leaf and branch pages, key hints, splits: in a file of their own.
#[path = "format_layout_tests.rs"]
mod layout;

/// The prefix length of leaf and branch pages and the hints after it.
#[path = "format_prefix_tests.rs"]
mod prefix;

const PS: usize = 4096;

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// Offset of slot `i` as FORMAT.md gives it: 6-byte slots right after the 32-byte header.
fn slot_at(i: usize) -> usize {
    32 + 6 * i
}

/// The cell offset stored in slot `i` (u16 LE at slot offset 0).
fn slot_cell(page: &[u8], i: usize) -> usize {
    u16_at(page, slot_at(i)) as usize
}

/// The key hint stored in slot `i` (u32 BE at slot offset 2).
fn slot_hint(page: &[u8], i: usize) -> u32 {
    u32::from_be_bytes(page[slot_at(i) + 2..slot_at(i) + 6].try_into().unwrap())
}

/// The key hint as FORMAT.md describes it, computed independently of `page::key_hint`.
fn documented_hint(key: &[u8]) -> u32 {
    let b = |i: usize| key.get(i).copied().unwrap_or(0) as u32;
    (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)
}

/// Checks that `page`, written by `txn`, edited by `edit` and resealed as page 12 (so that its
/// checksum is right, as after a writer's bug), still parses but fails `validate_cells` with
/// `Corrupted`.
fn assert_rejected(page: &[u8], txn: u64, edit: &dyn Fn(&mut [u8])) {
    let mut bad = page.to_vec();
    edit(&mut bad);
    seal(&mut bad, 12);
    verify_checksum(12, &bad).unwrap();
    let n = Node::parse(12, &bad, txn).expect("the header is fine");
    match n.validate_cells() {
        Err(crate::Error::Corrupted { page, .. }) => assert_eq!(page, 12),
        other => panic!("expected Corrupted, got {other:?}"),
    }
}

/// The checksum FORMAT.md describes, computed independently of `page::checksum`.
fn documented_checksum(covered: &[u8], pgno: u64) -> u64 {
    let flagged = covered[1] & 1 != 0;
    let seed = xxh3_64(&covered[24..]) ^ if flagged { pgno } else { 0 };
    xxh3_64_with_seed(&covered[..16], seed)
}

// ---- constants -----------------------------------------------------------------------------

#[test]
fn page_header_constants() {
    assert_eq!(HEADER_LEN, 32);
    assert_eq!(OFF_KIND, 0);
    assert_eq!(OFF_COUNT, 2);
    assert_eq!(OFF_CELLS_START, 4);
    assert_eq!(OFF_TXN, 8);
    assert_eq!(OFF_CHECKSUM, 16);
    assert_eq!(OFF_VALUE_LEN, 24);
    assert_eq!(SLOT_LEN, 6);
    assert_eq!(SLOT_OFF_HINT, 2);
    assert_eq!(SLOT_OFF_HINT + 4, SLOT_LEN, "the hint ends the slot");
    assert_eq!(KIND_LEAF, 1);
    assert_eq!(KIND_BRANCH, 2);
    assert_eq!(KIND_OVERFLOW, 3);
}

#[test]
fn cell_constants() {
    assert_eq!(LEAF_OFF_KEY_LEN, 0);
    assert_eq!(LEAF_OFF_FLAGS, 2);
    assert_eq!(LEAF_OFF_VALUE_LEN, 4);
    assert_eq!(LEAF_CELL_HEADER, 8);
    assert_eq!(LEAF_FLAG_OVERFLOW, 1);
    assert_eq!(OVERFLOW_REF_LEN, 16);
    assert_eq!(BRANCH_OFF_CHILD, 0);
    assert_eq!(BRANCH_OFF_CHILD_TXN, 8);
    assert_eq!(BRANCH_OFF_KEY_LEN, 16);
    assert_eq!(BRANCH_CELL_HEADER, 18);
}

#[test]
fn meta_constants() {
    assert_eq!(&MAGIC, b"LARCHDB\0");
    assert_eq!(MAGIC, [0x4c, 0x41, 0x52, 0x43, 0x48, 0x44, 0x42, 0x00]);
    assert_eq!(FORMAT_VERSION, 4);
    assert_eq!(FORMAT_VERSION_3, 3);
    assert_eq!(FORMAT_VERSION_2, 2);
    assert_eq!(RECORD_ALIGN, 8);
    assert_eq!(RECORD_ALIGN_V3, 512);
    assert_eq!(FORMAT_VERSION_1, 1);
    assert_eq!(META_OFF_MAGIC, 0);
    assert_eq!(META_OFF_VERSION, 8);
    assert_eq!(META_OFF_PAGE_SIZE, 12);
    assert_eq!(META_OFF_TXN, 16);
    assert_eq!(META_OFF_CATALOG, 24);
    assert_eq!(META_OFF_FREELIST, 40);
    assert_eq!(META_OFF_PAGE_COUNT, 56);
    assert_eq!(META_OFF_LOG, 64);
    assert_eq!(META_OFF_LOG_GEN, 80);
    assert_eq!(META_OFF_CHECKSUM, 88);
    assert_eq!(META_LEN, 96);
    assert_eq!(META_V1_OFF_CHECKSUM, 64);
    // The meta lies inside one 512-byte sector.
    const { assert!(META_LEN <= 512) };
}

#[test]
fn tree_entry_constants() {
    assert_eq!(FREELIST_KEY_LEN, 20);
    assert_eq!(CATALOG_VALUE_LEN, 24);
    assert_eq!(MAX_TABLE_NAME_LEN, 255);
}

#[test]
fn limits() {
    assert_eq!(MIN_PAGE_SIZE, 4096);
    assert_eq!(MAX_PAGE_SIZE, 65536);
    assert_eq!(MAX_DEPTH, 32);
    assert_eq!(MAX_VALUE_LEN, u32::MAX as usize);
    assert_eq!(MAX_UNSYNCED_COMMITS, 4096);
    // The per-page-size table of FORMAT.md: max key, max inline cell, merge threshold, freelist
    // page numbers per entry.
    let table: [(usize, usize, usize, usize, usize); 5] = [
        (4096, 1024, 1010, 1016, 122),
        (8192, 2048, 2034, 2040, 250),
        (16384, 4096, 4082, 4088, 506),
        (32768, 8192, 8178, 8184, 1018),
        (65536, 16384, 16370, 16376, 2042),
    ];
    for (ps, key, inline, merge, chunk) in table {
        assert_eq!(max_key_len(ps), ps / 4);
        assert_eq!(max_key_len(ps), key, "max key at {ps}");
        assert_eq!(max_inline_cell(ps), (ps - 32) / 4 - 6);
        assert_eq!(max_inline_cell(ps), inline, "max inline cell at {ps}");
        assert_eq!((ps - HEADER_LEN) / 4, merge, "merge threshold at {ps}");
        assert_eq!(
            (max_inline_cell(ps) - LEAF_CELL_HEADER - FREELIST_KEY_LEN) / 8,
            chunk,
            "freelist chunk at {ps}"
        );
        // A freelist entry of a full chunk stays inline.
        assert!(value_inline(FREELIST_KEY_LEN, chunk * 8, ps));
        assert!(!value_inline(FREELIST_KEY_LEN, (chunk + 1) * 8, ps));
        // Three of the largest leaf (or branch) cells fit in one page, so a split always has room.
        let largest_leaf = LEAF_CELL_HEADER + key + OVERFLOW_REF_LEN + SLOT_LEN;
        assert_eq!(largest_leaf, ps / 4 + 30);
        assert!(3 * largest_leaf <= ps - HEADER_LEN);
        let largest_branch = BRANCH_CELL_HEADER + key + SLOT_LEN;
        assert_eq!(largest_branch, ps / 4 + 24);
        assert!(3 * largest_branch <= ps - HEADER_LEN);
        // The largest leaf cell is the overflow form under the largest key: inline it would be
        // too large for any value above 16 bytes.
        assert!(!value_inline(key, OVERFLOW_REF_LEN + 1, ps));
    }
    // The worked numbers of FORMAT.md section 11 at 4 KiB.
    assert_eq!(
        3 * (LEAF_CELL_HEADER + 1024 + OVERFLOW_REF_LEN + SLOT_LEN),
        3162
    );
    assert_eq!(3 * (BRANCH_CELL_HEADER + 1024 + SLOT_LEN), 3144);
    assert_eq!(PS - HEADER_LEN, 4064);
    // 3 * (ps/4 + 30) <= ps - 32 holds from 488 bytes up, far below MIN_PAGE_SIZE.
    let smallest = (HEADER_LEN..=MIN_PAGE_SIZE)
        .step_by(4)
        .find(|&ps| 3 * (ps / 4 + 30) <= ps - HEADER_LEN);
    assert_eq!(smallest, Some(488));
}

#[test]
fn inline_threshold_rule() {
    // Values of up to 16 bytes are always inline, whatever the key.
    assert!(value_inline(1024, 16, PS));
    // Otherwise: inline iff 8 + key + value <= max_inline_cell (1010 at 4 KiB).
    assert!(value_inline(10, 1010 - 8 - 10, PS));
    assert!(!value_inline(10, 1010 - 8 - 10 + 1, PS));
    assert!(!value_inline(1024, 17, PS));
}

// ---- meta ----------------------------------------------------------------------------------

fn sample_meta() -> Meta {
    Meta {
        page_size: 8192,
        txn: 0x0102_0304_0506_0708,
        catalog: PagePtr {
            pgno: 0x11,
            txn: 0x22,
        },
        freelist: PagePtr {
            pgno: 0x33,
            txn: 0x44,
        },
        page_count: 0x1000,
        log: (0x55, 0x66),
        log_gen: 0x77,
        log_align: RECORD_ALIGN,
    }
}

#[test]
fn meta_encoding() {
    let m = sample_meta();
    let b = m.encode();
    assert_eq!(b.len(), 96);
    assert_eq!(&b[0..8], b"LARCHDB\0");
    assert_eq!(u32_at(&b, 8), 4);
    assert_eq!(u32_at(&b, 12), 8192);
    assert_eq!(u64_at(&b, 16), 0x0102_0304_0506_0708);
    assert_eq!(&b[16..24], &[8, 7, 6, 5, 4, 3, 2, 1], "little-endian");
    assert_eq!(u64_at(&b, 24), 0x11);
    assert_eq!(u64_at(&b, 32), 0x22);
    assert_eq!(u64_at(&b, 40), 0x33);
    assert_eq!(u64_at(&b, 48), 0x44);
    assert_eq!(u64_at(&b, 56), 0x1000);
    assert_eq!(u64_at(&b, 64), 0x55);
    assert_eq!(u64_at(&b, 72), 0x66);
    assert_eq!(u64_at(&b, 80), 0x77);
    assert_eq!(u64_at(&b, 88), xxh3_64(&b[0..88]));
    assert_eq!(Meta::decode(&b), MetaRead::Valid(m));
    // As recovery reads it: the first 96 bytes of a page whose rest is zero.
    let mut page = vec![0u8; 8192];
    page[..96].copy_from_slice(&b);
    assert_eq!(Meta::decode(&page), MetaRead::Valid(m));
}

#[test]
fn format_version_2_and_3_slots_are_read_as_version_4_with_sector_aligned_records() {
    // Version 2 and 3 slots: the layout of version 4, with their version number and checksum.
    for version in [2u32, 3] {
        let mut b = sample_meta().encode();
        b[8..12].copy_from_slice(&version.to_le_bytes());
        let sum = xxh3_64(&b[..88]);
        b[88..96].copy_from_slice(&sum.to_le_bytes());
        let want = Meta {
            log_align: RECORD_ALIGN_V3,
            ..sample_meta()
        };
        assert_eq!(Meta::decode(&b), MetaRead::Valid(want));
        b[90] ^= 1;
        assert_eq!(Meta::decode(&b), MetaRead::Damaged);
    }
}

#[test]
fn format_version_1_slots_are_read_without_a_log() {
    // A version 1 slot: the first 64 bytes as in version 2, then the checksum of them.
    let mut b = [0u8; 72];
    b.copy_from_slice(&sample_meta().encode()[..72]);
    b[8..12].copy_from_slice(&1u32.to_le_bytes());
    let sum = xxh3_64(&b[..64]);
    b[64..72].copy_from_slice(&sum.to_le_bytes());
    let want = Meta {
        log: (0, 0),
        log_gen: 0,
        log_align: RECORD_ALIGN_V3,
        ..sample_meta()
    };
    assert_eq!(Meta::decode(&b), MetaRead::Valid(want));
    let mut page = vec![0u8; 4096];
    page[..72].copy_from_slice(&b);
    assert_eq!(Meta::decode(&page), MetaRead::Valid(want));
    b[70] ^= 1;
    assert_eq!(Meta::decode(&b), MetaRead::Damaged);
}

#[test]
fn meta_log_region_checks() {
    let edit = |start: u64, pages: u64| {
        decode_edited(|b| {
            b[64..72].copy_from_slice(&start.to_le_bytes());
            b[72..80].copy_from_slice(&pages.to_le_bytes());
        })
    };
    assert!(matches!(edit(0, 0), MetaRead::Valid(_)));
    assert!(matches!(edit(2, 0x1000 - 2), MetaRead::Valid(_)));
    assert_eq!(edit(0, 5), MetaRead::Damaged, "pages without a start");
    assert_eq!(edit(1, 5), MetaRead::Damaged, "over a meta page");
    assert_eq!(edit(5, 0), MetaRead::Damaged, "an empty region");
    assert_eq!(edit(2, 0x1000 - 1), MetaRead::Damaged, "past page_count");
    assert_eq!(edit(u64::MAX, 2), MetaRead::Damaged, "overflowing");
}

#[test]
fn initial_meta_is_valid() {
    let m = Meta {
        page_size: 4096,
        txn: 0,
        catalog: PagePtr::NULL,
        freelist: PagePtr::NULL,
        page_count: 2,
        log: (0, 0),
        log_gen: 0,
        log_align: RECORD_ALIGN,
    };
    let b = m.encode();
    assert!(b[16..88].iter().enumerate().all(|(i, &x)| {
        // Only the page count (2 at offset 56) is non-zero among txn, roots and log fields.
        x == if i + 16 == 56 { 2 } else { 0 }
    }));
    assert_eq!(Meta::decode(&b), MetaRead::Valid(m));
    // The hex dump of page 0 of a new 4 KiB database in FORMAT.md.
    let mut dump = [0u8; META_LEN];
    dump[..16].copy_from_slice(&[
        0x4c, 0x41, 0x52, 0x43, 0x48, 0x44, 0x42, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
        0x00,
    ]);
    dump[56] = 0x02;
    dump[88..].copy_from_slice(&INITIAL_META_CHECKSUM.to_le_bytes());
    assert_eq!(b, dump);
}

/// The checksum of a new 4 KiB database's meta, as FORMAT.md's hex dump shows it.
const INITIAL_META_CHECKSUM: u64 = 0x50db_71fb_3862_521b;

#[test]
fn meta_with_a_flipped_byte_is_damaged() {
    let b = sample_meta().encode();
    for i in 0..META_LEN {
        for bit in [0x01u8, 0x80] {
            let mut d = b;
            d[i] ^= bit;
            let expect = if i < 8 {
                MetaRead::Foreign
            } else {
                MetaRead::Damaged
            };
            assert_eq!(Meta::decode(&d), expect, "byte {i} bit {bit:#x}");
        }
    }
}

#[test]
fn meta_random_bytes_are_foreign() {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    for _ in 0..1000 {
        let mut b = [0u8; META_LEN];
        rng.fill(&mut b);
        assert_ne!(&b[..8], &MAGIC);
        assert_eq!(Meta::decode(&b), MetaRead::Foreign);
    }
    // Magic followed by random bytes: damaged (the checksum cannot match).
    for _ in 0..1000 {
        let mut b = [0u8; META_LEN];
        rng.fill(&mut b);
        b[..8].copy_from_slice(&MAGIC);
        assert_eq!(Meta::decode(&b), MetaRead::Damaged);
    }
    assert_eq!(Meta::decode(&[]), MetaRead::Foreign);
    assert_eq!(Meta::decode(&[0u8; META_LEN]), MetaRead::Foreign);
    // Cut short after the magic: damaged.
    assert_eq!(
        Meta::decode(&sample_meta().encode()[..40]),
        MetaRead::Damaged
    );
}

/// Re-encodes `b` with a valid checksum after `edit`, and decodes it.
fn decode_edited(edit: impl FnOnce(&mut [u8; META_LEN])) -> MetaRead {
    let mut b = sample_meta().encode();
    edit(&mut b);
    let sum = xxh3_64(&b[..88]);
    b[88..96].copy_from_slice(&sum.to_le_bytes());
    Meta::decode(&b)
}

#[test]
fn meta_field_checks() {
    assert!(matches!(decode_edited(|_| {}), MetaRead::Valid(_)));
    // Another format version: recognised, and refused as unsupported.
    assert_eq!(
        decode_edited(|b| b[8..12].copy_from_slice(&5u32.to_le_bytes())),
        MetaRead::Unsupported(5)
    );
    // Page size not a power of two in 4096..=65536.
    for ps in [0u32, 2048, 4095, 6000, 131072] {
        assert_eq!(
            decode_edited(|b| b[12..16].copy_from_slice(&ps.to_le_bytes())),
            MetaRead::Damaged,
            "page size {ps}"
        );
    }
    for ps in [4096u32, 16384, 65536] {
        assert!(matches!(
            decode_edited(|b| b[12..16].copy_from_slice(&ps.to_le_bytes())),
            MetaRead::Valid(_)
        ));
    }
    // page_count >= 2; roots below page_count; root txns <= the meta's txn.
    assert_eq!(
        decode_edited(|b| b[56..64].copy_from_slice(&1u64.to_le_bytes())),
        MetaRead::Damaged
    );
    assert_eq!(
        decode_edited(|b| b[24..32].copy_from_slice(&0x1000u64.to_le_bytes())),
        MetaRead::Damaged
    );
    assert_eq!(
        decode_edited(|b| b[40..48].copy_from_slice(&0x1000u64.to_le_bytes())),
        MetaRead::Damaged
    );
    assert_eq!(
        decode_edited(|b| b[32..40].copy_from_slice(&u64::MAX.to_le_bytes())),
        MetaRead::Damaged
    );
    assert_eq!(
        decode_edited(|b| b[48..56].copy_from_slice(&u64::MAX.to_le_bytes())),
        MetaRead::Damaged
    );
}

// ---- checksums -----------------------------------------------------------------------------

#[test]
fn checksum_rule() {
    let mut rng = Rng::new(7);
    let mut page = vec![0u8; PS];
    rng.fill(&mut page);
    let sum = checksum(&page, 7);
    assert_eq!(sum, documented_checksum(&page, 7));
    // The checksum field itself is not covered.
    page[16..24].copy_from_slice(&[0xAA; 8]);
    assert_eq!(checksum(&page, 7), sum);
    // Every other byte is.
    for i in (0..16).chain(24..PS).step_by(97) {
        let mut p = page.clone();
        p[i] ^= 1;
        assert_ne!(checksum(&p, 7), sum, "byte {i}");
    }
}

// ---- overflow runs -------------------------------------------------------------------------

#[test]
fn overflow_run_layout() {
    assert_eq!(overflow_pages(0, PS), 1);
    assert_eq!(overflow_pages((PS - 32) as u64, PS), 1);
    assert_eq!(overflow_pages((PS - 32 + 1) as u64, PS), 2);
    assert_eq!(overflow_pages(u32::MAX as u64, PS), 1_048_577);

    let len = 5000u64;
    let npages = overflow_pages(len, PS);
    assert_eq!(npages, 2);
    let mut run = vec![0u8; npages as usize * PS];
    init_overflow(&mut run, 0x42, npages, len);
    assert_eq!(run[0], 3, "kind");
    assert_eq!(&run[1..4], &[0, 0, 0], "flags 0 until sealed");
    assert_eq!(u32_at(&run, 4), 2, "pages in the run");
    assert_eq!(u64_at(&run, 8), 0x42, "txn");
    assert_eq!(u64_at(&run, 16), 0, "checksum, until sealed");
    assert_eq!(u64_at(&run, 24), 5000, "value length");
    let mut rng = Rng::new(3);
    rng.fill(&mut run[32..32 + len as usize]);
    // Slack after the value: not covered by the checksum.
    seal(&mut run, 20);
    assert_eq!(checksummed_len(&run), 32 + 5000);
    assert_eq!(u64_at(&run, 16), documented_checksum(&run[..32 + 5000], 20));
    verify_checksum(20, &run).unwrap();
    let mut slack = run.clone();
    slack[32 + 5000] = 0xff;
    verify_checksum(20, &slack).unwrap();
    // A value byte on the second page is covered.
    let mut bad = run.clone();
    bad[PS + 10] ^= 1;
    assert!(verify_checksum(20, &bad).is_err());

    let v = overflow_value(20, &run, 0x42, len).unwrap();
    assert_eq!(v, &run[32..32 + 5000]);
    // The leaf's pointer txn and length must match the header.
    assert!(overflow_value(20, &run, 0x43, len).is_err());
    assert!(overflow_value(20, &run, 0x42, len - 1).is_err());
}

// ---- freelist and catalog entries ----------------------------------------------------------

#[test]
fn freelist_entry_encoding() {
    let k = freelist_key(0x0102_0304_0506_0708, 0x1112_1314_1516_1718, 0x2122_2324);
    assert_eq!(k.len(), 20);
    assert_eq!(
        k,
        [
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // freeing txn, big-endian
            0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, // writing txn, big-endian
            0x21, 0x22, 0x23, 0x24, // chunk, big-endian
        ]
    );
    assert_eq!(freelist_key_txn(&k), Some(0x0102_0304_0506_0708));
    assert_eq!(freelist_key_txn(&k[..19]), None);
    // Big-endian keys sort by freeing txn, then writer, then chunk; txn 0 sorts first.
    assert!(freelist_key(0, u64::MAX, 9) < freelist_key(1, 0, 0));
    assert!(freelist_key(255, 0, 0) < freelist_key(256, 0, 0));
    assert!(freelist_key(5, 6, 1) < freelist_key(5, 6, 256));

    // Value: page numbers, u64 little-endian, packed.
    let mut v = Vec::new();
    for p in [2u64, 0x0102, 0xdead_beef] {
        v.extend_from_slice(&p.to_le_bytes());
    }
    assert_eq!(&v[8..10], &[0x02, 0x01]);
    let pages: Vec<u64> = freelist_pages(&v).unwrap().collect();
    assert_eq!(pages, [2, 0x0102, 0xdead_beef]);
    assert!(freelist_pages(&v[..7]).is_none());
}

#[test]
fn catalog_entry_encoding() {
    let t = TreeRoot {
        root: PagePtr {
            pgno: 0x0102_0304,
            txn: 0x0506,
        },
        count: 0x0708_090a,
    };
    let b = catalog::encode(&t);
    assert_eq!(b.len(), 24);
    assert_eq!(u64_at(&b, 0), 0x0102_0304);
    assert_eq!(u64_at(&b, 8), 0x0506);
    assert_eq!(u64_at(&b, 16), 0x0708_090a);
    assert_eq!(&b[0..4], &[0x04, 0x03, 0x02, 0x01], "little-endian");
    assert_eq!(catalog::decode(5, &b).unwrap(), t);
    assert!(catalog::decode(5, &b[..23]).is_err());
    // An empty table: a null root.
    assert_eq!(catalog::encode(&TreeRoot::default()), [0u8; 24]);
    // Names of 1..=255 bytes.
    assert!(catalog::check_name("").is_err());
    assert!(catalog::check_name("t").is_ok());
    assert!(catalog::check_name(&"n".repeat(255)).is_ok());
    assert!(catalog::check_name(&"n".repeat(256)).is_err());
}
