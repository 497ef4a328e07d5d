//! Result writers for single backtests: trades and the equity curve, as CSV or Parquet by
//! file extension, written atomically (temp file + rename).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::engine::FillRecord;
use crate::time::format_iso;

pub mod guard;

/// Why an output file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// File system error.
    #[error("cannot write {path}: {source}")]
    Io {
        /// Output path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Parquet/Arrow encoding error.
    #[error("cannot write {path}: {message}")]
    Encode {
        /// Output path.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The extension is neither `.csv` nor `.parquet`.
    #[error("{path}: unknown output format; use a .csv or .parquet file name")]
    Format {
        /// Output path.
        path: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Parquet,
}

fn format_of(path: &Path) -> Result<Format, OutputError> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => Ok(Format::Csv),
        Some("parquet") | Some("pq") => Ok(Format::Parquet),
        _ => Err(OutputError::Format { path: path.to_path_buf() }),
    }
}

/// Checks that `path` names a format the trade and equity writers know (`.csv`, `.parquet`).
///
/// # Errors
/// [`OutputError::Format`] naming the path.
pub fn check_format(path: &Path) -> Result<(), OutputError> {
    format_of(path).map(|_| ())
}

/// Runs `write` on a temp file beside `path`, syncs it, renames it into place and syncs the
/// directory (a crash leaves the old file or the whole new one).
fn write_atomic(
    path: &Path,
    write: impl FnOnce(&File) -> Result<(), OutputError>,
) -> Result<(), OutputError> {
    let io = |source| OutputError::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    crate::durable::remove_stale_temps(path);
    let tmp = crate::durable::temp_beside(path);
    let file = File::create(&tmp).map_err(io)?;
    let res = write(&file)
        .and_then(|()| file.sync_all().map_err(io))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(io));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res?;
    crate::durable::sync_parent_dir(path).map_err(io)
}

fn parquet_props(meta: &[(String, String)]) -> WriterProperties {
    let kv = meta
        .iter()
        .map(|(k, v)| parquet::file::metadata::KeyValue::new(k.clone(), v.clone()))
        .collect();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_key_value_metadata(Some(kv))
        .build()
}

/// A money or price value for a CSV cell: rounded to 10 decimals (far below the
/// instrument's precision; it drops binary noise such as `0.30000000000000004`).
fn csv_num(x: f64) -> String {
    let r = (x * 1e10).round() / 1e10;
    if r.is_finite() && r.abs() < 1e12 {
        let s = format!("{r:.10}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".into()
        } else {
            s.to_string()
        }
    } else {
        x.to_string()
    }
}

fn write_batch(
    path: &Path,
    file: &File,
    batch: RecordBatch,
    meta: &[(String, String)],
) -> Result<(), OutputError> {
    let enc = |e: parquet::errors::ParquetError| OutputError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let props = Some(parquet_props(meta));
    let mut w = ArrowWriter::try_new(file, batch.schema(), props).map_err(enc)?;
    w.write(&batch).map_err(enc)?;
    w.close().map_err(enc)?;
    Ok(())
}

fn ts_field() -> Field {
    Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false)
}

