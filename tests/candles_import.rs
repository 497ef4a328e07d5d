//! Importer tests: Binance CSV and Bybit JSON to validated candles, multi-file order, every
//! validation error (file and line in the message), gap reporting.

use std::path::{Path, PathBuf};

use gridsweep::candles::import::{import_files, InputFormat};
use gridsweep::candles::{CandleError, Loc, Problem};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gridsweep-t-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `../shared/data`; panics (fails the test) when it is absent. Only `#[ignore]`d tests,
/// run by `.ci/run` when `../shared` exists, call this.
fn shared() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        p.is_dir(),
        "{} not found: this test needs the shared data set beside the repository",
        p.display()
    );
    p
}

/// A small fixture kept in the repository (`tests/fixtures/`); panics when it is missing.
fn fixture(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel);
    assert!(p.is_file(), "fixture {} is missing; restore it from git", p.display());
    p
}

const HEADER: &str = "open_time,open,high,low,close,volume,close_time,quote_volume,count,\
                      taker_buy_volume,taker_buy_quote_volume,ignore";

/// A Binance-style CSV of `n` 1-minute rows from `start_ms`, header included.
fn csv_rows(start_ms: i64, n: usize) -> String {
    let mut s = format!("{HEADER}\n");
    for i in 0..n {
        let t = start_ms + i as i64 * 60_000;
        let o = 100.0 + i as f64 * 0.25;
        s += &format!(
            "{t},{o:.2},{:.2},{:.2},{:.2},12.5,{},1,1,1,1,0\n",
            o + 1.0,
            o - 1.0,
            o + 0.5,
            t + 59_999
        );
    }
    s
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn import_err(dir: &Path, name: &str, text: &str) -> (CandleError, String) {
    let p = write(dir, name, text);
    let e = import_files(&[p], InputFormat::Auto, None).unwrap_err();
    let msg = e.to_string();
    (e, msg)
}

#[test]
fn test_multi_file_concatenation_in_time_order() {
    let d = tmpdir("concat");
    let a = write(&d, "XUSDT-1m-2026-01.csv", &csv_rows(0, 3));
    let b = write(&d, "XUSDT-1m-2026-02.csv", &csv_rows(180_000, 2));
    // Given in reverse order: still imported in time order.
    let imp = import_files(&[b.clone(), a.clone()], InputFormat::Auto, None).unwrap();
    assert_eq!(imp.candles.ts_ms(), &[0, 60_000, 120_000, 180_000, 240_000]);
    assert_eq!(imp.symbol.as_deref(), Some("XUSDT"));
    assert_eq!(imp.files[0].path, a);
    assert_eq!(imp.files[1].path, b);
    assert!(imp.gaps.is_empty());
    assert_eq!(imp.source(), "binance-csv:XUSDT-1m-2026-01.csv,binance-csv:XUSDT-1m-2026-02.csv");
}

#[test]
fn test_overlapping_files_error_names_both() {
    let d = tmpdir("overlap");
    let a = write(&d, "XUSDT-a.csv", &csv_rows(0, 3));
    let b = write(&d, "XUSDT-b.csv", &csv_rows(120_000, 2));
    let e = import_files(&[b, a], InputFormat::Auto, None).unwrap_err().to_string();
    assert!(e.contains("XUSDT-a.csv and ") && e.contains("XUSDT-b.csv overlap"), "{e}");
    let d2 = tmpdir("dupfile");
    let a = write(&d2, "XUSDT-a.csv", &csv_rows(0, 3));
    let e = import_files(&[a.clone(), a], InputFormat::Auto, None).unwrap_err();
    assert!(matches!(e, CandleError::Overlap { .. }), "{e}");
}

#[test]
fn test_symbol_mismatch_unless_given() {
    let d = tmpdir("symbols");
    let a = write(&d, "AUSDT-1m-2026-01.csv", &csv_rows(0, 2));
    let b = write(&d, "BUSDT-1m-2026-01.csv", &csv_rows(120_000, 2));
    let e = import_files(&[a.clone(), b.clone()], InputFormat::Auto, None).unwrap_err();
    assert!(matches!(e, CandleError::SymbolMismatch { .. }), "{e}");
    let imp = import_files(&[a, b], InputFormat::Auto, Some("ZUSDT")).unwrap();
    assert_eq!(imp.symbol.as_deref(), Some("ZUSDT"));
}

#[test]
fn test_every_csv_validation_error_names_file_and_line() {
    let d = tmpdir("errors");
    let good = csv_rows(0, 4);
    let lines: Vec<&str> = good.lines().collect();
    // Line 3 is the second data row (t = 60 000, o = 100.25, h = 101.25, l = 99.25, c = 100.75).
    let with_line3 = |new: &str| {
        let mut l = lines.clone();
        l[2] = new;
        l.join("\n") + "\n"
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unsorted",
            with_line3("240000,100.25,101.25,99.25,100.75,1,0,1,1,1,1,0"),
            "line 4: timestamp 120000",
        ),
        (
            "duplicate",
            with_line3("0,100.25,101.25,99.25,100.75,1,0,1,1,1,1,0"),
            "line 3: duplicate timestamp 0 (1970-01-01T00:00:00), also at line 2",
        ),
        (
            "high",
            with_line3("60000,100.25,100.5,99.25,100.75,1,0,1,1,1,1,0"),
            "line 3: high 100.5 is below max(open 100.25, close 100.75)",
        ),
        (
            "low",
            with_line3("60000,100.25,101.25,100.5,100.75,1,0,1,1,1,1,0"),
            "line 3: low 100.5 is above min(open 100.25, close 100.75)",
        ),
        (
            "zero",
            with_line3("60000,0,101.25,99.25,100.75,1,0,1,1,1,1,0"),
            "line 3: column `open` must be > 0 (was 0)",
        ),
        (
            "negative",
            with_line3("60000,100.25,101.25,-1,100.75,1,0,1,1,1,1,0"),
            "line 3: column `low` must be > 0 (was -1)",
        ),
        (
            "nan",
            with_line3("60000,100.25,NaN,99.25,100.75,1,0,1,1,1,1,0"),
            "line 3: column `high` is not finite (NaN)",
        ),
        (
            "inf",
            with_line3("60000,100.25,inf,99.25,100.75,1,0,1,1,1,1,0"),
            "line 3: column `high` is not finite (inf)",
        ),
        (
            "malformed",
            with_line3("60000,100.25,101.2.5,99.25,100.75,1,0,1,1,1,1,0"),
            "line 3: column `high`: \"101.2.5\" is not a valid number",
        ),
        (
            "badts",
            with_line3("6e4,100.25,101.25,99.25,100.75,1,0,1,1,1,1,0"),
            "line 3: column `open_time`: \"6e4\" is not a valid number",
        ),
        (
            "columns",
            with_line3("60000,100.25,101.25,99.25,100.75,1"),
            "line 3: expected 12 comma-separated fields, found 6",
        ),
        (
            "volume",
            with_line3("60000,100.25,101.25,99.25,100.75,-3,0,1,1,1,1,0"),
            "line 3: column `volume` must be >= 0 (was -3)",
        ),
    ];
    for (name, text, want) in cases {
        let file = format!("{name}.csv");
        let (e, msg) = import_err(&d, &file, &text);
        assert!(matches!(e, CandleError::Invalid { .. }), "{name}: {e:?}");
        assert!(msg.contains(&file), "{name}: {msg}");
        assert!(msg.contains(want), "{name}: {msg}\n  wanted: {want}");
    }
    // Too few columns on the first line.
    let (_, msg) = import_err(&d, "short.csv", "1,2,3\n");
    assert!(
        msg.ends_with("short.csv, line 1: expected 6 comma-separated fields, found 3"),
        "{msg}"
    );
    // No rows at all.
    let (e, _) = import_err(&d, "empty.csv", &format!("{HEADER}\n"));
    assert!(matches!(e, CandleError::Empty { .. }), "{e:?}");
    // Missing file.
    let e = import_files(&[d.join("nope.csv")], InputFormat::Auto, None).unwrap_err();
    assert!(matches!(e, CandleError::Io { .. }) && e.to_string().contains("nope.csv"), "{e}");
}

