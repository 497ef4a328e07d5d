//! The grid ladder (docs/strategy.md, "Build", "Fill-time update", "Rebalance"): build, fill-time update, rebalance.
//!
//! Prices are `f64` exactly as in the origin (which works in float here), including its
//! `round_tick` that formats to 10 decimals and parses back.

use super::level_bits::{first_of, last_of, LevelBits};

/// What a grid level currently stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelSide {
    /// Below the market: long opens (Buy) and short closes (Buy).
    Buy,
    /// Above the market: long closes (Sell) and short opens (Sell).
    Sell,
    /// Too close to the last fill or the anchor: no new orders.
    Wait,
}

/// One level of the ladder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    /// Current side.
    pub side: LevelSide,
    /// Price, a multiple of the tick (as the origin's float).
    pub price: f64,
}

/// Why a grid could not be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("Grid contains duplicate prices: the tick size {tick} is too coarse for grid_step {step} % at price {price}")]
pub struct DuplicatePrices {
    /// Tick size.
    pub tick: f64,
    /// Grid step in percent.
    pub step: f64,
    /// Build price.
    pub price: f64,
}

/// The ladder, ascending by price, in a reusable buffer.
#[derive(Clone, Debug, Default)]
pub struct Grid {
    levels: Vec<Level>,
    tick: f64,
    grid_count: u32,
    grid_step: f64,
    rebalance_threshold: f64,
    origin_quirks: bool,
    degenerate: bool,
    version: u32,
    /// Arguments and resulting version of the last `update` that did not move the ladder.
    last_update: Option<(f64, f64, u32)>,
    /// The version the last rebalance shift produced and how it moved the indices (±1).
    last_shift: (u32, i64),
    /// Where the last BUY/SELL boundary was (a starting point for the next search).
    below_hint: usize,
    /// `center_index()`, kept current by `build` and `update` (the only side changes).
    center_cache: usize,
    /// The BUY and the SELL levels as bit sets, kept current with the sides.
    side_bits: [LevelBits; 2],
    /// Scratch: `side_bits` before the current side assignment.
    prev_side_bits: [LevelBits; 2],
}

/// Rounds to the tick as the origin does: `round(x/tick)*tick` (half-even), then
/// formatted with 10 decimals and parsed back.
pub fn round_tick(x: f64, tick: f64) -> f64 {
    let r = (x / tick).round_ties_even() * tick;
    let mut buf = [0u8; 64];
    let n = {
        use std::io::Write;
        let mut cur = std::io::Cursor::new(&mut buf[..]);
        if write!(cur, "{r:.10}").is_err() {
            return r;
        }
        cur.position() as usize
    };
    std::str::from_utf8(&buf[..n]).ok().and_then(|s| s.parse().ok()).unwrap_or(r)
}

impl Grid {
    /// Sets the parameters and empties the ladder (keeps the buffer). With `origin_quirks`
    /// a rebalance adds its new level even out of order (a shift up with no SELL level adds
    /// one at price 0, as the origin does); without, such a shift is skipped.
    pub fn reset(
        &mut self,
        tick: f64,
        grid_count: u32,
        grid_step: f64,
        rebalance_threshold: f64,
        origin_quirks: bool,
    ) {
        self.origin_quirks = origin_quirks;
        self.degenerate = false;
        self.last_update = None;
        self.center_cache = 0;
        self.last_shift = (self.version.wrapping_sub(1), 0);
        self.levels.clear();
        self.refresh_sides();
        self.levels.reserve(grid_count as usize + 2);
        self.tick = tick;
        self.grid_count = grid_count;
        self.grid_step = grid_step;
        self.rebalance_threshold = rebalance_threshold;
    }

    /// The levels, ascending by price.
    #[inline]
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// Grid step in percent.
    #[inline]
    pub fn grid_step(&self) -> f64 {
        self.grid_step
    }

