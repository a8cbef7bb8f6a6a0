//! `larch stat` and `larch check`.

use crate::fail::{open_existing, CliResult, DbContext, Fail};
use crate::progress;
use indicatif::HumanBytes;
use larchdb::{Error, Stats};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// `larch stat PATH [--json]`.
pub fn stat(path: &Path, as_json: bool, quiet: bool) -> CliResult {
    let db = open_existing(path, false)?;
    let sp = progress::spinner(quiet, "reading statistics");
    let s = db.stats().on(path);
    sp.finish_and_clear();
    let s = s?;
    let text = if as_json {
        serde_json::to_string_pretty(&to_json(path, &s)).expect("JSON of plain values") + "\n"
    } else {
        summary(path, &s)
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| Fail::io("stdout", e))
}

/// The statistics as a JSON value.
fn to_json(path: &Path, s: &Stats) -> serde_json::Value {
    let tables: Vec<_> = s
        .tables
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "entries": t.entries,
                "depth": t.depth,
                "leaf_pages": t.leaf_pages,
                "branch_pages": t.branch_pages,
                "overflow_pages": t.overflow_pages,
                "used_bytes": t.used_bytes,
            })
        })
        .collect();
    json!({
        "path": path.display().to_string(),
        "format_version": s.format_version,
        "page_size": s.page_size,
        "txn_id": s.txn_id,
        "file_size": s.file_size,
        "page_count": s.page_count,
        "pages": {
            "meta": s.meta_pages,
            "catalog": s.catalog_pages,
            "freelist": s.freelist_pages,
            "leaf": s.leaf_pages,
            "branch": s.branch_pages,
            "overflow": s.overflow_pages,
            "log": s.log_pages,
            "free": s.free_pages,
        },
        "fill_factor": s.fill_factor(),
        "tables": tables,
        "cache": s.cache.as_ref().map(|c| json!({
            "capacity_bytes": c.capacity_bytes,
            "capacity_frames": c.capacity_frames,
            "resident_frames": c.resident_frames,
            "hits": c.hits,
            "misses": c.misses,
            "hit_rate": c.hit_rate(),
            "evictions": c.evictions,
            "run_reads": c.run_reads,
            "arc_target_t1": c.target_t1,
            "arc_lists": { "t1": c.arc_lists[0], "t2": c.arc_lists[1], "b1": c.arc_lists[2], "b2": c.arc_lists[3] },
        })),
    })
}

/// The human-readable statistics (also printed by `larch demo`).
pub fn summary(path: &Path, s: &Stats) -> String {
    let mut o = String::new();
    let used = s.page_count * s.page_size as u64;
    let line = |o: &mut String, k: &str, v: String| o.push_str(&format!("{k:<13} {v}\n"));
    line(&mut o, "file", path.display().to_string());
    line(
        &mut o,
        "format",
        format!("version {}, page size {}", s.format_version, s.page_size),
    );
    line(&mut o, "last txn", s.txn_id.to_string());
    line(
        &mut o,
        "file size",
        format!("{} ({} bytes)", HumanBytes(s.file_size), s.file_size),
    );
    line(
        &mut o,
        "pages",
        format!(
            "{} in use or free ({}; the rest of the file is preallocated)",
            s.page_count,
            HumanBytes(used)
        ),
    );
    line(
        &mut o,
        "  by kind",
        format!(
            "meta {}, catalog {}, freelist {}, leaf {}, branch {}, overflow {}, commit log {}",
            s.meta_pages,
            s.catalog_pages,
            s.freelist_pages,
            s.leaf_pages,
            s.branch_pages,
            s.overflow_pages,
            s.log_pages,
        ),
    );
    line(&mut o, "free pages", s.free_pages.to_string());
    line(
        &mut o,
        "fill factor",
        format!(
            "{:.1}% of leaf and branch page space",
            s.fill_factor() * 100.0
        ),
    );
    if let Some(c) = &s.cache {
        line(
            &mut o,
            "page cache",
            format!(
                "{} ({} frames), {} resident; {} hits, {} misses ({:.1}% hits), {} evictions",
                HumanBytes(c.capacity_bytes),
                c.capacity_frames,
                c.resident_frames,
                c.hits,
                c.misses,
                c.hit_rate() * 100.0,
                c.evictions
            ),
        );
        let [t1, t2, b1, b2] = c.arc_lists;
        line(
            &mut o,
            "  ARC",
            format!(
                "T1 {t1}, T2 {t2}, B1 {b1}, B2 {b2}, target T1 {}",
                c.target_t1
            ),
        );
    }
    if s.tables.is_empty() {
        line(&mut o, "tables", "none".into());
        return o;
    }
    line(&mut o, "tables", s.tables.len().to_string());
    let w = s
        .tables
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(0)
        .max(5);
    o.push_str(&format!(
        "  {:<w$}  {:>12}  {:>5}  {:>10}  {:>8}  {:>10}\n",
        "TABLE", "ENTRIES", "DEPTH", "LEAF", "BRANCH", "OVERFLOW"
    ));
    for t in &s.tables {
        o.push_str(&format!(
            "  {:<w$}  {:>12}  {:>5}  {:>10}  {:>8}  {:>10}\n",
            t.name, t.entries, t.depth, t.leaf_pages, t.branch_pages, t.overflow_pages
        ));
    }
    o
}

/// `larch check PATH`: exit 0 if the check passes, 1 with the page and reason if it finds damage.
pub fn check(path: &Path, quiet: bool) -> CliResult {
    crate::fail::require_file(path)?;
    let t = Instant::now();
    let sp = progress::spinner(quiet, &format!("checking {}", path.display()));
    let r = (|| {
        let db = crate::backend::builder().read_only(true).open(path)?;
        db.check()?;
        let rolled_back = db.recovery().cloned();
        // What was checked, for the report (O(1) per table).
        let rtx = db.begin_read()?;
        let mut entries = 0u64;
        let names = rtx.list_tables()?;
        for name in &names {
            entries += rtx.open_table(name)?.len()?;
        }
        Ok((names.len(), entries, rtx.id(), rolled_back))
    })();
    sp.finish_and_clear();
    match r {
        Ok((_, _, txn, Some(rec))) => {
            // The commit that opens is intact, but a newer one was discarded: a crash before its
            // sync completed, or damage since. The operator must hear about it either way.
            let which = rec
                .discarded_txn
                .map_or("a newer commit".to_string(), |t| format!("commit {t}"));
            println!(
                "{}: ROLLED BACK: {which} could not be verified and was discarded; commit {txn} \
                 opened instead and checks clean. Reason: {}",
                path.display(),
                rec.reason
            );
            Err(Fail::found(String::new()))
        }
        Ok((tables, entries, txn, None)) => {
            println!(
                "{}: ok, no damage found ({}, {}, last txn {}; checked in {:.2?})",
                path.display(),
                progress::count(tables as u64, "table", "tables"),
                progress::count(entries, "entry", "entries"),
                txn,
                t.elapsed()
            );
            Ok(())
        }
        Err(Error::Corrupted { page, reason }) => {
            println!("{}: DAMAGED at page {page}: {reason}", path.display());
            Err(Fail::found(String::new()))
        }
        Err(e) => Err(Fail::db(path, e)),
    }
}
