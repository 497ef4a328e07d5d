//! 1-minute klines: `GET /v5/market/kline` (last price, 7-field rows
//! `[startTime, open, high, low, close, volume, turnover]`) and
//! `GET /v5/market/mark-price-kline` (5-field rows, no volume: written as volume 0), both
//! `category=linear&interval=1&limit=1000`, newest first.
//!
//! One request per aligned window of [`KLINE_LIMIT`] minutes (`start` = window start,
//! `end` = window end − 1 ms, so one page always holds the whole window). Every row is
//! checked: well-formed numbers, `startTime` on a whole minute and inside the window, no
//! duplicate, the candle rules of [`crate::candles::validate::check_row`]. A candle still open
//! at `now` (`startTime + 60 s > now`) is dropped and counted.

use serde_json::Value;

use super::{FetchError, MarketClient, Window};
use crate::candles::validate::{check_row, MINUTE_MS};

/// Path of the last-price kline endpoint.
pub const KLINE_PATH: &str = "/v5/market/kline";
/// Path of the mark-price kline endpoint.
pub const MARK_KLINE_PATH: &str = "/v5/market/mark-price-kline";
/// Candles per request (Bybit's maximum).
pub const KLINE_LIMIT: i64 = 1000;
/// Length of one request window.
pub const KLINE_WINDOW_MS: i64 = KLINE_LIMIT * MINUTE_MS;

/// Which price the candles are of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceKind {
    /// Last traded price (`/v5/market/kline`).
    Last,
    /// Mark price (`/v5/market/mark-price-kline`).
    Mark,
}

impl PriceKind {
    /// `last` or `mark`.
    pub fn name(self) -> &'static str {
        match self {
            PriceKind::Last => "last",
            PriceKind::Mark => "mark",
        }
    }

    /// The endpoint path.
    pub fn path(self) -> &'static str {
        match self {
            PriceKind::Last => KLINE_PATH,
            PriceKind::Mark => MARK_KLINE_PATH,
        }
    }

    /// Fields per row: 7 for last price, 5 for mark price.
    pub fn fields(self) -> usize {
        match self {
            PriceKind::Last => 7,
            PriceKind::Mark => 5,
        }
    }
}

/// One candle `(ts_ms, open, high, low, close, volume)`.
pub type Candle = (i64, f64, f64, f64, f64, f64);

/// One window's validated candles, ascending, and how many open candles were dropped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KlinePage {
    /// Candles, ascending by time.
    pub candles: Vec<Candle>,
    /// Candles dropped because they were still open at fetch time.
    pub dropped_open: usize,
}

/// The query of one window.
pub fn kline_query(symbol: &str, w: Window) -> Vec<(&'static str, String)> {
    vec![
        ("category", "linear".to_string()),
        ("symbol", symbol.to_string()),
        ("interval", "1".to_string()),
        ("start", w.start_ms.to_string()),
        ("end", (w.end_ms - 1).to_string()),
        ("limit", KLINE_LIMIT.to_string()),
    ]
}

