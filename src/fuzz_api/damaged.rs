//! The `open_damaged` target: opening and reading damaged copies of a valid database.

use super::{allowed, damage_error, scratch_path, Bytes, Scratch};
use crate::error::{Error, Result};
use crate::page::meta::{META_LEN, META_OFF_CHECKSUM, META_OFF_PAGE_COUNT};
use crate::page::{self as pg, get_u64, KIND_OVERFLOW};
use crate::Database;
use std::sync::OnceLock;

/// The undamaged database every `fuzz_open_damaged` input starts from.
struct BaseImage {
    bytes: Vec<u8>,
    page_size: usize,
}

/// Builds the base image once per process: four tables, a few hundred keys, overflow values, and
/// two commits (so there are free pages and an older meta slot), cut to its pages.
fn base_image() -> &'static BaseImage {
    static IMAGE: OnceLock<BaseImage> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let path = scratch_path("base");
        let _cleanup = Scratch(path.clone());
        let db = Database::open(&path).expect("create the base image");
        let w = db.begin_write().expect("base image: begin");
        {
            let mut t = w.open_table("alpha").expect("base image");
            for i in 0..300u32 {
                t.insert(format!("alpha-{i:04}").as_bytes(), &i.to_le_bytes())
                    .expect("base image");
            }
        }
        {
            let mut t = w.open_table("beta").expect("base image");
            for i in 0..40u32 {
                let v = vec![i as u8; 100 + 23 * i as usize];
                t.insert(format!("b{i}").as_bytes(), &v)
                    .expect("base image");
            }
        }
        {
            let mut t = w.open_table("gamma").expect("base image");
            t.insert(b"big", &vec![0xAB; 20_000]).expect("base image");
            t.insert(b"small", b"s").expect("base image");
        }
        w.open_table("empty").expect("base image");
        w.commit().expect("base image: commit 1");
        let w = db.begin_write().expect("base image: begin");
        {
            let mut t = w.open_table("alpha").expect("base image");
            for i in (0..300u32).step_by(3) {
                t.remove(format!("alpha-{i:04}").as_bytes())
                    .expect("base image");
            }
            t.insert(b"alpha-new", &[7; 2000]).expect("base image");
        }
        w.open_table("gamma")
            .expect("base image")
            .insert(b"big2", &vec![0xCD; 9000])
            .expect("base image");
        w.commit().expect("base image: commit 2");
        let page_size = db.page_size();
        drop(db);
        let mut bytes = std::fs::read(&path).expect("read the base image");
        // Only pages below the larger page_count of the two slots are ever read: drop the
        // preallocated tail so each input writes a small file.
        let pages = (0..2)
            .filter_map(|s| get_u64(&bytes, s * page_size + META_OFF_PAGE_COUNT))
            .max()
            .unwrap_or(2);
        bytes.truncate(pages as usize * page_size);
        BaseImage { bytes, page_size }
    })
}

/// Recomputes the checksum of the leaf, branch or overflow page at `pgno` of `image`.
fn reseal(image: &mut [u8], pgno: usize, ps: usize) {
    let start = pgno * ps;
    let Some(page) = image.get(start..start + ps) else {
        return;
    };
    let end = if page[0] == KIND_OVERFLOW {
        let len = get_u64(page, pg::OFF_VALUE_LEN).unwrap_or(0);
        let covered = (pg::HEADER_LEN as u64).saturating_add(len);
        start
            .saturating_add(covered.min(image.len() as u64) as usize)
            .min(image.len())
    } else {
        start + ps
    };
    let sum = pg::checksum(&image[start..end], pgno as u64);
    image[start + pg::OFF_CHECKSUM..start + pg::OFF_CHECKSUM + 8]
        .copy_from_slice(&sum.to_le_bytes());
}

/// Opens a damaged copy of a small valid database. Input: a flags byte, then (with flag bit 2) a
/// u32 LE length the file is cut or zero-extended to (modulo its length plus two pages), then
/// overwrites until the input ends, each `page u8 | offset u16 LE | len u8 | len bytes` (page and
/// offset taken modulo the image's pages and the page size, len modulo 33). Flag bits: 0, recompute
/// both meta checksums; 1, recompute the checksums of every overwritten page (so that damage gets
/// past the checksums and into the decoders); 3, open read-only; 4, write after reading.
///
/// Every call must give Ok or `Corrupted`/`NotADatabase`/`UnsupportedVersion`/`Io`, never panic,
/// hang or allocate hugely. When `check()` passes, the database must also read consistently:
/// every table iterates without error, the same both ways, with its recorded length, and `get`
/// finds every key with the iterated value; a write then keeps `check()` passing.
pub fn fuzz_open_damaged(data: &[u8]) {
    let base = base_image();
    let ps = base.page_size;
    let mut image = base.bytes.clone();
    let npages = image.len() / ps;
    let mut r = Bytes::new(data);
    let flags = r.u8();
    if flags & 4 != 0 {
        let len = r.u32() as usize % (image.len() + 2 * ps);
        image.resize(len, 0);
    }
    let mut touched = Vec::new();
    while !r.is_empty() {
        let page = r.u8() as usize % npages;
        let off = r.u16() as usize % ps;
        let len = r.u8() as usize % 33;
        let bytes = r.take(len);
        let at = page * ps + off;
        let end = (at + bytes.len()).min(image.len());
        if let Some(dst) = image.get_mut(at..end) {
            let n = dst.len();
            dst.copy_from_slice(&bytes[..n]);
        }
        touched.push(page);
    }
    if flags & 2 != 0 {
        touched.sort_unstable();
        touched.dedup();
        for &p in touched.iter().filter(|&&p| p >= 2) {
            reseal(&mut image, p, ps);
        }
    }
    if flags & 1 != 0 {
        for slot in 0..2 {
            let at = slot * ps;
            if let Some(meta) = image.get_mut(at..at + META_LEN) {
                let sum = xxhash_rust::xxh3::xxh3_64(&meta[..META_OFF_CHECKSUM]);
                meta[META_OFF_CHECKSUM..].copy_from_slice(&sum.to_le_bytes());
            }
        }
    }
    let path = scratch_path("damaged");
    let _cleanup = Scratch(path.clone());
    std::fs::write(&path, &image).expect("write the damaged image");
    let read_only = flags & 8 != 0;
    let opened = Database::builder().read_only(read_only).open(&path);
    let Some(db) = allowed("open", opened) else {
        return;
    };
    let healthy = allowed("check", db.check()).is_some();
    read_everything(&db, healthy);
    if flags & 16 != 0 && !read_only {
        write_something(&db, healthy);
    }
}

