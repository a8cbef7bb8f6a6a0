//! Pins the layout of leaf and branch pages to `docs/FORMAT.md` (sections 5, 5.1, 6 and 12): cells
//! and slots at their documented offsets, key hints, the split policy and separators. Part of
//! `format_tests.rs`, whose helpers and imports it shares.

use super::*;

// ---- leaf pages ----------------------------------------------------------------------------

#[test]
fn leaf_page_layout() {
    let mut page = vec![0u8; PS];
    node::init(&mut page, KIND_LEAF, 0x77);
    assert_eq!(page[0], 1);
    assert_eq!(u16_at(&page, 2), 0);
    assert_eq!(
        u32_at(&page, 4),
        PS as u32,
        "an empty page's cell area starts at its end"
    );
    assert_eq!(u64_at(&page, 8), 0x77);
    assert!(page[16..32].iter().all(|&b| b == 0));

    // Inserted out of key order: cells are packed backward in insertion order, slots are in key
    // order.
    let inline = LeafCell {
        key: b"bb",
        value: LeafValue::Inline(b"xyz"),
    };
    assert!(node::insert_cell(&mut page, 0, &inline));
    let ovf = LeafCell {
        key: b"aa",
        value: LeafValue::Overflow {
            ptr: PagePtr {
                pgno: 0x0102_0304,
                txn: 0x55,
            },
            len: 100_000,
        },
    };
    assert!(node::insert_cell(&mut page, 0, &ovf));

    let c_inline = PS - (8 + 2 + 3);
    let c_ovf = c_inline - (8 + 2 + 16);
    assert_eq!(u16_at(&page, 2), 2, "count");
    assert_eq!(u32_at(&page, 4), c_ovf as u32, "cells start");
    assert_eq!(u16_at(&page, 32) as usize, c_ovf, "slot 0: key aa");
    assert_eq!(u16_at(&page, 38) as usize, c_inline, "slot 1: key bb");
    assert_eq!(
        u32::from_be_bytes(page[34..38].try_into().unwrap()),
        0x6161_0000
    );
    assert_eq!(
        u32::from_be_bytes(page[40..44].try_into().unwrap()),
        0x6262_0000
    );
    assert_eq!(node::free_space(&page), c_ovf - 32 - 2 * 6);
    // The worked example of FORMAT.md section 5.1.
    assert_eq!((c_inline, c_ovf), (4083, 4057));
    assert_eq!(
        page[32..44],
        [0xd9, 0x0f, 0x61, 0x61, 0x00, 0x00, 0xf3, 0x0f, 0x62, 0x62, 0x00, 0x00]
    );
    assert_eq!(node::free_space(&page), 4013);

    // Inline form: key_len u16 | flags u8 | reserved u8 | value_len u32 | key | value.
    let c = &page[c_inline..];
    assert_eq!(u16_at(c, 0), 2);
    assert_eq!(c[2], 0, "flags");
    assert_eq!(c[3], 0, "reserved");
    assert_eq!(u32_at(c, 4), 3);
    assert_eq!(&c[8..10], b"bb");
    assert_eq!(&c[10..13], b"xyz");
    assert_eq!(c.len(), 13, "the last cell ends at the end of the page");

    // Overflow form: value_len is the whole value's length; the key is followed by
    // first page u64 | txn u64 of the run.
    let c = &page[c_ovf..c_inline];
    assert_eq!(u16_at(c, 0), 2);
    assert_eq!(c[2], LEAF_FLAG_OVERFLOW);
    assert_eq!(c[3], 0);
    assert_eq!(u32_at(c, 4), 100_000);
    assert_eq!(&c[8..10], b"aa");
    assert_eq!(u64_at(c, 10), 0x0102_0304);
    assert_eq!(u64_at(c, 18), 0x55);
    assert_eq!(c.len(), 26);

    // The code reads back what the document describes.
    let n = Node::parse(9, &page, 0x77).unwrap();
    n.validate_cells().unwrap();
    assert!(n.is_leaf());
    assert_eq!(n.count(), 2);
    assert_eq!(n.used(), 2 * 6 + 13 + 26);
    let (k, v) = n.leaf_entry(0).unwrap();
    assert_eq!(k, b"aa");
    assert!(matches!(
        v,
        LeafValue::Overflow {
            ptr: PagePtr {
                pgno: 0x0102_0304,
                txn: 0x55
            },
            len: 100_000
        }
    ));
    let (k, v) = n.leaf_entry(1).unwrap();
    assert_eq!(k, b"bb");
    assert!(matches!(v, LeafValue::Inline(b"xyz")));
    // A pointer that records another txn than the page header is refused.
    assert!(Node::parse(9, &page, 0x78).is_err());

    // Checksum: the whole page minus bytes 16..24.
    seal(&mut page, 9);
    assert_eq!(page[1], 1, "sealed with the page number as seed");
    assert_eq!(checksummed_len(&page), PS);
    assert_eq!(u64_at(&page, 16), documented_checksum(&page, 9));
    verify_checksum(9, &page).unwrap();
    // The same bytes at another page number fail: a misplaced page is caught.
    assert!(verify_checksum(10, &page).is_err());
    let mut bad = page.clone();
    bad[PS / 2] ^= 0x10; // a byte of the free gap is covered too
    assert!(verify_checksum(9, &bad).is_err());

    // Removing a cell compacts the cell area: no gaps.
    node::remove_cell(&mut page, 1);
    assert_eq!(u16_at(&page, 2), 1);
    assert_eq!(u32_at(&page, 4) as usize, PS - 26);
    assert_eq!(u16_at(&page, 32) as usize, PS - 26);
    assert_eq!(
        slot_hint(&page, 0),
        0x6161_0000,
        "the remaining slot keeps its hint"
    );
    Node::parse(9, &page, 0x77)
        .unwrap()
        .validate_cells()
        .unwrap();
}