/// Writes trades with columns `ts, side, direction, price, qty, realized_pnl, commission,
/// kind` (`grid`, `liquidation`, `wind_down`); Parquet files carry `meta` (the run's config)
/// in their key-value metadata. CSV money values are rounded to 10 decimals.
///
/// # Errors
/// [`OutputError`] naming the path.
pub fn write_trades(
    path: &Path,
    fills: &[FillRecord],
    meta: &[(String, String)],
) -> Result<(), OutputError> {
    match format_of(path)? {
        Format::Csv => write_atomic(path, |f| {
            let io = |source| OutputError::Io { path: path.to_path_buf(), source };
            let mut w = BufWriter::new(f);
            writeln!(w, "{}", guard::TRADES_CSV_HEADER).map_err(io)?;
            for t in fills {
                writeln!(
                    w,
                    "{},{},{},{},{},{},{},{}",
                    format_iso(t.ts_ms),
                    t.side.as_str(),
                    t.direction.as_str(),
                    csv_num(t.price),
                    csv_num(t.qty),
                    csv_num(t.realized_pnl),
                    csv_num(t.commission),
                    t.kind.as_str()
                )
                .map_err(io)?;
            }
            w.flush().map_err(io)
        }),
        Format::Parquet => {
            let schema = Arc::new(Schema::new(vec![
                ts_field(),
                Field::new("side", DataType::Utf8, false),
                Field::new("direction", DataType::Utf8, false),
                Field::new("price", DataType::Float64, false),
                Field::new("qty", DataType::Float64, false),
                Field::new("realized_pnl", DataType::Float64, false),
                Field::new("commission", DataType::Float64, false),
                Field::new("kind", DataType::Utf8, false),
            ]));
            let cols: Vec<ArrayRef> = vec![
                Arc::new(
                    TimestampMillisecondArray::from_iter_values(fills.iter().map(|t| t.ts_ms))
                        .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from_iter_values(fills.iter().map(|t| t.side.as_str()))),
                Arc::new(StringArray::from_iter_values(fills.iter().map(|t| t.direction.as_str()))),
                Arc::new(Float64Array::from_iter_values(fills.iter().map(|t| t.price))),
                Arc::new(Float64Array::from_iter_values(fills.iter().map(|t| t.qty))),
                Arc::new(Float64Array::from_iter_values(fills.iter().map(|t| t.realized_pnl))),
                Arc::new(Float64Array::from_iter_values(fills.iter().map(|t| t.commission))),
                Arc::new(StringArray::from_iter_values(fills.iter().map(|t| t.kind.as_str()))),
            ];
            let batch = RecordBatch::try_new(schema, cols).map_err(|e| OutputError::Encode {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            write_atomic(path, |f| write_batch(path, f, batch, meta))
        }
    }
}

/// Thins an equity curve to the last point of each `every_ms` bucket (UTC-aligned), the
/// final point always kept.
pub fn thin_equity(points: &[(i64, f64)], every_ms: i64) -> Vec<(i64, f64)> {
    let mut out: Vec<(i64, f64)> = Vec::new();
    for &(ts, e) in points {
        let bucket = ts.div_euclid(every_ms);
        match out.last_mut() {
            Some(last) if last.0.div_euclid(every_ms) == bucket => *last = (ts, e),
            _ => out.push((ts, e)),
        }
    }
    out
}

/// Writes the equity curve with columns `ts, equity` (Parquet: `meta` in the key-value
/// metadata; CSV: equity rounded to 10 decimals).
///
/// # Errors
/// [`OutputError`] naming the path.
pub fn write_equity(
    path: &Path,
    points: &[(i64, f64)],
    meta: &[(String, String)],
) -> Result<(), OutputError> {
    match format_of(path)? {
        Format::Csv => write_atomic(path, |f| {
            let io = |source| OutputError::Io { path: path.to_path_buf(), source };
            let mut w = BufWriter::new(f);
            writeln!(w, "{}", guard::EQUITY_CSV_HEADER).map_err(io)?;
            for (ts, e) in points {
                writeln!(w, "{},{}", format_iso(*ts), csv_num(*e)).map_err(io)?;
            }
            w.flush().map_err(io)
        }),
        Format::Parquet => {
            let schema = Arc::new(Schema::new(vec![
                ts_field(),
                Field::new("equity", DataType::Float64, false),
            ]));
            let cols: Vec<ArrayRef> = vec![
                Arc::new(
                    TimestampMillisecondArray::from_iter_values(points.iter().map(|p| p.0))
                        .with_timezone("UTC"),
                ),
                Arc::new(Float64Array::from_iter_values(points.iter().map(|p| p.1))),
            ];
            let batch = RecordBatch::try_new(schema, cols).map_err(|e| OutputError::Encode {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            write_atomic(path, |f| write_batch(path, f, batch, meta))
        }
    }
}