/// Reads every table both ways and looks every key up; strict when `healthy` (check passed).
fn read_everything(db: &Database, healthy: bool) {
    let rtx = db.begin_read().expect("begin_read");
    let Some(names) = allowed("list_tables", rtx.list_tables()) else {
        assert!(
            !healthy,
            "list_tables failed on a database that passed check()"
        );
        return;
    };
    for name in names {
        let t = match rtx.open_table(&name) {
            Ok(t) => t,
            // A damaged catalog can list a name that is not valid UTF-8 (listed lossily) or empty.
            Err(Error::TableNotFound(_) | Error::InvalidTableName(_)) if !healthy => continue,
            Err(e) => {
                assert!(!healthy && damage_error(&e), "open_table({name:?}): {e:?}");
                continue;
            }
        };
        let hash = |(k, v): (&[u8], &[u8])| (k.to_vec(), xxhash_rust::xxh3::xxh3_64(v));
        let fwd: Result<Vec<_>> = t.iter().and_then(|it| it.map(|e| e.map(hash)).collect());
        let rev: Result<Vec<_>> = t
            .iter()
            .and_then(|it| it.rev().map(|e| e.map(hash)).collect());
        let (fwd, rev) = (allowed("iter", fwd), allowed("iter().rev()", rev));
        let first = allowed("first", t.first()).map(|e| e.map(hash));
        let last = allowed("last", t.last()).map(|e| e.map(hash));
        if healthy {
            let (fwd, mut rev) = (
                fwd.expect("iter of a checked table"),
                rev.expect("rev iter"),
            );
            rev.reverse();
            assert!(
                fwd == rev,
                "table {name:?}: forward and backward iteration differ"
            );
            assert_eq!(
                t.len().ok(),
                Some(fwd.len() as u64),
                "table {name:?}: len()"
            );
            assert!(
                first == Some(fwd.first().cloned()),
                "table {name:?}: first()"
            );
            assert!(last == Some(fwd.last().cloned()), "table {name:?}: last()");
            for (k, h) in &fwd {
                let v = t.get(k).expect("get in a checked table");
                assert_eq!(
                    v.map(xxhash_rust::xxh3::xxh3_64),
                    Some(*h),
                    "table {name:?}: get({k:?})"
                );
            }
        } else {
            for (k, _) in fwd.iter().chain(rev.iter()).flatten().take(2000) {
                let _ = allowed("get", t.get(k));
            }
        }
    }
}

/// A small write transaction on every table; after a healthy open, the result must check.
fn write_something(db: &Database, healthy: bool) {
    let Some(names) = allowed("list_tables", db.begin_read().and_then(|r| r.list_tables())) else {
        return;
    };
    let Some(w) = allowed("begin_write", db.begin_write()) else {
        assert!(!healthy, "begin_write failed on a healthy database");
        return;
    };
    let new_table = "fuzz-new".to_string();
    for name in names.iter().chain([&new_table]) {
        let mut t = match w.open_table(name) {
            Ok(t) => t,
            Err(Error::InvalidTableName(_)) if !healthy => continue,
            Err(e) => {
                assert!(
                    !healthy && damage_error(&e),
                    "open_table({name:?}) for writing: {e:?}"
                );
                return;
            }
        };
        let first = allowed("first", t.first())
            .flatten()
            .map(|(k, _)| k.to_vec());
        let ok = allowed("insert", t.insert(b"fuzz-key", &[9; 40]))
            .and_then(|()| allowed("insert", t.insert(b"fuzz-big", &[8; 5000])))
            .and_then(|()| first.map_or(Some(false), |k| allowed("remove", t.remove(&k))));
        if ok.is_none() {
            assert!(!healthy, "a write to a healthy table failed");
            return;
        }
    }
    if allowed("commit", w.commit()).is_some() && healthy {
        db.check()
            .expect("check after a write to a healthy database");
    }
}
