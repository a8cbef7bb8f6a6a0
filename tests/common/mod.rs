//! Helpers shared by the crash and fault tests.
#![allow(dead_code)]

use larchdb::Database;
use std::collections::BTreeMap;

/// The contents of a database: table name -> entries.
pub type State = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Reads every table of a database.
pub fn read_state(db: &Database) -> State {
    let r = db.begin_read().unwrap();
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
