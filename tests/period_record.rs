//! Issue 11 item 1 (engine side): a run's equity at each period end, recorded through the
//! fast paths (still stretches included), equals the full equity curve sampled at those
//! ends: the last mark at or before each end, the final equity after a liquidation.

use std::path::PathBuf;

use gridsweep::candles::Candles;
use gridsweep::engine::periods::period_ends;
use gridsweep::engine::{
    Amount, Engine, Model, PeriodRecorder, RunContext, RunParams, VecRecorder,
};
use gridsweep::instrument::Instrument;
use gridsweep::tiers::snapshot::snapshot_tiers;

const DAY: i64 = 86_400_000;
const H: i64 = 3_600_000;

/// The curve's equity at each end: its last point at or before the end (the initial
/// balance before the first), written independently of the recorder.
fn sample(curve: &[(i64, f64)], ends: &[i64], initial: f64) -> Vec<(i64, f64)> {
    ends.iter()
        .map(|&e| {
            let last = curve.iter().take_while(|(t, _)| *t <= e).last();
            (e, last.map_or(initial, |p| p.1))
        })
        .collect()
}

#[test]
fn period_ends_through_the_fast_paths_equal_the_sampled_equity_curve() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/LTCUSDT-1m-2026-02.parquet");
    let candles = Candles::open_parquet(&[path]).unwrap();
    let inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
    let tiers = snapshot_tiers("LTCUSDT").unwrap().0;
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    let (start, end) = (candles.first_ts_ms().unwrap(), candles.last_ts_ms().unwrap() + 60_000);
    let mut liquidated = 0;
    let mut still = 0;
    for (model, step, lev, amount) in [
        (Model::Bybit, 0.3, 10.0, "x0.002"),
        (Model::Bybit, 0.1, 50.0, "x0.1"),
        (Model::Bybit, 1.0, 25.0, "x0.05"),
        (Model::Origin, 0.5, 10.0, "x0.01"),
    ] {
        let mut p = RunParams::default();
        p.account.model = model;
        p.account.leverage = lev;
        p.grid.grid_count = 40;
        p.grid.grid_step = step;
        p.grid.amount = Amount::parse(amount).unwrap();
        let mut full = VecRecorder { keep_equity: true, ..Default::default() };
        let m = Engine::new().run_candles(candles.slice(), &p, &ctx, &mut full).unwrap();
        liquidated += usize::from(m.liquidated);
        for period in [H, 4 * H, DAY, 7 * DAY] {
            let ends: Vec<i64> = period_ends(start, end, period).collect();
            let mut rec = PeriodRecorder::new(period, start, end, p.account.initial_balance);
            let mut engine = Engine::new();
            let m2 = engine.run_candles(candles.slice(), &p, &ctx, &mut rec).unwrap();
            rec.finish();
            still += engine.still_candles();
            assert_eq!(format!("{:?}", m.fields()), format!("{:?}", m2.fields()), "same run");
            let want = sample(&full.equity, &ends, p.account.initial_balance);
            assert_eq!(rec.ends, want, "{model:?} step {step} lev {lev} period {period}");
            // The last period's equity is the run's final balance (wind-down included).
            assert!(
                (rec.ends.last().unwrap().1 - m.final_balance).abs() < 1e-6 * m.initial_balance
            );
        }
    }
    assert!(liquidated >= 1, "a liquidated run is among the cases");
    assert!(still > 0, "the still stretches are taken while recording periods");
}
