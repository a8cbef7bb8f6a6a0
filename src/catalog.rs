//! The catalog: a tree mapping table names to their roots and entry counts.
//!
//! Catalog value: `root pgno u64 LE | root txn u64 LE | entry count u64 LE`.

use crate::btree::TreeRoot;
use crate::error::{corrupted, Error, Result};
use crate::page::{get_u64, PagePtr};

/// Length of a catalog value.
pub(crate) const CATALOG_VALUE_LEN: usize = 24;

/// Longest table name, in bytes.
pub const MAX_TABLE_NAME_LEN: usize = 255;

/// Encodes a table's root and count.
pub(crate) fn encode(t: &TreeRoot) -> [u8; CATALOG_VALUE_LEN] {
    let mut b = [0u8; CATALOG_VALUE_LEN];
    b[..8].copy_from_slice(&t.root.pgno.to_le_bytes());
    b[8..16].copy_from_slice(&t.root.txn.to_le_bytes());
    b[16..].copy_from_slice(&t.count.to_le_bytes());
    b
}

/// Decodes a catalog value found in catalog page `page`.
pub(crate) fn decode(page: u64, b: &[u8]) -> Result<TreeRoot> {
    if b.len() != CATALOG_VALUE_LEN {
        return Err(corrupted(page, "catalog entry of the wrong length"));
    }
    let f = |o| get_u64(b, o).unwrap_or(0);
    Ok(TreeRoot {
        root: PagePtr {
            pgno: f(0),
            txn: f(8),
        },
        count: f(16),
    })
}

/// Checks a table name: 1..=255 bytes.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_TABLE_NAME_LEN {
        return Err(Error::InvalidTableName(name.to_string()));
    }
    Ok(())
}
