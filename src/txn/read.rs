//! [`ReadTxn`]: a stable snapshot of one committed version.

use super::{Shared, Version};
use crate::btree::cursor::RangeIter;
use crate::btree::{self, TreeRoot};
use crate::catalog;
use crate::error::{Error, Result};
use crate::store::TxnView;
use std::ops::Bound;
use std::sync::Arc;

/// A read transaction: a snapshot of the database as of the latest commit when it began.
///
/// It never blocks and is never blocked by the writer, however long it lives. It is
/// `Send + Sync + 'static` and may outlive the [`crate::Database`] it came from (the file stays
/// open and locked until the last snapshot is dropped). While it lives, the pages it can reach are
/// not reused, so a long-lived snapshot makes the file grow by at most what is freed meanwhile.
pub struct ReadTxn {
    /// Declared first so it is dropped first: its pinned cache frames go before the version that
    /// keeps its pages from reuse.
    pages: TxnView,
    version: Arc<Version>,
    shared: Arc<Shared>,
    /// Counted among its read-only handle's live snapshots (which keep their pin in the lock
    /// file's reader slot).
    counted: bool,
}

impl ReadTxn {
    /// A snapshot of the current version; `counted` if the handle counted it as live
    /// ([`Shared::begin_read`]), to be uncounted when it ends.
    pub(crate) fn begin(shared: Arc<Shared>, counted: bool) -> ReadTxn {
        let version = shared.current.load_full();
        ReadTxn {
            pages: version.view.reader(),
            version,
            shared,
            counted,
        }
    }

    /// The version this snapshot reads.
    pub(crate) fn version(&self) -> &Arc<Version> {
        &self.version
    }

    /// Id of the commit this snapshot shows.
    pub fn id(&self) -> u64 {
        self.version.txn
    }

    /// With [`crate::Backend::Cached`]: lets the cache free what this transaction may still be
    /// reading.
    ///
    /// A page the cache evicts while read transactions are reading stays allocated until they
    /// end, because the slices they returned may point into it. A long-lived reader that no longer
    /// holds any (which `&mut self` proves: no [`crate::Table`] or slice borrowed from this
    /// transaction is alive) can call this so that memory goes back to the cache's bound. The
    /// snapshot stays the same. Does nothing with the map backend.
    pub fn release_pages(&mut self) {
        self.pages.release();
    }

    /// The pages this snapshot reads.
    pub(crate) fn pages(&self) -> &TxnView {
        &self.pages
    }

    /// The root of table `name` in this snapshot's catalog. Fails with
    /// [`Error::TableNotFound`] if it does not exist. (`ReadTxn::open_table`, which makes a table
    /// of it, lives with the tables, in `table/read.rs`.)
    pub(crate) fn table_root(&self, name: &str) -> Result<TreeRoot> {
        catalog::check_name(name)?;
        self.version
            .table_root(&self.pages, name)?
            .ok_or_else(|| Error::TableNotFound(name.to_string()))
    }

    /// Names of all tables, in byte order.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        list_tables(
            &self.pages,
            TreeRoot {
                root: self.version.catalog,
                count: 0,
            },
        )
    }
}

impl Drop for ReadTxn {
    /// Uncounts the snapshot: with no other snapshot alive, its handle's reader slot stops
    /// pinning anything. No read can follow (this is the end of `self`).
    fn drop(&mut self) {
        if self.counted {
            self.shared.end_read();
        }
    }
}

/// Names of the tables in the catalog tree `catalog`.
pub(crate) fn list_tables(src: &dyn btree::PageSource, catalog: TreeRoot) -> Result<Vec<String>> {
    RangeIter::new(src, catalog.root, None, Bound::Unbounded, Bound::Unbounded)
        .map(|e| {
            let (k, _) = e?;
            // Names are written from `&str`: anything else is damage, not a name to show.
            std::str::from_utf8(k)
                .map(str::to_owned)
                .map_err(|_| crate::error::corrupted(catalog.root.pgno, "table name is not UTF-8"))
        })
        .collect()
}
