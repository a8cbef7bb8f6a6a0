//! The writer's small-key path: inserts of new keys inside one write transaction with 8-, 24- and
//! 32-byte keys (kept on the stack) against 64-byte keys (spilled to a reused heap buffer where
//! the writer copies keys, e.g. separators). Run with `cargo bench --bench small_key`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use larchdb::testing::Rng;
use larchdb::{Database, Durability};
use std::time::{Duration, Instant};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .durability(Durability::Eventual)
        .open(dir.path().join("small.larch"))
        .unwrap();
    let mut g = c.benchmark_group("small_key_insert");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(1));
    for len in [8usize, 24, 32, 64] {
        g.bench_function(format!("key_{len}b"), |b| {
            b.iter_custom(|iters| {
                let mut rng = Rng::new(len as u64);
                let keys: Vec<Vec<u8>> = (0..iters)
                    .map(|_| (0..len).map(|_| rng.next_u64() as u8).collect())
                    .collect();
                let w = db.begin_write().unwrap();
                let mut t = w.open_table("t").unwrap();
                let start = Instant::now();
                for k in &keys {
                    t.insert(k, &[1u8; 32]).unwrap();
                }
                start.elapsed()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
