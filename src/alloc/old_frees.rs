//! Old pages freed since the last checkpoint and not in the freelist tree yet: one list that
//! the versions committed since share, each seeing the part that was there at its commit.
//!
//! An old page (one the last checkpoint reaches) that a commit frees cannot be reused before a
//! newer checkpoint is durable ([`super::Gates`]), so no writer needs to look at it again before
//! then: it only has to be remembered, by every version since, until a commit writes it into the
//! freelist tree. Copying the list into each new version (as the young pending frees are) cost
//! small commits a copy of up to a few hundred entries each; here a commit appends its own old
//! frees and the new version records the new length.

use parking_lot::Mutex;
use std::sync::Arc;

/// The old frees a version has not recorded in its freelist tree: the first `len` pages of a
/// list shared with the versions before and after it (which only grows: a writer never changes
/// what a version sees).
#[derive(Clone, Default)]
pub(crate) struct OldFrees {
    list: Arc<Mutex<Vec<u64>>>,
    len: usize,
}

impl OldFrees {
    /// Number of pages.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the pages into `out`.
    pub fn copy_into(&self, out: &mut Vec<u64>) {
        out.extend_from_slice(&self.list.lock()[..self.len]);
    }

    /// These pages and `pages` after them, for the next version. Appends to the shared list
    /// when this is its whole length; otherwise (a commit that appended to it failed, or another
    /// version already extended it) starts a list of its own with a copy of these pages first.
    pub fn with(&self, pages: &[u64]) -> OldFrees {
        if pages.is_empty() {
            return self.clone();
        }
        let mut list = self.list.lock();
        if list.len() == self.len {
            list.extend_from_slice(pages);
            return OldFrees {
                list: self.list.clone(),
                len: list.len(),
            };
        }
        let mut own = Vec::with_capacity(self.len + pages.len());
        own.extend_from_slice(&list[..self.len]);
        own.extend_from_slice(pages);
        OldFrees {
            len: own.len(),
            list: Arc::new(Mutex::new(own)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OldFrees;

    fn pages(f: &OldFrees) -> Vec<u64> {
        let mut v = Vec::new();
        f.copy_into(&mut v);
        v
    }

    #[test]
    fn each_version_keeps_its_prefix() {
        let a = OldFrees::default();
        let b = a.with(&[5, 6]);
        let c = b.with(&[]);
        let d = c.with(&[9]);
        assert_eq!(
            (pages(&a), pages(&b), pages(&c)),
            (vec![], vec![5, 6], vec![5, 6])
        );
        assert_eq!(pages(&d), vec![5, 6, 9]);
        assert_eq!((b.len(), d.len()), (2, 3));
        assert!(a.is_empty() && !b.is_empty());
    }

    #[test]
    fn a_second_branch_gets_a_list_of_its_own() {
        let a = OldFrees::default().with(&[1]);
        let b = a.with(&[2]);
        // A writer on `a` again (the commit that made `b` failed): `b` must not change.
        let c = a.with(&[3, 4]);
        assert_eq!(pages(&b), vec![1, 2]);
        assert_eq!(pages(&c), vec![1, 3, 4]);
        assert_eq!(pages(&b.with(&[7])), vec![1, 2, 7]);
    }
}
