//! Shared bench fixtures: the shipped month of real candles and the reference kernel.
#![allow(dead_code)]

use std::path::PathBuf;

#[path = "../../tests/mark_common/mod.rs"]
mod mark_common;

use gridsweep::candles::{CandleSlice, Candles, Columns};
use gridsweep::tiers::TierTable;

/// The shipped sample month (real LTCUSDT 1-minute candles, February 2026).
pub fn sample_month() -> Candles {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/LTCUSDT-1m-2026-02.parquet");
    Candles::open_parquet(&[&p]).unwrap_or_else(|e| panic!("bench data {}: {e}", p.display()))
}

/// `c` with a synthetic mark-price path: each candle's open and close, its wicks halved
/// (a mark price follows the index, smoother than the last traded price).
pub fn with_halved_wick_mark(c: &Candles) -> Candles {
    let mark = mark_common::halved_wick_mark(c, i64::MIN);
    let mut last = Columns::with_capacity(c.len());
    for i in 0..c.len() {
        last.push(c.ts_ms()[i], c.open()[i], c.high()[i], c.low()[i], c.close()[i], c.volume()[i]);
    }
    let here = std::path::Path::new("synthetic mark");
    let mark = Candles::try_new(mark, None, here).expect("valid mark candles");
    let last = Candles::try_new(last, c.symbol().map(String::from), here).expect("valid candles");
    last.with_mark(&mark, None, None, &[]).expect("aligned by construction")
}

/// Result of the reference kernel (kept so the optimiser cannot drop the work).
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelResult {
    /// Final equity.
    pub equity: f64,
    /// Maximum drawdown.
    pub max_dd: f64,
    /// Number of fills.
    pub fills: u64,
    /// Candle index of a liquidation, if any.
    pub liquidated: Option<usize>,
}

/// The simplest honest grid loop: a ladder of `levels` buy levels spaced `step_pct` apart
/// around the first open, each level buying `qty` when the candle's low crosses it and
/// selling one step higher when the high crosses that; fees on every fill; equity marked
/// at the close; max drawdown; a tier maintenance-margin check per candle.
pub fn reference_kernel(
    c: CandleSlice<'_>,
    levels: usize,
    step_pct: f64,
    qty: f64,
    fee: f64,
    tiers: &TierTable,
) -> KernelResult {
    let mut buy = Vec::with_capacity(levels);
    let mut sell = Vec::with_capacity(levels);
    let mut holding = vec![false; levels];
    let base = c.open[0];
    let step = step_pct / 100.0;
    for i in 0..levels {
        let k = i as f64 - (levels / 2) as f64;
        let p = base * (1.0 + step * k);
        buy.push(p);
        sell.push(p * (1.0 + step));
    }
    let (mut cash, mut pos, mut entry_value) = (10_000.0f64, 0.0f64, 0.0f64);
    let (mut peak, mut max_dd, mut fills) = (cash, 0.0f64, 0u64);
    for i in 0..c.len() {
        let (lo, hi, close) = (c.low[i], c.high[i], c.close[i]);
        for l in 0..levels {
            if !holding[l] && lo < buy[l] {
                holding[l] = true;
                cash -= buy[l] * qty * (1.0 + fee);
                pos += qty;
                entry_value += buy[l] * qty;
                fills += 1;
            } else if holding[l] && hi > sell[l] {
                holding[l] = false;
                cash += sell[l] * qty * (1.0 - fee);
                pos -= qty;
                entry_value -= buy[l] * qty;
                fills += 1;
            }
        }
        let equity = cash + pos * close;
        if equity > peak {
            peak = equity;
        }
        if peak - equity > max_dd {
            max_dd = peak - equity;
        }
        let (mm, _) = tiers.maintenance_margin(pos * close);
        if pos > 0.0 && equity <= mm {
            return KernelResult { equity, max_dd, fills, liquidated: Some(i) };
        }
    }
    let _ = entry_value;
    KernelResult { equity: cash + pos * c.close[c.len() - 1], max_dd, fills, liquidated: None }
}
