//! Bybit risk-limit tiers: the tier table, margin lookups and the built-in tables.
//!
//! A [`TierTable`] is built once (from the API, the cache file or the built-in tables),
//! frozen into an `Arc` and shared read-only by every run. Lookups are pure and
//! allocation-free: the hot loop reads flat `f64` columns.

/// The origin's three built-in tables (BTCUSDT, ETHUSDT, DEFAULT).
pub mod builtin;
/// The on-disk cache: lock-free reads, locked atomic read-modify-write.
pub mod cache;
/// The JSON cache format (`tiers_to_dict` / `tiers_from_dict`).
pub mod cache_format;
/// Cache path, allowed root, TTL and size limit (with its environment override).
pub mod config;
/// [`TierError`], with the origin's messages.
pub mod error;
/// [`note::Note`]: messages logged and handed back to the caller.
pub mod note;
/// Validating parser of Bybit's `result.list`.
pub mod parse;
/// The layered provider: fresh cache → API → stale cache → built-in.
pub mod provider;
/// Numbers as Python's `Decimal` reads them.
pub mod pynum;
/// Blocking Bybit REST client for `/v5/market/risk-limit` (feature `net`).
#[cfg(feature = "net")]
pub mod rest;
/// Without the `net` feature: no Bybit client exists, so a provider never calls the API.
#[cfg(not(feature = "net"))]
pub mod rest {
    use super::{Tier, TierError};

    /// Stands in for the REST client when the `net` feature is off; it has no values, so
    /// `Option<BybitClient>` is always `None`.
    #[derive(Clone, Debug)]
    pub enum BybitClient {}

    impl BybitClient {
        /// Never called: there is no `BybitClient` value without the `net` feature.
        pub fn get_risk_limit(&self, _symbol: &str) -> Result<Vec<Tier>, TierError> {
            match *self {}
        }
    }
}
/// Symlink-safe opens, lock file, permission and identity checks.
pub mod secure_fs;
/// Dated snapshots of real Bybit tables, the default source.
pub mod snapshot;
/// [`source::TierSource`] and [`source::resolve_for_run`] for sweeps and backtests.
pub mod source;
/// `cached_at` timestamps (Python `isoformat()`).
pub mod timestamp;

pub use error::TierError;
pub use provider::{Resolved, RiskLimitProvider, TierLayer};
pub use source::{resolve_for_run, TierSource};

use std::sync::Arc;

use crate::decimal::Dec;

/// A tier's position-value cap: a finite decimal or unbounded (`Infinity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// Positions up to and including this value (quote currency) fall in the tier.
    Value(Dec),
    /// The last tier: no upper bound.
    Infinity,
}

impl Cap {
    /// The cap as `f64` (`+∞` for [`Cap::Infinity`]).
    pub fn to_f64(self) -> f64 {
        match self {
            Cap::Value(d) => d.to_f64(),
            Cap::Infinity => f64::INFINITY,
        }
    }
}

impl std::fmt::Display for Cap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cap::Value(d) => d.fmt(f),
            Cap::Infinity => f.write_str("Infinity"),
        }
    }
}

/// One risk-limit tier `(cap, mmr, deduction, imr)` plus Bybit's `maxLeverage` when known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tier {
    /// Position-value cap of the tier (the boundary belongs to this, the lower, tier).
    pub cap: Cap,
    /// Maintenance margin rate, a fraction in [0, 1].
    pub mmr: Dec,
    /// Maintenance margin deduction in quote currency (≥ 0).
    pub deduction: Dec,
    /// Initial margin rate, a fraction in [0, 1] (0 when unknown, as in v1 cache files).
    pub imr: Dec,
    /// Bybit's `maxLeverage` for the tier, when the source carried it.
    pub max_leverage: Option<Dec>,
}

impl Tier {
    /// Builds a tier from its four decimals; `cap = None` means `Infinity`.
    pub fn new(cap: Option<Dec>, mmr: Dec, deduction: Dec, imr: Dec) -> Tier {
        Tier { cap: cap.map_or(Cap::Infinity, Cap::Value), mmr, deduction, imr, max_leverage: None }
    }
}

