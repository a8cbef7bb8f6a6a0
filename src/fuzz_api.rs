//! Fuzzing entry points (cargo feature `testing`, re-exported from [`crate::testing`]).
//!
//! Each function takes arbitrary bytes, runs one decoder or one scenario to the end, and checks
//! what must hold. On every input it returns normally unless it finds a bug, and then it panics
//! with a message saying what broke. The cargo-fuzz targets in `fuzz/` and the corpus replay test
//! `tests/fuzz_corpus.rs` call these same functions, so a corpus file means the same thing to both.
//! Inputs are decoded by hand, byte by byte (a missing byte reads as 0), so the library depends on
//! no fuzzing crate; each function documents its input layout.
//!
//! Database files go to `$LARCH_FUZZ_DIR`, or the system temporary directory (point `TMPDIR` at a
//! tmpfs such as `/dev/shm` for speed), one file per call, removed at the end of the call.

use crate::catalog;
use crate::error::{Error, Result};
use crate::page::meta::{Meta, MetaRead, META_LEN, META_OFF_CHECKSUM};
use crate::page::{self as pg, get_u32, get_u64, is_page_size};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

mod damaged;
mod node;
mod ops;

pub use damaged::fuzz_open_damaged;
pub use node::fuzz_node;
pub use ops::fuzz_ops;

// ---------------------------------------------------------------------------------------------
// Input decoding and scratch files

/// Reads an input front to back; past its end every read yields zeros (or an empty slice).
struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = self.pos.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }
}

/// A fresh database path for one call (unique within the process, so parallel tests never share).
fn scratch_path(what: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::var_os("LARCH_FUZZ_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let n = N.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(
        "larch-fuzz-{}-{what}-{n}.larch",
        std::process::id()
    ))
}

/// Removes the scratch file when dropped, also when a check panics.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The errors a damaged file may legitimately produce.
fn damage_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Corrupted { .. }
            | Error::NotADatabase
            | Error::UnsupportedVersion { .. }
            | Error::Io(_)
    )
}

