//! Bybit's cross-margin account (`model = "bybit"`, docs/model.md): margin valued at the
//! current price with the estimated fee to close, the liquidation trigger (equity reaches the
//! maintenance margin), the account's bankruptcy price and the liquidation prices the
//! `min_liq_distance_pct` metric measures against. Pure arithmetic on a position snapshot.
//!
//! Equity is linear in the price and the tiered maintenance margin is convex (rates grow
//! with the tier), so `g(p) = equity(p) − MM(p)` is concave: the prices where the account is
//! safe form one interval, and a segment of the price path whose two ends are safe is safe
//! throughout. That makes every check an end-point check and every crossing a linear solve
//! within one tier segment.

use crate::tiers::TierTable;

/// How the maintenance margin of a hedged pair (a long and a short on one symbol) is
/// computed. Bybit publishes a discount on the smaller leg but, by a mainnet calibration
/// (docs/model.md, "Hedge mode"), liquidates on the full rate; the choice is switchable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HedgeMargin {
    /// Full tier rate on the combined value of both legs (one tier lookup).
    Combined,
    /// Each leg in its own tier, the two margins added.
    PerLeg,
}

impl HedgeMargin {
    /// The name used in configs and result files.
    pub fn as_str(self) -> &'static str {
        match self {
            HedgeMargin::Combined => "combined",
            HedgeMargin::PerLeg => "per_leg",
        }
    }
}

/// Tier indices a margin figure was computed with: `mm` for the maintenance margin
/// (combined: `mm[0]` only), `im` per direction for the initial margin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TierKeys {
    /// Maintenance-margin tiers.
    pub mm: [usize; 2],
    /// Initial-margin tiers (long, short).
    pub im: [usize; 2],
}

/// A position snapshot: sizes, entries and the price-independent part of equity.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Exposure {
    /// initial + realised − fees + funding, summed in that order.
    pub base: f64,
    /// Long size (base currency; 0 when flat).
    pub long: f64,
    /// Long average entry.
    pub long_entry: f64,
    /// Short size (base currency; 0 when flat).
    pub short: f64,
    /// Short average entry.
    pub short_entry: f64,
}

impl Exposure {
    /// Equity at price `p`: `base + (p − entry_l)·size_l + (entry_s − p)·size_s`, each term
    /// present only for an open leg (the engine's equity mark, bit for bit).
    #[inline]
    pub fn equity(&self, p: f64) -> f64 {
        let l = if self.long > 0.0 { (p - self.long_entry) * self.long } else { 0.0 };
        let s = if self.short > 0.0 { (self.short_entry - p) * self.short } else { 0.0 };
        self.base + l + s
    }

    /// The price-independent part `c` of equity written as `c + (long − short) · p`.
    #[inline]
    fn constant(&self) -> f64 {
        let mut c = self.base;
        if self.long > 0.0 {
            c -= self.long_entry * self.long;
        }
        if self.short > 0.0 {
            c += self.short_entry * self.short;
        }
        c
    }

    /// Net size (long − short).
    #[inline]
    fn net(&self) -> f64 {
        self.long - self.short
    }

    /// Both legs' sizes added.
    #[inline]
    fn total(&self) -> f64 {
        self.long + self.short
    }

    /// True when any leg is open.
    #[inline]
    pub fn is_open(&self) -> bool {
        self.long > 0.0 || self.short > 0.0
    }
}

/// The account rules of one run: its tier table, hedge rule, taker fee and leverage.
#[derive(Clone, Copy, Debug)]
pub struct MarginModel<'a> {
    /// The run's frozen tier table.
    pub tiers: &'a TierTable,
    /// Hedge-mode maintenance-margin rule.
    pub hedge: HedgeMargin,
    /// Taker fee rate (the estimated fee to close, and liquidation closes).
    pub taker: f64,
    /// 1 / leverage.
    pub inv_leverage: f64,
}

/// Where a liquidation happened and what it cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Liquidation {
    /// The price at which equity reached the maintenance margin.
    pub trigger: f64,
    /// The price every position was closed at (equity after the taker fee is zero).
    pub bankruptcy: f64,
}