#[test]
fn leaf_cells_fill_the_cell_area_exactly() {
    let mut page = vec![0u8; PS];
    node::init(&mut page, KIND_LEAF, 1);
    assert!(node::insert_cell(
        &mut page,
        0,
        &LeafCell {
            key: b"k",
            value: LeafValue::Inline(b"v"),
        }
    ));
    // Grow the cell area by a stray byte: a gap, which the reader refuses.
    let start = u32_at(&page, 4);
    page[4..8].copy_from_slice(&(start - 1).to_le_bytes());
    let n = Node::parse(2, &page, 1).unwrap();
    assert!(n.validate_cells().is_err());
}

/// A leaf holding `entries` (key, value), inserted in the order given (so the cell area holds
/// them in that order from its end), each at its place in key order.
fn leaf_of(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut page = vec![0u8; PS];
    node::init(&mut page, KIND_LEAF, 1);
    let mut keys: Vec<&[u8]> = Vec::new();
    for &(key, value) in entries {
        let idx = keys.binary_search(&key).unwrap_err();
        let cell = LeafCell {
            key,
            value: LeafValue::Inline(value),
        };
        assert!(node::insert_cell(&mut page, idx, &cell));
        keys.insert(idx, key);
    }
    page
}

/// The (key, value) pairs of a leaf, in slot order.
fn entries_of(page: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let n = Node::parse(3, page, 1).unwrap();
    n.validate_cells().unwrap();
    (0..n.count())
        .map(|i| match n.leaf_entry(i).unwrap() {
            (k, LeafValue::Inline(v)) => (k.to_vec(), v.to_vec()),
            (_, LeafValue::Overflow { .. }) => unreachable!("inline values only"),
        })
        .collect()
}

