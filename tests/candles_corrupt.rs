//! Issue 14, candle files that are not what they claim: footers whose row counts or byte
//! ranges do not fit the file (item 1: a claim of 2^62 rows panicked, 2^40 aborted on an
//! 8.8 TB allocation), truncated files, files of another kind given as candles (CSV, JSON,
//! a Binance zip), relative paths not found, and the gap summary of a candle window.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use gridsweep::candles::parquet_io::{read_parquet, write_parquet, WriteMeta};
use gridsweep::candles::{CandleError, Candles, Columns};
use parquet::file::metadata::{
    ColumnChunkMetaData, ParquetMetaData, ParquetMetaDataReader, ParquetMetaDataWriter,
    RowGroupMetaData,
};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gridsweep-tk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Candles one minute apart from `start_ms`, with valid prices.
fn cols(start_ms: i64, minutes: &[i64]) -> Columns {
    let mut c = Columns::with_capacity(minutes.len());
    for (i, &m) in minutes.iter().enumerate() {
        let o = 50.0 + i as f64 * 0.25;
        c.push(start_ms + m * 60_000, o, o + 0.5, o - 0.5, o + 0.25, 1.0);
    }
    c
}

/// Writes three good candles (minutes 0, 1, 2) with gridsweep's writer.
fn write_small(path: &Path, zstd: bool) {
    let c = Candles::try_new(cols(0, &[0, 1, 2]), None, path).unwrap();
    write_parquet(path, &c, &WriteMeta { zstd, ..WriteMeta::default() }).unwrap();
}

/// Rewrites the footer of the Parquet file `src` into `dst`, the data pages unchanged, with
/// `edit` applied to every row group's metadata (the file's row count is written as the
/// row groups' sum, as every writer does).
fn patch_footer(src: &Path, dst: &Path, edit: impl Fn(RowGroupMetaData) -> RowGroupMetaData) {
    let bytes = std::fs::read(src).unwrap();
    let n = bytes.len();
    let meta_len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    let meta = ParquetMetaDataReader::new().parse_and_finish(&Bytes::from(bytes.clone())).unwrap();
    let groups: Vec<RowGroupMetaData> = meta.row_groups().iter().cloned().map(edit).collect();
    let patched = ParquetMetaData::new(meta.file_metadata().clone(), groups);
    let mut out = bytes[..n - 8 - meta_len].to_vec();
    ParquetMetaDataWriter::new(&mut out, &patched).finish().unwrap();
    std::fs::write(dst, out).unwrap();
}

fn with_rows(rows: i64) -> impl Fn(RowGroupMetaData) -> RowGroupMetaData {
    move |rg| rg.into_builder().set_num_rows(rows).build().unwrap()
}

fn assert_corrupt(path: &Path, wanted: &str) {
    let e = read_parquet(path).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, CandleError::Corrupt { .. }), "{}: {text}", path.display());
    assert!(text.starts_with(&format!("{}: corrupt or truncated Parquet file", path.display())));
    assert!(text.contains(wanted), "{text}");
}

#[test]
fn test_footer_row_claims_beyond_the_file_are_refused() {
    // See: issue 14 item 1.
    let d = tmpdir("rows");
    let good = d.join("good.parquet");
    write_small(&good, false);
    assert_eq!(read_parquet(&good).unwrap().len(), 3);
    // Uncompressed PLAIN: 8 bytes per value, so any claim past the chunk's size is refused
    // before decoding; 3 rows of 8 bytes are at least 24 bytes, far from 2^40 × 8.
    for (name, rows) in [("r62", 1i64 << 62), ("r40", 1 << 40), ("r2e9", 2_000_000_000)] {
        let p = d.join(format!("{name}.parquet"));
        patch_footer(&good, &p, with_rows(rows));
        assert_corrupt(&p, &format!("row group 0 claims {rows} rows"));
    }
    // A claim that fits the bytes but not the pages: found while decoding.
    let p = d.join("r4.parquet");
    patch_footer(&good, &p, with_rows(4));
    assert_corrupt(&p, "row group 0 claims 4 rows, but column `ts_ms` holds 3 values");
    let p = d.join("r2.parquet");
    patch_footer(&good, &p, with_rows(2));
    assert_corrupt(&p, "row group 0 claims 2 rows, but column `ts_ms` holds 3 values");
    let p = d.join("neg.parquet");
    patch_footer(&good, &p, with_rows(-1));
    assert_corrupt(&p, "row group 0 claims -1 rows");
}

