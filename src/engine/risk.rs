//! Risk multipliers (docs/strategy.md, "Risk multipliers") and the pair liquidation estimate (docs/strategy.md, "The pair liquidation estimate").

use super::params::GridParams;
use crate::tiers::TierTable;

/// Order-size multipliers `[direction][side]` (direction 0 = long; side 0 = Buy).
pub type Multipliers = [[f64; 2]; 2];

/// All multipliers 1.
pub const NEUTRAL: Multipliers = [[1.0; 2]; 2];

/// Estimated liquidation prices `(long, short)` of a hedged pair sharing one equity pool.
pub fn pair_liq_prices(
    tiers: &TierTable,
    long: (f64, f64),
    short: (f64, f64),
    equity: f64,
) -> (f64, f64) {
    let (l_size, l_entry) = long;
    let (s_size, s_entry) = short;
    let combined = l_size * l_entry + s_size * s_entry;
    let (mm_total, _) = tiers.maintenance_margin(combined);
    let pool = equity - mm_total;
    if pool <= 0.0 {
        return (l_entry, s_entry);
    }
    let q = l_size - s_size;
    if q > 0.0 {
        let liq = l_entry - pool / q;
        (if liq > 0.0 { liq } else { 0.0 }, 0.0)
    } else if q < 0.0 {
        let liq = s_entry + pool / -q;
        if l_size == 0.0 && liq > 2.0 * s_entry {
            (0.0, 0.0)
        } else {
            (0.0, liq)
        }
    } else {
        (0.0, 0.0)
    }
}

/// Return on equity of a position in percent (`calc_unrealised_pnl_pct`): long
/// `(cur − entry) / entry × 100 × leverage`, short the opposite; 0 when a price is ≤ 0.
pub fn roe_pct(long: bool, entry: f64, cur: f64, leverage: f64) -> f64 {
    if entry <= 0.0 || cur <= 0.0 {
        return 0.0;
    }
    let diff = if long { cur - entry } else { entry - cur };
    diff / entry * 100.0 * leverage
}

/// Liquidation price over the current price (`calc_liq_ratio`), 0 when the price is 0.
pub fn liq_ratio(liq: f64, cur: f64) -> f64 {
    if cur == 0.0 {
        0.0
    } else {
        liq / cur
    }
}

/// One leg's inputs to the risk rules.
#[derive(Clone, Copy, Debug, Default)]
pub struct LegRisk {
    /// Size in base currency.
    pub size: f64,
    /// Average entry (0 when flat).
    pub entry: f64,
    /// Estimated liquidation price (0 when none).
    pub liq: f64,
    /// Position value at entry / wallet (a ratio).
    pub margin: f64,
}

/// Margin ratios `size × entry / wallet` of both legs.
///
/// # Errors
/// The origin's `ValueError` text when the wallet is ≤ 0 with a position open.
pub fn margin_ratios(
    wallet: f64,
    long: (f64, f64),
    short: (f64, f64),
) -> Result<(f64, f64), String> {
    let (l_size, l_entry) = long;
    let (s_size, s_entry) = short;
    if wallet <= 0.0 {
        if l_size > 0.0 || s_size > 0.0 {
            return Err(format!(
                "wallet_balance is zero with an open position (wallet {wallet}, long {l_size}, short {s_size})"
            ));
        }
        return Ok((0.0, 0.0));
    }
    Ok((l_size * l_entry / wallet, s_size * s_entry / wallet))
}

