//! `larch`: the larchdb command-line tool. A thin layer over larchdb's public API (plus
//! `Database::stats` and `Database::check`); each subcommand lives in its own module.

mod backend;
mod batch;
mod codec;
mod copy;
mod demo;
mod dump;
mod fail;
mod inspect;
mod progress;
mod scan;
mod stat;

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Exit codes: 0 ok; 1 damage or a difference found (and, for get and del, an absent key);
2 usage error, I/O error, or a database that cannot be opened (missing, not a database,
damaged, or, for put, del and load, open for writing in another process). The read commands
(stat, check, dump, scan, get, copy) work beside a process that writes the database, each on
one consistent snapshot of its newest commit.

Keys and values on the command line are text (their bytes exactly as given) or, with --hex,
hex digits with an optional 0x prefix. Output shows bytes in the escaped form of the dump
format (printable ASCII as is; space, backslash and other bytes as \\xx in hex), or in hex
with --hex. The dump format is specified in docs/DUMP_FORMAT.md.";

/// The larchdb command-line tool: demo, inspect, check, dump, load and copy databases.
#[derive(Parser)]
#[command(name = "larch", version, after_help = AFTER_HELP)]
struct Cli {
    /// Show no progress bars (they are shown only on a terminal anyway).
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Read through a page cache of SIZE bytes (e.g. 64M, 1G) with pread, instead of a memory
    /// map (larchdb's cached backend).
    #[arg(long, global = true, value_name = "SIZE", value_parser = backend::parse_size)]
    cache: Option<usize>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Load, read back, scan and check a demo database, and report throughput.
    ///
    /// Writes 24-byte random keys with 150-byte random values (a seeded generator) in one
    /// transaction, reads every key back and verifies its value, scans a quarter of the key
    /// space, runs the integrity check and prints the statistics. Without PATH the database is a
    /// temporary file, removed at the end.
    Demo {
        /// Where to create the database (kept afterwards); it must not exist unless --force.
        path: Option<PathBuf>,
        /// Number of keys.
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
        /// Replace PATH if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Statistics: tables with entries and depth, pages by kind, free pages, fill factor, file
    /// size, format version, last transaction id.
    Stat {
        /// Database file.
        path: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Full integrity check; on damage, prints the page and the reason and exits with 1.
    Check {
        /// Database file.
        path: PathBuf,
    },
    /// Write tables in the portable text format (docs/DUMP_FORMAT.md), from one snapshot.
    ///
    /// The database is checked first (reads do not verify page checksums, so a damaged page would
    /// otherwise be dumped silently); a damaged database fails with exit 2 unless --no-check.
    Dump {
        /// Database file.
        path: PathBuf,
        /// Dump only this table (repeat for several); default: all tables.
        #[arg(short, long = "table", value_name = "TABLE")]
        tables: Vec<String>,
        /// Write to FILE instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Skip the integrity check that runs first (to save what is readable of a damaged file).
        #[arg(long)]
        no_check: bool,
    },
    /// Read a dump into a database (created if missing); existing keys are overwritten.
    ///
    /// Entries are committed in batches of --batch entries (and at most 64 MiB), so memory stays
    /// bounded; the last commit is durable (Immediate) and makes every batch durable. If the load
    /// fails midway, the batches before the failure stay committed. --batch 0 loads everything in
    /// one transaction: all or nothing, but memory grows with the dump.
    Load {
        /// Database file (created if missing).
        path: PathBuf,
        /// Read the dump from FILE instead of stdin.
        #[arg(short, long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Entries per transaction (0: one transaction).
        #[arg(long, default_value_t = batch::DEFAULT_BATCH)]
        batch: u64,
        /// Page size for a new database (4096..=65536, a power of two).
        #[arg(long)]
        page_size: Option<usize>,
    },
    /// Copy a database from one read snapshot into a new file.
    ///
    /// The copy is of the pages the snapshot reaches (an online backup; free pages stay holes);
    /// with --compact it is made table by table in key order, with full pages and no free pages,
    /// so it is also the way to shrink a file after many deletes. SRC is checked first; a damaged SRC fails
    /// with exit 2 unless --no-check. SRC may be open for writing in another process: the copy
    /// is a snapshot of its latest commit.
    Copy {
        /// Source database.
        src: PathBuf,
        /// Destination file; must not exist unless --force.
        dst: PathBuf,
        /// Copy entry by entry into full pages (a dense, compacted copy).
        #[arg(long)]
        compact: bool,
        /// Replace DST if it exists.
        #[arg(long)]
        force: bool,
        /// Skip the integrity check of SRC that runs first.
        #[arg(long)]
        no_check: bool,
    },
    /// Print the value of KEY (escaped, or hex with --hex); exit 1 if absent.
    Get {
        /// Database file.
        path: PathBuf,
        /// Table name.
        table: String,
        /// Key (text, or hex with --hex).
        key: OsString,
        /// KEY is hex digits (an optional 0x prefix is allowed); print the value in hex.
        #[arg(long)]
        hex: bool,
        /// Write the value's bytes exactly, with no escaping and no newline.
        #[arg(long, conflicts_with = "hex")]
        raw: bool,
    },
    /// Insert or overwrite KEY (creates the database and the table if missing).
    Put {
        /// Database file (created if missing).
        path: PathBuf,
        /// Table name.
        table: String,
        /// Key (text, or hex with --hex).
        key: OsString,
        /// Value (text, or hex with --hex).
        #[arg(required_unless_present = "input")]
        value: Option<OsString>,
        /// Take the value's bytes from FILE ("-" for stdin) instead of VALUE.
        #[arg(short, long, value_name = "FILE", conflicts_with = "value")]
        input: Option<PathBuf>,
        /// KEY and VALUE are hex digits (an optional 0x prefix is allowed).
        #[arg(long)]
        hex: bool,
    },
    /// Delete KEY; exit 1 if it was absent.
    Del {
        /// Database file.
        path: PathBuf,
        /// Table name.
        table: String,
        /// Key (text, or hex with --hex).
        key: OsString,
        /// KEY is hex digits (an optional 0x prefix is allowed).
        #[arg(long)]
        hex: bool,
    },
    /// Print `KEY VALUE` lines (escaped, or hex with --hex) for a range of keys.
    Scan {
        /// Database file.
        path: PathBuf,
        /// Table name.
        table: String,
        /// First key (inclusive).
        #[arg(long, value_name = "KEY")]
        from: Option<OsString>,
        /// End key (exclusive).
        #[arg(long, value_name = "KEY")]
        to: Option<OsString>,
        /// At most N entries.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// From the last key down.
        #[arg(long)]
        reverse: bool,
        /// Print keys only.
        #[arg(long)]
        keys_only: bool,
        /// --from and --to are hex digits (an optional 0x prefix is allowed); print hex.
        #[arg(long)]
        hex: bool,
    },
}

fn run(cli: Cli) -> fail::CliResult {
    let q = cli.quiet;
    if let Some(capacity) = cli.cache {
        backend::set(larchdb::Backend::Cached { capacity });
    }
    match cli.cmd {
        Cmd::Demo { path, keys, force } => demo::demo(path.as_deref(), keys, force, q),
        Cmd::Stat { path, json } => stat::stat(&path, json, q),
        Cmd::Check { path } => stat::check(&path, q),
        Cmd::Dump {
            path,
            tables,
            output,
            no_check,
        } => dump::dump(&path, &tables, output.as_deref(), no_check, q),
        Cmd::Load {
            path,
            input,
            batch,
            page_size,
        } => dump::load(&dump::LoadOpts {
            path: &path,
            input: input.as_deref(),
            batch,
            page_size,
            quiet: q,
        }),
        Cmd::Copy {
            src,
            dst,
            compact,
            force,
            no_check,
        } => copy::copy(
            &src,
            &dst,
            copy::CopyOpts {
                compact,
                force,
                no_check,
                quiet: q,
            },
        ),
        Cmd::Get {
            path,
            table,
            key,
            hex,
            raw,
        } => inspect::get(&path, &table, &key, hex, raw),
        Cmd::Put {
            path,
            table,
            key,
            value,
            input,
            hex,
        } => inspect::put(&path, &table, &key, value.as_deref(), input.as_deref(), hex),
        Cmd::Del {
            path,
            table,
            key,
            hex,
        } => inspect::del(&path, &table, &key, hex),
        Cmd::Scan {
            path,
            table,
            from,
            to,
            limit,
            reverse,
            keys_only,
            hex,
        } => inspect::scan(&inspect::ScanOpts {
            path: &path,
            table: &table,
            from: from.as_deref(),
            to: to.as_deref(),
            limit,
            reverse,
            keys_only,
            hex,
        }),
    }
}

fn main() -> ExitCode {
    // clap exits with 2 on a usage error and 0 for --help and --version.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.msg.is_empty() {
                eprintln!("larch: {}", f.msg);
            }
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }
}
