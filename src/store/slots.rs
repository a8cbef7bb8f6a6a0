//! The page cache's table of resident frames, indexed directly by page number, with no lock, no
//! hashing and no shared write on the read path, so that a hit costs about what the map's bounds
//! check and verified-bit load cost, and readers on different cores never write a shared cache
//! line.
//!
//! Each page number has two slots, in two arrays:
//! - its *page* slot: the address of the bytes of its frame if that frame is one page (null
//!   otherwise). A page hit is one load of it (after the load of its chunk's address, which the
//!   few chunks keep in the processor's cache), and the next load is the page's own bytes: the
//!   same dependent loads as the map's verified bit and page. The page slots are 8 bytes a page
//!   (a 275 MiB tree of 4 KiB pages: 550 KiB), so they mostly stay in the processor's cache;
//! - its *entry* slot: the [`Entry`] that owns the frame (one page or a large value's run), which
//!   misses, runs, commits and evictions go through.
//!
//! Slots are grouped in chunks of `1 << CHUNK_BITS`, allocated the first time a page in their
//! range is cached (a chunk's two arrays, 512 KiB each, cover 256 MiB of 4 KiB pages) and kept
//! until the table is dropped. Page numbers beyond the table (16 TiB of 4 KiB pages) are not
//! cached.
//!
//! An entry slot owns the [`Entry`] it points to. Every change of a slot pair happens under the
//! table's writer lock, which keeps the pair consistent: a page slot is non-null only while its
//! entry slot holds a one-page entry whose bytes it points to. Readers load either slot without
//! the lock. Entries leave the table only through [`Slots::take`] and [`Slots::replace_if`],
//! which clear or change the page slot before they hand the entry back to the caller (the page
//! cache retires it through its epochs, so a reader that loaded either pointer before the entry
//! left can still use it).
#![allow(unsafe_code)]

use super::frame::Frame;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Bits of a page number that choose its slot within a chunk.
const CHUNK_BITS: u32 = 16;
/// Slots per chunk.
const CHUNK: usize = 1 << CHUNK_BITS;
/// Chunks the table can have.
const CHUNKS: usize = 1 << 16;

/// A cached page, or a large value's run of pages, as the table holds it.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The frame: one page, or a whole overflow run.
    pub frame: Frame,
    /// The frame's bytes (so a hit reads them without going through the frame's allocation).
    pub bytes: *const [u8],
}

// SAFETY: `bytes` points into the memory `frame` owns (a boxed slice or an anonymous mapping,
// neither of which moves when the `Arc` does), which is never written once in an entry; the entry
// owns `frame`, so the pointer is valid wherever the entry is, on any thread.
unsafe impl Send for Entry {}
// SAFETY: as above: shared access only reads the immutable bytes.
unsafe impl Sync for Entry {}

impl Entry {
    /// An entry for `frame`.
    pub fn new(frame: Frame) -> Box<Entry> {
        let bytes: *const [u8] = &**frame;
        Box::new(Entry { frame, bytes })
    }

    /// The frame's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
}

/// The page slots of one chunk.
type PageChunk = Box<[AtomicPtr<u8>]>;
/// The entry slots of one chunk.
type EntryChunk = Box<[AtomicPtr<Entry>]>;

/// The table: see the module documentation.
pub(crate) struct Slots {
    /// The length of a one-page frame: the entries whose bytes have it have a page slot.
    page_size: usize,
    /// Pointers to the chunks' page slots, null until allocated.
    pages: Box<[AtomicPtr<AtomicPtr<u8>>]>,
    /// Pointers to the chunks' entry slots, null until allocated (set before `pages`).
    entries: Box<[AtomicPtr<AtomicPtr<Entry>>]>,
    /// The writer lock, and the allocated chunks (which own the memory the pointers above point
    /// into).
    owned: Mutex<Vec<(PageChunk, EntryChunk)>>,
}

/// The chunk index and slot index of page `pgno`, if the table covers it.
#[inline]
fn locate(pgno: u64) -> Option<(usize, usize)> {
    let chunk = usize::try_from(pgno >> CHUNK_BITS).ok()?;
    (chunk < CHUNKS).then_some((chunk, (pgno as usize) & (CHUNK - 1)))
}

/// `CHUNKS` null chunk pointers.
fn null_chunks<T>() -> Box<[AtomicPtr<AtomicPtr<T>>]> {
    (0..CHUNKS)
        .map(|_| AtomicPtr::new(std::ptr::null_mut()))
        .collect()
}