#[test]
fn removing_a_cell_as_long_as_the_front_one_moves_only_the_front_one() {
    // Inserted c, a, d, b: the front of the cell area (lowest offset) holds "b".
    let mut page = leaf_of(&[(b"c", b"33"), (b"a", b"11"), (b"d", b"44"), (b"b", b"22")]);
    let before: Vec<usize> = (0..4).map(|i| slot_cell(&page, i)).collect();
    let start = u32_at(&page, 4) as usize;
    assert_eq!(before[1], start, "b's cell is the front one");
    // Remove "c" (slot 2): "b"'s cell moves into its hole; "a" and "d" stay where they were.
    node::remove_cell(&mut page, 2);
    assert_eq!(
        u32_at(&page, 4) as usize,
        start + 11,
        "the area shrinks by one cell"
    );
    assert_eq!(slot_cell(&page, 0), before[0]);
    assert_eq!(slot_cell(&page, 1), before[2], "b now lies where c was");
    assert_eq!(slot_cell(&page, 2), before[3]);
    let want: Vec<(Vec<u8>, Vec<u8>)> = [(b"a", b"11"), (b"b", b"22"), (b"d", b"44")]
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(entries_of(&page), want);
    // Removing the front cell itself moves nothing.
    let front = (0..3).find(|&i| slot_cell(&page, i) == start + 11).unwrap();
    node::remove_cell(&mut page, front);
    assert_eq!(u32_at(&page, 4) as usize, start + 22);
    assert_eq!(entries_of(&page).len(), 2);
}

#[test]
fn removing_a_cell_of_another_length_than_the_front_one_shifts_the_cells_in_front() {
    let mut page = leaf_of(&[(b"c", b"333"), (b"a", b"1"), (b"d", b"4444"), (b"b", b"22")]);
    let start = u32_at(&page, 4) as usize;
    let before: Vec<usize> = (0..4).map(|i| slot_cell(&page, i)).collect();
    // Remove "a" (a 10-byte cell; the front one, "b", has 11): the cells in front of "a" ("d",
    // "b") move by 10 bytes toward the end, "c" (behind it) stays.
    node::remove_cell(&mut page, 0);
    assert_eq!(u32_at(&page, 4) as usize, start + 10);
    assert_eq!(slot_cell(&page, 0), before[1] + 10, "b moved");
    assert_eq!(slot_cell(&page, 1), before[2], "c stayed");
    assert_eq!(slot_cell(&page, 2), before[3] + 10, "d moved");
    let want: Vec<(Vec<u8>, Vec<u8>)> = [(&b"b"[..], &b"22"[..]), (b"c", b"333"), (b"d", b"4444")]
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(entries_of(&page), want);
}

// ---- branch pages --------------------------------------------------------------------------

