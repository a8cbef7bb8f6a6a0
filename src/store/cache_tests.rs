//! Unit tests of the page cache (`cache.rs`): racing readers, coherence after commits,
//! reclamation by epochs, short reads, and large values cached as one frame.
#![allow(unsafe_code)]

use super::*;
use std::io::Write;

const PS: usize = 4096;

/// A file of `pages` pages, page `i` filled with the bytes of `i`.
fn file(pages: u64) -> File {
    let mut f = tempfile::tempfile().unwrap();
    for i in 0..pages {
        let page: Vec<u8> = i.to_le_bytes().iter().copied().cycle().take(PS).collect();
        f.write_all(&page).unwrap();
    }
    f
}

fn check(frame: &[u8], pgno: u64) {
    assert_eq!(frame.len(), PS);
    assert!(
        frame.chunks(8).all(|c| c == pgno.to_le_bytes()),
        "page {pgno} holds other contents"
    );
}

#[test]
fn threads_racing_on_a_small_cache_read_the_right_pages() {
    const PAGES: u64 = 500;
    const THREADS: u64 = 4;
    let cache = PageCache::new(file(PAGES), PS, 32 * PS, None).unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let cache = &cache;
            s.spawn(move || {
                let mut rng = crate::rng::Rng::new(t + 1);
                let mut held = Vec::new();
                for i in 0..20_000u64 {
                    let x = rng.next_u64();
                    // Half the reads on 20 hot pages, half anywhere.
                    let pgno = if i % 2 == 0 { x % 20 } else { x % PAGES };
                    let f = cache.get(pgno, 1).unwrap();
                    check(&f, pgno);
                    if i % 1000 == 0 {
                        held.push((pgno, f));
                    }
                    let resident = cache.counters.resident.load(Ordering::Relaxed);
                    let bound = 32 + 3 * THREADS as usize;
                    assert!(resident <= bound, "{resident} frames resident");
                }
                // Frames held across evictions keep their contents.
                for (pgno, f) in held {
                    check(&f, pgno);
                }
            });
        }
    });
    let s = cache.stats();
    assert_eq!(s.capacity_frames, 32);
    assert!(s.hits > 0 && s.misses > 0 && s.evictions > 0, "{s:?}");
    let [t1, t2, b1, b2] = s.arc_lists;
    assert!(
        t1 + t2 <= 32 && t1 + b1 <= 32 && t1 + t2 + b1 + b2 <= 64,
        "{s:?}"
    );
}

#[test]
fn overwrite_replaces_cached_pages_only() {
    let cache = PageCache::new(file(100), PS, 16 * PS, None).unwrap();
    let old = cache.get(5, 1).unwrap();
    let new_page = vec![0xAB; PS];
    let run = vec![0xCD; 2 * PS];
    cache.overwrite(&[(5, &new_page[..]), (50, &run[..])]);
    assert!(cache.get(5, 1).unwrap().iter().all(|&b| b == 0xAB));
    check(&old, 5); // a holder of the old frame is unaffected
                    // Page 50 was not cached: it is read from the file again.
    check(&cache.get(50, 1).unwrap(), 50);
}

#[test]
fn frames_of_an_entered_reader_outlive_eviction_until_it_leaves() {
    let cache = PageCache::new(file(200), PS, 16 * PS, None).unwrap();
    let epoch = cache.enter();
    let held: Vec<(u64, *const [u8])> = (0..8)
        .map(|p| (p, cache.get_entered(p, 1).unwrap().unwrap()))
        .collect();
    // Another reader sweeps the file twice: every frame above is evicted and retired.
    std::thread::scope(|s| {
        s.spawn(|| {
            let e = cache.enter();
            for p in (0..200).chain(0..200) {
                // SAFETY: this reader entered above and leaves after its last use.
                check(unsafe { &*cache.get_entered(p, 1).unwrap().unwrap() }, p);
            }
            cache.leave(e);
        });
    });
    let s = cache.stats();
    assert!(s.evictions >= 200 && s.retired_frames >= 8, "{s:?}");
    for (p, ptr) in held {
        // SAFETY: `epoch` has not left yet.
        check(unsafe { &*ptr }, p);
    }
    cache.leave(epoch);
    assert_eq!(
        cache.stats().retired_frames,
        0,
        "nothing waits once every reader left"
    );
    assert!(
        !cache.pool.lock().is_empty(),
        "freed frames are kept for reuse"
    );
}

#[test]
fn short_reads_are_errors() {
    let cache = PageCache::new(file(10), PS, 16 * PS, None).unwrap();
    assert!(matches!(
        cache.get(10, 1),
        Err(Error::Corrupted { page: 10, .. })
    ));
    assert!(matches!(
        cache.read_run(8, 3),
        Err(Error::Corrupted { page: 8, .. })
    ));
    assert!(matches!(
        PageCache::new(file(1), PS, 3 * PS, None),
        Err(Error::InvalidOption(_))
    ));
}

