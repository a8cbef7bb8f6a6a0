//! Online backup: [`ReadTxn::backup_to`] writes a consistent copy of one snapshot to a new file
//! while writers go on, and [`Database::backup`](crate::Database::backup) takes a snapshot of the
//! latest commit and copies it, compacted if asked.
//!
//! The copy is physical: every page the snapshot reaches (catalog, tables, overflow runs, the
//! freelist tree) is copied to the same page number, so checksums and pointers stay valid; free
//! pages and the commit log region stay zero (sparse), and both meta slots name the snapshot's
//! commit. The snapshot keeps those pages from being reused while it lives, so the copy is
//! consistent whatever commits meanwhile. The snapshot is checked on the way (the whole integrity
//! walk of [`crate::Database::check`]): a damaged database is not copied.

use crate::btree::{self, PageSource};
use crate::catalog;
use crate::error::{corrupted, Result};
use crate::page::meta::Meta;
use crate::page::node::Node;
use crate::store::TxnView;
use crate::txn::read::ReadTxn;
use crate::txn::Version;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// What a backup wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backup {
    /// Id of the commit the copy holds.
    pub txn: u64,
    /// Length of the copy in bytes (free pages and the log region are holes).
    pub file_size: u64,
    /// Bytes of pages copied.
    pub bytes_copied: u64,
}

impl ReadTxn {
    /// Writes a copy of this snapshot to a new file at `path` (which must not exist: the call
    /// fails with [`Error::Io`](crate::Error::Io) of kind `AlreadyExists` otherwise), synced
    /// before it returns. Writers may go on meanwhile; the copy holds exactly this snapshot's
    /// commit. The snapshot is checked on the way, and a damaged one gives
    /// [`Error::Corrupted`](crate::Error::Corrupted) (the partial copy is removed). The copy is as large as the snapshot's `page_count`; see
    /// [`crate::Database::backup`] for a compacted copy.
    pub fn backup_to(&self, path: impl AsRef<Path>) -> Result<Backup> {
        let path = path.as_ref();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        // A copy whose free pages are then recorded is synced by that step's checkpoint.
        let r = self.write_copy(&mut file, !self.version().has_unrecorded_free());
        drop(file);
        let r = r.and_then(|b| self.record_free_in_copy(path).map(|()| b));
        if r.is_err() {
            let _ = std::fs::remove_file(path);
        }
        r
    }

    /// If this snapshot has free pages its freelist tree does not record (taken or freed since
    /// the last checkpoint, kept in memory), opens the copy at `path` and records them there with
    /// one checkpoint, so that the copy accounts for every page.
    fn record_free_in_copy(&self, path: &Path) -> Result<()> {
        let v = self.version();
        if !v.has_unrecorded_free() {
            return Ok(());
        }
        let free = v.unrecorded_free();
        let copy = crate::Database::builder()
            .page_size(v.view.page_size())
            .sync_interval(None)
            .open(path)?;
        copy.record_free(&free)
    }

    /// Writes the copy into `file` (new and empty), synced if `sync`.
    fn write_copy(&self, file: &mut std::fs::File, sync: bool) -> Result<Backup> {
        let v = self.version();
        let ps = v.view.page_size() as u64;
        let page_count = v.view.page_count();
        let (_, extents) = crate::integrity::check_extents(v, page_count * ps)?;
        let file_size = page_count * ps;
        file.set_len(file_size)?;
        let reader = v.view.reader();
        let patched = patched_catalog_leaves(v, &reader)?;
        let mut bytes_copied = 0;
        for (pgno, n) in extents {
            match patched.iter().find(|(p, _)| *p == pgno) {
                Some((_, page)) if n == 1 => file.write_all_at(page, pgno * ps)?,
                _ => {
                    // Lent without pinning, so that the cached backend stays within its memory.
                    let bytes = reader.lend(pgno, n)?;
                    file.write_all_at(&bytes, pgno * ps)?;
                }
            }
            bytes_copied += n * ps;
        }
        let meta = Meta {
            page_size: ps as u32,
            txn: v.txn,
            catalog: v.catalog,
            freelist: v.freelist,
            page_count,
            log: v.log,
            log_gen: 1,
            log_align: crate::page::meta::RECORD_ALIGN,
        };
        let bytes = meta.encode();
        file.write_all_at(&bytes, 0)?;
        file.write_all_at(&bytes, ps)?;
        file.flush()?;
        if sync {
            file.sync_all()?;
        }
        Ok(Backup {
            txn: v.txn,
            file_size,
            bytes_copied,
        })
    }
}

/// The leaves of `v`'s catalog tree whose entries name older roots of tables that `v` keeps
/// out of it (`Version::deferred`), as the copy must hold them: each a copy of the page with
/// those entries' values rewritten (a catalog value has a fixed length) and sealed again.
fn patched_catalog_leaves(v: &Version, reader: &TxnView) -> Result<Vec<(u64, Vec<u8>)>> {
    let mut pages: Vec<(u64, Vec<u8>)> = Vec::new();
    for d in v.deferred.iter() {
        let key = d.name.as_bytes();
        let missing = || {
            corrupted(
                v.catalog.pgno,
                format!("no catalog entry of table {:?}", d.name),
            )
        };
        let leaf = btree::leaf_for(reader, v.catalog, key)?.ok_or_else(missing)?;
        let i = match pages.iter().position(|(p, _)| *p == leaf.pgno) {
            Some(i) => i,
            None => {
                pages.push((leaf.pgno, reader.page(leaf.pgno)?.to_vec()));
                pages.len() - 1
            }
        };
        let page = &mut pages[i].1;
        let range = Node::parse(leaf.pgno, page, leaf.txn)?
            .inline_value_range(key)?
            .filter(|r| r.len() == catalog::CATALOG_VALUE_LEN)
            .ok_or_else(missing)?;
        page[range].copy_from_slice(&catalog::encode(&d.tree));
    }
    for (pgno, page) in pages.iter_mut() {
        crate::page::seal(page, *pgno);
    }
    Ok(pages)
}
