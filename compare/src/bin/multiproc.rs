//! Readers in other processes beside a writer: reads per second of 4 reader processes while a
//! writer process commits, larchdb against LMDB (issue 16).
//!
//! `cargo run --release -p larch-compare --no-default-features --features lmdb --bin multiproc
//! -- [--secs S] [--keys N] [--gets G] [--rounds R]`
//!
//! Each engine gets a fresh database of N keys (16-byte keys, 100-byte values). One writer
//! process commits single-key updates as fast as it can without syncing each commit (larchdb
//! `Durability::Eventual`, LMDB `MDB_NOSYNC`); four reader processes each run read transactions
//! of G random point reads (a transaction per G gets: G = 1 measures the cost of starting a
//! snapshot beside the writer) for S seconds. Printed: reads per second of the four together,
//! read transactions per second, and the writer's commits per second meanwhile; R rounds
//! alternate the engines (so that a busy machine disturbs both alike), then the medians.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const READERS: usize = 4;
const VALUE_LEN: usize = 100;

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One engine, as the benchmark uses it.
trait Engine {
    /// Writer: commits single-key updates until `stop`; returns commits.
    fn write(&self, keys: u64, stop: &dyn Fn() -> bool) -> u64;
    /// Reader: read transactions of `gets` random gets until `until`; returns gets.
    fn read(&self, keys: u64, gets: u64, until: Instant) -> u64;
}

mod larch {
    use super::*;
    use larchdb::{Database, Durability};

    pub struct Larch(Database);

    pub fn create(path: &Path, keys: u64) {
        let db = Database::open(path).unwrap();
        let wtx = db.begin_write().unwrap();
        {
            let mut t = wtx.open_table("t").unwrap();
            for i in 0..keys {
                t.insert(&key(i), &[1u8; VALUE_LEN]).unwrap();
            }
        }
        wtx.commit().unwrap();
    }

    pub fn open(path: &Path, writer: bool) -> Larch {
        let db = Database::builder()
            .read_only(!writer)
            .durability(Durability::Eventual)
            .open(path)
            .unwrap();
        Larch(db)
    }

    impl Engine for Larch {
        fn write(&self, keys: u64, stop: &dyn Fn() -> bool) -> u64 {
            let (mut rng, mut n) = (Rng(7), 0);
            while !stop() {
                let wtx = self.0.begin_write().unwrap();
                wtx.open_table("t")
                    .unwrap()
                    .insert(&key(rng.next() % keys), &[2u8; VALUE_LEN])
                    .unwrap();
                wtx.commit().unwrap();
                n += 1;
            }
            n
        }

        fn read(&self, keys: u64, gets: u64, until: Instant) -> u64 {
            let (mut rng, mut n) = (Rng(std::process::id() as u64 | 1), 0);
            while Instant::now() < until {
                for _ in 0..64 {
                    let rtx = self.0.begin_read().unwrap();
                    let t = rtx.open_table("t").unwrap();
                    for _ in 0..gets {
                        let v = t.get(&key(rng.next() % keys)).unwrap();
                        assert_eq!(v.map(|v| v.len()), Some(VALUE_LEN));
                    }
                    n += gets;
                }
            }
            n
        }
    }
}