impl MarginModel<'_> {
    /// The tier indices of the positions in `x` at price `p`.
    #[inline]
    pub fn keys_at(&self, x: &Exposure, p: f64) -> TierKeys {
        let t = self.tiers;
        let im = [t.tier_index(x.long * p), t.tier_index(x.short * p)];
        let mm = match self.hedge {
            HedgeMargin::Combined => [t.tier_index(x.total() * p), 0],
            HedgeMargin::PerLeg => im,
        };
        TierKeys { mm, im }
    }

    /// Maintenance margin at `p` with tiers `k`: the tier margin (hedge rule) plus the
    /// estimated fee to close both legs at `p`.
    #[inline]
    pub fn mm_with(&self, x: &Exposure, p: f64, k: &TierKeys) -> f64 {
        let t = self.tiers;
        let close_value = x.total() * p;
        let tier_mm = match self.hedge {
            HedgeMargin::Combined => t.mm_in_tier(close_value, k.mm[0]),
            HedgeMargin::PerLeg => {
                t.mm_in_tier(x.long * p, k.mm[0]) + t.mm_in_tier(x.short * p, k.mm[1])
            }
        };
        tier_mm + close_value * self.taker
    }

    /// Initial margin of the positions at `p` with tiers `k`: value × max(tier IMR,
    /// 1/leverage) per leg, plus the estimated fee to close.
    #[inline]
    pub fn im_with(&self, x: &Exposure, p: f64, k: &TierKeys) -> f64 {
        let t = self.tiers;
        let mut im = 0.0;
        for (size, i) in [(x.long, k.im[0]), (x.short, k.im[1])] {
            let pv = size * p;
            if pv > 0.0 {
                im += pv * t.imr_of_tier(i).max(self.inv_leverage);
            }
        }
        im + x.total() * p * self.taker
    }

    /// `(IM, MM)` of the positions at `p`.
    #[inline]
    pub fn margins(&self, x: &Exposure, p: f64) -> (f64, f64) {
        let k = self.keys_at(x, p);
        (self.im_with(x, p, &k), self.mm_with(x, p, &k))
    }

    /// The maintenance-margin tiers of the positions in `x` at price `p` (`keys_at`'s `mm`).
    #[inline]
    fn mm_keys_at(&self, x: &Exposure, p: f64) -> TierKeys {
        let t = self.tiers;
        let mm = match self.hedge {
            HedgeMargin::Combined => [t.tier_index(x.total() * p), 0],
            HedgeMargin::PerLeg => [t.tier_index(x.long * p), t.tier_index(x.short * p)],
        };
        TierKeys { mm, im: [0; 2] }
    }

    /// Equity minus maintenance margin at `p` (≤ 0: liquidation).
    #[inline]
    pub fn cushion(&self, x: &Exposure, p: f64) -> f64 {
        x.equity(p) - self.mm_with(x, p, &self.mm_keys_at(x, p))
    }

    /// The price-path range around which the tiers `keys_at(x, p)` hold: `(lo, hi)` with a
    /// relative margin inside each tier boundary.
    pub fn tier_band(&self, x: &Exposure, p: f64) -> (f64, f64) {
        const MARGIN: f64 = 1e-9;
        let k = self.keys_at(x, p);
        let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
        let mut clamp = |size: f64, i: usize| {
            if size > 0.0 {
                let (a, b) = self.tiers.tier_range(i);
                lo = lo.max(a / size * (1.0 + MARGIN));
                hi = hi.min(b / size * (1.0 - MARGIN));
            }
        };
        clamp(x.long, k.im[0]);
        clamp(x.short, k.im[1]);
        if self.hedge == HedgeMargin::Combined {
            clamp(x.total(), k.mm[0]);
        }
        (lo, hi)
    }

    /// The root of the cushion on the tier segment of `k`, solving the linear form
    /// `base' + net·p − Σ (size·p·mmr − ded) − taker·total·p = 0` (None when flat in p).
    fn linear_root(&self, x: &Exposure, k: &TierKeys) -> Option<f64> {
        let t = self.tiers;
        // equity(p) = c + net·p
        let c = x.constant();
        let (mut slope, mut ded) = (x.total() * self.taker, 0.0);
        let mut add = |size: f64, i: usize| {
            if size > 0.0 {
                let (m, d) = t.mm_terms(i);
                slope += size * m;
                ded += d;
            }
        };
        match self.hedge {
            HedgeMargin::Combined => add(x.total(), k.mm[0]),
            HedgeMargin::PerLeg => {
                add(x.long, k.mm[0]);
                add(x.short, k.mm[1]);
            }
        }
        let denom = slope - x.net();
        let r = (c + ded) / denom;
        (denom != 0.0 && r.is_finite()).then_some(r)
    }

    /// The price between `safe` (cushion > 0) and `unsafe_` (cushion ≤ 0) where the cushion
    /// reaches zero: exact within a tier segment, found by bisection across segments.
    pub fn crossing(&self, x: &Exposure, mut safe: f64, mut unsafe_: f64) -> f64 {
        for _ in 0..200 {
            let (lo, hi) = if safe < unsafe_ { (safe, unsafe_) } else { (unsafe_, safe) };
            let k = self.mm_keys_at(x, unsafe_);
            if let Some(r) = self.linear_root(x, &k) {
                if lo <= r && r <= hi && self.mm_keys_at(x, r) == k {
                    return r;
                }
            }
            let k = self.mm_keys_at(x, safe);
            if let Some(r) = self.linear_root(x, &k) {
                if lo <= r && r <= hi && self.mm_keys_at(x, r) == k {
                    return r;
                }
            }
            let mid = lo + (hi - lo) / 2.0;
            if mid <= lo || mid >= hi {
                return unsafe_;
            }
            if self.cushion(x, mid) > 0.0 {
                safe = mid;
            } else {
                unsafe_ = mid;
            }
        }
        unsafe_
    }

    /// Where a price moving from `from` to `to` with the positions `x` held first reaches
    /// the liquidation rule: `from` itself when the account is already at or below its
    /// maintenance margin there, the crossing when `to` is, else `None`.
    #[inline]
    pub fn trigger_on(&self, x: &Exposure, from: f64, to: f64, check_from: bool) -> Option<f64> {
        if !x.is_open() {
            return None;
        }
        if check_from && self.cushion(x, from) <= 0.0 {
            return Some(from);
        }
        if self.cushion(x, to) > 0.0 {
            return None;
        }
        Some(self.crossing(x, from, to))
    }

    /// The account's bankruptcy price: the price at which closing every position and paying
    /// the taker fee on the close leaves equity exactly zero,
    /// `c + net·p − taker·total·p = 0`. `None` when no positive price does.
    pub fn bankruptcy_price(&self, x: &Exposure) -> Option<f64> {
        let c = x.constant();
        let denom = self.taker * x.total() - x.net();
        let p = c / denom;
        (denom != 0.0 && p.is_finite() && p > 0.0).then_some(p)
    }

    /// The prices below and above `p` at which the liquidation rule would fire for the
    /// positions held (`0` for "none below", `+∞` for "none above"); `p` must be safe.
    pub fn liquidation_prices(&self, x: &Exposure, p: f64) -> (f64, f64) {
        if !x.is_open() {
            return (0.0, f64::INFINITY);
        }
        // Below: the cushion at 0 is equity's constant part (margins vanish at price 0).
        let below = if self.cushion(x, 0.0) > 0.0 {
            0.0
        } else {
            let k = self.mm_keys_at(x, p);
            match self.linear_root(x, &k) {
                Some(r) if r < p && r >= 0.0 && self.mm_keys_at(x, r) == k => r,
                _ => self.crossing(x, p, 0.0),
            }
        };
        // Above: the cushion's slope only falls as tiers rise, so with the last tier's slope
        // ≥ 0 it never turns down; otherwise a doubling search finds an unsafe price.
        let last = self.tiers.len().saturating_sub(1);
        let (m_last, _) = self.tiers.mm_terms(last);
        let worst_slope = x.net() - self.taker * x.total() - m_last * x.total();
        let k = self.mm_keys_at(x, p);
        let near = self.linear_root(x, &k);
        let above = if worst_slope >= 0.0 {
            f64::INFINITY
        } else if let Some(r) = near.filter(|&r| r > p && self.mm_keys_at(x, r) == k) {
            r // the usual case: the root lies in the tiers the positions are in now
        } else {
            let mut hi = p * 2.0;
            let mut found = None;
            for _ in 0..80 {
                if self.cushion(x, hi) <= 0.0 {
                    found = Some(hi);
                    break;
                }
                hi *= 2.0;
            }
            found.map_or(f64::INFINITY, |u| self.crossing(x, p, u))
        };
        (below, above)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::Dec;
    use crate::tiers::Tier;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    /// The help-centre XYZUSDT table (docs/model.md, "Margin, valued at the price"): 1,000-wide tiers at 2 %, 2.5 %, …
    fn xyz() -> TierTable {
        let rows = [
            (Some("1000"), "0.02", "0", "0.04"),
            (Some("2000"), "0.025", "5", "0.05"),
            (Some("3000"), "0.03", "15", "0.06"),
            (Some("4000"), "0.035", "30", "0.07"),
            (None, "0.04", "50", "0.08"),
        ];
        TierTable::from_sorted(
            "XYZUSDT",
            rows.iter().map(|&(c, m, de, i)| Tier::new(c.map(d), d(m), d(de), d(i))).collect(),
        )
    }

    fn model(t: &TierTable, taker: f64, lev: f64) -> MarginModel<'_> {
        MarginModel { tiers: t, hedge: HedgeMargin::Combined, taker, inv_leverage: 1.0 / lev }
    }

    #[test]
    fn maintenance_margin_follows_the_published_tier_example() {
        // 100 contracts at 35 USDT: value 3,500 in tier 4, MM = 3,500 × 3.5 % − 30 = 92.5.
        let t = xyz();
        let m = model(&t, 0.0, 10.0);
        let x = Exposure { base: 1000.0, long: 100.0, long_entry: 35.0, ..Default::default() };
        assert!((m.margins(&x, 35.0).1 - 92.5).abs() < 1e-9);
        // With a 0.055 % taker fee the estimated fee to close (3,500 × 0.00055) is added.
        let m = model(&t, 0.00055, 10.0);
        assert!((m.margins(&x, 35.0).1 - (92.5 + 1.925)).abs() < 1e-9);
        // IM at the price: 3,500 × max(0.07, 1/10) + fee to close.
        assert!((m.margins(&x, 35.0).0 - (350.0 + 1.925)).abs() < 1e-9);
        // At 40 USDT the same position is worth 4,000 (still tier 4): MM 4,000 × 3.5 % − 30.
        assert!((m.margins(&x, 40.0).1 - (110.0 + 2.2)).abs() < 1e-9);
    }

    #[test]
    fn isolated_long_liquidates_with_mm_at_the_mark_price() {
        // Long 1 BTC at 20,000 with 50x (margin 400), MMR 0.5 %, no fee. Bybit's isolated
        // example (docs/model.md) values MM at entry (100): 400 + (p − 20,000) = 100 gives
        // 19,700. Valued at the mark price, MM = 0.005 p, as the unified account does.
        let t =
            TierTable::from_sorted("BTCUSDT", vec![Tier::new(None, d("0.005"), d("0"), d("0.01"))]);
        let m = model(&t, 0.0, 50.0);
        let x = Exposure { base: 400.0, long: 1.0, long_entry: 20_000.0, ..Default::default() };
        let (below, above) = m.liquidation_prices(&x, 20_000.0);
        // equity(p) = 400 + (p − 20,000); MM = 0.005 p → p = 19,600 / 0.995.
        assert!((below - 19_600.0 / 0.995).abs() < 1e-6, "{below}");
        assert_eq!(above, f64::INFINITY);
        // The bankruptcy price without fees is where equity is 0: 19,600.
        assert!((m.bankruptcy_price(&x).unwrap() - 19_600.0).abs() < 1e-9);
    }

    #[test]
    fn bankruptcy_price_leaves_exactly_the_fee() {
        // Long 2 at 100 with base 20 and taker 0.5 %: 20 + 2 (p − 100) − 0.005 · 2 p = 0
        // → p = 180 / 1.99.
        let t = xyz();
        let m = model(&t, 0.005, 10.0);
        let x = Exposure { base: 20.0, long: 2.0, long_entry: 100.0, ..Default::default() };
        let pb = m.bankruptcy_price(&x).unwrap();
        assert!((pb - 180.0 / 1.99).abs() < 1e-9);
        assert!((x.equity(pb) - 0.005 * 2.0 * pb).abs() < 1e-9);
        // Short 2 at 100: 20 + 2 (100 − p) − 0.01 p = 0 → p = 220 / 2.01.
        let x = Exposure { base: 20.0, short: 2.0, short_entry: 100.0, ..Default::default() };
        assert!((m.bankruptcy_price(&x).unwrap() - 220.0 / 2.01).abs() < 1e-9);
    }

    #[test]
    fn crossing_a_tier_boundary_uses_the_new_rate() {
        // Short 100 at 5 (value 500, tier 1) with base 200, no fee: equity = 700 − 100 p.
        // Tier 1 (p ≤ 10): MM = 2 p → root 700 / 102 = 6.86 (inside tier 1).
        let t = xyz();
        let m = model(&t, 0.0, 10.0);
        let x = Exposure { base: 200.0, short: 100.0, short_entry: 5.0, ..Default::default() };
        let (_, above) = m.liquidation_prices(&x, 5.0);
        assert!((above - 700.0 / 102.0).abs() < 1e-9, "{above}");
        // Base 1,500: equity 2,000 − 100 p. Tier 1 would put the root at 19.6 (outside it);
        // tier 2 (10 < p ≤ 20, MM = 2.5 p − 5): 2,005 / 102.5 = 19.56 (value 1,956, tier 2).
        let x = Exposure { base: 1500.0, ..x };
        let (_, above) = m.liquidation_prices(&x, 5.0);
        assert!((above - 2005.0 / 102.5).abs() < 1e-9, "{above}");
        assert_eq!(m.tiers.tier_index(100.0 * above), 1);
    }

    #[test]
    fn hedged_pair_has_a_safe_interval_and_the_rule_is_switchable() {
        // Long 10 at 100, short 5 at 100, base 100, no fee. Combined: MM = 0.02 · 15 p
        // (tier 1 while 15 p ≤ 1,000). Equity = 100 + 5 (p − 100) = 5 p − 400.
        let t = xyz();
        let m = model(&t, 0.0, 10.0);
        let x =
            Exposure { base: 100.0, long: 10.0, long_entry: 100.0, short: 5.0, short_entry: 100.0 };
        // 15 p = 1,500 at 100 (tier 2: 0.025 · 15 p − 5): 5 p − 400 = 0.375 p − 5 → p = 395 / 4.625.
        let (below, _) = m.liquidation_prices(&x, 100.0);
        assert!((below - 395.0 / 4.625).abs() < 1e-9, "{below}");
        // Per leg at 85.4: long 854 (tier 1, 0.02), short 427 (tier 1): MM = 0.3 p, so
        // 5 p − 400 = 0.3 p → p = 400 / 4.7.
        let per_leg = MarginModel { hedge: HedgeMargin::PerLeg, ..m };
        let (below, _) = per_leg.liquidation_prices(&x, 100.0);
        assert!((below - 400.0 / 4.7).abs() < 1e-9, "{below}");
    }

    #[test]
    fn trigger_is_found_on_a_path_segment() {
        let t = xyz();
        let m = model(&t, 0.0, 10.0);
        let x = Exposure { base: 200.0, short: 100.0, short_entry: 5.0, ..Default::default() };
        // Safe at 5 and 6, unsafe at 8: the crossing is 700 / 102.
        assert_eq!(m.trigger_on(&x, 5.0, 6.0, true), None);
        let pt = m.trigger_on(&x, 5.0, 8.0, false).unwrap();
        assert!((pt - 700.0 / 102.0).abs() < 1e-9);
        // Already unsafe where the segment starts: the trigger is the start.
        assert_eq!(m.trigger_on(&x, 7.5, 9.0, true), Some(7.5));
        // Flat accounts never trigger.
        assert_eq!(m.trigger_on(&Exposure::default(), 1.0, 2.0, true), None);
    }
}
