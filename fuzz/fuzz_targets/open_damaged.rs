//! Fuzz target `open_damaged`: runs [`larchdb::testing::fuzz_open_damaged`] on each input (see its docs for the input
//! layout and the checks), on the memory map and again on a small page cache (64 pages of 4 KiB,
//! so that pages are evicted and read again all the time).
#![no_main]

use larchdb::Backend;

const SMALL_CACHE: Backend = Backend::Cached {
    capacity: 64 * 4096,
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    larchdb::testing::fuzz_open_damaged(data);
    larchdb::testing::with_default_backend(SMALL_CACHE, || larchdb::testing::fuzz_open_damaged(data));
});
