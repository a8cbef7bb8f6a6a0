//! Opening's last step on a writable handle: replaying the commit log over the checkpoint that
//! recovery chose, and starting a new log generation (docs/FORMAT.md section 15).
//!
//! The records after a checkpoint are logical operations; they are applied in order in one write
//! transaction, which is committed as a checkpoint. A file with no records still gets a
//! checkpoint of a new generation, so that records this run writes can never be mistaken for
//! records an earlier run left beyond the end of the log.

use crate::error::Result;
use crate::page::meta::Meta;
use crate::recovery::Recovery;
use crate::store::FileStore;
use crate::txn::log::{self, Op, Record};
use crate::txn::write::WriteTxn;
use crate::txn::Shared;
use std::sync::Arc;

/// The complete records of the log after the checkpoint `meta`, in order, and what a damaged
/// record cost (see [`log::Scan::damaged`]), as a rollback report.
pub(crate) fn read_log(store: &FileStore, meta: &Meta) -> Result<(Vec<Record>, Option<Recovery>)> {
    let (start, pages) = meta.log;
    if pages == 0 {
        return Ok((Vec::new(), None));
    }
    let ps = meta.page_size as u64;
    let region = (start * ps, pages * ps);
    let scan = log::scan(store, region, meta.log_gen, meta.txn, meta.log_align)?;
    let report = scan.damaged.map(|(offset, later)| Recovery {
        discarded_txn: Some(later),
        opened_txn: scan.records.last().map_or(meta.txn, |r| r.txn),
        reason: format!(
            "commit log record at byte {} of page {start} is damaged: commits from it on \
             (at least up to {later}) were not replayed",
            offset
        ),
    });
    Ok((scan.records, report))
}

/// Replays `records` (read from the log region starting at page `log_page`) and checkpoints the
/// result, or, with no records, makes the opened checkpoint durable in a new log generation. A
/// read-only handle replays them in memory (the file is not written) and publishes the result.
pub(crate) fn apply(shared: &Arc<Shared>, records: &[Record], log_page: u64) -> Result<()> {
    let read_only = shared.config.read_only;
    if records.is_empty() {
        return if read_only {
            Ok(())
        } else {
            shared.restart_log()
        };
    }
    let mut w = if read_only {
        WriteTxn::begin_replay(shared.clone())?
    } else {
        let mut w = WriteTxn::begin(shared.clone())?;
        w.force_checkpoint();
        w
    };
    let mut table = String::new();
    for r in records {
        for op in log::ops(&r.ops, log_page)? {
            match op {
                Op::Table(name) => {
                    w.open_table(name)?;
                    table = name.to_string();
                }
                Op::Insert(k, v) => w.open_table(&table)?.insert(k, v)?,
                Op::Remove(k) => {
                    w.open_table(&table)?.remove(k)?;
                }
                Op::DeleteTable(name) => {
                    w.delete_table(name)?;
                }
            }
        }
    }
    if read_only {
        w.commit_in_memory()
    } else {
        w.commit()
    }
}
