//! Results: the messages a child sends, the collected report, its markdown tables and the chart.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// What a measurement counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Milliseconds (lower is better).
    Ms,
    /// Bytes (lower is better).
    Bytes,
    /// Operations per second (higher is better).
    PerSec,
}

/// One measurement of one engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub label: String,
    pub unit: Unit,
    /// None: not applicable (n/a).
    pub value: Option<f64>,
    pub note: Option<String>,
}

/// A line a child writes on stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg {
    Meta {
        version: String,
        config: String,
    },
    Row(Row),
    /// The engine cannot run here (e.g. a backend that is not implemented yet).
    Unavailable {
        reason: String,
    },
    /// A section failed; the rows sent before it stand.
    Error {
        section: String,
        message: String,
    },
}

/// Everything measured for one engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineResult {
    pub engine: String,
    pub version: String,
    pub config: String,
    pub unavailable: Option<String>,
    pub errors: Vec<String>,
    pub wall_secs: f64,
    pub rows: Vec<Row>,
}

impl EngineResult {
    fn get(&self, id: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.id == id)
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub keys: u64,
    pub seed: u64,
    pub cap_secs: f64,
    pub date: String,
    pub commit: String,
    pub machine: String,
    /// /proc/loadavg at the start and at the end of the run (other work on the machine).
    pub load_start: String,
    pub load_end: String,
    pub command: String,
    pub total_secs: f64,
    /// With `--rounds` > 1: every round's results as measured; `engines` then holds the best
    /// value of each cell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<Vec<EngineResult>>,
    pub engines: Vec<EngineResult>,
}

/// Merges rounds (each with the same engines in the same order): per cell, the lowest time or
/// size, or the highest rate, with that value's note. Errors of every round are kept.
pub fn best_of(rounds: &[Vec<EngineResult>]) -> Vec<EngineResult> {
    let Some((first, rest)) = rounds.split_first() else {
        return Vec::new();
    };
    let mut merged = first.clone();
    for round in rest {
        for (m, e) in merged.iter_mut().zip(round) {
            m.wall_secs += e.wall_secs;
            m.errors.extend(e.errors.iter().cloned());
            for row in &e.rows {
                match m.rows.iter_mut().find(|r| r.id == row.id) {
                    None => m.rows.push(row.clone()),
                    Some(best) => {
                        let better = match (best.value, row.value) {
                            (None, Some(_)) => true,
                            (Some(b), Some(v)) => match row.unit {
                                Unit::PerSec => v > b,
                                _ => v < b,
                            },
                            _ => false,
                        };
                        if better {
                            best.value = row.value;
                            best.note = row.note.clone();
                        }
                    }
                }
            }
        }
    }
    merged
}

/// Whether a row takes part in the ratio table and chart: every row but peak RSS, which is
/// reported next to the times but is not a race (it counts the mapped file pages of mmap
/// engines and only the private caches of the others).
pub fn is_ratio_row(id: &str) -> bool {
    !id.starts_with("rss_")
}

/// The rows in display order: the order of first appearance across engines.
fn row_order(r: &Report) -> Vec<(String, String, Unit)> {
    let mut out: Vec<(String, String, Unit)> = Vec::new();
    for e in &r.engines {
        for row in &e.rows {
            if !out.iter().any(|(id, _, _)| *id == row.id) {
                out.push((row.id.clone(), row.label.clone(), row.unit));
            }
        }
    }
    out
}

fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A value for a table cell.
pub fn fmt_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Ms => {
            if v < 1.0 {
                format!("{v:.3}")
            } else if v < 10.0 {
                format!("{v:.2}")
            } else if v < 1000.0 {
                format!("{v:.1}")
            } else {
                group_thousands(v.round() as u64)
            }
        }
        Unit::Bytes => format!("{:.1} MiB", v / (1024.0 * 1024.0)),
        Unit::PerSec => format!("{}/s", group_thousands(v.round() as u64)),
    }
}

fn unit_suffix(unit: Unit) -> &'static str {
    match unit {
        Unit::Ms => " (ms)",
        Unit::Bytes => "",
        Unit::PerSec => "",
    }
}

