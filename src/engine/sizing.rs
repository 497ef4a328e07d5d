//! Order sizing (docs/strategy.md, "Sizing chain"): amount → raw quantity → 5-USDT floor → ceiling to
//! the quantity step, then risk and early-imbalance multipliers, all in integer lots.
//!
//! The fast path is `f64`; when a quotient lies so close to an integer (or the notional so
//! close to 5 USDT) that binary rounding could flip the decision, the step is redone in
//! exact decimal arithmetic with Python's 28-digit rounding.

use super::params::Amount;
use crate::decimal::Dec;

/// Minimum order notional in USDT (bbu2 parity).
const MIN_NOTIONAL: f64 = 5.0;
/// Relative distance to an integer below which the exact path decides.
const NEAR: f64 = 1e-7;

/// Precomputed sizing inputs of one run.
#[derive(Clone, Copy, Debug)]
pub struct Sizer {
    amount: Amount,
    amount_f64: f64,
    step: Dec,
    step_f64: f64,
}

fn near_integer(q: f64) -> bool {
    (q - q.round()).abs() <= NEAR * q.abs().max(1.0)
}

impl Sizer {
    /// Sizing for `amount` with quantity step `step`; `leverage` and `grid_count` spread a
    /// [`Amount::GridBot`] investment over the levels (the other amounts ignore them).
    pub fn new(amount: Amount, step: Dec, leverage: f64, grid_count: u32) -> Sizer {
        let (amount, amount_f64) = match amount {
            Amount::EquityFraction(d) | Amount::Quote(d) => (amount, d.to_f64()),
            Amount::GridBot(inv) => {
                // Per-order notional = investment × leverage / levels, then sized like "N".
                let per = inv.to_f64() * leverage / f64::from(grid_count.max(1));
                let d = Dec::from_f64_shortest(per).unwrap_or(inv);
                (Amount::Quote(d), d.to_f64())
            }
        };
        Sizer { amount, amount_f64, step, step_f64: step.to_f64() }
    }

    /// The quantity step as `f64`.
    pub fn step_f64(&self) -> f64 {
        self.step_f64
    }

    /// Lots for an order at `price` when equity is `wallet` (0 when the amount cannot be sized).
    pub fn base_lots(&self, price: f64, wallet: f64) -> i64 {
        if price <= 0.0 {
            return 0;
        }
        let raw = match self.amount {
            Amount::EquityFraction(_) => {
                if wallet <= 0.0 {
                    return 0;
                }
                wallet * self.amount_f64 / price
            }
            Amount::Quote(_) | Amount::GridBot(_) => self.amount_f64 / price,
        };
        let notional = raw * price;
        if (notional - MIN_NOTIONAL).abs() <= NEAR * MIN_NOTIONAL {
            return self.base_lots_exact(price, wallet).unwrap_or(1);
        }
        let raw = if notional < MIN_NOTIONAL { MIN_NOTIONAL / price } else { raw };
        let q = raw / self.step_f64;
        if near_integer(q) {
            return self.base_lots_exact(price, wallet).unwrap_or(q.ceil() as i64);
        }
        q.ceil() as i64
    }

    fn base_lots_exact(&self, price: f64, wallet: f64) -> Option<i64> {
        let price_d = Dec::from_f64_shortest(price)?;
        let raw = match self.amount {
            Amount::EquityFraction(f) => {
                let w = Dec::from_f64_shortest(wallet)?;
                w.checked_mul(f)?.py_div(price_d)?
            }
            Amount::Quote(n) | Amount::GridBot(n) => n.py_div(price_d)?,
        };
        let five = Dec::from_int(5);
        let raw = if raw.checked_mul(price_d)? < five { five.py_div(price_d)? } else { raw };
        raw.ceil_div(self.step)
    }