#[test]
fn branch_page_layout() {
    let mut page = vec![0u8; PS];
    node::init(&mut page, KIND_BRANCH, 0x99);
    let c0 = BranchCell {
        child: PagePtr {
            pgno: 0x0a0b,
            txn: 0x0c,
        },
        key: &[],
    };
    let c1 = BranchCell {
        child: PagePtr {
            pgno: 0x0d0e,
            txn: 0x0f,
        },
        key: b"m",
    };
    assert!(node::insert_cell(&mut page, 0, &c0));
    assert!(node::insert_cell(&mut page, 1, &c1));
    assert_eq!(page[0], 2);
    assert_eq!(u16_at(&page, 2), 2);
    assert_eq!(u64_at(&page, 8), 0x99);
    let off0 = PS - 18;
    let off1 = off0 - 19;
    assert_eq!(u32_at(&page, 4) as usize, off1);
    assert_eq!(u16_at(&page, 32) as usize, off0);
    assert_eq!(u16_at(&page, 38) as usize, off1);
    assert_eq!(
        &page[34..38],
        &[0, 0, 0, 0],
        "cell 0's empty key has hint 0"
    );
    assert_eq!(&page[40..44], b"m\0\0\0", "hint of m");
    assert_eq!(node::free_space(&page), off1 - 32 - 2 * 6);
    // child pgno u64 | child txn u64 | key_len u16 | key
    let c = &page[off0..];
    assert_eq!(u64_at(c, 0), 0x0a0b);
    assert_eq!(u64_at(c, 8), 0x0c);
    assert_eq!(u16_at(c, 16), 0, "cell 0 has an empty key");
    let c = &page[off1..off0];
    assert_eq!(u64_at(c, 0), 0x0d0e);
    assert_eq!(u64_at(c, 8), 0x0f);
    assert_eq!(u16_at(c, 16), 1);
    assert_eq!(&c[18..], b"m");

    // Child i holds keys >= key_i and < key_(i+1).
    let n = Node::parse(4, &page, 0x99).unwrap();
    n.validate_cells().unwrap();
    assert!(!n.is_leaf());
    assert_eq!(n.child_index(b"a").unwrap(), 0);
    assert_eq!(n.child_index(b"l\xff\xff").unwrap(), 0);
    assert_eq!(n.child_index(b"m").unwrap(), 1);
    assert_eq!(n.child_index(b"m\x00").unwrap(), 1);
    assert_eq!(n.child_index(b"z").unwrap(), 1);
    assert_eq!(
        n.child(1).unwrap(),
        PagePtr {
            pgno: 0x0d0e,
            txn: 0x0f
        }
    );

    seal(&mut page, 9);
    assert_eq!(u64_at(&page, 16), documented_checksum(&page, 9));

    // A branch without children is refused; so is a child pointer at a meta page.
    let mut empty = vec![0u8; PS];
    node::init(&mut empty, KIND_BRANCH, 1);
    assert!(Node::parse(4, &empty, 1).is_err());
    let mut meta_child = vec![0u8; PS];
    node::init(&mut meta_child, KIND_BRANCH, 1);
    assert!(node::insert_cell(
        &mut meta_child,
        0,
        &BranchCell {
            child: PagePtr { pgno: 1, txn: 1 },
            key: &[],
        }
    ));
    assert!(Node::parse(4, &meta_child, 1).unwrap().child(0).is_err());
}

#[test]
fn branch_split_moves_the_key_up_and_empties_cell_0() {
    let mut list = CellList::default();
    for (i, k) in [&b""[..], b"c", b"f", b"k"].iter().enumerate() {
        list.push(&BranchCell {
            child: PagePtr {
                pgno: 10 + i as u64,
                txn: 3,
            },
            key: k,
        });
    }
    let mut page = vec![0u8; PS];
    list.write_page(2..4, &mut page, KIND_BRANCH, 5);
    let n = Node::parse(7, &page, 5).unwrap();
    assert_eq!(n.count(), 2);
    assert_eq!(
        n.key(0).unwrap(),
        b"",
        "the first cell of a branch page has an empty key"
    );
    assert_eq!(n.child(0).unwrap().pgno, 12);
    assert_eq!(n.key(1).unwrap(), b"k");
    assert_eq!(
        list.branch_key(2),
        b"f",
        "the separator that moves up to the parent"
    );
}

// ---- key hints ----------------------------------------------------------------------------

/// Checks every slot of `page` against FORMAT.md: slot `i` at `32 + 6*i` names the cell of
/// `keys[i]` and holds its first four bytes, zero-padded, big-endian.
fn assert_slots(page: &[u8], keys: &[&[u8]], key_of_cell: impl Fn(&[u8]) -> Vec<u8>) {
    assert_eq!(u16_at(page, 2) as usize, keys.len(), "count");
    for (i, k) in keys.iter().enumerate() {
        let cell = &page[slot_cell(page, i)..];
        assert_eq!(key_of_cell(cell), *k, "slot {i} names the cell of its key");
        let mut padded = [0u8; 4];
        let n = k.len().min(4);
        padded[..n].copy_from_slice(&k[..n]);
        assert_eq!(
            page[slot_at(i) + 2..slot_at(i) + 6],
            padded,
            "hint bytes of slot {i}"
        );
        assert_eq!(slot_hint(page, i), documented_hint(k), "slot {i}");
        assert_eq!(slot_hint(page, i), key_hint(k), "slot {i}");
    }
}

