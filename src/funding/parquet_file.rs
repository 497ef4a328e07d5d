//! The funding Parquet file: writer (atomic, durable) and validating reader.
//!
//! Allocation bound: a funding file is small (three events a day at 8-hour funding is 16 KB a
//! year). The reader refuses files over [`MAX_FILE_BYTES`] and footers claiming more than
//! `file size + ROW_SLACK` rows (a gridsweep file needs 16 bytes a row; other writers'
//! delta encodings can compress equidistant timestamps below a byte, hence the slack) before
//! it reserves anything, and decodes in batches of at most [`BATCH_ROWS`] rows, stopping
//! with an error as soon as more rows come out than the footer claimed.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::{FundingError, FundingSeries, KIND_FUNDING, META_KIND};

/// Largest funding file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Rows a footer may claim beyond one per byte of file.
pub const ROW_SLACK: u64 = 65_536;
/// Rows decoded per batch.
pub const BATCH_ROWS: usize = 8192;

/// Metadata key holding where the events came from.
const META_SOURCE: &str = "gridsweep.source";

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ts_ms", DataType::Int64, false),
        Field::new("rate", DataType::Float64, false),
    ]))
}

/// Writes `s` to `path` atomically (a temporary file beside it, synced, renamed, directory
/// synced) after validating it. `meta` pairs are added to the file's key-value metadata
/// (e.g. `gridsweep.symbol`); `gridsweep.kind`, `gridsweep.source`, `gridsweep.rows`,
/// `gridsweep.first_ts_ms` and `gridsweep.last_ts_ms` are always written.
///
/// # Errors
/// The validation errors of [`FundingSeries::validate`] (naming `path`), or
/// [`FundingError::Io`]/[`FundingError::Parquet`]; the temporary file is removed.
pub fn write_funding_parquet(
    path: &Path,
    s: &FundingSeries,
    meta: &[(String, String)],
) -> Result<(), FundingError> {
    s.validate(path)?;
    let tmp = crate::durable::temp_beside(path);
    let result = write_to(&tmp, s, meta)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| FundingError::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    crate::durable::sync_parent_dir(path).map_err(|e| FundingError::io(path, e))
}

