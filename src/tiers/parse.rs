//! Validating parser for Bybit's `/v5/market/risk-limit` `result.list`
//! (docs/tiers.md, "Parsing Bybit's tiers").
//!
//! The checks run in the origin's order and fail with its messages:
//! 1. list / non-empty / objects;
//! 2. parse every `riskLimitValue` and sort stably by it, only when out of order;
//! 3. reject duplicate boundaries (two `Infinity` caps are accepted);
//! 4. per tier, in field order: cap, `maintenanceMargin`, `mmDeduction`, `initialMargin`;
//! 5. replace the last cap by `Infinity`.
//!
//! Deviations, all on inputs Bybit does not send: a JSON float is read as the shortest
//! decimal that round-trips (the origin keeps its full binary expansion, the same `f64`);
//! a NaN among several caps fails with "Invalid riskLimitValue: NaN" (the origin raises a
//! bare `decimal.InvalidOperation`); an infinite `mmDeduction` and a NaN rate are rejected
//! (the origin accepts or raises `InvalidOperation`).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::error::TierError;
use super::pynum::PyNum;
use super::{Cap, Tier, TierTable};
use crate::decimal::Dec;

/// Parses and validates a Bybit tier list into tiers sorted by cap, last cap `Infinity`.
///
/// # Errors
/// Returns the first parsing rule (docs/tiers.md) the input breaks, with the origin's message.
pub fn parse_risk_limit_tiers(api_tiers: &Value) -> Result<Vec<Tier>, TierError> {
    let items = api_tiers.as_array().ok_or(TierError::NotAList)?;
    if items.is_empty() {
        return Err(TierError::EmptyList);
    }
    let objects: Vec<&Map<String, Value>> =
        items.iter().map(Value::as_object).collect::<Option<_>>().ok_or(TierError::NotADict)?;

    let mut keyed: Vec<(PyNum, &Map<String, Value>)> =
        objects.into_iter().map(|o| Ok((cap_key(o)?, o))).collect::<Result<_, TierError>>()?;
    sort_if_needed(&mut keyed)?;
    check_boundaries(&keyed)?;

    let mut tiers = keyed
        .iter()
        .enumerate()
        .map(|(i, (_, o))| validate_tier(i, o))
        .collect::<Result<Vec<_>, _>>()?;
    // Checked before the last cap becomes Infinity, so messages name it as in the input.
    for w in check_table(&mut tiers)? {
        log::warn!(target: "gridsweep::tiers", "{w}");
    }
    if let Some(last) = tiers.last_mut() {
        last.cap = Cap::Infinity;
    }
    Ok(tiers)
}

