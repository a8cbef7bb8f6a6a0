//! Runs of consecutive free pages in a transaction's reusable pages.
//!
//! The freelist records single page numbers (docs/FORMAT.md section 10); the writer coalesces
//! them here, in memory: its reusable pages are kept sorted in descending order, so that adjacent
//! free pages sit next to each other and the smallest page is popped from the end.

/// Sorts `pages` in descending order (the order [`best_fit`] and [`take_tail`] expect).
pub(crate) fn sort_desc(pages: &mut [u64]) {
    pages.sort_unstable_by(|a, b| b.cmp(a));
}

/// Sorts `pages` in descending order when its first `sorted` pages already are, by moving each
/// of the others into place: a few pages join a long list without sorting it again.
pub(crate) fn insert_tail(pages: &mut [u64], sorted: usize) {
    for i in sorted..pages.len() {
        let page = pages[i];
        let at = pages[..i].partition_point(|&p| p > page);
        pages[at..=i].rotate_right(1);
    }
}

/// Takes `n` consecutive pages out of `pages` (sorted descending) from the smallest run that
/// holds `n` (best fit; among equal runs, the lowest in the file), and returns the first of them.
/// The lowest `n` pages of the run are taken, so the rest of it stays one run.
pub(crate) fn best_fit(pages: &mut Vec<u64>, n: u64) -> Option<u64> {
    let mut best: Option<(u64, usize)> = None; // (run length, index of the run's lowest page)
    let mut i = 0;
    while i < pages.len() {
        let mut j = i;
        while j + 1 < pages.len() && pages[j + 1] + 1 == pages[j] {
            j += 1;
        }
        let len = (j - i + 1) as u64;
        // `<=`: of equal runs, the later one, which is lower in the file.
        if len >= n && best.is_none_or(|(l, _)| len <= l) {
            best = Some((len, j));
        }
        i = j + 1;
    }
    let (_, low) = best?;
    let first = pages[low];
    let n = n as usize;
    pages.drain(low + 1 - n..=low);
    Some(first)
}

/// Length of the run of `pages` (sorted descending) that ends just below `end`.
pub(crate) fn tail_len(pages: &[u64], end: u64) -> u64 {
    let mut k = 0;
    while k < pages.len() && pages[k] + 1 + k as u64 == end {
        k += 1;
    }
    k as u64
}

/// Removes the run of `pages` (sorted descending) that ends just below `end` (the pages
/// `end - k .. end`), and returns `k` (0 if page `end - 1` is not in `pages`).
pub(crate) fn take_tail(pages: &mut Vec<u64>, end: u64) -> u64 {
    let k = tail_len(pages, end);
    pages.drain(..k as usize);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(v: &[u64]) -> Vec<u64> {
        let mut v = v.to_vec();
        sort_desc(&mut v);
        v
    }

    #[test]
    fn best_fit_takes_the_smallest_run_that_holds_n() {
        // Runs: 2..=4 (3 pages), 10..=11 (2), 20..=25 (6).
        let mut p = desc(&[2, 3, 4, 10, 11, 20, 21, 22, 23, 24, 25]);
        assert_eq!(best_fit(&mut p, 2), Some(10));
        assert_eq!(p, desc(&[2, 3, 4, 20, 21, 22, 23, 24, 25]));
        assert_eq!(best_fit(&mut p, 4), Some(20));
        assert_eq!(p, desc(&[2, 3, 4, 24, 25]));
        assert_eq!(best_fit(&mut p, 3), Some(2));
        assert_eq!(best_fit(&mut p, 3), None);
        assert_eq!(best_fit(&mut p, 2), Some(24));
        assert!(p.is_empty());
    }

    #[test]
    fn insert_tail_keeps_the_order() {
        let mut p = desc(&[9, 3, 7]);
        p.extend([1, 8, 10, 5]);
        insert_tail(&mut p, 3);
        assert_eq!(p, vec![10, 9, 8, 7, 5, 3, 1]);
    }

    #[test]
    fn best_fit_prefers_the_lowest_of_equal_runs() {
        let mut p = desc(&[40, 41, 7, 8, 20, 21]);
        assert_eq!(best_fit(&mut p, 2), Some(7));
        assert_eq!(best_fit(&mut p, 1), Some(20));
    }

    #[test]
    fn take_tail_removes_the_run_at_the_end() {
        let mut p = desc(&[3, 5, 8, 9, 10]);
        assert_eq!(take_tail(&mut p, 11), 3);
        assert_eq!(p, desc(&[3, 5]));
        assert_eq!(take_tail(&mut p, 11), 0);
        assert_eq!(take_tail(&mut p, 6), 1);
        assert_eq!(p, vec![3]);
    }
}
