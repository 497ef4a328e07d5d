//! Importers: Binance USD-M monthly kline CSV dumps and Bybit `/v5/market/kline` JSON
//! responses, to validated [`Columns`]; several files are combined in time order.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::{CandleError, Loc, Problem};
use super::store::{self, Candles, Columns};
use super::validate::{self, GapReport};

/// Input file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// Binance kline CSV (`open_time,open,high,low,close,volume,close_time,…`), header optional.
    BinanceCsv,
    /// Bybit `/v5/market/kline` response JSON (`result.list`, newest first), or a bare list.
    BybitJson,
    /// Decide per file: `.json` or text starting with `{`/`[` is Bybit JSON, else Binance CSV.
    Auto,
}

impl InputFormat {
    /// The format's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::BinanceCsv => "binance-csv",
            InputFormat::BybitJson => "bybit-json",
            InputFormat::Auto => "auto",
        }
    }
}

/// One input file as imported.
#[derive(Clone, Debug)]
pub struct ImportedFile {
    /// The file.
    pub path: PathBuf,
    /// The format it was read as (never `Auto`).
    pub format: InputFormat,
    /// Candles read from it.
    pub rows: usize,
    /// Symbol named by the file (Binance file name, Bybit `result.symbol`), if any.
    pub symbol: Option<String>,
}

/// The result of [`import_files`].
#[derive(Debug)]
pub struct Imported {
    /// All candles, in time order, validated.
    pub candles: Candles,
    /// The symbol given or inferred, if any.
    pub symbol: Option<String>,
    /// Missing candles (not an error).
    pub gaps: GapReport,
    /// Per-file details, in time order.
    pub files: Vec<ImportedFile>,
}

