//! Parquet tests: CSV → Parquet → read round trip (exact values), the reader's schema and
//! row validation on files written by other tools, multi-file reading, window slicing, and
//! the shipped sample.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use gridsweep::candles::import::{import_files, InputFormat};
use gridsweep::candles::parquet_io::{read_parquet, write_parquet, WriteMeta, META_SYMBOL};
use gridsweep::candles::{CandleError, Candles, Columns};
use parquet::arrow::ArrowWriter;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gridsweep-tp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cols(start_ms: i64, n: usize) -> Columns {
    let mut c = Columns::with_capacity(n);
    for i in 0..n {
        let o = 50.0 + (i % 97) as f64 * 0.01;
        c.push(start_ms + i as i64 * 60_000, o, o + 0.07, o - 0.03, o + 0.01, i as f64 * 0.5);
    }
    c
}

fn write_cols(path: &Path, c: Columns, symbol: Option<&str>) -> Candles {
    let candles = Candles::try_new(c, symbol.map(str::to_string), path).unwrap();
    let meta = WriteMeta { symbol: symbol.map(str::to_string), source: "test".into(), zstd: false };
    write_parquet(path, &candles, &meta).unwrap();
    candles
}

/// Writes an arbitrary record batch with another writer's defaults (nullable fields, no
/// gridsweep metadata).
fn write_foreign(path: &Path, fields: Vec<(&str, ArrayRef)>) {
    let schema = Arc::new(Schema::new(
        fields.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>(),
    ));
    let batch =
        RecordBatch::try_new(schema.clone(), fields.into_iter().map(|(_, a)| a).collect()).unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn f64s(v: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}

fn good_foreign() -> Vec<(&'static str, ArrayRef)> {
    vec![
        ("ts_ms", Arc::new(Int64Array::from(vec![0, 60_000, 120_000])) as ArrayRef),
        ("open", f64s(&[10.0, 10.5, 11.0])),
        ("high", f64s(&[11.0, 11.5, 12.0])),
        ("low", f64s(&[9.0, 9.5, 10.0])),
        ("close", f64s(&[10.5, 11.0, 11.5])),
        ("volume", f64s(&[1.0, 2.0, 3.0])),
    ]
}

#[test]
fn test_round_trip_csv_to_parquet_exact() {
    let d = tmpdir("roundtrip");
    // Decimal strings whose f64s are not short: the round trip must keep every bit.
    let mut csv = String::from("open_time,open,high,low,close,volume,close_time,q,n,tb,tq,i\n");
    let rows = 70_000; // more than one row group
    for i in 0..rows {
        let o = 0.1 + (i % 1013) as f64 * 0.0003;
        csv += &format!(
            "{},{o:.4},{:.4},{:.4},{:.4},{}.{:03},0,0,0,0,0,0\n",
            1_700_000_000_000i64 + i as i64 * 60_000,
            o + 0.0007,
            o - 0.0002,
            o + 0.0001,
            i,
            i % 1000
        );
    }
    let src = d.join("RTUSDT-1m-2023-11.csv");
    std::fs::write(&src, &csv).unwrap();
    let imp = import_files(&[src], InputFormat::Auto, None).unwrap();
    let out = d.join("rt.parquet");
    write_parquet(
        &out,
        &imp.candles,
        &WriteMeta { symbol: imp.symbol.clone(), source: imp.source(), zstd: true },
    )
    .unwrap();
    let back = read_parquet(&out).unwrap();
    assert_eq!(back.len(), rows);
    assert_eq!(back.symbol(), Some("RTUSDT"));
    assert_eq!(back.fingerprint(), imp.candles.fingerprint());
    let lines: Vec<&str> = csv.lines().collect();
    for row in [0, 1, 65_535, 65_536, 65_537, rows - 1] {
        let f: Vec<&str> = lines[row + 1].split(',').collect();
        assert_eq!(back.ts_ms()[row], f[0].parse::<i64>().unwrap(), "row {row}");
        for (k, col) in
            [back.open(), back.high(), back.low(), back.close(), back.volume()].iter().enumerate()
        {
            assert_eq!(col[row].to_bits(), f[k + 1].parse::<f64>().unwrap().to_bits(), "row {row}");
        }
    }
    assert_eq!(back.into_columns(), imp.candles.into_columns());
    // No temporary file left behind.
    let names: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn test_metadata_and_types() {
    let d = tmpdir("meta");
    let p = d.join("m.parquet");
    write_cols(&p, cols(0, 10), Some("MUSDT"));
    let f = std::fs::File::open(&p).unwrap();
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let kv = b.metadata().file_metadata().key_value_metadata().unwrap().clone();
    let get = |k: &str| kv.iter().find(|x| x.key == k).and_then(|x| x.value.clone());
    assert_eq!(get(META_SYMBOL).as_deref(), Some("MUSDT"));
    assert_eq!(get("gridsweep.rows").as_deref(), Some("10"));
    assert_eq!(get("gridsweep.source").as_deref(), Some("test"));
    let s = b.schema();
    assert_eq!(s.field_with_name("ts_ms").unwrap().data_type(), &DataType::Int64);
    assert!(!s.field_with_name("close").unwrap().is_nullable());
    // Default: uncompressed PLAIN pages (the reader's fast path).
    let col = b.metadata().row_group(0).column(1);
    assert_eq!(col.compression(), parquet::basic::Compression::UNCOMPRESSED);
    assert!(col.encodings().any(|e| e == parquet::basic::Encoding::PLAIN));
}

#[test]
fn test_plain_zstd_and_foreign_encodings_read_back_identically() {
    let d = tmpdir("encodings");
    let c = cols(1_700_000_000_000, 150_000); // more than two row groups
    let plain = write_cols(&d.join("plain.parquet"), c.clone(), Some("EUSDT"));
    let candles = Candles::try_new(c.clone(), None, &d.join("z")).unwrap();
    let zp = d.join("zstd.parquet");
    let meta = WriteMeta { symbol: None, source: "test".into(), zstd: true };
    write_parquet(&zp, &candles, &meta).unwrap();
    let f = std::fs::File::open(&zp).unwrap();
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    assert!(matches!(
        b.metadata().row_group(0).column(1).compression(),
        parquet::basic::Compression::ZSTD(_)
    ));
    // Another writer's defaults: dictionary pages, delta-encoded times (the typed-reader path).
    let fp = d.join("foreign.parquet");
    let schema = Arc::new(Schema::new(
        ["ts_ms", "open", "high", "low", "close", "volume"]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Field::new(*n, if i == 0 { DataType::Int64 } else { DataType::Float64 }, false)
            })
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(arrow_array::Int64Array::from(c.ts_ms.clone())),
        Arc::new(arrow_array::Float64Array::from(c.open.clone())),
        Arc::new(arrow_array::Float64Array::from(c.high.clone())),
        Arc::new(arrow_array::Float64Array::from(c.low.clone())),
        Arc::new(arrow_array::Float64Array::from(c.close.clone())),
        Arc::new(arrow_array::Float64Array::from(c.volume.clone())),
    ];
    let props = parquet::file::properties::WriterProperties::builder()
        .set_column_encoding("ts_ms".into(), parquet::basic::Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled("ts_ms".into(), false)
        .set_max_row_group_row_count(Some(50_000))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&fp).unwrap(),
        schema.clone(),
        Some(props),
    )
    .unwrap();
    w.write(&RecordBatch::try_new(schema, arrays).unwrap()).unwrap();
    w.close().unwrap();
    for p in [&zp, &fp] {
        let r = read_parquet(p).unwrap();
        assert_eq!(r.ts_ms(), plain.ts_ms(), "{}", p.display());
        for (a, b) in [
            (r.open(), plain.open()),
            (r.high(), plain.high()),
            (r.low(), plain.low()),
            (r.close(), plain.close()),
            (r.volume(), plain.volume()),
        ] {
            assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()), "{}", p.display());
        }
    }
    assert_eq!(read_parquet(&d.join("plain.parquet")).unwrap().fingerprint(), plain.fingerprint());
}

