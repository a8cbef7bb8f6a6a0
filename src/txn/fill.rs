//! Short gaps between the pages a commit writes into the file directly, filled with zeros.
//!
//! **Why.** A large commit allocates new pages as it copies them, and frees some of its own
//! before it commits (a removal's merges come late in the transaction, after the last copy that
//! could have reused them): those pages are never written. The file's space is preallocated, so
//! on ext4 each never-written page splits the file's extents in two (written, unwritten,
//! written), and freeing thousands of extents later (the truncation after compaction) costs a
//! discard each on a filesystem mounted with `discard`. Measured (harness: a 1M-key load, the
//! standard writes, 500,000 removals in one transaction): the removal commit left 3,955
//! one- and two-page unwritten gaps, and compaction's one `ftruncate` of the 7,921 extents past its
//! new end took 565-618 ms of the 815-894 ms compaction. Writing such a gap (it is free: the
//! commit could have put any page there) joins the extents on each side: the same run left 18
//! extents, and compaction took 387-396 ms against 790-816 ms before (three alternations; the
//! removals themselves 900-1,515 ms against 988-1,689, their writes being fewer and longer).

/// Gaps of at most this many pages are filled; longer ones are left alone (their extents are
/// long enough that a few more cost little, and writing them would cost more I/O).
const MAX_FILL: u64 = 4;

/// The pages to fill between `runs` (each a first page number and a length in pages, sorted by
/// page number): those of every gap of at most [`MAX_FILL`] pages between two runs whose pages
/// are all in `unused`, sorted. One pass over `unused` (a checkpoint's unused pages can be a
/// hundred thousand, its short gaps a few).
pub(crate) fn pages_to_fill(runs: impl Iterator<Item = (u64, u64)>, unused: &[u64]) -> Vec<u64> {
    let mut gaps: Vec<(u64, bool)> = Vec::new();
    let mut end = None;
    for (pgno, npages) in runs {
        if let Some(end) = end.filter(|&e| pgno > e && pgno - e <= MAX_FILL) {
            gaps.extend((end..pgno).map(|p| (p, false)));
        }
        end = Some(pgno + npages);
    }
    if gaps.is_empty() {
        return Vec::new();
    }
    for p in unused {
        if let Ok(i) = gaps.binary_search_by_key(p, |&(g, _)| g) {
            gaps[i].1 = true;
        }
    }
    // A run lies between any two gaps, so each gap is a stretch of consecutive page numbers.
    (gaps.chunk_by(|a, b| b.0 == a.0 + 1))
        .filter(|gap| gap.iter().all(|&(_, free)| free))
        .flatten()
        .map(|&(p, _)| p)
        .collect()
}

/// `pages` (sorted by page number) with each page of `fill` (sorted, from [`pages_to_fill`])
/// that lies between two of them added as `zeros`, in page order.
pub(crate) fn with_fill<'a>(
    pages: &[(u64, &'a [u8])],
    fill: &[u64],
    zeros: &'a [u8],
) -> Vec<(u64, &'a [u8])> {
    let (Some(&(first, _)), Some(&(last, _))) = (pages.first(), pages.last()) else {
        return Vec::new();
    };
    let fill = &fill[fill.partition_point(|&p| p < first)..fill.partition_point(|&p| p < last)];
    let mut fill = fill.iter().peekable();
    let mut out = Vec::with_capacity(pages.len() + fill.len());
    for &(pgno, bytes) in pages {
        while let Some(&p) = fill.next_if(|&&p| p < pgno) {
            out.push((p, zeros));
        }
        out.push((pgno, bytes));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct write's two steps on `pages` (of `zeros.len()`-byte pages or runs of them).
    fn fill_gaps<'a>(
        pages: &[(u64, &'a [u8])],
        unused: &[u64],
        zeros: &'a [u8],
    ) -> Vec<(u64, &'a [u8])> {
        let ps = zeros.len();
        let runs = pages.iter().map(|(p, b)| (*p, b.len().div_ceil(ps) as u64));
        with_fill(pages, &pages_to_fill(runs, unused), zeros)
    }

    fn pgnos(v: &[(u64, &[u8])]) -> Vec<u64> {
        v.iter().map(|&(p, _)| p).collect()
    }

    #[test]
    fn short_gaps_of_unused_pages_are_filled_with_zeros() {
        let (a, b) = ([1u8; 8], [2u8; 8]);
        let zeros = [0u8; 8];
        let pages: Vec<(u64, &[u8])> = vec![(10, &a), (12, &b), (15, &a), (30, &b)];
        let unused = [
            11, 13, 14, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
        ];
        let out = fill_gaps(&pages, &unused, &zeros);
        // 11 (one page) and 13..15 (two) are filled; 16..30 is longer than MAX_FILL.
        assert_eq!(pgnos(&out), vec![10, 11, 12, 13, 14, 15, 30]);
        assert!(out
            .iter()
            .all(|&(p, b)| b == &zeros[..] || [10, 12, 15, 30].contains(&p)));
        assert_eq!(out[2].1, &b[..]);
    }

    #[test]
    fn a_gap_with_a_page_not_unused_is_left_alone() {
        let a = [1u8; 8];
        let zeros = [0u8; 8];
        let pages: Vec<(u64, &[u8])> = vec![(10, &a), (13, &a)];
        // 12 may be another version's page: nothing is written over it.
        let out = fill_gaps(&pages, &[11], &zeros);
        assert_eq!(pgnos(&out), vec![10, 13]);
    }

    #[test]
    fn only_short_gaps_made_of_unused_pages_are_kept() {
        // Pages 10, 12-13 (a run of two), 15, 30: gaps 11, 14, and 16..30 (too long).
        let pages = [(10, 1), (12, 2), (15, 1), (30, 1)].into_iter();
        let unused = [40, 14, 20, 11, 3];
        assert_eq!(pages_to_fill(pages, &unused), vec![11, 14]);
        assert!(pages_to_fill([(10, 1), (11, 1)].into_iter(), &unused).is_empty());
    }

    #[test]
    fn a_run_ends_where_its_pages_end() {
        let run = [1u8; 24];
        let (a, zeros) = ([2u8; 8], [0u8; 8]);
        // The run 10..13 is followed by page 14: only 13 is a gap.
        let pages: Vec<(u64, &[u8])> = vec![(10, &run), (14, &a)];
        let out = fill_gaps(&pages, &[11, 12, 13], &zeros);
        assert_eq!(pgnos(&out), vec![10, 13, 14]);
    }
}
