//! Opening a file: initialising an empty one, choosing the meta slot to trust, and verifying the
//! pages of the most recent commits before trusting them.
//!
//! The newest meta slot whose checksum verifies is taken if the file is long enough for it and
//! every page written after the other slot's commit verifies too (a crash before the commit's
//! sync may have left some unwritten); otherwise the other slot, the last durable commit.

use crate::error::{corrupted, Error, Result};
use crate::integrity::verify_since;
use crate::page::meta::{Meta, MetaRead, META_LEN, META_OFF_VERSION};
use crate::page::{PagePtr, MAX_PAGE_SIZE, MIN_PAGE_SIZE};
use crate::store::{Backing, FileStore, View};

/// The commit a file opens at.
pub(crate) struct Recovered {
    /// Its meta.
    pub meta: Meta,
    /// The slot (0 or 1) holding it.
    pub slot: u64,
    /// A view of its pages, through the backend chosen at open.
    pub view: View,
    /// What was rolled back or repaired on the way, if anything.
    pub report: Option<Recovery>,
}

/// What opening a file rolled back or repaired: see [`crate::Database::recovery`].
///
/// A commit interrupted by a crash (before its sync completed) and a commit whose pages were
/// damaged afterwards look the same on disk; either way the previous commit is opened. This report
/// is how a caller (or `larch check`) learns that it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The newer commit that was rolled back, when its meta slot was readable.
    pub discarded_txn: Option<u64>,
    /// The commit the database opened at.
    pub opened_txn: u64,
    /// The first problem found (a damaged meta slot, a page that failed verification, ...).
    pub reason: String,
}

/// The meta of a new, empty database.
fn initial_meta(page_size: usize) -> Meta {
    Meta {
        page_size: page_size as u32,
        txn: 0,
        catalog: PagePtr::NULL,
        freelist: PagePtr::NULL,
        page_count: 2,
        log: (0, 0),
        log_gen: 0,
        log_align: crate::page::meta::RECORD_ALIGN,
    }
}

/// The bytes of a new database file: two meta pages naming an empty database.
fn initial_image(page_size: usize) -> Vec<u8> {
    let mut image = vec![0u8; 2 * page_size];
    let meta = initial_meta(page_size).encode();
    image[..META_LEN].copy_from_slice(&meta);
    image[page_size..page_size + META_LEN].copy_from_slice(&meta);
    image
}

/// Writes a new empty database of `page_size` into the (empty or torn-at-creation) file.
fn initialise(store: &FileStore, page_size: usize) -> Result<()> {
    store.set_len(0)?;
    store.write_at(&initial_image(page_size), 0)?;
    store.sync()
}

/// Page sizes a file could have, for finding meta slot 1 when slot 0 is unreadable.
fn page_sizes() -> impl Iterator<Item = usize> {
    (MIN_PAGE_SIZE.trailing_zeros()..=MAX_PAGE_SIZE.trailing_zeros()).map(|s| 1usize << s)
}

/// If the file is what a crash while creating a database leaves (a prefix of the initial image,
/// any part of it possibly still zero), the page size to recreate it with.
fn torn_creation(store: &FileStore, len: u64, wanted: usize) -> Result<Option<usize>> {
    if len > 2 * MAX_PAGE_SIZE as u64 {
        return Ok(None);
    }
    let mut bytes = vec![0u8; len as usize];
    let n = store.read_at(&mut bytes, 0)?;
    bytes.truncate(n);
    let matches = |ps: usize| {
        let image = initial_image(ps);
        bytes.len() <= image.len() && bytes.iter().zip(&image).all(|(&a, &b)| a == b || a == 0)
    };
    if matches(wanted) {
        return Ok(Some(wanted));
    }
    Ok(page_sizes().find(|&ps| matches(ps)))
}

/// The bytes of the meta slot at byte `offset`: the buffer and how many of them the file has.
fn slot_bytes(store: &FileStore, offset: u64) -> Result<([u8; META_LEN], usize)> {
    let mut b = [0u8; META_LEN];
    let n = store.read_at(&mut b, offset)?;
    Ok((b, n))
}

/// Reads the meta slot at byte `offset`.
fn read_slot(store: &FileStore, offset: u64) -> Result<MetaRead> {
    let (b, n) = slot_bytes(store, offset)?;
    Ok(if n >= 8 {
        Meta::decode(&b[..n])
    } else {
        MetaRead::Foreign
    })
}

/// The format version of the file's newest valid meta slot (pages of `page_size`): what the file
/// is now. An older file keeps its version until a writable handle checkpoints it (a read-only
/// handle never does), so [`crate::Database::stats`] reads it here rather than assume the
/// version this build writes. None if neither slot is valid.
pub(crate) fn format_version(store: &FileStore, page_size: usize) -> Result<Option<u32>> {
    let mut newest: Option<((u64, u64), u32)> = None;
    for offset in [0, page_size as u64] {
        let (b, n) = slot_bytes(store, offset)?;
        if let MetaRead::Valid(m) = Meta::decode(&b[..n]) {
            let version = crate::page::get_u32(&b, META_OFF_VERSION).unwrap_or(0);
            // Newest as recovery orders slots: by txn id, then log generation.
            let order = (m.txn, m.log_gen);
            if newest.is_none_or(|(o, _)| order > o) {
                newest = Some((order, version));
            }
        }
    }
    Ok(newest.map(|(_, version)| version))
}