#[test]
fn test_compressed_and_dictionary_files_with_false_row_claims_are_refused() {
    // Compressed or dictionary-encoded chunks have no minimum size per row: the claim is held
    // against the values decoded, and nothing is allocated from it.
    let d = tmpdir("zrows");
    let z = d.join("z.parquet");
    write_small(&z, true);
    for rows in [1i64 << 62, 1 << 40, 5] {
        let p = d.join(format!("z{rows}.parquet"));
        patch_footer(&z, &p, with_rows(rows));
        assert_corrupt(&p, &format!("row group 0 claims {rows} rows, but column `ts_ms` holds 3"));
    }
    // Another writer's defaults (dictionary pages, nullable columns): the typed reader path.
    let f = d.join("foreign.parquet");
    let c = cols(0, &[0, 1, 2]);
    let schema = std::sync::Arc::new(arrow_schema::Schema::new(
        ["ts_ms", "open", "high", "low", "close", "volume"]
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let ty = if k == 0 {
                    arrow_schema::DataType::Int64
                } else {
                    arrow_schema::DataType::Float64
                };
                arrow_schema::Field::new(*n, ty, true)
            })
            .collect::<Vec<_>>(),
    ));
    let f64s = |v: &[f64]| -> arrow_array::ArrayRef {
        std::sync::Arc::new(arrow_array::Float64Array::from(v.to_vec()))
    };
    let batch = arrow_array::RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(arrow_array::Int64Array::from(c.ts_ms.clone())),
            f64s(&c.open),
            f64s(&c.high),
            f64s(&c.low),
            f64s(&c.close),
            f64s(&c.volume),
        ],
    )
    .unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&f).unwrap(), schema, None)
            .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    assert_eq!(read_parquet(&f).unwrap().close(), &c.close[..]);
    let p = d.join("foreign40.parquet");
    patch_footer(&f, &p, with_rows(1 << 40));
    assert_corrupt(&p, "row group 0 claims 1099511627776 rows, but column `ts_ms` holds 3");
    let p = d.join("foreign2.parquet");
    patch_footer(&f, &p, with_rows(2));
    assert_corrupt(&p, "row group 0 claims 2 rows, but column `ts_ms` holds 3 values");
}

#[test]
fn test_page_header_claiming_more_than_its_values_need_is_refused() {
    // Parquet's reader reserves, and for snappy zero-fills, what a page header claims
    // uncompressed (up to 2 GiB from a page of a few bytes): a claim beyond 16 bytes per value
    // plus 1 KiB is refused before decoding.
    let d = tmpdir("pages");
    let p = d.join("snappy.parquet");
    let n = 10_000;
    let c = cols(0, &(0..n).collect::<Vec<i64>>());
    let schema = std::sync::Arc::new(gridsweep::candles::parquet_io::schema().as_ref().clone());
    let f64s = |v: &[f64]| -> arrow_array::ArrayRef {
        std::sync::Arc::new(arrow_array::Float64Array::from(v.to_vec()))
    };
    let batch = arrow_array::RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(arrow_array::Int64Array::from(c.ts_ms.clone())),
            f64s(&c.open),
            f64s(&c.high),
            f64s(&c.low),
            f64s(&c.close),
            f64s(&c.volume),
        ],
    )
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_dictionary_enabled(false)
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&p).unwrap(),
        schema,
        Some(props),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    assert_eq!(read_parquet(&p).unwrap().len(), n as usize);
    // The `ts_ms` page header at byte 4: field 1 (type, 0x15 0x00), then field 2, the
    // uncompressed size: 80,000 bytes of PLAIN values, a 3-byte zigzag varint (160,000).
    let mut bytes = std::fs::read(&p).unwrap();
    assert_eq!(&bytes[4..7], &[0x15, 0x00, 0x15]);
    let varint: Vec<u8> = bytes[7..10].to_vec();
    let z = varint.iter().rev().fold(0u64, |a, &b| (a << 7) | u64::from(b & 0x7f));
    assert_eq!((z / 2, varint[2] & 0x80), (80_000, 0), "{varint:x?}");
    // The largest even 3-byte varint: 2^21 - 2, i.e. 1,048,575 bytes claimed.
    bytes[7..10].copy_from_slice(&[0xfe, 0xff, 0x7f]);
    let bomb = d.join("claim.parquet");
    std::fs::write(&bomb, bytes).unwrap();
    assert_corrupt(
        &bomb,
        "column `ts_ms` of row group 0 has a page at byte 4 claiming 1048575 bytes \
         uncompressed for 10000 values",
    );
}

