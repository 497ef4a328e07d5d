//! Funding importers: Binance `fundingRate` monthly CSVs and Bybit
//! `/v5/market/funding/history` JSON, merged into one [`FundingSeries`].
//!
//! - Binance (`data.binance.vision` `…/monthly/fundingRate/SYMBOL/SYMBOL-fundingRate-YYYY-MM.csv`):
//!   header `calc_time,funding_interval_hours,last_funding_rate`, `calc_time` in epoch ms
//!   (microseconds are converted, as for klines), rates as fractions. A headerless file of
//!   the same three columns is accepted too. `calc_time` is kept as written (Binance's can be
//!   a millisecond or so past the settlement time).
//! - Bybit: the whole response (`retCode` 0, `result.list`), an object with a `list`, or a
//!   bare list of `{symbol, fundingRate, fundingRateTimestamp}`, newest first; strings or
//!   numbers.
//!
//! Events from all inputs are sorted by time; the same time with the same rate (overlapping
//! downloads) is kept once, the same time with different rates is an error naming both.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{FundingError, FundingSeries};

/// A funding input format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FundingFormat {
    /// Binance `fundingRate` CSV.
    BinanceCsv,
    /// Bybit funding-history JSON.
    BybitJson,
}

impl FundingFormat {
    /// The format's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            FundingFormat::BinanceCsv => "binance-funding",
            FundingFormat::BybitJson => "bybit-funding",
        }
    }
}

/// The header of a Binance funding CSV.
pub const BINANCE_HEADER: &str = "calc_time,funding_interval_hours,last_funding_rate";

/// The funding format of `text`, when it is funding data: a CSV whose first non-blank line is
/// the Binance header or three numeric fields (`ms,hours,rate`), or JSON whose list items
/// have `fundingRate`. `None` for anything else (e.g. klines).
pub fn detect_funding(text: &str) -> Option<FundingFormat> {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        let v: Value = serde_json::from_str(t).ok()?;
        let list = json_list(&v)?;
        let first = list.first()?;
        return first.get("fundingRate").is_some().then_some(FundingFormat::BybitJson);
    }
    let line = t.lines().next()?.trim().trim_end_matches('\r');
    if line.replace(' ', "").eq_ignore_ascii_case(BINANCE_HEADER) {
        return Some(FundingFormat::BinanceCsv);
    }
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    let headerless = f.len() == 3
        && f[0].parse::<i64>().is_ok()
        && f[1].parse::<f64>().is_ok()
        && f[2].parse::<f64>().is_ok();
    headerless.then_some(FundingFormat::BinanceCsv)
}

/// `result.list`, `list`, or the value itself when it is an array.
fn json_list(v: &Value) -> Option<&Vec<Value>> {
    v.as_array()
        .or_else(|| v.get("list").and_then(Value::as_array))
        .or_else(|| v.get("result").and_then(|r| r.get("list")).and_then(Value::as_array))
}

/// One event with where it came from (for conflict messages).
#[derive(Clone, Debug, PartialEq)]
pub struct SourcedEvent {
    /// Settlement time, epoch ms.
    pub ts_ms: i64,
    /// Rate, fraction.
    pub rate: f64,
    /// Where: `line 3`, `list[0]`.
    pub loc: String,
}

const MICROS_THRESHOLD: i64 = 100_000_000_000_000;

/// Parses a Binance funding CSV (header optional, blank lines skipped), naming 1-based lines
/// and fields in errors.
///
/// # Errors
/// [`FundingError::Invalid`] for a row without three fields or a malformed number;
/// [`FundingError::Empty`] when there is no row.
pub fn parse_binance_funding_csv(
    path: &Path,
    text: &str,
) -> Result<Vec<SourcedEvent>, FundingError> {
    let bad = |line: usize, reason: String| FundingError::Invalid {
        path: path.to_path_buf(),
        loc: format!("line {line}"),
        reason,
    };
    let mut out = Vec::new();
    let mut seen_first = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_start_matches('\u{feff}');
        if line.trim().is_empty() {
            continue;
        }
        if !seen_first {
            seen_first = true;
            if line.replace(' ', "").eq_ignore_ascii_case(BINANCE_HEADER) {
                continue;
            }
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() < 3 {
            return Err(bad(
                line_no,
                format!(
                    "expected 3 fields ({BINANCE_HEADER}), found {}; is this a Binance \
                     fundingRate CSV?",
                    f.len()
                ),
            ));
        }
        let ts: i64 = f[0].parse().map_err(|_| {
            bad(line_no, format!("field calc_time {:?} is not an integer of epoch ms", f[0]))
        })?;
        let ts = if ts >= MICROS_THRESHOLD { ts.div_euclid(1000) } else { ts };
        let rate: f64 = f[2].parse().map_err(|_| {
            bad(line_no, format!("field last_funding_rate {:?} is not a number", f[2]))
        })?;
        out.push(SourcedEvent { ts_ms: ts, rate, loc: format!("line {line_no}") });
    }
    if out.is_empty() {
        return Err(FundingError::Empty { path: path.to_path_buf() });
    }
    Ok(out)
}

