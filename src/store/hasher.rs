//! A fast hasher for page-number keys (they are already well spread; SipHash is wasted on them).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The multiplier of Fibonacci hashing (2^64 / golden ratio).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Page `pgno`'s bucket among `1 << bits` (the top bits of its Fibonacci hash), for small
/// direct-mapped tables and shard choice.
pub(crate) fn bucket(pgno: u64, bits: u32) -> usize {
    (pgno.wrapping_mul(GOLDEN) >> (64 - bits)) as usize
}

/// Multiplicative hashing of a u64 page number.
#[derive(Default, Clone, Copy)]
pub(crate) struct PgnoHasher(u64);

impl Hasher for PgnoHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(GOLDEN);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(GOLDEN);
    }
}

/// A map keyed by page number.
pub(crate) type PgnoMap<V> = HashMap<u64, V, BuildHasherDefault<PgnoHasher>>;