/// How recovery reads pages: the backing for a file of `bytes` bytes with pages of `page_size`.
pub(crate) type OpenBacking<'a> = dyn Fn(u64, usize) -> Result<Backing> + 'a;

/// Opens the database in `store`: initialises an empty file (unless `read_only`), then recovers
/// the latest commit that is entirely on disk, reading its pages through `backing`.
pub(crate) fn recover(
    store: &FileStore,
    page_size: usize,
    read_only: bool,
    backing: &OpenBacking<'_>,
) -> Result<Recovered> {
    if store.len()? == 0 {
        if read_only {
            return Err(Error::NotADatabase);
        }
        initialise(store, page_size)?;
    }
    match choose(store, backing) {
        Err(e @ (Error::NotADatabase | Error::Corrupted { .. })) => {
            let len = store.len()?;
            match torn_creation(store, len, page_size)? {
                Some(ps) if !read_only => {
                    initialise(store, ps)?;
                    let mut r = choose(store, backing)?;
                    r.report = Some(Recovery {
                        discarded_txn: None,
                        opened_txn: r.meta.txn,
                        reason:
                            "the file was left by an interrupted creation and was initialised again"
                                .into(),
                    });
                    Ok(r)
                }
                _ => Err(e),
            }
        }
        r => r,
    }
}

/// Picks the meta slot to open at.
fn choose(store: &FileStore, backing: &OpenBacking<'_>) -> Result<Recovered> {
    let len = store.len()?;
    let slot0 = read_slot(store, 0)?;
    let mut seen_magic = !matches!(slot0, MetaRead::Foreign);
    let mut damaged_slot = matches!(slot0, MetaRead::Damaged).then_some(0u64);
    let mut unsupported = match slot0 {
        MetaRead::Unsupported(v) => Some(v),
        _ => None,
    };
    let mut slots: Vec<(u64, Meta)> = Vec::new();
    let sizes: Vec<usize> = match &slot0 {
        MetaRead::Valid(m) => {
            slots.push((0, *m));
            vec![m.page_size as usize]
        }
        _ => page_sizes().collect(),
    };
    for ps in sizes {
        match read_slot(store, ps as u64)? {
            MetaRead::Valid(m) if m.page_size as usize == ps => {
                slots.push((1, m));
                seen_magic = true;
                break;
            }
            MetaRead::Foreign => {}
            MetaRead::Unsupported(v) => {
                unsupported.get_or_insert(v);
                seen_magic = true;
            }
            MetaRead::Damaged if slots.len() == 1 => {
                seen_magic = true;
                damaged_slot = Some(1);
            }
            _ => seen_magic = true,
        }
    }
    if slots.is_empty() {
        if let Some(v) = unsupported {
            return Err(Error::UnsupportedVersion {
                found: v,
                supported: crate::page::meta::FORMAT_VERSION,
            });
        }
        return Err(if seen_magic {
            corrupted(0, "both meta slots are damaged")
        } else {
            Error::NotADatabase
        });
    }
    // A slot that is not Valid beside a Valid one may have held the newest commit (nothing on
    // disk says otherwise), so the open is reported as a rollback: torn (the magic is there but
    // the checksum fails) or unreadable (zeroed, overwritten, or another page moved there).
    let unreadable = (slots.len() == 1).then(|| (1 - slots[0].0, damaged_slot.is_some()));
    // Newest first; on a tie (a new file) slot 0.
    // (A writable open re-checkpoints the same commit in a new log generation: the newer one.)
    slots.sort_by_key(|&(slot, m)| (std::cmp::Reverse((m.txn, m.log_gen)), slot));
    let mut last_err = None;
    for (i, &(slot, m)) in slots.iter().enumerate() {
        let ps = m.page_size as u64;
        let bytes = m.page_count.saturating_mul(ps);
        if bytes > len {
            last_err = Some(corrupted(
                slot,
                format!(
                    "commit {} needs {bytes} bytes but the file has {len}",
                    m.txn
                ),
            ));
            continue;
        }
        // Pages written after the other slot's commit may be missing; older ones were synced.
        let since = match slots.get(i + 1) {
            Some(&(_, other)) if i == 0 && other.txn < m.txn => other.txn,
            _ => m.txn.saturating_sub(1),
        };
        let view = View::new(backing(bytes, ps as usize)?, m.page_count, ps as usize);
        match verify_since(&view.reader(), m.catalog, m.freelist, since) {
            Ok(()) => {
                let report = match (&last_err, unreadable) {
                    (Some(e), _) => Some(Recovery {
                        discarded_txn: Some(slots[0].1.txn),
                        opened_txn: m.txn,
                        reason: e.to_string(),
                    }),
                    (None, Some((d, torn))) => Some(Recovery {
                        discarded_txn: None,
                        opened_txn: m.txn,
                        reason: if torn {
                            format!(
                                "meta slot {d} is damaged (a commit interrupted while writing \
                                 it, or damage); the other slot's commit was opened"
                            )
                        } else {
                            format!(
                                "meta slot {d} holds no larchdb meta (zeroed, overwritten or \
                                 replaced by another page: damage); the other slot's commit \
                                 was opened"
                            )
                        },
                    }),
                    (None, None) => None,
                };
                return Ok(Recovered {
                    meta: m,
                    slot,
                    view,
                    report,
                });
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| corrupted(0, "no usable meta slot")))
}
