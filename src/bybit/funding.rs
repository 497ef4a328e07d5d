//! Funding history: `GET /v5/market/funding/history?category=linear&symbol=S&startTime=A&
//! endTime=B&limit=200`, newest first.
//!
//! The range is split into aligned windows of [`FUNDING_WINDOW_MS`] (200 hours: at most 200
//! events at the shortest, 1-hour, interval). Within a window pages are walked by moving
//! `endTime` below the oldest event received, until a page is short or reaches the window's
//! start. `startTime` is never sent alone (Bybit answers that with an error).

use serde_json::Value;

use super::{FetchError, MarketClient, Window};
use crate::funding::MAX_ABS_RATE;

/// Path of the funding-history endpoint.
pub const FUNDING_PATH: &str = "/v5/market/funding/history";
/// Events per request (Bybit's maximum).
pub const FUNDING_LIMIT: usize = 200;
/// Length of one request window: 200 hours.
pub const FUNDING_WINDOW_MS: i64 = 200 * 3_600_000;
/// Pages followed inside one window before giving up (guards a server that never ends).
const MAX_PAGES_PER_WINDOW: usize = 1000;

/// The query of one page.
pub fn funding_query(symbol: &str, start_ms: i64, end_ms_incl: i64) -> Vec<(&'static str, String)> {
    vec![
        ("category", "linear".to_string()),
        ("symbol", symbol.to_string()),
        ("startTime", start_ms.to_string()),
        ("endTime", end_ms_incl.to_string()),
        ("limit", FUNDING_LIMIT.to_string()),
    ]
}

/// Fetches one window's events, ascending, following pages inside it.
///
/// # Errors
/// The client's errors; [`FetchError::BadRow`] for a malformed event, one outside the
/// window, a rate that is not finite or ≥ 1 in absolute value, or a duplicate time with
/// another rate; [`FetchError::Malformed`] for a page that does not move back in time.
pub fn fetch_window(
    client: &MarketClient,
    symbol: &str,
    w: Window,
) -> Result<Vec<(i64, f64)>, FetchError> {
    let mut events: Vec<(i64, f64)> = Vec::new();
    let mut end_incl = w.end_ms - 1;
    for _ in 0..MAX_PAGES_PER_WINDOW {
        let q = funding_query(symbol, w.start_ms, end_incl);
        let query = q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let result = client.get(FUNDING_PATH, &q)?;
        let page = parse_page(&result, symbol, w, end_incl, &query)?;
        let n = page.len();
        let oldest = page.iter().map(|e| e.0).min();
        for e in page {
            match events.iter().find(|x| x.0 == e.0) {
                Some(x) if x.1.to_bits() != e.1.to_bits() => {
                    return Err(FetchError::BadRow {
                        at: super::request_at(FUNDING_PATH, w, &query),
                        index: 0,
                        field: "fundingRateTimestamp".into(),
                        reason: format!(
                            "{} came twice with rates {} and {}",
                            crate::time::format_iso(e.0),
                            x.1,
                            e.1
                        ),
                    })
                }
                Some(_) => {}
                None => events.push(e),
            }
        }
        match oldest {
            Some(o) if n >= FUNDING_LIMIT && o > w.start_ms => {
                if o > end_incl {
                    return Err(FetchError::Malformed {
                        url: client.endpoint(FUNDING_PATH),
                        reason: format!("a full page did not move back in time ({query})"),
                    });
                }
                end_incl = o - 1;
            }
            _ => {
                events.sort_by_key(|e| e.0);
                return Ok(events);
            }
        }
    }
    Err(FetchError::Malformed {
        url: client.endpoint(FUNDING_PATH),
        reason: format!("more than {MAX_PAGES_PER_WINDOW} pages in window {w}"),
    })
}

/// Validates one page's `result` object against the window `[w.start_ms, end_incl]`.
///
/// # Errors
/// [`FetchError::BadRow`] naming the window, the index and the field.
pub fn parse_page(
    result: &Value,
    symbol: &str,
    w: Window,
    end_incl: i64,
    query: &str,
) -> Result<Vec<(i64, f64)>, FetchError> {
    let bad = |index: usize, field: &str, reason: String| FetchError::BadRow {
        at: super::request_at(FUNDING_PATH, w, query),
        index,
        field: field.to_string(),
        reason,
    };
    let list = result
        .get("list")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(0, "result.list", "is missing or not an array".into()))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let text = |f: &str| match item.get(f) {
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if let Some(s) = item.get("symbol").and_then(Value::as_str) {
            if s != symbol {
                return Err(bad(i, "symbol", format!("is {s}, not {symbol}")));
            }
        }
        let ts =
            text("fundingRateTimestamp").and_then(|t| t.parse::<i64>().ok()).ok_or_else(|| {
                bad(
                    i,
                    "fundingRateTimestamp",
                    format!(
                        "{} is not an epoch-ms integer",
                        item.get("fundingRateTimestamp").map_or("missing".into(), Value::to_string)
                    ),
                )
            })?;
        let rate = text("fundingRate").and_then(|t| t.parse::<f64>().ok()).ok_or_else(|| {
            bad(
                i,
                "fundingRate",
                format!(
                    "{} is not a number",
                    item.get("fundingRate").map_or("missing".into(), Value::to_string)
                ),
            )
        })?;
        if ts < w.start_ms || ts > end_incl {
            return Err(bad(
                i,
                "fundingRateTimestamp",
                format!("{} is outside the requested window", crate::time::format_iso(ts)),
            ));
        }
        if !rate.is_finite() || rate.abs() >= MAX_ABS_RATE {
            return Err(bad(
                i,
                "fundingRate",
                format!("{rate} is not a funding rate (|rate| < 1)"),
            ));
        }
        out.push((ts, rate));
    }
    Ok(out)
}
