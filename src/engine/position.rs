//! One direction's position (docs/strategy.md, "Positions, fees and funding"): size in lots, average entry, PnL.

/// Long or short book (hedge mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The long book: opens with Buy, closes with Sell.
    Long,
    /// The short book: opens with Sell, closes with Buy.
    Short,
}

impl Direction {
    /// `"long"` or `"short"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Long => "long",
            Direction::Short => "short",
        }
    }

    /// Index 0 for long, 1 for short.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Order side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl Side {
    /// `"Buy"` or `"Sell"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "Buy",
            Side::Sell => "Sell",
        }
    }

    /// True when this side reduces a position of `dir` (hedge-mode reduce-only map).
    #[inline]
    pub fn closes(self, dir: Direction) -> bool {
        matches!((dir, self), (Direction::Long, Side::Sell) | (Direction::Short, Side::Buy))
    }
}

/// Converts whole lots to a base-currency quantity.
pub trait LotSize {
    /// Quantity of `lots`.
    fn qty(&self, lots: i64) -> f64;
}

impl LotSize for f64 {
    fn qty(&self, lots: i64) -> f64 {
        lots as f64 * self
    }
}

/// A position leg: size in whole lots, average entry price, realised PnL.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Leg {
    /// Size in lots of the quantity step.
    pub lots: i64,
    /// Size in base currency (`lots × step`).
    pub size: f64,
    /// Average entry price (0 when flat).
    pub entry: f64,
    /// Σ realised PnL of this leg.
    pub realized: f64,
}

/// What a fill did to a leg.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LegFill {
    /// Realised PnL; `Some` only for a closing fill on a non-empty position.
    pub realized: Option<f64>,
}

impl Leg {
    /// Applies a fill of `lots` (size `qty`) at `price`; the excess of a close is dropped.
    #[inline]
    pub fn apply(
        &mut self,
        dir: Direction,
        opening: bool,
        lots: i64,
        qty: f64,
        price: f64,
        q: &impl LotSize,
    ) -> LegFill {
        if opening {
            let new_lots = self.lots + lots;
            let new_size = q.qty(new_lots);
            self.entry = (self.size * self.entry + qty * price) / (self.size + qty);
            self.lots = new_lots;
            self.size = new_size;
            return LegFill { realized: None };
        }
        if self.lots == 0 {
            return LegFill { realized: None };
        }
        let close_lots = lots.min(self.lots);
        let close_qty = if close_lots == lots { qty } else { self.size };
        let pnl = match dir {
            Direction::Long => (price - self.entry) * close_qty,
            Direction::Short => (self.entry - price) * close_qty,
        };
        self.lots -= close_lots;
        self.size = q.qty(self.lots);
        if self.lots == 0 {
            self.entry = 0.0;
            self.size = 0.0;
        }
        self.realized += pnl;
        LegFill { realized: Some(pnl) }
    }

    /// Unrealised PnL at `price` (0 when flat).
    #[inline]
    pub fn unrealized(&self, dir: Direction, price: f64) -> f64 {
        if self.lots == 0 {
            return 0.0;
        }
        match dir {
            Direction::Long => (price - self.entry) * self.size,
            Direction::Short => (self.entry - price) * self.size,
        }
    }

    /// Position value at entry (`size × entry`).
    #[inline]
    pub fn entry_value(&self) -> f64 {
        self.size * self.entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: f64 = 0.001;

    fn leg_after(fills: &[(Direction, bool, i64, f64)]) -> (Leg, f64) {
        let mut leg = Leg::default();
        let mut last = 0.0;
        for &(d, open, lots, px) in fills {
            let q = lots as f64 * STEP;
            last = leg.apply(d, open, lots, q, px, &STEP).realized.unwrap_or(0.0);
        }
        (leg, last)
    }

    #[test]
    fn origin_tracker_vectors() {
        use Direction::*;
        let (l, r) = leg_after(&[(Long, true, 100, 100000.0), (Long, false, 100, 101000.0)]);
        assert!((r - 100.0).abs() < 1e-9 && l.lots == 0 && l.entry == 0.0);
        let (_, r) = leg_after(&[(Long, true, 100, 100000.0), (Long, false, 100, 99000.0)]);
        assert!((r + 100.0).abs() < 1e-9);
        let (_, r) = leg_after(&[(Short, true, 100, 100000.0), (Short, false, 100, 99000.0)]);
        assert!((r - 100.0).abs() < 1e-9);
        let (_, r) = leg_after(&[(Short, true, 100, 100000.0), (Short, false, 100, 101000.0)]);
        assert!((r + 100.0).abs() < 1e-9);
        let (l, _) = leg_after(&[(Long, true, 100, 100000.0), (Long, true, 100, 102000.0)]);
        assert!((l.size - 0.2).abs() < 1e-12 && (l.entry - 101000.0).abs() < 1e-9);
        let (l, r) = leg_after(&[(Long, true, 200, 100000.0), (Long, false, 100, 101000.0)]);
        assert!((r - 100.0).abs() < 1e-9 && l.lots == 100 && l.entry == 100000.0);
        // A close on an empty position is ignored (the fee is charged by the caller).
        let (l, r) = leg_after(&[(Long, false, 100, 101000.0)]);
        assert_eq!((l.lots, r), (0, 0.0));
        // A close larger than the position never flips it.
        let (l, r) = leg_after(&[(Long, true, 100, 100.0), (Long, false, 300, 110.0)]);
        assert!(l.lots == 0 && (r - 1.0).abs() < 1e-12);
    }

    #[test]
    fn unrealized_vectors() {
        let mut l = Leg::default();
        l.apply(Direction::Long, true, 100, 0.1, 50000.0, &STEP);
        assert!((l.unrealized(Direction::Long, 51000.0) - 100.0).abs() < 1e-9);
        let mut s = Leg::default();
        s.apply(Direction::Short, true, 100, 0.1, 50000.0, &STEP);
        assert!((s.unrealized(Direction::Short, 49000.0) - 100.0).abs() < 1e-9);
    }
}
