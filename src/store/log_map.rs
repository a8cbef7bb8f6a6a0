//! Appending the commit log's small records through a writable shared mapping of the part of the
//! file they go to, instead of one `pwrite` each ([`super::storage::Storage::write_log_at`]).
//!
//! A record copied into a `MAP_SHARED` mapping is in the kernel's page cache as soon as the copy
//! ends, exactly as after a `pwrite`: a crash of the process loses nothing, the syncs of the log
//! (`pwritev2` with `RWF_DSYNC` of the same bytes, `fdatasync`) write those pages back like any
//! other dirty page, and reads through `pread` or another mapping see the bytes at once. What it
//! saves is the system call: a relaxed single-insert commit appends one small record, and its
//! `pwrite` (entry, the buffered-write path of the filesystem, exit) was about an eighth of the
//! commit's time. A page of the mapping faults once when first written and once after each
//! write-back (which write-protects it again, and flushes the TLBs of the CPUs running the
//! process's other threads): once per page of records, or per sync.
//!
//! So only `Eventual` commits use it. An `Immediate` commit's record is written by the sync
//! that makes it durable, which follows at once (`txn/group.rs`); copied into the mapping first,
//! the next record's copy would fault on the page that sync wrote back: 1,000 durable
//! single-insert commits took 1,480 page faults and 94-102 ms that way, 425 and 81-87 ms with
//! the record written by its sync alone (`perf stat`, three alternations each).
//!
//! The mapping covers an aligned chunk of the file (plus some slack, so that a record that starts
//! near the chunk's end still fits) and moves when a record falls outside it. It never extends
//! past the file's length when it is made, and [`LogMap::unmap`] drops it before the file is
//! truncated, so no byte of it is ever beyond the end of the file.
#![allow(unsafe_code)]

use parking_lot::Mutex;
use std::fs::File;
use std::io;

/// Mappings start at multiples of this many bytes.
const CHUNK: u64 = 1 << 20;
/// Records of at most this many bytes go through the mapping (larger ones are written with
/// `pwrite`: one system call is nothing beside their copy); a mapping covers its chunk and this
/// much more.
pub(crate) const MAX_MAPPED_RECORD: usize = 64 << 10;

/// The current mapping, if any.
#[derive(Default)]
pub(crate) struct LogMap {
    map: Mutex<Option<Mapped>>,
}

/// A writable shared mapping of `map.len()` bytes of the file from byte `start`.
struct Mapped {
    start: u64,
    map: memmap2::MmapMut,
}

impl LogMap {
    /// Copies `buf` (at most [`MAX_MAPPED_RECORD`] bytes) into `file` at `offset` through the
    /// mapping, mapping the chunk around it first if needed. Returns false, having written
    /// nothing, if the bytes do not lie within the file: the caller then writes them itself.
    pub fn write(&self, file: &File, buf: &[u8], offset: u64) -> io::Result<bool> {
        debug_assert!(buf.len() <= MAX_MAPPED_RECORD);
        if buf.is_empty() {
            return Ok(true);
        }
        let end = offset + buf.len() as u64;
        let mut current = self.map.lock();
        let covers = |m: &Mapped| m.start <= offset && end <= m.start + m.map.len() as u64;
        if !current.as_ref().is_some_and(covers) {
            *current = None;
            let start = offset - offset % CHUNK;
            let file_len = file.metadata()?.len();
            if end > file_len {
                return Ok(false);
            }
            let len = (CHUNK + MAX_MAPPED_RECORD as u64).min(file_len - start);
            // SAFETY: the mapping lies within the file as it is now (`len` stops at its length),
            // and the file does not shrink below it while the mapping exists: the handle that
            // owns this map holds the file's writer lock (no other process writes or truncates
            // it), and its storage drops the mapping (`unmap`) before every truncation. Only this
            // struct writes through the mapping, under its mutex, and no Rust reference into it
            // outlives the copy below.
            let map = unsafe {
                memmap2::MmapOptions::new()
                    .offset(start)
                    .len(len as usize)
                    .map_mut(file)?
            };
            *current = Some(Mapped { start, map });
        }
        let m = current.as_mut().expect("mapped above");
        let at = (offset - m.start) as usize;
        m.map[at..at + buf.len()].copy_from_slice(buf);
        Ok(true)
    }

    /// Drops the mapping (before the file is truncated).
    pub fn unmap(&self) {
        *self.map.lock() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    fn file_of(len: u64) -> File {
        let f = crate::store::anonymous_file().unwrap();
        f.set_len(len).unwrap();
        f
    }

    fn read(f: &File, offset: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        f.read_exact_at(&mut b, offset).unwrap();
        b
    }

    #[test]
    fn records_written_through_the_map_are_read_back_by_pread() {
        let f = file_of(3 * CHUNK);
        let m = LogMap::default();
        // One inside the first chunk, one across its end, one in the next chunk, one at the end.
        let cases = [
            (100u64, 300usize, 1u8),
            (CHUNK - 10, 500, 2),
            (CHUNK + 4096, 4096, 3),
            (3 * CHUNK - 64, 64, 4),
        ];
        for &(offset, len, byte) in &cases {
            assert!(m.write(&f, &vec![byte; len], offset).unwrap());
        }
        for &(offset, len, byte) in &cases {
            assert_eq!(read(&f, offset, len), vec![byte; len], "at {offset}");
        }
        // Bytes around them are untouched.
        assert_eq!(read(&f, 99, 1), [0]);
        assert_eq!(read(&f, 400, 1), [0]);
    }

    #[test]
    fn bytes_past_the_end_of_the_file_are_not_written() {
        let f = file_of(CHUNK + 100);
        let m = LogMap::default();
        assert!(!m.write(&f, &[7; 200], CHUNK).unwrap());
        assert_eq!(f.metadata().unwrap().len(), CHUNK + 100);
        assert_eq!(read(&f, CHUNK, 100), vec![0; 100]);
    }

    #[test]
    fn a_file_that_grew_after_mapping_is_mapped_again_further() {
        let f = file_of(CHUNK / 2);
        let m = LogMap::default();
        assert!(m.write(&f, &[1; 10], 0).unwrap());
        // The mapping stops at the old end; the file grows; a write beyond the old end maps the
        // longer file.
        f.set_len(CHUNK).unwrap();
        assert!(m.write(&f, &[2; 10], CHUNK / 2 + 5).unwrap());
        assert_eq!(read(&f, CHUNK / 2 + 5, 10), vec![2; 10]);
        m.unmap();
        f.set_len(10).unwrap();
        assert_eq!(read(&f, 0, 10), vec![1; 10]);
    }
}