/// Whether `frame` holds pages `first..` of the test file.
fn is_run(frame: &[u8], first: u64) -> bool {
    frame.chunks(PS).enumerate().all(|(i, page)| {
        page.chunks(8)
            .all(|c| c == (first + i as u64).to_le_bytes())
    })
}

#[test]
fn runs_are_cached_as_one_frame_and_overwritten_by_commits() {
    let cache = PageCache::new(file(100), PS, 64 * PS, None).unwrap();
    let run = cache.get(10, 4).unwrap();
    assert!(run.len() == 4 * PS && is_run(&run, 10));
    let again = cache.get(10, 4).unwrap();
    assert_eq!(run.as_ptr(), again.as_ptr(), "one frame, shared");
    let s = cache.stats();
    assert_eq!((s.run_reads, s.misses, s.hits), (1, 1, 1), "{s:?}");
    assert_eq!(s.resident_frames, 4, "{s:?}");
    // A commit writes a run of the same length there: the cached frame takes its contents.
    let new_run = vec![0xAB; 4 * PS];
    cache.overwrite(&[(10, &new_run[..])]);
    assert!(cache.get(10, 4).unwrap().iter().all(|&b| b == 0xAB));
    assert!(is_run(&run, 10), "a holder of the old frame is unaffected");
    // A commit writes a single page at the run's first page: the run leaves the cache.
    let page = vec![0xCD; PS];
    cache.overwrite(&[(10, &page[..])]);
    assert_eq!(cache.stats().resident_frames, 0);
    assert!(
        is_run(&cache.get(10, 4).unwrap(), 10),
        "read from the file again"
    );
    assert_eq!(cache.stats().run_reads, 2);
}

#[test]
fn runs_weigh_their_pages_and_large_ones_stay_private() {
    // 64 frames: the policy holds 56 pages (two batches of 4 are kept apart), runs of up to 14.
    let cache = PageCache::new(file(400), PS, 64 * PS, None).unwrap();
    let epoch = cache.enter();
    for round in 0..3 {
        for first in (0..300).step_by(10) {
            let run = cache.get_entered(first, 10).unwrap().unwrap();
            // SAFETY: this reader entered above and leaves after its last use.
            let run = unsafe { &*run };
            assert!(is_run(run, first), "round {round}, run {first}");
            let resident = cache.counters.resident.load(Ordering::Relaxed);
            assert!(resident <= 64 + 20, "{resident} pages resident");
        }
    }
    let s = cache.stats();
    assert!(s.evictions > 0 && s.private_runs == 0, "{s:?}");
    assert!(
        s.arc_lists[0] + s.arc_lists[1] <= 6,
        "at most six runs of ten: {s:?}"
    );
    assert!(
        cache.get_entered(0, 16).unwrap().is_none(),
        "too large to cache"
    );
    assert!(is_run(&cache.get(0, 16).unwrap(), 0));
    assert_eq!(cache.stats().private_runs, 1);
    cache.leave(epoch);
    assert_eq!(cache.stats().retired_frames, 0);
}

#[test]
fn runs_a_commit_writes_are_cached_while_there_is_room() {
    // 64 frames: the policy holds 56 pages, runs of up to 14.
    let cache = PageCache::new(file(400), PS, 64 * PS, None).unwrap();
    let run = |b: u8| vec![b; 10 * PS];
    let (a, b) = (run(0xA1), run(0xB2));
    cache.overwrite(&[(100, &a[..]), (200, &b[..])]);
    let s = cache.stats();
    assert_eq!((s.resident_frames, s.arc_lists[0]), (20, 2), "{s:?}");
    assert!(cache.get(100, 10).unwrap().iter().all(|&x| x == 0xA1));
    assert_eq!(cache.stats().misses, 0, "read from the cache, not the file");
    // Single pages, runs too large to cache, and runs beyond the room left are not cached.
    let (page, huge) = (vec![0xC3; PS], vec![0xD4; 20 * PS]);
    let more: Vec<Vec<u8>> = (0..5).map(run).collect();
    let mut writes: Vec<(u64, &[u8])> = vec![(50, &page[..]), (300, &huge[..])];
    writes.extend(
        more.iter()
            .enumerate()
            .map(|(i, r)| (10 * i as u64, &r[..])),
    );
    cache.overwrite(&writes);
    let s = cache.stats();
    assert_eq!(
        s.resident_frames, 50,
        "three more runs fit in 56 pages: {s:?}"
    );
    assert_eq!(s.evictions, 0, "writes evict nothing: {s:?}");
    assert!(is_run(&cache.get(50, 1).unwrap(), 50), "from the file");
    assert!(is_run(&cache.get(40, 10).unwrap(), 40), "from the file");
}