/// larchdb's value, the best peer (name and value) and the ratio for one row; the ratio is
/// always "how many times larchdb's cost the best peer's": time or size over the best, or the
/// best rate over larchdb's rate. Above 1 means larchdb is behind.
pub struct Ratio {
    pub larch: Option<f64>,
    pub best: Option<(String, f64)>,
    pub ratio: Option<f64>,
    pub cached_vs_mmap: Option<f64>,
}

pub fn ratio(r: &Report, id: &str, unit: Unit) -> Ratio {
    let value = |name: &str| {
        r.engines
            .iter()
            .find(|e| e.engine == name)
            .and_then(|e| e.get(id))
            .and_then(|row| row.value)
    };
    let larch = value("larchdb");
    let cached = value("larchdb-cached");
    let mut best: Option<(String, f64)> = None;
    for e in r
        .engines
        .iter()
        .filter(|e| !crate::engines::is_larch(&e.engine))
    {
        if let Some(v) = e.get(id).and_then(|row| row.value) {
            let better = match (&best, unit) {
                (None, _) => true,
                (Some((_, b)), Unit::PerSec) => v > *b,
                (Some((_, b)), _) => v < *b,
            };
            if better {
                best = Some((e.engine.clone(), v));
            }
        }
    }
    let cost_ratio = |mine: f64, other: f64| match unit {
        Unit::PerSec => other / mine,
        _ => mine / other,
    };
    let ratio = match (larch, &best) {
        (Some(l), Some((_, b))) if l > 0.0 && *b > 0.0 => Some(cost_ratio(l, *b)),
        _ => None,
    };
    let cached_vs_mmap = match (cached, larch) {
        (Some(c), Some(l)) if c > 0.0 && l > 0.0 => Some(cost_ratio(c, l)),
        _ => None,
    };
    Ratio {
        larch,
        best,
        ratio,
        cached_vs_mmap,
    }
}

/// The main table: one row per measurement, one column per engine.
pub fn results_table(r: &Report) -> String {
    let mut s = String::new();
    let mut notes: Vec<String> = Vec::new();
    s.push_str("| measurement |");
    for e in &r.engines {
        let _ = write!(s, " {} |", e.engine);
    }
    s.push_str("\n|---|");
    for _ in &r.engines {
        s.push_str("---:|");
    }
    s.push('\n');
    for (id, label, unit) in row_order(r) {
        let _ = write!(s, "| {label}{} |", unit_suffix(unit));
        for e in &r.engines {
            let cell = match e.get(&id) {
                Some(row) => {
                    let mut c = match row.value {
                        Some(v) => fmt_value(unit, v),
                        None => "n/a".to_string(),
                    };
                    if let (Some(note), Some(_)) = (&row.note, row.value) {
                        notes.push(format!("{} / {}: {}", e.engine, row.label, note));
                        let _ = write!(c, " [{}]", notes.len());
                    }
                    c
                }
                None => "n/a".to_string(),
            };
            let _ = write!(s, " {cell} |");
        }
        s.push('\n');
    }
    for (i, n) in notes.iter().enumerate() {
        let _ = writeln!(s, "\n[{}] {n}", i + 1);
    }
    for e in &r.engines {
        if let Some(reason) = &e.unavailable {
            let _ = writeln!(s, "\n{}: n/a, {reason}", e.engine);
        }
        for err in &e.errors {
            let _ = writeln!(s, "\n{}: FAILED: {err}", e.engine);
        }
    }
    s
}

/// The ratio table: larchdb / best peer per row.
pub fn ratio_table(r: &Report) -> String {
    let mut s = String::from(
        "| measurement | larchdb | best peer | larchdb / best peer | larchdb cached / mmap |\n\
         |---|---:|---|---:|---:|\n",
    );
    for (id, label, unit) in row_order(r).into_iter().filter(|(id, ..)| is_ratio_row(id)) {
        let q = ratio(r, &id, unit);
        let larch = q.larch.map_or("n/a".into(), |v| fmt_value(unit, v));
        let best = q.best.as_ref().map_or("n/a".into(), |(n, v)| {
            format!("{n} {}", fmt_value(unit, *v))
        });
        let ratio = q.ratio.map_or("n/a".into(), |x| {
            if x > 1.0 {
                format!("**{x:.2}**")
            } else {
                format!("{x:.2}")
            }
        });
        let cached = q.cached_vs_mmap.map_or("n/a".into(), |x| format!("{x:.2}"));
        let _ = writeln!(
            s,
            "| {label}{} | {larch} | {best} | {ratio} | {cached} |",
            unit_suffix(unit)
        );
    }
    s
}

