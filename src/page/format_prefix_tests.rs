//! Prefix-truncated key hints (FORMAT.md section 5.1, format version 3): the prefix length in
//! the header of leaf and branch pages, the hints taken after it, how writers keep it within
//! what the keys share, and how validation rejects a page that breaks that.

use super::{assert_rejected, slot_at, slot_hint, u64_at, PS};
use crate::page::cells::CellList;
use crate::page::node::{self, BranchCell, LeafCell, LeafValue, Node};
use crate::page::{PagePtr, KIND_BRANCH, KIND_LEAF, OFF_PREFIX_LEN, OFF_VALUE_LEN};

/// The hint FORMAT.md gives a key in a page of prefix length `p`: the four bytes after the
/// prefix, zero-padded, big-endian; computed independently of `page::suffix_hint`.
fn documented_hint(key: &[u8], p: usize) -> u32 {
    let b = |i: usize| key.get(p + i).copied().unwrap_or(0) as u32;
    (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)
}

/// The prefix length stored in a page's header.
fn prefix_len(page: &[u8]) -> u64 {
    u64_at(page, 24)
}

/// A leaf cell with a one-byte value.
fn leaf_cell(key: &[u8]) -> LeafCell<'_> {
    LeafCell {
        key,
        value: LeafValue::Inline(b"v"),
    }
}

/// A branch cell pointing at page `10 + i`.
fn branch_cell(i: usize, key: &[u8]) -> BranchCell<'_> {
    BranchCell {
        child: PagePtr {
            pgno: 10 + i as u64,
            txn: 4,
        },
        key,
    }
}

/// A page of `kind` written by the page builder from `keys` (sorted; a branch's first key is
/// emptied).
fn built(kind: u8, keys: &[&[u8]]) -> Vec<u8> {
    let mut list = CellList::default();
    for (i, k) in keys.iter().enumerate() {
        if kind == KIND_LEAF {
            list.push(&leaf_cell(k));
        } else {
            list.push(&branch_cell(i, k));
        }
    }
    let mut page = vec![0u8; PS];
    list.write_page(0..keys.len(), &mut page, kind, 4);
    page
}

/// Checks that `page` validates and that slot `i` holds the documented hint of `keys[i]` after a
/// prefix of `p` bytes.
fn assert_hints(page: &[u8], keys: &[&[u8]], p: usize) {
    assert_eq!(prefix_len(page), p as u64, "prefix length");
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(slot_hint(page, i), documented_hint(k, p), "slot {i}");
    }
    Node::parse(5, page, 4).unwrap().validate_cells().unwrap();
}

#[test]
fn prefix_length_is_the_header_field_at_24() {
    assert_eq!(OFF_PREFIX_LEN, 24);
    assert_eq!(
        OFF_PREFIX_LEN, OFF_VALUE_LEN,
        "the overflow page's value length"
    );
}

/// FORMAT.md section 5.1's worked example, byte for byte.
#[test]
fn worked_example() {
    let keys: [&[u8]; 3] = [b"item:0100", b"item:0205", b"item:0310"];
    let mut page = built(KIND_LEAF, &keys);
    // Cells of 8 + 9 + 1 = 18 bytes, written from the page's end in slot order.
    assert_eq!(
        &page[24..32],
        &[6, 0, 0, 0, 0, 0, 0, 0],
        "p = 6: \"item:0\""
    );
    #[rustfmt::skip]
    let slots = [
        0xee, 0x0f, 0x31, 0x30, 0x30, 0x00, // cell 4078, "100"
        0xdc, 0x0f, 0x32, 0x30, 0x35, 0x00, // cell 4060, "205"
        0xca, 0x0f, 0x33, 0x31, 0x30, 0x00, // cell 4042, "310"
    ];
    assert_eq!(&page[32..50], &slots);
    assert_hints(&page, &keys, 6);
    let n = Node::parse(5, &page, 4).unwrap();
    assert_eq!(n.search(b"item:0205").unwrap(), Ok(1));
    assert_eq!(n.search(b"item:0206").unwrap(), Err(2));
    assert_eq!(n.search(b"item:1").unwrap(), Err(3), "after the prefix");
    assert_eq!(
        n.search(b"item").unwrap(),
        Err(0),
        "shorter than the prefix"
    );
    assert_eq!(n.search(b"item:/999").unwrap(), Err(0), "before the prefix");

    // "item:1000" shares 5 bytes with them: p drops to 5, every slot is hinted again.
    assert!(node::insert_cell(&mut page, 3, &leaf_cell(b"item:1000")));
    assert_eq!(&page[24..32], &[5, 0, 0, 0, 0, 0, 0, 0]);
    #[rustfmt::skip]
    let slots = [
        0xee, 0x0f, 0x30, 0x31, 0x30, 0x30, // "0100"
        0xdc, 0x0f, 0x30, 0x32, 0x30, 0x35, // "0205"
        0xca, 0x0f, 0x30, 0x33, 0x31, 0x30, // "0310"
        0xb8, 0x0f, 0x31, 0x30, 0x30, 0x30, // cell 4024, "1000"
    ];
    assert_eq!(&page[32..56], &slots);
    assert_hints(
        &page,
        &[b"item:0100", b"item:0205", b"item:0310", b"item:1000"],
        5,
    );
}