#[test]
fn test_foreign_file_accepted_and_checked() {
    let d = tmpdir("foreign");
    let p = d.join("ok.parquet");
    let mut fields = good_foreign();
    fields.push(("turnover", f64s(&[1.0, 1.0, 1.0]))); // extra columns are ignored
    write_foreign(&p, fields);
    let c = read_parquet(&p).unwrap();
    assert_eq!(c.close(), &[10.5, 11.0, 11.5]);
    assert_eq!(c.symbol(), None);

    let missing = d.join("missing.parquet");
    write_foreign(&missing, good_foreign().into_iter().filter(|(n, _)| *n != "low").collect());
    let e = read_parquet(&missing).unwrap_err();
    assert!(matches!(e, CandleError::MissingColumn { column: "low", .. }), "{e}");
    assert!(e.to_string().contains("missing.parquet: column `low` is missing"), "{e}");

    let wrong = d.join("wrong.parquet");
    let mut fields = good_foreign();
    fields[4] = ("close", Arc::new(Float32Array::from(vec![10.5f32, 11.0, 11.5])));
    write_foreign(&wrong, fields);
    let e = read_parquet(&wrong).unwrap_err().to_string();
    assert!(e.contains("wrong.parquet: column `close` has type Float32, expected Float64"), "{e}");

    let nulls = d.join("nulls.parquet");
    let mut fields = good_foreign();
    fields[2] = ("high", Arc::new(Float64Array::from(vec![Some(11.0), None, Some(12.0)])));
    write_foreign(&nulls, fields);
    let e = read_parquet(&nulls).unwrap_err().to_string();
    assert!(e.contains("nulls.parquet, row 2: column `high` is null"), "{e}");

    let unsorted = d.join("unsorted.parquet");
    let mut fields = good_foreign();
    fields[0] = ("ts_ms", Arc::new(Int64Array::from(vec![0, 120_000, 60_000])));
    write_foreign(&unsorted, fields);
    let e = read_parquet(&unsorted).unwrap_err().to_string();
    assert!(e.contains("unsorted.parquet, row 3: timestamp 60000"), "{e}");

    let bad_high = d.join("badhigh.parquet");
    let mut fields = good_foreign();
    fields[2] = ("high", f64s(&[11.0, 10.0, 12.0]));
    write_foreign(&bad_high, fields);
    let e = read_parquet(&bad_high).unwrap_err().to_string();
    assert!(e.contains("badhigh.parquet, row 2: high 10 is below max(open 10.5, close 11)"), "{e}");

    let empty = d.join("empty.parquet");
    write_foreign(&empty, good_foreign().into_iter().map(|(n, a)| (n, a.slice(0, 0))).collect());
    assert!(matches!(read_parquet(&empty).unwrap_err(), CandleError::Empty { .. }));

    let garbage = d.join("garbage.parquet");
    std::fs::write(&garbage, b"definitely not parquet").unwrap();
    let e = read_parquet(&garbage).unwrap_err();
    assert!(matches!(e, CandleError::Parquet { .. }) && e.to_string().contains("garbage.parquet"));
    let zero = d.join("zero.parquet");
    std::fs::write(&zero, b"").unwrap();
    assert!(matches!(read_parquet(&zero).unwrap_err(), CandleError::Parquet { .. }));
    let e = read_parquet(&d.join("absent.parquet")).unwrap_err();
    assert!(matches!(e, CandleError::NotFound { .. }));
}

