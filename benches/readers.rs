//! What `begin_read` costs with the lock file's reader table (issue 16).
//!
//! - `writable`: `begin_read` + drop on the writable handle: the in-process path (an arc-swap
//!   load), which is also what every handle paid before read-only handles could open beside a
//!   writer;
//! - `read_only/idle_writer`: on a read-only handle beside a writable handle that does not
//!   commit: the published version is unchanged, so a snapshot locks the handle's reader state,
//!   reads the lock file's sequence number, pins its txn in its slot (a store and a fence, since
//!   it has no other snapshot), and clears the pin when dropped;
//! - `read_only/held`: the same while another snapshot of the handle is alive (no pin change);
//! - `read_only/after_commit`: a commit before each `begin_read` (timed without the commit): the
//!   handle takes the newly published version (reads it, pins it, checks it is still the one,
//!   drops the rewritten pages from the page verification bitmap, builds the version).
//!
//!
//! And what a commit pays for them (`commit_eventual`): a single-insert `Eventual` commit with
//! no read-only handle attached (its pages wait in the write window) and with one attached (the
//! commit writes its pages into the file before it publishes).
//!
//! Run with `cargo bench --bench readers`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use larchdb::{Database, Durability};
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.larch");
    let db = Database::builder()
        .durability(Durability::Eventual)
        .open(&path)
        .expect("open");
    let commit = |i: u64| {
        let wtx = db.begin_write().expect("begin_write");
        wtx.open_table("t")
            .expect("open_table")
            .insert(&(i % 1000).to_be_bytes(), &i.to_le_bytes())
            .expect("insert");
        wtx.commit().expect("commit");
    };
    for i in 0..1000 {
        commit(i);
    }
    let ro = Database::builder()
        .read_only(true)
        .open(&path)
        .expect("read-only open");
    let mut g = c.benchmark_group("begin_read");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    g.bench_function("writable", |b| {
        b.iter(|| drop(db.begin_read().expect("begin_read")))
    });
    g.bench_function("read_only/idle_writer", |b| {
        b.iter(|| drop(ro.begin_read().expect("begin_read")))
    });
    let held = ro.begin_read().expect("begin_read");
    g.bench_function("read_only/held", |b| {
        b.iter(|| drop(ro.begin_read().expect("begin_read")))
    });
    drop(held);
    let mut i = 1000;
    g.bench_function("read_only/after_commit", |b| {
        b.iter_batched(
            || {
                i += 1;
                commit(i)
            },
            |()| drop(ro.begin_read().expect("begin_read")),
            BatchSize::PerIteration,
        )
    });
    g.finish();
    let mut g = c.benchmark_group("commit_eventual");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    drop(ro);
    let mut i = 0;
    g.bench_function("no_reader", |b| {
        b.iter(|| {
            i += 1;
            commit(i)
        })
    });
    let ro = Database::builder()
        .read_only(true)
        .open(&path)
        .expect("read-only open");
    g.bench_function("reader_attached", |b| {
        b.iter(|| {
            i += 1;
            commit(i)
        })
    });
    drop(ro);
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