/// Recomputes the multipliers after a fill (`last` = tick price, `leverage` for the ROE term).
pub fn multipliers(
    p: &GridParams,
    long: &LegRisk,
    short: &LegRisk,
    last: f64,
    leverage: f64,
) -> Multipliers {
    let mut m = NEUTRAL;
    let ratio = long.margin / if short.margin == 0.0 { 0.0001 } else { short.margin };
    let total_margin = long.margin + short.margin;
    let equal = 0.94 < ratio && ratio < 1.05;
    const BUY: usize = 0;
    const SELL: usize = 1;
    const LONG: usize = 0;
    const SHORT: usize = 1;
    if long.size > 0.0 && long.entry != 0.0 {
        let upnl_pct = roe_pct(true, long.entry, last, leverage);
        let lr = liq_ratio(long.liq, last);
        if lr > 1.05 * p.min_liq_ratio {
            m[LONG][SELL] = 1.5;
        } else if lr > p.min_liq_ratio {
            m[SHORT][BUY] = 0.5;
        } else if equal && total_margin < p.min_total_margin {
            if p.increase_same_position_on_low_margin {
                m[LONG][BUY] = 2.0;
            } else {
                m[LONG][SELL] = 0.5;
            }
        } else if (ratio < 0.5 && upnl_pct < 0.0) || ratio < 0.20 {
            m[LONG][BUY] = 2.0;
        }
    }
    if short.size > 0.0 && short.entry != 0.0 {
        let upnl_pct = roe_pct(false, short.entry, last, leverage);
        let lr = liq_ratio(short.liq, last);
        if 0.0 < lr && lr < 0.95 * p.max_liq_ratio {
            m[SHORT][BUY] = 1.5;
        } else if 0.0 < lr && lr < p.max_liq_ratio {
            m[LONG][SELL] = 0.5;
        } else if equal && total_margin < p.min_total_margin {
            if p.increase_same_position_on_low_margin {
                m[SHORT][SELL] = 2.0;
            } else {
                m[SHORT][BUY] = 0.5;
            }
        } else if (ratio > 2.0 && upnl_pct < 0.0) || ratio > 5.0 {
            m[SHORT][SELL] = 2.0;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiers::builtin::builtin_tiers;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    /// The pair liquidation estimate (docs/strategy.md): the origin computed these with its repository's tier file
    /// (`conf/risk_limits_cache.json`, 35 BTCUSDT tiers), read here from the real file.
    #[test]
    fn pair_liquidation_table() {
        let cache: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/tiers_data/risk_limit_tiers_BTCUSDT_LTCUSDT_cache_erzhan12_2026.json"
        ))
        .unwrap();
        let t = crate::tiers::cache_format::table_from_dict("BTCUSDT", &cache["BTCUSDT"]["tiers"])
            .unwrap();
        assert_eq!(t.tiers().len(), 35);
        let cases = [
            ((0.1, 100000.0), (0.0, 0.0), 10000.0, 500.0, 0.0),
            ((0.0, 0.0), (0.1, 100000.0), 10000.0, 0.0, 199500.0),
            ((0.0, 0.0), (0.15, 100000.0), 10000.0, 0.0, 166166.66666666666),
            ((0.3, 100000.0), (0.1, 101000.0), 10000.0, 51002.5, 0.0),
            ((0.1, 100000.0), (0.3, 101000.0), 10000.0, 0.0, 149992.5),
            ((0.2, 100000.0), (0.2, 101000.0), 10000.0, 0.0, 0.0),
            ((50.0, 100000.0), (0.0, 0.0), 600000.0, 88600.8, 0.0),
            ((0.1, 100000.0), (0.0, 0.0), 40.0, 100000.0, 0.0),
        ];
        for (l, s, eq, want_l, want_s) in cases {
            let (a, b) = pair_liq_prices(&t, l, s, eq);
            assert!(close(a, want_l) && close(b, want_s), "{l:?} {s:?} {eq}: {a} {b}");
        }
        // With the built-in table the 50-BTC case falls in tier 2 (mmr 0.01, deduction 10000).
        let (a, _) =
            pair_liq_prices(&builtin_tiers("BTCUSDT"), (50.0, 100000.0), (0.0, 0.0), 600000.0);
        assert!(close(a, 100000.0 - (600000.0 - 40000.0) / 50.0));
    }

    #[test]
    fn origin_multiplier_vectors() {
        // gridcore tests/test_position.py (RiskConfig 0.8/1.2/5.0/1.0).
        let p = GridParams {
            min_liq_ratio: 0.8,
            max_liq_ratio: 1.2,
            min_total_margin: 5.0,
            ..Default::default()
        };
        let leg = |size, entry, liq, margin| LegRisk { size, entry, liq, margin };
        let m = multipliers(
            &p,
            &leg(2.5, 3300.0, 2635.0, 0.39),
            &leg(4.62, 3102.0, 0.0, 0.71),
            3100.0,
            10.0,
        );
        assert_eq!(m[0], [1.0, 1.5]);
        let m = multipliers(
            &p,
            &leg(2.5, 3200.0, 2511.0, 0.45),
            &leg(1.8, 3102.0, 0.0, 0.28),
            3100.0,
            10.0,
        );
        assert_eq!(m[0], [1.0, 1.0]);
        assert_eq!(m[1], [0.5, 1.0]);
        let m = multipliers(
            &p,
            &leg(0.5, 100000.0, 70000.0, 0.4),
            &leg(1.0, 100000.0, 0.0, 2.0),
            95000.0,
            10.0,
        );
        assert_eq!(m[0][0], 2.0);
    }

    #[test]
    fn pnl_helper_vectors() {
        // The origin's PnL-helper vectors (docs/strategy.md, "Risk multipliers").
        assert_eq!(roe_pct(true, 50000.0, 50500.0, 10.0), 10.0);
        assert_eq!(roe_pct(true, 100.0, 102.0, 1.0), 2.0);
        assert_eq!(roe_pct(false, 100.0, 98.0, 1.0), 2.0);
        assert_eq!(roe_pct(true, 0.0, 102.0, 1.0), 0.0);
        assert_eq!(liq_ratio(45000.0, 50000.0), 0.9);
        assert_eq!(liq_ratio(55000.0, 50000.0), 1.1);
        assert_eq!(liq_ratio(1.0, 0.0), 0.0);
        assert!(close(
            margin_ratios(10000.0, (0.1, 52.81), (0.0, 0.0)).unwrap().0,
            5.281 / 10000.0
        ));
        assert_eq!(margin_ratios(10000.0, (0.1, 50000.0), (0.0, 0.0)).unwrap().0, 0.5);
    }

    #[test]
    fn zero_wallet_with_position_is_an_error() {
        assert!(margin_ratios(0.0, (1.0, 100.0), (0.0, 0.0))
            .unwrap_err()
            .contains("wallet_balance is zero"));
        assert_eq!(margin_ratios(0.0, (0.0, 0.0), (0.0, 0.0)), Ok((0.0, 0.0)));
        assert_eq!(margin_ratios(100.0, (1.0, 50.0), (2.0, 25.0)), Ok((0.5, 0.5)));
    }
}
