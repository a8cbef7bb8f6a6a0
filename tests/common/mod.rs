//! Helpers shared by the tests: database state, both backends, child test processes.
#![allow(dead_code)]

pub mod api;
pub mod damage;

use larchdb::Database;
use std::collections::BTreeMap;

/// The contents of a database: table name -> entries.
pub type State = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Reads every table of a database.
pub fn read_state(db: &Database) -> State {
    snapshot_state(&db.begin_read().unwrap())
}

/// Opens the database at `path`, checks its integrity, and asserts that it holds `want` (`what`
/// names it in the failure message); returns it.
pub fn opens_with(path: &std::path::Path, want: &State, what: &str) -> Database {
    let db = Database::open(path).unwrap();
    db.check().unwrap();
    assert_eq!(&read_state(&db), want, "{what}");
    db
}

/// Reads every table of a snapshot.
pub fn snapshot_state(r: &larchdb::ReadTxn) -> State {
    let mut s = State::new();
    for name in r.list_tables().unwrap() {
        let t = r.open_table(&name).unwrap();
        let m = t
            .iter()
            .unwrap()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<larchdb::Result<BTreeMap<_, _>>>()
            .unwrap();
        s.insert(name, m);
    }
    s
}

/// The cached backend every suite also runs on: a deliberately small cache (64 pages of 4 KiB,
/// 16 of 16 KiB), so that the tests' databases do not fit and pages are evicted and read again
/// all the time.
pub const SMALL_CACHE: larchdb::Backend = larchdb::Backend::Cached {
    capacity: 256 << 10,
};

/// Runs `f` with every database it opens on this thread using [`SMALL_CACHE`].
pub fn cached<R>(f: impl FnOnce() -> R) -> R {
    larchdb::testing::with_default_backend(SMALL_CACHE, f)
}

/// Declares, for each named test function of the file, a second test `cached::<name>` that runs
/// it with every database on the cached backend ([`SMALL_CACHE`]).
#[macro_export]
macro_rules! also_cached {
    ($($test:ident),* $(,)?) => {
        /// The file's tests again, on the cached backend.
        mod cached {
            $(
                #[test]
                fn $test() {
                    $crate::common::cached(super::$test)
                }
            )*
        }
    };
}

/// The tests' seeded generator (the crate's one: `larchdb::testing::Rng`), so every run damages
/// the same bytes.
#[allow(unused_imports)] // not every test file draws random numbers
pub use larchdb::testing::Rng;

/// Opens (creating) the database at `path` with `Durability::Eventual` commits.
pub fn open_eventual(path: &std::path::Path) -> Database {
    Database::builder()
        .durability(larchdb::Durability::Eventual)
        .open(path)
        .unwrap()
}

/// The standard output of a child test process that has exited; fails the test, showing both
/// outputs, unless it exited successfully (`what` names it in the message).
pub fn child_stdout(what: &str, out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The part of `out` from `tag` to the end of its line (the test harness may have printed the
/// test's name before it on the same line).
pub fn tagged<'a>(out: &'a str, tag: &str) -> Option<&'a str> {
    out.lines().find_map(|l| l.find(tag).map(|i| &l[i..]))
}