#[test]
fn test_open_several_files_in_time_order() {
    let d = tmpdir("multi");
    let (a, b, c) = (d.join("a.parquet"), d.join("b.parquet"), d.join("c.parquet"));
    write_cols(&a, cols(0, 5), Some("S"));
    write_cols(&b, cols(600_000, 5), Some("S"));
    write_cols(&c, cols(1_200_000, 3), None);
    let all = Candles::open_parquet(&[&c, &a, &b]).unwrap();
    assert_eq!(all.len(), 13);
    assert!(all.ts_ms().windows(2).all(|w| w[0] < w[1]));
    assert_eq!(all.symbol(), Some("S"));
    assert_eq!(all.gaps().missing, 5 + 5);

    let o = d.join("overlap.parquet");
    write_cols(&o, cols(240_000, 3), Some("S"));
    let e = Candles::open_parquet(&[&b, &o, &a]).unwrap_err().to_string();
    assert!(e.contains("a.parquet and ") && e.contains("overlap.parquet overlap"), "{e}");

    let x = d.join("x.parquet");
    write_cols(&x, cols(5_000_000, 3), Some("OTHER"));
    let e = Candles::open_parquet(&[&a, &x]).unwrap_err();
    assert!(matches!(e, CandleError::SymbolMismatch { .. }), "{e}");
    let none: [&Path; 0] = [];
    assert!(matches!(Candles::open_parquet(&none).unwrap_err(), CandleError::NoInput));
}