#[test]
fn inserts_within_the_prefix_keep_it_and_others_lower_it() {
    let mut keys: Vec<&[u8]> = vec![b"tenant-42/0100", b"tenant-42/0200", b"tenant-42/0300"];
    let mut page = built(KIND_LEAF, &keys);
    assert_hints(&page, &keys, 11);
    // Between, before and after the others, with the prefix: p stays.
    for (at, k) in [
        (1, &b"tenant-42/0150"[..]),
        (0, b"tenant-42/0000"),
        (5, b"tenant-42/09"),
    ] {
        assert!(node::insert_cell(&mut page, at, &leaf_cell(k)));
        keys.insert(at, k);
        assert_hints(&page, &keys, 11);
    }
    // A key that is the prefix itself and one shorter: p drops to their lengths.
    for (at, k, p) in [(0, &b"tenant-42/0"[..], 11), (0, b"tenant-42/", 10)] {
        assert!(node::insert_cell(&mut page, at, &leaf_cell(k)));
        keys.insert(at, k);
        assert_hints(&page, &keys, p);
    }
    // At either end, sharing less: p drops to what they share.
    assert!(node::insert_cell(&mut page, 8, &leaf_cell(b"tenant-5")));
    keys.push(b"tenant-5");
    assert_hints(&page, &keys, 7);
    assert!(node::insert_cell(&mut page, 0, &leaf_cell(b"a")));
    keys.insert(0, b"a");
    assert_hints(&page, &keys, 0);
    let n = Node::parse(5, &page, 4).unwrap();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(n.search(k).unwrap(), Ok(i));
    }
}

#[test]
fn removals_keep_the_prefix_and_a_page_without_keys_has_none() {
    let keys: [&[u8]; 3] = [b"log/2026-11-29", b"log/2026-11-30", b"log/2026-12-01"];
    let mut page = built(KIND_LEAF, &keys);
    assert_hints(&page, &keys, 10);
    // The keys left share more, but p stays (still true of them).
    node::remove_cell(&mut page, 2);
    assert_hints(&page, &keys[..2], 10);
    node::remove_cell(&mut page, 0);
    assert_hints(&page, &keys[1..2], 10);
    node::remove_cell(&mut page, 0);
    assert_eq!(prefix_len(&page), 0, "no keys, no prefix");
    // A branch left with cell 0 alone has no keys either.
    let seps: [&[u8]; 3] = [b"", b"log/2026-11-30", b"log/2026-12-01"];
    let mut branch = built(KIND_BRANCH, &seps);
    assert_hints(&branch, &seps, 10);
    node::remove_cell(&mut branch, 2);
    node::remove_cell(&mut branch, 1);
    assert_hints(&branch, &seps[..1], 0);
}

#[test]
fn split_halves_get_the_prefix_of_their_own_keys() {
    // 150 cells of 47 bytes with their slots: two pages' worth.
    let keys: Vec<Vec<u8>> = (0..150u64)
        .map(|c| [&b"tenant-0042/events/2026/"[..], &(c * 300).to_be_bytes()].concat())
        .collect();
    let mut list = CellList::default();
    for k in &keys {
        list.push(&leaf_cell(k));
    }
    let m = list.split_point(PS, KIND_LEAF, false);
    let shared = |a: &[u8], b: &[u8]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
    for range in [0..m, m..keys.len()] {
        let mut page = vec![0u8; PS];
        list.write_page(range.clone(), &mut page, KIND_LEAF, 4);
        let p = shared(&keys[range.start], &keys[range.end - 1]);
        assert!(p > 24, "the counter's high bytes are shared too: {p}");
        let ks: Vec<&[u8]> = keys[range].iter().map(|k| &k[..]).collect();
        assert_hints(&page, &ks, p);
        let n = Node::parse(5, &page, 4).unwrap();
        for (i, k) in ks.iter().enumerate() {
            assert_eq!(n.search(k).unwrap(), Ok(i));
        }
    }
}