#[test]
fn test_column_ranges_past_the_end_and_truncated_files_are_refused() {
    let d = tmpdir("ranges");
    let good = d.join("good.parquet");
    write_small(&good, false);
    let len = std::fs::metadata(&good).unwrap().len();
    let p = d.join("range.parquet");
    patch_footer(&good, &p, |rg| {
        let columns: Vec<ColumnChunkMetaData> = rg
            .columns()
            .iter()
            .map(|c| c.clone().into_builder().set_total_compressed_size(1 << 40).build().unwrap())
            .collect();
        rg.into_builder().set_column_metadata(columns).build().unwrap()
    });
    assert_corrupt(&p, "column `ts_ms` of row group 0 claims bytes 4..1099511627780 of a");

    // Cut short: the footer is gone.
    let bytes = std::fs::read(&good).unwrap();
    let cut = d.join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    assert_corrupt(&cut, &format!("its {} bytes do not end with a Parquet footer", len - 100));
    // Bytes lost from the middle: the footer's offsets point past the end.
    let mid = d.join("mid.parquet");
    let mut v = bytes[..40].to_vec();
    v.extend_from_slice(&bytes[200..]);
    std::fs::write(&mid, v).unwrap();
    let e = read_parquet(&mid).unwrap_err();
    assert!(matches!(e, CandleError::Corrupt { .. } | CandleError::Parquet { .. }), "{e}: {e:?}");
    assert!(e.to_string().starts_with(&mid.display().to_string()), "{e}");
}

