//! A simulated disk for crash and fault testing (cargo feature `testing`).
//!
//! The database still reads and writes a real file (so the memory map and every code path are
//! the production ones), but every write, size change and sync is also logged here: the file is
//! opened as a `SimulatedFile`, the storage seam's second implementation (`storage.rs`), which
//! counts each operation, may fail it, and logs it once the real file has it. From the
//! log, [`SimDisk::crash_image`] builds what a power cut at any point could have left on disk:
//! the image as of the last completed sync, plus each later write applied, dropped, torn at a
//! 512-byte or 4 KiB boundary, or replaced with garbage, chosen by a seeded generator. A fault
//! plan ([`SimDisk::fail_op`]) makes the Nth operation fail, once or from then on.
//!
//! Threads besides the committing one change the file too (the background thread's log syncs,
//! beside commits): each operation is logged in one piece, so that no other thread's change comes
//! between the pages of one write, or between a write made durable on its own and the
//! `RangeSync` entry that says so (one that did made the crash checks take another write of
//! the commit for the synced one, and expect a commit that was never durable).
//!
//! Garbage only lands inside the file's last durable length: filesystems that journal metadata
//! in ordered mode (ext4, XFS, btrfs) show blocks allocated after the last sync as zeros after a
//! power cut, never as stale or random data. Past that length a garbled write reads as zeros.

use super::storage::{PlainFile, Storage};
use crate::rng::Rng;
use parking_lot::Mutex;
use std::fs::File;
use std::io;
use std::sync::Arc;

/// One logged change to the file.
#[derive(Debug, Clone)]
enum Entry {
    Write {
        offset: u64,
        data: Vec<u8>,
    },
    SetLen(u64),
    Sync,
    /// The write just before it (`RWF_DSYNC`) is durable: only those bytes, not the other
    /// pending changes.
    RangeSync {
        offset: u64,
    },
}

/// The log entry of a completed write of `data` at `offset`.
fn write_entry(offset: u64, data: &[u8]) -> Entry {
    Entry::Write {
        offset,
        data: data.to_vec(),
    }
}

/// What a planned fault does.
#[derive(Debug, Clone, Copy)]
struct Fault {
    at: u64,
    forever: bool,
    errno: i32,
}

#[derive(Default)]
struct State {
    log: Vec<Entry>,
    /// (log length right after a sync, durable image then).
    synced: Vec<(usize, Vec<u8>)>,
    /// Durable image as of the last sync.
    durable: Vec<u8>,
    ops: u64,
    fault: Option<Fault>,
    /// How long each durable write takes at least ([`SimDisk::delay_durable_writes`]).
    durable_write_delay: std::time::Duration,
    faults_injected: u64,
}

/// The simulated disk. Share it (`Arc`) between the database that writes through it and the test
/// that crashes it.
#[derive(Default)]
pub struct SimDisk {
    state: Mutex<State>,
}

impl State {
    /// For a crash at log position `point` (clamped to the log): the position of the last sync at
    /// or before it, the clamped point, and the durable image as of that sync.
    fn base_image(&self, point: usize) -> (usize, usize, Vec<u8>) {
        let point = point.min(self.log.len());
        let (start, image) = self
            .synced
            .iter()
            .rev()
            .find(|&&(p, _)| p <= point)
            .map_or((0, Vec::new()), |(p, img)| (*p, img.clone()));
        (start, point, image)
    }
}

fn apply_write(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let end = offset as usize + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[offset as usize..end].copy_from_slice(data);
}

impl SimDisk {
    /// A new simulated disk, for a file that starts empty.
    pub fn new() -> std::sync::Arc<SimDisk> {
        std::sync::Arc::new(SimDisk::default())
    }

    /// A simulated disk for a file whose durable contents are `image` (write the same bytes to
    /// the real file before opening it through this disk).
    pub fn starting_from(image: Vec<u8>) -> std::sync::Arc<SimDisk> {
        let disk = SimDisk::default();
        {
            let mut st = disk.state.lock();
            st.synced.push((0, image.clone()));
            st.durable = image;
        }
        std::sync::Arc::new(disk)
    }

    /// Makes operation number `n` (counting from 1 over all operations so far and to come) fail
    /// with `errno`; with `forever`, every operation after it fails too.
    pub fn fail_op(&self, n: u64, forever: bool, errno: i32) {
        self.state.lock().fault = Some(Fault {
            at: n,
            forever,
            errno,
        });
    }

