//! Helpers shared by the crash and fault tests.
#![allow(dead_code)]

use larchdb::Database;
use std::collections::BTreeMap;

/// The contents of a database: table name -> entries.
pub type State = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Reads every table of a database.
pub fn read_state(db: &Database) -> State {
    let r = db.begin_read().unwrap();
    let mut s = State::new();
    for name in r.list_tables().unwrap() {
        let t = r.open_table(&name).unwrap();
        let m = t
            .iter()
            .unwrap()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<larchdb::Result<BTreeMap<_, _>>>()
            .unwrap();
        s.insert(name, m);
    }
    s
}

/// The cached backend every suite also runs on: a deliberately small cache (64 pages of 4 KiB,
/// 16 of 16 KiB), so that the tests' databases do not fit and pages are evicted and read again
/// all the time.
pub const SMALL_CACHE: larchdb::Backend = larchdb::Backend::Cached {
    capacity: 256 << 10,
};

/// Runs `f` with every database it opens on this thread using [`SMALL_CACHE`].
pub fn cached<R>(f: impl FnOnce() -> R) -> R {
    larchdb::testing::with_default_backend(SMALL_CACHE, f)
}

/// Declares, for each named test function of the file, a second test `cached::<name>` that runs
/// it with every database on the cached backend ([`SMALL_CACHE`]).
#[macro_export]
macro_rules! also_cached {
    ($($test:ident),* $(,)?) => {
        /// The file's tests again, on the cached backend.
        mod cached {
            $(
                #[test]
                fn $test() {
                    $crate::common::cached(super::$test)
                }
            )*
        }
    };
}

/// A small seeded PRNG (splitmix64), so every run damages the same bytes.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Opens (creating) the database at `path` with `Durability::Eventual` commits.
pub fn open_eventual(path: &std::path::Path) -> Database {
    Database::builder()
        .durability(larchdb::Durability::Eventual)
        .open(path)
        .unwrap()
}