/// A symbol's tier table, sorted by cap, last cap `Infinity`, with flat `f64` columns.
#[derive(Clone, Debug, PartialEq)]
pub struct TierTable {
    symbol: String,
    tiers: Vec<Tier>,
    caps: Vec<f64>,
    mmrs: Vec<f64>,
    deductions: Vec<f64>,
    imrs: Vec<f64>,
}

/// A tier table shared read-only by every run of a sweep.
pub type SharedTiers = Arc<TierTable>;

impl TierTable {
    /// Builds a table from tiers already validated and sorted ascending by cap.
    ///
    /// The caller guarantees the order; [`crate::tiers`] parsers enforce it.
    pub fn from_sorted(symbol: &str, tiers: Vec<Tier>) -> TierTable {
        let caps = tiers.iter().map(|t| t.cap.to_f64()).collect();
        let mmrs = tiers.iter().map(|t| t.mmr.to_f64()).collect();
        let deductions = tiers.iter().map(|t| t.deduction.to_f64()).collect();
        let imrs = tiers.iter().map(|t| t.imr.to_f64()).collect();
        TierTable { symbol: symbol.to_string(), tiers, caps, mmrs, deductions, imrs }
    }

    /// The symbol this table belongs to.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// The tiers, ascending by cap.
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// Index of the first tier whose cap is ≥ `pv` (the boundary belongs to the lower
    /// tier); the last tier when `pv` exceeds every cap.
    #[inline]
    pub fn tier_index(&self, pv: f64) -> usize {
        let n = self.caps.len();
        let mut i = 0;
        while i + 1 < n && self.caps[i] < pv {
            i += 1;
        }
        i
    }

    /// Maintenance margin `(max(pv·mmr − deduction, 0), mmr)`; `(0, 0)` for `pv ≤ 0`.
    #[inline]
    pub fn maintenance_margin(&self, pv: f64) -> (f64, f64) {
        if pv <= 0.0 || self.caps.is_empty() {
            return (0.0, 0.0);
        }
        let i = self.tier_index(pv);
        let mm = pv * self.mmrs[i] - self.deductions[i];
        (if mm > 0.0 { mm } else { 0.0 }, self.mmrs[i])
    }

    /// Initial margin `(pv·imr, imr)` from the tier table (an imr of 0 gives 0, as in the
    /// origin); `(0, 0)` for `pv ≤ 0`.
    #[inline]
    pub fn initial_margin(&self, pv: f64) -> (f64, f64) {
        if pv <= 0.0 || self.caps.is_empty() {
            return (0.0, 0.0);
        }
        let i = self.tier_index(pv);
        (pv * self.imrs[i], self.imrs[i])
    }

    /// Initial margin rate of the tier that holds `pv` (0 for an empty table).
    #[inline]
    pub fn imr_at(&self, pv: f64) -> f64 {
        if self.caps.is_empty() {
            return 0.0;
        }
        self.imrs[self.tier_index(pv)]
    }

    /// Maintenance margin of `pv` computed with tier `i` (as [`Self::maintenance_margin`]
    /// when `i` is `pv`'s tier): `max(pv·mmr_i − deduction_i, 0)`, 0 for `pv ≤ 0`.
    #[inline]
    pub fn mm_in_tier(&self, pv: f64, i: usize) -> f64 {
        if pv <= 0.0 {
            return 0.0;
        }
        let mm = pv * self.mmrs[i] - self.deductions[i];
        if mm > 0.0 {
            mm
        } else {
            0.0
        }
    }

    /// Initial margin rate of tier `i`.
    #[inline]
    pub fn imr_of_tier(&self, i: usize) -> f64 {
        self.imrs[i]
    }

    /// `(mmr, deduction)` of tier `i`.
    #[inline]
    pub fn mm_terms(&self, i: usize) -> (f64, f64) {
        (self.mmrs[i], self.deductions[i])
    }

