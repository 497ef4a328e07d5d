//! The Parquet candle format: schema, atomic writer, and the fast validating reader.
//!
//! Schema (all non-null): `ts_ms` Int64 (open time, UTC epoch ms), `open`, `high`, `low`,
//! `close`, `volume` Float64. Every column PLAIN, no dictionary, uncompressed by default
//! (fastest to load: the reader copies values straight out of each page) or zstd
//! ([`ZSTD_LEVEL`], about a quarter of the size), [`ROW_GROUP_ROWS`] rows per row group, with
//! key-value metadata `gridsweep.symbol`, `gridsweep.source`, `gridsweep.rows`,
//! `gridsweep.first_ts_ms`, `gridsweep.last_ts_ms`. Files from other writers are accepted when
//! they have those six columns with those types (extra columns are ignored, nullable fields
//! are fine if they hold no nulls), in any encoding and any compression Parquet defines
//! (snappy, the pandas/pyarrow/DuckDB/Spark default; gzip, brotli, lz4, lz4_raw, zstd).
//!
//! The reader trusts nothing in a footer with memory: row counts and byte ranges are checked
//! against the file's real size before anything is allocated from them, and each row group
//! must decode to exactly the rows it claims ([`CandleError::Corrupt`] otherwise).

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
use parquet::file::metadata::{KeyValue, ParquetMetaData};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{ChunkReader, FileReader, Length};
use parquet::file::serialized_reader::SerializedFileReader;
use rayon::prelude::*;

use super::error::{CandleError, Loc, Problem};
use super::pages::{self, ChunkProblem};
use super::pread::PreadFile;
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
/// Metadata key of the price a fetched candle file holds: `last` or `mark`
/// (`gridsweep fetch klines --price`).
pub const META_PRICE: &str = "gridsweep.price";

/// The price kind recorded in a candle file's metadata ([`META_PRICE`]), if any; `None` also
/// for a file whose footer cannot be read (the candle reader reports that).
pub fn price_kind(path: &Path) -> Option<String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).ok()?).ok()?;
    let kv = reader.metadata().file_metadata().key_value_metadata()?;
    kv.iter().find(|k| k.key == META_PRICE).and_then(|k| k.value.clone())
}
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

