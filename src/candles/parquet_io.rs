//! The Parquet candle format: schema, atomic writer, and the fast validating reader.
//!
//! Schema (all non-null): `ts_ms` Int64 (open time, UTC epoch ms), `open`, `high`, `low`,
//! `close`, `volume` Float64. Zstd-compressed, [`ROW_GROUP_ROWS`] rows per row group, with
//! key-value metadata `gridsweep.symbol`, `gridsweep.source`, `gridsweep.rows`,
//! `gridsweep.first_ts_ms`, `gridsweep.last_ts_ms`. Files from other writers are accepted when
//! they have those six columns with those types (extra columns are ignored, nullable fields
//! are fine if they hold no nulls).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::ChunkReader;
use parquet::schema::types::ColumnPath;

use super::error::{CandleError, Loc, Problem};
use super::store::{Candles, Columns};

/// Column names in file order.
pub const COLUMNS: [&str; 6] = ["ts_ms", "open", "high", "low", "close", "volume"];

/// Rows per row group written.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// Metadata key holding the symbol.
pub const META_SYMBOL: &str = "gridsweep.symbol";
/// Metadata key holding where the candles came from.
pub const META_SOURCE: &str = "gridsweep.source";
/// Metadata key holding the row count.
pub const META_ROWS: &str = "gridsweep.rows";
/// Metadata key holding the first open time (epoch ms).
pub const META_FIRST_TS: &str = "gridsweep.first_ts_ms";
/// Metadata key holding the last open time (epoch ms).
pub const META_LAST_TS: &str = "gridsweep.last_ts_ms";

/// The Arrow schema of a candle file.
pub fn schema() -> SchemaRef {
    let f = |name: &str, ty: DataType| Field::new(name, ty, false);
    Arc::new(Schema::new(vec![
        f("ts_ms", DataType::Int64),
        f("open", DataType::Float64),
        f("high", DataType::Float64),
        f("low", DataType::Float64),
        f("close", DataType::Float64),
        f("volume", DataType::Float64),
    ]))
}

/// What to record in a written file's metadata.
#[derive(Clone, Debug, Default)]
pub struct WriteMeta {
    /// Trading symbol, e.g. `LTCUSDT`.
    pub symbol: Option<String>,
    /// Free text: where the candles came from (input file names, format).
    pub source: String,
}

