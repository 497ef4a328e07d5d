//! Benchmark tracking for CI: throughput *ratios* measured in one process, so the noise of a
//! shared 2-core machine cancels. Each figure is the median of repeated samples.
//!
//! Ratios tracked (higher is better for all):
//! - `engine_bybit_vs_kernel`: engine (`model = "bybit"`, 50 levels, a real month) candles/s
//!   over the reference kernel's candles/s (`benches/common`), per core;
//! - `engine_origin_vs_kernel`: the same for `model = "origin"`;
//! - `fast_vs_reference_engine`: fast engine over the straightforward reference engine;
//! - `engine_mark_vs_plain`: the bybit engine with a mark-price path (the month's wicks
//!   halved) over without one;
//! - `engine_periods_vs_plain`: the bybit engine recording daily period ends over not;
//! - `sweep_scaling_1_to_n`: runs/s of a parallel batch on all cores over 1 thread (fastest
//!   batch over fastest batch: a core taken by another process is load no ratio cancels).
//!
//! `cargo bench --bench ratios` prints the table and checks it against
//! `benches/baseline.json`: it exits 1 if any ratio is more than 20 % below its baseline.
//! `cargo bench --bench ratios -- --quick` takes fewer samples (CI);
//! `cargo bench --bench ratios -- --update-baseline` records this machine's entry.
//!
//! Ratios cancel a machine's *load*, not its *microarchitecture*: the kernel's tight loop and
//! the engine's branchy one gain differently from the host (the same commit measured
//! 0.130 on one AMD EPYC host and 0.102 on the CI host). So the baseline holds one entry per
//! CPU (vendor, family, model and name from `/proc/cpuinfo`) and a `default` entry for the
//! CI hosts (the lowest ratios they printed, or the development host's lowest scaled by the
//! 0.78 that host difference showed); a ratio is held to the lower of the two.

mod common;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use gridsweep::candles::CandleSlice;
use gridsweep::engine::{Amount, Engine, Model, NoRecorder, PeriodRecorder, RunContext, RunParams};
use gridsweep::instrument::Instrument;
use gridsweep::tiers::builtin::builtin_tiers;
use gridsweep::tiers::TierTable;
use rayon::prelude::*;

/// Allowed drop below the baseline before the check fails.
const TOLERANCE: f64 = 0.20;
/// Issue 11's budget for recording periods: at most 5 % slower (reported).
const TARGET_PERIODS: f64 = 0.95;
/// One day in ms (the recorded period).
const DAY_MS: i64 = 86_400_000;
/// Issue 5's target for `engine_bybit_vs_kernel` (reported, not enforced: the baseline is).
const TARGET_ENGINE_VS_KERNEL: f64 = 1.0 / 3.0;

fn params(model: Model, step: f64) -> RunParams {
    let mut p = RunParams::default();
    p.account.model = model;
    p.grid.grid_count = 50;
    p.grid.grid_step = step;
    p.grid.amount = Amount::parse("x0.002").unwrap();
    p
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds per call of `f`, median over `samples`, each sample repeating `f` `reps` times.
fn time(samples: usize, reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..samples)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..reps {
                    f();
                }
                t.elapsed().as_secs_f64() / reps as f64
            })
            .collect(),
    )
}

fn run_engine(e: &mut Engine, c: CandleSlice<'_>, p: &RunParams, ctx: &RunContext<'_>) {
    black_box(e.run_candles(black_box(c), p, ctx, &mut NoRecorder).unwrap());
}

