//! Model tests of typed tables: random inserts, removes, range removals and ranges over
//! order-preserving keys (signed integers, tuples with a string, options) against a `BTreeMap`
//! of the same types, across commits; a typed table's order must be its key type's order.

use larchdb::TableDef;
use proptest::prelude::*;
use std::collections::BTreeMap;

mod common;

/// Signed keys: negative ones must sort first.
const SIGNED: TableDef<i64, str> = TableDef::new("signed");
/// Tuple keys: by number, then by name, then absent before present.
const TUPLES: TableDef<(i16, Option<u8>, String), Vec<u8>> = TableDef::new("tuples");
/// Strings and byte strings before the last element (escaped inside the key), full of the
/// bytes the escaping turns on (0x00, 0xFF).
const NAMED: TableDef<NamedKey, u32> = TableDef::new("named");
type NamedKey = (String, Vec<u8>, i8);

#[derive(Debug, Clone)]
enum Op {
    Signed(i64, Option<String>),
    Tuple((i16, Option<u8>, String), Option<Vec<u8>>),
    RemoveBelow(i64),
    Named((String, Vec<u8>, i8), Option<u32>),
    Commit,
}

fn op() -> impl Strategy<Value = Op> {
    let small = prop_oneof![-300i64..300, any::<i64>()];
    let tuple = (-5i16..5, proptest::option::of(0u8..3), "[a-c]{0,3}");
    prop_oneof![
        6 => (small.clone(), proptest::option::weighted(0.8, "[a-z]{0,8}")).prop_map(|(k, v)| Op::Signed(k, v)),
        6 => (tuple, proptest::option::weighted(0.8, prop::collection::vec(any::<u8>(), 0..20))).prop_map(|(k, v)| Op::Tuple(k, v)),
        1 => small.prop_map(Op::RemoveBelow),
        6 => (("[a\u{0}b]{0,3}", prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xFF]), 0..3), -2i8..2), proptest::option::weighted(0.8, any::<u32>())).prop_map(|(k, v)| Op::Named(k, v)),
        1 => Just(Op::Commit),
    ]
}