#[test]
fn run_frames_are_reused_and_the_pool_keeps_the_latest_lengths() {
    // 1024 frames: run frames kept hold at most 256 KiB.
    let cache = PageCache::new(file(10), PS, 1024 * PS, None).unwrap();
    let pool = |c: &PageCache| {
        let p = c.run_pool.lock();
        (p.0.iter().map(|f| f.len() / PS).collect::<Vec<_>>(), p.1)
    };
    let small: Vec<Frame> = (0..6).map(|_| cache.run_frame(10 * PS).unwrap()).collect();
    let first = small[0].as_ptr();
    small.into_iter().for_each(|f| cache.recycle(f));
    assert_eq!(pool(&cache), (vec![10; 6], 60 * PS));
    // A frame of that length comes from the pool (the last one freed).
    let again = cache.run_frame(10 * PS).unwrap();
    assert_ne!(again.as_ptr(), first);
    cache.recycle(again);
    // Frames of another length push the oldest out, within the bound.
    let big: Vec<Frame> = (0..3).map(|_| cache.run_frame(30 * PS).unwrap()).collect();
    big.into_iter().for_each(|f| cache.recycle(f));
    let (lens, bytes) = pool(&cache);
    assert!(
        bytes <= 64 * PS && bytes == lens.iter().sum::<usize>() * PS,
        "{lens:?}"
    );
    assert_eq!(lens, [30, 30], "the oldest frames left first");
    // A frame lent out (shared) is not pooled.
    let shared = cache.run_frame(30 * PS).unwrap();
    let _lent = shared.clone();
    cache.recycle(shared);
    assert_eq!(pool(&cache), (vec![30], 30 * PS));
}

#[test]
fn page_slots_of_a_slab_cache_stay_coherent_while_threads_evict() {
    const PAGES: u64 = 6_000;
    let cache = PageCache::new(file(PAGES), PS, MIN_SLAB_CAPACITY, None).unwrap();
    assert!(
        cache.slabs.is_some(),
        "a cache this large takes its pages from slabs"
    );
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let cache = &cache;
            s.spawn(move || {
                let mut rng = crate::rng::Rng::new(t + 7);
                let mut epoch = cache.enter();
                let mut held = Vec::new();
                let mut hits = 0;
                for i in 0..30_000u64 {
                    let pgno = rng.next_u64() % PAGES;
                    let page = match cache.page_entered(pgno) {
                        Some(p) => {
                            hits += 1;
                            Some(p)
                        }
                        // None: the frames the other thread's epoch keeps from being freed
                        // reached the memory bound (it was descheduled), so the miss is not
                        // cached.
                        None => cache.get_entered(pgno, 1).unwrap(),
                    };
                    if let Some(page) = page {
                        // SAFETY: this thread entered at `epoch` and has not left since.
                        check(unsafe { &*page }, pgno);
                        held.push((pgno, page));
                    }
                    if i % 500 == 499 {
                        for &(p, page) in &held {
                            // SAFETY: as above: frames looked up since `epoch` stay allocated.
                            check(unsafe { &*page }, p);
                        }
                        held.clear();
                        cache.add_hits(std::mem::take(&mut hits));
                        cache.leave(epoch);
                        epoch = cache.enter();
                    }
                }
                cache.add_hits(hits);
                cache.leave(epoch);
            });
        }
    });
    let s = cache.stats();
    assert!(s.hits > 0 && s.evictions > 0, "{s:?}");
    assert!(s.resident_frames <= s.capacity_frames, "{s:?}");
    assert_eq!(s.retired_frames, 0, "{s:?}");
}

#[test]
fn misses_are_read_privately_while_too_many_frames_wait_for_a_reader() {
    const PAGES: u64 = 5_000;
    let cache = PageCache::new(file(PAGES), PS, 16 * PS, None).unwrap();
    let limit = cache.retired_limit;
    assert!(limit < PAGES as usize);
    // A reader stays inside the cache while every page is read: each frame evicted waits for it,
    // until the retired frames reach the limit; later misses are read privately, not cached.
    let held = cache.enter();
    for p in 0..PAGES {
        check(&cache.get(p, 1).unwrap(), p);
    }
    let s = cache.stats();
    assert_eq!(s.misses, PAGES, "{s:?}");
    assert!(s.retired_frames >= limit, "{s:?}");
    assert!(
        s.retired_frames <= limit + cache.batch,
        "memory stays bounded: {s:?}"
    );
    assert!(s.resident_frames <= s.capacity_frames, "{s:?}");
    assert!(
        cache.slots.get(PAGES - 1).is_null(),
        "the last misses were not cached"
    );
    cache.leave(held);
    assert_eq!(cache.stats().retired_frames, 0);
    // Once the reader left, misses are cached again.
    check(&cache.get(PAGES - 1, 1).unwrap(), PAGES - 1);
    assert!(!cache.slots.get(PAGES - 1).is_null());
}