    /// Makes every durable write (a log sync) take at least `delay`, as on a slow disk: for
    /// tests of what happens while one is in flight.
    pub fn delay_durable_writes(&self, delay: std::time::Duration) {
        self.state.lock().durable_write_delay = delay;
    }

    /// Removes the fault plan.
    pub fn clear_fault(&self) {
        self.state.lock().fault = None;
    }

    /// Operations counted so far.
    pub fn op_count(&self) -> u64 {
        self.state.lock().ops
    }

    /// Faults injected so far.
    pub fn faults_injected(&self) -> u64 {
        self.state.lock().faults_injected
    }

    /// Length of the change log: crash points are `0..=log_len()`.
    pub fn log_len(&self) -> usize {
        self.state.lock().log.len()
    }

    /// Log positions right after each sync, whole-file or of one write's range (a commit log
    /// record made durable on its own).
    pub fn sync_points(&self) -> Vec<usize> {
        let st = self.state.lock();
        let mut points: Vec<usize> = st.synced.iter().map(|&(p, _)| p).collect();
        points.extend(
            st.log
                .iter()
                .enumerate()
                .filter_map(|(i, e)| matches!(e, Entry::RangeSync { .. }).then_some(i + 1)),
        );
        points.sort_unstable();
        points
    }

    /// Whether the changes logged in `from..to` (one commit's) were durable by log position
    /// `point`: a whole-file sync completed after `from`, or a write made durable on its own
    /// (a commit log sync) that rewrote, byte for byte, a write of `from..to` that was not itself
    /// made durable and is not all zeros (the commit's log record). A log sync that completes after `from` does not
    /// by itself cover the commit: its leader may have taken the log's tail before the commit
    /// appended its record (appends go on while a sync writes).
    pub fn durable_by(&self, from: usize, to: usize, point: usize) -> bool {
        let st = self.state.lock();
        let point = point.min(st.log.len());
        let to = to.min(st.log.len());
        if from >= point {
            return false;
        }
        let synced_on_its_own =
            |i: usize| range_synced(st.log.get(i + 1), write_offset(&st.log[i]));
        let plain: Vec<(u64, &[u8])> = (from..to)
            .filter(|&i| !synced_on_its_own(i))
            .filter_map(|i| match &st.log[i] {
                // Zeros are not a record: the log region is zeroed ahead of its records.
                Entry::Write { offset, data } if data.iter().any(|&b| b != 0) => {
                    Some((*offset, &data[..]))
                }
                _ => None,
            })
            .collect();
        st.log[from..point].iter().enumerate().any(|(k, e)| {
            let i = from + k;
            match e {
                Entry::Sync => true,
                Entry::RangeSync { .. } if i > 0 => match &st.log[i - 1] {
                    Entry::Write { offset, data } => plain.iter().any(|&(o, d)| {
                        o >= *offset
                            && o + d.len() as u64 <= offset + data.len() as u64
                            && data[(o - offset) as usize..][..d.len()] == *d
                    }),
                    _ => false,
                },
                _ => false,
            }
        })
    }

    /// Called before an operation (a write, a sync, a change of length; reads are never
    /// failed): counts it and fails it if the fault plan says so.
    fn before(&self) -> io::Result<()> {
        let mut st = self.state.lock();
        st.ops += 1;
        if let Some(f) = st.fault {
            if st.ops == f.at || (f.forever && st.ops > f.at) {
                st.faults_injected += 1;
                return Err(io::Error::from_raw_os_error(f.errno));
            }
        }
        Ok(())
    }

