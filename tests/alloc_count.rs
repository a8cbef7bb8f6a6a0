//! The small-key write path allocates nothing on the heap besides page buffers: overwrites of
//! pages already dirty in the transaction allocate nothing at all, and new keys allocate only
//! when a split needs a page. Counted with a counting global allocator, on the thread that runs
//! the write path only: the background sync thread allocates once at its first tick (its first
//! load of the current version registers it with `arc_swap`), whenever that falls.
#![allow(unsafe_code)] // a counting global allocator

use larchdb::{Database, Durability};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

mod common;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set on the thread whose allocations count.
    static COUNTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Counts an allocation if the calling thread's count.
fn count() {
    if COUNTED.try_with(|c| c.get()).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts allocations.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn key(i: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    k[8..16].copy_from_slice(&i.to_le_bytes());
    k
}

/// On both backends, one after the other: the allocation counter is global, so the two must not
/// run at once.
#[test]
fn small_key_inserts_do_not_allocate() {
    COUNTED.with(|c| c.set(true));
    count_write_path_allocations();
    common::cached(count_write_path_allocations);
}

fn count_write_path_allocations() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .durability(Durability::Eventual)
        .open(dir.path().join("a.larch"))
        .unwrap();
    let w = db.begin_write().unwrap();
    let mut t = w.open_table("t").unwrap();
    for i in 0..50_000 {
        t.insert(&key(i), &[7u8; 100]).unwrap();
    }
    // Overwrites (same value size) of keys whose pages are dirty already: no allocation at all.
    let before = ALLOCS.load(Ordering::Relaxed);
    for i in 0..50_000 {
        t.insert(&key(i), &[8u8; 100]).unwrap();
    }
    let overwrite_allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(
        overwrite_allocs, 0,
        "overwrites allocated {overwrite_allocs} times"
    );

    // New keys: allocations come only from page buffers for splits (and rare map growth).
    let before = ALLOCS.load(Ordering::Relaxed);
    for i in 50_000..100_000 {
        t.insert(&key(i), &[9u8; 100]).unwrap();
    }
    let insert_allocs = ALLOCS.load(Ordering::Relaxed) - before;
    // 50,000 entries of ~134 bytes fill about 2,300 pages at 70% fill.
    assert!(
        insert_allocs < 4_000,
        "{insert_allocs} allocations for 50,000 inserts"
    );

    // Removals (with merges): only the amortised growth of the lists that keep the pages merges
    // free for reuse, which is logarithmic in their length, never per removal.
    let before = ALLOCS.load(Ordering::Relaxed);
    for i in 0..50_000 {
        assert!(t.remove(&key(i)).unwrap());
    }
    let remove_allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert!(
        remove_allocs <= 40,
        "removals allocated {remove_allocs} times"
    );
    w.commit().unwrap();
    db.check().unwrap();
}
