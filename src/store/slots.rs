//! The page cache's table of resident frames, indexed directly by page number: a lookup is two
//! atomic loads (the chunk, then the slot), with no lock, no hashing and no shared write, so a
//! hit costs about what the map's bounds check and verified-bit load cost, and readers on
//! different cores never write a shared cache line.
//!
//! Slots are grouped in chunks of `1 << CHUNK_BITS`, allocated the first time a page in their
//! range is cached (a chunk of 512 KiB covers 256 MiB of 4 KiB pages) and kept until the cache is
//! dropped. Page numbers beyond the table (16 TiB of 4 KiB pages) are not cached.
//!
//! A slot owns the [`Entry`] it points to. Entries leave the table only through [`Slots::take`]
//! and [`Slots::swap`], which hand the box back to the caller (the page cache retires it through
//! its epochs, so a reader that loaded the pointer before it left can still use it).
#![allow(unsafe_code)]

use super::frame::Frame;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

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
    /// The hit generation in which a hit on this entry was last recorded.
    pub recorded: AtomicU64,
}

// SAFETY: `bytes` points into the memory `frame` owns (a boxed slice or an anonymous mapping,
// neither of which moves when the `Arc` does), which is never written once in an entry; the entry
// owns `frame`, so the pointer is valid wherever the entry is, on any thread.
unsafe impl Send for Entry {}
// SAFETY: as above: shared access only reads the immutable bytes and the atomic `recorded`.
unsafe impl Sync for Entry {}

impl Entry {
    /// An entry for `frame`, its hits last recorded in generation `recorded`.
    pub fn new(frame: Frame, recorded: u64) -> Box<Entry> {
        let bytes: *const [u8] = &**frame;
        Box::new(Entry {
            frame,
            bytes,
            recorded: AtomicU64::new(recorded),
        })
    }

    /// The frame's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
}

/// One chunk of slots.
type Chunk = Box<[AtomicPtr<Entry>]>;

/// The table: see the module documentation.
pub(crate) struct Slots {
    /// Pointers to chunks, null until allocated.
    chunks: Box<[AtomicPtr<AtomicPtr<Entry>>]>,
    /// The allocated chunks (they own the memory the pointers above point into).
    owned: Mutex<Vec<Chunk>>,
}

/// The chunk index and slot index of page `pgno`, if the table covers it.
fn locate(pgno: u64) -> Option<(usize, usize)> {
    let chunk = usize::try_from(pgno >> CHUNK_BITS).ok()?;
    (chunk < CHUNKS).then_some((chunk, (pgno as usize) & (CHUNK - 1)))
}

impl Default for Slots {
    fn default() -> Slots {
        Slots {
            chunks: (0..CHUNKS)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            owned: Mutex::new(Vec::new()),
        }
    }
}

impl Slots {
    /// Whether page `pgno` can be cached (lies within the table).
    pub fn covers(pgno: u64) -> bool {
        locate(pgno).is_some()
    }

    /// The slot of page `pgno`, if its chunk exists.
    #[inline]
    fn slot(&self, pgno: u64) -> Option<&AtomicPtr<Entry>> {
        let (chunk, slot) = locate(pgno)?;
        let base = self.chunks[chunk].load(Ordering::Acquire);
        if base.is_null() {
            return None;
        }
        // SAFETY: a non-null chunk pointer points to the first of `CHUNK` slots of a chunk in
        // `self.owned`, which is only ever appended to and lives as long as `self`; `slot` is
        // below `CHUNK`. The slots are atomics, so shared references to them are sound.
        Some(unsafe { &*base.add(slot) })
    }

    /// The slot of page `pgno`, allocating its chunk if needed; None beyond the table.
    fn slot_or_new(&self, pgno: u64) -> Option<&AtomicPtr<Entry>> {
        if let Some(s) = self.slot(pgno) {
            return Some(s);
        }
        let (chunk, _) = locate(pgno)?;
        {
            let mut owned = self.owned.lock();
            if self.chunks[chunk].load(Ordering::Acquire).is_null() {
                let new: Chunk = (0..CHUNK)
                    .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                    .collect();
                // The boxed slice's buffer does not move when the box moves into `owned`.
                let base = new.as_ptr() as *mut AtomicPtr<Entry>;
                owned.push(new);
                self.chunks[chunk].store(base, Ordering::Release);
            }
        }
        self.slot(pgno)
    }

    /// The entry of page `pgno`, or null. The pointer stays valid while the entry is in the
    /// table, and after it leaves for as long as whoever took it keeps it (the page cache's
    /// epochs).
    #[inline]
    pub fn get(&self, pgno: u64) -> *const Entry {
        self.slot(pgno)
            .map_or(std::ptr::null(), |s| s.load(Ordering::Acquire))
    }

    /// Puts `new` in page `pgno`'s slot if it still holds `current` (null for an empty slot);
    /// returns the entry it replaced (None if it was empty), or gives `new` back if the slot
    /// changed meanwhile or lies beyond the table.
    pub fn replace_if(
        &self,
        pgno: u64,
        current: *const Entry,
        new: Box<Entry>,
    ) -> Result<Option<Box<Entry>>, Box<Entry>> {
        let Some(slot) = self.slot_or_new(pgno) else {
            return Err(new);
        };
        let raw = Box::into_raw(new);
        match slot.compare_exchange(
            current as *mut Entry,
            raw,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: the slot owned `old` (made by `Box::into_raw` here), and the exchange
            // removed it from the table, so this is its only owner now.
            Ok(old) => Ok((!old.is_null()).then(|| unsafe { Box::from_raw(old) })),
            // SAFETY: `raw` came from `Box::into_raw` just above and was not stored.
            Err(_) => Err(unsafe { Box::from_raw(raw) }),
        }
    }

    /// Empties page `pgno`'s slot and returns what it held.
    pub fn take(&self, pgno: u64) -> Option<Box<Entry>> {
        let old = self
            .slot(pgno)?
            .swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: as in `replace_if`: the swap removed the slot's entry from the table.
        (!old.is_null()).then(|| unsafe { Box::from_raw(old) })
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        for chunk in self.owned.get_mut().iter() {
            for slot in chunk.iter() {
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

    fn entry(byte: u8) -> Box<Entry> {
        Entry::new(crate::store::frame::copy_of(&[byte; 8], 8).unwrap(), 0)
    }

    #[test]
    fn insert_replace_take() {
        let s = Slots::default();
        assert!(s.get(3).is_null() && s.get(1 << 40).is_null());
        assert!(matches!(
            s.replace_if(3, std::ptr::null(), entry(1)),
            Ok(None)
        ));
        let e = s.get(3);
        // SAFETY: the entry is in the table, which nobody else changes.
        assert_eq!(unsafe { &*e }.frame[0], 1);
        // The slot is not empty any more: an insert of another reader fails.
        assert!(s.replace_if(3, std::ptr::null(), entry(2)).is_err());
        let old = s.replace_if(3, e, entry(3)).unwrap().unwrap();
        assert_eq!(old.frame[0], 1);
        assert_eq!(s.take(3).unwrap().frame[0], 3);
        assert!(s.take(3).is_none() && s.get(3).is_null());
        assert!(!Slots::covers(1 << 40) && Slots::covers(CHUNK as u64 * 7 + 1));
        assert!(s.replace_if(1 << 40, std::ptr::null(), entry(4)).is_err());
        assert!(matches!(
            s.replace_if(CHUNK as u64 * 7 + 1, std::ptr::null(), entry(5)),
            Ok(None)
        ));
    }
}
