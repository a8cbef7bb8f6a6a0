//! The B+tree: search, insert, split, delete, merge, overflow values and cursors.
//!
//! Generic over a [`PageSource`] (reads) and a [`PageStore`] (a write transaction's pages): this
//! layer knows nothing of files. Every page read from a source is validated before use, and every
//! descent is bounded by [`MAX_DEPTH`], so a damaged file yields `Error::Corrupted`, never a panic
//! or an endless loop.

mod ahead;
pub(crate) mod branches;
pub(crate) mod bulk;
pub(crate) mod cursor;
pub(crate) mod inplace;
pub(crate) mod key;
pub(crate) mod mutate;
pub(crate) mod relocate;
pub(crate) mod sweep;

use crate::error::{corrupted, Result};
use crate::page::node::{LeafValue, Node};
use crate::page::{cmp_keys, overflow_pages, overflow_value, PagePtr, HEADER_LEN, SLOT_LEN};
pub(crate) use crate::store::PageSource;

/// Deepest tree larchdb will descend. With at least two children per branch (usually over a
/// hundred) this is far more than any file can hold, so reaching it means a cycle or a damaged page.
pub(crate) const MAX_DEPTH: usize = 32;

/// Largest key for a page size: a quarter of the page.
pub(crate) fn max_key_len(page_size: usize) -> usize {
    page_size / 4
}

/// Largest leaf cell whose value stays inline; larger values move to an overflow run (unless the
/// value is at most [`crate::page::node::OVERFLOW_REF_LEN`] bytes, when a reference would not help).
pub(crate) fn max_inline_cell(page_size: usize) -> usize {
    (page_size - HEADER_LEN) / 4 - SLOT_LEN
}

/// True if a value of `vlen` bytes under a key of `klen` bytes is stored inside the leaf.
pub(crate) fn value_inline(klen: usize, vlen: usize, page_size: usize) -> bool {
    vlen <= crate::page::node::OVERFLOW_REF_LEN
        || crate::page::node::LEAF_CELL_HEADER + klen + vlen <= max_inline_cell(page_size)
}

/// A tree as a table (or the catalog, or the freelist) records it: root and entry count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TreeRoot {
    /// Root page, or null for an empty tree.
    pub root: PagePtr,
    /// Number of entries.
    pub count: u64,
}

/// Reads and validates the leaf or branch page `ptr` points at.
#[inline(always)]
pub(crate) fn node<S: PageSource + ?Sized>(s: &S, ptr: PagePtr) -> Result<Node<'_>> {
    Node::parse(ptr.pgno, s.page(ptr.pgno)?, ptr.txn)
}

/// The bytes of a leaf value: a slice of the leaf, or of its overflow run.
#[inline]
pub(crate) fn value<'a, S: PageSource + ?Sized>(s: &'a S, v: LeafValue<'a>) -> Result<&'a [u8]> {
    match v {
        LeafValue::Inline(b) => Ok(b),
        LeafValue::Overflow { ptr, len } => overflow(s, ptr, len),
    }
}

/// The value of `len` bytes in the overflow run `ptr` points at.
fn overflow<S: PageSource + ?Sized>(s: &S, ptr: PagePtr, len: u64) -> Result<&[u8]> {
    let npages = overflow_pages(len, s.page_size());
    run_value(ptr, s.run(ptr.pgno, npages)?, npages, len)
}

/// The value of `len` bytes stored in `run`, the `npages`-page overflow run `ptr` points at.
pub(crate) fn run_value(ptr: PagePtr, run: &[u8], npages: u64, len: u64) -> Result<&[u8]> {
    if crate::page::get_u32(run, crate::page::OFF_CELLS_START) != Some(npages as u32) {
        return Err(corrupted(
            ptr.pgno,
            "overflow run page count differs from its value length",
        ));
    }
    overflow_value(ptr.pgno, run, ptr.txn, len)
}

/// The keys a page reached through a branch may hold, from the separators nearest above it on
/// its path: `lower <= key < upper` (None: no bound). A page that passes its checksum but lies
/// outside its fence was moved or swapped there (or is a stale copy): an error, not data. A
/// table's root has no separators above it, but if it is a leaf it must hold exactly the table's
/// entry count (kept in the catalog), which catches another page swapped into the root's place.
///
/// A page whose checksum is seeded with its page number lies where its writer put it if the
/// checksum was verified: when the pages come from a source that verifies them
/// ([`PageSource::verifies_checksums`]), such a page passes without its keys being read
/// (docs/FORMAT.md section 8).
#[derive(Clone, Copy)]
pub(crate) struct Fence<'a> {
    lower: Option<&'a [u8]>,
    upper: Option<&'a [u8]>,
    count: Option<u64>,
    /// The pages come from a source that verifies their checksums.
    verified: bool,
}

