//! Side-by-side comparison of larchdb with LMDB (heed), redb, canopydb, fjall and SQLite
//! (rusqlite), on the workload of the project's BENCHMARKS.md. See docs/BENCHMARKS.md.
//!
//! The parent process runs each engine in a child process (this binary again, with the hidden
//! `--child ENGINE`), one after another, on fresh files in a temporary directory; the child
//! streams its measurements back as JSON lines on stdout.

mod bulk;
mod engines;
mod report;
mod workload;

use clap::Parser;
use report::{EngineResult, Msg, Report, Unit};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use workload::{emit, Rec, Standard};

/// larch-compare: run the BENCHMARKS.md workload on larchdb and its peers, side by side.
#[derive(Parser)]
#[command(
    name = "larch-compare",
    override_usage = "cargo run --release -p larch-compare -- [OPTIONS]"
)]
struct Cli {
    /// Keys in the standard workload; the extra rows scale with N / 1,000,000 below 1,000,000
    /// keys (`_` and `,` may group digits)
    #[arg(long, value_name = "N", default_value = "5000000", value_parser = parse_keys)]
    keys: u64,
    /// Engines to run, in order (default: all compiled in): larchdb, larchdb-cached, lmdb, redb,
    /// canopydb, fjall, sqlite
    #[arg(long, value_name = "a,b,..")]
    engines: Option<String>,
    /// Sections to run (default: all): standard, small, relaxed, sorted, prefix (keys with a
    /// 24-byte shared prefix), large, bulk (retain, extract_if, pop_first/pop_last,
    /// remove_range)
    #[arg(long, value_name = "a,b,..")]
    sections: Option<String>,
    /// Where results.json, results.md and ratios.svg go
    #[arg(long, value_name = "DIR", default_value = "target/compare-results")]
    out: PathBuf,
    /// Where the temporary database directories go (default: the system temp dir)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Stop a multi-transaction row after S seconds and extrapolate
    #[arg(long, value_name = "S", default_value_t = 60.0)]
    cap_secs: f64,
    /// PRNG seed
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Run every engine R times (round after round) and keep, per cell, the best value (lowest
    /// time or size, highest rate)
    #[arg(long, value_name = "R", default_value_t = 1)]
    rounds: u32,
    /// Run nothing: re-print the tables and redraw the chart (into --out) from a results.json
    /// written by an earlier run
    #[arg(long, value_name = "FILE")]
    render: Option<PathBuf>,
    /// Run one engine's measurements and stream them to the parent (internal)
    #[arg(long, value_name = "ENGINE", hide = true)]
    child: Option<String>,
}

/// What a run was asked to do: the command line, with its defaults and lists resolved.
struct Args {
    keys: u64,
    engines: Vec<String>,
    sections: Vec<String>,
    out: PathBuf,
    dir: PathBuf,
    cap_secs: f64,
    seed: u64,
    rounds: u32,
    child: Option<String>,
    render: Option<PathBuf>,
}

/// A key count, digits optionally grouped with `_` or `,`.
fn parse_keys(s: &str) -> Result<u64, String> {
    s.replace(['_', ','], "")
        .parse()
        .map_err(|e| format!("{e}"))
}

/// The non-empty items of a comma-separated list.
fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The checked arguments of `cli`: lists split, defaults filled in, names known.
fn resolve(cli: Cli) -> Result<Args, String> {
    let a = Args {
        keys: cli.keys,
        engines: match &cli.engines {
            Some(e) => list(e),
            None => engines::compiled().iter().map(|s| s.to_string()).collect(),
        },
        sections: match &cli.sections {
            Some(s) => list(s),
            None => SECTIONS.iter().map(|s| s.id.to_string()).collect(),
        },
        out: cli.out,
        dir: cli.dir.unwrap_or_else(std::env::temp_dir),
        cap_secs: cli.cap_secs,
        seed: cli.seed,
        rounds: cli.rounds,
        child: cli.child,
        render: cli.render,
    };
    if a.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    if a.keys < 1000 {
        return Err("--keys must be at least 1000".into());
    }
    for s in &a.sections {
        if !SECTIONS.iter().any(|x| x.id == s) {
            return Err(format!("unknown section {s:?}"));
        }
    }
    let compiled = engines::compiled();
    for e in &a.engines {
        if !compiled.contains(&e.as_str()) {
            return Err(format!(
                "unknown or not compiled engine {e:?}; compiled: {}",
                compiled.join(", ")
            ));
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match resolve(Cli::parse()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match (&args.child, &args.render) {
        (Some(engine), _) => child(engine, &args),
        (None, Some(json)) => render(json, &args.out),
        (None, None) => parent(&args),
    }
}

// ---------------------------------------------------------------------------------------------
// child

/// Resets the peak-RSS mark (VmHWM) to the current RSS (Linux: `5` into /proc/self/clear_refs).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// VmHWM from /proc/self/status, in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The fraction of the 1M-key size the extra rows run at (1 from 1,000,000 keys up).
fn extra_scale(keys: u64) -> f64 {
    (keys as f64 / 1_000_000.0).min(1.0)
}

fn scaled(n: u64, f: f64, min: u64) -> u64 {
    ((n as f64 * f).round() as u64).max(min)
}

/// Rows with no prefix on their id and label.
const PLAIN: Rec = Rec {
    id_prefix: "",
    label_prefix: "",
};

struct Section {
    id: &'static str,
    label: &'static str,
}

const SECTIONS: [Section; 7] = [
    Section {
        id: "standard",
        label: "standard workload",
    },
    Section {
        id: "small",
        label: "16 B keys / 100 B values",
    },
    Section {
        id: "relaxed",
        label: "relaxed commits",
    },
    Section {
        id: "sorted",
        label: "sorted insert + scan",
    },
    Section {
        id: "prefix",
        label: "shared-prefix keys",
    },
    Section {
        id: "large",
        label: "large values",
    },
    Section {
        id: "bulk",
        label: "bulk removals",
    },
];

fn child(engine: &str, a: &Args) -> ExitCode {
    let d = engines::describe(engine);
    emit(&Msg::Meta {
        version: d.version,
        config: d.config,
    });
    let cap = Duration::from_secs_f64(a.cap_secs);
    let f = extra_scale(a.keys);
    let mut max_rss = 0u64;
    let chosen = SECTIONS
        .iter()
        .filter(|s| a.sections.iter().any(|c| c == s.id));
    for (idx, section) in chosen.enumerate() {
        let dir = match tempfile::Builder::new()
            .prefix(&format!("{engine}-{}-", section.id))
            .tempdir_in(&a.dir)
        {
            Ok(d) => d,
            Err(e) => {
                emit(&Msg::Error {
                    section: section.id.into(),
                    message: format!("temp dir: {e}"),
                });
                return ExitCode::FAILURE;
            }
        };
        reset_peak_rss();
        let result = run_section(engine, section.id, dir.path(), a, f, cap);
        match result {
            Err(SectionError::Open(e)) if idx == 0 => {
                emit(&Msg::Unavailable {
                    reason: format!("could not open: {e}"),
                });
                return ExitCode::SUCCESS;
            }
            Err(SectionError::Open(e)) | Err(SectionError::Run(e)) => emit(&Msg::Error {
                section: section.id.into(),
                message: e.to_string(),
            }),
            Ok(()) => {}
        }
        let rss = peak_rss();
        max_rss = max_rss.max(rss.unwrap_or(0));
        let rec = Rec {
            id_prefix: "",
            label_prefix: "",
        };
        rec.bytes(
            &format!("rss_{}", section.id),
            &format!("peak RSS: {}", section.label),
            rss,
        );
    }
    let rec = Rec {
        id_prefix: "",
        label_prefix: "",
    };
    rec.bytes("rss_max", "peak RSS: whole run", Some(max_rss));
    ExitCode::SUCCESS
}

enum SectionError {
    Open(engines::Error),
    Run(engines::Error),
}

fn run_section(
    engine: &str,
    id: &str,
    dir: &Path,
    a: &Args,
    f: f64,
    cap: Duration,
) -> Result<(), SectionError> {
    let open = |relaxed: bool, data_bytes: u64| {
        workload::open(engine, dir, relaxed, data_bytes).map_err(SectionError::Open)
    };
    let run = |r: engines::Result<()>| r.map_err(SectionError::Run);
    match id {
        "standard" => {
            let p = Standard {
                keys: a.keys,
                key_len: 24,
                val_len: 150,
                individual: 1000,
                threaded: Some((8, 250)),
                batches: 100,
                batch_size: 1000,
                reads: 1_000_000,
                ranges: 500_000,
                range_len: 10,
                writer_secs: Some((5.0 * f).max(1.0)),
                seed: a.seed,
                cap,
            };
            let mut db = open(false, p.data_bytes())?;
            let rec = PLAIN;
            run(workload::run_standard(&mut db, dir, &p, &rec))
        }
        "small" => {
            let p = Standard {
                keys: a.keys / 5,
                key_len: 16,
                val_len: 100,
                individual: 200,
                threaded: None,
                batches: 20,
                batch_size: 1000,
                reads: 200_000,
                ranges: 100_000,
                range_len: 10,
                writer_secs: None,
                seed: a.seed ^ 0x16_100,
                cap,
            };
            let mut db = open(false, p.data_bytes())?;
            let rec = Rec {
                id_prefix: "small_",
                label_prefix: "16/100 at N/5: ",
            };
            run(workload::run_standard(&mut db, dir, &p, &rec))
        }
        "relaxed" => {
            let count = scaled(50_000, f, 100);
            let db = open(true, count * 174)?;
            let rec = PLAIN;
            run(workload::run_relaxed(db.as_ref(), count, a.seed, cap, &rec))
        }
        "sorted" => {
            let count = scaled(1_000_000, f, 1000);
            let db = open(false, count * 64)?;
            let rec = PLAIN;
            run(workload::run_sorted(db.as_ref(), count, a.seed, &rec))
        }
        "prefix" => {
            let count = scaled(1_000_000, f, 1000);
            let db = open(false, count * 64)?;
            let rec = Rec {
                id_prefix: "",
                label_prefix: "24 B shared prefix: ",
            };
            run(workload::run_prefix(
                db.as_ref(),
                count,
                1_000_000,
                500_000,
                10,
                a.seed,
                &rec,
            ))
        }
        "large" => {
            let small_n = scaled(4000, f, 10);
            let big_n = scaled(400, f, 2);
            let bytes = small_n * (64 << 10) + big_n * (2 << 20);
            let db = open(false, bytes)?;
            let rec = PLAIN;
            run(workload::run_large(
                db.as_ref(),
                "large_64k",
                "64 KiB values:",
                small_n,
                64 << 10,
                100,
                a.seed,
                cap,
                &rec,
            ))?;
            run(workload::run_large(
                db.as_ref(),
                "large_2m",
                "2 MiB values:",
                big_n,
                2 << 20,
                10,
                a.seed,
                cap,
                &rec,
            ))
        }
        "bulk" => {
            let count = scaled(1_000_000, f, 1000);
            let db = open(false, count * 124)?;
            let rec = PLAIN;
            run(bulk::run_bulk(db.as_ref(), count, a.seed, &rec))
        }
        other => Err(SectionError::Run(format!("unknown section {other}").into())),
    }
}

// ---------------------------------------------------------------------------------------------
// parent

fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / (1024.0 * 1024.0));
    let kernel = command_output("uname", &["-sr"]).unwrap_or_default();
    format!("{model}, {cores} cores, {mem_gib:.0} GiB RAM, {kernel}")
}

fn commit() -> String {
    if let Ok(c) = std::env::var("LARCH_COMPARE_COMMIT") {
        return c;
    }
    let head = command_output("git", &["rev-parse", "--short", "HEAD"]).unwrap_or("?".into());
    let dirty = command_output("git", &["status", "--porcelain", "--", "src", "Cargo.toml"])
        .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head} (with uncommitted changes in src/)")
    } else {
        head
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn progress(start: Instant, engine: &str, what: &str) {
    eprintln!(
        "[{:7.1} s] {engine:<15} {what}",
        start.elapsed().as_secs_f64()
    );
}

fn run_child(
    exe: &Path,
    engine: &str,
    a: &Args,
    run_dir: &Path,
    start: Instant,
    round: u32,
) -> EngineResult {
    let tag = if a.rounds > 1 {
        format!("{engine} {}/{}", round + 1, a.rounds)
    } else {
        engine.to_string()
    };
    let engine_tag = tag.as_str();
    let mut res = EngineResult {
        engine: engine.to_string(),
        version: String::new(),
        config: String::new(),
        unavailable: None,
        errors: Vec::new(),
        wall_secs: 0.0,
        rows: Vec::new(),
    };
    let t = Instant::now();
    let child = Command::new(exe)
        .args(["--child", engine, "--keys", &a.keys.to_string()])
        .arg("--dir")
        .arg(run_dir)
        .args(["--cap-secs", &a.cap_secs.to_string()])
        .args(["--seed", &a.seed.to_string()])
        .args(["--sections", &a.sections.join(",")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            res.errors.push(format!("could not start: {e}"));
            return res;
        }
    };
    progress(start, engine_tag, "started");
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Msg>(&line) {
            Ok(Msg::Meta { version, config }) => {
                res.version = version;
                res.config = config;
            }
            Ok(Msg::Row(row)) => {
                let shown = match row.value {
                    Some(v) => format!(
                        "{}{}",
                        report::fmt_value(row.unit, v),
                        if row.unit == Unit::Ms { " ms" } else { "" }
                    ),
                    None => "n/a".into(),
                };
                let note = row
                    .note
                    .as_deref()
                    .map_or(String::new(), |n| format!("  ({n})"));
                progress(
                    start,
                    engine_tag,
                    &format!("{:<48} {shown:>14}{note}", row.label),
                );
                res.rows.push(row);
            }
            Ok(Msg::Unavailable { reason }) => {
                progress(start, engine_tag, &format!("n/a: {reason}"));
                res.unavailable = Some(reason);
            }
            Ok(Msg::Error { section, message }) => {
                progress(
                    start,
                    engine_tag,
                    &format!("FAILED in {section}: {message}"),
                );
                res.errors.push(format!("{section}: {message}"));
            }
            Err(_) => eprintln!("{engine_tag}: {line}"),
        }
    }
    match child.wait() {
        Ok(s) if s.success() => {}
        Ok(s) => res.errors.push(format!("child exited with {s}")),
        Err(e) => res.errors.push(format!("wait: {e}")),
    }
    res.wall_secs = t.elapsed().as_secs_f64();
    progress(
        start,
        engine_tag,
        &format!("done in {:.1} s", res.wall_secs),
    );
    res
}

fn parent(a: &Args) -> ExitCode {
    let start = Instant::now();
    let load_start = loadavg();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find this executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let run_dir = match tempfile::Builder::new()
        .prefix("larch-compare-")
        .tempdir_in(&a.dir)
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot create a temp dir in {}: {e}", a.dir.display());
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "larch-compare: {} keys, engines {}, temp dir {}",
        a.keys,
        a.engines.join(","),
        run_dir.path().display()
    );
    let mut rounds = Vec::new();
    for round in 0..a.rounds {
        // Every second round runs the engines in reverse order: the process that runs first
        // (after a pause, or after the build) gets memory the VM's host has taken back and
        // faults it in slowly (see docs/BENCHMARKS.md), so no engine should always be first.
        // Results stay in the order of `--engines`.
        let reverse = round % 2 == 1;
        let mut engines: Vec<&String> = a.engines.iter().collect();
        if reverse {
            engines.reverse();
        }
        let mut results: Vec<_> = engines
            .into_iter()
            .map(|engine| run_child(&exe, engine, a, run_dir.path(), start, round))
            .collect();
        if reverse {
            results.reverse();
        }
        rounds.push(results);
    }
    let results = report::best_of(&rounds);
    let mut command = format!("cargo run --release -p larch-compare -- --keys {}", a.keys);
    if a.engines.iter().map(String::as_str).ne(engines::compiled()) {
        command.push_str(&format!(" --engines {}", a.engines.join(",")));
    }
    if a.seed != 1 {
        command.push_str(&format!(" --seed {}", a.seed));
    }
    if a.rounds != 1 {
        command.push_str(&format!(" --rounds {}", a.rounds));
    }
    if a.cap_secs != 60.0 {
        command.push_str(&format!(" --cap-secs {}", a.cap_secs));
    }
    let report = Report {
        keys: a.keys,
        seed: a.seed,
        cap_secs: a.cap_secs,
        date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
        commit: commit(),
        machine: machine(),
        load_start,
        load_end: loadavg(),
        command,
        total_secs: start.elapsed().as_secs_f64(),
        rounds: if a.rounds > 1 { rounds } else { Vec::new() },
        engines: results,
    };
    let md = report::markdown(&report);
    println!("{md}");
    if let Err(e) = write_outputs(&report, &md, &a.out) {
        eprintln!("could not write results to {}: {e}", a.out.display());
        return ExitCode::FAILURE;
    }
    eprintln!(
        "wrote {}/results.json, results.md, ratios.svg ({:.0} s in all)",
        a.out.display(),
        report.total_secs
    );
    if report.engines.iter().any(|e| !e.errors.is_empty()) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn render(json: &Path, out: &Path) -> ExitCode {
    let report: Report = match std::fs::read_to_string(json)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot read {}: {e}", json.display());
            return ExitCode::FAILURE;
        }
    };
    let md = report::markdown(&report);
    println!("{md}");
    if let Err(e) = write_outputs(&report, &md, out) {
        eprintln!("could not write results to {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn write_outputs(report: &Report, md: &str, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(report)?,
    )?;
    std::fs::write(out.join("results.md"), md)?;
    report::chart(report, &out.join("ratios.svg"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use report::Row;
    use workload::Stream;

    #[test]
    fn stream_is_random_access_and_deterministic() {
        let s = Stream::new(7, 24, 150);
        let (mut k1, mut k2) = ([0u8; 24], [0u8; 24]);
        s.key(12345, &mut k1);
        Stream::new(7, 24, 150).key(12345, &mut k2);
        assert_eq!(k1, k2);
        s.key(12346, &mut k2);
        assert_ne!(k1, k2);
        let mut v = [0u8; 150];
        s.value(12345, &mut v);
        assert_eq!(v[0], s.value_first_byte(12345));
    }

    #[test]
    fn ratio_picks_the_best_peer() {
        let row = |id: &str, unit, v: f64| Row {
            id: id.into(),
            label: id.into(),
            unit,
            value: Some(v),
            note: None,
        };
        let engine = |name: &str, rows: Vec<Row>| EngineResult {
            engine: name.into(),
            version: String::new(),
            config: String::new(),
            unavailable: None,
            errors: vec![],
            wall_secs: 0.0,
            rows,
        };
        let r = Report {
            keys: 1000,
            seed: 1,
            cap_secs: 60.0,
            date: String::new(),
            commit: String::new(),
            machine: String::new(),
            load_start: String::new(),
            load_end: String::new(),
            command: String::new(),
            total_secs: 0.0,
            rounds: vec![],
            engines: vec![
                engine(
                    "larchdb",
                    vec![row("a", Unit::Ms, 10.0), row("r", Unit::PerSec, 50.0)],
                ),
                engine(
                    "lmdb",
                    vec![row("a", Unit::Ms, 5.0), row("r", Unit::PerSec, 100.0)],
                ),
                engine(
                    "redb",
                    vec![row("a", Unit::Ms, 20.0), row("r", Unit::PerSec, 10.0)],
                ),
            ],
        };
        let q = report::ratio(&r, "a", Unit::Ms);
        assert_eq!(q.best.unwrap().0, "lmdb");
        assert_eq!(q.ratio, Some(2.0));
        let q = report::ratio(&r, "r", Unit::PerSec);
        assert_eq!(q.ratio, Some(2.0));
        assert!(report::results_table(&r).contains("| larchdb |"));

        let round2 = vec![
            engine(
                "larchdb",
                vec![row("a", Unit::Ms, 8.0), row("r", Unit::PerSec, 40.0)],
            ),
            engine(
                "lmdb",
                vec![row("a", Unit::Ms, 6.0), row("r", Unit::PerSec, 120.0)],
            ),
            engine(
                "redb",
                vec![row("a", Unit::Ms, 20.0), row("r", Unit::PerSec, 10.0)],
            ),
        ];
        let best = report::best_of(&[r.engines.clone(), round2]);
        let value = |e: usize, id: &str| best[e].rows.iter().find(|r| r.id == id).unwrap().value;
        assert_eq!(value(0, "a"), Some(8.0));
        assert_eq!(value(0, "r"), Some(50.0));
        assert_eq!(value(1, "a"), Some(5.0));
        assert_eq!(value(1, "r"), Some(120.0));
    }
}