fn writer_properties(
    candles: &Candles,
    meta: &WriteMeta,
    extra: &[(String, String)],
) -> WriterProperties {
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
    for (k, v) in extra {
        if !kv.iter().any(|e| &e.key == k) {
            kv.push(KeyValue::new(k.clone(), v.clone()));
        }
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
    write_parquet_with(path, candles, meta, &[])
}

/// [`write_parquet`] with more key-value metadata (provenance such as `gridsweep.endpoint`);
/// a key that [`WriteMeta`] already sets keeps the [`WriteMeta`] value.
///
/// # Errors
/// As [`write_parquet`].
pub fn write_parquet_with(
    path: &Path,
    candles: &Candles,
    meta: &WriteMeta,
    extra: &[(String, String)],
) -> Result<(), CandleError> {
    let tmp = temp_path(path);
    let result = write_to(&tmp, candles, meta, extra)
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

fn write_to(
    tmp: &Path,
    candles: &Candles,
    meta: &WriteMeta,
    extra: &[(String, String)],
) -> Result<(), CandleError> {
    let pq = |source| CandleError::Parquet { path: tmp.to_path_buf(), source };
    let file = File::create(tmp).map_err(|e| CandleError::io(tmp, e))?;
    let mut w = ArrowWriter::try_new(
        std::io::BufWriter::with_capacity(1 << 20, file),
        schema(),
        Some(writer_properties(candles, meta, extra)),
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

/// Reads one Parquet candle file with positional reads (see the private `pread` module:
/// a file truncated or rewritten meanwhile gives [`CandleError::Changed`], never a signal),
/// checks its schema and its footer against its real size, decodes the six columns into
/// owned `Vec`s and validates every row.
///
/// # Errors
/// [`CandleError::NotFound`] (naming the directory a relative path was looked up in),
/// [`CandleError::Io`], [`CandleError::NotParquet`] (a CSV, JSON or zip file, with what to do),
/// [`CandleError::Corrupt`], [`CandleError::Changed`], [`CandleError::Parquet`],
/// [`CandleError::MissingColumn`], [`CandleError::ColumnType`], [`CandleError::Empty`], or
/// [`CandleError::Invalid`] with the 1-based row.
pub fn read_parquet(path: &Path) -> Result<Candles, CandleError> {
    let (reader, before) = PreadFile::open(path).map_err(|e| open_error(path, e))?;
    let result = sniff(&reader, path).and_then(|()| decode(reader.clone(), before.len(), path));
    // Whatever the outcome, a file that changed meanwhile decoded bytes of two versions.
    if reader.identity().ok() != Some(before) {
        return Err(CandleError::Changed { path: path.to_path_buf() });
    }
    let candles = result?;
    if candles.is_empty() {
        return Err(CandleError::Empty { path: path.to_path_buf() });
    }
    Ok(candles)
}

/// [`CandleError::NotFound`] (with the directory a relative path was looked up in) for a
/// missing file, else [`CandleError::Io`].
fn open_error(path: &Path, e: std::io::Error) -> CandleError {
    if e.kind() != std::io::ErrorKind::NotFound {
        return CandleError::io(path, e);
    }
    let looked_in = path.is_relative().then(|| {
        let abs = std::env::current_dir().unwrap_or_default().join(path);
        abs.parent().map(Path::to_path_buf).unwrap_or(abs)
    });
    CandleError::NotFound { path: path.to_path_buf(), looked_in }
}

/// Parquet's magic bytes, at both ends of a file.
const MAGIC: &[u8; 4] = b"PAR1";

/// Recognises files that are not Parquet but something a user may pass by mistake (a Binance
/// CSV or its zip, a Bybit JSON) and a Parquet file cut short, with what to do about each.
/// Anything else goes on to the Parquet reader, whose own error then names the file.
fn sniff(reader: &PreadFile, path: &Path) -> Result<(), CandleError> {
    let len = reader.len();
    let mut head = [0u8; 4];
    let n = usize::try_from(len).unwrap_or(4).min(4);
    reader.read_exact_at(&mut head[..n], 0).map_err(|e| CandleError::io(path, e))?;
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let import = |input: &str| {
        format!("convert it into one first: `gridsweep import --out {stem}.parquet {input}`")
    };
    let not = |what, fix| CandleError::NotParquet { path: path.to_path_buf(), what, fix };
    if head == *b"PK\x03\x04" || ext.as_deref() == Some("zip") {
        return Err(not(
            "a zip archive",
            format!(
                "Binance's downloads are zipped: unzip it (`unzip {}`), then {}",
                path.display(),
                import(&format!("{stem}.csv"))
            ),
        ));
    }
    if head == *MAGIC {
        if len >= 12 {
            let mut tail = [0u8; 4];
            reader.read_exact_at(&mut tail, len - 4).map_err(|e| CandleError::io(path, e))?;
            if tail == *MAGIC {
                return Ok(());
            }
        }
        return Err(CandleError::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "it starts like a Parquet file but its {len} bytes do not end with a Parquet \
                 footer (`PAR1`): it was cut short, or is still being written"
            ),
        });
    }
    let shown = path.display().to_string();
    let text_like =
        n > 0 && head[..n].iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    match ext.as_deref() {
        Some("json") => Err(not("a JSON file", import(&shown))),
        Some("csv" | "txt") => Err(not("a CSV file", import(&shown))),
        _ if text_like && matches!(head[0], b'{' | b'[') => Err(not("a JSON file", import(&shown))),
        _ if text_like && looks_like_csv(reader) => Err(not("a CSV file", import(&shown))),
        _ => Ok(()),
    }
}

/// True when the file's first line is printable text with at least five commas (a kline CSV
/// row or header has eleven).
fn looks_like_csv(reader: &PreadFile) -> bool {
    let mut buf = vec![0u8; usize::try_from(reader.len()).unwrap_or(512).min(512)];
    if reader.read_exact_at(&mut buf, 0).is_err() {
        return false;
    }
    let line = buf.split(|&b| b == b'\n').next().unwrap_or(&[]);
    line.iter().all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\r' || *b == b'\t')
        && line.iter().filter(|&&b| b == b',').count() >= 5
}

const EXPECTED: [(&str, DataType, &str); 6] = [
    ("ts_ms", DataType::Int64, "Int64"),
    ("open", DataType::Float64, "Float64"),
    ("high", DataType::Float64, "Float64"),
    ("low", DataType::Float64, "Float64"),
    ("close", DataType::Float64, "Float64"),
    ("volume", DataType::Float64, "Float64"),
];

/// Rows asked of Parquet's typed reader per call: it sizes its buffers by the request, so a
/// bounded request keeps every allocation proportional to values actually decoded.
const BATCH_ROWS: usize = 1 << 16;

/// Decodes a whole file held by `reader` (`file_len` bytes): checks the schema and the footer's
/// row counts and byte ranges against the file size ([`check_footer`]), then decodes the six
/// columns in parallel (one rayon task per column, every row group in order) with Parquet's
/// page and typed column readers, then validates.
fn decode<R: ChunkReader + Clone + 'static>(
    reader: R,
    file_len: u64,
    path: &Path,
) -> Result<Candles, CandleError> {
    let pq = |source| CandleError::Parquet { path: path.to_path_buf(), source };
    let file = SerializedFileReader::new(reader.clone()).map_err(pq)?;
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
    let rows = check_footer(&reader, file.metadata(), &leaves, file_len, path)?;
    let symbol = file_meta
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == META_SYMBOL).and_then(|k| k.value.clone()));
    let job =
        |k: usize| Job { leaf: leaves[k], column: EXPECTED[k].0, rows: &rows, file_len, path };
    let file = &file;
    let (ts_ms, prices) = rayon::join(
        || read_column::<Int64Type, R>(file, &job(0)),
        || {
            (1..6)
                .into_par_iter()
                .map(|k| read_column::<DoubleType, R>(file, &job(k)))
                .collect::<Result<Vec<_>, _>>()
        },
    );
    let ts_ms = ts_ms?;
    let [open, high, low, close, volume]: [Vec<f64>; 5] =
        prices?.try_into().expect("five price columns");
    Candles::try_new(Columns { ts_ms, open, high, low, close, volume }, symbol, path)
}

