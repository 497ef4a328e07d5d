//! The JSON cache format (docs/tiers.md, "Cache file format"; the origin's
//! `tier_serialization`).
//!
//! A tier is `{"max_value": "2000000", "mmr_rate": "0.005", "deduction": "0",
//! "imr_rate": "0.01"}`, every value a string keeping its scale, the last `max_value`
//! the string `"Infinity"`. `imr_rate` is optional on read (v1 files) and defaults to 0.
//! gridsweep also writes `"max_leverage"` when Bybit sent it; the origin ignores extra
//! keys. Reading is stricter than the origin: values must be valid rates/caps and the
//! caps must increase and end with `Infinity`, because a hand-edited cache must not make
//! the lookup silently wrong.

use serde_json::{json, Map, Value};

use super::error::TierError;
use super::parse::{check_table, max_leverage_field};
use super::pynum::PyNum;
use super::{Cap, Tier, TierTable};
use crate::decimal::Dec;

const REQUIRED_KEYS: [&str; 3] = ["max_value", "mmr_rate", "deduction"];

/// Serialises tiers as the cache's list of string dicts (`tiers_to_dict`).
pub fn tiers_to_dict(tiers: &[Tier]) -> Value {
    Value::Array(
        tiers
            .iter()
            .map(|t| {
                let mut m = Map::new();
                m.insert("max_value".into(), Value::String(t.cap.to_string()));
                m.insert("mmr_rate".into(), Value::String(t.mmr.to_string()));
                m.insert("deduction".into(), Value::String(t.deduction.to_string()));
                m.insert("imr_rate".into(), Value::String(t.imr.to_string()));
                if let Some(l) = t.max_leverage {
                    m.insert("max_leverage".into(), Value::String(l.to_string()));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// Reads the cache's list of tier dicts (`tiers_from_dict`), validated and ordered.
///
/// # Errors
/// "Missing required tier keys: {...}" for a tier without `max_value`, `mmr_rate` or
/// `deduction`; [`TierError::BadCacheTier`] / [`TierError::BadCacheOrder`] for values that
/// are not valid caps, rates or deductions, or caps that do not increase to `Infinity`.
pub fn tiers_from_dict(tier_dicts: &Value) -> Result<Vec<Tier>, TierError> {
    let items = tier_dicts.as_array().ok_or_else(|| TierError::BadCacheTier {
        index: 0,
        reason: "tiers must be a JSON array".into(),
    })?;
    let tiers = items
        .iter()
        .enumerate()
        .map(|(i, v)| tier_from_dict(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    check_order(&tiers)?;
    let mut tiers = tiers;
    for w in check_table(&mut tiers)? {
        log::warn!(target: "gridsweep::tiers", "{w}");
    }
    Ok(tiers)
}

/// Reads a cache-format tier list into a [`TierTable`] for `symbol`.
///
/// # Errors
/// As [`tiers_from_dict`], plus [`TierError::BadCacheOrder`] for an empty list.
pub fn table_from_dict(symbol: &str, tier_dicts: &Value) -> Result<TierTable, TierError> {
    let tiers = tiers_from_dict(tier_dicts)?;
    if tiers.is_empty() {
        return Err(TierError::BadCacheOrder("the tier list is empty".into()));
    }
    Ok(TierTable::from_sorted(symbol, tiers))
}

/// A table as JSON for result metadata: `{"symbol": …, "tiers": [cache-format tiers]}`.
///
/// [`super::source::TierSource::ExplicitJson`] reads this shape back.
pub fn tiers_to_json(table: &TierTable) -> Value {
    json!({ "symbol": table.symbol(), "tiers": tiers_to_dict(table.tiers()) })
}

/// A cache entry `{"tiers": [...], "cached_at": "..."}`.
pub fn cache_entry(tiers: &[Tier], cached_at: &str) -> Value {
    json!({ "tiers": tiers_to_dict(tiers), "cached_at": cached_at })
}

fn tier_from_dict(index: usize, v: &Value) -> Result<Tier, TierError> {
    let bad = |reason: String| TierError::BadCacheTier { index, reason };
    let o = v.as_object().ok_or_else(|| bad("not a JSON object".into()))?;
    let missing: Vec<&'static str> =
        REQUIRED_KEYS.iter().copied().filter(|k| !o.contains_key(*k)).collect();
    if !missing.is_empty() {
        return Err(TierError::MissingTierKeys(missing));
    }
    let num = |key: &str| -> Result<PyNum, TierError> {
        match PyNum::from_json(&o[key]) {
            Ok(Some(n)) => Ok(n),
            Ok(None) => Err(bad(format!("{key} is null"))),
            Err(raw) => Err(bad(format!("{key} is not a decimal: {raw}"))),
        }
    };
    let cap = match num("max_value")? {
        PyNum::Inf { neg: false } => Cap::Infinity,
        PyNum::Finite(d) if d > Dec::ZERO => Cap::Value(d),
        other => return Err(bad(format!("max_value must be positive, got {other}"))),
    };
    let rate =
        |key: &str, n: PyNum, err: fn(String) -> TierError| match (n.in_unit_range(), n.finite()) {
            (Some(true), Some(d)) => Ok(d),
            _ => Err(bad(format!("{key}: {}", err(n.to_string())))),
        };
    let mmr = rate("mmr_rate", num("mmr_rate")?, TierError::MmrOutOfRange)?;
    let deduction = match num("deduction")? {
        PyNum::Finite(d) if !d.is_negative() => d,
        other => return Err(bad(format!("deduction must be a non-negative number, got {other}"))),
    };
    let imr = match o.get("imr_rate") {
        None => Dec::ZERO,
        Some(_) => rate("imr_rate", num("imr_rate")?, TierError::ImrOutOfRange)?,
    };
    let max_leverage = max_leverage_field(o.get("max_leverage"), index, cap)?;
    Ok(Tier { cap, mmr, deduction, imr, max_leverage })
}

fn check_order(tiers: &[Tier]) -> Result<(), TierError> {
    for (i, w) in tiers.windows(2).enumerate() {
        match (w[0].cap, w[1].cap) {
            (Cap::Infinity, _) => {
                return Err(TierError::BadCacheOrder(format!(
                    "tier {i} has max_value Infinity but is not the last tier"
                )))
            }
            (Cap::Value(a), Cap::Value(b)) if b <= a => {
                return Err(TierError::BadCacheOrder(format!(
                    "max_value {b} of tier {} does not exceed {a} of tier {i}",
                    i + 1
                )))
            }
            _ => {}
        }
    }
    match tiers.last() {
        Some(Tier { cap: Cap::Value(v), .. }) => Err(TierError::BadCacheOrder(format!(
            "the last tier's max_value must be \"Infinity\", got {v}"
        ))),
        _ => Ok(()),
    }
}
