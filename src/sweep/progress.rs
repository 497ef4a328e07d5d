//! Progress on stderr: on a terminal, a bar (done/total runs, runs per second, ETA); when
//! stderr is a file or a pipe (Slurm, Kubernetes, `2> log`), one plain line at a steady
//! interval (10 s, or `GRIDSWEEP_PROGRESS_SECS`), so batch logs show the sweep is alive.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::spec::fmt_count;

/// Seconds between progress lines when stderr is not a terminal.
pub const DEFAULT_LINE_SECS: f64 = 10.0;

/// Environment variable overriding [`DEFAULT_LINE_SECS`] (a positive number of seconds).
pub const LINE_SECS_ENV: &str = "GRIDSWEEP_PROGRESS_SECS";

/// A thread-safe progress counter; a no-op when hidden.
#[derive(Clone, Debug)]
pub struct Progress {
    bar: ProgressBar,
    ticker: Option<Arc<Ticker>>,
}

/// What a progress counter counts: `runs` for a grid, `candle·runs` for a halving search.
pub const RUNS: &str = "runs";

/// The thread printing the plain progress lines.
#[derive(Debug)]
struct Ticker {
    stop: Sender<()>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Progress {
    /// Progress of `total` runs, `done` of them already finished: a bar when `visible` and
    /// stderr is a terminal, plain lines when `visible` and it is not, nothing otherwise.
    pub fn new(total: u64, done: u64, visible: bool) -> Progress {
        Progress::counting(RUNS, total, done, visible)
    }

    /// As [`Progress::new`], counting `unit` (e.g. `"candle·runs"`) instead of runs.
    pub fn counting(unit: &'static str, total: u64, done: u64, visible: bool) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let target = if visible && tty {
            ProgressDrawTarget::stderr_with_hz(4)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {unit} · \
                     {{rate}} · ETA {{eta}}"
            ))
            .map(|s| {
                s.with_key("rate", move |st: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{} {unit}/s", fmt_rate(st.per_sec()));
                })
            })
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(done);
        bar.reset_eta();
        let ticker =
            (visible && !tty).then(|| Arc::new(Ticker::start(bar.clone(), line_every(), unit)));
        Progress { bar, ticker }
    }

    /// One more run finished.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// `n` more units done.
    pub fn inc_by(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Units done so far.
    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// The total changed (a halving search's projection after a rung).
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// Removes the bar from the terminal and stops the progress lines.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
        if let Some(t) = &self.ticker {
            t.stop();
        }
    }
}

/// The line interval: [`LINE_SECS_ENV`] if it is a positive number, else the default.
fn line_every() -> Duration {
    let secs = std::env::var(LINE_SECS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9);
    if std::env::var_os(LINE_SECS_ENV).is_some() && secs.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "warning: {LINE_SECS_ENV} must be a positive number of seconds; using \
             {DEFAULT_LINE_SECS}"
        );
    }
    Duration::from_secs_f64(secs.unwrap_or(DEFAULT_LINE_SECS))
}

impl Ticker {
    fn start(bar: ProgressBar, every: Duration, unit: &'static str) -> Ticker {
        let (stop, stopped) = bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("gridsweep-progress".into())
            .spawn(move || {
                let started = Instant::now();
                let first = bar.position();
                loop {
                    match stopped.recv_timeout(every) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    let line = progress_line(
                        bar.position(),
                        bar.length().unwrap_or(0),
                        first,
                        started.elapsed(),
                        unit,
                    );
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
            })
            .ok();
        Ticker { stop, thread: Mutex::new(thread) }
    }

    fn stop(&self) {
        let _ = self.stop.try_send(());
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// `progress: 1,234/24,576 runs (5.0 %), 123.4 runs/s, ETA 3 min 9 s`: `done` of `total`
/// `unit`s, the rate over the `done - first` of this invocation in `elapsed`.
pub fn progress_line(done: u64, total: u64, first: u64, elapsed: Duration, unit: &str) -> String {
    let pct = if total > 0 { done as f64 * 100.0 / total as f64 } else { 100.0 };
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done.saturating_sub(first) as f64 / secs } else { 0.0 };
    let eta = if rate > 0.0 {
        fmt_duration(total.saturating_sub(done) as f64 / rate)
    } else {
        "unknown".to_string()
    };
    format!(
        "progress: {}/{} {unit} ({pct:.1} %), {} {unit}/s, ETA {eta}",
        fmt_count(done),
        fmt_count(total),
        fmt_rate(rate)
    )
}

/// A rate: one decimal below 1,000 (`80.0`), whole and grouped above (`12,334,196`).
fn fmt_rate(rate: f64) -> String {
    if rate.is_finite() && rate >= 1000.0 {
        fmt_count(rate.round() as u64)
    } else {
        format!("{rate:.1}")
    }
}

/// `42 s`, `3 min 9 s`, `2 h 5 min`.
fn fmt_duration(secs: f64) -> String {
    let s = secs.round().min(u64::MAX as f64) as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts_only_this_invocations_runs_for_the_rate() {
        // 1,000 of 10,000 done, 200 of them before this invocation; 800 runs in 10 s is
        // 80 runs/s, and 9,000 left at 80 runs/s is 112.5 s, shown as 1 min 53 s.
        let l = progress_line(1_000, 10_000, 200, Duration::from_secs(10), RUNS);
        assert_eq!(l, "progress: 1,000/10,000 runs (10.0 %), 80.0 runs/s, ETA 1 min 53 s");
        let l = progress_line(0, 50, 0, Duration::from_secs(3), "candle·runs");
        assert_eq!(l, "progress: 0/50 candle·runs (0.0 %), 0.0 candle·runs/s, ETA unknown");
        assert_eq!(fmt_duration(7_500.0), "2 h 5 min");
        assert_eq!(fmt_rate(12_334_196.1), "12,334,196");
        assert_eq!(fmt_rate(999.94), "999.9");
    }
}
