//! Sweep throughput: 1,000 combinations (grid_step 10 × leverage 10 × amount 10) over a
//! month of real 1-minute candles (`data/LTCUSDT-1m-2026-02.parquet`, 40,320 candles).
//!
//! Workloads:
//! - `sweep_single_run/engine`: one engine run, no harness (the yardstick);
//! - `sweep_1000/threads_1`, `sweep_1000/threads_N`: the sweep runner (`runner::compute`:
//!   rayon pool, per-thread engine, parameter decoding) on pools built with
//!   `ThreadPoolBuilder`, reported as combinations per second.
//!
//! Set-up (decoding candles, validating the sweep, resolving tiers, building pools) happens
//! outside the timed closures. Flat sampling with 10 samples keeps the run to about three
//! minutes on 2 cores. At the end the bench prints combinations/s, candle·combinations/s,
//! the 1 → N thread scaling and the per-core throughput relative to the single engine run
//! (from criterion's estimates).
//!
//! Run: `cargo bench --bench sweep`. `GRIDSWEEP_BENCH_DAYS=7` shortens the window.

use std::path::Path;
use std::time::Duration;

use std::hint::black_box;

use criterion::{Criterion, SamplingMode, Throughput};
use gridsweep::engine::{Engine, NoRecorder};
use gridsweep::sweep::runner::{build_pool, compute};
use gridsweep::sweep::{SizeLimit, SweepSetup, SweepSpec};

const COMBOS: u64 = 1000;

fn setup() -> SweepSetup {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let days: u32 =
        std::env::var("GRIDSWEEP_BENCH_DAYS").ok().and_then(|d| d.parse().ok()).unwrap_or(28);
    let end =
        if days >= 28 { "2026-03-01".to_string() } else { format!("2026-02-{:02}", 1 + days) };
    let text = format!(
        "name = \"bench\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"2026-02-01\"\n\
         end = \"{end}\"\n[params]\ngrid_count = 40\nwind_down_mode = \"close_all\"\n[axes]\n\
         grid_step = {{ start = 0.1, stop = 1.0, step = 0.1 }}\n\
         leverage = {{ start = 1, stop = 10, step = 1 }}\n\
         amount = [\"x0.001\", \"x0.002\", \"x0.003\", \"x0.005\", \"x0.007\", \"x0.01\", \
         \"x0.015\", \"x0.02\", \"x0.03\", \"x0.05\"]\n",
        root.join("data/LTCUSDT-1m-2026-02.parquet").display().to_string()
    );
    let spec = SweepSpec::parse(&text, Path::new("bench.toml"), SizeLimit::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.space.len(), COMBOS);
    SweepSetup::resolve(spec).unwrap_or_else(|e| panic!("{e}"))
}

fn estimate_ns(group: &str, id: &str) -> Option<f64> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/criterion")
        .join(group)
        .join(id)
        .join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn main() {
    let setup = setup();
    let window = setup.window(0);
    let candles = window.len() as u64;
    let ctx = setup.context(0);
    let ids: Vec<u64> = (0..COMBOS).collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));

    // One engine run, no harness: the per-core yardstick. A mid-grid combination.
    let params = setup.spec.space.params(COMBOS / 2 + 5).unwrap();
    let mut g = c.benchmark_group("sweep_single_run");
    g.throughput(Throughput::Elements(candles));
    let mut engine = Engine::new();
    g.bench_function("engine", |b| {
        b.iter(|| engine.run_candles(black_box(window), &params, &ctx, &mut NoRecorder).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("sweep_1000");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(COMBOS));
    let mut thread_counts = vec![1];
    if cores > 1 {
        thread_counts.push(cores);
    }
    for &t in &thread_counts {
        let pool = build_pool(Some(t)).unwrap();
        let mut out = Vec::with_capacity(COMBOS as usize);
        g.bench_function(format!("threads_{t}"), |b| {
            b.iter(|| {
                compute(&pool, &setup, black_box(&ids), &mut out, &|| {});
                out.len()
            })
        });
    }
    g.finish();
    c.final_summary();

    // Derived figures: criterion's mean wall time per iteration, plus one extra pass of each
    // workload timed in wall *and* process CPU time. On a shared machine wall-clock scaling
    // suffers from other processes; CPU time per combination shows the harness's own cost.
    let single = estimate_ns("sweep_single_run", "engine");
    let serial = timed(|| {
        let mut e = Engine::new();
        for id in 0..COMBOS {
            let p = setup.spec.space.params(id).unwrap();
            let _ = black_box(e.run_candles(window, &p, &ctx, &mut NoRecorder));
        }
    });
    println!("\nsweep bench summary ({COMBOS} combinations × {candles} candles, {cores} cores)");
    if let Some(ns) = single {
        println!("  single engine run (one combination): {:.2} ms", ns / 1e6);
    }
    println!(
        "  {COMBOS} combinations one by one on one engine, no harness: {:.2} s wall, {:.2} s CPU",
        serial.0, serial.1
    );
    let mut walls = Vec::new();
    for &t in &thread_counts {
        let pool = build_pool(Some(t)).unwrap();
        let mut out = Vec::with_capacity(COMBOS as usize);
        let (wall, cpu) = timed(|| compute(&pool, &setup, &ids, &mut out, &|| {}));
        let crit = estimate_ns("sweep_1000", &format!("threads_{t}")).map_or(wall, |ns| ns / 1e9);
        let per_s = COMBOS as f64 / crit;
        println!(
            "  {t} thread(s): {per_s:.1} combinations/s, {:.3e} candle·combinations/s (criterion \
             mean); extra pass {wall:.2} s wall, {cpu:.2} s CPU: per-core throughput {:.1} % \
             of the bare engine by wall time, {:.1} % by CPU time",
            per_s * candles as f64,
            100.0 * serial.0 / (crit * t as f64),
            100.0 * serial.1 / cpu,
        );
        walls.push(crit);
    }
    if let [one, .., n] = walls[..] {
        println!("  scaling 1 → {cores} threads (criterion means): {:.2}×", one / n);
    }
}

/// Process CPU time (user + system) in seconds, from /proc/self/stat; 0 elsewhere.
fn cpu_time_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are at 11 and 12 after the command name.
    let ticks: f64 = [11, 12].iter().filter_map(|i| f.get(*i)?.parse::<f64>().ok()).sum();
    ticks / 100.0
}

/// `(wall seconds, CPU seconds)` of `f`.
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let (t0, c0) = (std::time::Instant::now(), cpu_time_s());
    f();
    (t0.elapsed().as_secs_f64(), cpu_time_s() - c0)
}