/// Parses a Bybit funding-history JSON; returns the events and the symbol its items name.
///
/// # Errors
/// [`FundingError::Invalid`] for invalid JSON, a non-zero `retCode`, a missing list, or an
/// item without a well-formed `fundingRate`/`fundingRateTimestamp` (naming `list[i]` and the
/// field); [`FundingError::Empty`] for an empty list.
pub fn parse_bybit_funding_json(
    path: &Path,
    text: &str,
) -> Result<(Vec<SourcedEvent>, Option<String>), FundingError> {
    let bad = |loc: String, reason: String| FundingError::Invalid {
        path: path.to_path_buf(),
        loc,
        reason,
    };
    let v: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| bad("JSON".into(), format!("invalid JSON: {e}")))?;
    if let Some(code) = v.get("retCode").and_then(Value::as_i64) {
        if code != 0 {
            let msg = v.get("retMsg").and_then(Value::as_str).unwrap_or_default();
            return Err(bad(
                "retCode".into(),
                format!("the response is an error (retCode {code}: {msg:?}), not funding data"),
            ));
        }
    }
    let list = json_list(&v)
        .ok_or_else(|| bad("JSON".into(), "no `result.list` array of funding events".into()))?;
    let mut out = Vec::with_capacity(list.len());
    let mut symbol: Option<String> = None;
    for (i, item) in list.iter().enumerate() {
        let loc = |field: &str| format!("list[{i}], field {field}");
        let num = |field: &str| -> Option<&Value> { item.get(field) };
        let ts = match num("fundingRateTimestamp") {
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        }
        .ok_or_else(|| {
            bad(
                loc("fundingRateTimestamp"),
                format!(
                    "{} is not an epoch-ms integer",
                    num("fundingRateTimestamp").map_or("missing".into(), |v| v.to_string())
                ),
            )
        })?;
        let rate = match num("fundingRate") {
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(Value::Number(n)) => n.as_f64(),
            _ => None,
        }
        .ok_or_else(|| {
            bad(
                loc("fundingRate"),
                format!(
                    "{} is not a number",
                    num("fundingRate").map_or("missing".into(), |v| v.to_string())
                ),
            )
        })?;
        if let Some(s) = item.get("symbol").and_then(Value::as_str) {
            match &symbol {
                None => symbol = Some(s.to_string()),
                Some(prev) if prev != s => {
                    return Err(bad(
                        loc("symbol"),
                        format!("is {s} but list[0] is {prev}; one symbol per file"),
                    ))
                }
                Some(_) => {}
            }
        }
        out.push(SourcedEvent { ts_ms: ts, rate, loc: format!("list[{i}]") });
    }
    if out.is_empty() {
        return Err(FundingError::Empty { path: path.to_path_buf() });
    }
    Ok((out, symbol))
}

/// Sorts the events of all inputs by time and merges them: one time with one rate in several
/// places is kept once; one time with different rates is [`FundingError::Conflict`].
///
/// # Errors
/// [`FundingError::Conflict`] naming both inputs and locations.
pub fn merge_events(
    parts: &[(PathBuf, Vec<SourcedEvent>)],
) -> Result<Vec<(i64, f64)>, FundingError> {
    let mut all: Vec<(i64, usize, usize)> = Vec::new();
    for (p, evs) in parts.iter().enumerate() {
        all.extend(evs.1.iter().enumerate().map(|(k, e)| (e.ts_ms, p, k)));
    }
    all.sort_unstable();
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(all.len());
    let mut last: Option<(usize, usize)> = None;
    for (ts, p, k) in all {
        let e = &parts[p].1[k];
        if let (Some(&(pts, prate)), Some((lp, lk))) = (out.last(), last) {
            if pts == ts {
                if prate.to_bits() == e.rate.to_bits() || prate == e.rate {
                    continue;
                }
                return Err(FundingError::Conflict {
                    ts_ms: ts,
                    path_a: parts[lp].0.clone(),
                    loc_a: parts[lp].1[lk].loc.clone(),
                    rate_a: prate,
                    path_b: parts[p].0.clone(),
                    loc_b: e.loc.clone(),
                    rate_b: e.rate,
                });
            }
        }
        out.push((ts, e.rate));
        last = Some((p, k));
    }
    Ok(out)
}

/// The result of [`import_funding_files`].
#[derive(Clone, Debug)]
pub struct ImportedFunding {
    /// The merged, validated series (`source` lists format and file names).
    pub series: FundingSeries,
    /// The symbol given, or named by the Bybit inputs / Binance file names.
    pub symbol: Option<String>,
    /// Events read, before duplicates across files were dropped.
    pub read: usize,
}