    /// True when the grid has not been built.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Lowest and highest level price (min/max like the origin, also when degenerate).
    #[inline]
    pub fn bounds(&self) -> (f64, f64) {
        if self.degenerate {
            let lo = self.levels.iter().map(|l| l.price).fold(f64::INFINITY, f64::min);
            let hi = self.levels.iter().map(|l| l.price).fold(f64::NEG_INFINITY, f64::max);
            return (lo, hi);
        }
        match (self.levels.first(), self.levels.last()) {
            (Some(a), Some(b)) => (a.price, b.price),
            _ => (f64::NAN, f64::NAN),
        }
    }

    /// True when the ladder is strictly ascending (always, unless the origin's quirks let a
    /// rebalance put a level out of order), so a price has at most one index.
    #[inline]
    pub fn is_sorted_unique(&self) -> bool {
        !self.degenerate
    }

    /// Changes whenever level indices may have moved (build, rebalance shift).
    #[inline]
    pub fn version(&self) -> u32 {
        self.version
    }

    /// How indices moved (−1: the lowest level dropped and one added on top; +1: the top
    /// dropped and one added below) when version `old_version` became the current one by a
    /// single rebalance shift of a sorted ladder; `None` otherwise.
    #[inline]
    pub fn shift_since(&self, old_version: u32) -> Option<i64> {
        let (version, delta) = self.last_shift;
        (!self.degenerate && version == self.version && old_version == version.wrapping_sub(1))
            .then_some(delta)
    }

    /// The index of a price that sat at `old_index` in the previous version, when that
    /// version became this one by a rebalance shift and the ladder is sorted (a hint that
    /// saves the binary search); `None` when the hint does not apply.
    #[inline]
    pub fn shifted_index(&self, old_index: usize, old_version: u32, price: f64) -> Option<usize> {
        let (version, delta) = self.last_shift;
        if self.degenerate || version != self.version || old_version != version.wrapping_sub(1) {
            return None;
        }
        let k = usize::try_from(old_index as i64 + delta).ok()?;
        (self.levels.get(k)?.price == price).then_some(k)
    }

    /// Index of the level with exactly this price.
    #[inline]
    pub fn index_of(&self, price: f64) -> Option<usize> {
        if self.degenerate {
            return self.levels.iter().position(|l| l.price == price);
        }
        self.levels.binary_search_by(|l| l.price.total_cmp(&price)).ok()
    }

    /// Builds the ladder around `last_close` (docs/strategy.md, "Build"); does nothing for a zero price.
    ///
    /// # Errors
    /// [`DuplicatePrices`] when two levels round to the same tick.
    pub fn build(&mut self, last_close: f64) -> Result<(), DuplicatePrices> {
        if last_close == 0.0 || last_close.is_nan() {
            return Ok(());
        }
        self.levels.clear();
        self.degenerate = false;
        self.version = self.version.wrapping_add(1);
        let half = self.grid_count / 2;
        let step = self.grid_step / 100.0;
        // Lower half first (reversed below), then WAIT, then the upper half.
        let mut p = last_close;
        for _ in 0..half {
            p = round_tick(p * (1.0 - step), self.tick);
            self.levels.push(Level { side: LevelSide::Buy, price: p });
        }
        self.levels.reverse();
        self.levels.push(Level { side: LevelSide::Wait, price: round_tick(last_close, self.tick) });
        let mut p = last_close;
        for _ in 0..half {
            p = round_tick(p * (1.0 + step), self.tick);
            self.levels.push(Level { side: LevelSide::Sell, price: p });
        }
        // The origin checks for any equal pair; the chains are monotone, so neighbours suffice
        // unless rounding collapsed a chain (checked the same way).
        if self.levels.windows(2).any(|w| w[0].price >= w[1].price) {
            let err = DuplicatePrices { tick: self.tick, step: self.grid_step, price: last_close };
            self.levels.clear();
            self.refresh_sides();
            self.center_cache = 0;
            return Err(err);
        }
        self.refresh_sides();
        self.refresh_center();
        Ok(())
    }

