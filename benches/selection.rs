//! Honest-selection cost (docs/selection.md), on synthetic data from a fixed-seed LCG.
//!
//! Workloads:
//! - `pbo_sharpe_s16_100k_x_365`: PBO by CSCV, S = 16 (12,870 splits), Sharpe, over 100,000
//!   runs × 365 daily returns (target ≤ 60 s, ≤ 1 GB);
//! - `pareto_1m_x_2` / `pareto_1m_x_3` / `pareto_1m_x_4`: non-dominated sorting of 1,000,000
//!   runs over 2, 3 and 4 objectives (target ≤ 10 s for 3).
//!
//! Set-up (generating the matrices and columns) happens outside the timed closures. The peak
//! resident set of the process is printed at the end (it includes the inputs).
//! Run: `cargo bench --bench selection` (one workload: `-- pareto`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use gridsweep::selection::pareto::{pareto_ranks, Direction};
use gridsweep::selection::pbo::{pbo, Objective};
use gridsweep::selection::returns::ReturnsMatrix;

/// Knuth's MMIX LCG; the top 53 bits as a uniform in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// N runs × T daily returns: per-run drift in ±0.05 % a day plus ±1 % uniform noise.
fn returns(n: usize, t: usize) -> ReturnsMatrix {
    let mut g = Lcg(42);
    let mut data = Vec::with_capacity(n * t);
    for _ in 0..n {
        let drift = (g.next() - 0.5) * 0.001;
        for _ in 0..t {
            data.push(drift + (g.next() - 0.5) * 0.02);
        }
    }
    ReturnsMatrix::from_returns(data, n, t).unwrap()
}

fn bench_pbo(c: &mut Criterion) {
    let m = returns(100_000, 365);
    let mut g = c.benchmark_group("selection");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    g.bench_function("pbo_sharpe_s16_100k_x_365", |b| {
        b.iter(|| pbo(black_box(&m), 16, Objective::Sharpe).unwrap().pbo)
    });
    g.finish();
}

fn bench_pareto(c: &mut Criterion) {
    let n = 1_000_000;
    let mut g = Lcg(7);
    // Return (max), drawdown (min, correlated with return), liquidation distance (max),
    // trades (max): a realistic mix of trade-offs.
    let ret: Vec<f64> = (0..n).map(|_| (g.next() - 0.4) * 50.0).collect();
    let dd: Vec<f64> = ret.iter().map(|r| (r.abs() * 0.3 + g.next() * 20.0).min(100.0)).collect();
    let liq: Vec<f64> = (0..n).map(|_| g.next() * 40.0).collect();
    let trades: Vec<f64> = (0..n).map(|_| (g.next() * 5000.0).floor()).collect();
    let cols: [&[f64]; 4] = [&ret, &dd, &liq, &trades];
    let dirs = [Direction::Max, Direction::Min, Direction::Max, Direction::Max];
    let mut grp = c.benchmark_group("selection");
    grp.sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    for m in [2, 3, 4] {
        grp.bench_function(format!("pareto_1m_x_{m}"), |b| {
            b.iter(|| pareto_ranks(black_box(&cols[..m]), &dirs[..m]).unwrap().len())
        });
    }
    grp.finish();
}

/// Not a benchmark: prints the process's peak resident set once the workloads have run.
fn print_peak_rss(_: &mut Criterion) {
    // The crate denies unsafe code (getrusage is unsafe by signature): read /proc instead.
    if let Ok(s) = std::fs::read_to_string("/proc/self/status") {
        if let Some(l) = s.lines().find(|l| l.starts_with("VmHWM")) {
            eprintln!("peak resident set: {}", l.trim_start_matches("VmHWM:").trim());
        }
    }
}

criterion_group!(benches, bench_pareto, bench_pbo, print_peak_rss);
criterion_main!(benches);