/// Reads, merges and validates funding inputs. `format` forces one format for every file;
/// `None` detects each file's from its content ([`detect_funding`]).
///
/// # Errors
/// I/O errors, a file that is not funding data, the parse errors above, conflicts, symbols
/// that disagree (unless `symbol` is given), and [`FundingSeries::validate`]'s errors (a rate
/// of 1 or more names the file it came from).
pub fn import_funding_files(
    inputs: &[PathBuf],
    format: Option<FundingFormat>,
    symbol: Option<&str>,
) -> Result<ImportedFunding, FundingError> {
    let mut parts = Vec::with_capacity(inputs.len());
    let mut sources = Vec::with_capacity(inputs.len());
    let mut inferred: Option<(PathBuf, String)> = None;
    let mut read = 0;
    for path in inputs {
        let text = std::fs::read_to_string(path).map_err(|e| FundingError::io(path, e))?;
        let fmt = match format.or_else(|| detect_funding(&text)) {
            Some(f) => f,
            None => {
                return Err(FundingError::Invalid {
                    path: path.clone(),
                    loc: "line 1".into(),
                    reason: format!(
                        "not funding data: expected a Binance CSV with the header \
                         `{BINANCE_HEADER}` or a Bybit /v5/market/funding/history JSON; pass \
                         --format binance-funding or bybit-funding if it is one"
                    ),
                })
            }
        };
        let (events, sym) = match fmt {
            FundingFormat::BinanceCsv => (
                parse_binance_funding_csv(path, &text)?,
                crate::candles::import::symbol_from_file_name(path),
            ),
            FundingFormat::BybitJson => parse_bybit_funding_json(path, &text)?,
        };
        // Rates are checked per file first, so a percent column names its own file.
        for e in &events {
            if !e.rate.is_finite() || e.rate.abs() >= super::MAX_ABS_RATE {
                let s = FundingSeries { events: vec![(e.ts_ms, e.rate)], source: String::new() };
                if let Err(err) = s.validate(path) {
                    return Err(FundingError::Invalid {
                        path: path.clone(),
                        loc: e.loc.clone(),
                        reason: err
                            .to_string()
                            .split_once("row 1 ")
                            .map_or(err.to_string(), |(_, r)| r.to_string()),
                    });
                }
            }
        }
        if symbol.is_none() {
            if let Some(s) = sym {
                match &inferred {
                    Some((p, prev)) if *prev != s => {
                        return Err(FundingError::SymbolMismatch {
                            path_a: p.clone(),
                            a: prev.clone(),
                            path_b: path.clone(),
                            b: s,
                        })
                    }
                    Some(_) => {}
                    None => inferred = Some((path.clone(), s)),
                }
            }
        }
        read += events.len();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        sources.push(format!("{}:{name}", fmt.name()));
        parts.push((path.clone(), events));
    }
    let events = merge_events(&parts)?;
    let series = FundingSeries { events, source: sources.join(",") };
    let label = inputs.first().cloned().unwrap_or_default();
    series.validate(&label)?;
    Ok(ImportedFunding {
        series,
        symbol: symbol.map(str::to_string).or(inferred.map(|(_, s)| s)),
        read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_detects_funding_and_not_klines() {
        assert_eq!(
            detect_funding(&format!("{BINANCE_HEADER}\n1,8,0.1\n")),
            Some(FundingFormat::BinanceCsv)
        );
        assert_eq!(detect_funding("1704067200000,8,0.0001\n"), Some(FundingFormat::BinanceCsv));
        assert_eq!(detect_funding("1704067200000,1,2,0.5,1,10,1704067259999\n"), None);
        let j = r#"{"retCode":0,"result":{"list":[{"symbol":"X","fundingRate":"0.1","fundingRateTimestamp":"1"}]}}"#;
        assert_eq!(detect_funding(j), Some(FundingFormat::BybitJson));
        assert_eq!(detect_funding(r#"{"result":{"list":[["1","2","3","1","2","5","6"]]}}"#), None);
    }

    #[test]
    fn test_merge_dedupes_equal_and_refuses_different() {
        let ev = |ts, rate, loc: &str| SourcedEvent { ts_ms: ts, rate, loc: loc.into() };
        let a = (PathBuf::from("a.csv"), vec![ev(0, 0.1, "line 2"), ev(8, 0.2, "line 3")]);
        let b = (PathBuf::from("b.json"), vec![ev(16, 0.3, "list[0]"), ev(8, 0.2, "list[1]")]);
        assert_eq!(merge_events(&[a.clone(), b]).unwrap(), vec![(0, 0.1), (8, 0.2), (16, 0.3)]);
        let c = (PathBuf::from("c.json"), vec![ev(8, 0.25, "list[0]")]);
        let e = merge_events(&[a, c]).unwrap_err();
        assert!(
            e.to_string().contains("is 0.2 in a.csv (line 3) but 0.25 in c.json (list[0])"),
            "{e}"
        );
    }
}