    /// Fill-time update (`update_grid`, docs/strategy.md "Fill-time update"): bounds check, side assignment, one rebalance.
    ///
    /// # Errors
    /// [`DuplicatePrices`] when a rebuild fails.
    pub fn update(&mut self, fill_price: f64, last_close: f64) -> Result<(), DuplicatePrices> {
        // A repeat of the last call that left the ladder where it was changes nothing (the
        // sides it sets are the ones already there, so the rebalance test gives the same
        // answer): the common case of a long and a short order filling at one price.
        if self.last_update == Some((fill_price, last_close, self.version)) {
            return Ok(());
        }
        let (lo, hi) = self.bounds();
        if self.levels.is_empty() || !(lo < last_close && last_close < hi) {
            self.build(last_close)?;
        }
        let version = self.version;
        if self.degenerate {
            self.assign_sides_any_order(fill_price, last_close);
            self.refresh_sides();
        } else {
            self.assign_sides_sorted(fill_price, last_close);
        }
        if self.center() {
            self.refresh_sides();
        }
        self.refresh_center();
        self.last_update =
            (self.version == version).then_some((fill_price, last_close, self.version));
        Ok(())
    }

    /// True when the level at `price` is within a quarter step of `fill_price` (the origin's
    /// test, division and all).
    #[inline]
    fn too_close(&self, price: f64, fill_price: f64) -> bool {
        price != 0.0
            && self.grid_step != 0.0
            && (price - fill_price).abs() / price * 100.0 < self.grid_step / 4.0
    }

    /// A conservative "certainly not too close" test without a division.
    #[inline]
    fn certainly_far(&self, price: f64, fill_price: f64) -> bool {
        let quarter = self.grid_step / 4.0;
        price > 0.0 && (price - fill_price).abs() * 100.0 > quarter * price * (1.0 + 1e-9)
    }

    /// Side assignment (docs/strategy.md, "Fill-time update"), level by level (any ladder order).
    fn assign_sides_any_order(&mut self, fill_price: f64, last_close: f64) {
        for k in 0..self.levels.len() {
            let price = self.levels[k].price;
            let side = if self.too_close(price, fill_price) {
                LevelSide::Wait
            } else if last_close < price {
                LevelSide::Sell
            } else if last_close > price {
                LevelSide::Buy
            } else {
                continue;
            };
            self.levels[k].side = side;
        }
    }

