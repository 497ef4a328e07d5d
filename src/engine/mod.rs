//! The engine: one grid backtest over a tick stream. Pure: no I/O, no clock, no randomness.
//!
//! A run is `Engine::run(ticks, params, ctx, recorder)` over a tick stream, or
//! `Engine::run_candles(candles, …)` over candles (each four ticks, docs/strategy.md "Candles become ticks", as
//! [`candle_ticks`] yields them; same results, faster). The [`Engine`] value is the reusable
//! scratch space (grid, order book, intent buffers); after the first run on a thread nothing
//! is allocated per run or per tick.

pub mod grid;
pub mod level_bits;
pub mod margin;
pub mod params;
pub mod periods;
pub mod position;
pub mod risk;
mod sim;
pub mod sizing;
pub mod stop;

pub use margin::HedgeMargin;
pub use params::{
    AccountParams, Amount, AmountError, GridParams, Model, ParamError, RunParams, WindDown,
};
pub use periods::PeriodRecorder;
pub use position::{Direction, Side};
pub use sim::{CandleRun, Engine, FastPathCounts, FastPaths};
pub use stop::{LimitMetric, LimitValues, StopLimits, Violation};

use crate::candles::CandleSlice;
use crate::instrument::Instrument;
use crate::tiers::TierTable;

/// One price observation: last price = mark price = `price` at `ts_ms`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tick {
    /// UTC epoch milliseconds.
    pub ts_ms: i64,
    /// Price.
    pub price: f64,
}

/// Why a fill happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillKind {
    /// A resting limit order crossed (maker fee).
    Limit,
    /// Forced close by cross-margin liquidation (taker fee).
    Liquidation,
    /// Close of a position at the end of the run (`wind_down_mode = "close_all"`).
    WindDown,
}

impl FillKind {
    /// `"grid"`, `"liquidation"` or `"wind_down"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FillKind::Limit => "grid",
            FillKind::Liquidation => "liquidation",
            FillKind::WindDown => "wind_down",
        }
    }
}

/// One executed fill.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FillRecord {
    /// Tick time of the fill.
    pub ts_ms: i64,
    /// Order side.
    pub side: Side,
    /// Book the order belonged to.
    pub direction: Direction,
    /// Fill price (the limit price for limit fills).
    pub price: f64,
    /// Quantity in base currency.
    pub qty: f64,
    /// Realised PnL of the fill (0 for opens).
    pub realized_pnl: f64,
    /// Fee paid.
    pub commission: f64,
    /// Why the fill happened.
    pub kind: FillKind,
}

/// Receives what a run does; every method defaults to nothing (zero cost when unused).
pub trait Recorder {
    /// A fill was executed.
    #[inline]
    fn on_fill(&mut self, _fill: &FillRecord) {}
    /// The equity mark of a tick (after fills).
    #[inline]
    fn on_equity(&mut self, _ts_ms: i64, _equity: f64) {}
    /// False when `on_equity` does not need every mark, so the engine may skip marks that
    /// change nothing (still stretches) up to [`Recorder::equity_needed_by`].
    #[inline]
    fn wants_equity(&self) -> bool {
        true
    }
    /// The time by which the recorder needs the equity of the last mark at or before it
    /// (`i64::MAX`: never): stretches of skipped marks end there with that mark.
    #[inline]
    fn equity_needed_by(&self) -> i64 {
        i64::MAX
    }
    /// An order was placed (`qty` in base currency).
    #[inline]
    fn on_place(&mut self, _ts_ms: i64, _dir: Direction, _side: Side, _price: f64, _qty: f64) {}
    /// An order was cancelled.
    #[inline]
    fn on_cancel(
        &mut self,
        _ts_ms: i64,
        _dir: Direction,
        _side: Side,
        _price: f64,
        _reason: &'static str,
    ) {
    }
    /// Limits that stop the run at the first tick breaking one (`None`: no checks at all).
    #[inline]
    fn limits(&self) -> Option<StopLimits> {
        None
    }
    /// The run stopped on a limit (called once, at the stopping tick).
    #[inline]
    fn on_stop(&mut self, _v: &Violation) {}
}

/// Records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRecorder;

impl Recorder for NoRecorder {
    #[inline]
    fn wants_equity(&self) -> bool {
        false
    }
}

