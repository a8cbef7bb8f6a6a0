//! `larch dump` and `larch load`: the portable text format of docs/DUMP_FORMAT.md.
//!
//! ```text
//! larch-dump 1
//! table users
//!  alice admin
//!  bob reader\20and\20writer
//! end 2
//! done 1
//! ```
//!
//! Both directions stream: dump writes each entry straight from the memory map, load holds one
//! line at a time (so memory is bounded by the largest entry, not by the dump).

use crate::batch::BatchWriter;
use crate::codec::{unescape_into, write_escaped};
use crate::fail::{check_source, open_existing, same_file, CliResult, DbContext, Fail};
use crate::progress::{self, count, STEP};
use crate::scan::for_each_entry;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// First line of every dump.
pub const HEADER: &str = "larch-dump 1";
/// The header's format name, followed by the version.
const FORMAT_NAME: &str = "larch-dump ";

/// `larch dump PATH [--table T]... [-o FILE]`: checks the database (unless `no_check`), then
/// writes the dump from one snapshot.
pub fn dump(
    path: &Path,
    only: &[String],
    output: Option<&Path>,
    no_check: bool,
    quiet: bool,
) -> CliResult {
    let db = open_existing(path, false)?;
    if !no_check {
        check_source(&db, path, quiet)?;
    }
    let mut rtx = db.begin_read().on(path)?;
    let names = if only.is_empty() {
        rtx.list_tables().on(path)?
    } else {
        only.to_vec()
    };
    let mut total = 0u64;
    for name in &names {
        total += rtx.open_table(name).on(path)?.len().on(path)?;
    }

    let (sink, what): (Box<dyn Write>, String) = match output {
        Some(o) if o != Path::new("-") => {
            if same_file(o, path) {
                return Err(Fail::error(format!(
                    "{}: refusing to write the dump over the database itself",
                    o.display()
                )));
            }
            let f = File::create(o).map_err(|e| Fail::io(o.display(), e))?;
            (Box::new(f), o.display().to_string())
        }
        _ => (Box::new(io::stdout().lock()), "stdout".to_string()),
    };
    let mut out = BufWriter::with_capacity(1 << 16, sink);
    let pb = progress::bar(quiet, total, "dump");
    let io_err = |e| Fail::io(&what, e);
    writeln!(out, "{HEADER}").map_err(io_err)?;
    for name in &names {
        out.write_all(b"table ").map_err(io_err)?;
        write_escaped(&mut out, name.as_bytes()).map_err(io_err)?;
        out.write_all(b"\n").map_err(io_err)?;
        let mut n = 0u64;
        for_each_entry(&mut rtx, path, name, |k, v| {
            (|| {
                out.write_all(b" ")?;
                write_escaped(&mut out, k)?;
                out.write_all(b" ")?;
                write_escaped(&mut out, v)?;
                out.write_all(b"\n")
            })()
            .map_err(io_err)?;
            n += 1;
            if n % STEP == 0 {
                pb.inc(STEP);
            }
            Ok(())
        })?;
        pb.inc(n % STEP);
        writeln!(out, "end {n}").map_err(io_err)?;
    }
    writeln!(out, "done {}", names.len()).map_err(io_err)?;
    out.flush().map_err(io_err)?;
    pb.finish_and_clear();
    if output.is_some_and(|o| o != Path::new("-")) {
        eprintln!(
            "dumped {}, {} from txn {} of {}",
            count(names.len() as u64, "table", "tables"),
            count(total, "entry", "entries"),
            rtx.id(),
            path.display()
        );
    }
    Ok(())
}

/// Options of `larch load`.
pub struct LoadOpts<'a> {
    pub path: &'a Path,
    pub input: Option<&'a Path>,
    pub batch: u64,
    pub page_size: Option<usize>,
    pub quiet: bool,
}

/// Where a load is in the dump.
enum State {
    /// Between tables: expecting `table` or `done`.
    Outside,
    /// Inside a table: entries or `end`.
    InTable { name: String, count: u64 },
    /// After `done`: nothing more may follow.
    Done,
}

/// Reads one line without its newline into `line`; false at the end of the input.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>, what: &Path) -> CliResult<bool> {
    line.clear();
    let n = input
        .read_until(b'\n', line)
        .map_err(|e| Fail::io(what.display(), e))?;
    if n == 0 {
        return Ok(false);
    }
    if line.pop() != Some(b'\n') {
        return Err(Fail::error(format!(
            "{}: truncated dump: the last line has no newline",
            what.display()
        )));
    }
    Ok(true)
}

