//! `larch get|put|del|scan PATH TABLE ...`: quick inspection and edits.
//!
//! Keys and values on the command line are taken as text (their bytes exactly as given), or with
//! `--hex` as hex digits (an optional `0x` prefix is allowed). Output is in the escaped form of
//! the dump format (see docs/DUMP_FORMAT.md), or hex with `--hex`.

use crate::codec::{escaped, parse_hex, write_escaped, write_hex};
use crate::fail::{open_existing, CliResult, DbContext, Fail};
use larchdb::{Database, Error};
use std::ffi::OsStr;
use std::io::{self, BufWriter, Read, Write};
use std::ops::Bound;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The bytes of a key or value argument: its text, or decoded hex with `--hex`.
pub fn arg_bytes(arg: &OsStr, hex: bool, what: &str) -> CliResult<Vec<u8>> {
    if hex {
        parse_hex(arg.as_bytes())
            .map_err(|m| Fail::error(format!("{what} {:?}: {m}", arg.to_string_lossy())))
    } else {
        Ok(arg.as_bytes().to_vec())
    }
}

/// A key for messages, in the form it was given.
fn show(key: &[u8], hex: bool) -> String {
    if hex {
        let mut v = Vec::new();
        write_hex(&mut v, key).expect("writing to a Vec cannot fail");
        format!("0x{}", String::from_utf8_lossy(&v))
    } else {
        escaped(key)
    }
}

/// Writes `bytes` as hex or in the escaped form.
fn write_bytes(out: &mut impl Write, bytes: &[u8], hex: bool) -> io::Result<()> {
    if hex {
        write_hex(out, bytes)
    } else {
        write_escaped(out, bytes)
    }
}

/// A "table not found" failure naming the tables that do exist.
fn no_table(db: &Database, path: &Path, table: &str) -> Fail {
    let names = db
        .begin_read()
        .and_then(|r| r.list_tables())
        .unwrap_or_default();
    let have = if names.is_empty() {
        "it has no tables".to_string()
    } else {
        format!("its tables: {}", names.join(", "))
    };
    Fail::error(format!("{}: no table {table:?} ({have})", path.display()))
}

/// `larch get PATH TABLE KEY`: prints the value; exit 1 if the key is absent.
pub fn get(path: &Path, table: &str, key: &OsStr, hex: bool, raw: bool) -> CliResult {
    let key = arg_bytes(key, hex, "key")?;
    let db = open_existing(path, false)?;
    let rtx = db.begin_read().on(path)?;
    let t = match rtx.open_table(table) {
        Err(Error::TableNotFound(_)) => return Err(no_table(&db, path, table)),
        r => r.on(path)?,
    };
    let Some(v) = t.get(&key).on(path)? else {
        return Err(Fail::found(format!(
            "key {} not found in table {table:?}",
            show(&key, hex)
        )));
    };
    let mut out = io::stdout().lock();
    let r = if raw {
        out.write_all(v)
    } else {
        write_bytes(&mut out, v, hex).and_then(|_| out.write_all(b"\n"))
    };
    r.and_then(|_| out.flush())
        .map_err(|e| Fail::io("stdout", e))
}

/// `larch put PATH TABLE KEY [VALUE | -i FILE]`: inserts or overwrites; creates the database and
/// the table if missing.
pub fn put(
    path: &Path,
    table: &str,
    key: &OsStr,
    value: Option<&OsStr>,
    input: Option<&Path>,
    hex: bool,
) -> CliResult {
    let key = arg_bytes(key, hex, "key")?;
    let value = match (value, input) {
        (Some(v), None) => arg_bytes(v, hex, "value")?,
        (None, Some(i)) if i == Path::new("-") => {
            let mut v = Vec::new();
            io::stdin()
                .read_to_end(&mut v)
                .map_err(|e| Fail::io("stdin", e))?;
            v
        }
        (None, Some(i)) => std::fs::read(i).map_err(|e| Fail::io(i.display(), e))?,
        _ => return Err(Fail::error("give either VALUE or --input FILE")),
    };
    let db = crate::backend::builder().open(path).on(path)?;
    let wtx = db.begin_write().on(path)?;
    let old = {
        let mut t = wtx.open_table(table).on(path)?;
        let old = t.get(&key).on(path)?.map(|v| v.len());
        t.insert(&key, &value).on(path)?;
        old
    };
    wtx.commit().on(path)?;
    let what = match old {
        Some(n) => format!("replaced a value of {n} bytes"),
        None => "new key".to_string(),
    };
    println!(
        "put {} bytes at key {} in table {table:?} ({what})",
        value.len(),
        show(&key, hex)
    );
    Ok(())
}

/// `larch del PATH TABLE KEY`: removes the key; exit 1 if it was absent.
pub fn del(path: &Path, table: &str, key: &OsStr, hex: bool) -> CliResult {
    let key = arg_bytes(key, hex, "key")?;
    let db = open_existing(path, true)?;
    if let Err(Error::TableNotFound(_)) = db.begin_read().on(path)?.open_table(table) {
        return Err(no_table(&db, path, table));
    }
    let wtx = db.begin_write().on(path)?;
    let existed = wtx.open_table(table).on(path)?.remove(&key).on(path)?;
    if !existed {
        return Err(Fail::found(format!(
            "key {} not found in table {table:?}; nothing deleted",
            show(&key, hex)
        )));
    }
    wtx.commit().on(path)?;
    println!("deleted key {} from table {table:?}", show(&key, hex));
    Ok(())
}

/// Options of `larch scan`.
pub struct ScanOpts<'a> {
    pub path: &'a Path,
    pub table: &'a str,
    pub from: Option<&'a OsStr>,
    pub to: Option<&'a OsStr>,
    pub limit: Option<u64>,
    pub reverse: bool,
    pub keys_only: bool,
    pub hex: bool,
}

/// `larch scan PATH TABLE`: prints `KEY VALUE` lines for keys in [from, to), in key order (or
/// reversed), at most `limit` of them.
pub fn scan(o: &ScanOpts) -> CliResult {
    let from = o.from.map(|k| arg_bytes(k, o.hex, "--from")).transpose()?;
    let to = o.to.map(|k| arg_bytes(k, o.hex, "--to")).transpose()?;
    let db = open_existing(o.path, false)?;
    let rtx = db.begin_read().on(o.path)?;
    let t = match rtx.open_table(o.table) {
        Err(Error::TableNotFound(_)) => return Err(no_table(&db, o.path, o.table)),
        r => r.on(o.path)?,
    };
    let lo = from.as_deref().map_or(Bound::Unbounded, Bound::Included);
    let hi = to.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    if let (Some(a), Some(b)) = (&from, &to) {
        if a >= b {
            return Ok(());
        }
    }
    let range = t.range((lo, hi)).on(o.path)?;
    let iter: Box<dyn Iterator<Item = _>> = if o.reverse {
        Box::new(range.rev())
    } else {
        Box::new(range)
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let io_err = |e| Fail::io("stdout", e);
    for item in iter.take(o.limit.map_or(usize::MAX, |n| n as usize)) {
        let (k, v) = item.on(o.path)?;
        write_bytes(&mut out, k, o.hex).map_err(io_err)?;
        if !o.keys_only {
            out.write_all(b" ").map_err(io_err)?;
            write_bytes(&mut out, v, o.hex).map_err(io_err)?;
        }
        out.write_all(b"\n").map_err(io_err)?;
    }
    out.flush().map_err(io_err)
}