/// The engines and their configuration.
pub fn engines_table(r: &Report) -> String {
    let mut s = String::from("| engine | version | configuration |\n|---|---|---|\n");
    for e in &r.engines {
        let _ = writeln!(s, "| {} | {} | {} |", e.engine, e.version, e.config);
    }
    s
}

/// The full markdown report.
pub fn markdown(r: &Report) -> String {
    format!(
        "## Results ({} keys{})\n\n{}\n\n## larchdb / best peer\n\nA ratio above 1 (bold) means \
         larchdb is behind the best peer on that row by that factor (time, size, or the \
         inverse of a rate).\n\n{}\n\n## Engines\n\n{}\n\nMachine: {}  \nDate: {}  \nCommit: \
         {}  \nLoad average (1, 5, 15 min) at start / end: {} / {}  \nCommand: `{}`  \nTotal \
         time: {:.0} s\n",
        group_thousands(r.keys),
        if r.rounds.len() > 1 {
            format!(", best of {} rounds per cell", r.rounds.len())
        } else {
            String::new()
        },
        results_table(r),
        ratio_table(r),
        engines_table(r),
        r.machine,
        r.date,
        r.commit,
        r.load_start,
        r.load_end,
        r.command,
        r.total_secs
    )
}

/// Tick positions for the log axis: 1 and powers of two (and their halves) within `lo..hi`.
fn key_points(lo: f64, hi: f64) -> Vec<f64> {
    let mut v = Vec::new();
    let mut x = 1.0 / 1024.0;
    while x <= hi {
        if x >= lo {
            v.push(x);
        }
        x *= 2.0;
    }
    v
}

/// A horizontal bar chart of the ratios (log scale, 1 = parity) as SVG.
pub fn chart(r: &Report, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    let rows: Vec<(String, f64)> = row_order(r)
        .into_iter()
        .filter(|(id, ..)| is_ratio_row(id))
        .filter_map(|(id, label, unit)| {
            ratio(r, &id, unit)
                .ratio
                .map(|x| (format!("{label}{}", unit_suffix(unit)), x))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let lo = rows.iter().map(|r| r.1).fold(1.0f64, f64::min) / 1.5;
    let hi = rows.iter().map(|r| r.1).fold(1.0f64, f64::max) * 1.5;
    let n = rows.len();
    let height = 120 + 22 * n as u32;
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "larchdb / best peer ({} keys; < 1: larchdb ahead, > 1: behind)",
                group_thousands(r.keys)
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(360)
        .build_cartesian_2d(
            (lo..hi).log_scale().with_key_points(key_points(lo, hi)),
            (0..n).into_segmented(),
        )?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("ratio (log scale)")
        .x_label_formatter(&|x| format!("{x:.2}"))
        .y_labels(n)
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) => labels.get(n - 1 - *i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .label_style(("sans-serif", 12))
        .draw()?;
    let ahead = RGBColor(46, 139, 87);
    let behind = RGBColor(205, 92, 92);
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, x))| {
        let slot = n - 1 - i;
        let color = if *x <= 1.0 { ahead } else { behind };
        let (a, b) = if *x <= 1.0 { (*x, 1.0) } else { (1.0, *x) };
        let mut bar = Rectangle::new(
            [
                (a, SegmentValue::Exact(slot)),
                (b, SegmentValue::Exact(slot + 1)),
            ],
            color.filled(),
        );
        bar.set_margin(3, 3, 0, 0);
        bar
    }))?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Last)],
        BLACK.stroke_width(1),
    )))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, x))| {
        let slot = n - 1 - i;
        // The value just past the end of the bar, outside it.
        let (at, anchor) = if *x <= 1.0 {
            (x / 1.01, HPos::Right)
        } else {
            (x * 1.01, HPos::Left)
        };
        Text::new(
            format!("{x:.2}"),
            (at, SegmentValue::CenterOf(slot)),
            ("sans-serif", 11)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(anchor, VPos::Center)),
        )
    }))?;
    root.present()?;
    Ok(())
}