fn writer_properties(candles: &Candles, meta: &WriteMeta) -> WriterProperties {
    let mut kv = vec![
        KeyValue::new(META_SOURCE.to_string(), meta.source.clone()),
        KeyValue::new(META_ROWS.to_string(), candles.len().to_string()),
    ];
    if let Some(s) = &meta.symbol {
        kv.push(KeyValue::new(META_SYMBOL.to_string(), s.clone()));
    }
    if let (Some(a), Some(b)) = (candles.first_ts_ms(), candles.last_ts_ms()) {
        kv.push(KeyValue::new(META_FIRST_TS.to_string(), a.to_string()));
        kv.push(KeyValue::new(META_LAST_TS.to_string(), b.to_string()));
    }
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("gridsweep {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(kv))
        .set_column_encoding(ColumnPath::from("ts_ms"), Encoding::DELTA_BINARY_PACKED);
    for name in &COLUMNS[1..] {
        props = props.set_column_encoding(ColumnPath::from(*name), Encoding::BYTE_STREAM_SPLIT);
    }
    props.build()
}

/// Writes `candles` to `path` atomically: into a temporary file beside it, synced, then
/// renamed over `path`, so a crash never leaves a partial file under the final name.
///
/// # Errors
/// [`CandleError::Io`] or [`CandleError::Parquet`] naming `path`; the temporary file is removed.
pub fn write_parquet(path: &Path, candles: &Candles, meta: &WriteMeta) -> Result<(), CandleError> {
    let tmp = temp_path(path);
    let result = write_to(&tmp, candles, meta)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| CandleError::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `.NAME.tmp-PID` in the same directory as `path` (a rename is atomic only within one file
/// system).
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn write_to(tmp: &Path, candles: &Candles, meta: &WriteMeta) -> Result<(), CandleError> {
    let pq = |source| CandleError::Parquet {
        path: tmp.to_path_buf(),
        source,
    };
    let file = File::create(tmp).map_err(|e| CandleError::io(tmp, e))?;
    let mut w = ArrowWriter::try_new(
        std::io::BufWriter::with_capacity(1 << 20, file),
        schema(),
        Some(writer_properties(candles, meta)),
    )
    .map_err(pq)?;
    let n = candles.len();
    let mut start = 0;
    while start < n {
        let end = (start + ROW_GROUP_ROWS).min(n);
        let f = |c: &[f64]| -> ArrayRef { Arc::new(Float64Array::from(c[start..end].to_vec())) };
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(candles.ts_ms()[start..end].to_vec())),
            f(candles.open()),
            f(candles.high()),
            f(candles.low()),
            f(candles.close()),
            f(candles.volume()),
        ];
        let batch = RecordBatch::try_new(schema(), cols).map_err(|e| pq(e.into()))?;
        w.write(&batch).map_err(pq)?;
        start = end;
    }
    let mut buf = w.into_inner().map_err(pq)?;
    buf.flush().map_err(|e| CandleError::io(tmp, e))?;
    let file = buf
        .into_inner()
        .map_err(|e| CandleError::io(tmp, e.into_error()))?;
    file.sync_all().map_err(|e| CandleError::io(tmp, e))
}

/// Reads one Parquet candle file through a memory map, checks its schema, decodes the six
/// columns into owned `Vec`s and validates every row.
///
/// # Errors
/// [`CandleError::Io`], [`CandleError::Parquet`], [`CandleError::MissingColumn`],
/// [`CandleError::ColumnType`], [`CandleError::Empty`], or [`CandleError::Invalid`] with the
/// 1-based row.
pub fn read_parquet(path: &Path) -> Result<Candles, CandleError> {
    let candles = super::mmap::decode_mapped(path, <File as ChunkReader>::get_bytes, decode)?;
    if candles.is_empty() {
        return Err(CandleError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(candles)
}

const EXPECTED: [(&str, DataType, &str); 6] = [
    ("ts_ms", DataType::Int64, "Int64"),
    ("open", DataType::Float64, "Float64"),
    ("high", DataType::Float64, "Float64"),
    ("low", DataType::Float64, "Float64"),
    ("close", DataType::Float64, "Float64"),
    ("volume", DataType::Float64, "Float64"),
];

/// Decodes a whole file held by `reader` (the mapped bytes).
fn decode<R: ChunkReader + 'static>(reader: R, path: &Path) -> Result<Candles, CandleError> {
    let pq = |source| CandleError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(reader).map_err(pq)?;
    let file_schema = builder.schema().clone();
    let mut roots = Vec::with_capacity(6);
    for (column, ty, expected) in &EXPECTED {
        let (idx, field) =
            file_schema
                .column_with_name(column)
                .ok_or_else(|| CandleError::MissingColumn {
                    path: path.to_path_buf(),
                    column,
                })?;
        if field.data_type() != ty {
            return Err(CandleError::ColumnType {
                path: path.to_path_buf(),
                column,
                expected,
                found: field.data_type().to_string(),
            });
        }
        roots.push(idx);
    }
    let file_meta = builder.metadata().file_metadata();
    let n = usize::try_from(file_meta.num_rows()).unwrap_or(0);
    let symbol = file_meta.key_value_metadata().and_then(|kv| {
        kv.iter()
            .find(|k| k.key == META_SYMBOL)
            .and_then(|k| k.value.clone())
    });
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(ROW_GROUP_ROWS)
        .build()
        .map_err(pq)?;

    let mut cols = Columns::with_capacity(n);
    let mut positions: Option<[usize; 6]> = None;
    for batch in reader {
        let batch = batch.map_err(|e| pq(e.into()))?;
        let pos = match positions {
            Some(p) => p,
            None => {
                let s = batch.schema();
                let mut p = [0; 6];
                for (k, (column, _, _)) in EXPECTED.iter().enumerate() {
                    p[k] = s.index_of(column).map_err(|e| pq(e.into()))?;
                }
                *positions.insert(p)
            }
        };
        let row0 = cols.len();
        let null_at = |k: usize| -> Result<(), CandleError> {
            let a = batch.column(pos[k]);
            if a.null_count() == 0 {
                return Ok(());
            }
            let i = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
            Err(CandleError::invalid(
                path,
                Loc::Row((row0 + i) as u64 + 1),
                Problem::Null {
                    column: EXPECTED[k].0,
                },
            ))
        };
        for k in 0..6 {
            null_at(k)?;
        }
        let ts = batch.column(pos[0]).as_any().downcast_ref::<Int64Array>();
        let ts = ts.ok_or_else(|| type_error(path, 0, batch.column(pos[0])))?;
        cols.ts_ms.extend_from_slice(ts.values());
        for (k, dst) in [
            (1, &mut cols.open),
            (2, &mut cols.high),
            (3, &mut cols.low),
            (4, &mut cols.close),
            (5, &mut cols.volume),
        ] {
            let a = batch.column(pos[k]);
            let a = a.as_any().downcast_ref::<Float64Array>();
            dst.extend_from_slice(
                a.ok_or_else(|| type_error(path, k, batch.column(pos[k])))?
                    .values(),
            );
        }
    }
    Candles::try_new(cols, symbol, path)
}

fn type_error(path: &Path, k: usize, a: &ArrayRef) -> CandleError {
    CandleError::ColumnType {
        path: path.to_path_buf(),
        column: EXPECTED[k].0,
        expected: EXPECTED[k].2,
        found: a.data_type().to_string(),
    }
}