#[test]
fn test_window_slicing() {
    let d = tmpdir("window");
    let p = d.join("w.parquet");
    write_cols(&p, cols(0, 100), None);
    let c = Arc::new(gridsweep::candles::open(&[&p]).unwrap());
    let w = c.window(Some(60_000 * 10), Some(60_000 * 20));
    assert_eq!(w.len(), 10);
    assert_eq!(w.ts_ms[0], 600_000);
    assert_eq!(*w.ts_ms.last().unwrap(), 19 * 60_000);
    assert_eq!(w.close[0], c.close()[10]);
    // Bounds between candles round inwards on the start, outwards-exclusive on the end.
    let w = c.window(Some(600_001), Some(1_200_001));
    assert_eq!((w.ts_ms[0], w.len()), (660_000, 10));
    assert_eq!(c.window(None, None).len(), 100);
    assert_eq!(c.window(Some(i64::MIN), Some(i64::MAX)).len(), 100);
    assert!(c.window(Some(10_000_000), None).is_empty());
    assert!(c.window(Some(600_000), Some(600_000)).is_empty());
    assert!(c.window(Some(900_000), Some(600_000)).is_empty());
}

#[test]
fn test_shipped_sample() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/LTCUSDT-1m-2026-02.parquet");
    let c = read_parquet(&p).unwrap();
    assert_eq!(c.len(), 28 * 1440);
    assert_eq!(c.symbol(), Some("LTCUSDT"));
    assert_eq!(c.first_ts_ms(), Some(1_769_904_000_000)); // 2026-02-01T00:00:00Z
    assert_eq!(c.last_ts_ms(), Some(1_769_904_000_000 + (28 * 1440 - 1) * 60_000));
    assert!(c.gaps().is_empty());
    assert_eq!((c.open()[0], c.high()[0], c.low()[0], c.close()[0]), (59.49, 59.49, 59.42, 59.45));
}

/// The shipped sample is the import of its source CSV in `../shared/data` (fails when absent).
#[test]
#[ignore = "needs ../shared/data (run by .ci/run when present)"]
fn test_shipped_sample_matches_its_source_csv() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/LTCUSDT-1m-2026-02.parquet");
    let c = read_parquet(&p).unwrap();
    let csv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/candles/binance-usdm-1m/LTCUSDT-1m-2026-02.csv");
    assert!(
        csv.is_file(),
        "{} not found: this test needs the shared data set beside the repository",
        csv.display()
    );
    let imp = import_files(&[csv], InputFormat::Auto, None).unwrap();
    assert_eq!(imp.candles.fingerprint(), c.fingerprint());
}