fn query_text(q: &[(&str, String)]) -> String {
    q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Fetches and validates one window.
///
/// # Errors
/// The client's errors, and [`FetchError::BadRow`] for the first bad row.
pub fn fetch_window(
    client: &MarketClient,
    symbol: &str,
    kind: PriceKind,
    w: Window,
    now_ms: i64,
) -> Result<KlinePage, FetchError> {
    let q = kline_query(symbol, w);
    let result = client.get(kind.path(), &q)?;
    parse_page(&result, kind, w, &query_text(&q), now_ms)
}

/// Validates one page's `result` object (see the module docs).
///
/// # Errors
/// [`FetchError::BadRow`] naming the window, the row index and the field.
pub fn parse_page(
    result: &Value,
    kind: PriceKind,
    w: Window,
    query: &str,
    now_ms: i64,
) -> Result<KlinePage, FetchError> {
    let bad = |index: usize, field: &str, reason: String| FetchError::BadRow {
        at: super::request_at(kind.path(), w, query),
        index,
        field: field.to_string(),
        reason,
    };
    let list = result
        .get("list")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(0, "result.list", "is missing or not an array".into()))?;
    const NAMES: [&str; 7] = ["startTime", "open", "high", "low", "close", "volume", "turnover"];
    let mut page = KlinePage { candles: Vec::with_capacity(list.len()), dropped_open: 0 };
    for (i, row) in list.iter().enumerate() {
        let Some(fields) = row.as_array() else {
            return Err(bad(
                i,
                "row",
                format!("is {row}, not an array of {} strings", kind.fields()),
            ));
        };
        if fields.len() < kind.fields() {
            return Err(bad(
                i,
                "row",
                format!(
                    "has {} fields, expected {} ({})",
                    fields.len(),
                    kind.fields(),
                    NAMES[..kind.fields()].join(", ")
                ),
            ));
        }
        let text = |k: usize| match &fields[k] {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let ts = text(0)
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| bad(i, NAMES[0], format!("{} is not an epoch-ms integer", fields[0])))?;
        let mut v = [0.0f64; 5];
        let n_prices = if kind == PriceKind::Last { 5 } else { 4 };
        for k in 0..n_prices {
            v[k] = text(k + 1).and_then(|t| t.parse::<f64>().ok()).ok_or_else(|| {
                bad(i, NAMES[k + 1], format!("{} is not a number", fields[k + 1]))
            })?;
        }
        if ts.rem_euclid(MINUTE_MS) != 0 {
            return Err(bad(i, NAMES[0], format!("{ts} is not on a whole minute")));
        }
        if ts < w.start_ms || ts >= w.end_ms {
            return Err(bad(
                i,
                NAMES[0],
                format!("{} is outside the requested window", crate::time::format_iso(ts)),
            ));
        }
        check_row(v[0], v[1], v[2], v[3], v[4]).map_err(|p| bad(i, "row", p.to_string()))?;
        if ts > now_ms.saturating_add(MINUTE_MS) {
            // More than a minute of clock skew: not a candle Bybit can have.
            return Err(bad(
                i,
                NAMES[0],
                format!(
                    "{} is after the fetch time {}",
                    crate::time::format_iso(ts),
                    crate::time::format_iso(now_ms)
                ),
            ));
        }
        if ts + MINUTE_MS > now_ms {
            page.dropped_open += 1;
            continue;
        }
        page.candles.push((ts, v[0], v[1], v[2], v[3], v[4]));
    }
    page.candles.sort_by_key(|c| c.0);
    if let Some(k) = page.candles.windows(2).position(|p| p[0].0 == p[1].0) {
        let ts = page.candles[k].0;
        let index = list
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.get(0)
                    .and_then(|t| {
                        t.as_str().map(str::to_string).or(t.as_i64().map(|x| x.to_string()))
                    })
                    .and_then(|t| t.parse::<i64>().ok())
                    == Some(ts)
            })
            .nth(1)
            .map_or(0, |(i, _)| i);
        return Err(bad(
            index,
            NAMES[0],
            format!("{} appears twice in the page", crate::time::format_iso(ts)),
        ));
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const W: Window = Window { start_ms: 0, end_ms: 10 * MINUTE_MS };

    #[test]
    fn test_parses_newest_first_and_sorts() {
        let r = json!({"list": [["120000","2","3","1","2.5","7","1"], ["60000","1","2","0.5","1.5","3","1"]]});
        let p = parse_page(&r, PriceKind::Last, W, "q", i64::MAX).unwrap();
        assert_eq!(
            p.candles,
            vec![(60_000, 1.0, 2.0, 0.5, 1.5, 3.0), (120_000, 2.0, 3.0, 1.0, 2.5, 7.0)]
        );
        let r = json!({"list": [["60000","1","2","0.5","1.5"]]});
        let p = parse_page(&r, PriceKind::Mark, W, "q", i64::MAX).unwrap();
        assert_eq!(p.candles, vec![(60_000, 1.0, 2.0, 0.5, 1.5, 0.0)]);
    }

    #[test]
    fn test_names_row_and_field_and_drops_open_candle() {
        let r = json!({"list": [["60000","1","2","0.5","1.5","3","1"], ["0","1","x","0.5","1.5","3","1"]]});
        let e = parse_page(&r, PriceKind::Last, W, "start=0", i64::MAX).unwrap_err();
        assert!(e.to_string().contains("list[1] high: \"x\" is not a number"), "{e}");
        let r = json!({"list": [["60001","1","2","0.5","1.5","3","1"]]});
        assert!(parse_page(&r, PriceKind::Last, W, "q", i64::MAX).is_err());
        let r = json!({"list": [["600000","1","2","0.5","1.5","3","1"]]});
        let e = parse_page(&r, PriceKind::Last, W, "q", i64::MAX).unwrap_err();
        assert!(e.to_string().contains("outside the requested window"), "{e}");
        let r = json!({"list": [["60000","1","2","0.5","1.5","3","1"], ["60000","1","2","0.5","1.5","3","1"]]});
        let e = parse_page(&r, PriceKind::Last, W, "q", i64::MAX).unwrap_err();
        assert!(e.to_string().contains("list[1] startTime"), "{e}");
        let r = json!({"list": [["120000","2","3","1","2.5","7","1"], ["60000","1","2","0.5","1.5","3","1"]]});
        let p = parse_page(&r, PriceKind::Last, W, "q", 150_000).unwrap();
        assert_eq!((p.candles.len(), p.dropped_open), (1, 1));
        let r = json!({"list": [["60000","1","0.9","0.5","1.5","3","1"]]});
        let e = parse_page(&r, PriceKind::Last, W, "q", i64::MAX).unwrap_err();
        assert!(e.to_string().contains("list[0] row: high 0.9"), "{e}");
    }
}
