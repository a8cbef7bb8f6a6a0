//! Whole-table scans in bounded memory: [`for_each_entry`] walks a table in chunks, letting go of
//! the pages it has read between chunks (`ReadTxn::release_pages`), so `dump` and `copy` with
//! `--cache` stay within the cache's size however large the table is. With the map backend the
//! release does nothing and the scan costs the same as one iterator.

use crate::fail::{CliResult, DbContext};
use larchdb::ReadTxn;
use std::ops::Bound;
use std::path::Path;

/// Entries per chunk.
const CHUNK: usize = 10_000;

/// Calls `f` with every entry of table `name` of `rtx` (of the database at `path`), in key order.
pub fn for_each_entry(
    rtx: &mut ReadTxn,
    path: &Path,
    name: &str,
    mut f: impl FnMut(&[u8], &[u8]) -> CliResult,
) -> CliResult {
    let mut after: Option<Vec<u8>> = None;
    loop {
        let next = {
            let table = rtx.open_table(name).on(path)?;
            let lo = after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let mut seen = 0;
            let mut last = None;
            for item in table.range((lo, Bound::Unbounded)).on(path)? {
                let (k, v) = item.on(path)?;
                f(k, v)?;
                seen += 1;
                if seen == CHUNK {
                    last = Some(k.to_vec());
                    break;
                }
            }
            last
        };
        rtx.release_pages();
        match next {
            Some(k) => after = Some(k),
            None => return Ok(()),
        }
    }
}