#[test]
fn a_branch_takes_its_prefix_from_cells_1_on() {
    // The builder empties cell 0's key, which therefore does not count.
    let seps: [&[u8]; 4] = [b"a", b"user/17", b"user/2", b"user/35"];
    let page = built(KIND_BRANCH, &seps);
    assert_hints(&page, &[b"", b"user/17", b"user/2", b"user/35"], 5);
    assert_eq!(slot_hint(&page, 0), 0, "cell 0");
    let n = Node::parse(5, &page, 4).unwrap();
    let probes: [(&[u8], usize); 10] = [
        (b"", 0),
        (b"a", 0),
        (b"user", 0),
        (b"user/", 0),
        (b"user/17", 1),
        (b"user/19", 1),
        (b"user/2", 2),
        (b"user/35", 3),
        (b"user/9", 3),
        (b"v", 3),
    ];
    for (k, want) in probes {
        assert_eq!(n.child_index(k).unwrap(), want, "{k:?}");
    }

    // A separator replaced in place (same length) by one outside the prefix lowers p.
    let mut page = page;
    assert!(node::replace_cell(
        &mut page,
        3,
        &branch_cell(3, b"users/4")
    ));
    assert_hints(&page, &[b"", b"user/17", b"user/2", b"users/4"], 4);
    // Cell 0 replaced (the child of a branch changes) leaves it.
    assert!(node::replace_cell(&mut page, 0, &branch_cell(9, b"")));
    assert_hints(&page, &[b"", b"user/17", b"user/2", b"users/4"], 4);
}

/// A page whose prefix length or hints break FORMAT.md section 5.1 is Corrupted, even with a
/// right checksum (as after a writer's bug): a wrong prefix length would misdirect searches.
#[test]
fn validation_rejects_a_bad_prefix_length_or_hint() {
    let keys: [&[u8]; 3] = [b"item:0100", b"item:0205", b"item:0310"];
    let page = built(KIND_LEAF, &keys);
    let rejected = |page: &[u8], edit: &dyn Fn(&mut [u8])| assert_rejected(page, 4, edit);
    let set_p = |p: u64| move |b: &mut [u8]| b[24..32].copy_from_slice(&p.to_le_bytes());
    // Longer than the keys share ("item:0" + "1"/"2"/"3"), with hints made to match it.
    rejected(&page, &|b: &mut [u8]| {
        set_p(7)(b);
        for (i, k) in keys.iter().enumerate() {
            let h = documented_hint(k, 7).to_be_bytes();
            b[slot_at(i) + 2..slot_at(i) + 6].copy_from_slice(&h);
        }
    });
    // Past the keys' end, and absurd.
    rejected(&page, &set_p(10));
    rejected(&page, &set_p(u64::MAX));
    // Shorter than stored (the hints are of another prefix), and 0 with suffix hints.
    rejected(&page, &set_p(5));
    rejected(&page, &set_p(0));
    // Whole-key hints under a prefix length.
    rejected(&page, &|b: &mut [u8]| {
        for (i, k) in keys.iter().enumerate() {
            let h = documented_hint(k, 0).to_be_bytes();
            b[slot_at(i) + 2..slot_at(i) + 6].copy_from_slice(&h);
        }
    });
    // One wrong hint byte.
    for slot in 0..3 {
        rejected(&page, &|b: &mut [u8]| b[slot_at(slot) + 5] ^= 1);
    }
    // A page without keys has no prefix: an empty leaf, a branch with cell 0 alone.
    let mut empty = vec![0u8; PS];
    node::init(&mut empty, KIND_LEAF, 4);
    rejected(&empty, &set_p(1));
    let branch = built(KIND_BRANCH, &[b"x"]);
    Node::parse(12, &branch, 4)
        .unwrap()
        .validate_cells()
        .unwrap();
    rejected(&branch, &set_p(1));
}

/// Pages of format version 2 (prefix length 0, whole-key hints) read as they always did.
#[test]
fn pages_with_prefix_length_0_hint_whole_keys() {
    let keys: [&[u8]; 3] = [b"item:0100", b"item:0205", b"item:0310"];
    let mut page = vec![0u8; PS];
    node::init(&mut page, KIND_LEAF, 4);
    for (i, k) in keys.iter().enumerate() {
        assert!(node::insert_cell(&mut page, i, &leaf_cell(k)));
    }
    assert_hints(&page, &keys, 0);
    assert_eq!(slot_hint(&page, 1), u32::from_be_bytes(*b"item"));
    let n = Node::parse(5, &page, 4).unwrap();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(n.search(k).unwrap(), Ok(i));
        assert!(n.value_of(k).unwrap().is_some());
    }
    assert_eq!(n.search(b"item:1").unwrap(), Err(3));
}
