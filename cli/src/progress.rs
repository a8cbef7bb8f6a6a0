//! Progress bars and spinners on stderr (indicatif). They draw only when stderr is a terminal and
//! `--quiet` is not given, so pipes and logs stay clean.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// How often counters are pushed to a bar: per-item updates would cost more than the work.
pub const STEP: u64 = 1024;

/// A bar counting `len` items, labelled `msg`.
pub fn bar(quiet: bool, len: u64, msg: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:>8} [{bar:40.cyan/blue}] {human_pos}/{human_len} ({elapsed}, {eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message(msg.to_string());
    pb
}

/// A bar counting `len` bytes, labelled `msg`.
pub fn bytes_bar(quiet: bool, len: u64, msg: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:>8} [{bar:40.cyan/blue}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message(msg.to_string());
    pb
}

/// A spinner for work of unknown length, labelled `msg`, with the elapsed time.
pub fn spinner(quiet: bool, msg: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
    );
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

/// "1 table", "3 tables", "20,000 entries".
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        indicatif::HumanCount(n),
        if n == 1 { one } else { many }
    )
}
