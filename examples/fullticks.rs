//! Diagnostic: how many ticks take the full path, and how many of those had fills.
use gridsweep::candles::Candles;
use gridsweep::engine::{Amount, Engine, Model, RunContext, RunParams, VecRecorder};
use gridsweep::instrument::Instrument;
use gridsweep::tiers::builtin::builtin_tiers;
fn main() {
    let c = Candles::open_parquet(&["data/LTCUSDT-1m-2026-02.parquet"]).unwrap();
    let inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
    let tiers = builtin_tiers("LTCUSDT");
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    for model in [Model::Bybit, Model::Origin] {
        let mut p = RunParams::default();
        p.account.model = model;
        p.grid.grid_count = 50;
        p.grid.grid_step = 0.3;
        p.grid.amount = Amount::parse("x0.002").unwrap();
        let mut e = Engine::new();
        let mut rec = VecRecorder::default();
        let t = std::time::Instant::now();
        let m = e.run_candles(c.slice(), &p, &ctx, &mut rec).unwrap();
        let mut ts: Vec<i64> = rec.fills.iter().map(|f| f.ts_ms).collect();
        ts.dedup();
        println!(
            "{model:?}: full ticks {} of {} ({} with fills, {} trades) in {:?}",
            e.full_ticks(),
            m.ticks,
            ts.len(),
            m.total_trades,
            t.elapsed()
        );
    }
}
