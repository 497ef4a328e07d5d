//! Profiling aid: the engine over the sample month, many times (`perf record` this).
use gridsweep::candles::Candles;
use gridsweep::engine::{Amount, Engine, Model, NoRecorder, RunContext, RunParams};
use gridsweep::instrument::Instrument;
use gridsweep::tiers::builtin::builtin_tiers;
fn main() {
    let c = Candles::open_parquet(&["data/LTCUSDT-1m-2026-02.parquet"]).unwrap();
    let inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
    let tiers = builtin_tiers("LTCUSDT");
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    let mut p = RunParams::default();
    // GRIDSWEEP_MODEL=origin profiles the origin model on the same binary.
    p.account.model = match std::env::var("GRIDSWEEP_MODEL").as_deref() {
        Ok("origin") => Model::Origin,
        _ => Model::Bybit,
    };
    p.grid.grid_count = 50;
    p.grid.grid_step = 0.3;
    p.grid.amount = Amount::parse("x0.002").unwrap();
    let mut e = Engine::new();
    let t = std::time::Instant::now();
    let n = 30;
    for _ in 0..n {
        std::hint::black_box(e.run_candles(c.slice(), &p, &ctx, &mut NoRecorder).unwrap());
    }
    let s = t.elapsed().as_secs_f64() / f64::from(n);
    println!("{:.3} ms per run, {:.3e} candles/s", s * 1e3, c.len() as f64 / s);
}
