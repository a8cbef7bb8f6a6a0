//! [`SmallKey`]: a key buffer that keeps keys of up to 32 bytes on the stack.

/// Keys up to this length live inline, without a heap allocation.
pub(crate) const INLINE_KEY: usize = 32;

/// An owned key: inline up to [`INLINE_KEY`] bytes, spilled to a reused heap buffer beyond.
#[derive(Clone)]
pub(crate) struct SmallKey {
    len: usize,
    inline: [u8; INLINE_KEY],
    heap: Vec<u8>,
}

impl Default for SmallKey {
    fn default() -> Self {
        SmallKey {
            len: 0,
            inline: [0; INLINE_KEY],
            heap: Vec::new(),
        }
    }
}

impl SmallKey {
    /// A key holding a copy of `k`.
    pub fn from_slice(k: &[u8]) -> SmallKey {
        let mut s = SmallKey::default();
        s.set(k);
        s
    }

    /// Replaces the contents with a copy of `k`.
    pub fn set(&mut self, k: &[u8]) {
        self.len = k.len();
        if k.len() <= INLINE_KEY {
            self.inline[..k.len()].copy_from_slice(k);
        } else {
            self.heap.clear();
            self.heap.extend_from_slice(k);
        }
    }

    /// The key bytes.
    pub fn as_slice(&self) -> &[u8] {
        if self.len <= INLINE_KEY {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }
}

/// Sets `out` to the shortest key `s` with `left < s <= right`, given `left < right`: a separator
/// for a branch that costs fewer bytes than `right` itself.
pub(crate) fn shortest_separator(left: &[u8], right: &[u8], out: &mut SmallKey) {
    let common = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    out.set(&right[..(common + 1).min(right.len())]);
}
