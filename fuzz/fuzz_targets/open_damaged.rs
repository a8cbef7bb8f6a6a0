//! Fuzz target `open_damaged`: runs [`larchdb::testing::fuzz_open_damaged`] on each input (see its docs for the input
//! layout and the checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| larchdb::testing::fuzz_open_damaged(data));