    /// Applies a risk multiplier and the early-imbalance factor to `lots`, ceiling to whole
    /// lots exactly (`q × Decimal(str(m))`, then `round_qty`).
    pub fn scale_lots(lots: i64, multiplier: f64, early: f64) -> i64 {
        if lots <= 0 {
            return 0;
        }
        let q = lots as f64 * multiplier * early;
        // Multipliers that are multiples of 1/1024 (0.5, 1.5, 2, …) give exact products.
        let dyadic = |m: f64| (m * 1024.0).fract() == 0.0 && m.abs() < 1e6;
        if (dyadic(multiplier) && dyadic(early) && lots < (1 << 40)) || !near_integer(q) {
            return q.ceil() as i64;
        }
        let exact = (|| {
            let m = Dec::from_f64_shortest(multiplier)?;
            let e = Dec::from_f64_shortest(early)?;
            Dec::from_int(lots).checked_mul(m)?.checked_mul(e)?.ceil_div(Dec::from_int(1))
        })();
        exact.unwrap_or(q.ceil() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizer(amount: &str, step: &str) -> Sizer {
        Sizer::new(Amount::parse(amount).unwrap(), Dec::parse(step).unwrap(), 10.0, 50)
    }

    #[test]
    fn origin_qty_vectors() {
        // The origin's sizing vectors (docs/strategy.md, "Sizing chain"; qty_step 0.001).
        assert_eq!(sizer("x0.01", "0.001").base_lots(50000.0, 10000.0), 2);
        assert_eq!(sizer("x0.01", "0.001").base_lots(30000.0, 10000.0), 4);
        assert_eq!(sizer("100", "0.001").base_lots(50000.0, 0.0), 2);
        assert_eq!(sizer("100", "0.001").base_lots(30000.0, 0.0), 4);
        assert_eq!(sizer("x0.001", "0.001").base_lots(50000.0, 100.0), 1);
        assert_eq!(sizer("x0.01", "0.001").base_lots(50000.0, 0.0), 0);
    }

    #[test]
    fn grid_bot_spreads_investment_times_leverage_over_the_levels() {
        // 1,000 USDT × 10 over 50 levels = 200 USDT per order: at 100 USDT with lot 0.1,
        // 200 / 100 = 2 → 20 lots; leverage 20 doubles it (40 lots); "x…" ignores leverage.
        let bot = |lev| {
            Sizer::new(Amount::parse("grid_bot:1000").unwrap(), Dec::parse("0.1").unwrap(), lev, 50)
        };
        assert_eq!(bot(10.0).base_lots(100.0, 10_000.0), 20);
        assert_eq!(bot(20.0).base_lots(100.0, 10_000.0), 40);
        let frac =
            |lev| Sizer::new(Amount::parse("x0.01").unwrap(), Dec::parse("0.1").unwrap(), lev, 50);
        assert_eq!(frac(10.0).base_lots(100.0, 10_000.0), frac(50.0).base_lots(100.0, 10_000.0));
    }

    #[test]
    fn trace_quantities() {
        // trace_small: amount "100" at the first levels.
        let s = sizer("100", "0.001");
        assert_eq!(s.base_lots(99.0, 10000.0), 1011);
        assert_eq!(s.base_lots(98.01, 10000.0), 1021);
        assert_eq!(s.base_lots(100.0, 10000.0), 1000);
        assert_eq!(s.base_lots(105.1, 10000.0), 952);
        assert_eq!(Sizer::scale_lots(1031, 0.5, 1.0), 516);
        assert_eq!(Sizer::scale_lots(1000, 2.0, 1.0), 2000);
        assert_eq!(Sizer::scale_lots(981, 0.5, 1.0), 491);
    }

    #[test]
    fn exact_path_decides_integer_quotients() {
        // 0.1 × 3 = 0.30000000000000004 in f64; the exact answer is 3 lots of 0.1.
        assert_eq!(Sizer::scale_lots(3, 0.1 * 10.0, 1.0), 3);
        assert_eq!(sizer("x0.01", "0.001").base_lots(50000.0, 10000.0), 2);
        // 5 USDT floor at exactly 5: passes unchanged (strict <).
        assert_eq!(sizer("5", "0.001").base_lots(1000.0, 0.0), 5);
        assert_eq!(sizer("4.99", "0.001").base_lots(1000.0, 0.0), 5);
    }
}
