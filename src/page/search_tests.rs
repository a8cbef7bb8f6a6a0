//! The searches of leaf and branch pages against a scan of their sorted keys, for pages built
//! by inserts (whole-key hints) and by the page builder (hints after the keys' shared prefix).

use super::*;
use crate::page::cells::CellList;

/// A page of `kind` holding `keys` (sorted, distinct) in order, as a write transaction
/// builds it; a branch's cell 0 gets the empty key.
fn page(kind: u8, keys: &[Vec<u8>]) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    init(&mut buf, kind, 7);
    for (i, k) in keys.iter().enumerate() {
        let ok = if kind == KIND_LEAF {
            let value = LeafValue::Inline(b"");
            insert_cell(&mut buf, i, &LeafCell { key: k, value })
        } else {
            let child = PagePtr { pgno: 2, txn: 7 };
            let key = if i == 0 { &[][..] } else { k };
            insert_cell(&mut buf, i, &BranchCell { child, key })
        };
        assert!(ok);
    }
    buf
}

/// A page of `kind` holding `keys` (sorted, distinct), as the page builder of splits and merges
/// writes it: with the prefix length of the keys' common prefix.
fn built(kind: u8, keys: &[Vec<u8>]) -> Vec<u8> {
    let mut list = CellList::default();
    for k in keys {
        if kind == KIND_LEAF {
            let value = LeafValue::Inline(b"");
            list.push(&LeafCell { key: k, value });
        } else {
            list.push(&BranchCell {
                child: PagePtr { pgno: 2, txn: 7 },
                key: k,
            });
        }
    }
    let mut buf = vec![0u8; 65536];
    list.write_page(0..keys.len(), &mut buf, kind, 7);
    buf
}

/// Probes around the edges of a page whose keys share a prefix: for each byte of `key`, the key
/// cut before it, and the key with that byte one lower or higher (then cut, or followed by 0xff).
fn edge_probes(key: &[u8]) -> Vec<Vec<u8>> {
    let mut probes = Vec::new();
    for j in 0..key.len() {
        probes.push(key[..j].to_vec());
        for b in [key[j].wrapping_sub(1), key[j].wrapping_add(1)] {
            let changed = [&key[..j], &[b]].concat();
            probes.push([&changed[..], &[0xff; 3]].concat());
            probes.push(changed);
        }
    }
    probes
}

/// Keys whose hints are all distinct, all equal, or in runs of ties, in every count up to
/// a few hundred, in pages built by inserts and by the page builder (with a prefix length): the
/// searches agree with a binary search of the sorted keys.
#[test]
fn searches_agree_with_a_scan() {
    const PREFIX: &[u8] = b"tenant-0042/events/2026/";
    let shapes: [fn(u32) -> Vec<u8>; 8] = [
        |i| (i * 3).to_be_bytes().to_vec(),
        |i| [&b"same"[..], &(i * 3).to_be_bytes()].concat(),
        |i| [&(i / 5).to_be_bytes()[..], &[(i % 5) as u8 * 2]].concat(),
        // A long shared prefix and a counter: evenly spread, skewed, jittered.
        |i| [PREFIX, &(u64::from(i) * 2).to_be_bytes()].concat(),
        |i| [PREFIX, &u64::from(i).pow(4).to_be_bytes()].concat(),
        |i| {
            let jitter = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54;
            [PREFIX, &(u64::from(i) * 2000 + jitter).to_be_bytes()].concat()
        },
        // Each key a prefix of the next, and keys past the eight bytes after the prefix.
        |i| [PREFIX, &vec![b'a'; i as usize / 2], &[i as u8 % 2]].concat(),
        |i| [PREFIX, &[0; 8], &(u64::from(i) * 2).to_be_bytes()].concat(),
    ];
    for shape in shapes {
        for n in (1..40).chain([63, 64, 65, 200, 333]) {
            let keys: Vec<Vec<u8>> = (0..n).map(shape).collect();
            let mut probes = keys.clone();
            for k in &keys {
                probes.push([&k[..], &[0]].concat());
                let mut before = k.clone();
                *before.last_mut().unwrap() = before.last().unwrap().wrapping_sub(1);
                probes.push(before);
            }
            probes.push(vec![0]);
            probes.push(vec![0xFF; 9]);
            probes.extend(edge_probes(&keys[0]));
            probes.extend(edge_probes(&keys[n as usize - 1]));
            if n > 1 {
                probes.extend(edge_probes(&keys[1]));
            }
            for make in [page, built] {
                let (leaf, branch) = (make(KIND_LEAF, &keys), make(KIND_BRANCH, &keys));
                assert_searches(&keys, &leaf, &branch, &probes);
            }
        }
    }
}

/// Checks the searches of `leaf` and `branch`, pages of `keys`, for each of `probes`.
fn assert_searches(keys: &[Vec<u8>], leaf: &[u8], branch: &[u8], probes: &[Vec<u8>]) {
    let n = keys.len();
    let leaf = Node::parse(3, leaf, 7).unwrap();
    leaf.validate_cells().unwrap();
    let branch = Node::parse(3, branch, 7).unwrap();
    branch.validate_cells().unwrap();
    for p in probes {
        let expect = keys.binary_search(p);
        assert_eq!(leaf.search(p).unwrap(), expect, "leaf of {n}, {p:?}");
        let found = leaf.value_of(p).unwrap().is_some();
        assert_eq!(found, expect.is_ok(), "value_of, leaf of {n}, {p:?}");
        let child = keys[1..].partition_point(|k| k <= p);
        assert_eq!(
            branch.child_index(p).unwrap(),
            child,
            "branch of {n}, {p:?}"
        );
    }
}

#[test]
fn cmp_keys_is_memcmp() {
    let keys: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0, 0],
        vec![1],
        b"abcdefgh".to_vec(),
        b"abcdefgh\0".to_vec(),
        b"abcdefghi".to_vec(),
        b"abcdefgi".to_vec(),
        vec![0xFF; 17],
        vec![0xFF; 16],
        [vec![0xFF; 16], vec![0]].concat(),
    ];
    for a in &keys {
        for b in &keys {
            assert_eq!(crate::page::cmp_keys(a, b), a.cmp(b), "{a:?} vs {b:?}");
        }
    }
}
