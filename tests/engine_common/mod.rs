//! Helpers shared by the engine's property tests (`engine_props.rs`, `search_props.rs`): a
//! recorder that keeps fills and equity marks bit for bit, a random candle walk, and the
//! proptest strategies for run parameters and walk steps. The properties themselves stay in
//! their test files, so each keeps its own `*.proptest-regressions` file.

use gridsweep::decimal::Dec;
use gridsweep::engine::{Amount, FillRecord, Model, Recorder, RunParams, WindDown};
use gridsweep::instrument::Instrument;
use proptest::prelude::*;

/// A recorder that keeps every fill and equity mark bit for bit.
#[derive(Default, PartialEq, Debug)]
pub struct Log {
    /// The fills: time, side, direction, and price, quantity, realised PnL, commission as bits.
    pub fills: Vec<(i64, u8, u8, u64, u64, u64, u64)>,
    /// The equity marks: time and equity as bits.
    pub equity: Vec<(i64, u64)>,
    /// Keep no equity curve (lets the engine take its still stretches).
    pub skip_marks: bool,
}

impl Recorder for Log {
    fn on_fill(&mut self, f: &FillRecord) {
        self.fills.push((
            f.ts_ms,
            f.side as u8,
            f.direction as u8,
            f.price.to_bits(),
            f.qty.to_bits(),
            f.realized_pnl.to_bits(),
            f.commission.to_bits(),
        ));
    }
    fn on_equity(&mut self, ts: i64, e: f64) {
        if !self.skip_marks {
            self.equity.push((ts, e.to_bits()));
        }
    }
    fn wants_equity(&self) -> bool {
        !self.skip_marks
    }
}

/// Every metric, bit for bit, as comparable strings.
pub fn metric_fields(m: &gridsweep::metrics::Metrics) -> Vec<String> {
    m.fields().iter().map(|(n, v)| format!("{n}={v:?}")).collect()
}

/// A random walk of candles on a 0.01 tick around `start`.
pub fn candles(start: f64, steps: &[(i16, u8, u8, i16)]) -> (Vec<i64>, [Vec<f64>; 4]) {
    let mut ts = Vec::new();
    let (mut o, mut h, mut l, mut c) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut px = (start * 100.0).round() as i64;
    let mut t = 1_769_904_000_000i64;
    for (i, &(d, up, down, close)) in steps.iter().enumerate() {
        // Mostly 1-minute steps, with some off-minute ones and hour-long gaps, so hour
        // buckets and funding times also fall inside candles.
        t += match i % 13 {
            0 if i > 0 => 3_600_000 + 20_000,
            7 => 80_000,
            _ => 60_000,
        };
        let open = px.max(200);
        let close_px = (open + i64::from(close)).max(100);
        let high = open.max(close_px) + i64::from(up);
        let low = (open.min(close_px) - i64::from(down)).max(50);
        ts.push(t);
        o.push(open as f64 / 100.0);
        h.push(high as f64 / 100.0);
        l.push(low as f64 / 100.0);
        c.push(close_px as f64 / 100.0);
        px = close_px + i64::from(d);
    }
    (ts, [o, h, l, c])
}

/// The case count: `PROPTEST_CASES` when set (CI may raise it), else `default`.
pub fn cases(default: u32) -> u32 {
    match std::env::var("PROPTEST_CASES") {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("PROPTEST_CASES={v:?} is not a number")),
        Err(_) => default,
    }
}

/// Every parameter of the registry, varied (`src/config/fields.rs`): the strategy's and the
/// account's, the bybit model's hedge rule and the grid-bot sizing included.
pub fn params() -> impl Strategy<Value = RunParams> {
    (params_core(), params_rest()).prop_map(|(mut p, rest)| {
        let (fees, thresholds, low_margin_variant, rebalance, funding_rate, per_leg) = rest;
        p.account.commission_rate = fees.0;
        p.account.taker_fee_rate = fees.1;
        p.grid.min_liq_ratio = thresholds.0;
        p.grid.max_liq_ratio = thresholds.1;
        p.grid.min_total_margin = thresholds.2;
        p.grid.increase_same_position_on_low_margin = low_margin_variant;
        p.grid.rebalance_threshold = rebalance;
        p.account.funding_rate = funding_rate;
        if per_leg {
            p.account.hedge_margin = gridsweep::engine::HedgeMargin::PerLeg;
        }
        p
    })
}

type Rest = ((f64, f64), (f64, f64, f64), bool, f64, f64, bool);

/// The parameters the core strategy below leaves at their defaults.
fn params_rest() -> impl Strategy<Value = Rest> {
    (
        prop_oneof![Just((0.0002, 0.00055)), Just((0.0, 0.0)), Just((0.001, 0.0005))],
        prop_oneof![Just((0.8, 1.2, 0.15)), Just((0.9, 1.1, 1.0)), Just((0.5, 2.0, 0.05))],
        any::<bool>(),
        prop_oneof![Just(0.3), Just(0.1), Just(0.6)],
        prop_oneof![Just(0.0005), Just(0.0001), Just(-0.0003)],
        any::<bool>(),
    )
}

/// The strategy and account parameters most runs vary.
fn params_core() -> impl Strategy<Value = RunParams> {
    (
        prop_oneof![Just(Model::Origin), Just(Model::Bybit)],
        prop_oneof![6u32..60, 60u32..150], // one bit-set word and several
        prop_oneof![Just(0.1), Just(0.2), Just(0.35), Just(0.5), Just(1.0)],
        prop_oneof![
            Just("x0.001"),
            Just("x0.01"),
            Just("x0.05"),
            Just("100"),
            Just("7.5"),
            Just("grid_bot:500")
        ],
        any::<bool>(),
        prop_oneof![Just(1.0), Just(1.5), Just(3.0)],
        prop_oneof![Just(1.0), Just(5.0), Just(25.0), Just(50.0)],
        prop_oneof![Just(500.0), Just(10_000.0)],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(model, count, step, amount, risk, early, lev, bal, funding, close_all)| {
            let mut p = RunParams::default();
            p.account.model = model;
            p.grid.grid_count = count;
            p.grid.grid_step = step;
            p.grid.amount = Amount::parse(amount).unwrap();
            p.grid.enable_risk_multipliers = risk;
            p.grid.early_imbalance_multiplier = early;
            p.account.leverage = lev;
            p.account.initial_balance = bal;
            p.account.enable_funding = funding;
            p.account.wind_down = if close_all { WindDown::CloseAll } else { WindDown::LeaveOpen };
            p
        })
}

/// Steps for [`candles`], in ticks: the gap from a close to the next open, the upper and the
/// lower wick, and the close's offset from the open.
pub fn steps() -> impl Strategy<Value = Vec<(i16, u8, u8, i16)>> {
    prop::collection::vec((-40i16..40, 0u8..60, 0u8..60, -60i16..60), 50..600)
}

/// LTCUSDT with a 0.01 tick and a 0.1 lot.
pub fn ltc() -> Instrument {
    Instrument::resolve(
        "LTCUSDT",
        Some(Dec::parse("0.01").unwrap()),
        Some(Dec::parse("0.1").unwrap()),
    )
    .unwrap()
}