/// Checks an ordered tier table for data that would make margins silently wrong
/// (docs/tiers.md, "Parsing Bybit's tiers") and returns the warnings, which the caller logs:
///
/// - a deduction larger than `lower cap × MMR` makes the maintenance margin negative at
///   the start of its tier (a deduction of 1e30 would mean no liquidation ever): an error;
/// - a deduction off Bybit's recurrence `D_n = cap_(n−1) × (MMR_n − MMR_(n−1)) + D_(n−1)`
///   (by more than half a quote unit plus 1e-6 relative): a warning, since the MM then jumps at
///   the tier boundary;
/// - an IMR of 0 in every tier (the origin's v1 cache format): filled from `1/maxLeverage`
///   when every tier has it (a warning says so), else a warning that order rejection by
///   initial margin is off.
///
/// # Errors
/// [`TierError::DeductionTooLarge`] naming the first such tier.
pub fn check_table(tiers: &mut [Tier]) -> Result<Vec<String>, TierError> {
    let mut warnings = Vec::new();
    let mut prev: Option<&Tier> = None;
    for (i, t) in tiers.iter().enumerate() {
        let lower = prev.map_or(0.0, |p| p.cap.to_f64());
        let (mmr, ded) = (t.mmr.to_f64(), t.deduction.to_f64());
        let max = lower * mmr;
        if ded > max * (1.0 + 1e-9) + 1e-9 {
            return Err(TierError::DeductionTooLarge {
                tier: i + 1,
                cap: t.cap.to_string(),
                deduction: t.deduction.to_string(),
                lower: lower.to_string(),
                mmr: t.mmr.to_string(),
            });
        }
        if let Some(p) = prev.filter(|_| lower.is_finite()) {
            let expected = p.deduction.to_f64() + lower * (mmr - p.mmr.to_f64());
            if (ded - expected).abs() > 0.5 + 1e-6 * expected.abs() {
                warnings.push(format!(
                    "tier {} (riskLimitValue={}): mmDeduction {} differs from {} \
                     that Bybit's rule gives (previous cap {} × (MMR {} − {}) + previous \
                     deduction {}), so the maintenance margin steps by {} at {}; check the \
                     tier data",
                    i + 1,
                    t.cap,
                    t.deduction,
                    round2(expected),
                    p.cap,
                    t.mmr,
                    p.mmr,
                    p.deduction,
                    round2(expected - ded),
                    p.cap
                ));
            }
        }
        prev = Some(t);
    }
    if !tiers.is_empty() && tiers.iter().all(|t| t.imr.is_zero()) {
        let from_lev: Option<Vec<Dec>> =
            tiers.iter().map(|t| t.max_leverage.and_then(|l| Dec::new(1, 0).py_div(l))).collect();
        match from_lev {
            Some(imrs) => {
                for (t, imr) in tiers.iter_mut().zip(imrs) {
                    t.imr = imr.normalized();
                }
                warnings.push(
                    "the tier data has an initial margin rate of 0 in every tier; \
                     using 1/maxLeverage of each tier instead"
                        .to_string(),
                );
            }
            None => warnings.push(
                "the tier data has an initial margin rate of 0 in every tier (the \
                 v1 cache format stores none), so orders are not rejected by the tiers' \
                 initial margin: order rejection uses only the run's leverage. Refresh the \
                 tiers (`gridsweep tiers refresh SYMBOL`) to get Bybit's rates"
                    .to_string(),
            ),
        }
    }
    Ok(warnings)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Reads an optional `maxLeverage`: absent, null or `""` is `None`; otherwise it must be
/// a finite number ≥ 1.
///
/// # Errors
/// [`TierError::BadMaxLeverage`] naming tier `index` (0-based) and its cap.
pub fn max_leverage_field(
    v: Option<&Value>,
    index: usize,
    cap: Cap,
) -> Result<Option<Dec>, TierError> {
    let bad =
        |raw: String| TierError::BadMaxLeverage { tier: index + 1, cap: cap.to_string(), raw };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(v) => match PyNum::from_json(v) {
            Ok(Some(PyNum::Finite(d))) if d >= Dec::new(1, 0) => Ok(Some(d)),
            Ok(Some(n)) => Err(bad(n.to_string())),
            Ok(None) => Ok(None),
            Err(raw) => Err(bad(raw)),
        },
    }
}

/// Parses a Bybit tier list into a [`TierTable`] for `symbol`.
///
/// # Errors
/// As [`parse_risk_limit_tiers`].
pub fn parse_tier_table(symbol: &str, api_tiers: &Value) -> Result<TierTable, TierError> {
    Ok(TierTable::from_sorted(symbol, parse_risk_limit_tiers(api_tiers)?))
}

/// The sort key: `riskLimitValue` parsed, with the missing/format messages.
fn cap_key(tier: &Map<String, Value>) -> Result<PyNum, TierError> {
    let raw = tier.get("riskLimitValue").unwrap_or(&Value::Null);
    match PyNum::from_json(raw) {
        Ok(Some(n)) => Ok(n),
        Ok(None) => Err(TierError::MissingField("riskLimitValue")),
        Err(raw) => Err(TierError::BadFormat { field: "riskLimitValue", raw }),
    }
}

