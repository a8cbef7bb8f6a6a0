//! Replacement-policy benchmarks: ARC against plain LRU on two seeded traces, with a cache of
//! 10% of the pages (`Workload::cache_pages`).
//!
//! - `zipf`: 1M zipfian reads (skew 0.99) over 100k pages (`Workload::ZIPF`);
//! - `zipf_scans`: the same reads with a full sequential scan of all pages after every 100k
//!   reads (`Workload::ZIPF_WITH_SCANS`).
//!
//! Each benchmark times one request (`access`) per iteration, replaying the trace in a loop on a
//! policy warmed up by one full pass. Before the timings, each policy's hit rate on each trace
//! (one pass from empty) is printed to stderr.
//!
//! Run with `cargo bench --bench cache_policy`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use larchdb::testing::{hit_rate, ArcPolicy, LruPolicy, ReplacementPolicy, Workload};
use std::time::Duration;

/// The traces, by benchmark name.
const WORKLOADS: [(&str, Workload); 2] = [
    ("zipf", Workload::ZIPF),
    ("zipf_scans", Workload::ZIPF_WITH_SCANS),
];

/// Times one request per iteration of `policy` replaying `trace` in a loop.
fn bench_policy<P: ReplacementPolicy>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut policy: P,
    trace: &[u64],
) {
    hit_rate(&mut policy, trace);
    let mut evicted = Vec::with_capacity(4);
    let mut i = 0usize;
    g.bench_function(name, |b| {
        b.iter(|| {
            let key = trace[i];
            i += 1;
            if i == trace.len() {
                i = 0;
            }
            evicted.clear();
            black_box(policy.access(black_box(key), &mut evicted))
        })
    });
}

/// `<trace>/arc` and `<trace>/lru` for both traces, after printing the hit rates.
fn bench_policies(c: &mut Criterion) {
    for (name, w) in WORKLOADS {
        let trace = w.trace();
        let cap = w.cache_pages();
        let arc = hit_rate(&mut ArcPolicy::new(cap), &trace);
        let lru = hit_rate(&mut LruPolicy::new(cap), &trace);
        eprintln!(
            "cache_policy {name}: {} requests over {} pages, cache {cap} pages: \
             hit rate ARC {:.2}%, LRU {:.2}%",
            trace.len(),
            w.pages,
            arc * 100.0,
            lru * 100.0
        );
        let mut g = c.benchmark_group(name);
        g.measurement_time(Duration::from_secs(5))
            .warm_up_time(Duration::from_secs(1))
            .sample_size(20)
            .throughput(Throughput::Elements(1));
        bench_policy(&mut g, "arc", ArcPolicy::new(cap), &trace);
        bench_policy(&mut g, "lru", LruPolicy::new(cap), &trace);
        g.finish();
    }
}

criterion_group!(benches, bench_policies);
criterion_main!(benches);