fn write_to(tmp: &Path, s: &FundingSeries, meta: &[(String, String)]) -> Result<(), FundingError> {
    let pq = |e: parquet::errors::ParquetError| FundingError::Parquet {
        path: tmp.to_path_buf(),
        message: e.to_string(),
    };
    let (first, last) = s.span().unwrap_or((0, 0));
    let mut kv = vec![
        KeyValue::new(META_KIND.to_string(), KIND_FUNDING.to_string()),
        KeyValue::new(META_SOURCE.to_string(), s.source.clone()),
        KeyValue::new("gridsweep.rows".to_string(), s.events.len().to_string()),
        KeyValue::new("gridsweep.first_ts_ms".to_string(), first.to_string()),
        KeyValue::new("gridsweep.last_ts_ms".to_string(), last.to_string()),
    ];
    for (k, v) in meta {
        if !kv.iter().any(|e| &e.key == k) {
            kv.push(KeyValue::new(k.clone(), v.clone()));
        }
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .set_encoding(Encoding::PLAIN)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("gridsweep {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(kv))
        .build();
    let file = File::create(tmp).map_err(|e| FundingError::io(tmp, e))?;
    let mut w =
        ArrowWriter::try_new(std::io::BufWriter::new(file), schema(), Some(props)).map_err(pq)?;
    let ts: Vec<i64> = s.events.iter().map(|e| e.0).collect();
    let rate: Vec<f64> = s.events.iter().map(|e| e.1).collect();
    let cols: Vec<ArrayRef> =
        vec![Arc::new(Int64Array::from(ts)), Arc::new(Float64Array::from(rate))];
    let batch = RecordBatch::try_new(schema(), cols).map_err(|e| pq(e.into()))?;
    w.write(&batch).map_err(pq)?;
    let mut buf = w.into_inner().map_err(pq)?;
    buf.flush().map_err(|e| FundingError::io(tmp, e))?;
    let file = buf.into_inner().map_err(|e| FundingError::io(tmp, e.into_error()))?;
    file.sync_all().map_err(|e| FundingError::io(tmp, e))
}

/// Reads and validates a funding file (see the module docs for the allocation bound).
/// `source` is the file's `gridsweep.source` metadata, or `file:NAME` when it has none.
///
/// # Errors
/// [`FundingError::Io`], [`FundingError::NotFunding`] (a candle file, a CSV, missing or
/// mistyped columns), [`FundingError::Corrupt`], [`FundingError::Parquet`], and the
/// validation errors of [`FundingSeries::validate`].
pub fn read_funding_parquet(path: &Path) -> Result<FundingSeries, FundingError> {
    let (builder, len) = open(path)?;
    let pq = |e: parquet::errors::ParquetError| FundingError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file_meta = builder.metadata().file_metadata().clone();
    let arrow = builder.schema().clone();
    let mut leaves = Vec::with_capacity(2);
    for (column, ty) in [("ts_ms", DataType::Int64), ("rate", DataType::Float64)] {
        let not = |why: String| FundingError::NotFunding { path: path.to_path_buf(), why };
        let field = arrow.field_with_name(column).map_err(|_| {
            let names: Vec<&str> = arrow.fields().iter().map(|f| f.name().as_str()).collect();
            not(format!("it has no `{column}` column (its columns: {})", names.join(", ")))
        })?;
        if field.data_type() != &ty {
            return Err(not(format!(
                "column `{column}` has type {}, expected {ty}",
                field.data_type()
            )));
        }
        let leaf = file_meta
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().parts() == [column])
            .ok_or_else(|| not(format!("`{column}` is not a top-level column")))?;
        leaves.push(leaf);
    }
    let claimed = file_meta.num_rows();
    let sum: i64 = builder.metadata().row_groups().iter().map(|g| g.num_rows()).sum();
    let limit = len.saturating_add(ROW_SLACK);
    let corrupt = |detail: String| FundingError::Corrupt { path: path.to_path_buf(), detail };
    if claimed < 0 || claimed != sum {
        return Err(corrupt(format!(
            "the footer claims {claimed} rows but its row groups hold {sum}"
        )));
    }
    if claimed as u64 > limit {
        return Err(corrupt(format!(
            "the footer claims {claimed} rows, more than a {len}-byte funding file can hold"
        )));
    }
    let source = file_meta
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == META_SOURCE).and_then(|k| k.value.clone()))
        .unwrap_or_else(|| {
            format!("file:{}", path.file_name().unwrap_or_default().to_string_lossy())
        });
    let mask = ProjectionMask::leaves(file_meta.schema_descr(), leaves);
    let reader = builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(pq)?;
    let mut events = Vec::with_capacity(claimed as usize);
    for batch in reader {
        let batch = batch.map_err(|e| pq(e.into()))?;
        if events.len() + batch.num_rows() > claimed as usize {
            return Err(corrupt(format!("it decodes to more than the {claimed} rows it claims")));
        }
        let col = |name: &str| batch.column_by_name(name).cloned();
        let (Some(ts), Some(rate)) = (col("ts_ms"), col("rate")) else {
            return Err(corrupt("a batch lacks a column".into()));
        };
        let ts = ts.as_any().downcast_ref::<Int64Array>().cloned();
        let rate = rate.as_any().downcast_ref::<Float64Array>().cloned();
        let (Some(ts), Some(rate)) = (ts, rate) else {
            return Err(corrupt("a column decodes to another type".into()));
        };
        if ts.null_count() > 0 || rate.null_count() > 0 {
            let row = events.len()
                + (0..ts.len()).find(|&i| ts.is_null(i) || rate.is_null(i)).unwrap_or(0)
                + 1;
            return Err(FundingError::NotFunding {
                path: path.to_path_buf(),
                why: format!("row {row} has a null `ts_ms` or `rate`"),
            });
        }
        events.extend(ts.values().iter().copied().zip(rate.values().iter().copied()));
    }
    if events.len() != claimed as usize {
        return Err(corrupt(format!("it claims {claimed} rows but holds {}", events.len())));
    }
    let s = FundingSeries { events, source };
    s.validate(path)?;
    Ok(s)
}