#[test]
fn test_error_location_is_typed() {
    let d = tmpdir("typed");
    let text = csv_rows(0, 3).replace("60000,100.25,101.25", "60000,100.25,99.00");
    let (e, _) = import_err(&d, "t.csv", &text);
    match e {
        CandleError::Invalid { loc, problem, .. } => {
            assert_eq!(loc, Loc::Line(3));
            assert!(matches!(problem, Problem::HighBelowBody { .. }));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn test_gaps_reported_not_fatal() {
    let d = tmpdir("gaps");
    let text = csv_rows(0, 10);
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| ![3, 4, 8].contains(i)) // drop t = 2, 3 and 7 minutes
        .map(|(_, l)| l)
        .collect();
    let p = write(&d, "GUSDT-1m.csv", &(kept.join("\n") + "\n"));
    let imp = import_files(&[p], InputFormat::Auto, None).unwrap();
    assert_eq!(imp.candles.len(), 7);
    assert_eq!((imp.gaps.gaps, imp.gaps.missing), (2, 3));
    assert_eq!(imp.gaps.first[0].after_ms, 60_000);
    assert_eq!(imp.gaps.first[0].missing, 2);
    let shown = imp.gaps.to_string();
    assert!(shown.starts_with("2 gap(s), 3 candle(s) missing"), "{shown}");
    assert!(shown.contains("2 missing after 1970-01-01T00:01:00"), "{shown}");
}

#[test]
fn test_headerless_csv_equals_headed() {
    let d = tmpdir("headerless");
    let text = csv_rows(0, 5);
    let a = write(&d, "HUSDT-1m-a.csv", &text);
    let b = write(&d, "HUSDT-1m-b.csv", text.split_once('\n').unwrap().1);
    let ia = import_files(&[a], InputFormat::BinanceCsv, None).unwrap();
    let ib = import_files(&[b], InputFormat::BinanceCsv, None).unwrap();
    assert_eq!(ia.candles.into_columns(), ib.candles.into_columns());
}

#[test]
#[ignore = "needs ../shared/data (run by .ci/run when present)"]
fn test_real_binance_month_matches_csv_text() {
    let p = shared().join("candles/binance-usdm-1m/LTCUSDT-1m-2026-02.csv");
    let imp = import_files(std::slice::from_ref(&p), InputFormat::Auto, None).unwrap();
    assert_eq!(imp.candles.len(), 28 * 1440);
    assert_eq!(imp.symbol.as_deref(), Some("LTCUSDT"));
    assert!(imp.gaps.is_empty());
    let text = std::fs::read_to_string(&p).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for row in [0, 1, 777, 20_000, 40_319] {
        let f: Vec<&str> = lines[row + 1].split(',').collect();
        assert_eq!(imp.candles.ts_ms()[row], f[0].parse::<i64>().unwrap());
        assert_eq!(imp.candles.open()[row], f[1].parse::<f64>().unwrap());
        assert_eq!(imp.candles.high()[row], f[2].parse::<f64>().unwrap());
        assert_eq!(imp.candles.low()[row], f[3].parse::<f64>().unwrap());
        assert_eq!(imp.candles.close()[row], f[4].parse::<f64>().unwrap());
        assert_eq!(imp.candles.volume()[row], f[5].parse::<f64>().unwrap());
    }
}

#[test]
fn test_bybit_real_samples() {
    let docs = fixture("bybit/kline_sample_docs.json");
    let imp = import_files(&[docs], InputFormat::Auto, None).unwrap();
    // Newest first in the file; ascending after import.
    assert_eq!(imp.candles.ts_ms(), &[1_670_601_600_000, 1_670_605_200_000, 1_670_608_800_000]);
    assert_eq!(imp.candles.open(), &[17_086.5, 17_071.5, 17_071.0]);
    assert_eq!(imp.candles.close(), &[17_071.5, 17_071.0, 17_055.5]);
    assert_eq!(imp.candles.volume(), &[6356.0, 4177.0, 268_611.0]);
    assert_eq!(imp.symbol.as_deref(), Some("BTCUSD"));
    assert_eq!(imp.gaps.interval_ms, 3_600_000);
    assert!(imp.gaps.is_empty());

    let nt = fixture("bybit/nautilus_http_get_klines_linear.json");
    let imp = import_files(&[nt], InputFormat::BybitJson, None).unwrap();
    assert_eq!(imp.candles.ts_ms(), &[1_709_891_679_000]);
    assert_eq!(imp.candles.high(), &[27_460.0]);
    assert_eq!(imp.symbol.as_deref(), Some("BTCUSDT"));
}

#[test]
fn test_bybit_json_errors_name_file_and_index() {
    let d = tmpdir("bybitbad");
    let good = r#"{"retCode":0,"retMsg":"OK","result":{"symbol":"BTCUSDT","category":"linear","list":[
        ["1709891739000","27455","27470","27450","27460","1.5","41190"],
        ["1709891679000","27450","27460","27440","27455","123.45","3390000"]]}}"#;
    let p = write(&d, "ok.json", good);
    let imp = import_files(&[p], InputFormat::Auto, None).unwrap();
    assert_eq!(imp.candles.ts_ms(), &[1_709_891_679_000, 1_709_891_739_000]);
    let (_, msg) = import_err(&d, "bad.json", &good.replace("\"27470\"", "\"27440\""));
    assert!(
        msg.contains("bad.json, list[0]: high 27440 is below max(open 27455, close 27460)"),
        "{msg}"
    );
    let (_, msg) = import_err(&d, "num.json", &good.replace("\"123.45\"", "\"12x\""));
    assert!(
        msg.contains("num.json, list[1]: column `volume`: \"12x\" is not a valid number"),
        "{msg}"
    );
    let (e, msg) = import_err(&d, "shape.json", r#"{"result":{"rows":[]}}"#);
    assert!(matches!(e, CandleError::Json { .. }) && msg.contains("shape.json"), "{msg}");
    let (e, _) = import_err(&d, "trunc.json", &good[..50]);
    assert!(matches!(e, CandleError::Json { .. }));
    let (_, msg) = import_err(&d, "dup.json", &good.replace("1709891739000", "1709891679000"));
    assert!(
        msg.contains("dup.json, list[1]: duplicate timestamp")
            || msg.contains("dup.json, list[0]: duplicate timestamp"),
        "{msg}"
    );
}