    /// Records the completed writes `writes` (offset, bytes), with no other thread's change
    /// between them (the pages of one `write_pages` call, say).
    fn log_writes<'a>(&self, writes: impl IntoIterator<Item = (u64, &'a [u8])>) {
        let mut st = self.state.lock();
        st.log.extend(
            writes
                .into_iter()
                .map(|(offset, data)| write_entry(offset, data)),
        );
    }

    /// Records a completed change of length.
    fn log_set_len(&self, len: u64) {
        self.state.lock().log.push(Entry::SetLen(len));
    }

    /// Records a completed write of `data` at `offset` that was made durable on its own
    /// (`RWF_DSYNC`), and nothing else: the write and its [`Entry::RangeSync`], logged together,
    /// so that no other thread's change (the background thread's log syncs run beside commits)
    /// comes between them and is taken for the durable write. Returns how long the write is to
    /// take at least ([`SimDisk::delay_durable_writes`]).
    fn log_durable_write(&self, offset: u64, data: &[u8]) -> std::time::Duration {
        let mut st = self.state.lock();
        st.log.push(write_entry(offset, data));
        st.log.push(Entry::RangeSync { offset });
        st.durable_write_delay
    }

    /// Records a completed sync: everything logged so far is durable.
    fn log_sync(&self) {
        let mut st = self.state.lock();
        let start = st.synced.last().map_or(0, |&(p, _)| p);
        let mut image = std::mem::take(&mut st.durable);
        for e in &st.log[start..] {
            match e {
                Entry::Write { offset, data } => apply_write(&mut image, *offset, data),
                Entry::SetLen(len) => image.resize(*len as usize, 0),
                Entry::Sync | Entry::RangeSync { .. } => {}
            }
        }
        st.log.push(Entry::Sync);
        let at = st.log.len();
        st.synced.push((at, image.clone()));
        st.durable = image;
    }

    /// The file a power cut right after log position `point` could leave: the image of the last
    /// sync before it, then each later change applied, dropped, torn or garbled by `rng`.
    pub fn crash_image(&self, point: usize, rng: &mut Rng) -> Vec<u8> {
        let st = self.state.lock();
        let (start, point, mut image) = st.base_image(point);
        let durable_len = image.len() as u64;
        let log = &st.log[start..point];
        for (i, e) in log.iter().enumerate() {
            match e {
                Entry::Write { offset, data } if range_synced(log.get(i + 1), *offset) => {
                    apply_write(&mut image, *offset, data)
                }
                Entry::Write { offset, data } => match rng.below(100) {
                    0..=39 => apply_write(&mut image, *offset, data),
                    40..=64 => {}
                    65..=84 => {
                        // Torn: only some 512-byte or 4 KiB sectors reached the disk.
                        let sector = if rng.below(2) == 0 { 512 } else { 4096 };
                        for (i, chunk) in data.chunks(sector).enumerate() {
                            if rng.below(2) == 0 {
                                apply_write(&mut image, offset + (i * sector) as u64, chunk);
                            }
                        }
                    }
                    _ => {
                        let garbage: Vec<u8> = (0..data.len() as u64)
                            .map(|i| {
                                if offset + i < durable_len {
                                    rng.next_u64() as u8
                                } else {
                                    0
                                }
                            })
                            .collect();
                        apply_write(&mut image, *offset, &garbage);
                    }
                },
                Entry::SetLen(len) => {
                    if rng.below(2) == 0 {
                        image.resize(*len as usize, 0);
                    }
                }
                Entry::Sync | Entry::RangeSync { .. } => {}
            }
        }
        image
    }

    /// The file a power cut now could leave if every write not yet synced were lost: the image
    /// of the last sync, plus the writes synced on their own since (commit log records).
    pub fn durable_image(&self) -> Vec<u8> {
        let st = self.state.lock();
        let (start, point, mut image) = st.base_image(usize::MAX);
        let log = &st.log[start..point];
        for (i, e) in log.iter().enumerate() {
            if let Entry::Write { offset, data } = e {
                if range_synced(log.get(i + 1), *offset) {
                    apply_write(&mut image, *offset, data);
                }
            }
        }
        image
    }

    /// The file as the operating system shows it now (every change applied): what survives a
    /// process crash.
    pub fn current_image(&self) -> Vec<u8> {
        self.prefix_image(usize::MAX)
    }

    /// The file with every change up to log position `point` applied, in order: a crash at that
    /// point after which the operating system still wrote out everything it had.
    pub fn prefix_image(&self, point: usize) -> Vec<u8> {
        let st = self.state.lock();
        let (start, point, mut image) = st.base_image(point);
        for e in &st.log[start..point] {
            match e {
                Entry::Write { offset, data } => apply_write(&mut image, *offset, data),
                Entry::SetLen(len) => image.resize(*len as usize, 0),
                Entry::Sync | Entry::RangeSync { .. } => {}
            }
        }
        image
    }
}