fn leaf_cell_key_bytes(cell: &[u8]) -> Vec<u8> {
    cell[8..8 + u16_at(cell, 0) as usize].to_vec()
}

fn branch_cell_key_bytes(cell: &[u8]) -> Vec<u8> {
    cell[18..18 + u16_at(cell, 16) as usize].to_vec()
}

#[test]
fn slot_hints_of_leaf_and_branch_pages() {
    // Leaf: keys inserted out of order at their sorted position; several tie on their hint.
    let inserts: [&[u8]; 12] = [
        b"abcdf",
        b"a",
        b"\xff\xff\xff\xff\x00",
        b"abcde",
        b"a\0",
        b"zz",
        b"ab",
        b"\xff",
        b"abc",
        b"abcd",
        b"\x00\x01",
        b"", // not a valid user key, but the page format allows it: hint 0
    ];
    let mut page = vec![0u8; PS];
    node::init(&mut page, KIND_LEAF, 3);
    let mut keys: Vec<&[u8]> = Vec::new();
    for (j, k) in inserts.iter().enumerate() {
        let pos = keys.binary_search(k).unwrap_err();
        let value = [j as u8; 5];
        let cell = LeafCell {
            key: k,
            value: if j % 3 == 0 {
                LeafValue::Overflow {
                    ptr: PagePtr {
                        pgno: 100 + j as u64,
                        txn: 2,
                    },
                    len: 50_000,
                }
            } else {
                LeafValue::Inline(&value)
            },
        };
        assert!(node::insert_cell(&mut page, pos, &cell));
        keys.insert(pos, k);
        assert_slots(&page, &keys, leaf_cell_key_bytes);
    }
    assert_eq!(slot_hint(&page, 0), 0, "the empty key");
    assert_eq!(keys[0], b"");
    assert_eq!(slot_hint(&page, 1), 0x0001_0000, "00 01");
    assert_eq!(slot_hint(&page, 2), 0x6100_0000, "a");
    assert_eq!(slot_hint(&page, 3), 0x6100_0000, "a\\0 ties with a");
    assert_eq!(slot_hint(&page, 7), 0x6162_6364, "abcde");
    assert_eq!(slot_hint(&page, 8), 0x6162_6364, "abcdf ties with abcde");
    assert_eq!(slot_hint(&page, 10), 0xff00_0000, "ff");
    assert_eq!(slot_hint(&page, 11), 0xffff_ffff, "ff ff ff ff 00");

    // The searches resolve ties by the keys themselves.
    let n = Node::parse(5, &page, 3).unwrap();
    n.validate_cells().unwrap();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(n.search(k).unwrap(), Ok(i), "{k:?}");
    }
    let absent: [&[u8]; 10] = [
        b"\0",
        b"a\0\0",
        b"a\x01",
        b"abcd\0",
        b"abcdef",
        b"abcdg",
        b"abd",
        b"\xff\0",
        b"\xff\xff\xff\xff",
        b"\xff\xff\xff\xff\x00\x00",
    ];
    for k in absent {
        assert_eq!(n.search(k).unwrap(), keys.binary_search(&k), "{k:?}");
    }

    // Removing cells moves the remaining slots whole: each keeps its hint.
    node::remove_cell(&mut page, 3);
    keys.remove(3);
    node::remove_cell(&mut page, 0);
    keys.remove(0);
    assert_slots(&page, &keys, leaf_cell_key_bytes);
    Node::parse(5, &page, 3).unwrap().validate_cells().unwrap();

    // Branch: cell 0's empty key has hint 0; separators tie on "c" padded with zeros.
    let seps: [&[u8]; 8] = [
        b"",
        b"b",
        b"bcde1",
        b"bcde2",
        b"c",
        b"c\0",
        b"c\0\0\0\0",
        b"d",
    ];
    let mut page = vec![0u8; PS];
    node::init(&mut page, KIND_BRANCH, 4);
    // Inserted back to front, each at index 0 of what is there so far.
    for (i, k) in seps.iter().enumerate().rev() {
        let cell = BranchCell {
            child: PagePtr {
                pgno: 10 + i as u64,
                txn: 4,
            },
            key: k,
        };
        assert!(node::insert_cell(&mut page, 0, &cell));
    }
    assert_slots(&page, &seps, branch_cell_key_bytes);
    assert_eq!(&page[34..38], &[0, 0, 0, 0], "cell 0");
    assert_eq!(slot_hint(&page, 2), 0x6263_6465, "bcde1");
    assert_eq!(slot_hint(&page, 3), 0x6263_6465, "bcde2");
    for i in 4..7 {
        assert_eq!(
            slot_hint(&page, i),
            0x6300_0000,
            "c, c\\0, c\\0\\0\\0\\0 tie"
        );
    }
    let n = Node::parse(6, &page, 4).unwrap();
    n.validate_cells().unwrap();
    let probes: [&[u8]; 14] = [
        b"\0",
        b"a",
        b"b",
        b"bcde",
        b"bcde1",
        b"bcde15",
        b"bcde2",
        b"bcdf",
        b"c",
        b"c\0",
        b"c\0\0",
        b"c\0\0\0\0",
        b"c\0\0\0\0\0",
        b"\xff",
    ];
    for k in probes {
        // The documented rule: the last child whose separator is <= k (child 0 has none).
        let want = (1..seps.len()).rev().find(|&i| seps[i] <= k).unwrap_or(0);
        assert_eq!(n.child_index(k).unwrap(), want, "{k:?}");
        assert_eq!(n.child(want).unwrap().pgno, 10 + want as u64);
    }

    // Replacing a separator by one of the same length (written in place) updates the hint.
    assert!(node::replace_cell(
        &mut page,
        7,
        &BranchCell {
            child: PagePtr { pgno: 17, txn: 4 },
            key: b"e",
        }
    ));
    let mut seps = seps.to_vec();
    seps[7] = b"e";
    assert_slots(&page, &seps, branch_cell_key_bytes);
    let n = Node::parse(6, &page, 4).unwrap();
    n.validate_cells().unwrap();
    assert_eq!(n.child_index(b"d").unwrap(), 6);
    assert_eq!(n.child_index(b"e").unwrap(), 7);

    // A branch page rebuilt by the page builder: its first cell's key is emptied, hint 0.
    let mut list = CellList::default();
    list.push_page(&page, 0..8);
    let mut rebuilt = vec![0u8; PS];
    list.write_page(3..8, &mut rebuilt, KIND_BRANCH, 4);
    assert_slots(
        &rebuilt,
        &[b"", b"c", b"c\0", b"c\0\0\0\0", b"e"],
        branch_cell_key_bytes,
    );
    Node::parse(6, &rebuilt, 4)
        .unwrap()
        .validate_cells()
        .unwrap();
}

