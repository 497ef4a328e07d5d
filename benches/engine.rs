//! Engine throughput: one backtest over a full month of real 1-minute candles (the shipped
//! `data/LTCUSDT-1m-2026-02.parquet`, 40,320 candles), reported as candles per second.
//!
//! Workloads, all in one criterion run so their ratio cancels machine noise:
//! - `bybit_50` / `origin_50`: the production engine, 50 levels, grid step 0.3 %;
//! - `bybit_50_mark`: `bybit_50` with a mark-price path (the month's wicks halved);
//! - `bybit_50_periods_1d`: `bybit_50` recording the equity at each day's end;
//! - `reference_engine_bybit_50`: the straightforward engine (full path every tick);
//! - `kernel_50`: the reference kernel, the simplest honest grid loop (the yardstick).
//!
//! Set-up (decoding candles, building parameters) happens outside the timed closures.
//! Run: `cargo bench --bench engine` (short: `-- --warm-up-time 1 --measurement-time 3`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gridsweep::engine::{Amount, Engine, Model, NoRecorder, PeriodRecorder, RunContext, RunParams};
use gridsweep::instrument::Instrument;
use gridsweep::tiers::builtin::builtin_tiers;

fn params(model: Model) -> RunParams {
    let mut p = RunParams::default();
    p.account.model = model;
    p.grid.grid_count = 50;
    p.grid.grid_step = 0.3;
    p.grid.amount = Amount::parse("x0.002").unwrap();
    p.account.leverage = 10.0;
    p
}

fn bench_engine(c: &mut Criterion) {
    let candles = common::sample_month();
    let slice = candles.slice();
    let inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
    let tiers = builtin_tiers("LTCUSDT");
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    let mut g = c.benchmark_group("engine_month");
    g.throughput(Throughput::Elements(slice.len() as u64));
    g.sample_size(20);
    for (name, model) in [("bybit_50", Model::Bybit), ("origin_50", Model::Origin)] {
        let p = params(model);
        let mut engine = Engine::new();
        g.bench_function(name, |b| {
            b.iter(|| engine.run_candles(black_box(slice), &p, &ctx, &mut NoRecorder).unwrap())
        });
    }
    // The same bybit run with a mark-price path (the month's candles, wicks halved): the
    // liquidation check and margins follow the marks, fills the last prices.
    let marked = common::with_halved_wick_mark(&candles);
    let marked_slice = marked.slice();
    let p = params(Model::Bybit);
    let mut engine = Engine::new();
    g.bench_function("bybit_50_mark", |b| {
        b.iter(|| engine.run_candles(black_box(marked_slice), &p, &ctx, &mut NoRecorder).unwrap())
    });
    // The same bybit run recording its equity at every day's end (`[record] period = "1d"`):
    // still stretches stop at the period ends.
    let (start, end) = (slice.ts_ms[0], slice.ts_ms[slice.len() - 1] + 60_000);
    let mut periods = PeriodRecorder::new(86_400_000, start, end, p.account.initial_balance);
    g.bench_function("bybit_50_periods_1d", |b| {
        b.iter(|| {
            periods.reset(86_400_000, start, end, p.account.initial_balance);
            engine.run_candles(black_box(slice), &p, &ctx, &mut periods).unwrap()
        })
    });
    let mut reference = Engine::reference();
    g.bench_function("reference_engine_bybit_50", |b| {
        b.iter(|| reference.run_candles(black_box(slice), &p, &ctx, &mut NoRecorder).unwrap())
    });
    g.bench_function("kernel_50", |b| {
        b.iter(|| common::reference_kernel(black_box(slice), 50, 0.3, 0.2, 0.0002, &tiers))
    });
    g.finish();
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