    /// `partition_point(|l| l.price < x)` on the ascending ladder, walking from `hint`.
    #[inline]
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(a < x)` is the predicate's negation, NaN too
    fn boundary_from(&self, hint: usize, x: f64) -> usize {
        let mut k = hint.min(self.levels.len());
        while k > 0 && !(self.levels[k - 1].price < x) {
            k -= 1;
        }
        while k < self.levels.len() && self.levels[k].price < x {
            k += 1;
        }
        k
    }

    /// Side assignment (docs/strategy.md, "Fill-time update") on an ascending ladder: BUY below `last_close`, SELL above, equal
    /// prices unchanged, then WAIT for the levels near `fill_price`. Relative distance to the
    /// fill grows away from it, so the scan for near levels stops at the first far one.
    fn assign_sides_sorted(&mut self, fill_price: f64, last_close: f64) {
        // Boundaries by short walks from the last one: the price moves little between fills.
        let below = self.boundary_from(self.below_hint, last_close);
        self.below_hint = below;
        let mut at = below;
        while at < self.levels.len() && self.levels[at].price <= last_close {
            at += 1;
        }
        // The sides change as bits, by ranges (`below..at` keeps its sides, WAITs below);
        // then only the levels whose bits changed get their side written.
        let n = self.levels.len();
        for (prev, now) in self.prev_side_bits.iter_mut().zip(&self.side_bits) {
            prev.copy_from(now);
        }
        let [buy, sell] = &mut self.side_bits;
        buy.put_range(0, below, true);
        buy.put_range(at, n, false);
        sell.put_range(0, below, false);
        sell.put_range(at, n, true);
        let split = self.boundary_from(below, fill_price);
        for k in (0..split).rev() {
            let price = self.levels[k].price;
            if self.certainly_far(price, fill_price) {
                break;
            }
            if self.too_close(price, fill_price) {
                self.set_wait(k);
            }
        }
        for k in split..self.levels.len() {
            let price = self.levels[k].price;
            if self.certainly_far(price, fill_price) {
                break;
            }
            if self.too_close(price, fill_price) {
                self.set_wait(k);
            }
        }
        self.write_changed_sides();
    }

    /// Writes `Level::side` where the side bits differ from `prev_side_bits`.
    fn write_changed_sides(&mut self) {
        let [buy, sell] = [self.side_bits[0].words(), self.side_bits[1].words()];
        let [was_buy, was_sell] = [self.prev_side_bits[0].words(), self.prev_side_bits[1].words()];
        for k in 0..buy.len() {
            let mut changed = (buy[k] ^ was_buy[k]) | (sell[k] ^ was_sell[k]);
            while changed != 0 {
                let b = changed.trailing_zeros() as usize;
                changed &= changed - 1;
                self.levels[k * 64 + b].side = if buy[k] >> b & 1 == 1 {
                    LevelSide::Buy
                } else if sell[k] >> b & 1 == 1 {
                    LevelSide::Sell
                } else {
                    LevelSide::Wait
                };
            }
        }
    }

    /// Makes level `k` WAIT in the side bits.
    #[inline]
    fn set_wait(&mut self, k: usize) {
        self.side_bits[0].put(k, false);
        self.side_bits[1].put(k, false);
    }

    /// At most one shift of the ladder when buys and sells are out of balance; true when the
    /// ladder moved.
    fn center(&mut self) -> bool {
        // "Lowest buy" is the first BUY in ladder order and "highest sell" the last SELL (0
        // when none), as the origin takes them.
        let [buy, sell] = &self.side_bits;
        let (buys, sells) = (i64::from(buy.count()), i64::from(sell.count()));
        let lowest_buy = buy.first().map(|i| self.levels[i].price);
        let highest_sell = sell.last().map_or(0.0, |i| self.levels[i].price);
        let total = buys + sells;
        if total == 0 {
            return false;
        }
        let step = self.grid_step / 100.0;
        let total = total as f64;
        if (buys - sells) as f64 / total > self.rebalance_threshold {
            let price = round_tick(highest_sell * (1.0 + step), self.tick);
            let out_of_order = self.levels.last().is_some_and(|l| l.price >= price);
            if out_of_order && !self.origin_quirks {
                return false;
            }
            self.levels.remove(0);
            self.degenerate |= out_of_order;
            self.version = self.version.wrapping_add(1);
            self.last_shift = (self.version, -1);
            self.levels.push(Level { side: LevelSide::Sell, price });
            true
        } else if (sells - buys) as f64 / total > self.rebalance_threshold {
            let base = lowest_buy.unwrap_or(self.levels[0].price);
            let price = round_tick(base * (1.0 - step), self.tick);
            let out_of_order = self.levels.first().is_some_and(|l| l.price <= price);
            if out_of_order && !self.origin_quirks {
                return false;
            }
            self.levels.pop();
            self.degenerate |= out_of_order;
            self.version = self.version.wrapping_add(1);
            self.last_shift = (self.version, 1);
            self.levels.insert(0, Level { side: LevelSide::Buy, price });
            true
        } else {
            false
        }
    }

    /// Index the placement walk starts from: the middle of the WAIT band, else the middle.
    pub fn center_index(&self) -> usize {
        self.center_cache
    }

    /// Recomputes [`Grid::center_index`] after the sides or the levels changed.
    fn refresh_center(&mut self) {
        self.center_cache = self.compute_center();
    }

    fn compute_center(&self) -> usize {
        let n = self.levels.len();
        let [buy, sell] = [self.side_bits[0].words(), self.side_bits[1].words()];
        let wait = |k: usize| {
            let valid = if (k + 1) * 64 <= n { u64::MAX } else { (1u64 << (n % 64)) - 1 };
            !(buy[k] | sell[k]) & valid
        };
        let first = first_of((0..buy.len()).map(wait));
        let last = last_of((0..buy.len()).map(wait));
        match (first, last) {
            (Some(a), Some(b)) => (a + b) / 2,
            _ => n / 2,
        }
    }

    /// The BUY levels and the SELL levels (WAIT is neither), as bit sets over the ladder.
    #[inline]
    pub fn side_bits(&self) -> &[LevelBits; 2] {
        &self.side_bits
    }

    /// Recomputes [`Grid::side_bits`] from the levels.
    fn refresh_sides(&mut self) {
        let n = self.levels.len();
        let [buy, sell] = &mut self.side_bits;
        buy.reset(n);
        sell.reset(n);
        let (bw, sw) = (buy.words_mut(), sell.words_mut());
        for (k, chunk) in self.levels.chunks(64).enumerate() {
            let (mut b, mut s) = (0u64, 0u64);
            for (j, l) in chunk.iter().enumerate() {
                b |= u64::from(l.side == LevelSide::Buy) << j;
                s |= u64::from(l.side == LevelSide::Sell) << j;
            }
            bw[k] = b;
            sw[k] = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(tick: f64, count: u32, step: f64) -> Grid {
        let mut g = Grid::default();
        g.reset(tick, count, step, 0.3, true);
        g
    }

    fn show(g: &Grid) -> String {
        g.levels()
            .iter()
            .map(|l| {
                let s = match l.side {
                    LevelSide::Buy => "B",
                    LevelSide::Sell => "S",
                    LevelSide::Wait => "W",
                };
                format!("{s}{:?}", l.price)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn round_tick_matches_origin_vectors() {
        assert_eq!(round_tick(100000.15, 0.1), 100000.1);
        assert_eq!(round_tick(100000.19, 0.1), 100000.2);
        assert_eq!(round_tick(100000.14, 0.1), 100000.1);
        assert_eq!(round_tick(100000.155, 0.01), 100000.16);
        assert_eq!(round_tick(100000.154, 0.01), 100000.15);
    }

    #[test]
    fn builds_origin_example_grid() {
        let mut g = grid(0.01, 10, 1.0);
        g.build(100.0).unwrap();
        assert_eq!(
            show(&g),
            "B95.1 B96.06 B97.03 B98.01 B99.0 W100.0 S101.0 S102.01 S103.03 S104.06 S105.1"
        );
    }

    #[test]
    fn btc_grid_vectors() {
        let mut g = grid(0.1, 50, 0.2);
        g.build(100000.0).unwrap();
        let p: Vec<f64> = g.levels().iter().map(|l| l.price).collect();
        assert_eq!(p.len(), 51);
        assert_eq!(&p[..5], &[95118.2, 95308.8, 95499.8, 95691.2, 95883.0]);
        assert_eq!(&p[23..28], &[99600.4, 99800.0, 100000.0, 100200.0, 100400.4]);
        assert_eq!(&p[46..], &[104285.0, 104493.6, 104702.6, 104912.0, 105121.8]);
        let mut g = grid(0.1, 200, 0.2);
        g.build(100000.0).unwrap();
        assert_eq!(g.levels().len(), 201);
    }

    #[test]
    fn update_grid_origin_examples() {
        let mut g = grid(0.01, 10, 1.0);
        g.build(100.0).unwrap();
        g.update(99.0, 98.95).unwrap();
        assert_eq!(
            show(&g),
            "B95.1 B96.06 B97.03 B98.01 W99.0 S100.0 S101.0 S102.01 S103.03 S104.06 S105.1"
        );
        g.update(98.01, 97.9).unwrap();
        g.update(97.03, 97.0).unwrap();
        assert_eq!(
            show(&g),
            "B93.21 B94.15 B95.1 B96.06 W97.03 S98.01 S99.0 S100.0 S101.0 S102.01 S103.03"
        );
        let mut g = grid(0.01, 10, 1.0);
        g.build(100.0).unwrap();
        g.update(99.0, 120.0).unwrap();
        assert_eq!(
            show(&g),
            "B114.12 B115.27 B116.43 B117.61 B118.8 W120.0 S121.2 S122.41 S123.63 S124.87 S126.12"
        );
    }

    #[test]
    fn origin_quirk_appends_a_zero_level_when_no_sell_exists() {
        // Every level above the fill is WAIT (too close) and the rest are BUY: the origin
        // shifts up from "highest sell" 0 and appends a level at price 0.
        let mut g = grid(0.01, 4, 10.0);
        g.build(100.0).unwrap();
        // Levels 81, 90, 100, 110, 121: a fill at 121 makes it WAIT, the rest become BUY.
        g.update(121.0, 120.99).unwrap();
        let prices: Vec<f64> = g.levels().iter().map(|l| l.price).collect();
        assert_eq!(prices.last(), Some(&0.0), "{}", show(&g));
        assert_eq!(g.bounds().0, 0.0);
        // Without the quirk the shift is skipped and the ladder stays sorted.
        let mut g = grid(0.01, 4, 10.0);
        g.reset(0.01, 4, 10.0, 0.3, false);
        g.build(100.0).unwrap();
        g.update(121.0, 120.99).unwrap();
        assert!(g.levels().windows(2).all(|w| w[0].price < w[1].price), "{}", show(&g));
    }

    #[test]
    fn coarse_tick_is_a_duplicate_error() {
        let mut g = grid(10.0, 10, 0.1);
        assert!(g.build(100.0).is_err());
    }

    proptest::proptest! {
        /// The sorted-ladder side assignment equals the level-by-level one, and a repeated
        /// update changes nothing.
        #[test]
        fn sorted_assignment_equals_level_by_level(
            count in 2u32..160,
            step in proptest::sample::select(vec![0.05, 0.1, 0.2, 0.35, 1.0, 4.0]),
            start in 1.0f64..500.0,
            moves in proptest::collection::vec((-30i32..30, -30i32..30), 1..40),
        ) {
            let mut fast = grid(0.01, count, step);
            if fast.build(start).is_err() {
                return Ok(()); // tick too coarse for this step at this price
            }
            for (a, b) in moves {
                let (lo, hi) = fast.bounds();
                let span = hi - lo;
                let fill = round_tick(lo + span * (0.5 + f64::from(a) / 60.0), 0.01);
                let close = round_tick(lo + span * (0.5 + f64::from(b) / 60.0), 0.01);
                // The level-by-level rule on a copy of the same ladder.
                let mut slow = fast.clone();
                slow.assign_sides_any_order(fill, close);
                if !fast.degenerate {
                    let mut sorted = fast.clone();
                    sorted.assign_sides_sorted(fill, close);
                    proptest::prop_assert_eq!(show(&sorted), show(&slow));
                }
                let before = fast.version();
                let old_levels = fast.levels().to_vec();
                if fast.update(fill, close).is_err() {
                    return Ok(());
                }
                // The side bits and the centre follow the levels (naive recomputation).
                let lv = fast.levels();
                for (k, l) in lv.iter().enumerate() {
                    proptest::prop_assert_eq!(fast.side_bits()[0].contains(k), l.side == LevelSide::Buy);
                    proptest::prop_assert_eq!(fast.side_bits()[1].contains(k), l.side == LevelSide::Sell);
                }
                let first = lv.iter().position(|l| l.side == LevelSide::Wait);
                let last = lv.iter().rposition(|l| l.side == LevelSide::Wait);
                let centre = first.zip(last).map_or(lv.len() / 2, |(a, b)| (a + b) / 2);
                proptest::prop_assert_eq!(fast.center_index(), centre);
                // The shift hint, where it applies, agrees with the binary search.
                for (k, l) in old_levels.iter().enumerate() {
                    if let Some(n) = fast.shifted_index(k, before, l.price) {
                        proptest::prop_assert_eq!(fast.index_of(l.price), Some(n));
                    }
                }
                let once = show(&fast);
                let cached = fast.last_update == Some((fill, close, fast.version()));
                let mut again = fast.clone();
                again.last_update = None;
                again.update(fill, close).unwrap();
                fast.update(fill, close).unwrap();
                if fast.version() == before {
                    proptest::prop_assert!(cached, "an update that kept the ladder is cached");
                }
                if cached {
                    // The repeat the cache skips is a no-op when computed.
                    proptest::prop_assert_eq!(show(&again), once.clone());
                    proptest::prop_assert_eq!(show(&fast), once);
                }
            }
        }
    }
}