impl<'a> Fence<'a> {
    /// The fence of a page with no separators above it, read from `s`.
    pub fn top<S: PageSource + ?Sized>(s: &S) -> Fence<'a> {
        Fence {
            lower: None,
            upper: None,
            count: None,
            verified: s.verifies_checksums(),
        }
    }

    /// The fence of a tree's root, read from `s`: if it is a leaf, it holds `count` entries
    /// (when known: a table's count; the catalog and the freelist keep none).
    pub fn root<S: PageSource + ?Sized>(s: &S, count: Option<u64>) -> Fence<'a> {
        Fence {
            count,
            ..Fence::top(s)
        }
    }

    /// The smallest key the page may hold (None: no bound).
    pub fn lower(&self) -> Option<&'a [u8]> {
        self.lower
    }

    /// The key every key of the page lies below (None: no bound).
    pub fn upper(&self) -> Option<&'a [u8]> {
        self.upper
    }

    /// The fence of child `i` of branch `n`, which lies inside this fence.
    pub fn child(self, n: &Node<'a>, i: usize) -> Result<Fence<'a>> {
        Ok(Fence {
            lower: if i > 0 { Some(n.key(i)?) } else { self.lower },
            upper: if i + 1 < n.count() {
                Some(n.key(i + 1)?)
            } else {
                self.upper
            },
            count: None,
            verified: self.verified,
        })
    }

    /// Checks that the first and last keys of `n` (separators, for a branch) lie in the fence,
    /// and that a root leaf holds the tree's entry count.
    pub fn check(&self, n: &Node<'_>) -> Result<()> {
        if let Some(c) = self.count.filter(|&c| n.is_leaf() && n.count() as u64 != c) {
            return Err(corrupted(
                n.pgno(),
                format!(
                    "the root leaf holds {} entries but its table {c} (a page moved or swapped?)",
                    n.count()
                ),
            ));
        }
        // A page whose verified checksum is seeded with its page number is where its writer
        // put it: the fence has nothing to add (docs/FORMAT.md section 8).
        let first = usize::from(!n.is_leaf());
        if (self.verified && n.seeded())
            || n.count() <= first
            || (self.lower.is_none() && self.upper.is_none())
        {
            return Ok(());
        }
        let (lo, hi) = (n.key(first)?, n.key(n.count() - 1)?);
        let below = |l| cmp_keys(lo, l) == std::cmp::Ordering::Less;
        let not_below = |u| cmp_keys(hi, u) != std::cmp::Ordering::Less;
        if self.lower.is_some_and(below) || self.upper.is_some_and(not_below) {
            return Err(corrupted(
                n.pgno(),
                "keys outside the separators that lead to the page (a page moved or swapped?)",
            ));
        }
        Ok(())
    }
}

/// Looks `key` up in the tree rooted at `root`.
///
/// A key found is right even in a page swapped with another of its tree (keys are unique in a
/// tree, and the pointer's txn rules out older pages), so only a miss descends again with every
/// page checked against its fence: a swapped page never makes a present key look absent.
pub(crate) fn get<'a, S: PageSource + ?Sized>(
    s: &'a S,
    root: PagePtr,
    key: &[u8],
) -> Result<Option<&'a [u8]>> {
    find(s, root, None, key)
}

/// Looks `key` up in the table `tree` (whose entry count fences a root leaf): as [`get`].
pub(crate) fn get_in<'a, S: PageSource + ?Sized>(
    s: &'a S,
    tree: TreeRoot,
    key: &[u8],
) -> Result<Option<&'a [u8]>> {
    find(s, tree.root, Some(tree.count), key)
}

/// [`get`], with `Fence::root(count)` for the root on the checked descent after a miss (built
/// only then).
fn find<'a, S: PageSource + ?Sized>(
    s: &'a S,
    root: PagePtr,
    count: Option<u64>,
    key: &[u8],
) -> Result<Option<&'a [u8]>> {
    if let (Some(v), _) = lookup(s, root, key, Unchecked)? {
        return Ok(Some(v));
    }
    find_checked(s, root, Fence::root(s, count), key)
}

/// After a descent without fence checks missed `key`: looks it up again with every page checked
/// against its fence (`root_fence` for the root), and the tree's depth, so that the miss can be
/// trusted.
pub(crate) fn find_checked<'a, S: PageSource + ?Sized>(
    s: &'a S,
    root: PagePtr,
    root_fence: Fence<'a>,
    key: &[u8],
) -> Result<Option<&'a [u8]>> {
    match lookup(s, root, key, root_fence)? {
        (None, depth) => {
            check_depth(s, root, depth)?;
            Ok(None)
        }
        (hit, _) => Ok(hit),
    }
}

/// After a miss in a leaf `depth` levels down: the tree's first and last leaves must be as deep
/// (all leaves are), or a leaf stands in a branch's place (or the reverse) and the miss is not to
/// be trusted. (Both ends, so that one damaged path does not vouch for itself.)
fn check_depth<S: PageSource + ?Sized>(s: &S, root: PagePtr, depth: usize) -> Result<()> {
    if root.is_null() {
        return Ok(());
    }
    for last in [false, true] {
        let mut ptr = root;
        for d in 1..=MAX_DEPTH {
            let n = node(s, ptr)?;
            if n.is_leaf() {
                if d != depth {
                    return Err(corrupted(n.pgno(), "leaves at different depths"));
                }
                break;
            }
            ptr = n.child(if last { n.count() - 1 } else { 0 })?;
            if d == MAX_DEPTH {
                return Err(too_deep(root));
            }
        }
    }
    Ok(())
}