/// Keeps fills and, when asked, the equity curve.
#[derive(Clone, Debug, Default)]
pub struct VecRecorder {
    /// Every fill, in execution order.
    pub fills: Vec<FillRecord>,
    /// `(ts_ms, equity)` per tick, when `keep_equity` is set.
    pub equity: Vec<(i64, f64)>,
    /// Whether to keep the equity curve.
    pub keep_equity: bool,
}

impl Recorder for VecRecorder {
    fn on_fill(&mut self, fill: &FillRecord) {
        self.fills.push(*fill);
    }
    fn on_equity(&mut self, ts_ms: i64, equity: f64) {
        if self.keep_equity {
            // A second mark at one time (the wind-down after the last tick) replaces it.
            match self.equity.last_mut() {
                Some(last) if last.0 == ts_ms => last.1 = equity,
                _ => self.equity.push((ts_ms, equity)),
            }
        }
    }
    fn wants_equity(&self) -> bool {
        self.keep_equity
    }
}

/// Read-only inputs shared by every run of a sweep.
#[derive(Clone, Copy, Debug)]
pub struct RunContext<'a> {
    /// Symbol, tick size, quantity step.
    pub instrument: &'a Instrument,
    /// The frozen tier table.
    pub tiers: &'a TierTable,
    /// Funding-rate series `(ts_ms, rate)` ascending; `None` means the constant rate.
    pub funding_series: Option<&'a [(i64, f64)]>,
}

/// Why a run stopped with an error (liquidation is an outcome, not an error).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RunError {
    /// The grid could not be built.
    #[error(transparent)]
    Grid(#[from] grid::DuplicatePrices),
    /// The origin's risk rules hit a non-positive wallet with a position open
    /// (`model = "origin"` only: the origin raises this `ValueError`; the bybit model
    /// liquidates before any rule needs a positive wallet).
    #[error("{0}")]
    Wallet(String),
    /// A tick with a non-positive or non-finite price, or time going backwards.
    #[error("bad tick at ts_ms {ts_ms}: {reason}")]
    BadTick {
        /// Tick time.
        ts_ms: i64,
        /// What is wrong.
        reason: &'static str,
    },
    /// The parameters are invalid.
    #[error("invalid parameters: {0}")]
    Params(String),
}

/// Offsets of a candle's four ticks from its open time (docs/strategy.md, "Candles become ticks").
pub const TICK_OFFSETS_MS: [i64; 4] = [0, 15_000, 30_000, 45_000];

/// The prices of a candle's four ticks (docs/strategy.md, "Candles become ticks"): open, then low/high (or high/low when
/// the candle closes down), then close.
#[inline]
pub fn candle_prices(open: f64, high: f64, low: f64, close: f64) -> [f64; 4] {
    let (second, third) = if close >= open { (low, high) } else { (high, low) };
    [open, second, third, close]
}

/// The four ticks of each candle: [`candle_prices`] at [`TICK_OFFSETS_MS`].
pub fn candle_ticks(c: CandleSlice<'_>) -> impl Iterator<Item = Tick> + '_ {
    (0..c.len()).flat_map(move |i| {
        let prices = candle_prices(c.open[i], c.high[i], c.low[i], c.close[i]);
        let ts = c.ts_ms[i];
        std::array::from_fn::<Tick, 4, _>(|k| Tick {
            ts_ms: ts + TICK_OFFSETS_MS[k],
            price: prices[k],
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candles_expand_to_four_ticks() {
        let ts = [0i64, 60_000];
        let (o, h, l, c) = ([10.0, 10.0], [12.0, 11.0], [9.0, 8.0], [11.0, 9.0]);
        let s = CandleSlice { ts_ms: &ts, open: &o, high: &h, low: &l, close: &c, mark: None };
        let t: Vec<_> = candle_ticks(s).map(|t| (t.ts_ms, t.price)).collect();
        assert_eq!(
            t,
            [
                (0, 10.0),
                (15_000, 9.0),
                (30_000, 12.0),
                (45_000, 11.0),
                (60_000, 10.0),
                (75_000, 11.0),
                (90_000, 8.0),
                (105_000, 9.0)
            ]
        );
    }
}
