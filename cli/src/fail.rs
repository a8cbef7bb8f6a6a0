//! How the tool fails: a message and an exit code, and the mapping from larchdb's errors.

use larchdb::{Database, Error};
use std::fmt::Display;
use std::io;
use std::path::Path;

/// Exit code: damage or a difference was found (or, for `get` and `del`, the key is absent).
pub const FOUND: u8 = 1;
/// Exit code: a usage error, an I/O error, or a database that cannot be opened.
pub const ERROR: u8 = 2;

/// A failed command: what to print on stderr and the exit code.
#[derive(Debug)]
pub struct Fail {
    /// Exit code (1 or 2; 0 for a closed stdout, which is not an error).
    pub code: u8,
    /// Message for stderr; empty for none.
    pub msg: String,
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, Fail>;

impl Fail {
    /// A usage or I/O error (exit 2).
    pub fn error(msg: impl Into<String>) -> Fail {
        Fail {
            code: ERROR,
            msg: msg.into(),
        }
    }

    /// Damage or a difference found, or an absent key (exit 1).
    pub fn found(msg: impl Into<String>) -> Fail {
        Fail {
            code: FOUND,
            msg: msg.into(),
        }
    }

    /// An I/O error on `what` (a file name or "stdout").
    pub fn io(what: impl Display, e: io::Error) -> Fail {
        if e.kind() == io::ErrorKind::BrokenPipe {
            // The reader went away (`larch scan ... | head`): stop quietly.
            return Fail {
                code: 0,
                msg: String::new(),
            };
        }
        Fail::error(format!("{what}: {e}"))
    }

    /// An error from larchdb while working on the database at `path` (exit 2).
    pub fn db(path: &Path, e: Error) -> Fail {
        let p = path.display();
        Fail::error(match e {
            Error::NotADatabase => {
                format!("{p}: not a larchdb database (the file was left untouched)")
            }
            Error::DatabaseLocked => format!(
                "{p}: the database is locked: another process (or handle) has it open for \
                 writing; try again once it has closed it"
            ),
            Error::Corrupted { page, reason } => format!(
                "{p}: the database is damaged at page {page}: {reason} \
                 (run `larch check` for a full check)"
            ),
            Error::Io(e) => format!("{p}: {e}"),
            e => format!("{p}: {e}"),
        })
    }
}

/// A shorthand for mapping larchdb results on the database at `path`.
pub trait DbContext<T> {
    /// Maps an error with [`Fail::db`].
    fn on(self, path: &Path) -> CliResult<T>;
}

impl<T> DbContext<T> for larchdb::Result<T> {
    fn on(self, path: &Path) -> CliResult<T> {
        self.map_err(|e| Fail::db(path, e))
    }
}

/// Fails with exit 2 unless `path` is an existing regular file. Commands that read a database
/// call this before opening it, so that a mistyped path never creates a new database.
pub fn require_file(path: &Path) -> CliResult {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(Fail::error(format!(
            "{}: not a regular file",
            path.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(Fail::error(format!("{}: no such file", path.display())))
        }
        Err(e) => Err(Fail::io(path.display(), e)),
    }
}

/// Opens the existing database at `path`, read-only unless `writable` (a read-only handle
/// works beside a writer in another process).
pub fn open_existing(path: &Path, writable: bool) -> CliResult<Database> {
    require_file(path)?;
    crate::backend::builder()
        .read_only(!writable)
        .open(path)
        .on(path)
}

/// True if `a` and `b` name the same existing file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// Runs the full integrity check on `db` (at `path`) before a dump or a copy, with a spinner:
/// normal reads do not verify page checksums, so without it a damaged page could be copied
/// silently into a file that then looks healthy.
pub fn check_source(db: &Database, path: &Path, quiet: bool) -> CliResult {
    let sp = crate::progress::spinner(quiet, &format!("checking {}", path.display()));
    let r = db.check();
    sp.finish_and_clear();
    match r {
        Err(Error::Corrupted { page, reason }) => Err(Fail::error(format!(
            "{}: the database is damaged at page {page}: {reason}; \
             add --no-check to go on anyway and save what can still be read",
            path.display()
        ))),
        r => r.on(path),
    }
}