/// The leaf of the tree at `root` whose keys' range covers `key` (its pointer from its parent),
/// None if the tree is empty: where a backup rewrites a catalog entry in its copy of the page
/// (which then looks `key` up in it). A descent of its own: making [`lookup`] also return the
/// leaf's pointer slowed `get` (criterion `get/random`, alternated: 634-766 ns before, 754-885
/// ns after).
pub(crate) fn leaf_for<S: PageSource + ?Sized>(
    s: &S,
    root: PagePtr,
    key: &[u8],
) -> Result<Option<PagePtr>> {
    let mut ptr = root;
    for _ in 0..MAX_DEPTH {
        if ptr.is_null() {
            return Ok(None);
        }
        let n = node(s, ptr)?;
        if n.is_leaf() {
            return Ok(Some(ptr));
        }
        ptr = n.child(n.child_index(key)?)?;
    }
    Err(too_deep(root))
}

/// The error for a descent past [`MAX_DEPTH`].
fn too_deep(root: PagePtr) -> crate::error::Error {
    corrupted(root.pgno, "tree deeper than the maximum depth (a cycle?)")
}

/// What a descent checks each page it enters against: nothing ([`Unchecked`]), or the page's
/// [`Fence`]. A trait rather than an `Option`, so that the descent without checks is compiled
/// without them.
trait PathCheck<'a>: Sized {
    /// Checks page `n`, entered on the path.
    fn check(&self, n: &Node<'_>) -> Result<()>;
    /// What child `i` of branch `n` is checked against.
    fn child(self, n: &Node<'a>, i: usize) -> Result<Self>;
}

/// No checks on the path: the first descent of a [`get`], whose hit can be trusted.
struct Unchecked;

impl<'a> PathCheck<'a> for Unchecked {
    #[inline(always)]
    fn check(&self, _: &Node<'_>) -> Result<()> {
        Ok(())
    }
    #[inline(always)]
    fn child(self, _: &Node<'a>, _: usize) -> Result<Self> {
        Ok(self)
    }
}

impl<'a> PathCheck<'a> for Fence<'a> {
    fn check(&self, n: &Node<'_>) -> Result<()> {
        Fence::check(self, n)
    }
    fn child(self, n: &Node<'a>, i: usize) -> Result<Self> {
        Fence::child(self, n, i)
    }
}

/// Descends from `root` to the leaf that would hold `key` and returns its value and the leaf's
/// depth (1 for a root leaf), checking every page it enters with `path` (see [`PathCheck`]).
fn lookup<'a, S: PageSource + ?Sized>(
    s: &'a S,
    root: PagePtr,
    key: &[u8],
    mut path: impl PathCheck<'a>,
) -> Result<(Option<&'a [u8]>, usize)> {
    if root.is_null() {
        return Ok((None, 0));
    }
    let mut ptr = root;
    // An exclusive range: an inclusive one keeps a flag of its own, tested every round.
    for d in 1..MAX_DEPTH + 1 {
        let n = node(s, ptr)?;
        path.check(&n)?;
        if n.is_leaf() {
            return match n.value_of(key)? {
                Some(v) => Ok((Some(value(s, v)?), d)),
                None => Ok((None, d)),
            };
        }
        let i = n.child_index(key)?;
        path = path.child(&n, i)?;
        ptr = n.child(i)?;
    }
    Err(too_deep(root))
}

/// A write transaction's pages, as the tree mutations need them.
pub(crate) trait PageStore: PageSource {
    /// Id of the writing transaction.
    fn txn(&self) -> u64;
    /// Makes the leaf or branch page `ptr` writable in this transaction (copying a committed page
    /// into a new dirty page, and freeing the original) and returns its page number.
    fn cow(&mut self, ptr: PagePtr) -> Result<u64>;
    /// The bytes of dirty page (or run) `pgno`.
    fn page_mut(&mut self, pgno: u64) -> &mut [u8];
    /// Allocates `npages` consecutive zeroed dirty pages.
    fn alloc(&mut self, npages: u64) -> Result<u64>;
    /// Frees the page or run `ptr` of `npages` pages.
    fn free(&mut self, ptr: PagePtr, npages: u64);
    /// Checks the leaf or branch page `ptr` points at before its cells are copied into pages of
    /// this transaction, as [`PageStore::cow`] does before copying a page: a damaged page must
    /// not be resealed. Free for this transaction's pages and those this handle wrote.
    fn check_copy(&self, ptr: PagePtr) -> Result<()>;
    /// Whether pages stamped with `txn` were written by this handle (this transaction, or a
    /// commit since the open): trusted without verifying their checksums, which those still in
    /// the write window do not carry yet.
    fn wrote(&self, txn: u64) -> bool;
}