/// `CHUNK` null slots.
fn null_chunk<T>() -> Box<[AtomicPtr<T>]> {
    (0..CHUNK)
        .map(|_| AtomicPtr::new(std::ptr::null_mut()))
        .collect()
}

/// The slot `slot` of the chunk of `table` that `base` (loaded from one of its chunk pointers)
/// points to, if that chunk is allocated.
#[inline]
fn slot_in<T>(_table: &Slots, base: *mut AtomicPtr<T>, slot: usize) -> Option<&AtomicPtr<T>> {
    if base.is_null() {
        return None;
    }
    // SAFETY: a non-null chunk pointer points to the first of `CHUNK` slots of a chunk in
    // `table.owned`, which is only ever appended to and lives as long as `table` (the returned
    // reference borrows it); `slot` is below `CHUNK`. The slots are atomics, so shared
    // references to them are sound.
    Some(unsafe { &*base.add(slot) })
}

impl Slots {
    /// An empty table for a cache of pages of `page_size` bytes.
    pub fn new(page_size: usize) -> Slots {
        Slots {
            page_size,
            pages: null_chunks(),
            entries: null_chunks(),
            owned: Mutex::new(Vec::new()),
        }
    }

    /// Whether page `pgno` can be cached (lies within the table).
    pub fn covers(pgno: u64) -> bool {
        locate(pgno).is_some()
    }

    /// The entry slot of page `pgno`, if its chunk exists.
    #[inline]
    fn entry_slot(&self, pgno: u64) -> Option<&AtomicPtr<Entry>> {
        let (chunk, slot) = locate(pgno)?;
        slot_in(self, self.entries[chunk].load(Ordering::Acquire), slot)
    }

    /// The page slot of page `pgno`, if its chunk exists.
    #[inline]
    fn page_slot(&self, pgno: u64) -> Option<&AtomicPtr<u8>> {
        let (chunk, slot) = locate(pgno)?;
        slot_in(self, self.pages[chunk].load(Ordering::Acquire), slot)
    }

    /// Under the writer lock (`owned`): the slots of page `pgno`, allocating its chunk if
    /// needed; None beyond the table.
    fn slots_or_new(
        &self,
        owned: &mut Vec<(PageChunk, EntryChunk)>,
        pgno: u64,
    ) -> Option<(&AtomicPtr<u8>, &AtomicPtr<Entry>)> {
        let (chunk, _) = locate(pgno)?;
        if self.pages[chunk].load(Ordering::Acquire).is_null() {
            let (pages, entries): (PageChunk, EntryChunk) = (null_chunk(), null_chunk());
            // The boxed slices' buffers do not move when the boxes move into `owned`.
            let (p, e) = (
                pages.as_ptr() as *mut AtomicPtr<u8>,
                entries.as_ptr() as *mut AtomicPtr<Entry>,
            );
            owned.push((pages, entries));
            self.entries[chunk].store(e, Ordering::Release);
            self.pages[chunk].store(p, Ordering::Release);
        }
        Some((self.page_slot(pgno)?, self.entry_slot(pgno)?))
    }

    /// The bytes of page `pgno`'s frame if it is cached as one page (of the table's page size),
    /// or null: the hit path, one load. The bytes stay allocated while the entry that owns them
    /// is in the table, and after it leaves for as long as whoever took it keeps it (the page
    /// cache's epochs).
    #[inline]
    pub fn page(&self, pgno: u64) -> *const u8 {
        self.page_slot(pgno)
            .map_or(std::ptr::null(), |s| s.load(Ordering::Acquire))
    }

    /// The entry of page `pgno`, or null. The pointer stays valid while the entry is in the
    /// table, and after it leaves for as long as whoever took it keeps it (the page cache's
    /// epochs).
    #[inline]
    pub fn get(&self, pgno: u64) -> *const Entry {
        self.entry_slot(pgno)
            .map_or(std::ptr::null(), |s| s.load(Ordering::Acquire))
    }

    /// What page `pgno`'s page slot holds for `entry`: its bytes if it is one page.
    fn page_of(&self, entry: &Entry) -> *mut u8 {
        if entry.len() == self.page_size {
            entry.bytes as *const u8 as *mut u8
        } else {
            std::ptr::null_mut()
        }
    }

