//! The Parquet candle format: schema, atomic writer, and the fast validating reader.
//!
//! Schema (all non-null): `ts_ms` Int64 (open time, UTC epoch ms), `open`, `high`, `low`,
//! `close`, `volume` Float64. Every column PLAIN, no dictionary, uncompressed by default
//! (fastest to load: the reader copies values straight out of the mapped pages) or zstd
//! ([`ZSTD_LEVEL`], about a quarter of the size), [`ROW_GROUP_ROWS`] rows per row group, with
//! key-value metadata `gridsweep.symbol`, `gridsweep.source`, `gridsweep.rows`,
//! `gridsweep.first_ts_ms`, `gridsweep.last_ts_ms`. Files from other writers are accepted when
//! they have those six columns with those types (extra columns are ignored, nullable fields
//! are fine if they hold no nulls).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::{parquet_to_arrow_schema, ArrowWriter};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::column::page::Page;
use parquet::column::reader::get_typed_column_reader;
use parquet::data_type::{DataType as ParquetType, DoubleType, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{ChunkReader, FileReader};
use parquet::file::serialized_reader::SerializedFileReader;
use rayon::prelude::*;

use super::error::{CandleError, Loc, Problem};
use super::store::{Candles, Columns};

/// Column names in file order.
pub const COLUMNS: [&str; 6] = ["ts_ms", "open", "high", "low", "close", "volume"];

/// Rows per row group written.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// Zstd level written when compression is asked for: a fast (negative) level, since decode
/// speed matters more than size for a file decoded once per sweep.
pub const ZSTD_LEVEL: i32 = -5;

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
    /// Compress with zstd ([`ZSTD_LEVEL`]); uncompressed when false (the default).
    pub zstd: bool,
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
    let props = WriterProperties::builder()
        .set_compression(if meta.zstd {
            Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default())
        } else {
            Compression::UNCOMPRESSED
        })
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(format!("gridsweep {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(kv))
        .set_encoding(Encoding::PLAIN);
    // PLAIN everywhere: the reader's fast path copies PLAIN pages directly, and zstd finds
    // the repeated 8-byte values of tick-sized prices.
    props.build()
}

/// Writes `candles` to `path` atomically: into a temporary file beside it, synced, then
/// renamed over `path` and the directory synced, so a crash never leaves a partial file
/// under the final name.
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
    result?;
    crate::durable::sync_parent_dir(path).map_err(|e| CandleError::io(path, e))
}

/// `.NAME.tmp-PID` in the same directory as `path` (a rename is atomic only within one file
/// system).
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn write_to(tmp: &Path, candles: &Candles, meta: &WriteMeta) -> Result<(), CandleError> {
    let pq = |source| CandleError::Parquet { path: tmp.to_path_buf(), source };
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
    let file = buf.into_inner().map_err(|e| CandleError::io(tmp, e.into_error()))?;
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
    let candles = decode(super::mmap::map_file(path)?, path)?;
    if candles.is_empty() {
        return Err(CandleError::Empty { path: path.to_path_buf() });
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

/// Decodes a whole file held by `reader` (the mapped bytes): checks the schema, then decodes
/// the six columns in parallel (one rayon task per column, every row group in order)
/// straight into pre-sized `Vec`s with Parquet's typed column readers, then validates.
fn decode<R: ChunkReader + 'static>(reader: R, path: &Path) -> Result<Candles, CandleError> {
    let pq = |source| CandleError::Parquet { path: path.to_path_buf(), source };
    let file = SerializedFileReader::new(reader).map_err(pq)?;
    let file_meta = file.metadata().file_metadata();
    let arrow = parquet_to_arrow_schema(file_meta.schema_descr(), file_meta.key_value_metadata())
        .map_err(pq)?;
    let mut leaves = [0usize; 6];
    for (k, (column, ty, expected)) in EXPECTED.iter().enumerate() {
        let field = arrow
            .field_with_name(column)
            .map_err(|_| CandleError::MissingColumn { path: path.to_path_buf(), column })?;
        if field.data_type() != ty {
            return Err(CandleError::ColumnType {
                path: path.to_path_buf(),
                column,
                expected,
                found: field.data_type().to_string(),
            });
        }
        // A top-level Int64/Float64 field is exactly one leaf column with that one-part path.
        leaves[k] = file_meta
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().parts() == [*column])
            .ok_or_else(|| CandleError::MissingColumn { path: path.to_path_buf(), column })?;
    }
    let n = usize::try_from(file_meta.num_rows()).unwrap_or(0);
    let symbol = file_meta
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == META_SYMBOL).and_then(|k| k.value.clone()));
    let file = &file;
    let (ts_ms, prices) = rayon::join(
        || read_column::<Int64Type, R>(file, leaves[0], n, path, EXPECTED[0].0),
        || {
            (1..6)
                .into_par_iter()
                .map(|k| read_column::<DoubleType, R>(file, leaves[k], n, path, EXPECTED[k].0))
                .collect::<Result<Vec<_>, _>>()
        },
    );
    let ts_ms = ts_ms?;
    let [open, high, low, close, volume]: [Vec<f64>; 5] =
        prices?.try_into().expect("five price columns");
    Candles::try_new(Columns { ts_ms, open, high, low, close, volume }, symbol, path)
}

