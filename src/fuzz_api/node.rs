//! The `node` target: leaf, branch and overflow pages.

use super::{is_page_size, Bytes};
use crate::btree::{self, PageSource};
use crate::error::{corrupted, Result};
use crate::page::node::{self, BranchCell, LeafCell, LeafValue, Node};
use crate::page::{self as pg, get_u64, PagePtr, KIND_BRANCH, KIND_LEAF, KIND_OVERFLOW};

/// A page source holding one page, number [`ONE_PAGE`]: enough for `btree::get` and
/// `btree::value` to run over a fuzzed page.
struct OnePage<'a> {
    data: &'a [u8],
}

const ONE_PAGE: u64 = 7;

impl PageSource for OnePage<'_> {
    fn page(&self, pgno: u64) -> Result<&[u8]> {
        self.run(pgno, 1)
    }

    fn run(&self, pgno: u64, npages: u64) -> Result<&[u8]> {
        if pgno == ONE_PAGE && npages == 1 {
            Ok(self.data)
        } else {
            Err(corrupted(pgno, "not in this one-page source"))
        }
    }

    fn page_size(&self) -> usize {
        self.data.len()
    }
}

/// Decodes a leaf, branch or overflow page. The input is the page when its length is a valid page
/// size, else it is zero-padded or cut to 4096 bytes. Runs the checksum check, `Node::parse`
/// (with the page's own txn, and with another one, which must be refused), `validate_cells`, every
/// cell, key, entry and child, binary searches (`search`, `child_index`, `btree::get`) for the
/// page's keys, their neighbours and keys taken from the page's free gap, and the overflow decoder.
/// Checks: on a page whose cells validate and whose keys are strictly increasing, every search
/// agrees with a linear scan; and removing cells from a validated page in place (as a write
/// transaction does after copying it) leaves a page that validates, with the expected keys.
pub fn fuzz_node(page: &[u8]) {
    let owned: Vec<u8>;
    let data: &[u8] = if is_page_size(page.len()) {
        page
    } else {
        let mut v = page.to_vec();
        v.resize(4096, 0);
        owned = v;
        &owned
    };
    let txn = get_u64(data, pg::OFF_TXN).unwrap_or(0);
    // Every page a pointer leads to may have its checksum checked (recovery, check, copy-on-write).
    let _ = pg::verify_checksum(ONE_PAGE, data);
    if data.first() == Some(&KIND_OVERFLOW) {
        fuzz_overflow(data, txn);
    }
    assert!(
        Node::parse(ONE_PAGE, data, txn.wrapping_add(1)).is_err(),
        "a page was accepted under a pointer with another txn"
    );
    let Ok(n) = Node::parse(ONE_PAGE, data, txn) else {
        return;
    };
    assert!(n.is_leaf() == (data[0] == KIND_LEAF) && (n.is_leaf() || data[0] == KIND_BRANCH));
    let _ = (n.pgno(), n.used());
    let valid = n.validate_cells().is_ok();
    let count = n.count();
    let mut keys: Vec<Option<&[u8]>> = Vec::with_capacity(count);
    for i in 0..count {
        let (cell, key) = (n.cell(i), n.key(i));
        if valid {
            assert!(
                cell.is_ok() && key.is_ok(),
                "cell {i} of a validated page unreadable"
            );
        }
        if n.is_leaf() {
            let entry = n.leaf_entry(i);
            if let (true, Ok((k, v))) = (valid, &entry) {
                assert_eq!(Some(*k), key.as_ref().ok().copied());
                if let LeafValue::Inline(b) = v {
                    assert_eq!(
                        cell.as_ref().map(|c| c.len()).ok(),
                        Some(node::LEAF_CELL_HEADER + k.len() + b.len())
                    );
                }
            }
            if let Ok((_, v)) = entry {
                let _ = btree::value(&OnePage { data }, v);
            }
        } else {
            let _ = n.child(i);
        }
        keys.push(key.ok());
    }
    assert!(
        n.cell(count).is_err() && n.key(count).is_err(),
        "cell past the count readable"
    );

    // Probes: every key, its neighbours, and keys from the free gap (bytes no check constrains).
    let mut probes: Vec<Vec<u8>> = Vec::new();
    for k in keys.iter().flatten().take(64) {
        probes.push(k.to_vec());
        let mut longer = k.to_vec();
        longer.push(0);
        probes.push(longer);
        if let Some((&last, init)) = k.split_last() {
            probes.push(init.to_vec());
            let mut next = init.to_vec();
            next.push(last.wrapping_add(1));
            probes.push(next);
        }
    }
    let gap_start = pg::HEADER_LEN + count * pg::SLOT_LEN;
    let mut gap = Bytes::new(data.get(gap_start..).unwrap_or(&[]));
    for _ in 0..4 {
        let len = gap.u8() as usize % 9;
        probes.push(gap.take(len).to_vec());
    }

    let first = if n.is_leaf() { 0 } else { 1 };
    let sorted: Option<Vec<&[u8]>> = if valid {
        let ks: Vec<&[u8]> = keys.iter().skip(first).flatten().copied().collect();
        (ks.len() + first == count && ks.windows(2).all(|w| w[0] < w[1])).then_some(ks)
    } else {
        None
    };
    let src = OnePage { data };
    for p in &probes {
        let _ = btree::get(
            &src,
            PagePtr {
                pgno: ONE_PAGE,
                txn,
            },
            p,
        );
        if n.is_leaf() {
            let r = n.search(p);
            if let Some(ks) = &sorted {
                let expect = ks.binary_search(&p.as_slice());
                assert_eq!(
                    r.ok(),
                    Some(expect),
                    "leaf search for {p:?} disagrees with a scan"
                );
            }
        } else {
            let r = n.child_index(p);
            if let Some(ks) = &sorted {
                let expect = ks.partition_point(|k| *k <= p.as_slice());
                assert_eq!(
                    r.ok(),
                    Some(expect),
                    "child_index for {p:?} disagrees with a scan"
                );
            }
        }
    }
    if valid {
        edit_validated(data, txn, &keys, &probes);
    }
}

