//! Model tests of multimap tables: random inserts and removals of (key, value) pairs, with keys
//! and values full of 0x00 and 0xFF bytes (the escaping's edge cases), against a
//! `BTreeMap<key, BTreeSet<value>>`, across commits, on both backends.

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

mod common;

type Model = BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>;

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>, Vec<u8>),
    RemoveAll(Vec<u8>),
    Get(Vec<u8>),
    Commit,
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xFE, 0xFF, b'a']), 0..4)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (bytes(), bytes()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (bytes(), bytes()).prop_map(|(k, v)| Op::Remove(k, v)),
        1 => bytes().prop_map(Op::RemoveAll),
        3 => bytes().prop_map(Op::Get),
        1 => Just(Op::Commit),
    ]
}

fn values(it: impl Iterator<Item = larchdb::Result<impl AsRef<[u8]>>>) -> Vec<Vec<u8>> {
    it.map(|v| v.map(|v| v.as_ref().to_vec()))
        .collect::<larchdb::Result<_>>()
        .unwrap()
}

fn run(ops: &[Op]) {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_eventual(&dir.path().join("multimap.larch"));
    let mut model = Model::new();
    let mut w = None;
    for op in ops {
        let wtx = w.get_or_insert_with(|| db.begin_write().unwrap());
        let mut m = wtx.open_multimap("m").unwrap();
        match op {
            Op::Insert(k, v) => {
                let new = model.entry(k.clone()).or_default().insert(v.clone());
                assert_eq!(m.insert(k, v).unwrap(), new);
            }
            Op::Remove(k, v) => {
                let had = model.get_mut(k).is_some_and(|s| s.remove(v));
                assert_eq!(m.remove(k, v).unwrap(), had);
            }
            Op::RemoveAll(k) => {
                let n = model.remove(k).map_or(0, |s| s.len()) as u64;
                assert_eq!(m.remove_all(k).unwrap(), n);
            }
            Op::Get(k) => {
                let want: Vec<Vec<u8>> = model.get(k).into_iter().flatten().cloned().collect();
                assert_eq!(values(m.get(k).unwrap()), want);
                let mut rev = values(m.get(k).unwrap().rev());
                rev.reverse();
                assert_eq!(rev, want);
            }
            Op::Commit => w.take().unwrap().commit().unwrap(),
        }
        model.retain(|_, s| !s.is_empty());
    }
    if let Some(w) = w {
        w.commit().unwrap();
    }
    db.check().unwrap();
    let r = db.begin_read().unwrap();
    let Ok(m) = r.open_multimap("m") else {
        assert!(model.is_empty());
        return;
    };
    let got: Vec<(Vec<u8>, Vec<u8>)> = m
        .iter()
        .unwrap()
        .map(|e| e.map(|(k, v)| (k, v.to_vec())))
        .collect::<larchdb::Result<_>>()
        .unwrap();
    let want: Vec<(Vec<u8>, Vec<u8>)> = model
        .iter()
        .flat_map(|(k, s)| s.iter().map(move |v| (k.clone(), v.clone())))
        .collect();
    assert_eq!(got, want);
    assert_eq!(m.len().unwrap(), want.len() as u64);
    for (k, s) in &model {
        assert_eq!(
            values(m.get(k).unwrap()),
            s.iter().cloned().collect::<Vec<_>>()
        );
        for v in s {
            assert!(m.contains(k, v).unwrap());
        }
    }
}

/// Typed multimap operations: signed keys, tuple values (sorted as the types, negative first).
#[derive(Debug, Clone)]
enum TypedOp {
    Insert(i32, (i16, u8)),
    Remove(i32, (i16, u8)),
    RemoveAll(i32),
    Get(i32),
    Commit,
}

fn typed_op() -> impl Strategy<Value = TypedOp> {
    let k = -3i32..3;
    let v = (-300i16..300, 0u8..3);
    prop_oneof![
        8 => (k.clone(), v.clone()).prop_map(|(k, v)| TypedOp::Insert(k, v)),
        3 => (k.clone(), v).prop_map(|(k, v)| TypedOp::Remove(k, v)),
        1 => k.clone().prop_map(TypedOp::RemoveAll),
        3 => k.prop_map(TypedOp::Get),
        1 => Just(TypedOp::Commit),
    ]
}

const TYPED: larchdb::MultimapDef<i32, (i16, u8)> = larchdb::MultimapDef::new("typed");

/// [`run`] for a typed multimap, against a `BTreeMap<i32, BTreeSet<(i16, u8)>>`, on an in-memory
/// database.
fn run_typed(ops: &[TypedOp]) {
    let db = larchdb::Database::in_memory().unwrap();
    let mut model: BTreeMap<i32, BTreeSet<(i16, u8)>> = BTreeMap::new();
    let mut w = None;
    for op in ops {
        let wtx = w.get_or_insert_with(|| db.begin_write().unwrap());
        let mut m = wtx.open_typed_multimap(TYPED).unwrap();
        match op {
            TypedOp::Insert(k, v) => {
                let new = model.entry(*k).or_default().insert(*v);
                assert_eq!(m.insert(k, v).unwrap(), new);
            }
            TypedOp::Remove(k, v) => {
                let had = model.get_mut(k).is_some_and(|s| s.remove(v));
                assert_eq!(m.remove(k, v).unwrap(), had);
            }
            TypedOp::RemoveAll(k) => {
                let n = model.remove(k).map_or(0, |s| s.len()) as u64;
                assert_eq!(m.remove_all(k).unwrap(), n);
            }
            TypedOp::Get(k) => {
                let want: Vec<(i16, u8)> = model.get(k).into_iter().flatten().copied().collect();
                let got: Vec<(i16, u8)> = m
                    .get(k)
                    .unwrap()
                    .map(|v| v.and_then(|v| v.value()))
                    .collect::<larchdb::Result<_>>()
                    .unwrap();
                assert_eq!(got, want);
            }
            TypedOp::Commit => w.take().unwrap().commit().unwrap(),
        }
        model.retain(|_, s| !s.is_empty());
    }
    if let Some(w) = w {
        w.commit().unwrap();
    }
    db.check().unwrap();
    let r = db.begin_read().unwrap();
    let Ok(m) = r.open_typed_multimap(TYPED) else {
        assert!(model.is_empty());
        return;
    };
    assert_eq!(
        m.len().unwrap(),
        model.values().map(|s| s.len() as u64).sum()
    );
    for k in -3..3 {
        let want: Vec<(i16, u8)> = model.get(&k).into_iter().flatten().copied().collect();
        let got: Vec<(i16, u8)> = m.get(&k).unwrap().collect::<larchdb::Result<_>>().unwrap();
        assert_eq!(got, want);
        let mut rev: Vec<(i16, u8)> = m
            .get(&k)
            .unwrap()
            .rev()
            .collect::<larchdb::Result<_>>()
            .unwrap();
        rev.reverse();
        assert_eq!(rev, want);
        for v in &want {
            assert!(m.contains(&k, v).unwrap());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn multimap_model(ops in prop::collection::vec(op(), 1..150)) {
        run(&ops);
    }

    #[test]
    fn typed_multimap_model(ops in prop::collection::vec(typed_op(), 1..150)) {
        run_typed(&ops);
    }
}

crate::also_cached!(multimap_model, typed_multimap_model);
