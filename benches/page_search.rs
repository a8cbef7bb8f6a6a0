//! In-page search: point gets on a table that is a single leaf (one page visit), and on a
//! two-level tree, so the cost of the binary search over key hints shows apart from the cost of
//! descending a large tree (`benches/core.rs`). Run with `cargo bench --bench page_search`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use larchdb::testing::Rng;
use larchdb::Database;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("search.larch")).unwrap();
    let mut rng = Rng::new(1);
    let mut keys = Vec::new();
    let w = db.begin_write().unwrap();
    for (table, n) in [("leaf", 40), ("two_levels", 5_000)] {
        let mut t = w.open_table(table).unwrap();
        let mut ks = Vec::new();
        for _ in 0..n {
            let k = rng.next_u64().to_be_bytes().repeat(3); // 24-byte keys
            t.insert(&k, &[7u8; 40]).unwrap();
            ks.push(k);
        }
        keys.push((table, ks));
    }
    w.commit().unwrap();
    let stats = db.stats().unwrap();
    let mut g = c.benchmark_group("page_search");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(1));
    let rtx = db.begin_read().unwrap();
    for (table, ks) in &keys {
        let depth = stats
            .tables
            .iter()
            .find(|t| t.name == *table)
            .map_or(0, |t| t.depth);
        let t = rtx.open_table(table).unwrap();
        let mut i = 0;
        g.bench_function(format!("{table}_depth{depth}"), |b| {
            b.iter(|| {
                i = (i + 1) % ks.len();
                black_box(t.get(&ks[i]).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