/// The overflow decoder on a page of kind overflow, with a value length a leaf cell could hold.
fn fuzz_overflow(data: &[u8], txn: u64) {
    let len = get_u64(data, pg::OFF_VALUE_LEN).unwrap_or(0) as u32 as u64;
    if let Ok(v) = pg::overflow_value(ONE_PAGE, data, txn, len) {
        assert_eq!(v.len() as u64, len);
    }
    let v = LeafValue::Overflow {
        ptr: PagePtr {
            pgno: ONE_PAGE,
            txn,
        },
        len,
    };
    let _ = btree::value(&OnePage { data }, v);
}

/// Removes cells from a copy of a validated page in place, then inserts one, re-validating after
/// each edit: `validate_cells` is what lets a write transaction trust a page it copied.
fn edit_validated(data: &[u8], txn: u64, keys: &[Option<&[u8]>], probes: &[Vec<u8>]) {
    let mut buf = data.to_vec();
    let mut left: Vec<Vec<u8>> = keys.iter().map(|k| k.unwrap_or(&[]).to_vec()).collect();
    let step = probes.len() % 5 + 2;
    let mut removals = 0;
    // A branch keeps at least one child (parse refuses an empty branch).
    let keep = usize::from(data[0] == KIND_BRANCH);
    while left.len() > keep && removals < 8 {
        let idx = (removals * step) % left.len();
        node::remove_cell(&mut buf, idx);
        left.remove(idx);
        removals += 1;
        let n = Node::parse(ONE_PAGE, &buf, txn)
            .unwrap_or_else(|e| panic!("removing cell {idx} of a validated page broke it: {e}"));
        if let Err(e) = n.validate_cells() {
            panic!("removing cell {idx} of a validated page left it invalid: {e}");
        }
        let now: Vec<&[u8]> = (0..n.count()).map(|i| n.key(i).unwrap_or(&[])).collect();
        assert_eq!(now, left, "removing cell {idx} changed other keys");
    }
    let Some(key) = probes.iter().find(|p| !p.is_empty()) else {
        return;
    };
    let at = left.len() / 2;
    let inserted = if buf[0] == KIND_LEAF {
        node::insert_cell(
            &mut buf,
            at,
            &LeafCell {
                key,
                value: LeafValue::Inline(b"v"),
            },
        )
    } else {
        let child = PagePtr { pgno: 2, txn };
        node::insert_cell(&mut buf, at, &BranchCell { child, key })
    };
    if inserted {
        left.insert(at, key.clone());
        let n = Node::parse(ONE_PAGE, &buf, txn).expect("insert into a validated page broke it");
        n.validate_cells()
            .expect("insert into a validated page left it invalid");
        let now: Vec<&[u8]> = (0..n.count()).map(|i| n.key(i).unwrap_or(&[])).collect();
        assert_eq!(now, left, "inserting a cell changed other keys");
    }
}