fn measure(quick: bool) -> BTreeMap<String, f64> {
    let candles = common::sample_month();
    let c = candles.slice();
    let inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
    let tiers: TierTable = builtin_tiers("LTCUSDT");
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    let samples = if quick { 7 } else { 21 };
    let mut out = BTreeMap::new();
    // Interleave the measured workloads so slow phases of the machine hit all of them.
    let (mut eb, mut eo, mut er, mut k) = (vec![], vec![], vec![], vec![]);
    let (mut em, mut ep) = (vec![], vec![]);
    let (pb, po) = (params(Model::Bybit, 0.3), params(Model::Origin, 0.3));
    let mut fast = Engine::new();
    let mut reference = Engine::reference();
    let marked = common::with_halved_wick_mark(&candles);
    let (start, end) = (c.ts_ms[0], c.ts_ms[c.len() - 1] + 60_000);
    let mut periods = PeriodRecorder::new(DAY_MS, start, end, pb.account.initial_balance);
    for _ in 0..samples {
        eb.push(time(1, 3, || run_engine(&mut fast, c, &pb, &ctx)));
        em.push(time(1, 3, || run_engine(&mut fast, marked.slice(), &pb, &ctx)));
        ep.push(time(1, 3, || {
            periods.reset(DAY_MS, start, end, pb.account.initial_balance);
            black_box(fast.run_candles(black_box(c), &pb, &ctx, &mut periods).unwrap());
        }));
        eo.push(time(1, 3, || run_engine(&mut fast, c, &po, &ctx)));
        k.push(time(1, 3, || {
            black_box(common::reference_kernel(black_box(c), 50, 0.3, 0.2, 0.0002, &tiers));
        }));
        if er.len() < 3 {
            er.push(time(1, 1, || run_engine(&mut reference, c, &pb, &ctx)));
        }
    }
    let (eb, eo, er, k) = (median(eb), median(eo), median(er), median(k));
    let (em, ep) = (median(em), median(ep));
    let n = c.len() as f64;
    println!("candles per second (one core, median): engine bybit {:.3e}, engine origin {:.3e}, reference engine {:.3e}, kernel {:.3e}", n / eb, n / eo, n / er, n / k);
    out.insert("engine_bybit_vs_kernel".into(), k / eb);
    out.insert("engine_origin_vs_kernel".into(), k / eo);
    out.insert("fast_vs_reference_engine".into(), er / eb);
    println!(
        "engine bybit with a mark path {:.3e} candles/s ({:.3} of without); recording daily periods {:.3e} ({:.3} of without, target ≥ {TARGET_PERIODS})",
        n / em,
        eb / em,
        n / ep,
        eb / ep
    );
    out.insert("engine_mark_vs_plain".into(), eb / em);
    out.insert("engine_periods_vs_plain".into(), eb / ep);
    // Thread scaling of a batch of runs (the sweep's shape: per-thread engines, shared data).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let steps: Vec<f64> =
        (0..if quick { 16 } else { 32 }).map(|i| 0.15 + 0.02 * i as f64).collect();
    let batch = |pool: &rayon::ThreadPool| {
        pool.install(|| {
            steps.par_iter().for_each_init(Engine::new, |e, &s| {
                run_engine(e, c, &params(Model::Bybit, s), &ctx)
            })
        })
    };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let all = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    // Scaling is the fastest 1-thread batch over the fastest all-threads batch, interleaved:
    // another process on a shared 2-core host takes a core for seconds at a time, which no
    // ratio cancels, and the fastest of each is the one measured with every core free (the
    // best single pair would reward a slowed 1-thread sample).
    let (mut t1, mut tn) = (vec![], vec![]);
    for _ in 0..if quick { 9 } else { 15 } {
        t1.push(time(1, 1, || batch(&one)));
        tn.push(time(1, 1, || batch(&all)));
    }
    let fastest = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let best = fastest(&t1) / fastest(&tn);
    let (t1, tn) = (median(t1), median(tn));
    println!(
        "batch of {} runs: 1 thread {:.1} runs/s, {threads} threads {:.1} runs/s ({:.2e} candle·runs/s, median); fastest over fastest {best:.3}",
        steps.len(),
        steps.len() as f64 / t1,
        steps.len() as f64 / tn,
        steps.len() as f64 * n / tn
    );
    out.insert("sweep_scaling_1_to_n".into(), best);
    out
}

