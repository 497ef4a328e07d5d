//! Instrument info: `GET /v5/market/instruments-info?category=linear&symbol=S` →
//! [`SavedInstrument`]: `priceFilter.tickSize`, `lotSizeFilter.qtyStep`,
//! `lotSizeFilter.minNotionalValue`, `fundingInterval` (minutes) and
//! `leverageFilter.maxLeverage`.

use serde_json::Value;

use super::{FetchError, MarketClient};
use crate::instrument::SavedInstrument;
use crate::time::format_iso;

/// Path of the instruments-info endpoint.
pub const INSTRUMENTS_PATH: &str = "/v5/market/instruments-info";

/// Fetches one linear symbol's instrument info.
///
/// # Errors
/// The client's errors; [`FetchError::NoData`] when the list is empty (unknown symbol);
/// [`FetchError::Malformed`] when a required field is missing.
pub fn fetch_instrument(
    client: &MarketClient,
    symbol: &str,
    now_ms: i64,
) -> Result<SavedInstrument, FetchError> {
    let q = vec![("category", "linear".to_string()), ("symbol", symbol.to_string())];
    let result = client.get(INSTRUMENTS_PATH, &q)?;
    let url = format!("{}?category=linear&symbol={symbol}", client.endpoint(INSTRUMENTS_PATH));
    parse_instrument(&result, symbol, &url, now_ms)
}

/// Reads the item of `symbol` from an instruments-info `result` object.
///
/// # Errors
/// As [`fetch_instrument`].
pub fn parse_instrument(
    result: &Value,
    symbol: &str,
    url: &str,
    now_ms: i64,
) -> Result<SavedInstrument, FetchError> {
    let malformed = |reason: String| FetchError::Malformed { url: url.to_string(), reason };
    let list = result
        .get("list")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("result.list is missing or not an array".into()))?;
    let Some(item) = list.iter().find(|i| i.get("symbol").and_then(Value::as_str) == Some(symbol))
    else {
        return Err(FetchError::NoData(format!(
            "Bybit lists no linear instrument {symbol} (GET {url} returned {} item(s)); check \
             the symbol (e.g. BTCUSDT)",
            list.len()
        )));
    };
    let text = |a: &str, b: Option<&str>| -> Option<String> {
        let v = match b {
            Some(b) => item.get(a)?.get(b)?,
            None => item.get(a)?,
        };
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let need = |a: &str, b: &str| {
        text(a, Some(b)).ok_or_else(|| malformed(format!("{symbol} has no {a}.{b}")))
    };
    let funding_interval_min = match text("fundingInterval", None) {
        Some(t) => Some(t.parse::<u32>().map_err(|_| {
            malformed(format!("fundingInterval {t:?} is not a whole number of minutes"))
        })?),
        None => None,
    };
    let s = SavedInstrument {
        symbol: symbol.to_string(),
        tick_size: need("priceFilter", "tickSize")?,
        qty_step: need("lotSizeFilter", "qtyStep")?,
        min_notional: text("lotSizeFilter", Some("minNotionalValue")),
        funding_interval_min,
        max_leverage: text("leverageFilter", Some("maxLeverage")),
        source: url.to_string(),
        fetched_at: format!("{}Z", format_iso(now_ms)),
    };
    s.steps().map_err(malformed)?;
    Ok(s)
}