/// Stable sort by cap, only when an adjacent pair is out of order; NaN cannot be ordered.
fn sort_if_needed(keyed: &mut [(PyNum, &Map<String, Value>)]) -> Result<(), TierError> {
    if keyed.len() < 2 {
        return Ok(());
    }
    if let Some((nan, _)) = keyed.iter().find(|(k, _)| k.is_nan()) {
        return Err(TierError::BadRiskLimitValue(nan.to_string()));
    }
    let ordered = |a: PyNum, b: PyNum| a.py_cmp(b).unwrap_or(Ordering::Equal);
    if keyed.windows(2).any(|w| ordered(w[0].0, w[1].0) == Ordering::Greater) {
        keyed.sort_by(|a, b| ordered(a.0, b.0));
    }
    Ok(())
}

/// `cur != Infinity and cur <= prev` is a duplicate boundary.
fn check_boundaries(keyed: &[(PyNum, &Map<String, Value>)]) -> Result<(), TierError> {
    for w in keyed.windows(2) {
        let (prev, cur) = (w[0].0, w[1].0);
        if cur != (PyNum::Inf { neg: false }) && cur.le(prev).unwrap_or(false) {
            return Err(TierError::DuplicateBoundary(prev.to_string()));
        }
    }
    Ok(())
}

/// Reads a required numeric field: missing/null and format errors.
fn required(tier: &Map<String, Value>, field: &'static str) -> Result<PyNum, TierError> {
    match PyNum::from_json(tier.get(field).unwrap_or(&Value::Null)) {
        Ok(Some(n)) => Ok(n),
        Ok(None) => Err(TierError::MissingField(field)),
        Err(raw) => Err(TierError::BadFormat { field, raw }),
    }
}

/// Reads a field that defaults to 0 when missing or falsy (`tier.get(f, "") or "0"`).
fn optional_zero(tier: &Map<String, Value>, field: &'static str) -> Result<PyNum, TierError> {
    let v = tier.get(field).unwrap_or(&Value::Null);
    let falsy = match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    };
    if falsy {
        return Ok(PyNum::Finite(Dec::ZERO));
    }
    match PyNum::from_json(v) {
        Ok(Some(n)) => Ok(n),
        Ok(None) => Ok(PyNum::Finite(Dec::ZERO)),
        Err(raw) => Err(TierError::BadFormat { field, raw }),
    }
}

/// A rate in `[0, 1]`, else the given range error.
fn unit_rate(n: PyNum, err: fn(String) -> TierError) -> Result<Dec, TierError> {
    match (n.in_unit_range(), n.finite()) {
        (Some(true), Some(d)) => Ok(d),
        _ => Err(err(n.to_string())),
    }
}

/// Validates tier `index` (0-based, after sorting) in field order (docs/tiers.md,
/// "Parsing Bybit's tiers", step 4).
fn validate_tier(index: usize, tier: &Map<String, Value>) -> Result<Tier, TierError> {
    let cap = required(tier, "riskLimitValue")?;
    let cap = match cap {
        PyNum::Inf { neg: false } => Cap::Infinity,
        PyNum::Finite(d) if d > Dec::ZERO => Cap::Value(d),
        other => return Err(TierError::BadRiskLimitValue(other.to_string())),
    };
    let mmr = unit_rate(required(tier, "maintenanceMargin")?, TierError::MmrOutOfRange)?;
    let deduction = match optional_zero(tier, "mmDeduction")? {
        PyNum::Finite(d) if d.is_negative() => {
            return Err(TierError::NegativeDeduction(d.to_string()))
        }
        PyNum::Inf { neg: true } => return Err(TierError::NegativeDeduction("-Infinity".into())),
        PyNum::Finite(d) => d,
        other => return Err(TierError::BadFormat { field: "mmDeduction", raw: other.to_string() }),
    };
    let imr = unit_rate(optional_zero(tier, "initialMargin")?, TierError::ImrOutOfRange)?;
    if mmr.is_zero() {
        log::info!("Zero MMR rate for tier riskLimitValue={cap}");
    }
    if imr.is_zero() {
        log::info!("Zero IMR rate for tier riskLimitValue={cap}");
    }
    let max_leverage = max_leverage_field(tier.get("maxLeverage"), index, cap)?;
    Ok(Tier { cap, mmr, deduction, imr, max_leverage })
}