/// The `gridsweep.symbol` recorded in a funding file, if any.
///
/// # Errors
/// As the opening steps of [`read_funding_parquet`].
pub fn read_funding_symbol(path: &Path) -> Result<Option<String>, FundingError> {
    let (builder, _) = open(path)?;
    Ok(builder.metadata().file_metadata().key_value_metadata().and_then(|kv| {
        kv.iter().find(|k| k.key == "gridsweep.symbol").and_then(|k| k.value.clone())
    }))
}

type Builder = ParquetRecordBatchReaderBuilder<File>;

fn open(path: &Path) -> Result<(Builder, u64), FundingError> {
    let file = File::open(path).map_err(|e| FundingError::io(path, e))?;
    let len = file.metadata().map_err(|e| FundingError::io(path, e))?.len();
    if len > MAX_FILE_BYTES {
        return Err(FundingError::NotFunding {
            path: path.to_path_buf(),
            why: format!(
                "it has {len} bytes; a funding file of a century of hourly events has under \
                 15 MB, so this is not one"
            ),
        });
    }
    let mut head = [0u8; 4];
    {
        use std::io::Read;
        let mut f = &file;
        let n = f.read(&mut head).map_err(|e| FundingError::io(path, e))?;
        if n < 4 || head != *b"PAR1" {
            let text = if head.iter().take(n).all(|b| b.is_ascii()) && n > 0 {
                " (it looks like text: convert a Binance CSV or Bybit JSON with `gridsweep \
                 import --out FILE.parquet INPUT`)"
            } else {
                ""
            };
            return Err(FundingError::NotFunding {
                path: path.to_path_buf(),
                why: format!("it is not a Parquet file{text}"),
            });
        }
    }
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| FundingError::Parquet { path: path.to_path_buf(), message: e.to_string() })?;
    Ok((builder, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("gridsweep-funding-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join("f.parquet")
    }

    #[test]
    fn test_round_trip_keeps_events_source_and_metadata() {
        let p = tmp("rt");
        let s = FundingSeries {
            events: vec![(1_709_856_000_000, 0.00015), (1_709_884_800_000, -0.0001)],
            source: "bybit-funding:x.json".into(),
        };
        write_funding_parquet(&p, &s, &[("gridsweep.symbol".into(), "BTCUSDT".into())]).unwrap();
        let back = read_funding_parquet(&p).unwrap();
        assert_eq!(back, s);
        assert_eq!(read_funding_symbol(&p).unwrap().as_deref(), Some("BTCUSDT"));
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }

    #[test]
    fn test_refuses_unsorted_written_by_another_tool_and_text() {
        let p = tmp("bad");
        // Write an unsorted file around the validating writer.
        let s = FundingSeries { events: vec![(10, 0.0), (5, 0.0)], source: String::new() };
        write_to(&p, &s, &[]).unwrap();
        let e = read_funding_parquet(&p).unwrap_err();
        assert!(matches!(e, FundingError::Unsorted { row: 2, prev_ms: 10, ts_ms: 5, .. }), "{e}");
        std::fs::write(&p, "calc_time,funding_interval_hours,last_funding_rate\n").unwrap();
        let e = read_funding_parquet(&p).unwrap_err();
        assert!(e.to_string().contains("not a Parquet file"), "{e}");
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }
}