/// The offset of a write entry (`u64::MAX` for other entries).
fn write_offset(e: &Entry) -> u64 {
    match e {
        Entry::Write { offset, .. } => *offset,
        _ => u64::MAX,
    }
}

/// True if `next` (the entry after a write at `offset`) says that write was made durable.
fn range_synced(next: Option<&Entry>, offset: u64) -> bool {
    matches!(next, Some(Entry::RangeSync { offset: o }) if *o == offset)
}

/// The database file behind a simulated disk ([`crate::Builder::open_simulated`]): each change
/// is one operation the disk counts and may fail before it reaches the file, and logs once it
/// has.
pub(crate) struct SimulatedFile {
    file: PlainFile,
    disk: Arc<SimDisk>,
}

impl SimulatedFile {
    /// `file`, with its changes going through `disk`.
    pub fn new(file: PlainFile, disk: Arc<SimDisk>) -> SimulatedFile {
        SimulatedFile { file, disk }
    }
}

impl Storage for SimulatedFile {
    fn file(&self) -> &File {
        self.file.file()
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.disk.before()?;
        self.file.write_at(buf, offset)?;
        self.disk.log_writes([(offset, buf)]);
        Ok(())
    }

    /// One operation, however many system calls; the disk logs each page (or run) as a write,
    /// all of them together.
    fn write_pages(&self, pages: &[(u64, &[u8])], page_size: usize) -> io::Result<()> {
        self.disk.before()?;
        self.file.write_pages(pages, page_size)?;
        let ps = page_size as u64;
        self.disk
            .log_writes(pages.iter().map(|&(pgno, data)| (pgno * ps, data)));
        Ok(())
    }

    fn write_durable_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.disk.before()?;
        self.file.write_durable_at(buf, offset)?;
        let delay = self.disk.log_durable_write(offset, buf);
        std::thread::sleep(delay);
        Ok(())
    }

    /// Not an operation the disk counts: it makes nothing durable.
    fn start_writeback(&self) {
        self.file.start_writeback();
    }

    fn sync(&self) -> io::Result<()> {
        self.disk.before()?;
        self.file.sync()?;
        self.disk.log_sync();
        Ok(())
    }

    fn allocate(&self, len: u64, target: u64, needed: u64) -> io::Result<u64> {
        self.disk.before()?;
        let new_len = self.file.allocate(len, target, needed)?;
        self.disk.log_set_len(new_len);
        Ok(new_len)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.disk.before()?;
        self.file.set_len(len)?;
        self.disk.log_set_len(len);
        Ok(())
    }

    fn background_writes(&self) -> bool {
        false
    }
}

/// The storage of a `testing` build (`store::Disk`): the file itself, or the file behind a
/// simulated disk, as the test opened it.
pub(crate) enum TestFile {
    /// The file itself ([`crate::Builder::open`] and the in-memory database).
    Plain(PlainFile),
    /// The file behind a simulated disk ([`crate::Builder::open_simulated`]).
    Simulated(SimulatedFile),
}

impl From<PlainFile> for TestFile {
    fn from(file: PlainFile) -> TestFile {
        TestFile::Plain(file)
    }
}

impl From<SimulatedFile> for TestFile {
    fn from(file: SimulatedFile) -> TestFile {
        TestFile::Simulated(file)
    }
}

impl TestFile {
    /// The implementation this file is.
    fn storage(&self) -> &dyn Storage {
        match self {
            TestFile::Plain(f) => f,
            TestFile::Simulated(f) => f,
        }
    }
}

impl Storage for TestFile {
    fn file(&self) -> &File {
        self.storage().file()
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.storage().write_at(buf, offset)
    }

    fn write_pages(&self, pages: &[(u64, &[u8])], page_size: usize) -> io::Result<()> {
        self.storage().write_pages(pages, page_size)
    }

    fn write_log_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.storage().write_log_at(buf, offset)
    }

    fn write_durable_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.storage().write_durable_at(buf, offset)
    }

    fn start_writeback(&self) {
        self.storage().start_writeback()
    }

    fn sync(&self) -> io::Result<()> {
        self.storage().sync()
    }

    fn allocate(&self, len: u64, target: u64, needed: u64) -> io::Result<u64> {
        self.storage().allocate(len, target, needed)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.storage().set_len(len)
    }

    fn background_writes(&self) -> bool {
        self.storage().background_writes()
    }
}