    /// Puts `new` in page `pgno`'s slots if its entry slot still holds `current` (null for an
    /// empty slot); returns the entry it replaced (None if it was empty), or gives `new` back if
    /// the slot changed meanwhile or lies beyond the table.
    pub fn replace_if(
        &self,
        pgno: u64,
        current: *const Entry,
        new: Box<Entry>,
    ) -> Result<Option<Box<Entry>>, Box<Entry>> {
        let mut owned = self.owned.lock();
        let Some((page, slot)) = self.slots_or_new(&mut owned, pgno) else {
            return Err(new);
        };
        if !std::ptr::eq(slot.load(Ordering::Acquire), current) {
            return Err(new);
        }
        let bytes = self.page_of(&new);
        // The page slot changes first: no reader finds the old entry's bytes through it once the
        // entry is handed back (and none finds the new bytes before the new entry owns them).
        page.store(std::ptr::null_mut(), Ordering::Release);
        let old = slot.swap(Box::into_raw(new), Ordering::AcqRel);
        page.store(bytes, Ordering::Release);
        // SAFETY: the slot owned `old` (made by `Box::into_raw` here), and the swap removed it
        // from the table, under the writer lock, so this is its only owner now.
        Ok((!old.is_null()).then(|| unsafe { Box::from_raw(old) }))
    }

    /// Empties page `pgno`'s slots and returns the entry they held.
    pub fn take(&self, pgno: u64) -> Option<Box<Entry>> {
        let _owned = self.owned.lock();
        self.page_slot(pgno)?
            .store(std::ptr::null_mut(), Ordering::Release);
        let old = self
            .entry_slot(pgno)?
            .swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: as in `replace_if`: the swap removed the slot's entry from the table.
        (!old.is_null()).then(|| unsafe { Box::from_raw(old) })
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        for (_, entries) in self.owned.get_mut().iter() {
            for slot in entries.iter() {
                let e = slot.swap(std::ptr::null_mut(), Ordering::Relaxed);
                if !e.is_null() {
                    // SAFETY: the slot owned the entry; `&mut self` means no reader is left.
                    drop(unsafe { Box::from_raw(e) });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(byte: u8, len: usize) -> Box<Entry> {
        Entry::new(crate::store::frame::copy_of(&vec![byte; len], 8).unwrap())
    }

    /// The first byte of page `pgno` through its page slot, if it has one.
    fn first_byte(s: &Slots, pgno: u64) -> Option<u8> {
        let p = s.page(pgno);
        // SAFETY: a page slot points to the bytes of an entry in the table, which nobody else
        // changes.
        (!p.is_null()).then(|| unsafe { *p })
    }

    #[test]
    fn insert_replace_take() {
        let s = Slots::new(8);
        assert!(s.get(3).is_null() && s.get(1 << 40).is_null() && s.page(3).is_null());
        assert!(matches!(
            s.replace_if(3, std::ptr::null(), entry(1, 8)),
            Ok(None)
        ));
        let e = s.get(3);
        // SAFETY: the entry is in the table, which nobody else changes.
        assert_eq!(unsafe { &*e }.frame[0], 1);
        assert_eq!(first_byte(&s, 3), Some(1));
        // The slot is not empty any more: an insert of another reader fails.
        assert!(s.replace_if(3, std::ptr::null(), entry(2, 8)).is_err());
        assert_eq!(first_byte(&s, 3), Some(1));
        let old = s.replace_if(3, e, entry(3, 8)).unwrap().unwrap();
        assert_eq!(old.frame[0], 1);
        assert_eq!(first_byte(&s, 3), Some(3));
        // A run (a frame longer than a page) has an entry but no page slot.
        let old = s.replace_if(3, s.get(3), entry(4, 24)).unwrap().unwrap();
        assert_eq!((old.frame[0], first_byte(&s, 3)), (3, None));
        assert_eq!(s.take(3).unwrap().frame[0], 4);
        assert!(s.take(3).is_none() && s.get(3).is_null() && s.page(3).is_null());
        assert!(!Slots::covers(1 << 40) && Slots::covers(CHUNK as u64 * 7 + 1));
        assert!(s
            .replace_if(1 << 40, std::ptr::null(), entry(4, 8))
            .is_err());
        assert!(matches!(
            s.replace_if(CHUNK as u64 * 7 + 1, std::ptr::null(), entry(5, 8)),
            Ok(None)
        ));
        assert_eq!(first_byte(&s, CHUNK as u64 * 7 + 1), Some(5));
        assert!(s.take(CHUNK as u64 * 8).is_none());
    }
}
