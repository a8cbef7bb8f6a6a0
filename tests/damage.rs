//! Opening damaged files: foreign files, empty and torn-at-creation files, truncation, damaged
//! meta slots. (Damaged tree pages are in `tests/damage_pages.rs`.)
//!
//! Every case must end in a clean `Err` (never a panic) or in correct data. The on-disk facts used
//! here (from `docs/FORMAT.md` / `src/page`): meta slots at byte 0 and byte `page_size`, each
//! starting with `b"LARCHDB\0"`, txn id u64 LE at offset 16, page count u64 LE at offset 56, xxh3
//! checksum at offset 64 over bytes 0..64; tree pages have a 32-byte header with the kind at
//! offset 0 (1 leaf, 2 branch, 3 overflow), the writer's txn id at 8 and a checksum at 16.

use larchdb::{Database, Error};

mod common;

use common::damage::*;
use common::Rng;

// ---- Files that are not databases ---------------------------------------------------------------

#[test]
fn not_a_database_left_untouched() {
    let dir = tmp();
    let mut rng = Rng::new(0xDEC0DE);
    let mut text = String::new();
    for i in 0..200 {
        text.push_str(&format!(
            "line {i}: this is a plain text file, not a database\n"
        ));
    }
    let mut short = rng.bytes(100);
    short[0] = b'#';
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random-10000", rng.bytes(10_000)),
        ("text", text.into_bytes()),
        ("random-100", short),
        ("random-1MiB", rng.bytes(1 << 20)),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        for ro in [false, true] {
            let r = Database::builder().read_only(ro).open(&path);
            assert!(
                matches!(r, Err(Error::NotADatabase)),
                "{name} (read_only {ro}): {r:?}"
            );
            let after = std::fs::read(&path).unwrap();
            assert_eq!(after.len(), bytes.len(), "{name}: length changed");
            assert!(after == bytes, "{name}: contents changed");
        }
        // A different requested page size changes nothing either.
        let r = Database::builder().page_size(16384).open(&path);
        assert!(matches!(r, Err(Error::NotADatabase)), "{name}: {r:?}");
        assert!(
            std::fs::read(&path).unwrap() == bytes,
            "{name}: contents changed"
        );
    }
}

// ---- Empty and torn-at-creation files -----------------------------------------------------------

#[test]
fn empty_file_opens_as_new_database() {
    let dir = tmp();
    let path = dir.path().join("empty");
    std::fs::write(&path, b"").unwrap();
    assert_eq!(assert_opens_empty(&path, "0-byte file"), PS);

    // With a requested page size, the new database gets it.
    let path = dir.path().join("empty-16k");
    std::fs::write(&path, b"").unwrap();
    let db = Database::builder().page_size(16384).open(&path).unwrap();
    assert_eq!(db.page_size(), 16384);
    db.check().unwrap();
}

#[test]
fn torn_creation_opens_as_new_database() {
    let dir = tmp();
    let fresh = |ps: usize| -> Vec<u8> {
        let p = dir.path().join(format!("fresh-{ps}"));
        drop(Database::builder().page_size(ps).open(&p).unwrap());
        std::fs::read(&p).unwrap()
    };
    let fresh4 = fresh(4096);
    let fresh16 = fresh(16384);
    assert!(
        fresh4.len() >= 8192,
        "fresh 4 KiB database is {} bytes",
        fresh4.len()
    );

    let mut cases: Vec<(String, Vec<u8>, usize)> = vec![
        ("first 4096 bytes".into(), fresh4[..4096].to_vec(), 4096),
        ("8192 zero bytes".into(), vec![0u8; 8192], 4096),
        ("4096 zero bytes".into(), vec![0u8; 4096], 4096),
        (
            "first 4096 bytes of a 16 KiB-page database".into(),
            fresh16[..4096].to_vec(),
            16384,
        ),
        (
            "first 20000 bytes of a 16 KiB-page database".into(),
            fresh16[..20000].to_vec(),
            16384,
        ),
    ];
    for n in [1usize, 8, 50, 72, 100, 4096 + 40, 8191] {
        cases.push((format!("first {n} bytes"), fresh4[..n].to_vec(), 4096));
    }
    // Slot 1 written but slot 0 still zero.
    let mut only_slot1 = fresh4[..8192].to_vec();
    only_slot1[..4096].fill(0);
    cases.push(("slot 0 still zero".into(), only_slot1, 4096));

    for (i, (what, bytes, ps)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("torn-{i}"));
        std::fs::write(&path, &bytes).unwrap();
        let got = assert_opens_empty(&path, &what);
        assert_eq!(got, ps, "{what}: page size of the recreated database");
    }
}

// ---- Truncation ---------------------------------------------------------------------------------

