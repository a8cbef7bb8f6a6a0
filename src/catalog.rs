//! The catalog: a tree mapping table names to their roots and entry counts.
//!
//! Catalog value: `root pgno u64 LE | root txn u64 LE | entry count u64 LE`
//! (`page::layout::CatalogValue`).
#![deny(clippy::indexing_slicing)]

use crate::btree::TreeRoot;
use crate::error::{corrupted, Error, Result};
use crate::page::layout::CatalogValue;
use zerocopy::FromBytes;

/// Length of a catalog value.
pub(crate) const CATALOG_VALUE_LEN: usize = 24;

/// Longest table name, in bytes.
pub const MAX_TABLE_NAME_LEN: usize = 255;

/// Encodes a table's root and count.
pub(crate) fn encode(t: &TreeRoot) -> [u8; CATALOG_VALUE_LEN] {
    zerocopy::transmute!(CatalogValue {
        root: t.root.into(),
        count: t.count.into(),
    })
}

/// Decodes a catalog value found in catalog page `page`.
pub(crate) fn decode(page: u64, b: &[u8]) -> Result<TreeRoot> {
    let v = CatalogValue::ref_from_bytes(b)
        .map_err(|_| corrupted(page, "catalog entry of the wrong length"))?;
    Ok(TreeRoot {
        root: v.root.into(),
        count: v.count.get(),
    })
}

/// Checks a table name: 1..=255 bytes.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_TABLE_NAME_LEN {
        return Err(Error::InvalidTableName(name.to_string()));
    }
    Ok(())
}
