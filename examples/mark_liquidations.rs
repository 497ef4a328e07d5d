//! Measurement for docs/data.md: on the shipped month, how many runs of an aggressive sweep
//! change between survived and liquidated when liquidation follows a mark-price path (a
//! synthetic one: the month's candles with their wicks halved) instead of the last price.
//!
//! `cargo run --release --example mark_liquidations`
#[path = "../benches/common/mod.rs"]
mod common;

use gridsweep::engine::{Amount, Engine, Model, NoRecorder, RunContext, RunParams};
use gridsweep::instrument::Instrument;
use gridsweep::tiers::snapshot::snapshot_tiers;
use rayon::prelude::*;

fn main() {
    let last = common::sample_month();
    let marked = common::with_halved_wick_mark(&last);
    let inst = Instrument::resolve("LTCUSDT", None, None).unwrap();
    let tiers = snapshot_tiers("LTCUSDT").expect("LTCUSDT snapshot").0;
    let ctx = RunContext { instrument: &inst, tiers: &tiers, funding_series: None };
    let mut space = Vec::new();
    for step in [0.1, 0.2, 0.3, 0.5, 0.75, 1.0] {
        for count in [10, 20, 40] {
            for lev in [10.0, 25.0, 50.0] {
                for amount in ["x0.05", "x0.1", "x0.2", "x0.4"] {
                    let mut p = RunParams::default();
                    p.account.model = Model::Bybit;
                    p.account.leverage = lev;
                    p.grid.grid_step = step;
                    p.grid.grid_count = count;
                    p.grid.amount = Amount::parse(amount).unwrap();
                    space.push(p);
                }
            }
        }
    }
    let outcomes: Vec<(bool, bool, Option<i64>, Option<i64>)> = space
        .par_iter()
        .map_init(Engine::new, |e, p| {
            let a = e.run_candles(last.slice(), p, &ctx, &mut NoRecorder).unwrap();
            let b = e.run_candles(marked.slice(), p, &ctx, &mut NoRecorder).unwrap();
            (a.liquidated, b.liquidated, a.liquidation_ts_ms, b.liquidation_ts_ms)
        })
        .collect();
    let n = outcomes.len();
    let on_last = outcomes.iter().filter(|o| o.0).count();
    let on_mark = outcomes.iter().filter(|o| o.1).count();
    let saved = outcomes.iter().filter(|o| o.0 && !o.1).count();
    let newly = outcomes.iter().filter(|o| !o.0 && o.1).count();
    let later = outcomes.iter().filter(|o| o.0 && o.1 && o.3 > o.2).count();
    println!("{n} runs (grid_step 6 × grid_count 3 × leverage 3 × amount 4), LTCUSDT 2026-02, Bybit snapshot tiers");
    println!("liquidated on the last price: {on_last}; on the mark path (wicks halved): {on_mark}");
    println!("survive with the mark path: {saved}; liquidated only with it: {newly}; liquidated later: {later}");
}