#[test]
fn key_hints_order_like_keys() {
    assert_eq!(key_hint(b""), 0);
    assert_eq!(key_hint(b"a"), 0x6100_0000);
    assert_eq!(key_hint(b"abcd"), 0x6162_6364);
    assert_eq!(key_hint(b"abcdef"), 0x6162_6364);
    assert_eq!(key_hint(b"\xff\xff\xff\xff\x00"), u32::MAX);

    // (smaller key, larger key, whether their hints tie)
    let pairs: [(&[u8], &[u8], bool); 14] = [
        (b"", b"\0", true),
        (b"", b"a", false),
        (b"a", b"a\0", true),
        (b"a\0", b"a\0\0\0", true),
        (b"a\0\0\0", b"a\0\0\0\0", true),
        (b"a", b"a\x01", false),
        (b"ab", b"abc", false),
        (b"abc", b"abd", false),
        (b"abcd", b"abcde", true),
        (b"abcde", b"abcdf", true),
        (b"abcdzzzz", b"abcdzzzzz", true),
        (b"\x7f\xff\xff\xff", b"\x80", false),
        (b"\xff", b"\xff\xff\xff\xff\x00", false),
        (b"\xff\xff\xff\xff", b"\xff\xff\xff\xff\x00", true),
    ];
    for (a, b, tie) in pairs {
        assert!(a < b, "{a:?} < {b:?}");
        assert_eq!(key_hint(a), documented_hint(a));
        assert_eq!(key_hint(b), documented_hint(b));
        if tie {
            assert_eq!(key_hint(a), key_hint(b), "{a:?} and {b:?} tie");
        } else {
            assert!(key_hint(a) < key_hint(b), "{a:?} < {b:?} by hint");
        }
    }

    // Exhaustively over short keys of a few boundary bytes: whenever the hints differ, they
    // order like the keys.
    let alphabet = [0x00u8, 0x01, 0x61, 0x7f, 0x80, 0xff];
    let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
    let mut last = vec![Vec::new()];
    for _ in 0..5 {
        last = last
            .iter()
            .flat_map(|k| {
                alphabet.iter().map(move |&b| {
                    let mut k = k.clone();
                    k.push(b);
                    k
                })
            })
            .collect();
        keys.extend(last.iter().cloned());
    }
    let mut rng = Rng::new(11);
    for _ in 0..200_000 {
        let a = &keys[rng.next_u64() as usize % keys.len()];
        let b = &keys[rng.next_u64() as usize % keys.len()];
        let (ha, hb) = (key_hint(a), key_hint(b));
        assert_eq!(ha, documented_hint(a));
        if ha != hb {
            assert_eq!(ha.cmp(&hb), a.cmp(b), "{a:?} vs {b:?}");
        }
    }
}

