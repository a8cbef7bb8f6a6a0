//! The one seeded generator of the tests, benchmarks and the simulated disk (xorshift64*):
//! reproducible, tiny, and good enough for test data and crash outcomes. Public as
//! `larchdb::testing::Rng` (cargo feature `testing`); compiled for the crate's own unit tests too.

/// A small seeded generator (xorshift64*), so test data and crash outcomes are reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Fills `buf` with random bytes (each 64 random bits give 8 bytes).
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.fill(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn seeds_give_distinct_reproducible_streams() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(0);
                move |_| r.next_u64()
            })
            .collect();
        let mut r = Rng::new(0);
        assert_eq!(a, (0..4).map(|_| r.next_u64()).collect::<Vec<_>>());
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
        assert_eq!(Rng::new(3).bytes(13).len(), 13);
        assert!((0..100).all(|_| r.below(7) < 7));
    }
}