#[test]
fn test_other_kinds_of_file_say_what_to_do() {
    let d = tmpdir("kinds");
    let csv = "open_time,open,high,low,close,volume,close_time,quote_volume,count,\
               taker_buy_volume,taker_buy_quote_volume,ignore\n\
               1769904000000,59.49,59.49,59.42,59.45,100,1769904059999,1,1,1,1,0\n";
    let p = d.join("LTCUSDT-1m-2026-02.csv");
    std::fs::write(&p, csv).unwrap();
    let e = read_parquet(&p).unwrap_err();
    assert!(matches!(e, CandleError::NotParquet { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: this is a CSV file, not a Parquet candle file; convert it into one first: \
             `gridsweep import --out LTCUSDT-1m-2026-02.parquet {}`",
            p.display(),
            p.display()
        )
    );
    // A CSV under a Parquet name is recognised by its content.
    let p = d.join("candles.parquet");
    std::fs::write(&p, csv.split_once('\n').unwrap().1).unwrap();
    let e = read_parquet(&p).unwrap_err().to_string();
    assert!(e.contains("this is a CSV file") && e.contains("gridsweep import"), "{e}");

    let p = d.join("LTCUSDT-1m-2026-02.zip");
    std::fs::write(&p, b"PK\x03\x04\x14\x00\x08\x00\x08\x00rest of a zip").unwrap();
    let e = read_parquet(&p).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: this is a zip archive, not a Parquet candle file; Binance's downloads are \
             zipped: unzip it (`unzip {}`), then convert it into one first: \
             `gridsweep import --out LTCUSDT-1m-2026-02.parquet LTCUSDT-1m-2026-02.csv`",
            p.display(),
            p.display()
        )
    );
    let p = d.join("kline.json");
    std::fs::write(&p, r#"{"retCode":0,"result":{"list":[]}}"#).unwrap();
    let e = read_parquet(&p).unwrap_err().to_string();
    assert!(e.contains("this is a JSON file") && e.contains("gridsweep import"), "{e}");
    // Binary garbage is still the Parquet reader's error, naming the file.
    let p = d.join("garbage.parquet");
    std::fs::write(&p, [0u8, 159, 146, 150, 1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap();
    let e = read_parquet(&p).unwrap_err();
    assert!(matches!(e, CandleError::Parquet { .. }), "{e}");
}

#[test]
fn test_missing_relative_path_names_the_directory() {
    let rel = Path::new("no-such-dir-gridsweep-h1/c.parquet");
    let e = read_parquet(rel).unwrap_err();
    let dir = std::env::current_dir().unwrap().join("no-such-dir-gridsweep-h1");
    assert!(matches!(e, CandleError::NotFound { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "no-such-dir-gridsweep-h1/c.parquet: no such file (a relative path: looked for in {})",
            dir.display()
        )
    );
    let abs = tmpdir("abs").join("absent.parquet");
    let e = read_parquet(&abs).unwrap_err().to_string();
    assert_eq!(e, format!("{}: no such file", abs.display()));
}

#[test]
fn test_window_gaps_name_the_count_and_the_largest() {
    // Minutes 0, 1, 2, 10, 11, 1000: gaps of 7 (minutes 3..=9) and 988 (12..=999) candles.
    let c = Candles::try_new(cols(0, &[0, 1, 2, 10, 11, 1000]), None, Path::new("g")).unwrap();
    let g = c.slice().gaps();
    assert_eq!((g.gaps, g.missing), (2, 995));
    assert_eq!(
        g.warning().unwrap(),
        "995 candle(s) of 1m missing in 2 gap(s), the largest 988 missing after \
         1970-01-01T00:11:00 (next 1970-01-01T16:40:00); fix the data or choose a window \
         without gaps"
    );
    // Only the window's own gaps count.
    let w = c.window(Some(10 * 60_000), None).gaps();
    assert_eq!((w.gaps, w.missing), (1, 988));
    assert!(c.window(None, Some(3 * 60_000)).gaps().warning().is_none());
}

#[test]
fn test_cli_backtest_reports_bad_candles_and_gaps() {
    let d = tmpdir("cli").canonicalize().unwrap();
    let cfg = d.join("bt.toml");
    std::fs::write(
        &cfg,
        "symbol = \"LTCUSDT\"\ngrid_count = 10\ngrid_step = 0.4\namount = \"x0.005\"\nleverage = 10\n",
    )
    .unwrap();
    let run = |candles: &Path| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_gridsweep"))
            .current_dir(&d)
            .args(["backtest", "--config"])
            .arg(&cfg)
            .arg("--candles")
            .arg(candles)
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let good = d.join("good.parquet");
    write_small(&good, false);
    for rows in [1i64 << 62, 1 << 40] {
        let p = d.join(format!("r{rows}.parquet"));
        patch_footer(&good, &p, with_rows(rows));
        let (code, err) = run(&p);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(&format!("{}: corrupt or truncated Parquet file", p.display())),
            "{err}"
        );
    }
    let csv = d.join("LTCUSDT-1m-2026-02.csv");
    std::fs::write(&csv, "1769904000000,59.49,59.49,59.42,59.45,100,1769904059999,1,1,1,1,0\n")
        .unwrap();
    let (code, err) = run(&csv);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("gridsweep import --out LTCUSDT-1m-2026-02.parquet"), "{err}");
    let (code, err) = run(Path::new("sub/missing.parquet"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("looked for in {}", d.join("sub").display())), "{err}");

    // Gaps inside the window: a warning with the count and the largest gap, and the run goes on.
    let gappy = d.join("gappy.parquet");
    let c = Candles::try_new(cols(0, &[0, 1, 2, 10, 11, 1000]), None, &gappy).unwrap();
    write_parquet(&gappy, &c, &WriteMeta::default()).unwrap();
    let (code, err) = run(&gappy);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(
            "warning: 995 candle(s) of 1m missing in 2 gap(s), the largest 988 missing after \
             1970-01-01T00:11:00 (next 1970-01-01T16:40:00)"
        ),
        "{err}"
    );
    let (code, err) = run(&good);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("warning"), "{err}");

    // `gridsweep sweep` warns the same way, for its own window (from minute 10: one gap).
    let spec = d.join("gaps.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"gaps\"\nsymbol = \"LTCUSDT\"\ncandles = {:?}\nstart = \"1970-01-01T00:10\"\n\
             tiers = \"builtin\"\n[params]\ngrid_count = 10\ngrid_step = 0.4\namount = \"x0.005\"\n\
             [axes]\nleverage = [5, 10]\n",
            gappy.display().to_string()
        ),
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_gridsweep"))
        .args(["sweep", "--out"])
        .arg(d.join("gaps.parquet"))
        .arg(&spec)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "warning: 988 candle(s) of 1m missing in 1 gap(s), the largest 988 missing after \
             1970-01-01T00:11:00 (next 1970-01-01T16:40:00)"
        ),
        "{err}"
    );
}
