//! Dated snapshots of real Bybit risk-limit tables, shipped in the binary: the default tier
//! source (`tiers = "builtin"`). See docs/tiers.md for where each came from.
//!
//! | symbol | tiers | fetched | IMR |
//! |---|---|---|---|
//! | BTCUSDT | 35 | 2026-02-26 (`/v5/market/risk-limit`, cached) | not stored: IM = value / leverage, ≤ 100x |
//! | LTCUSDT | 30 | 2026-05-18 (`/v5/market/risk-limit`, cached) | stored |
//!
//! Every other symbol falls back to the origin's tables: its own for ETHUSDT (the origin's
//! hard-coded copy, older than the snapshots) and the generic DEFAULT table for the rest,
//! which the run reports loudly (`tier_layer = "generic_default"`).

use super::builtin::{builtin_tiers, has_own_table};
use super::cache_format::table_from_dict;
use super::provider::TierLayer;
use super::TierTable;

/// The snapshot file: a tier cache (`{SYMBOL: {"tiers": [...], "cached_at": ...}}`) of tables
/// fetched from Bybit's public API.
const SNAPSHOT_JSON: &str = include_str!("snapshots/bybit_BTCUSDT_LTCUSDT_2026.json");

/// The shipped snapshot for `symbol` and the date it was fetched, if there is one.
pub fn snapshot_tiers(symbol: &str) -> Option<(TierTable, String)> {
    let v: serde_json::Value = serde_json::from_str(SNAPSHOT_JSON).ok()?;
    let entry = v.get(symbol)?;
    let table = table_from_dict(symbol, entry.get("tiers")?).ok()?;
    let date = entry.get("cached_at").and_then(|d| d.as_str()).unwrap_or("").get(..10)?;
    Some((table, date.to_string()))
}

/// Symbols with a shipped snapshot.
pub const SNAPSHOT_SYMBOLS: &[&str] = &["BTCUSDT", "LTCUSDT"];

/// The default table for `symbol`: the snapshot, else the origin's table (ETHUSDT) or the
/// generic DEFAULT table, with the layer that says which and a warning for the fallbacks.
pub fn default_tiers(symbol: &str) -> (TierTable, TierLayer, Option<String>) {
    if let Some((table, _date)) = snapshot_tiers(symbol) {
        return (table, TierLayer::Snapshot, None);
    }
    if has_own_table(symbol) {
        let warn = format!(
            "{symbol}: no shipped Bybit snapshot; using the origin's hard-coded {symbol} table \
             (older than Bybit's current one). Fetch the real table with \
             `gridsweep tiers refresh {symbol}` and pass `tiers = {{ cache = \"conf/risk_limits_cache.json\" }}`."
        );
        return (builtin_tiers(symbol), TierLayer::Origin, Some(warn));
    }
    let warn = format!(
        "{symbol}: no real tier table; using the origin's GENERIC DEFAULT table (50x up to \
         1,000,000 USDT), which is not {symbol}'s. Liquidations and rejections may be wrong. \
         Fetch the real table with `gridsweep tiers refresh {symbol}` and pass \
         `tiers = {{ cache = \"conf/risk_limits_cache.json\" }}`."
    );
    (builtin_tiers(symbol), TierLayer::GenericDefault, Some(warn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ltcusdt_snapshot_is_the_real_table() {
        // The cached API table (docs/tiers.md, "Shipped snapshots"): tier 1 is 200,000 USDT at MMR 1 %, IMR 2 %
        // (50x), where the generic DEFAULT table allows 50x up to 1,000,000.
        let (t, date) = snapshot_tiers("LTCUSDT").unwrap();
        assert_eq!(date, "2026-05-18");
        assert_eq!(t.tiers().len(), 30);
        assert_eq!(t.tier_range(0), (0.0, 200_000.0));
        assert_eq!(t.maintenance_margin(100_000.0), (1000.0, 0.01));
        assert_eq!(t.imr_at(100_000.0), 0.02);
        assert_eq!(t.max_leverage(), 50.0);
        // 300,000 falls in tier 2: 300,000 × 1.5 % − 1,000 = 3,500.
        assert_eq!(t.maintenance_margin(300_000.0), (3500.0, 0.015));
        let generic = builtin_tiers("LTCUSDT");
        assert_eq!(generic.maintenance_margin(300_000.0), (3000.0, 0.01));
    }

    #[test]
    fn btcusdt_snapshot_has_35_tiers_and_no_stored_imr() {
        let (t, date) = snapshot_tiers("BTCUSDT").unwrap();
        assert_eq!(date, "2026-02-26");
        assert_eq!(t.tiers().len(), 35);
        // 2.6M → 0.56 % with deduction 1,200: MM(2,500,000) = 14,000 − 1,200.
        assert_eq!(t.maintenance_margin(2_500_000.0), (12_800.0, 0.0056));
        assert_eq!(t.imr_at(1000.0), 0.0);
        assert_eq!(t.max_leverage(), 100.0);
        for s in SNAPSHOT_SYMBOLS {
            assert_eq!(default_tiers(s).1, TierLayer::Snapshot);
        }
    }

    #[test]
    fn other_symbols_fall_back_loudly() {
        let (_, layer, warn) = default_tiers("FILUSDT");
        assert_eq!(layer, TierLayer::GenericDefault);
        let w = warn.unwrap();
        assert!(w.contains("GENERIC DEFAULT") && w.contains("gridsweep tiers refresh FILUSDT"));
        let (_, layer, warn) = default_tiers("ETHUSDT");
        assert_eq!(layer, TierLayer::Origin);
        assert!(warn.is_some());
    }
}