#[test]
fn validate_cells_rejects_a_wrong_hint() {
    let mut page = vec![0u8; PS];
    node::init(&mut page, KIND_LEAF, 8);
    for (i, k) in [&b"apple"[..], b"b", b"cherry"].iter().enumerate() {
        assert!(node::insert_cell(
            &mut page,
            i,
            &LeafCell {
                key: k,
                value: LeafValue::Inline(b"v"),
            }
        ));
    }
    seal(&mut page, 12);
    Node::parse(12, &page, 8).unwrap().validate_cells().unwrap();

    // Resealed: the checksum is right, as after a writer bug; the hint is still caught.
    let rejected = |edit: &dyn Fn(&mut [u8])| assert_rejected(&page, 8, edit);
    // Every byte of a hint counts, also a change that keeps the slots in order.
    for byte in 0..4 {
        for slot in 0..3 {
            rejected(&|b: &mut [u8]| b[slot_at(slot) + 2 + byte] ^= 0x01);
        }
    }
    rejected(&|b: &mut [u8]| {
        b[slot_at(1) + 2..slot_at(1) + 6].copy_from_slice(&[0x61, 0xff, 0, 0])
    });
    rejected(&|b: &mut [u8]| b[slot_at(2) + 2..slot_at(2) + 6].fill(0));
    // A hint in little-endian byte order is wrong too.
    rejected(&|b: &mut [u8]| {
        let h = key_hint(b"apple").to_le_bytes();
        b[slot_at(0) + 2..slot_at(0) + 6].copy_from_slice(&h);
    });

    // A branch's cell 0 must have hint 0.
    let mut branch = vec![0u8; PS];
    node::init(&mut branch, KIND_BRANCH, 8);
    for (i, k) in [&b""[..], b"m"].iter().enumerate() {
        assert!(node::insert_cell(
            &mut branch,
            i,
            &BranchCell {
                child: PagePtr {
                    pgno: 20 + i as u64,
                    txn: 8
                },
                key: k,
            }
        ));
    }
    Node::parse(13, &branch, 8)
        .unwrap()
        .validate_cells()
        .unwrap();
    branch[slot_at(0) + 5] = 1;
    assert!(matches!(
        Node::parse(13, &branch, 8).unwrap().validate_cells(),
        Err(crate::Error::Corrupted { page: 13, .. })
    ));
}