/// Panics unless `r` is Ok or an error a damaged file may produce; returns the value if Ok.
fn allowed<T>(what: &str, r: Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if damage_error(&e) => None,
        Err(e) => panic!("{what}: unexpected error kind on a damaged file: {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Decoders: meta slots, freelist entries, catalog values

/// Decodes a meta slot. Input: a flags byte, then the slot's bytes. With flag bit 0 the checksum
/// is recomputed first (at offset 88, or at 64 if the version field says 1, when the slot is that
/// long), so that the range checks behind it are reached. Checks: a Valid version 4 slot
/// re-encodes to exactly its 96 bytes (a version 2 or 3 slot to the same fields, as version 4), a
/// Valid version 1 slot has no log region, and all have
/// their fields in range; no prefix shorter than 72 bytes is Valid; Foreign means the magic is
/// missing.
pub fn fuzz_meta(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut slot = rest.to_vec();
    let v1 = slot.get(8..12) == Some(&1u32.to_le_bytes()[..]);
    let at = if v1 {
        pg::meta::META_V1_OFF_CHECKSUM
    } else {
        META_OFF_CHECKSUM
    };
    if flags & 1 != 0 && slot.len() >= at + 8 {
        let sum = xxhash_rust::xxh3::xxh3_64(&slot[..at]);
        slot[at..at + 8].copy_from_slice(&sum.to_le_bytes());
    }
    for n in [0, 7, 8, 9, 63, 64, 71] {
        if let Some(prefix) = slot.get(..n) {
            let r = Meta::decode(prefix);
            assert!(
                !matches!(r, MetaRead::Valid(_)),
                "a {n}-byte meta slot decoded as Valid"
            );
        }
    }
    match Meta::decode(&slot) {
        MetaRead::Valid(m) if v1 => assert_eq!((m.log, m.log_gen), ((0, 0), 0)),
        MetaRead::Valid(m) => {
            let fields = pg::meta::META_OFF_PAGE_SIZE..META_OFF_CHECKSUM;
            assert_eq!(
                &m.encode()[fields.clone()],
                &slot[fields],
                "a Valid meta does not re-encode to its own fields"
            );
            if slot.get(8..12) == Some(&pg::meta::FORMAT_VERSION.to_le_bytes()[..]) {
                assert_eq!(
                    &m.encode()[..],
                    &slot[..META_LEN],
                    "a Valid meta does not re-encode to its own bytes"
                );
            }
            // Encoded as the current version, whose log records are packed.
            let current = Meta {
                log_align: pg::meta::RECORD_ALIGN,
                ..m
            };
            assert_eq!(Meta::decode(&m.encode()), MetaRead::Valid(current));
            assert!(
                is_page_size(m.page_size as usize),
                "Valid meta with page size {}",
                m.page_size
            );
            assert!(
                m.page_count >= 2
                    && m.catalog.pgno < m.page_count
                    && m.freelist.pgno < m.page_count
            );
            assert!(m.catalog.txn <= m.txn && m.freelist.txn <= m.txn);
        }
        MetaRead::Foreign => assert!(slot.get(..8) != Some(&pg::meta::MAGIC[..])),
        MetaRead::Unsupported(v) => assert_ne!(v, pg::meta::FORMAT_VERSION),
        MetaRead::Damaged => {}
    }
}

/// Decodes one freelist entry (key and value) and checks that a decoded key or value re-encodes
/// to the same bytes, and that malformed ones (key not 20 bytes, value not a multiple of 8) are
/// refused.
pub fn fuzz_freelist_entry(key: &[u8], value: &[u8]) {
    use crate::alloc::{freelist_key, freelist_key_txn, freelist_pages, FREELIST_KEY_LEN};
    match freelist_key_txn(key) {
        Some(txn) => {
            assert_eq!(
                key.len(),
                FREELIST_KEY_LEN,
                "freelist key of the wrong length accepted"
            );
            let writer = get_u64(key, 8).map_or(0, u64::swap_bytes);
            let chunk = get_u32(key, 16).map_or(0, u32::swap_bytes);
            assert_eq!(
                &freelist_key(txn, writer, chunk)[..],
                key,
                "freelist key round trip"
            );
        }
        None => assert_ne!(
            key.len(),
            FREELIST_KEY_LEN,
            "well-formed freelist key refused"
        ),
    }
    match freelist_pages(value) {
        Some(pages) => {
            let encoded: Vec<u8> = pages.flat_map(u64::to_le_bytes).collect();
            assert_eq!(encoded, value, "freelist value round trip");
        }
        None => assert_ne!(value.len() % 8, 0, "well-formed freelist value refused"),
    }
}

/// The `freelist` target's input: one byte giving the key length (mod 41), the key, then the
/// value; runs [`fuzz_freelist_entry`].
pub fn fuzz_freelist(data: &[u8]) {
    let mut r = Bytes::new(data);
    let klen = r.u8() as usize % 41;
    let key = r.take(klen);
    let value = data.get(r.pos.min(data.len())..).unwrap_or(&[]);
    fuzz_freelist_entry(key, value);
}

/// Decodes a catalog value (a table's root pointer and entry count): a decoded value re-encodes
/// to the same bytes, a value of the wrong length is `Corrupted`. The bytes, when UTF-8, are also
/// checked as a table name.
pub fn fuzz_catalog_value(bytes: &[u8]) {
    match catalog::decode(5, bytes) {
        Ok(t) => assert_eq!(&catalog::encode(&t)[..], bytes, "catalog value round trip"),
        Err(e) => {
            assert_ne!(
                bytes.len(),
                catalog::CATALOG_VALUE_LEN,
                "catalog value refused: {e}"
            );
            assert!(matches!(e, Error::Corrupted { page: 5, .. }), "{e:?}");
        }
    }
    if let Ok(name) = std::str::from_utf8(bytes) {
        let ok = catalog::check_name(name).is_ok();
        assert_eq!(ok, (1..=crate::MAX_TABLE_NAME_LEN).contains(&name.len()));
    }
}
