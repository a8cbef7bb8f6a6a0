//! Values written in place: the spot in the transaction's pages where a value lies (its leaf, or
//! its overflow run, copied into the transaction first), for `get_mut`, and a value reserved
//! (zero bytes, no copy of a caller's buffer) for `insert_reserve`.

use super::mutate::{descend_mut, insert_leaf_value, Scratch};
use super::{get, node, value, value_inline, PageStore, TreeRoot};
use crate::error::{corrupted, Result};
use crate::page::node::{self as pn, LeafCell, LeafValue};
use crate::page::{init_overflow, overflow_pages, PagePtr, HEADER_LEN};

/// Where a value lies in a write transaction's pages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spot {
    /// The leaf, or the first page of the overflow run.
    pub pgno: u64,
    /// Pages from `pgno` the value's buffer spans (1 for a leaf).
    pub npages: u64,
    /// Offset of the value in that buffer.
    pub off: usize,
    /// Length of the value.
    pub len: usize,
}

/// Zero bytes, the initial value of a small reserved value (inline values are at most a
/// quarter of a 64 KiB page).
static ZEROS: [u8; 16 << 10] = [0; 16 << 10];

/// The spot of `key`'s value, with the path to it (and its overflow run) copied into the
/// transaction so the value can be written in place; None if `key` is absent.
pub(crate) fn value_mut<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    key: &[u8],
) -> Result<Option<Spot>> {
    if get(s, tree.root, key)?.is_none() {
        return Ok(None);
    }
    let (txn, ps) = (s.txn(), s.page_size());
    let (leaf, _) = descend_mut(s, sc, tree, key)?;
    let (pos, ptr, len) = {
        let page = s.page(leaf)?;
        let n = node(s, PagePtr { pgno: leaf, txn })?;
        let pos = n
            .search(key)?
            .map_err(|_| corrupted(leaf, "key found by search vanished on the write path"))?;
        match n.leaf_entry(pos)?.1 {
            LeafValue::Inline(b) => {
                let off = b.as_ptr() as usize - page.as_ptr() as usize;
                return Ok(Some(Spot {
                    pgno: leaf,
                    npages: 1,
                    off,
                    len: b.len(),
                }));
            }
            v @ LeafValue::Overflow { ptr, len } => {
                value(s, v)?; // checks the run's header before it is copied
                (pos, ptr, len)
            }
        }
    };
    let npages = overflow_pages(len, ps);
    let mut run = ptr.pgno;
    if ptr.txn != txn {
        // Copy the run into the transaction, a page at a time, and point the leaf at the copy.
        run = s.alloc(npages)?;
        let mut buf = vec![0u8; ps];
        for i in 0..npages as usize {
            buf.copy_from_slice(&s.run(ptr.pgno, npages)?[i * ps..(i + 1) * ps]);
            s.page_mut(run)[i * ps..(i + 1) * ps].copy_from_slice(&buf);
        }
        init_overflow(s.page_mut(run), txn, npages, len);
        s.free(ptr, npages);
        let cell = LeafCell {
            key,
            value: LeafValue::Overflow {
                ptr: PagePtr { pgno: run, txn },
                len,
            },
        };
        pn::replace_cell(s.page_mut(leaf), pos, &cell);
    }
    Ok(Some(Spot {
        pgno: run,
        npages,
        off: HEADER_LEN,
        len: len as usize,
    }))
}

/// Inserts (or overwrites) `key` with a value of `len` zero bytes, written without a buffer of
/// that size (a large one goes straight into a new overflow run), and returns its spot.
pub(crate) fn reserve<S: PageStore>(
    s: &mut S,
    sc: &mut Scratch,
    tree: &mut TreeRoot,
    key: &[u8],
    len: usize,
) -> Result<Spot> {
    let (txn, ps) = (s.txn(), s.page_size());
    let val = match ZEROS.get(..len) {
        Some(zeros) if value_inline(key.len(), len, ps) => LeafValue::Inline(zeros),
        _ => {
            let npages = overflow_pages(len as u64, ps);
            let pgno = s.alloc(npages)?; // zeroed
            init_overflow(s.page_mut(pgno), txn, npages, len as u64);
            LeafValue::Overflow {
                ptr: PagePtr { pgno, txn },
                len: len as u64,
            }
        }
    };
    insert_leaf_value(s, sc, tree, key, val)?;
    value_mut(s, sc, tree, key)?.ok_or_else(|| corrupted(tree.root.pgno, "reserved key vanished"))
}