/// A fixed-width little-endian value as stored by PLAIN encoding.
trait Plain: Sized {
    fn from_le(b: [u8; 8]) -> Self;
}

impl Plain for i64 {
    #[inline]
    fn from_le(b: [u8; 8]) -> Self {
        i64::from_le_bytes(b)
    }
}

impl Plain for f64 {
    #[inline]
    fn from_le(b: [u8; 8]) -> Self {
        f64::from_le_bytes(b)
    }
}

/// The fast path for a required column whose data pages are all PLAIN (what gridsweep
/// writes): the values are copied straight out of each page. `None` when some page is not
/// (dictionary, delta, …), so the caller falls back to Parquet's typed reader.
fn read_plain_pages<T: ParquetType, R: ChunkReader + 'static>(
    file: &SerializedFileReader<R>,
    leaf: usize,
    n: usize,
) -> parquet::errors::Result<Option<Vec<T::T>>>
where
    T::T: Plain,
{
    let mut out: Vec<T::T> = Vec::with_capacity(n);
    for rg in 0..file.num_row_groups() {
        let mut pages = file.get_row_group(rg)?.get_column_page_reader(leaf)?;
        while let Some(page) = pages.get_next_page()? {
            let (buf, values) = match &page {
                Page::DataPage { buf, num_values, encoding: Encoding::PLAIN, .. } => {
                    (&buf[..], *num_values as usize)
                }
                Page::DataPageV2 {
                    buf,
                    num_values,
                    encoding: Encoding::PLAIN,
                    def_levels_byte_len: 0,
                    rep_levels_byte_len: 0,
                    ..
                } => (&buf[..], *num_values as usize),
                _ => return Ok(None),
            };
            if buf.len() < values * 8 {
                return Err(ParquetError::General(format!(
                    "a PLAIN page holds {} bytes for {values} values",
                    buf.len()
                )));
            }
            out.extend(buf[..values * 8].chunks_exact(8).map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                T::T::from_le(b)
            }));
        }
    }
    Ok(Some(out))
}

/// Decodes one leaf column over every row group into a `Vec` of `n` values; a null (in a
/// nullable column from another writer) is an error naming its 1-based row.
fn read_column<T: ParquetType, R: ChunkReader + 'static>(
    file: &SerializedFileReader<R>,
    leaf: usize,
    n: usize,
    path: &Path,
    column: &'static str,
) -> Result<Vec<T::T>, CandleError>
where
    T::T: Plain,
{
    let pq = |source| CandleError::Parquet { path: path.to_path_buf(), source };
    let max_def = file.metadata().file_metadata().schema_descr().column(leaf).max_def_level();
    if max_def == 0 {
        if let Some(out) = read_plain_pages::<T, R>(file, leaf, n).map_err(pq)? {
            return Ok(out);
        }
    }
    let mut out: Vec<T::T> = Vec::with_capacity(n);
    let mut defs: Vec<i16> = Vec::new();
    for rg in 0..file.num_row_groups() {
        let rg_reader = file.get_row_group(rg).map_err(pq)?;
        let rows = usize::try_from(rg_reader.metadata().num_rows()).unwrap_or(0);
        let mut reader =
            get_typed_column_reader::<T>(rg_reader.get_column_reader(leaf).map_err(pq)?);
        let mut done = 0;
        while done < rows {
            let row0 = out.len();
            defs.clear();
            let (records, values, _) = reader
                .read_records(rows - done, (max_def > 0).then_some(&mut defs), None, &mut out)
                .map_err(pq)?;
            if values != records {
                let i = defs.iter().position(|&d| d < max_def).unwrap_or(0);
                return Err(CandleError::invalid(
                    path,
                    Loc::Row((row0 + i) as u64 + 1),
                    Problem::Null { column },
                ));
            }
            if records == 0 {
                return Err(pq(ParquetError::General(format!(
                    "column `{column}` ends after {} of {n} rows",
                    out.len()
                ))));
            }
            done += records;
        }
    }
    Ok(out)
}