mod lmdb {
    use super::*;
    use heed::types::Bytes;
    use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions};

    pub struct Lmdb(Env, Database<'static, Bytes, Bytes>);

    pub fn open(dir: &Path) -> Lmdb {
        let mut o = EnvOpenOptions::new();
        o.map_size(8 << 30).max_readers(126);
        // SAFETY: NO_SYNC only weakens durability, as larchdb's Eventual does.
        unsafe {
            o.flags(EnvFlags::NO_SYNC);
        }
        // SAFETY: the directory is this benchmark's own; every process opens it the same way.
        let env = unsafe { o.open(dir).unwrap() };
        let w = env.write_txn().unwrap();
        let db = env
            .create_databases_and_commit(w, |dbo, w| -> heed::Result<_> {
                Ok(CommitOrAbort::<_, ()>::Commit(
                    dbo.create_database::<Bytes, Bytes>(w, None)?,
                ))
            })
            .unwrap()
            .unwrap_commit();
        Lmdb(env, db)
    }

    pub fn create(dir: &Path, keys: u64) {
        let l = open(dir);
        let mut w = l.0.write_txn().unwrap();
        for i in 0..keys {
            l.1.put(&mut w, &key(i), &[1u8; VALUE_LEN]).unwrap();
        }
        w.commit().unwrap();
    }

    impl Engine for Lmdb {
        fn write(&self, keys: u64, stop: &dyn Fn() -> bool) -> u64 {
            let (mut rng, mut n) = (Rng(7), 0);
            while !stop() {
                let mut w = self.0.write_txn().unwrap();
                self.1
                    .put(&mut w, &key(rng.next() % keys), &[2u8; VALUE_LEN])
                    .unwrap();
                w.commit().unwrap();
                n += 1;
            }
            n
        }

        fn read(&self, keys: u64, gets: u64, until: Instant) -> u64 {
            let (mut rng, mut n) = (Rng(std::process::id() as u64 | 1), 0);
            while Instant::now() < until {
                for _ in 0..64 {
                    let r = self.0.read_txn().unwrap();
                    for _ in 0..gets {
                        let v = self.1.get(&r, &key(rng.next() % keys)).unwrap();
                        assert_eq!(v.map(|v| v.len()), Some(VALUE_LEN));
                    }
                    n += gets;
                }
            }
            n
        }
    }
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn open_engine(engine: &str, dir: &Path, writer: bool) -> Box<dyn Engine> {
    match engine {
        "larchdb" => Box::new(larch::open(&dir.join("db.larch"), writer)),
        "lmdb" => Box::new(lmdb::open(dir)),
        e => panic!("unknown engine {e}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (secs, keys, gets, rounds) = (
        arg(&args, "--secs", 5),
        arg(&args, "--keys", 100_000),
        arg(&args, "--gets", 1),
        arg(&args, "--rounds", 1),
    );
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let (role, engine, dir) = (&args[i + 1], &args[i + 2], PathBuf::from(&args[i + 3]));
        let e = open_engine(engine, &dir, role == "writer");
        let stop_file = dir.join("stop");
        let n = if role == "writer" {
            e.write(keys, &|| stop_file.exists())
        } else {
            // Warm up, then measure.
            e.read(keys, gets, Instant::now() + Duration::from_millis(500));
            e.read(keys, gets, Instant::now() + Duration::from_secs(secs))
        };
        println!("{n}");
        return;
    }
    println!(
        "{READERS} reader processes, {gets} get(s) per read transaction, {keys} keys, {secs} s, \
         beside 1 writer process committing single-key updates without a sync per commit"
    );
    println!(
        "{:<8} {:>14} {:>16} {:>16}",
        "engine", "reads/s", "read txns/s", "writer commits/s"
    );
    let mut results: Vec<(&str, f64, f64)> = Vec::new();
    for engine in (0..rounds).flat_map(|_| ["larchdb", "lmdb"]) {
        let dir = tempfile::tempdir().unwrap();
        match engine {
            "larchdb" => larch::create(&dir.path().join("db.larch"), keys),
            _ => lmdb::create(dir.path(), keys),
        }
        let exe = std::env::current_exe().unwrap();
        let spawn = |role: &str| {
            Command::new(&exe)
                .args(["--child", role, engine])
                .arg(dir.path())
                .args(["--secs", &secs.to_string(), "--keys", &keys.to_string()])
                .args(["--gets", &gets.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let writer = spawn("writer");
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        let readers: Vec<_> = (0..READERS).map(|_| spawn("reader")).collect();
        let count = |c: std::process::Child| -> u64 {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let reads: u64 = readers.into_iter().map(count).sum();
        let elapsed = started.elapsed();
        std::fs::write(dir.path().join("stop"), b"").unwrap();
        let commits = count(writer);
        let rps = reads as f64 / secs as f64;
        let cps = commits as f64 / elapsed.as_secs_f64();
        println!(
            "{engine:<8} {rps:>14.0} {:>16.0} {cps:>16.0}",
            rps / gets as f64
        );
        results.push((engine, rps, cps));
    }
    if rounds > 1 {
        for engine in ["larchdb", "lmdb"] {
            let median = |f: fn(&(&str, f64, f64)) -> f64| {
                let mut v: Vec<f64> = results.iter().filter(|r| r.0 == engine).map(f).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let (rps, cps) = (median(|r| r.1), median(|r| r.2));
            println!(
                "{:<8} {rps:>14.0} {:>16.0} {cps:>16.0}   (median of {rounds})",
                engine,
                rps / gets as f64
            );
        }
    }
}
