//! The bulk-removal rows: `retain`, `extract_if`, `pop_first`/`pop_last` and `remove_range` on a
//! table of `count` random 24-byte keys with 100-byte values, each through the engine's own
//! operation, each in one write transaction (commit included), each starting from the full table.

use crate::engines::{Bulk, Engine, Result};
use crate::workload::{Rec, Stream};
use std::time::Instant;

/// Key and value sizes of the rows.
const KEY_LEN: usize = 24;
const VAL_LEN: usize = 100;

/// Inserts pairs `0..count` of `s` (again: a row's removals are put back before the next row).
fn fill(db: &dyn Engine, s: &Stream, count: u64) -> Result<()> {
    let mut k = [0u8; KEY_LEN];
    let mut v = [0u8; VAL_LEN];
    db.write(&mut |w| {
        for i in 0..count {
            s.key(i, &mut k);
            s.value(i, &mut v);
            w.insert(&k, &v)?;
        }
        Ok(())
    })
}

/// Runs `op` in one write transaction and records its time (commit included) as row `id`, or
/// the engine's refusal as a note.
fn timed(
    db: &dyn Engine,
    rec: &Rec,
    id: &str,
    label: &str,
    op: &mut dyn FnMut(&mut dyn crate::engines::WriteTxn) -> Result<()>,
) -> Result<()> {
    let t = Instant::now();
    match db.write(op) {
        Ok(()) => rec.ms(id, label, t.elapsed()),
        Err(e) if e.to_string().contains("not offered") => {
            rec.ms_note(id, label, None, Some(e.to_string()))
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// The four rows, on `count` keys.
pub fn run_bulk(db: &dyn Engine, count: u64, seed: u64, rec: &Rec) -> Result<()> {
    let s = Stream::new(seed ^ 0xB01C, KEY_LEN, VAL_LEN);
    fill(db, &s, count)?;
    let label = |what: &str| format!("{what} on {count} keys, one txn");
    // Half the entries go: those whose value's first byte is odd.
    timed(db, rec, "retain", &label("retain (keep half)"), &mut |w| {
        w.bulk(Bulk::Retain(&mut |_, v| v[0] & 1 == 0)).map(|_| ())
    })?;
    fill(db, &s, count)?;
    let mut sum = 0u64;
    timed(
        db,
        rec,
        "extract_if",
        &label("extract_if (half)"),
        &mut |w| {
            let mut pick = |_: &[u8], v: &[u8]| v[0] & 1 == 1;
            let mut f = |k: &[u8], v: &[u8]| sum += (k[0] ^ v[1]) as u64;
            w.bulk(Bulk::ExtractIf(&mut pick, &mut f)).map(|_| ())
        },
    )?;
    std::hint::black_box(sum);
    fill(db, &s, count)?;
    let pops = count / 10;
    let pop_label = label(&format!("{pops} pop_first + {pops} pop_last"));
    timed(db, rec, "pop_first_last", &pop_label, &mut |w| {
        for _ in 0..pops {
            w.bulk(Bulk::Pop(true))?;
            w.bulk(Bulk::Pop(false))?;
        }
        Ok(())
    })?;
    fill(db, &s, count)?;
    // Keys are random bytes: 0x40.. up to 0xC0.. is half of them.
    timed(
        db,
        rec,
        "remove_range",
        &label("remove_range (half)"),
        &mut |w| w.bulk(Bulk::RemoveRange(&[0x40], &[0xC0])).map(|_| ()),
    )
}