#[test]
fn truncated_file() {
    let dir = tmp();
    let src = dir.path().join("src");
    let states = build_history(&src, PS, 12_000);
    let pristine = std::fs::read(&src).unwrap();
    let [newest, older] = slots_newest_first(&pristine, PS);
    let logical = newest.2 as usize * PS;
    let older_end = older.2 as usize * PS;
    eprintln!(
        "file {} bytes, newest commit ends at {logical}, older at {older_end}",
        pristine.len()
    );

    let lens = [
        pristine.len() / 2,
        logical / 2,
        logical - 1,
        logical - PS,
        older_end,
        older_end - 1,
        3 * PS,
        8192 + 100,
        8192,
        5000,
    ];
    for len in lens {
        let path = dir.path().join(format!("trunc-{len}"));
        std::fs::write(&path, &pristine[..len]).unwrap();
        eprintln!("truncated to {len}");
        let r = open_db(&path);
        let Some(db) = ok_or_corrupted(&format!("open truncated to {len}"), r) else {
            continue;
        };
        // It opened: it must be a consistent committed state.
        db.check()
            .unwrap_or_else(|e| panic!("truncated to {len}: opened but check() failed: {e:?}"));
        let idx = state_index(&db, &states);
        eprintln!("  opened at commit {idx:?}");
        if len >= logical {
            assert_eq!(
                idx,
                Some(states.len() - 1),
                "nothing of the newest commit was cut"
            );
        } else {
            assert!(
                idx.is_some_and(|i| i + 2 >= states.len()),
                "truncated to {len}: opened at {idx:?}, not one of the last two commits"
            );
        }
        let expect = idx.map(|i| states[i].clone());
        commit_and_reopen(&path, db, expect.as_ref());
    }
}

// ---- Meta slots ---------------------------------------------------------------------------------

#[test]
fn zeroed_meta_slot() {
    let dir = tmp();
    for ps in [4096usize, 16384] {
        let src = dir.path().join(format!("src-{ps}"));
        let states = build_history(&src, ps, 3000);
        let pristine = std::fs::read(&src).unwrap();
        let [newest, _older] = slots_newest_first(&pristine, ps);
        for slot in [0usize, 1] {
            let mut bytes = pristine.clone();
            bytes[slot * ps..(slot + 1) * ps].fill(0);
            let path = dir.path().join(format!("zeroed-{ps}-{slot}"));
            std::fs::write(&path, &bytes).unwrap();
            let db = open_db(&path)
                .unwrap_or_else(|e| panic!("page size {ps}, slot {slot} zeroed: {e:?}"));
            assert_eq!(db.page_size(), ps);
            db.check().unwrap();
            let want = if newest.0 == slot * ps {
                states.len() - 2
            } else {
                states.len() - 1
            };
            assert_eq!(
                state_index(&db, &states),
                Some(want),
                "page size {ps}, slot {slot} zeroed: opened at the wrong commit"
            );
            commit_and_reopen(&path, db, Some(&states[want]));
        }
    }
}

#[test]
fn torn_newest_meta_opens_older_commit() {
    let dir = tmp();
    let src = dir.path().join("src");
    let states = build_history(&src, PS, 3000);
    let pristine = std::fs::read(&src).unwrap();
    let [newest, older] = slots_newest_first(&pristine, PS);
    let want = states.len() - 2;
    for off in [
        0usize, 3, 7, 8, 12, 16, 17, 23, 24, 32, 40, 48, 56, 60, 63, 64, 71,
    ] {
        for xor in [0x01u8, 0xFF] {
            let mut bytes = pristine.clone();
            bytes[newest.0 + off] ^= xor;
            let path = dir.path().join(format!("torn-{off}-{xor}"));
            std::fs::write(&path, &bytes).unwrap();
            let db = open_db(&path).unwrap_or_else(|e| {
                panic!("newest meta (at byte {}) damaged at {off}: {e:?}", newest.0)
            });
            db.check().unwrap();
            assert_eq!(
                state_index(&db, &states),
                Some(want),
                "damaged newest meta at offset {off}: not at the older commit"
            );
            commit_and_reopen(&path, db, Some(&states[want]));
        }
    }
    // Damage to the older slot alone changes nothing.
    let mut bytes = pristine.clone();
    bytes[older.0 + 20] ^= 0x10;
    let path = dir.path().join("older-damaged");
    std::fs::write(&path, &bytes).unwrap();
    let db = open_db(&path).unwrap();
    db.check().unwrap();
    assert_eq!(state_index(&db, &states), Some(states.len() - 1));
    commit_and_reopen(&path, db, states.last());
}

#[test]
fn both_metas_damaged() {
    let dir = tmp();
    let src = dir.path().join("src");
    build_history(&src, PS, 2000);
    let pristine = std::fs::read(&src).unwrap();
    // (offset in slot 0, offset in slot 1): checksummed fields, the checksum, one magic byte.
    for (a, b) in [
        (20usize, 20usize),
        (16, 30),
        (64, 70),
        (0, 40),
        (45, 5),
        (12, 12),
    ] {
        let mut bytes = pristine.clone();
        bytes[a] ^= 0x40;
        bytes[PS + b] ^= 0x40;
        let path = dir.path().join(format!("both-{a}-{b}"));
        std::fs::write(&path, &bytes).unwrap();
        for ro in [true, false] {
            let r = Database::builder().read_only(ro).open(&path);
            assert!(
                matches!(r, Err(Error::Corrupted { .. })),
                "both metas damaged at {a}/{b} (read_only {ro}): {r:?}"
            );
            let after = std::fs::read(&path).unwrap();
            assert_eq!(after.len(), bytes.len(), "{a}/{b}: length changed");
            assert!(after == bytes, "{a}/{b}: file changed");
        }
    }
}

crate::also_cached!(
    not_a_database_left_untouched,
    empty_file_opens_as_new_database,
    torn_creation_opens_as_new_database,
    truncated_file,
    zeroed_meta_slot,
    torn_newest_meta_opens_older_commit,
    both_metas_damaged,
);
