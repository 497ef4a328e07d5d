//! A synthetic mark-price path for tests and benches: each candle's open and close with its
//! wicks halved (a mark price follows the index, smoother than the last traded price).

use gridsweep::candles::{Candles, Columns};

/// The mark candles of `c` from `from_ms` on, wicks halved, volume 0.
pub fn halved_wick_mark(c: &Candles, from_ms: i64) -> Columns {
    let mut m = Columns::with_capacity(c.len());
    for i in 0..c.len() {
        if c.ts_ms()[i] < from_ms {
            continue;
        }
        let (o, h, l, cl) = (c.open()[i], c.high()[i], c.low()[i], c.close()[i]);
        let (top, bottom) = (o.max(cl), o.min(cl));
        m.push(c.ts_ms()[i], o, top + (h - top) / 2.0, bottom - (bottom - l) / 2.0, cl, 0.0);
    }
    m
}
