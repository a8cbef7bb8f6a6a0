//! A scratch list of cells, and the one page builder that serves every split, merge and
//! rebalance: cells are gathered here, a split point is chosen, and pages are rewritten from it.

use super::node::{self, BranchCell, CellSrc};
use super::{common_prefix, HEADER_LEN, KIND_BRANCH, SLOT_LEN};

/// An ordered list of encoded cells, reused across operations so they allocate nothing in the
/// steady state.
#[derive(Default)]
pub(crate) struct CellList {
    data: Vec<u8>,
    cells: Vec<(u32, u32)>,
}

impl CellList {
    /// Empties the list, keeping its capacity.
    pub fn clear(&mut self) {
        self.data.clear();
        self.cells.clear();
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Appends an encoded cell.
    pub fn push(&mut self, src: &impl CellSrc) {
        let start = self.data.len();
        let len = src.encoded_len();
        self.data.resize(start + len, 0);
        src.write_to(&mut self.data[start..]);
        self.cells.push((start as u32, len as u32));
    }

    /// Appends cells `range` of a dirty page.
    pub fn push_page(&mut self, buf: &[u8], range: std::ops::Range<usize>) {
        for i in range {
            self.push_bytes(node::cell_bytes(buf, i));
        }
    }

    /// Appends a cell already encoded.
    fn push_bytes(&mut self, cell: &[u8]) {
        self.cells.push((self.data.len() as u32, cell.len() as u32));
        self.data.extend_from_slice(cell);
    }

    /// Appends cells `range` of another list.
    pub fn push_list(&mut self, other: &CellList, range: std::ops::Range<usize>) {
        for i in range {
            self.push_bytes(other.get(i));
        }
    }

    /// The encoded cell `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let (s, l) = self.cells[i];
        &self.data[s as usize..(s + l) as usize]
    }

    /// Bytes cells `range` take in a page, slots included.
    pub fn size(&self, range: std::ops::Range<usize>) -> usize {
        self.cells[range]
            .iter()
            .map(|&(_, l)| l as usize + SLOT_LEN)
            .sum()
    }

    /// The key of branch cell `i` as encoded in the list.
    pub fn branch_key(&self, i: usize) -> &[u8] {
        node::cell_key(KIND_BRANCH, self.get(i))
    }

    /// Rewrites `buf` as a page of `kind` holding cells `range`. On a branch page the first cell is
    /// written with an empty key, as the format requires.
    /// The page's prefix length is the length of the prefix its keys share, so that its slots'
    /// hints are taken where the keys start to differ.
    pub fn write_page(&self, range: std::ops::Range<usize>, buf: &mut [u8], kind: u8, txn: u64) {
        node::init(buf, kind, txn);
        node::set_prefix_len(buf, self.shared_prefix(range.clone(), kind));
        let first = range.start;
        for i in range {
            let cell = self.get(i);
            let ok = if kind == KIND_BRANCH && i == first {
                let child = node::cell_child(cell);
                node::push_cell(buf, &BranchCell { child, key: &[] })
            } else {
                node::push_cell(buf, &cell)
            };
            debug_assert!(ok, "split point chosen so that every half fits");
        }
    }

    /// The length of the prefix that the keys of cells `range` (sorted) share, as a page of
    /// `kind` holds them: the common prefix of the first and the last key (in a branch, of the
    /// second and the last: the first cell's key will be empty); 0 for a page without keys.
    fn shared_prefix(&self, range: std::ops::Range<usize>, kind: u8) -> usize {
        let first = range.start + node::first_keyed(kind);
        if first >= range.end {
            return 0;
        }
        let key = |i| node::cell_key(kind, self.get(i));
        common_prefix(key(first), key(range.end - 1))
    }

    /// Chooses where to split the list into two pages of `page_size` holding cells of `kind`:
    /// cells `..m` go left and `m..` go right. With `append`, the left keeps as much as it can (so
    /// sequential inserts fill pages completely); otherwise the bytes are balanced. A leaf keeps
    /// at least one cell on each side, a branch at least two children.
    pub fn split_point(&self, page_size: usize, kind: u8, append: bool) -> usize {
        let n = self.len();
        let min = if kind == KIND_BRANCH { 2 } else { 1 };
        debug_assert!(
            n >= 2 * min,
            "a page overflows only with enough cells to split"
        );
        let usable = page_size - HEADER_LEN;
        if append && self.size(0..n - min) <= usable {
            return n - min;
        }
        let total = self.size(0..n);
        let mut m = 0;
        let mut left = 0;
        while m < n && left < total / 2 {
            left += self.size(m..m + 1);
            m += 1;
        }
        m = m.clamp(min, n - min);
        while m < n - min && self.size(m..n) > usable {
            m += 1;
        }
        while m > min && self.size(0..m) > usable {
            m -= 1;
        }
        m
    }
}

/// True if `list` fits on one page of `page_size`.
pub(crate) fn fits(list: &CellList, page_size: usize) -> bool {
    list.size(0..list.len()) <= page_size - HEADER_LEN
}
