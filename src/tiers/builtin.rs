//! The three built-in tier tables of the origin (`gridcore/pnl.py`, verified 2026-02-27).

use super::{Tier, TierTable};
use crate::decimal::Dec;

type Row = (Option<&'static str>, &'static str, &'static str, &'static str);

const BTCUSDT: &[Row] = &[
    (Some("2000000"), "0.005", "0", "0.01"),
    (Some("10000000"), "0.01", "10000", "0.02"),
    (Some("20000000"), "0.025", "160000", "0.05"),
    (Some("40000000"), "0.05", "660000", "0.1"),
    (Some("80000000"), "0.1", "2660000", "0.2"),
    (Some("160000000"), "0.125", "4660000", "0.25"),
    (None, "0.15", "8660000", "0.3"),
];

const ETHUSDT: &[Row] = &[
    (Some("1000000"), "0.005", "0", "0.01"),
    (Some("5000000"), "0.01", "5000", "0.02"),
    (Some("10000000"), "0.025", "80000", "0.05"),
    (Some("20000000"), "0.05", "330000", "0.1"),
    (Some("40000000"), "0.1", "1330000", "0.2"),
    (Some("80000000"), "0.125", "2330000", "0.25"),
    (None, "0.15", "4330000", "0.3"),
];

const DEFAULT: &[Row] = &[
    (Some("1000000"), "0.01", "0", "0.02"),
    (Some("5000000"), "0.025", "15000", "0.05"),
    (Some("10000000"), "0.05", "140000", "0.1"),
    (Some("20000000"), "0.1", "640000", "0.2"),
    (None, "0.15", "1640000", "0.3"),
];

fn table(symbol: &str, rows: &[Row]) -> TierTable {
    let p = |s: &str| Dec::parse(s).expect("built-in tier literal");
    let tiers =
        rows.iter().map(|&(cap, mmr, ded, imr)| Tier::new(cap.map(p), p(mmr), p(ded), p(imr)));
    TierTable::from_sorted(symbol, tiers.collect())
}

/// True when the symbol has a table of its own (BTCUSDT, ETHUSDT); others use DEFAULT.
pub fn has_own_table(symbol: &str) -> bool {
    matches!(symbol, "BTCUSDT" | "ETHUSDT")
}

/// The built-in table for `symbol` (BTCUSDT, ETHUSDT, or DEFAULT for every other symbol).
pub fn builtin_tiers(symbol: &str) -> TierTable {
    match symbol {
        "BTCUSDT" => table(symbol, BTCUSDT),
        "ETHUSDT" => table(symbol, ETHUSDT),
        _ => table(symbol, DEFAULT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn btc_mm_vectors_from_origin_tests() {
        // docs/tiers.md, "Lookup": the origin's MM vectors.
        let t = builtin_tiers("BTCUSDT");
        assert_eq!(t.maintenance_margin(1_000_000.0), (5000.0, 0.005));
        assert_eq!(t.maintenance_margin(5_000_000.0), (40000.0, 0.01));
        assert_eq!(t.maintenance_margin(2_000_000.0), (10000.0, 0.005));
        let (mm, mmr) = t.maintenance_margin(2_000_001.0);
        assert!(close(mm, 10000.01) && mmr == 0.01);
    }

    #[test]
    fn eth_and_default_vectors() {
        // docs/tiers.md, "Lookup": ETHUSDT and DEFAULT.
        assert_eq!(builtin_tiers("ETHUSDT").maintenance_margin(500_000.0), (2500.0, 0.005));
        assert_eq!(builtin_tiers("ETHUSDT").maintenance_margin(3_000_000.0), (25000.0, 0.01));
        assert_eq!(builtin_tiers("XYZUSDT").maintenance_margin(500_000.0), (5000.0, 0.01));
    }

    #[test]
    fn hardcoded_btc_mm_and_im_vectors() {
        // docs/tiers.md, "Lookup": MM and IM together (from running the origin).
        let t = builtin_tiers("BTCUSDT");
        let cases = [
            (5000.0, 25.0, 0.005, 50.0, 0.01),
            (2_000_001.0, 10000.01, 0.01, 40000.02, 0.02),
            (10_000_000.0, 90000.0, 0.01, 200000.0, 0.02),
            (150_000_000.0, 14_090_000.0, 0.125, 37_500_000.0, 0.25),
            (200_000_000.0, 21_340_000.0, 0.15, 60_000_000.0, 0.3),
        ];
        for (pv, mm, mmr, im, imr) in cases {
            let (a, b) = t.maintenance_margin(pv);
            assert!(close(a, mm) && b == mmr, "MM at {pv}: {a} {b}");
            let (c, d) = t.initial_margin(pv);
            assert!(close(c, im) && d == imr, "IM at {pv}: {c} {d}");
        }
        let d = builtin_tiers("LTCUSDT");
        let (mm, mmr) = d.maintenance_margin(1_000_001.0);
        assert!(close(mm, 10000.025) && mmr == 0.025);
        let (im, imr) = d.initial_margin(1_000_001.0);
        assert!(close(im, 50000.05) && imr == 0.05);
    }

    #[test]
    fn im_for_5000_at_btc_is_50() {
        // docs/tiers.md, "Lookup": calc_initial_margin(5000, 10) with BTCUSDT gives (50, 0.01); DEFAULT (100, 0.02).
        assert_eq!(builtin_tiers("BTCUSDT").initial_margin(5000.0), (50.0, 0.01));
        assert_eq!(builtin_tiers("").initial_margin(5000.0), (100.0, 0.02));
    }
}