    /// Position values `(lo, hi]` that fall in tier `i` (`lo` = 0 for the first tier,
    /// `hi` = +∞ for the last).
    #[inline]
    pub fn tier_range(&self, i: usize) -> (f64, f64) {
        let lo = if i == 0 { 0.0 } else { self.caps[i - 1] };
        let hi = if i + 1 >= self.caps.len() { f64::INFINITY } else { self.caps[i] };
        (lo, hi)
    }

    /// Number of tiers.
    #[inline]
    pub fn len(&self) -> usize {
        self.caps.len()
    }

    /// True when the table has no tier.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty()
    }

    /// Highest leverage the table allows: the first tier's `maxLeverage`, else `1/imr`
    /// of the first tier, else 100.
    pub fn max_leverage(&self) -> f64 {
        match self.tiers.first() {
            Some(Tier { max_leverage: Some(l), .. }) => l.to_f64(),
            Some(t) if !t.imr.is_zero() => (1.0 / t.imr.to_f64()).round(),
            _ => 100.0,
        }
    }

    /// Freezes the table for sharing between runs.
    pub fn into_shared(self) -> SharedTiers {
        Arc::new(self)
    }
}

#[cfg(test)]
mod lookup_tests {
    use super::*;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    fn table(rows: &[(Option<&str>, &str, &str, &str)]) -> TierTable {
        let tiers = rows.iter().map(|&(c, m, de, i)| Tier::new(c.map(d), d(m), d(de), d(i)));
        TierTable::from_sorted("TEST", tiers.collect())
    }

    #[test]
    fn custom_tier_vectors_from_origin_tests() {
        // docs/tiers.md, "Lookup": the custom-tier vectors.
        let t = table(&[
            (Some("200000"), "0.01", "0", "0.02"),
            (Some("1000000"), "0.025", "3000", "0.05"),
            (None, "0.05", "28000", "0.1"),
        ]);
        assert_eq!(t.maintenance_margin(100_000.0), (1000.0, 0.01));
        assert_eq!(t.maintenance_margin(500_000.0), (9500.0, 0.025));
        assert_eq!(t.tier_index(200_000.0), 0);
        assert_eq!(t.tier_index(200_001.0), 1);
        assert_eq!(t.tier_index(1_000_000.0), 1);
        assert_eq!(t.tier_index(1_000_001.0), 2);
        // docs/tiers.md, "Lookup": explicit tiers give (pv·imr, imr); the boundary stays in the lower tier.
        let t = table(&[(Some("100000"), "0.005", "0", "0.02"), (None, "0.01", "500", "0.05")]);
        assert_eq!(t.initial_margin(50_000.0), (1000.0, 0.02));
        assert_eq!(t.initial_margin(200_000.0), (10_000.0, 0.05));
        assert_eq!(t.initial_margin(0.0), (0.0, 0.0));
        // A v1 cache table (imr 0) gives IM 0 — no fallback to leverage (docs/tiers.md, "Lookup").
        let v1 = table(&[(Some("2000000"), "0.005", "0", "0"), (None, "0.01", "10000", "0")]);
        assert_eq!(v1.initial_margin(5000.0), (0.0, 0.0));
        assert_eq!(v1.maintenance_margin(5000.0), (25.0, 0.005));
    }

    #[test]
    fn max_leverage_comes_from_the_first_tier() {
        let mut t =
            table(&[(Some("300000"), "0.0033", "0", "0.0066"), (None, "0.005", "510", "0.01")]);
        assert_eq!(t.max_leverage(), 152.0); // 1 / 0.0066 rounded, when Bybit's maxLeverage is absent
        t.tiers[0].max_leverage = Some(d("150.00"));
        assert_eq!(t.max_leverage(), 150.0);
        assert_eq!(builtin::builtin_tiers("BTCUSDT").max_leverage(), 100.0);
        assert_eq!(builtin::builtin_tiers("LTCUSDT").max_leverage(), 50.0);
    }
}
