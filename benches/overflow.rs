//! Large values: reading a 64 KiB and a 2 MiB value from overflow pages (a zero-copy slice of the
//! map, then one pass over its bytes), and writing one. Run with `cargo bench --bench overflow`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use larchdb::{Database, Durability};
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .durability(Durability::Eventual)
        .open(dir.path().join("overflow.larch"))
        .unwrap();
    let sizes = [64usize << 10, 2 << 20];
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table("big").unwrap();
        for (i, &n) in sizes.iter().enumerate() {
            t.insert(&[i as u8], &vec![i as u8 + 1; n]).unwrap();
        }
    }
    w.commit().unwrap();
    let mut g = c.benchmark_group("overflow");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let rtx = db.begin_read().unwrap();
    let t = rtx.open_table("big").unwrap();
    for (i, &n) in sizes.iter().enumerate() {
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function(format!("get_slice_{}k", n >> 10), |b| {
            b.iter(|| black_box(t.get(&[i as u8]).unwrap().map(<[u8]>::len)))
        });
        g.bench_function(format!("get_and_sum_{}k", n >> 10), |b| {
            b.iter(|| {
                black_box(
                    t.get(&[i as u8])
                        .unwrap()
                        .unwrap()
                        .iter()
                        .map(|&x| u64::from(x))
                        .sum::<u64>(),
                )
            })
        });
    }
    let value = vec![9u8; 64 << 10];
    g.throughput(Throughput::Bytes(value.len() as u64));
    g.bench_function("insert_64k_in_txn", |b| {
        let w = db.begin_write().unwrap();
        let mut k = 0u64;
        b.iter(|| {
            k += 1;
            w.open_table("w")
                .unwrap()
                .insert(&k.to_be_bytes(), &value)
                .unwrap();
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