/// Checks what the footer claims against itself and the file's real size, before anything is
/// allocated from it: the row count is not negative and equals the row groups' sum, each of
/// the six column chunks lies inside the file, and an uncompressed PLAIN required chunk
/// (gridsweep's own format) has its 8 bytes per claimed row; then each chunk's page headers
/// must add up to the claimed rows and claim no more uncompressed bytes than their values
/// can need ([`pages::check_chunk`]). Returns each row group's rows.
///
/// A chunk that is compressed or otherwise encoded has no fixed minimum size per row; for it
/// the decoder also holds the claim against the values actually decoded (see
/// [`read_column`]).
///
/// # Errors
/// [`CandleError::Corrupt`] saying which claim does not add up.
fn check_footer<R: ChunkReader>(
    reader: &R,
    meta: &ParquetMetaData,
    leaves: &[usize; 6],
    file_len: u64,
    path: &Path,
) -> Result<Vec<usize>, CandleError> {
    let corrupt = |detail: String| CandleError::Corrupt { path: path.to_path_buf(), detail };
    let claimed = meta.file_metadata().num_rows();
    let mut rows = Vec::with_capacity(meta.num_row_groups());
    let mut sum: i64 = 0;
    for (g, rg) in meta.row_groups().iter().enumerate() {
        let n = rg.num_rows();
        let n_usize =
            usize::try_from(n).map_err(|_| corrupt(format!("row group {g} claims {n} rows")))?;
        sum = sum.saturating_add(n);
        for (k, &leaf) in leaves.iter().enumerate() {
            let column = EXPECTED[k].0;
            let cc = rg.column(leaf);
            let start = cc.dictionary_page_offset().unwrap_or(cc.data_page_offset());
            let size = cc.compressed_size();
            let end = start.checked_add(size);
            if start < 0 || size < 0 || end.is_none_or(|e| e as u64 > file_len) {
                return Err(corrupt(format!(
                    "column `{column}` of row group {g} claims bytes {start}..{} of a \
                     {file_len}-byte file",
                    end.map_or("overflow".to_string(), |e| e.to_string())
                )));
            }
            let plain = cc.compression() == Compression::UNCOMPRESSED
                && cc.column_descr().max_def_level() == 0
                && cc.encodings().all(|e| matches!(e, Encoding::PLAIN | Encoding::RLE));
            if plain && (n as u64).saturating_mul(8) > size as u64 {
                return Err(corrupt(format!(
                    "row group {g} claims {n} rows, but its uncompressed PLAIN column \
                     `{column}` holds {size} bytes, room for {} values of 8 bytes",
                    size / 8
                )));
            }
            pages::check_chunk(reader, start as u64, size as u64, n as u64).map_err(|e| {
                corrupt(match e {
                    ChunkProblem::Values(v) => format!(
                        "row group {g} claims {n} rows, but column `{column}` holds {v} values \
                         in its page headers"
                    ),
                    ChunkProblem::Page(what) => {
                        format!("column `{column}` of row group {g} {what}")
                    }
                })
            })?;
        }
        rows.push(n_usize);
    }
    if claimed < 0 || claimed != sum {
        return Err(corrupt(format!(
            "the footer claims {claimed} rows but its {} row group(s) hold {sum}",
            meta.num_row_groups()
        )));
    }
    Ok(rows)
}

