//! Fuzz target `freelist`: runs [`larchdb::testing::fuzz_freelist`] on each input (see its docs for the input
//! layout and the checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| larchdb::testing::fuzz_freelist(data));