/// Ratio name → value.
type Ratios = BTreeMap<String, f64>;

/// `benches/baseline.json`: per-CPU entries and a default for CPUs without one.
#[derive(Serialize, Deserialize, Default)]
struct Baseline {
    /// Entry used when this CPU has none of its own.
    default: Ratios,
    /// CPU fingerprint → ratios recorded on that CPU.
    machines: BTreeMap<String, Ratios>,
}

/// This CPU's identity: vendor, family/model and name of the first processor.
fn cpu_fingerprint() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == key).then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| "?".into())
    };
    format!(
        "{} {}/{} {} ({})",
        field("vendor_id"),
        field("cpu family"),
        field("model"),
        field("model name"),
        std::env::consts::ARCH
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let update = args.iter().any(|a| a == "--update-baseline");
    if args.iter().any(|a| a == "--list") {
        return; // `cargo bench --no-run`-style probes by test harnesses
    }
    let baseline_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/baseline.json");
    let cpu = cpu_fingerprint();
    println!("cpu: {cpu}");
    let current = measure(quick);
    let mut file: Baseline = match std::fs::read_to_string(&baseline_path) {
        Ok(t) => serde_json::from_str(&t).unwrap_or_else(|e| {
            eprintln!("{}: {e}", baseline_path.display());
            std::process::exit(1);
        }),
        Err(e) if update => {
            eprintln!("{}: {e}; starting a new one", baseline_path.display());
            Baseline::default()
        }
        Err(e) => {
            eprintln!(
                "{}: {e}; run `cargo bench --bench ratios -- --update-baseline`",
                baseline_path.display()
            );
            std::process::exit(1);
        }
    };
    if update {
        if file.default.is_empty() {
            file.default = current.clone();
        }
        file.machines.insert(cpu.clone(), current);
        let text = serde_json::to_string_pretty(&file).unwrap();
        std::fs::write(&baseline_path, text + "\n").unwrap();
        println!("wrote the entry for \"{cpu}\" to {}", baseline_path.display());
        return;
    }
    // The same CPU model on two hosts has given engine/kernel ratios 0.130 and 0.102 (the
    // kernel's tight loop gains more from a quiet host than the engine), so a ratio is held
    // to the lower of this CPU's entry and the default (the CI hosts' level).
    let baseline: Ratios = match file.machines.get(&cpu) {
        Some(own) => {
            println!("baseline: the lower of this CPU's entry and the default");
            file.default
                .iter()
                .map(|(k, d)| (k.clone(), own.get(k).map_or(*d, |o| o.min(*d))))
                .collect()
        }
        None => {
            println!("baseline: default (no entry for this CPU; add one with `--update-baseline`)");
            file.default.clone()
        }
    };
    println!("{:<28} {:>10} {:>10} {:>8}  status", "ratio", "current", "baseline", "change");
    let mut failed = false;
    for (name, base) in &baseline {
        let Some(cur) = current.get(name) else {
            println!("{name:<28} {:>10} {base:>10.3} {:>8}  MISSING", "-", "-");
            failed = true;
            continue;
        };
        let change = cur / base - 1.0;
        let bad = *cur < base * (1.0 - TOLERANCE);
        failed |= bad;
        println!(
            "{name:<28} {cur:>10.3} {base:>10.3} {:>+7.1}%  {}",
            change * 100.0,
            if bad { "FAIL (>20 % below baseline)" } else { "ok" }
        );
    }
    if let Some(&r) = current.get("engine_bybit_vs_kernel") {
        let met = if r >= TARGET_ENGINE_VS_KERNEL { "met" } else { "NOT met" };
        println!("target engine_bybit_vs_kernel >= {TARGET_ENGINE_VS_KERNEL:.3}: {met} ({r:.3})");
    }
    if failed {
        std::process::exit(1);
    }
}
