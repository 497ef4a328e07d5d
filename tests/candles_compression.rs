//! Issue 14 item 6: candle files from other tools, in every compression Parquet defines, are
//! read through the public loader with every value intact; and a real pandas/pyarrow file
//! (snappy, dictionary pages, pandas metadata) is read from the fixture it wrote.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gridsweep-tz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Row `i` of the written candles, from a formula (so expected values do not come from the
/// program): a minute apart from 2024-01-01, open walking a 0.01 grid, volume `i / 4`.
fn row(i: usize) -> (i64, [f64; 5]) {
    let o = 30.0 + ((i * 7919) % 1000) as f64 * 0.01;
    (1_704_067_200_000 + i as i64 * 60_000, [o, o + 0.05, o - 0.02, o + 0.01, i as f64 / 4.0])
}

/// Writes `n` rows the way another tool would: nullable fields, dictionary encoding on (the
/// writer's default), `compression`, row groups of 40,000 rows, no gridsweep metadata.
fn write_with(path: &Path, n: usize, compression: Compression) {
    let names = ["ts_ms", "open", "high", "low", "close", "volume"];
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                Field::new(*n, if k == 0 { DataType::Int64 } else { DataType::Float64 }, true)
            })
            .collect::<Vec<_>>(),
    ));
    let rows: Vec<_> = (0..n).map(row).collect();
    let mut arrays: Vec<ArrayRef> =
        vec![Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>()))];
    for k in 0..5 {
        arrays.push(Arc::new(Float64Array::from(rows.iter().map(|r| r.1[k]).collect::<Vec<_>>())));
    }
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(40_000))
        .build();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema.clone(), Some(props))
            .unwrap();
    w.write(&RecordBatch::try_new(schema, arrays).unwrap()).unwrap();
    w.close().unwrap();
}

#[test]
fn test_every_compression_reads_back_exactly() {
    // See: issue 14 item 6 (snappy, gzip, brotli, lz4 were "Disabled feature at compile time").
    let d = tmpdir("all");
    let n = 100_000; // three row groups
    let cases = [
        ("snappy", Compression::SNAPPY),
        ("gzip", Compression::GZIP(GzipLevel::default())),
        ("brotli", Compression::BROTLI(BrotliLevel::default())),
        ("lz4", Compression::LZ4),
        ("lz4_raw", Compression::LZ4_RAW),
        ("zstd", Compression::ZSTD(ZstdLevel::default())),
        ("none", Compression::UNCOMPRESSED),
    ];
    for (name, compression) in cases {
        let p = d.join(format!("{name}.parquet"));
        write_with(&p, n, compression);
        let meta = parquet::file::serialized_reader::SerializedFileReader::new(
            std::fs::File::open(&p).unwrap(),
        )
        .map(|r| {
            use parquet::file::reader::FileReader;
            r.metadata().row_group(0).column(1).compression()
        })
        .unwrap();
        assert_eq!(meta, compression, "{name}: the file was not written as asked");
        let c = gridsweep::candles::open(&[&p]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c.len(), n, "{name}");
        for i in [0, 1, 39_999, 40_000, 77_777, n - 1] {
            let (ts, px) = row(i);
            assert_eq!(c.ts_ms()[i], ts, "{name} row {i}");
            let got = [c.open()[i], c.high()[i], c.low()[i], c.close()[i], c.volume()[i]];
            for k in 0..5 {
                assert_eq!(got[k].to_bits(), px[k].to_bits(), "{name} row {i} column {k}");
            }
        }
        // Every row, every column, bit for bit.
        let all = (0..n).all(|i| {
            let (ts, px) = row(i);
            c.ts_ms()[i] == ts
                && c.open()[i].to_bits() == px[0].to_bits()
                && c.high()[i].to_bits() == px[1].to_bits()
                && c.low()[i].to_bits() == px[2].to_bits()
                && c.close()[i].to_bits() == px[3].to_bits()
                && c.volume()[i].to_bits() == px[4].to_bits()
        });
        assert!(all, "{name}: some value differs");
    }
}

#[test]
fn test_pandas_snappy_fixture() {
    // tests/candles_data/pandas_snappy.parquet: written by pandas 3.1.1 / pyarrow 26.0.1 with
    // their defaults (see make_pandas_fixture.py beside it). A missing fixture fails here.
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/candles_data/pandas_snappy.parquet");
    let f = std::fs::File::open(&p).expect("the pandas fixture is part of the repository");
    let r = parquet::file::serialized_reader::SerializedFileReader::new(f).unwrap();
    {
        use parquet::file::reader::FileReader;
        let m = r.metadata();
        assert!(m.file_metadata().created_by().unwrap().starts_with("parquet-cpp-arrow"));
        assert_eq!(m.row_group(0).column(1).compression(), Compression::SNAPPY);
    }
    let c = gridsweep::candles::parquet_io::read_parquet(&p).unwrap();
    assert_eq!(c.len(), 10);
    assert_eq!(c.symbol(), None);
    for i in 0..10 {
        let o = 100.0 + i as f64;
        assert_eq!(c.ts_ms()[i], 1_700_000_000_000 + 60_000 * i as i64, "row {i}");
        assert_eq!(c.open()[i], o, "row {i}");
        assert_eq!(c.high()[i], o + 0.5, "row {i}");
        assert_eq!(c.low()[i], o - 0.25, "row {i}");
        assert_eq!(c.close()[i], o + 0.125, "row {i}");
        assert_eq!(c.volume()[i], 2.0 * i as f64, "row {i}");
    }
    assert!(c.gaps().is_empty());
}