/// `larch load PATH [-i FILE]`: creates the database if missing, then inserts every entry of the
/// dump (overwriting existing keys), committing every `batch` entries. The header is read before
/// the database is opened, so a file that is not a dump never creates a database.
pub fn load(o: &LoadOpts) -> CliResult {
    let (reader, what, size): (Box<dyn Read>, PathBuf, Option<u64>) = match o.input {
        Some(i) if i != Path::new("-") => {
            if same_file(i, o.path) {
                return Err(Fail::error(format!(
                    "{}: the input is the database itself",
                    i.display()
                )));
            }
            let f = File::open(i).map_err(|e| Fail::io(i.display(), e))?;
            let size = f.metadata().ok().map(|m| m.len());
            (Box::new(f), i.to_path_buf(), size)
        }
        _ => (Box::new(io::stdin().lock()), PathBuf::from("stdin"), None),
    };
    let mut input = BufReader::with_capacity(1 << 16, reader);
    let mut line = Vec::new();
    if !read_line(&mut input, &mut line, &what)? || line != HEADER.as_bytes() {
        let msg = match line.strip_prefix(FORMAT_NAME.as_bytes()) {
            Some(v) => format!(
                "unsupported dump version {:?} (this larch reads {HEADER:?})",
                String::from_utf8_lossy(v)
            ),
            None => format!("not a larch dump: the first line must be {HEADER:?}"),
        };
        return Err(Fail::error(format!("{}:1: {msg}", what.display())));
    }
    let mut b = crate::backend::builder();
    if let Some(ps) = o.page_size {
        b.page_size(ps);
    }
    let existed = o.path.exists();
    let db = b.open(o.path).on(o.path)?;
    let pb = match size {
        Some(n) => progress::bytes_bar(o.quiet, n, "load"),
        None => progress::spinner(o.quiet, "loading"),
    };
    pb.set_position(line.len() as u64 + 1);
    let mut w = BatchWriter::new(&db, o.batch);
    let r = load_entries(o, &mut input, &what, &mut w, &pb);
    pb.finish_and_clear();
    let (tables, total) = match r {
        Ok(counts) => counts,
        Err(mut f) if w.commits > 0 => {
            f.msg.push_str(&format!(
                "\n(the first {} batches of the dump were committed to {}; \
                 the batch in progress was rolled back)",
                w.commits,
                o.path.display()
            ));
            return Err(f);
        }
        Err(f) => {
            if !existed {
                // Nothing was committed to the database this load created: remove it again.
                drop(w);
                drop(db);
                let _ = std::fs::remove_file(o.path);
            }
            return Err(f);
        }
    };
    let commits = w.finish().on(o.path)?;
    eprintln!(
        "loaded {}, {} into {} ({})",
        count(tables, "table", "tables"),
        count(total, "entry", "entries"),
        o.path.display(),
        count(commits, "transaction", "transactions")
    );
    Ok(())
}

/// Loads the dump after its header; returns the numbers of tables and entries.
fn load_entries(
    o: &LoadOpts,
    input: &mut impl BufRead,
    what: &Path,
    w: &mut BatchWriter,
    pb: &indicatif::ProgressBar,
) -> CliResult<(u64, u64)> {
    let (mut line, mut key, mut value) = (Vec::new(), Vec::new(), Vec::new());
    let (mut lineno, mut total, mut tables, mut read) = (1u64, 0u64, 0u64, HEADER.len() as u64 + 1);
    let mut state = State::Outside;
    let at = |lineno: u64, msg: String| Fail::error(format!("{}:{lineno}: {msg}", what.display()));
    while read_line(input, &mut line, what)? {
        lineno += 1;
        read += line.len() as u64 + 1;
        match &mut state {
            State::Outside => {
                if let Some(rest) = line.strip_prefix(b"table ") {
                    key.clear();
                    unescape_into(rest, &mut key).map_err(|m| at(lineno, m))?;
                    let name = String::from_utf8(key.clone())
                        .map_err(|_| at(lineno, "table name is not UTF-8".into()))?;
                    w.create_table(&name).map_err(|e| match e {
                        larchdb::Error::InvalidTableName(_) => at(lineno, e.to_string()),
                        e => Fail::db(o.path, e),
                    })?;
                    state = State::InTable { name, count: 0 };
                } else if let Some(rest) = line.strip_prefix(b"done ") {
                    let n = number(rest).map_err(|m| at(lineno, m))?;
                    if n != tables {
                        return Err(at(
                            lineno,
                            format!("the dump says {n} tables but holds {tables}"),
                        ));
                    }
                    state = State::Done;
                } else {
                    return Err(at(
                        lineno,
                        "expected a `table NAME` or `done N` line".into(),
                    ));
                }
            }
            State::InTable { name, count } => {
                if let Some(rest) = line.strip_prefix(b" ") {
                    let sp = rest.iter().position(|&c| c == b' ').ok_or_else(|| {
                        at(lineno, "an entry line needs a key and a value".into())
                    })?;
                    key.clear();
                    value.clear();
                    unescape_into(&rest[..sp], &mut key).map_err(|m| at(lineno, m))?;
                    unescape_into(&rest[sp + 1..], &mut value).map_err(|m| at(lineno, m))?;
                    w.insert(name, &key, &value).map_err(|e| match e {
                        larchdb::Error::KeyTooLarge { .. }
                        | larchdb::Error::EmptyKey
                        | larchdb::Error::ValueTooLarge { .. } => at(lineno, e.to_string()),
                        e => Fail::db(o.path, e),
                    })?;
                    *count += 1;
                    total += 1;
                    if total % STEP == 0 {
                        pb.set_position(read);
                    }
                } else if let Some(rest) = line.strip_prefix(b"end ") {
                    let n = number(rest).map_err(|m| at(lineno, m))?;
                    if n != *count {
                        return Err(at(
                            lineno,
                            format!("table {name:?}: the dump says {n} entries but holds {count}"),
                        ));
                    }
                    tables += 1;
                    state = State::Outside;
                } else {
                    return Err(at(
                        lineno,
                        "expected an entry line (` KEY VALUE`) or `end N`".into(),
                    ));
                }
            }
            State::Done => return Err(at(lineno, "data after the `done` line".into())),
        }
    }
    if !matches!(state, State::Done) {
        return Err(at(
            lineno,
            "truncated dump: no `done` line at the end".into(),
        ));
    }
    Ok((tables, total))
}

/// A decimal count.
fn number(s: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(s)
        .ok()
        .filter(|t| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("{:?} is not a count", String::from_utf8_lossy(s)))
}