impl Imported {
    /// A one-line description of the inputs for the Parquet `gridsweep.source` metadata,
    /// e.g. `binance-csv:LTCUSDT-1m-2026-02.csv`.
    pub fn source(&self) -> String {
        self.files
            .iter()
            .map(|f| {
                let name = f.path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
                format!("{}:{}", f.format.name(), name)
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Reads, validates and combines `inputs` (any order; they are sorted by first timestamp and
/// must not overlap). `symbol` overrides whatever the files name; without it the files must
/// agree.
///
/// # Errors
/// The first file or row error ([`CandleError::Invalid`] names file and line/row),
/// [`CandleError::Overlap`], [`CandleError::SymbolMismatch`], [`CandleError::NoInput`].
pub fn import_files(
    inputs: &[PathBuf],
    format: InputFormat,
    symbol: Option<&str>,
) -> Result<Imported, CandleError> {
    let mut parts = Vec::with_capacity(inputs.len());
    let mut files = Vec::with_capacity(inputs.len());
    for path in inputs {
        let text = std::fs::read_to_string(path).map_err(|e| CandleError::io(path, e))?;
        let fmt = match format {
            InputFormat::Auto => detect_format(path, &text),
            f => f,
        };
        let (cols, sym) = match fmt {
            InputFormat::BybitJson => parse_bybit_json(path, &text)?,
            _ => (parse_binance_csv(path, &text)?, symbol_from_file_name(path)),
        };
        if cols.is_empty() {
            return Err(CandleError::Empty { path: path.clone() });
        }
        files.push((
            cols.ts_ms[0],
            ImportedFile { path: path.clone(), format: fmt, rows: cols.len(), symbol: sym.clone() },
        ));
        // An explicit symbol overrides (and so silences disagreement between) the files'.
        parts.push((path.clone(), cols, if symbol.is_some() { None } else { sym }));
    }
    let (cols, inferred) = store::concat_parts(parts)?;
    files.sort_by_key(|(t, _)| *t);
    let symbol = symbol.map(str::to_string).or(inferred);
    let gaps = validate::find_gaps(&cols.ts_ms, validate::infer_interval(&cols.ts_ms));
    Ok(Imported {
        candles: Candles::from_validated(cols, symbol.clone()),
        symbol,
        gaps,
        files: files.into_iter().map(|(_, f)| f).collect(),
    })
}

/// Guesses the format of one file from its extension, then its first non-blank character.
pub fn detect_format(path: &Path, text: &str) -> InputFormat {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("json") => InputFormat::BybitJson,
        Some("csv") => InputFormat::BinanceCsv,
        _ => match text.trim_start().chars().next() {
            Some('{' | '[') => InputFormat::BybitJson,
            _ => InputFormat::BinanceCsv,
        },
    }
}

/// The symbol in a Binance dump's file name (`LTCUSDT-1m-2026-02.csv` → `LTCUSDT`): the part
/// before the first `-`, when it is upper-case letters and digits.
pub fn symbol_from_file_name(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let sym = stem.split('-').next()?;
    let ok = sym.len() >= 2
        && sym.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && sym.bytes().any(|b| b.is_ascii_uppercase());
    ok.then(|| sym.to_string())
}

/// Binance switched some dumps to microsecond times; anything past year 5000 in ms is µs.
const MICROS_THRESHOLD: i64 = 100_000_000_000_000;

fn parse_ts(text: &str) -> Option<i64> {
    let t: i64 = text.trim().parse().ok()?;
    Some(if t >= MICROS_THRESHOLD { t.div_euclid(1000) } else { t })
}

fn parse_price(column: &'static str, text: &str) -> Result<f64, Problem> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| Problem::BadNumber { column, text: text.chars().take(40).collect() })
}

/// Parses a Binance kline CSV (header optional; blank lines skipped; at least six fields,
/// every row as many as the first) and validates it, naming 1-based lines in errors.
///
/// # Errors
/// [`CandleError::Invalid`] with [`Loc::Line`] for a malformed, unordered or invalid row.
pub fn parse_binance_csv(path: &Path, text: &str) -> Result<Columns, CandleError> {
    let bad = |line: usize, problem| CandleError::invalid(path, Loc::Line(line as u64), problem);
    let mut cols = Columns::with_capacity(text.len() / 90);
    let mut expected: Option<usize> = None;
    let mut prev: Option<(i64, usize)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = [""; 6];
        let mut count = 0;
        for f in line.split(',') {
            if count < 6 {
                fields[count] = f;
            }
            count += 1;
        }
        let expect = match expected {
            Some(e) => e,
            None => {
                // The first non-blank line: a header when neither of its first two fields
                // is a number.
                let is_header = fields[0].trim().parse::<i64>().is_err()
                    && fields[1].trim().parse::<f64>().is_err();
                if count < 6 {
                    return Err(bad(line_no, Problem::ColumnCount { expected: 6, found: count }));
                }
                expected = Some(count);
                if is_header {
                    continue;
                }
                count
            }
        };
        if count != expect {
            return Err(bad(line_no, Problem::ColumnCount { expected: expect, found: count }));
        }
        let ts = parse_ts(fields[0]).ok_or_else(|| {
            bad(
                line_no,
                Problem::BadNumber {
                    column: "open_time",
                    text: fields[0].chars().take(40).collect(),
                },
            )
        })?;
        let num = |k: usize, c| parse_price(c, fields[k]).map_err(|p| bad(line_no, p));
        let (o, h, l, c, v) =
            (num(1, "open")?, num(2, "high")?, num(3, "low")?, num(4, "close")?, num(5, "volume")?);
        validate::check_row(o, h, l, c, v).map_err(|p| bad(line_no, p))?;
        if let Some((prev_ts, prev_line)) = prev {
            if ts == prev_ts {
                return Err(bad(
                    line_no,
                    Problem::Duplicate { ts_ms: ts, other: Loc::Line(prev_line as u64) },
                ));
            }
            if ts < prev_ts {
                return Err(bad(line_no, Problem::NotIncreasing { prev_ms: prev_ts, ts_ms: ts }));
            }
        }
        prev = Some((ts, line_no));
        cols.push(ts, o, h, l, c, v);
    }
    Ok(cols)
}

/// Parses a Bybit `/v5/market/kline` response (`{"retCode":0,"result":{"symbol":…,
/// "list":[[startTime, open, high, low, close, volume, turnover], …]}}`, newest first), or a
/// `{"list": […]}` object, or a bare list; fields may be strings or numbers. Rows are sorted
/// ascending; errors name the 0-based `list[i]` index in the file's order.
///
/// # Errors
/// [`CandleError::Json`] for a shape that is not a kline response (or a non-zero `retCode`),
/// [`CandleError::Invalid`] for a bad entry or a duplicate timestamp.
pub fn parse_bybit_json(path: &Path, text: &str) -> Result<(Columns, Option<String>), CandleError> {
    let json_err = |message: String| CandleError::Json { path: path.to_path_buf(), message };
    let v: Value =
        serde_json::from_str(text).map_err(|e| json_err(format!("not valid JSON: {e}")))?;
    if let Some(code) = v.get("retCode") {
        if code.as_i64() != Some(0) {
            let msg = v.get("retMsg").and_then(Value::as_str).unwrap_or("");
            return Err(json_err(format!("Bybit returned retCode {code} ({msg:?}), not candles")));
        }
    }
    let result = v.get("result").unwrap_or(&v);
    let symbol = result.get("symbol").and_then(Value::as_str).map(str::to_string);
    let list = match result {
        Value::Array(a) => a,
        _ => result.get("list").and_then(Value::as_array).ok_or_else(|| {
            json_err("expected a Bybit kline response with `result.list` (or a bare list)".into())
        })?,
    };
    let mut rows: Vec<(i64, usize, [f64; 5])> = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let bad = |p| CandleError::invalid(path, Loc::ListIndex(i as u64), p);
        let fields = entry
            .as_array()
            .ok_or_else(|| bad(Problem::JsonFieldCount { expected: 6, found: 0 }))?;
        if fields.len() < 6 {
            return Err(bad(Problem::JsonFieldCount { expected: 6, found: fields.len() }));
        }
        let text_of = |k: usize| match &fields[k] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let ts = parse_ts(&text_of(0)).ok_or_else(|| {
            bad(Problem::BadNumber {
                column: "startTime",
                text: text_of(0).chars().take(40).collect(),
            })
        })?;
        let mut px = [0.0; 5];
        for (k, column) in ["open", "high", "low", "close", "volume"].into_iter().enumerate() {
            px[k] = parse_price(column, &text_of(k + 1)).map_err(bad)?;
        }
        validate::check_row(px[0], px[1], px[2], px[3], px[4]).map_err(bad)?;
        rows.push((ts, i, px));
    }
    rows.sort_by_key(|r| r.0);
    let mut cols = Columns::with_capacity(rows.len());
    for (k, (ts, i, px)) in rows.iter().enumerate() {
        if k > 0 && rows[k - 1].0 == *ts {
            return Err(CandleError::invalid(
                path,
                Loc::ListIndex(*i as u64),
                Problem::Duplicate { ts_ms: *ts, other: Loc::ListIndex(rows[k - 1].1 as u64) },
            ));
        }
        cols.push(*ts, px[0], px[1], px[2], px[3], px[4]);
    }
    Ok((cols, symbol))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "open_time,open,high,low,close,volume,close_time\n\
        0,10,11,9,10.5,1,59999\n\
        60000,10.5,12,10,11,2,119999\n";

    #[test]
    fn test_csv_with_and_without_header() {
        let c = parse_binance_csv(Path::new("a.csv"), CSV).unwrap();
        assert_eq!(c.ts_ms, vec![0, 60_000]);
        assert_eq!(c.close, vec![10.5, 11.0]);
        let no_header = CSV.split_once('\n').unwrap().1.replace('\n', "\r\n");
        assert_eq!(parse_binance_csv(Path::new("a.csv"), &no_header).unwrap(), c);
    }

    #[test]
    fn test_csv_errors_name_line() {
        let text = CSV.replace("60000,10.5,12", "60000,10.5,1x2");
        let err = parse_binance_csv(Path::new("a.csv"), &text).unwrap_err().to_string();
        assert_eq!(err, "a.csv, line 3: column `high`: \"1x2\" is not a valid number");
        let text = CSV.replace(",119999", "");
        let err = parse_binance_csv(Path::new("a.csv"), &text).unwrap_err().to_string();
        assert!(err.contains("line 3: expected 7 comma-separated fields, found 6"), "{err}");
    }

    #[test]
    fn test_microsecond_times_become_ms() {
        assert_eq!(parse_ts("1735689600000000"), Some(1_735_689_600_000));
        assert_eq!(parse_ts("1735689600000"), Some(1_735_689_600_000));
    }

    #[test]
    fn test_symbol_from_file_name() {
        assert_eq!(
            symbol_from_file_name(Path::new("/x/LTCUSDT-1m-2026-02.csv")).as_deref(),
            Some("LTCUSDT")
        );
        assert_eq!(symbol_from_file_name(Path::new("candles.csv")), None);
    }

    #[test]
    fn test_bybit_json_sorted_ascending_and_bare_list() {
        let j = r#"{"retCode":0,"result":{"symbol":"BTCUSDT","list":[
            ["120000","2","3","1","2.5","7","1"],["60000","1","2","1","2","5","1"]]}}"#;
        let (c, s) = parse_bybit_json(Path::new("k.json"), j).unwrap();
        assert_eq!(c.ts_ms, vec![60_000, 120_000]);
        assert_eq!(s.as_deref(), Some("BTCUSDT"));
        let (c2, s2) =
            parse_bybit_json(Path::new("k.json"), r#"[[60000,1,2,1,2,5],[120000,2,3,1,2.5,7]]"#)
                .unwrap();
        assert_eq!((c2, s2), (c, None));
    }

    #[test]
    fn test_bybit_json_errors() {
        let err = parse_bybit_json(Path::new("k.json"), r#"{"retCode":10001,"retMsg":"bad"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("retCode 10001"), "{err}");
        let err = parse_bybit_json(Path::new("k.json"), r#"[["1","2","3"]]"#).unwrap_err();
        assert!(err.to_string().contains("list[0]"), "{err}");
        // A JSON entry is described as JSON, not as comma-separated fields.
        let msg = err.to_string();
        assert!(msg.contains("expected an array of at least 6 values"), "{msg}");
        assert!(!msg.contains("comma-separated"), "{msg}");
        let err = parse_bybit_json(Path::new("k.json"), r#"[{"a":1}]"#).unwrap_err().to_string();
        assert!(err.contains("found 0") && !err.contains("comma-separated"), "{err}");
        let err = parse_bybit_json(
            Path::new("k.json"),
            r#"[["60000","1","2","1","2","5"],["60000","1","2","1","2","5"]]"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("duplicate timestamp 60000"), "{err}");
    }
}