/// One column to decode: its leaf index, name, the rows of each row group the footer claims,
/// and the file it comes from.
struct Job<'a> {
    leaf: usize,
    column: &'static str,
    rows: &'a [usize],
    file_len: u64,
    path: &'a Path,
}

impl Job<'_> {
    /// Room to reserve for the column: the rows claimed, but never more 8-byte values than
    /// the file could hold uncompressed (the `Vec` grows past that only with values actually
    /// decoded).
    fn capacity(&self) -> usize {
        let claimed: usize = self.rows.iter().fold(0, |a, &r| a.saturating_add(r));
        claimed.min(usize::try_from(self.file_len / 8).unwrap_or(usize::MAX))
    }

    /// The error for a row group whose pages hold another number of values than it claims.
    fn count_error(&self, group: usize, found: usize) -> CandleError {
        CandleError::Corrupt {
            path: self.path.to_path_buf(),
            detail: format!(
                "row group {group} claims {} rows, but column `{}` holds {found}{} values",
                self.rows[group],
                self.column,
                if found > self.rows[group] { " or more" } else { "" }
            ),
        }
    }
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
/// writes): the values are copied straight out of each page, row group by row group, each
/// holding exactly the rows the footer claims. `Ok(None)` when some page is not PLAIN
/// (dictionary, delta, …), so the caller falls back to Parquet's typed reader.
fn read_plain_pages<T: ParquetType, R: ChunkReader + 'static>(
    file: &SerializedFileReader<R>,
    job: &Job<'_>,
) -> Result<Option<Vec<T::T>>, CandleError>
where
    T::T: Plain,
{
    let pq = |source| CandleError::Parquet { path: job.path.to_path_buf(), source };
    let mut out: Vec<T::T> = Vec::with_capacity(job.capacity());
    for (rg, &rows) in job.rows.iter().enumerate() {
        let mut pages =
            file.get_row_group(rg).map_err(pq)?.get_column_page_reader(job.leaf).map_err(pq)?;
        let mut got = 0usize;
        while let Some(page) = pages.get_next_page().map_err(pq)? {
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
            if buf.len() / 8 < values {
                return Err(pq(ParquetError::General(format!(
                    "a PLAIN page of column `{}` holds {} bytes for {values} values",
                    job.column,
                    buf.len()
                ))));
            }
            got = got.saturating_add(values);
            if got > rows {
                return Err(job.count_error(rg, got));
            }
            out.extend(buf[..values * 8].chunks_exact(8).map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                T::T::from_le(b)
            }));
        }
        if got != rows {
            return Err(job.count_error(rg, got));
        }
    }
    Ok(Some(out))
}

/// Decodes one leaf column over every row group into a `Vec`, each row group giving exactly
/// the rows the footer claims; a null (in a nullable column from another writer) is an error
/// naming its 1-based row.
fn read_column<T: ParquetType, R: ChunkReader + 'static>(
    file: &SerializedFileReader<R>,
    job: &Job<'_>,
) -> Result<Vec<T::T>, CandleError>
where
    T::T: Plain,
{
    let (path, column) = (job.path, job.column);
    let pq = |source| CandleError::Parquet { path: path.to_path_buf(), source };
    let max_def = file.metadata().file_metadata().schema_descr().column(job.leaf).max_def_level();
    if max_def == 0 {
        if let Some(out) = read_plain_pages::<T, R>(file, job)? {
            return Ok(out);
        }
    }
    let mut out: Vec<T::T> = Vec::with_capacity(job.capacity());
    let mut defs: Vec<i16> = Vec::new();
    for (rg, &rows) in job.rows.iter().enumerate() {
        let rg_reader = file.get_row_group(rg).map_err(pq)?;
        let mut reader =
            get_typed_column_reader::<T>(rg_reader.get_column_reader(job.leaf).map_err(pq)?);
        let mut done = 0;
        while done < rows {
            let row0 = out.len();
            defs.clear();
            let ask = (rows - done).min(BATCH_ROWS);
            let (records, values, _) = reader
                .read_records(ask, (max_def > 0).then_some(&mut defs), None, &mut out)
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
                return Err(job.count_error(rg, done));
            }
            done += records;
        }
        // More values than the row group claims: the footer is wrong, and so might the rest be.
        if reader.skip_records(1).map_err(pq)? > 0 {
            return Err(job.count_error(rg, done + 1));
        }
    }
    Ok(out)
}
