//! Profiling aid: how many ticks of the sample month take the full path and how many
//! candles are still, per model (`cargo run --release --example fastpath_counts`).
use gridsweep::candles::Candles;
use gridsweep::engine::{Amount, Engine, Model, NoRecorder, RunContext, RunParams};
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
        let m = e.run_candles(c.slice(), &p, &ctx, &mut NoRecorder).unwrap();
        println!(
            "{model:?}: {} candles, full ticks {}, still candles {}, trades {}",
            c.len(),
            e.full_ticks(),
            e.still_candles(),
            m.total_trades
        );
    }
}