// ---- split policy and separators -------------------------------------------------------------

#[test]
fn split_policy() {
    // 40 leaf cells of 96 bytes (102 with their 6-byte slot): 39 fill a 4 KiB page, 40 do not.
    let keys: Vec<[u8; 4]> = (0..40u32).map(|i| i.to_be_bytes()).collect();
    let value = [7u8; 84];
    let mut list = CellList::default();
    for k in &keys {
        list.push(&LeafCell {
            key: k,
            value: LeafValue::Inline(&value),
        });
    }
    assert_eq!(list.size(0..1), 96 + 6);
    assert_eq!(list.size(0..40), 4080);
    assert!(list.size(0..39) <= PS - HEADER_LEN);
    // Appending at the end of a leaf: the left page keeps every old cell, the right gets the new.
    assert_eq!(list.split_point(PS, KIND_LEAF, true), 39);
    // Elsewhere: byte-balanced.
    assert_eq!(list.split_point(PS, KIND_LEAF, false), 20);

    // 34 branch cells of 114 bytes (120 with their 6-byte slot): 33 fill a page, 34 do not.
    let key = [b'k'; 96];
    let mut list = CellList::default();
    for i in 0..34u64 {
        list.push(&BranchCell {
            child: PagePtr {
                pgno: 2 + i,
                txn: 1,
            },
            key: &key,
        });
    }
    assert_eq!(list.size(0..1), 114 + 6);
    assert_eq!(list.size(0..34), 4080);
    // Appending at the end of a branch: the right page gets the last two cells (two children).
    assert_eq!(list.split_point(PS, KIND_BRANCH, true), 32);
    assert_eq!(list.split_point(PS, KIND_BRANCH, false), 17);
}

#[test]
fn separator_shortening() {
    let mut s = SmallKey::default();
    shortest_separator(b"abc", b"abzzz", &mut s);
    assert_eq!(s.as_slice(), b"abz");
    shortest_separator(b"ab", b"abc", &mut s);
    assert_eq!(s.as_slice(), b"abc");
    shortest_separator(b"apple", b"banana", &mut s);
    assert_eq!(s.as_slice(), b"b");
}

#[test]
fn a_copy_zeroes_the_free_gap_and_keeps_everything_else() {
    let mut page = vec![0u8; PS];
    node::init(&mut page, KIND_LEAF, 9);
    for k in [&b"kk"[..], b"aa", b"zz"] {
        let cell = LeafCell {
            key: k,
            value: LeafValue::Inline(b"value"),
        };
        let at = Node::parse(2, &page, 9)
            .unwrap()
            .search(k)
            .unwrap()
            .unwrap_err();
        assert!(node::insert_cell(&mut page, at, &cell));
    }
    let (head, tail) = (32 + 3 * 6, u32_at(&page, 4) as usize);
    let mut copy = vec![0xEEu8; PS];
    crate::page::copy_used(&mut copy, &page);
    assert_eq!(copy[..head], page[..head], "header and slots");
    assert_eq!(copy[tail..], page[tail..], "cells");
    assert!(
        copy[head..tail].iter().all(|&b| b == 0),
        "the gap is zeroed, not read"
    );
    let node = Node::parse(2, &copy, 9).unwrap();
    node.validate_cells().unwrap();
    assert_eq!(node.search(b"zz").unwrap(), Ok(2));
    // Counts that do not fit the page, and other kinds of page, are copied whole.
    let mut bad = page.clone();
    bad[4..8].copy_from_slice(&(PS as u32 + 1).to_le_bytes());
    let mut copy = vec![0xEEu8; PS];
    crate::page::copy_used(&mut copy, &bad);
    assert_eq!(copy, bad);
    let mut run = vec![7u8; PS];
    init_overflow(&mut run, 9, 1, 10);
    let mut copy = vec![0xEEu8; PS];
    crate::page::copy_used(&mut copy, &run);
    assert_eq!(copy, run);
}
