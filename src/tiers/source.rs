//! [`TierSource`](crate::tiers::source::TierSource) and [`resolve_for_run`](crate::tiers::source::resolve_for_run): how a sweep or backtest gets its one frozen
//! tier table per symbol, before any run and without the network.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::builtin::{builtin_tiers, has_own_table};
use super::cache_format::table_from_dict;
use super::config::{max_cache_size_from_env, CacheConfig};
use super::error::TierError;
use super::note::Note;
use super::parse::parse_tier_table;
use super::provider::{Resolved, RiskLimitProvider, TierLayer};
use super::snapshot::default_tiers;
use super::{SharedTiers, TierTable};

/// Where a run's tier table comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TierSource {
    /// The shipped snapshot of the symbol's real table, else the origin's table with a
    /// warning (`tiers = "builtin"`, the default).
    Builtin,
    /// The origin's hard-coded tables (`tiers = "origin"`: BTCUSDT, ETHUSDT, DEFAULT).
    Origin,
    /// A cache file (docs/tiers.md, "Cache file format"), read through the provider without a client (fresh or stale
    /// entry, else the built-in table). The path must lie under `conf/`.
    CacheFile(PathBuf),
    /// A file holding a Bybit response (envelope, `result` or `result.list`), a cache
    /// entry `{"tiers": [...]}`, a whole cache file, or [`super::cache_format::tiers_to_json`]
    /// output.
    ExplicitJson(PathBuf),
}

/// Resolves the table for `symbol`, with the layer and the notes emitted on the way.
///
/// # Errors
/// An invalid cache location ([`RiskLimitProvider::new`]) or an unreadable or invalid
/// explicit file. A missing or bad cache entry is not an error: it falls back.
pub fn resolve(source: &TierSource, symbol: &str) -> Result<Resolved, TierError> {
    match source {
        TierSource::Builtin => {
            let (table, layer, warning) = default_tiers(symbol);
            let notes = warning.map(|w| Note::emit(log::Level::Warn, w)).into_iter().collect();
            Ok(Resolved { table, layer, cached_at: None, notes })
        }
        TierSource::Origin => Ok(Resolved {
            table: builtin_tiers(symbol),
            layer: if has_own_table(symbol) {
                TierLayer::Origin
            } else {
                TierLayer::GenericDefault
            },
            cached_at: None,
            notes: Vec::new(),
        }),
        TierSource::CacheFile(path) => {
            Ok(RiskLimitProvider::new(&CacheConfig::with_path(path), None)?.get(symbol))
        }
        TierSource::ExplicitJson(path) => Ok(Resolved {
            table: read_tier_file(path, symbol)?,
            layer: TierLayer::ExplicitFile,
            cached_at: None,
            notes: Vec::new(),
        }),
    }
}

/// The frozen table for a run and the layer it came from.
///
/// # Errors
/// As [`resolve`].
pub fn resolve_for_run(
    source: &TierSource,
    symbol: &str,
) -> Result<(SharedTiers, TierLayer), TierError> {
    let r = resolve(source, symbol)?;
    Ok((Arc::new(r.table), r.layer))
}

/// Reads a tier file in any of the shapes of [`TierSource::ExplicitJson`].
///
/// # Errors
/// [`TierError::SizeExceeded`] past the cache size limit, [`TierError::Io`], or
/// [`TierError::InFile`] naming the path with the JSON or validation message.
pub fn read_tier_file(path: &Path, symbol: &str) -> Result<TierTable, TierError> {
    let max = max_cache_size_from_env();
    let meta =
        std::fs::metadata(path).map_err(|e| TierError::io("cannot read tier file", path, e))?;
    if max > 0 && meta.len() > max {
        return Err(TierError::SizeExceeded { path: path.to_path_buf(), size: meta.len(), max });
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| TierError::io("cannot read tier file", path, e))?;
    let in_file = |message: String| TierError::InFile { path: path.to_path_buf(), message };
    let v: Value =
        serde_json::from_str(&text).map_err(|e| in_file(format!("invalid JSON: {e}")))?;
    table_from_value(&v, symbol).map_err(|e| in_file(e.to_string()))
}

/// Reads a table for `symbol` from an already-parsed JSON value of any accepted shape.
///
/// # Errors
/// The validation error of the shape found, [`TierError::Api`] for an error envelope,
/// or [`TierError::UnrecognisedShape`] for an unrecognised shape or a missing symbol.
pub fn table_from_value(v: &Value, symbol: &str) -> Result<TierTable, TierError> {
    let shape = TierError::UnrecognisedShape;
    match v {
        Value::Array(items) => {
            if items.first().and_then(|f| f.get("max_value")).is_some() {
                return table_from_dict(symbol, v);
            }
            let has_symbols = items.iter().any(|i| i.get("symbol").is_some());
            if !has_symbols {
                return parse_tier_table(symbol, v);
            }
            let mine: Vec<Value> = items
                .iter()
                .filter(|i| i.get("symbol").and_then(Value::as_str) == Some(symbol))
                .cloned()
                .collect();
            if mine.is_empty() {
                return Err(shape(format!("no tiers for {symbol} in the tier list")));
            }
            parse_tier_table(symbol, &Value::Array(mine))
        }
        Value::Object(o) => {
            if let Some(code) = o.get("retCode") {
                if code.as_i64() != Some(0) {
                    let msg =
                        o.get("retMsg").and_then(Value::as_str).unwrap_or_default().to_string();
                    return Err(TierError::Api {
                        url: "a saved response".into(),
                        code: code.as_i64().unwrap_or(-1),
                        msg,
                    });
                }
                let list = o.get("result").and_then(|r| r.get("list"));
                return table_from_value(
                    list.ok_or_else(|| shape("no result.list".into()))?,
                    symbol,
                );
            }
            if let Some(list) = o.get("list") {
                return table_from_value(list, symbol);
            }
            if let Some(tiers) = o.get("tiers") {
                if let Some(other) =
                    o.get("symbol").and_then(Value::as_str).filter(|s| *s != symbol)
                {
                    return Err(shape(format!("the file holds tiers for {other}, not {symbol}")));
                }
                return table_from_dict(symbol, tiers);
            }
            if let Some(entry) = o.get(symbol) {
                return table_from_value(entry, symbol);
            }
            Err(shape(format!(
                "no tiers for {symbol}: expected a Bybit response, a tier list, a cache entry \
                 {{\"tiers\": [...]}} or a cache file with a \"{symbol}\" key"
            )))
        }
        _ => Err(shape("expected a JSON object or array".into())),
    }
}
