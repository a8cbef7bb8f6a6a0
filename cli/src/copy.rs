//! `larch copy SRC DST [--compact]`: a consistent copy of one read snapshot.
//!
//! Without `--compact` the copy is physical: `ReadTxn::backup_to` copies every page the snapshot
//! reaches to the same place in the new file (free pages stay holes), which works while the same
//! process goes on writing. With `--compact` it is logical: every table is inserted into a new
//! file entry by entry, in key order. Sequential inserts take larchdb's append-split path, so the
//! pages come out full and the copy holds no free pages: it is as compact as the data allows.

use crate::batch::{BatchWriter, DEFAULT_BATCH};
use crate::fail::{check_source, open_existing, same_file, CliResult, DbContext, Fail};
use crate::progress::{self, count, STEP};
use crate::scan::for_each_entry;
use indicatif::HumanBytes;
use std::path::Path;

/// Removes a half-written destination unless disarmed.
struct RemoveOnDrop<'a>(Option<&'a Path>);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Flags of `larch copy`.
#[derive(Clone, Copy)]
pub struct CopyOpts {
    /// Report the copy as a compaction.
    pub compact: bool,
    /// Replace an existing destination.
    pub force: bool,
    /// Skip the integrity check of the source.
    pub no_check: bool,
    /// No progress bars.
    pub quiet: bool,
}

/// `larch copy SRC DST [--compact] [--force] [--no-check]`: checks SRC (unless `no_check`), then
/// copies one snapshot of it into the new file DST.
pub fn copy(src: &Path, dst: &Path, o: CopyOpts) -> CliResult {
    let CopyOpts {
        compact,
        force,
        no_check,
        quiet,
    } = o;
    let sdb = open_existing(src, false)?;
    let replace = dst.exists();
    if replace {
        if same_file(src, dst) {
            return Err(Fail::error(format!(
                "{}: the destination is the source database",
                dst.display()
            )));
        }
        if !force {
            return Err(Fail::error(format!(
                "{}: the destination exists (use --force to replace it)",
                dst.display()
            )));
        }
    }
    if !no_check {
        check_source(&sdb, src, quiet)?;
    }
    if replace {
        std::fs::remove_file(dst).map_err(|e| Fail::io(dst.display(), e))?;
    }
    let mut rtx = sdb.begin_read().on(src)?;
    let names = rtx.list_tables().on(src)?;
    let mut total = 0u64;
    for name in &names {
        total += rtx.open_table(name).on(src)?.len().on(src)?;
    }
    let n = if compact {
        logical_copy(&sdb, &mut rtx, src, dst, &names, total, quiet)?
    } else {
        rtx.backup_to(dst).on(dst)?;
        total
    };
    report(src, dst, compact, names.len() as u64, n, rtx.id());
    Ok(())
}

/// Inserts every entry of `rtx`'s tables `names` (`total` entries) into the new database `dst`,
/// in key order; returns the entries copied.
fn logical_copy(
    sdb: &larchdb::Database,
    rtx: &mut larchdb::ReadTxn,
    src: &Path,
    dst: &Path,
    names: &[String],
    total: u64,
    quiet: bool,
) -> Result<u64, Fail> {
    let mut guard = RemoveOnDrop(Some(dst));
    let ddb = crate::backend::builder()
        .page_size(sdb.page_size())
        .open(dst)
        .on(dst)?;
    let pb = progress::bar(quiet, total, "compact");
    let mut w = BatchWriter::new(&ddb, DEFAULT_BATCH);
    let mut n = 0u64;
    for name in names {
        w.create_table(name).on(dst)?;
        for_each_entry(rtx, src, name, |k, v| {
            w.insert(name, k, v).on(dst)?;
            n += 1;
            if n % STEP == 0 {
                pb.inc(STEP);
            }
            Ok(())
        })?;
    }
    w.finish().on(dst)?;
    pb.finish_and_clear();
    drop(ddb);
    guard.0 = None;
    Ok(n)
}

/// Prints what a copy of `tables` tables and `n` entries (snapshot `txn`) did to the sizes.
fn report(src: &Path, dst: &Path, compact: bool, tables: u64, n: u64, txn: u64) {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let (a, b) = (size(src), size(dst));
    let verb = if compact { "compacted" } else { "copied" };
    println!(
        "{verb} {}, {} (snapshot of txn {}) from {} to {}",
        count(tables, "table", "tables"),
        count(n, "entry", "entries"),
        txn,
        src.display(),
        dst.display()
    );
    println!(
        "  {:<12} {:>12} ({a} bytes)",
        "source",
        HumanBytes(a).to_string()
    );
    let change = if a > 0 {
        let pct = (b as f64 / a as f64 - 1.0) * 100.0;
        if pct <= 0.0 {
            format!(", {:.1}% smaller", -pct)
        } else {
            format!(", {pct:.1}% larger")
        }
    } else {
        String::new()
    };
    println!(
        "  {:<12} {:>12} ({b} bytes{change})",
        "destination",
        HumanBytes(b).to_string()
    );
}