fn run(ops: &[Op]) {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_eventual(&dir.path().join("typed.larch"));
    let mut signed: BTreeMap<i64, String> = BTreeMap::new();
    let mut tuples: BTreeMap<(i16, Option<u8>, String), Vec<u8>> = BTreeMap::new();
    let mut named: BTreeMap<(String, Vec<u8>, i8), u32> = BTreeMap::new();
    let mut w = Some(db.begin_write().unwrap());
    for op in ops {
        let wtx = w.get_or_insert_with(|| db.begin_write().unwrap());
        match op {
            Op::Signed(k, v) => {
                let mut t = wtx.open_typed(SIGNED).unwrap();
                match v {
                    Some(v) => {
                        t.insert(k, v).unwrap();
                        signed.insert(*k, v.clone());
                    }
                    None => assert_eq!(t.remove(k).unwrap(), signed.remove(k).is_some()),
                }
                let got = t.get(k).unwrap().map(|g| g.value().unwrap().to_string());
                assert_eq!(got, signed.get(k).cloned());
            }
            Op::Tuple(k, v) => {
                let mut t = wtx.open_typed(TUPLES).unwrap();
                match v {
                    Some(v) => {
                        t.insert(k, v).unwrap();
                        tuples.insert(k.clone(), v.clone());
                    }
                    None => assert_eq!(t.remove(k).unwrap(), tuples.remove(k).is_some()),
                }
            }
            Op::RemoveBelow(k) => {
                let mut t = wtx.open_typed(SIGNED).unwrap();
                let n = t.remove_range(..k).unwrap();
                let keep = signed.split_off(k);
                assert_eq!(n, signed.len() as u64);
                signed = keep;
            }
            Op::Named(k, v) => {
                let mut t = wtx.open_typed(NAMED).unwrap();
                match v {
                    Some(v) => {
                        t.insert(k, v).unwrap();
                        named.insert(k.clone(), *v);
                    }
                    None => assert_eq!(t.remove(k).unwrap(), named.remove(k).is_some()),
                }
                let got = t.get(k).unwrap().map(|g| g.value().unwrap());
                assert_eq!(got, named.get(k).copied());
            }
            Op::Commit => w.take().unwrap().commit().unwrap(),
        }
    }
    if let Some(w) = w {
        // The writer sees the same order as the model.
        let t = w.open_typed(SIGNED).unwrap();
        let got: Vec<(i64, String)> = t
            .iter()
            .unwrap()
            .map(|e| e.map(|(k, v)| (k.value().unwrap(), v.value().unwrap().to_string())))
            .collect::<larchdb::Result<_>>()
            .unwrap();
        assert!(got.iter().eq(signed
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect::<Vec<_>>()
            .iter()));
        w.commit().unwrap();
    }
    db.check().unwrap();
    let r = db.begin_read().unwrap();
    if let Ok(t) = r.open_typed(SIGNED) {
        let got: Vec<(i64, &str)> = t.iter().unwrap().collect::<larchdb::Result<_>>().unwrap();
        let want: Vec<(i64, &str)> = signed.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(got, want);
        let rev: Vec<(i64, &str)> = t
            .iter()
            .unwrap()
            .rev()
            .collect::<larchdb::Result<_>>()
            .unwrap();
        assert!(rev.iter().rev().eq(want.iter()));
        let lo = (-10i64, 10i64);
        let got: Vec<_> = t
            .range(lo.0..lo.1)
            .unwrap()
            .collect::<larchdb::Result<Vec<_>>>()
            .unwrap();
        let want: Vec<_> = signed
            .range(lo.0..lo.1)
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        assert_eq!(got, want);
    }
    if let Ok(t) = r.open_typed(TUPLES) {
        let got: Vec<_> = t
            .iter()
            .unwrap()
            .collect::<larchdb::Result<Vec<_>>>()
            .unwrap();
        let want: Vec<_> = tuples
            .iter()
            .map(|((a, b, c), v)| ((*a, *b, c.as_str()), v.as_slice()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(t.len().unwrap(), tuples.len() as u64);
    }
    if let Ok(t) = r.open_typed(NAMED) {
        // The stored order is the tuples' order, and each key reads back as it was written.
        let got: Vec<(NamedKey, u32)> = t
            .iter()
            .unwrap()
            .map(|e| e.map(|((a, b, c), v)| ((a.into_owned(), b.into_owned(), c), v)))
            .collect::<larchdb::Result<_>>()
            .unwrap();
        let want: Vec<_> = named.iter().map(|(k, v)| (k.clone(), *v)).collect();
        assert_eq!(got, want);
        let lo = (String::from("a"), vec![], i8::MIN);
        let hi = (String::from("b"), vec![0], 0);
        let got: Vec<_> = t
            .range(lo.clone()..hi.clone())
            .unwrap()
            .map(|e| e.map(|(_, v)| v))
            .collect::<larchdb::Result<_>>()
            .unwrap();
        let want: Vec<u32> = named.range(lo..hi).map(|(_, v)| *v).collect();
        assert_eq!(got, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn typed_model(ops in prop::collection::vec(op(), 1..200)) {
        run(&ops);
    }
}

fn typed_fixed_cases() {
    run(&[
        Op::Signed(-1, Some("minus one".into())),
        Op::Signed(i64::MIN, Some("min".into())),
        Op::Signed(5, Some("five".into())),
        Op::Commit,
        Op::Tuple((0, None, "b".into()), Some(vec![1])),
        Op::Tuple((0, Some(0), "".into()), Some(vec![2])),
        Op::Tuple((-1, Some(2), "a".into()), Some(vec![3])),
        Op::RemoveBelow(0),
    ]);
}

#[test]
fn typed_fixed() {
    typed_fixed_cases();
}

crate::also_cached!(typed_model, typed_fixed);

/// Serde values (cargo feature `serde`): random records written, overwritten and removed
/// against a model, read back after a commit, on both backends.
#[cfg(feature = "serde")]
#[test]
fn serde_values_match_the_model() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
    struct Rec {
        name: String,
        tags: Vec<u16>,
        score: Option<f64>,
    }
    const RECS: TableDef<u32, larchdb::Serde<Rec>> = TableDef::new("recs");
    let run = || {
        let dir = tempfile::tempdir().unwrap();
        let db = common::open_eventual(&dir.path().join("serde.larch"));
        let mut rng = common::Rng::new(5);
        let mut model = BTreeMap::new();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_typed(RECS).unwrap();
            for _ in 0..2000 {
                let k = (rng.next_u64() % 300) as u32;
                if rng.next_u64() % 4 == 0 {
                    assert_eq!(t.remove(&k).unwrap(), model.remove(&k).is_some());
                    continue;
                }
                let n = rng.next_u64();
                let rec = Rec {
                    name: format!("r{n}"),
                    tags: (0..n % 5).map(|i| i as u16).collect(),
                    score: (n % 3 != 0).then_some(n as f64 / 7.0),
                };
                t.insert(&k, &larchdb::Serde(rec.clone())).unwrap();
                model.insert(k, rec);
            }
        }
        w.commit().unwrap();
        let r = db.begin_read().unwrap();
        let t = r.open_typed(RECS).unwrap();
        let got: Vec<(u32, Rec)> = t.iter().unwrap().collect::<larchdb::Result<_>>().unwrap();
        let want: Vec<(u32, Rec)> = model.into_iter().collect();
        assert_eq!(got, want);
    };
    run();
    common::cached(run);
}
